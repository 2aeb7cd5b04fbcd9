"""Lossless file encodings of the maps in a corpus sample, and content hashes.

Every float map is stored as a single-channel 16-bit PNG with a *stated* affine
scale: ``stored = round(value * scale) + offset`` (``uint16``), with ``0``
reserved for "no value" (NaN in memory). The scale and offset are written into
``meta.json`` beside the file name, so a sample folder is self-describing.
Quantisation error is at most ``0.5 / scale`` in the map's unit.

Images (the rectified views) are 8-bit RGB PNG without any metadata chunk.
Boolean masks are 8-bit PNG (0 or 255). Extra float maps with channels (e.g.
normals) are stored as float32 ``.npy`` (NaN = no value), which is exact.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from parallax.errors import InputFileError, ParameterError

__all__ = [
    "MapEncoding",
    "choose_encoding",
    "encode_map16",
    "decode_map16",
    "encode_rgb_png",
    "decode_rgb_png",
    "encode_mask_png",
    "decode_mask_png",
    "encode_npy",
    "decode_npy",
    "sha256_bytes",
    "pixel_sha256",
]

# Default scales (see docs/conventions.md): disparity 1/64 px with offset 32768,
# metric depth in millimetres, confidence 1/65535.
DISPARITY_SCALE = 64.0
DISPARITY_OFFSET = 32768
DEPTH_M_SCALE = 1000.0
CONFIDENCE_SCALE = 65535.0


class MapEncoding(dict):
    """``{"encoding": "png16-affine", "scale": s, "offset": o, "nodata": 0}`` (a JSON-ready dict)."""


def choose_encoding(kind: str, values: np.ndarray) -> MapEncoding:
    """Pick the scale and offset for a float map so that its finite values fit ``1..65535``.

    Parameters
    ----------
    kind : {"disparity", "depth", "confidence", "signed", "unsigned"}
        ``"disparity"`` uses ``d * 64 + 32768`` (range ±511.98 px) when it fits,
        else the finest power-of-two scale that does; ``"depth"`` uses
        millimetres when the maximum depth is below 65.5 (metres or relative
        units), else a coarser power-of-two scale; ``"confidence"`` maps [0, 1]
        to 0..65535 (0 = no confidence, which is "no value" by convention).
    values : numpy.ndarray
        The float map; NaN = no value.
    """
    finite = values[np.isfinite(values)]
    peak = float(np.abs(finite).max()) if finite.size else 0.0
    if kind == "confidence":
        return MapEncoding(encoding="png16-affine", scale=CONFIDENCE_SCALE, offset=0, nodata=None)
    if kind in ("disparity", "signed"):
        scale = DISPARITY_SCALE
        while scale > 2.0**-8 and peak * scale > DISPARITY_OFFSET - 2:
            scale /= 2.0
        return MapEncoding(encoding="png16-affine", scale=scale, offset=DISPARITY_OFFSET, nodata=0)
    if kind in ("depth", "unsigned"):
        if finite.size and float(finite.min()) < 0:
            raise ParameterError(
                f"a {kind} map must not hold negative values (min {float(finite.min())}); store it as 'signed'"
            )
        scale = DEPTH_M_SCALE
        while scale > 2.0**-8 and peak * scale > 65534:
            scale /= 2.0
        return MapEncoding(encoding="png16-affine", scale=scale, offset=0, nodata=0)
    raise ParameterError(f"map kind {kind!r} is not disparity, depth, confidence, signed or unsigned")


def encode_map16(values: np.ndarray, enc: Mapping[str, Any]) -> bytes:
    """Encode an ``HxW`` float map as a 16-bit PNG with ``enc``'s scale and offset.

    NaN becomes 0 = no value and finite values are clipped to ``1..65535``;
    when ``enc["nodata"]`` is ``None`` (confidence) there is no reserved value:
    NaN and 0 both store 0 and values are clipped to ``0..65535``.
    """
    if values.ndim != 2:
        raise ParameterError(f"encode_map16 needs an HxW map, got shape {values.shape}")
    scale, offset = float(enc["scale"]), int(enc["offset"])
    finite = np.isfinite(values)
    stored = np.zeros(values.shape, dtype=np.float64)
    stored[finite] = np.rint(values[finite].astype(np.float64) * scale) + offset
    low = 0 if enc.get("nodata", 0) is None else 1
    stored = np.where(finite, np.clip(stored, low, 65535), 0)
    ok, buf = cv2.imencode(".png", stored.astype(np.uint16))
    if not ok:  # pragma: no cover - cv2 only fails on invalid arrays
        raise ParameterError("could not encode a 16-bit PNG map")
    return buf.tobytes()


def decode_map16(data: bytes, enc: Mapping[str, Any], *, name: str) -> np.ndarray:
    """Decode a 16-bit PNG map to float32; stored 0 becomes NaN unless ``enc["nodata"]`` is ``None``."""
    raw = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if raw is None or raw.dtype != np.uint16 or raw.ndim != 2:
        raise InputFileError(f"{name} is not a single-channel 16-bit PNG; the sample is corrupt, re-create it")
    scale, offset = float(enc["scale"]), int(enc["offset"])
    out = (raw.astype(np.float64) - offset) / scale
    if enc.get("nodata", 0) is not None:
        out[raw == 0] = math.nan
    return out.astype(np.float32)


def encode_rgb_png(image: np.ndarray) -> bytes:
    """Encode an ``HxWx3`` uint8 RGB image as an 8-bit PNG with no metadata chunks."""
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(image[:, :, ::-1]))
    if not ok:  # pragma: no cover
        raise ParameterError("could not encode an RGB PNG")
    return buf.tobytes()


def decode_rgb_png(data: bytes, *, name: str) -> np.ndarray:
    """Decode an 8-bit RGB PNG to ``HxWx3`` uint8 RGB."""
    raw = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if raw is None:
        raise InputFileError(f"{name} is not a readable PNG; the sample is corrupt, re-create it")
    return np.ascontiguousarray(raw[:, :, ::-1])


def encode_mask_png(mask: np.ndarray) -> bytes:
    """Encode an ``HxW`` mask as an 8-bit PNG: bool -> 0/255, uint8 as is."""
    arr = mask.astype(np.uint8) * 255 if mask.dtype == bool else mask.astype(np.uint8)
    ok, buf = cv2.imencode(".png", arr)
    if not ok:  # pragma: no cover
        raise ParameterError("could not encode a mask PNG")
    return buf.tobytes()


def decode_mask_png(data: bytes, *, name: str, as_bool: bool) -> np.ndarray:
    """Decode an 8-bit mask PNG; ``as_bool`` turns it into ``value > 127``."""
    raw = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if raw is None or raw.ndim != 2:
        raise InputFileError(f"{name} is not a single-channel PNG; the sample is corrupt, re-create it")
    return raw > 127 if as_bool else raw


def encode_npy(array: np.ndarray) -> bytes:
    """Encode an array as ``.npy`` bytes (no pickle)."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def decode_npy(data: bytes, *, name: str) -> np.ndarray:
    """Decode ``.npy`` bytes (pickles refused)."""
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:
        raise InputFileError(f"{name} is not a valid .npy file ({exc}); the sample is corrupt, re-create it") from exc


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def pixel_sha256(*images: np.ndarray | None) -> str:
    """Hex SHA-256 of decoded pixels (shape, dtype and bytes of each image, in order).

    Two files holding the same pixels (an MPO and the same views as two JPEGs
    decoded identically) hash the same, whatever their container bytes.
    """
    h = hashlib.sha256()
    for image in images:
        if image is None:
            h.update(b"none;")
            continue
        arr = np.ascontiguousarray(image)
        h.update(f"{arr.shape}{arr.dtype.str};".encode())
        h.update(arr.data.cast("B"))
    return h.hexdigest()
