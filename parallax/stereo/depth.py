"""Disparity to depth, metric or relative, and depth from embedded maps (RGB-D).

Conventions (``docs/conventions.md``): disparity in pixels of the rectified left
view, ``x_right = x_left - d``; depth is the distance along the optical axis
(z, OpenCV axes); NaN = no value.

* **Metric** depth: ``Z = f * B / (d + doffs)`` with ``f`` in pixels, ``B`` in
  metres and ``doffs`` the x-difference of the principal points in pixels
  (Middlebury). ``Z`` is in metres; NaN where ``d`` is NaN or ``d + doffs <= 0``.
* **Relative** depth (focal length or baseline unknown): ``1 / (d + offset)``
  scaled so that its median over valid pixels is 1; positive, larger = farther.
  For a parallel rig (the 1st percentile of ``d`` is positive) ``offset = 0``.
  For converged rigs (negative disparities, e.g. Nintendo 3DS) the true offset
  is unknown, so one is chosen from the disparity range: the 1st percentile
  ``d1`` (the far end, since far = small ``d``) is moved to a tenth of the
  1st-99th percentile span, ``offset = -d1 + 0.1 * (d99 - d1)``. The farthest
  points then come out about ten times as far as the nearest; the ordering of
  depths is right, the ratios are a guess. Pixels with ``d + offset <= 0``
  (below ``d1``) get NaN.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from parallax.capture.types import EmbeddedMap
from parallax.errors import ParameterError
from parallax.stereo.percentiles import median as fast_median
from parallax.stereo.percentiles import percentile as fast_percentile

__all__ = [
    "disparity_to_depth",
    "relative_depth",
    "relative_offset",
    "depth_from_map",
    "normalise_median",
    "far_clip",
]


def _positive(name: str, value: float) -> float:
    if not (isinstance(value, (int, float, np.floating)) and math.isfinite(value) and value > 0):
        raise ParameterError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _as_map(name: str, data: np.ndarray) -> np.ndarray:
    arr = np.asarray(data)
    if arr.ndim != 2:
        raise ParameterError(f"{name} must be a 2-D HxW array, got shape {arr.shape}")
    return arr.astype(np.float32, copy=False)


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _reciprocal_kernel(d, offset, numerator, out):  # pragma: no cover - compiled
    for i in range(d.size):
        s = np.float64(d[i]) + offset
        out[i] = np.float32(numerator / s) if s > 0 else np.float32(np.nan)


def _reciprocal(disparity_px: np.ndarray, offset: float, numerator: float) -> np.ndarray:
    """``numerator / (d + offset)`` in float64, as float32; NaN where ``d + offset <= 0`` or ``d`` is NaN.
    One pass (the numpy expression takes six over float64 copies)."""
    d = np.ascontiguousarray(disparity_px, dtype=np.float32)
    out = np.empty(d.shape, dtype=np.float32)
    _reciprocal_kernel(d.reshape(-1), float(offset), float(numerator), out.reshape(-1))
    return out


def disparity_to_depth(
    disparity_px: np.ndarray, *, focal_px: float, baseline_m: float, doffs_px: float = 0.0
) -> np.ndarray:
    """Metric depth from disparity: ``Z = focal_px * baseline_m / (d + doffs_px)``.

    Parameters
    ----------
    disparity_px : numpy.ndarray
        ``HxW`` disparity in pixels (``x_right = x_left - d``); NaN = no value.
    focal_px : float
        Focal length of the rectified left view, pixels.
    baseline_m : float
        Distance between the camera centres, metres.
    doffs_px : float
        x-difference of the principal points (``cx_right - cx_left`` in
        Middlebury's ``calib.txt``), pixels; 0 when both are equal.

    Returns
    -------
    numpy.ndarray
        ``HxW`` float32 depth in metres; NaN where ``d`` is NaN or ``d + doffs <= 0``
        (at or beyond infinity).
    """
    focal_px = _positive("focal_px", focal_px)
    baseline_m = _positive("baseline_m", baseline_m)
    if not math.isfinite(doffs_px):
        raise ParameterError(f"doffs_px must be finite, got {doffs_px!r}")
    return _reciprocal(_as_map("disparity_px", disparity_px), float(doffs_px), focal_px * baseline_m)


def normalise_median(depth: np.ndarray) -> np.ndarray:
    """Scale a positive map so that its median over finite values is 1 (NaN kept)."""
    depth = _as_map("depth", depth)
    if not np.isfinite(depth).any():
        return depth.copy()
    median = float(fast_median(depth))
    if not median > 0:
        raise ParameterError(f"depth median is {median}, not positive; relative depth must be positive")
    return np.divide(depth, np.float32(median), dtype=np.float32)  # (one pass: no float32 copy after)


def relative_offset(disparity_px: np.ndarray) -> float:
    """The disparity offset :func:`relative_depth` uses (see the module docstring), pixels."""
    d = _as_map("disparity_px", disparity_px)
    if not np.isfinite(d).any():
        return 0.0
    d1, d99 = (float(v) for v in fast_percentile(d, [1.0, 99.0]))
    if d1 > 0:
        return 0.0
    span = max(d99 - d1, 1.0)
    return -d1 + 0.1 * span


def relative_depth(disparity_px: np.ndarray, *, offset_px: float | None = None) -> tuple[np.ndarray, float]:
    """Relative depth ``1 / (d + offset)``, median 1, larger = farther.

    Parameters
    ----------
    disparity_px : numpy.ndarray
        ``HxW`` disparity in pixels; NaN = no value.
    offset_px : float, optional
        Disparity offset; ``None`` chooses one with :func:`relative_offset`.

    Returns
    -------
    depth : numpy.ndarray
        ``HxW`` float32, positive, median 1 over valid pixels; NaN where ``d``
        is NaN or ``d + offset <= 0``.
    offset_px : float
        The offset used, pixels.
    """
    d = _as_map("disparity_px", disparity_px)
    offset = relative_offset(d) if offset_px is None else float(offset_px)
    if not math.isfinite(offset):
        raise ParameterError(f"offset_px must be finite, got {offset_px!r}")
    return normalise_median(_reciprocal(d, offset, 1.0)), offset


def depth_from_map(embedded: EmbeddedMap) -> tuple[np.ndarray, bool]:
    """Depth (in the map's own size) from an embedded depth-like map.

    Parameters
    ----------
    embedded : EmbeddedMap
        Kind ``"depth"``, ``"inverse-depth"``, ``"normalized-disparity"`` or
        ``"disparity"``.

    Returns
    -------
    depth : numpy.ndarray
        ``HxW`` float32 depth along z; metres when metric, else relative (median
        1, larger = farther). NaN = no value (including non-positive values).
    metric : bool
        True only for ``"depth"`` in ``"m"`` and ``"inverse-depth"`` in ``"1/m"``.

    Notes
    -----
    ``"normalized-disparity"`` and ``"disparity"`` maps are treated as
    proportional to inverse depth (larger = nearer), so relative depth is their
    reciprocal; a disparity map's zero point is unknown, values <= 0 become NaN.
    """
    data = embedded.data.astype(np.float64)
    units = embedded.units.lower()
    with np.errstate(divide="ignore", invalid="ignore"):
        if embedded.kind == "depth":
            depth = np.where(data > 0, data, np.nan)
            metric = units in ("m", "metre", "meter", "metres", "meters")
            if units == "mm":
                depth, metric = depth / 1000.0, True
        elif embedded.kind in ("inverse-depth", "normalized-disparity", "disparity"):
            depth = np.where(data > 0, 1.0 / data, np.nan)
            metric = embedded.kind == "inverse-depth" and units in ("1/m", "m^-1")
        else:  # pragma: no cover - EmbeddedMap validates kind
            raise ParameterError(f"embedded map kind {embedded.kind!r} cannot give depth")
    depth = depth.astype(np.float32)
    if not metric:
        depth = normalise_median(depth)
    return depth, metric


def far_clip(depth: np.ndarray, valid: np.ndarray, *, factor: float) -> tuple[np.ndarray, float | None]:
    """Pixels deeper than ``factor`` times the 95th percentile of the valid depth.

    Depth is proportional to ``1 / d``: a disparity a fraction of a pixel off near
    zero puts a point hundreds of times farther than the rest of the scene. This
    is a robust upper limit for such outliers; the 95th percentile itself is
    unaffected by them as long as they are fewer than 5 % of the pixels.

    Parameters
    ----------
    depth : numpy.ndarray
        ``HxW`` depth (metres or relative); NaN = no value.
    valid : numpy.ndarray
        ``HxW`` bool, the pixels considered.
    factor : float
        Multiple of the 95th percentile beyond which a pixel is clipped (> 1).

    Returns
    -------
    far : numpy.ndarray
        ``HxW`` bool, the valid pixels beyond the limit.
    limit : float or None
        The limit in depth units (``None`` when no pixel is valid).
    """
    if not (math.isfinite(factor) and factor > 1):
        raise ParameterError(f"far clip factor must be a number > 1, got {factor!r}")
    depth = _as_map("depth", depth)
    valid = np.asarray(valid, dtype=bool) & np.isfinite(depth)
    if not valid.any():
        return np.zeros(depth.shape, dtype=bool), None
    limit = float(factor * fast_percentile(depth, 95.0, where=valid))
    return valid & (depth > limit), limit
