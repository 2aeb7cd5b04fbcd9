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


# --- video helpers: write small videos with PyAV, edit MP4 boxes in copies -------------------------------------


def write_video(
    path: Path,
    frames: list[np.ndarray],
    *,
    fps: int = 10,
    codec: str = "libx264",
    options: dict[str, str] | None = None,
    colorspace: int | None = None,
    stream_metadata: dict[str, str] | None = None,
) -> Path:
    """Encode ``frames`` (HxWx3 uint8 RGB, even sizes) into ``path`` with PyAV; the container follows the extension.

    ``colorspace`` (AVColorSpace: 1 = BT.709, 5 = BT.601) converts with that matrix (limited range) and tags the
    stream with it.
    """
    import av
    from av.video.reformatter import ColorRange, Colorspace

    container = av.open(str(path), mode="w")
    stream = container.add_stream(codec, rate=fps)
    stream.height, stream.width = frames[0].shape[:2]
    stream.pix_fmt = "yuv420p"
    stream.options = (
        options if options is not None else ({"crf": "12", "preset": "ultrafast"} if codec == "libx264" else {})
    )
    if colorspace is not None:
        stream.codec_context.colorspace = colorspace
        stream.codec_context.color_range = 1
    for key, value in (stream_metadata or {}).items():
        stream.metadata[key] = value
    for image in frames:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        if colorspace is not None:
            space = Colorspace.ITU709 if colorspace == 1 else Colorspace.ITU601
            frame = frame.reformat(format="yuv420p", dst_colorspace=space, dst_color_range=ColorRange.MPEG)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def box(typ: bytes, payload: bytes) -> bytes:
    """A plain ISO-BMFF box."""
    return struct.pack(">I4s", 8 + len(payload), typ) + payload


def full_box(typ: bytes, payload: bytes, version: int = 0, flags: int = 0) -> bytes:
    """An ISO-BMFF FullBox (version and flags before the payload)."""
    return box(typ, struct.pack(">I", (version << 24) | flags) + payload)


_CHILDREN_AT = {b"stsd": 8, b"avc1": 78, b"hvc1": 78, b"hev1": 78}


def find_box_chain(data: bytes, path: list[bytes]) -> list[tuple[int, int]]:
    """``(start, end)`` of each box along ``path`` (the first match at every level) in an MP4's bytes."""
    chain: list[tuple[int, int]] = []
    start, end = 0, len(data)
    for typ in path:
        pos = start
        while pos + 8 <= end:
            size, found = struct.unpack(">I4s", data[pos : pos + 8])
            if found == typ:
                chain.append((pos, pos + size))
                start, end = pos + 8 + _CHILDREN_AT.get(typ, 0), pos + size
                break
            pos += size
        else:
            raise KeyError(f"no {typ!r} box on the path {path}")
    return chain


def insert_box(data: bytes, path: list[bytes], new_box: bytes) -> bytes:
    """Append ``new_box`` to the children of the box at ``path`` and grow every enclosing box's size.

    Only for files whose ``moov`` follows ``mdat`` (PyAV's default), so no sample offset moves.
    """
    chain = find_box_chain(data, path)
    out = bytearray(data[: chain[-1][1]] + new_box + data[chain[-1][1] :])
    for start, end in chain:
        out[start : start + 4] = struct.pack(">I", end - start + len(new_box))
    return bytes(out)


def spherical_v1_box(stereo_mode: str | None, projection: str = "equirectangular", extra: str = "") -> bytes:
    """The Spherical Video V1 ``uuid`` box (goes under ``trak``)."""
    xml = (
        '<?xml version="1.0"?><rdf:SphericalVideo xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns:GSpherical="http://ns.google.com/videos/1.0/spherical/"><GSpherical:Spherical>true'
        "</GSpherical:Spherical><GSpherical:Stitched>true</GSpherical:Stitched>"
        f"<GSpherical:ProjectionType>{projection}</GSpherical:ProjectionType>"
        + (f"<GSpherical:StereoMode>{stereo_mode}</GSpherical:StereoMode>" if stereo_mode else "")
        + extra
        + "</rdf:SphericalVideo>"
    )
    return box(b"uuid", bytes.fromhex("ffcc8263f8554a938814587a02521fdd") + xml.encode())


def spherical_v2_boxes(stereo_mode: int, crop: tuple[int, int, int, int] = (0, 0, 0, 0)) -> bytes:
    """``st3d`` + ``sv3d > svhd, proj > prhd, equi`` (go inside the visual sample entry)."""
    proj = box(
        b"proj", full_box(b"prhd", struct.pack(">iii", 0, 0, 0)) + full_box(b"equi", struct.pack(">IIII", *crop))
    )
    sv3d = box(b"sv3d", full_box(b"svhd", b"parallax-test\x00") + proj)
    return full_box(b"st3d", bytes([stereo_mode])) + sv3d


VIDEO_SAMPLE_ENTRY = [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd", b"avc1"]


def equirect_blob_image(
    width: int,
    height: int,
    points_deg: list[tuple[float, float]],
    *,
    lon_range: tuple[float, float] = (-180.0, 180.0),
    lat_range: tuple[float, float] = (90.0, -90.0),
    sigma_px: float = 2.5,
) -> np.ndarray:
    """An equirectangular eye image (grey background, white Gaussian blobs at the given (lon, lat) degrees)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    image = np.full((height, width), 40.0)
    for lon, lat in points_deg:
        x = (lon - lon_range[0]) / (lon_range[1] - lon_range[0]) * width - 0.5
        y = (lat_range[0] - lat) / (lat_range[0] - lat_range[1]) * height - 0.5
        image += 215.0 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2.0 * sigma_px**2))
    grey = np.clip(image, 0, 255).astype(np.uint8)
    return np.dstack([grey] * 3)


def blob_centroids(view: np.ndarray, threshold: float = 110.0) -> list[tuple[float, float]]:
    """Intensity-weighted centroids ``(x, y)`` of the bright blobs in a view, left to right."""
    import cv2

    grey = view[..., 0].astype(np.float64)
    count, labels = cv2.connectedComponents((grey > threshold).astype(np.uint8))
    out = []
    for label in range(1, count):
        ys, xs = np.nonzero(labels == label)
        w = grey[ys, xs] - 40.0
        out.append((float((xs * w).sum() / w.sum()), float((ys * w).sum() / w.sum())))
    return sorted(out)
