"""Niantic's SPZ: gzip-compressed, quantised Gaussian splats (reader and writer).

Follows ``src/cc/load-spz.cc`` of github.com/nianticlabs/spz (MIT):

* the file is one gzip stream; inside, a 16-byte little-endian header
  ``magic 0x5053474e ("NGSP"), version, numPoints (u32), shDegree,
  fractionalBits, flags, reserved (u8 each)``, then the attributes, each for all
  points in turn: positions, alphas, colours, scales, rotations, SH;
* positions: 24-bit signed fixed point (3 bytes little-endian per coordinate)
  with ``fractionalBits`` fractional bits (12 by default: 1/4096 units; fewer
  when a coordinate would not fit in 24 bits, the reader reads it from the header);
* alpha: ``round(sigmoid(opacity) * 255)``;
* colour: ``round(f_dc * 0.15 * 255 + 127.5)`` (SH DC, scale 0.15, clamped);
* scales: ``round((log_sigma + 10) * 16)`` (clamped to 0..255);
* rotations, version 3: "smallest three": the index of the largest component
  of the ``(x, y, z, w)`` quaternion in the top 2 bits of a u32, then the other
  three as sign bit + 9-bit magnitude scaled by ``1/sqrt(2)``; version 2: ``x, y, z``
  of the quaternion with ``w >= 0`` as ``round(c * 127.5 + 127.5)``;
* SPZ stores the RUB frame (x right, y up, z back); Parallax's splats are OpenCV
  (RDF): positions ``(x, -y, -z)`` and quaternions ``(w, x, -y, -z)`` on the way
  in, the same on the way out.

SH degree 0 only here (no ``f_rest``); flags 0 (not antialiased, no extensions).
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from parallax.errors import InputFileError, ParameterError
from parallax.outputs.registry import OutputOptions
from parallax.render.options import option_int
from parallax.scene.splats import Splats
from parallax.stereo.types import DepthResult

__all__ = ["SPZ_MAGIC", "read_spz", "write_spz", "write_spz_output"]

SPZ_MAGIC = 0x5053474E
_COLOR_SCALE = 0.15
_SQRT1_2 = 0.7071067811865476
_FLIP = np.array([1.0, -1.0, -1.0])  # RDF <-> RUB for positions and quaternion x, y, z


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def _pack_smallest_three(q_xyzw: np.ndarray) -> np.ndarray:
    q = q_xyzw / np.linalg.norm(q_xyzw, axis=1, keepdims=True)
    largest = np.argmax(np.abs(q), axis=1)
    n = q.shape[0]
    negate = q[np.arange(n), largest] < 0
    comp = largest.astype(np.uint32)
    for i in range(4):
        skip = largest == i
        negbit = ((q[:, i] < 0) ^ negate).astype(np.uint32)
        mag = ((2**9 - 1) * (np.abs(q[:, i]) / _SQRT1_2) + 0.5).astype(np.uint32)
        comp = np.where(skip, comp, (comp << np.uint32(10)) | (negbit << np.uint32(9)) | mag)
    return comp.astype("<u4").view(np.uint8).reshape(n, 4)


def _unpack_smallest_three(data: np.ndarray) -> np.ndarray:
    comp = data.reshape(-1, 4).copy().view("<u4").reshape(-1).astype(np.uint32)
    n = comp.shape[0]
    largest = (comp >> np.uint32(30)).astype(np.int64)
    q = np.zeros((n, 4), dtype=np.float64)
    sum_sq = np.zeros(n)
    for i in range(3, -1, -1):
        take = largest != i
        mag = (comp & np.uint32(511)).astype(np.float64)
        neg = ((comp >> np.uint32(9)) & np.uint32(1)) == 1
        val = _SQRT1_2 * mag / 511.0
        val = np.where(neg, -val, val)
        q[:, i] = np.where(take, val, 0.0)
        sum_sq += np.where(take, val * val, 0.0)
        comp = np.where(take, comp >> np.uint32(10), comp)
    q[np.arange(n), largest] = np.sqrt(np.maximum(0.0, 1.0 - sum_sq))
    return q


def write_spz(splats: Splats, path: str | Path, *, version: int = 3) -> None:
    """Write ``splats`` (OpenCV axes) as an SPZ file of ``version`` 2 or 3."""
    if version not in (2, 3):
        raise ParameterError(f"SPZ version must be 2 or 3, got {version!r}")
    n = len(splats)
    pos = splats.positions.astype(np.float64) * _FLIP
    max_abs = float(np.max(np.abs(pos))) if n else 0.0
    frac_bits = 12
    while frac_bits > 0 and max_abs * (1 << frac_bits) >= 2**23 - 1:
        frac_bits -= 1
    if max_abs * (1 << frac_bits) >= 2**23 - 1:
        raise ParameterError(
            f"splat coordinates up to {max_abs:g} do not fit SPZ's 24-bit positions; scale the scene down"
        )
    fixed = np.round(pos * (1 << frac_bits)).astype(np.int32).reshape(-1)
    positions = np.stack([fixed & 0xFF, (fixed >> 8) & 0xFF, (fixed >> 16) & 0xFF], axis=1).astype(np.uint8).reshape(-1)
    alphas = _u8(1.0 / (1.0 + np.exp(-splats.opacity_logits.astype(np.float64))) * 255.0)
    colors = _u8(splats.f_dc.astype(np.float64) * (_COLOR_SCALE * 255.0) + 0.5 * 255.0).reshape(-1)
    scales = _u8((splats.log_scales.astype(np.float64) + 10.0) * 16.0).reshape(-1)
    wxyz = splats.rotations.astype(np.float64)
    xyzw = np.concatenate([wxyz[:, 1:] * _FLIP, wxyz[:, :1]], axis=1)
    if version == 3:
        rotations = _pack_smallest_three(xyzw).reshape(-1)
    else:
        q = xyzw / np.linalg.norm(xyzw, axis=1, keepdims=True)
        q = q * np.where(q[:, 3:] < 0, -127.5, 127.5) + 127.5
        rotations = _u8(q[:, :3]).reshape(-1)
    header = struct.pack("<IIIBBBB", SPZ_MAGIC, version, n, 0, frac_bits, 0, 0)
    raw = b"".join(
        [header, positions.tobytes(), alphas.tobytes(), colors.tobytes(), scales.tobytes(), rotations.tobytes()]
    )
    with open(path, "wb") as f:
        f.write(gzip.compress(raw, compresslevel=6, mtime=0))


def read_spz(path: str | Path) -> Splats:
    """Read an SPZ file (versions 2 and 3; SH bands beyond degree 0 are skipped) into OpenCV axes.

    Raises
    ------
    InputFileError
        If the file is not gzip, lacks the NGSP magic, has an unknown version or is truncated.
    """
    path = Path(path)
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError, zlib.error) as exc:
        raise InputFileError(f"{path} is not a gzip-compressed SPZ file ({exc}); give a .spz file") from exc
    if len(raw) < 16:
        raise InputFileError(f"{path}: SPZ header truncated ({len(raw)} bytes); the file is damaged")
    magic, version, n, sh_degree, frac_bits, flags, _ = struct.unpack_from("<IIIBBBB", raw)
    if magic != SPZ_MAGIC:
        raise InputFileError(
            f"{path}: SPZ magic is 0x{magic:08x}, expected 0x{SPZ_MAGIC:08x} ('NGSP'); not an SPZ file"
        )
    if version not in (2, 3):
        raise InputFileError(f"{path}: SPZ version {version} is not supported (2 or 3)")
    if flags & 0x2:
        raise InputFileError(f"{path}: SPZ extensions are not supported; re-export without extensions")
    sh_dim = {0: 0, 1: 3, 2: 8, 3: 15, 4: 24}.get(sh_degree)
    if sh_dim is None:
        raise InputFileError(f"{path}: SPZ SH degree {sh_degree} is not valid (0..4)")
    rot_bytes = 4 if version >= 3 else 3
    sizes = [n * 9, n, n * 3, n * 3, n * rot_bytes, n * sh_dim * 3]
    if len(raw) < 16 + sum(sizes):
        raise InputFileError(f"{path}: SPZ data truncated ({len(raw)} of {16 + sum(sizes)} bytes); the file is damaged")
    offset = 16
    parts = []
    for size in sizes:
        parts.append(np.frombuffer(raw, dtype=np.uint8, count=size, offset=offset))
        offset += size
    p, a, c, s, r, _sh = parts
    p = p.reshape(-1, 3).astype(np.int32)
    fixed = p[:, 0] | (p[:, 1] << 8) | (p[:, 2] << 16)
    fixed = np.where(fixed & 0x800000, fixed - (1 << 24), fixed)
    positions = fixed.reshape(n, 3).astype(np.float64) / (1 << frac_bits) * _FLIP
    with np.errstate(divide="ignore"):
        alpha = a.astype(np.float64) / 255.0
        opacity = np.log(alpha / (1.0 - alpha))
    colors = (c.reshape(n, 3).astype(np.float64) / 255.0 - 0.5) / _COLOR_SCALE
    scales = s.reshape(n, 3).astype(np.float64) / 16.0 - 10.0
    if version >= 3:
        xyzw = _unpack_smallest_three(r)
    else:
        xyz = r.reshape(n, 3).astype(np.float64) / 127.5 - 1.0
        xyzw = np.concatenate([xyz, np.sqrt(np.maximum(0.0, 1.0 - (xyz**2).sum(axis=1)))[:, None]], axis=1)
    wxyz = np.concatenate([xyzw[:, 3:], xyzw[:, :3] * _FLIP], axis=1)
    return Splats(positions=positions, log_scales=scales, rotations=wxyz, opacity_logits=opacity, f_dc=colors)


def write_spz_output(result: DepthResult, path: Path, options: OutputOptions) -> None:
    """Registry writer: ``.spz`` (``options.extra``: ``max_splats`` (1 000 000), ``spz_version`` (3),
    ``merge_levels`` (3: flat regions merged, see :mod:`parallax.scene.splats`))."""
    from parallax.scene.splats import splats_from_result

    splats, _, _ = splats_from_result(
        result,
        max_splats=option_int(options.extra, "max_splats", 1_000_000),
        merge_levels=option_int(options.extra, "merge_levels", 3, minimum=0),
    )
    write_spz(splats, path, version=option_int(options.extra, "spz_version", 3))
