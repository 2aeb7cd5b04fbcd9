"""Fixtures of the capture tests: cached reads of the real samples, and builders of synthetic files."""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from parallax.capture import Capture, read_capture

_CACHE: dict[tuple[str, ...], Capture] = {}


@pytest.fixture(scope="session")
def read_sample(captures_dir: Path) -> Callable[..., Capture]:
    """``read_sample("mpo/x.mpo"[, "sbs/right.jpg"])``: read a sample once per test session."""

    def read(name: str, right: str | None = None) -> Capture:
        key = (name, right or "")
        if key not in _CACHE:
            _CACHE[key] = read_capture(captures_dir / name, captures_dir / right if right else None)
        return _CACHE[key]

    return read


def jpeg_bytes(image: np.ndarray, quality: int = 92) -> bytes:
    """``image`` (HxWx3 uint8) encoded as a baseline JPEG."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _ifd(entries: list[tuple[int, int, int, bytes]], ifd_offset: int, next_offset: int | None) -> tuple[bytes, bytes]:
    """A little-endian IFD at ``ifd_offset`` (relative to the TIFF header) and its out-of-line data after it.

    ``entries``: (tag, type, count, value bytes). Values longer than 4 bytes go after the IFD.
    """
    data_at = ifd_offset + 2 + 12 * len(entries) + 4
    body, extra = struct.pack("<H", len(entries)), b""
    for tag, typ, count, value in entries:
        if len(value) <= 4:
            body += struct.pack("<HHI", tag, typ, count) + value.ljust(4, b"\x00")
        else:
            body += struct.pack("<HHII", tag, typ, count, data_at + len(extra))
            extra += value
    body += struct.pack("<I", 0 if next_offset is None else next_offset)
    return body, extra


def _attribute_entries(number: int, baseline: tuple[int, int] | None, convergence: tuple[int, int] | None) -> list:
    entries = [(0xB000, 7, 4, b"0100"), (0xB101, 4, 1, struct.pack("<I", number)), (0xB204, 4, 1, struct.pack("<I", 1))]
    if convergence is not None:
        entries.append((0xB205, 10, 1, struct.pack("<ii", *convergence)))
    if baseline is not None:
        entries.append((0xB206, 5, 1, struct.pack("<II", *baseline)))
    return entries


def _app2(tiff: bytes) -> bytes:
    payload = b"MPF\x00" + tiff
    return b"\xff\xe2" + struct.pack(">H", len(payload) + 2) + payload


def build_mpo(
    views: list[np.ndarray],
    *,
    baseline: tuple[int, int] | None = (35, 1000),
    convergence: tuple[int, int] | None = (0, 1),
    mp_type: int = 0x020002,
    mp_types: list[int] | None = None,
) -> bytes:
    """An MPO written from scratch per CIPA DC-007 (index IFD + attribute IFDs), little-endian.

    ``baseline`` (RATIONAL, metres) and ``convergence`` (SRATIONAL, degrees) are raw
    (numerator, denominator) pairs, written into every image's attribute IFD.
    ``mp_types`` gives each image its own MP type (default: ``mp_type`` for all).
    """
    jpegs = [jpeg_bytes(v) for v in views]
    n = len(jpegs)
    types = mp_types or [mp_type] * n

    def first_segment(offsets: list[int], sizes: list[int]) -> bytes:
        mp_entries = b"".join(
            struct.pack("<IIIHH", (1 << 29 if i == 0 else 0) | types[i], sizes[i], offsets[i], 0, 0) for i in range(n)
        )
        index = [(0xB000, 7, 4, b"0100"), (0xB001, 4, 1, struct.pack("<I", n)), (0xB002, 7, 16 * n, mp_entries)]
        index_body, index_extra = _ifd(index, 8, None)
        attr_at = 8 + len(index_body) + len(index_extra)
        index_body, index_extra = _ifd(index, 8, attr_at)
        attr_body, attr_extra = _ifd(_attribute_entries(1, baseline, convergence), attr_at, None)
        return _app2(b"II*\x00" + struct.pack("<I", 8) + index_body + index_extra + attr_body + attr_extra)

    def later_segment(number: int) -> bytes:
        body, extra = _ifd(_attribute_entries(number, baseline, convergence), 8, None)
        return _app2(b"II*\x00" + struct.pack("<I", 8) + body + extra)

    later = [jpegs[i][:2] + later_segment(i + 1) + jpegs[i][2:] for i in range(1, n)]
    seg = first_segment([0] * n, [0] * n)  # fixed size: compute the real offsets with it
    first_len = len(jpegs[0]) + len(seg)
    tiff_start = 2 + 4 + 4  # SOI, APP2 marker+length, "MPF\0"
    sizes = [first_len] + [len(x) for x in later]
    offsets = [0]
    for size in sizes[:-1]:
        offsets.append(offsets[-1] + size)
    offsets = [0] + [o - tiff_start for o in offsets[1:]]
    first = jpegs[0][:2] + first_segment(offsets, sizes) + jpegs[0][2:]
    return first + b"".join(later)


@pytest.fixture(scope="session")
def jpeg_of() -> Callable[[np.ndarray], bytes]:
    """The :func:`jpeg_bytes` function (the encoder the MPO builder uses)."""
    return jpeg_bytes


@pytest.fixture(scope="session")
def mpo_builder() -> Callable[..., bytes]:
    """The :func:`build_mpo` function."""
    return build_mpo


@pytest.fixture(scope="session")
def stereo_views() -> tuple[np.ndarray, np.ndarray]:
    """A seeded synthetic stereo pair (96x128): textured background at d=2 px, a near square at d=10 px."""
    rng = np.random.default_rng(7)
    h, w = 96, 128
    coarse = (rng.random((h // 4, (w + 40) // 4, 3)) * 255).astype(np.uint8)  # smooth enough for JPEG
    texture = np.asarray(Image.fromarray(coarse).resize((w + 40, h), Image.Resampling.BICUBIC))
    left = texture[:, 20 : 20 + w].copy()
    right = texture[:, 22 : 22 + w].copy()  # x_right = x_left - 2
    square = np.asarray(
        Image.fromarray((rng.random((8, 8, 3)) * 255).astype(np.uint8)).resize((30, 30), Image.Resampling.BICUBIC)
    )
    left[40:70, 60:90] = square
    right[40:70, 50:80] = square  # x_right = x_left - 10
    return left, right
