"""Map files: PFM, 16-bit PNG, NPY, and a colourised preview PNG.

In memory a map is ``HxW`` float32 with NaN = no value. In files:

* **PFM** (Middlebury): header ``Pf`` (one channel) or ``PF`` (three), then
  ``W H``, then a scale whose sign gives the byte order (negative = little
  endian, which is what we write); rows are stored bottom to top; ``+inf`` =
  no value (NaN in memory <-> ``+inf`` in the file).
* **16-bit PNG** (``uint16``, 0 = no value), scale by what the map holds:

  - metric depth: millimetres, ``round(Z * 1000)``, capped at 65535 mm;
  - relative depth: ``round(Z * 1000)`` (median 1 -> 1000), capped at 65535;
  - disparity: ``round(d * 64) + 32768``, so ``d`` in [-511.98, 511.98] px
    at 1/64 px steps (a finite value that does not fit is an error: write
    PFM or NPY instead).

  The PNG carries a ``parallax:encoding`` text chunk naming the scale.
* **NPY**: float32 with NaN = no value.
* **preview PNG**: 8-bit RGB, turbo colour map over the 2nd-98th percentile of
  inverse depth or disparity (near = red, far = blue), no value = black.

Every public writer goes through :func:`parallax.io.atomic.atomic_output`.
Registry writers (``write_disparity_output``, ``write_depth_output``,
``write_preview_output``) are handed a temporary path by
:func:`parallax.outputs.write_output` and write to it directly.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import cv2
import numpy as np

from parallax.errors import InputFileError, OutputError, ParameterError
from parallax.io.atomic import atomic_output

if TYPE_CHECKING:  # pragma: no cover
    from parallax.outputs.registry import OutputOptions
    from parallax.stereo.types import DepthResult

__all__ = [
    "read_pfm",
    "write_pfm",
    "read_png16",
    "write_png16",
    "read_map",
    "write_map",
    "write_preview",
    "colorize",
    "write_disparity_output",
    "write_depth_output",
    "write_preview_output",
    "MAP_EXTENSIONS",
]

PathLike = str | os.PathLike[str]
MapKind = Literal["disparity", "depth", "relative-depth"]
#: Extensions :func:`write_map` / :func:`read_map` understand.
MAP_EXTENSIONS = (".pfm", ".png", ".npy")
_ENCODINGS = {
    "depth": "depth_mm = value; 0 = no value",
    "relative-depth": "relative_depth = value / 1000; 0 = no value",
    "disparity": "disparity_px = (value - 32768) / 64; 0 = no value",
}
_HEADER = re.compile(rb"^(P[Ff])\s+(\d+)\s+(\d+)\s+([-+0-9.eE]+)\s")


def _as_map(data: Any, *, channels_ok: bool = False) -> np.ndarray:
    arr = np.asarray(data)
    ok = arr.ndim == 2 or (channels_ok and arr.ndim == 3 and arr.shape[2] == 3)
    if not ok or arr.size == 0 or not np.issubdtype(arr.dtype, np.number):
        raise ParameterError(
            f"a map must be a non-empty numeric HxW array, got shape {arr.shape} and dtype {arr.dtype}"
        )
    return arr.astype(np.float32, copy=False)


# ---------------------------------------------------------------- PFM


def read_pfm(path: PathLike) -> np.ndarray:
    """Read a PFM file.

    Returns
    -------
    numpy.ndarray
        ``HxW`` (``Pf``) or ``HxWx3`` (``PF``) float32, top row first; ``+inf``
        in the file becomes NaN.

    Raises
    ------
    InputFileError
        If the file is missing, not PFM, or truncated.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror}; check the path") from exc
    match = _HEADER.match(raw[:256])
    if match is None:
        raise InputFileError(f"{path} is not a PFM file (no 'Pf'/'PF' header); give a PFM map")
    channels = 3 if match.group(1) == b"PF" else 1
    width, height = int(match.group(2)), int(match.group(3))
    try:
        scale = float(match.group(4))
    except ValueError as exc:
        raise InputFileError(f"{path}: PFM scale {match.group(4)!r} is not a number") from exc
    if scale == 0 or width < 1 or height < 1:
        raise InputFileError(f"{path}: PFM header has size {width}x{height} and scale {scale}; the file is corrupt")
    count = width * height * channels
    start = match.end()
    if len(raw) - start < 4 * count:
        raise InputFileError(f"{path} is truncated: {len(raw) - start} bytes of pixels, {4 * count} expected")
    dtype = np.dtype("<f4" if scale < 0 else ">f4")
    data = np.frombuffer(raw, dtype=dtype, count=count, offset=start).astype(np.float32)
    data = data.reshape((height, width, channels) if channels == 3 else (height, width))[::-1]
    data = np.ascontiguousarray(data)
    data[np.isposinf(data)] = np.nan
    return data


def _pfm_bytes(data: np.ndarray) -> bytes:
    arr = _as_map(data, channels_ok=True)
    header = b"PF" if arr.ndim == 3 else b"Pf"
    out = np.where(np.isnan(arr), np.float32(np.inf), arr)[::-1].astype("<f4")
    return header + f"\n{arr.shape[1]} {arr.shape[0]}\n-1.0\n".encode() + np.ascontiguousarray(out).tobytes()


def write_pfm(path: PathLike, data: np.ndarray) -> Path:
    """Write ``HxW`` (or ``HxWx3``) float data as little-endian PFM, NaN -> ``+inf``; atomically."""
    payload = _pfm_bytes(data)
    with atomic_output(path) as tmp:
        tmp.write_bytes(payload)
    return Path(path)


# ---------------------------------------------------------------- 16-bit PNG


def _png16_values(data: np.ndarray, kind: MapKind) -> np.ndarray:
    arr = _as_map(data).astype(np.float64)
    valid = np.isfinite(arr)
    if kind == "disparity":
        scaled = np.round(arr * 64.0) + 32768.0
        bad = valid & ((scaled < 1) | (scaled > 65535))
        if bad.any():
            worst = float(arr[bad][np.argmax(np.abs(arr[bad]))])
            raise OutputError(
                f"disparity {worst:.1f} px does not fit a 16-bit PNG (range +-511.98 px); write .pfm or .npy instead"
            )
    elif kind in ("depth", "relative-depth"):
        valid &= arr > 0
        scaled = np.clip(np.round(arr * 1000.0), 1, 65535)
    else:
        raise ParameterError(f"map kind {kind!r} is not one of disparity, depth, relative-depth")
    return np.where(valid, scaled, 0).astype(np.uint16)


def _save_png16(path: Path, values: np.ndarray, kind: MapKind) -> None:
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("parallax:kind", kind)
    info.add_text("parallax:encoding", _ENCODINGS[kind])
    Image.fromarray(values).save(path, format="PNG", pnginfo=info)


def write_png16(path: PathLike, data: np.ndarray, *, kind: MapKind) -> Path:
    """Write a map as a 16-bit PNG with the scale of ``kind`` (module docstring); atomically.

    Parameters
    ----------
    data : numpy.ndarray
        ``HxW``: depth in metres (``"depth"``), relative depth (``"relative-depth"``)
        or disparity in pixels (``"disparity"``); NaN = no value.

    Raises
    ------
    OutputError
        If a disparity does not fit the PNG's range, or the path is unwritable.
    """
    values = _png16_values(data, kind)
    with atomic_output(path) as tmp:
        _save_png16(tmp, values, kind)
    return Path(path)


def read_png16(path: PathLike, *, kind: MapKind | None = None) -> tuple[np.ndarray, MapKind]:
    """Read a 16-bit PNG map written by :func:`write_png16`.

    Parameters
    ----------
    kind : {"disparity", "depth", "relative-depth"}, optional
        The scale to decode with; ``None`` reads it from the file's
        ``parallax:kind`` text chunk.

    Returns
    -------
    data : numpy.ndarray
        ``HxW`` float32 (metres, relative depth or pixels); NaN where the file has 0.
    kind : str
        The scale used.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as img:
            stored = img.info.get("parallax:kind")
            values = np.asarray(img)
    except (OSError, UnidentifiedImageError) as exc:
        raise InputFileError(f"cannot read {path} as a PNG map: {exc}; give a 16-bit PNG") from exc
    kind = kind or stored
    if kind not in _ENCODINGS:
        raise InputFileError(f"{path} does not say what it holds (no parallax:kind); pass kind='depth' or 'disparity'")
    if values.ndim != 2:
        raise InputFileError(f"{path} is not a single-channel 16-bit PNG (shape {values.shape})")
    values = values.astype(np.float64)
    if kind == "disparity":
        out = (values - 32768.0) / 64.0
    else:
        out = values / 1000.0
    return np.where(values > 0, out, np.nan).astype(np.float32), kind


# ---------------------------------------------------------------- NPY and dispatch


def _save_npy(path: Path, data: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.save(fh, _as_map(data), allow_pickle=False)


def _write_to(path: Path, data: np.ndarray, kind: MapKind) -> None:
    """Write ``data`` to ``path`` (no atomic wrapper) in the format of its extension."""
    ext = path.suffix.lower()
    if ext == ".pfm":
        path.write_bytes(_pfm_bytes(data))
    elif ext == ".png":
        _save_png16(path, _png16_values(data, kind), kind)
    elif ext == ".npy":
        _save_npy(path, data)
    else:
        raise OutputError(f"cannot write a map to {path}: unknown extension {ext!r}; use .pfm, .png or .npy")


def write_map(path: PathLike, data: np.ndarray, *, kind: MapKind) -> Path:
    """Write a map as PFM, 16-bit PNG or NPY by the extension of ``path``; atomically.

    Parameters
    ----------
    path : path-like
        Ends in ``.pfm``, ``.png`` or ``.npy``.
    data : numpy.ndarray
        ``HxW`` float map, NaN = no value.
    kind : {"disparity", "depth", "relative-depth"}
        What the map holds (decides the 16-bit PNG scale).
    """
    path = Path(path)
    if path.suffix.lower() not in MAP_EXTENSIONS:
        raise OutputError(f"cannot write a map to {path}: unknown extension {path.suffix!r}; use .pfm, .png or .npy")
    if path.suffix.lower() == ".png":
        _png16_values(data, kind)  # fail before touching the disk
    with atomic_output(path) as tmp:
        _write_to(tmp, data, kind)
    return path


def read_map(path: PathLike, *, kind: MapKind | None = None) -> np.ndarray:
    """Read a map written by :func:`write_map` (PFM, 16-bit PNG or NPY); NaN = no value."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext == ".pfm":
        return read_pfm(path)
    if ext == ".png":
        return read_png16(path, kind=kind)[0]
    if ext == ".npy":
        try:
            return np.load(path, allow_pickle=False).astype(np.float32)
        except (OSError, ValueError) as exc:
            raise InputFileError(f"cannot read {path} as NPY: {exc}") from exc
    raise InputFileError(f"cannot read a map from {path}: unknown extension {ext!r}; use .pfm, .png or .npy")


# ---------------------------------------------------------------- preview


def colorize(data: np.ndarray, *, larger_is_nearer: bool = True) -> np.ndarray:
    """Turbo-colour a map: ``HxWx3`` uint8 RGB, near = red, far = blue, no value = black.

    Values are stretched over their 2nd-98th percentile. Pass
    ``larger_is_nearer=False`` for depth (it is inverted first).
    """
    arr = _as_map(data).astype(np.float64)
    if not larger_is_nearer:
        with np.errstate(divide="ignore", invalid="ignore"):
            arr = np.where(arr > 0, 1.0 / arr, np.nan)
    valid = np.isfinite(arr)
    out = np.zeros(arr.shape + (3,), dtype=np.uint8)
    if not valid.any():
        return out
    lo, hi = np.percentile(arr[valid], [2.0, 98.0])
    norm = np.clip((arr - lo) / max(hi - lo, 1e-12), 0.0, 1.0)
    grey = np.where(valid, np.round(norm * 255), 0).astype(np.uint8)
    bgr = cv2.applyColorMap(grey, cv2.COLORMAP_TURBO)
    out[valid] = bgr[valid][:, ::-1]
    return out


def _save_preview(path: Path, rgb: np.ndarray) -> None:
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]))
    if not ok:  # pragma: no cover - cv2 only fails on invalid arrays
        raise OutputError(f"cannot encode the preview for {path}")
    path.write_bytes(buf.tobytes())


def write_preview(path: PathLike, data: np.ndarray, *, larger_is_nearer: bool = True) -> Path:
    """Write a turbo-coloured preview PNG of a map (see :func:`colorize`); atomically."""
    rgb = colorize(data, larger_is_nearer=larger_is_nearer)
    with atomic_output(path, suffix=".png") as tmp:
        _save_preview(tmp, rgb)
    return Path(path)


# ---------------------------------------------------------------- registry writers


def _depth_kind(result: DepthResult) -> MapKind:
    return "depth" if result.depth_is_metric else "relative-depth"


def write_disparity_output(result: DepthResult, path: Path, options: OutputOptions) -> None:
    """Registry writer: the disparity map (pixels of the rectified left view) as PFM, PNG16 or NPY.

    Every pixel with a disparity is written (what ``parallax disparity`` and
    :func:`parallax.estimate_disparity` give); pixels that are not ``valid`` only
    because their depth was clipped as too far keep their disparity.

    For RGB-D results, which have no disparity, raises :class:`OutputError`.
    """
    if result.disparity_px is None:
        raise OutputError(
            f"{result.source} has no disparity (its depth came from an embedded depth map); "
            "write depth instead (--format depth)"
        )
    _write_to(Path(path), result.disparity_px, "disparity")


def write_depth_output(result: DepthResult, path: Path, options: OutputOptions) -> None:
    """Registry writer: depth (metres when metric, else relative) as PFM, PNG16 or NPY."""
    _write_to(Path(path), result.depth, _depth_kind(result))


def write_preview_output(result: DepthResult, path: Path, options: OutputOptions) -> None:
    """Registry writer: turbo-coloured preview of depth (``extra['map']='disparity'`` for disparity).

    Only ``result.valid`` pixels are coloured; the others are black.
    """
    if options.extra.get("map") == "disparity" and result.disparity_px is not None:
        rgb = colorize(result.valid_disparity(), larger_is_nearer=True)
    else:
        rgb = colorize(result.depth, larger_is_nearer=False)
    _save_preview(Path(path), rgb)
