"""Edge-aware upsampling of a disparity map computed at a reduced working size.

Video is matched at a reduced size (``max_side_px``) and its disparity brought
back to the size of the views. Plain bilinear upsampling blends foreground and
background across a depth edge (points floating in mid-air in 3D); nearest
neighbour makes blocky edges. :func:`upsample_disparity` does both where each
fits, guided by the full-size left view (joint upsampling, after Kopf et al.,
"Joint bilateral upsampling", 2007, in its simplest winner-take-all form):

* where the four low-resolution neighbours of a pixel agree within
  ``edge_px`` (low-resolution pixels) it interpolates bilinearly;
* across an edge it takes the one neighbour whose low-resolution colour is
  closest to the pixel's own full-resolution colour (ties to the bilinear
  weight), so each pixel stays on its own surface.

Values are scaled by the width ratio (disparity is in pixels). NaN = no value:
a pixel takes NaN only when all its neighbours are NaN, or across an edge
when the chosen neighbour is.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from parallax.capture.types import check_image
from parallax.errors import ParameterError
from parallax.stereo.matchers.threads import run_rows

__all__ = ["upsample_disparity", "upsample_nearest"]


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _joint_upsample(disp, guide_lo, guide_hi, edge_px, out, y0, y1):  # pragma: no cover - numba
    h_lo, w_lo = disp.shape
    h, w = out.shape
    sx = w_lo / w
    sy = h_lo / h
    cand = np.empty(4, dtype=np.float32)
    wts = np.empty(4, dtype=np.float32)
    cy = np.empty(4, dtype=np.int64)
    cx = np.empty(4, dtype=np.int64)
    for y in range(y0, y1):
        fy = (y + 0.5) * sy - 0.5
        iy = int(np.floor(fy))
        ty = fy - iy
        y0c = min(max(iy, 0), h_lo - 1)
        y1c = min(max(iy + 1, 0), h_lo - 1)
        for x in range(w):
            fx = (x + 0.5) * sx - 0.5
            x0 = int(np.floor(fx))
            tx = fx - x0
            x0c = min(max(x0, 0), w_lo - 1)
            x1c = min(max(x0 + 1, 0), w_lo - 1)
            cy[0], cx[0], wts[0] = y0c, x0c, (1 - tx) * (1 - ty)
            cy[1], cx[1], wts[1] = y0c, x1c, tx * (1 - ty)
            cy[2], cx[2], wts[2] = y1c, x0c, (1 - tx) * ty
            cy[3], cx[3], wts[3] = y1c, x1c, tx * ty
            lo = np.inf
            hi = -np.inf
            total = 0.0
            acc = 0.0
            for k in range(4):
                v = disp[cy[k], cx[k]]
                cand[k] = v
                if np.isfinite(v):
                    lo = min(lo, v)
                    hi = max(hi, v)
                    total += wts[k]
                    acc += wts[k] * v
            if total <= 0.0:
                out[y, x] = np.nan
                continue
            if hi - lo <= edge_px:
                out[y, x] = acc / total
                continue
            best = -1
            best_score = np.inf
            for k in range(4):
                diff = 0.0
                for ch in range(3):
                    diff += abs(float(guide_hi[y, x, ch]) - float(guide_lo[cy[k], cx[k], ch]))
                score = diff - 1e-3 * wts[k]
                if score < best_score:
                    best_score = score
                    best = k
            out[y, x] = cand[best]


def upsample_disparity(
    disparity_px: np.ndarray,
    guide_low: np.ndarray,
    guide: np.ndarray,
    *,
    edge_px: float = 1.0,
) -> np.ndarray:
    """Upsample a low-resolution disparity map to the size of ``guide`` (see the module docstring).

    Parameters
    ----------
    disparity_px : numpy.ndarray
        ``hxw`` float disparity at the working size (pixels of that size; NaN = no value).
    guide_low : numpy.ndarray
        The left view at the working size (``hxwx3`` uint8 RGB) the disparity belongs to.
    guide : numpy.ndarray
        The full-size left view (``HxWx3`` uint8 RGB).
    edge_px : float
        Neighbours spanning more than this (working-size pixels) are an edge.

    Returns
    -------
    numpy.ndarray
        ``HxW`` float32 disparity in full-size pixels (values times ``W / w``).
    """
    d = np.asarray(disparity_px, dtype=np.float32)
    guide_low = check_image("guide_low", guide_low)
    guide = check_image("guide", guide)
    if d.ndim != 2 or guide_low.shape[:2] != d.shape:
        raise ParameterError(f"disparity {d.shape} and guide_low {guide_low.shape[:2]} must be one size")
    if not (np.isfinite(edge_px) and edge_px >= 0):
        raise ParameterError(f"edge_px must be a finite number >= 0, got {edge_px!r}")
    h, w = guide.shape[:2]
    if (h, w) == d.shape:
        return d.copy()
    out = np.empty((h, w), dtype=np.float32)
    d = np.ascontiguousarray(d)
    run_rows(lambda y0, y1: _joint_upsample(d, guide_low, guide, np.float32(edge_px), out, y0, y1), h, 2)
    return out * np.float32(w / d.shape[1])


def upsample_nearest(data: np.ndarray, width: int, height: int) -> np.ndarray:
    """Nearest-neighbour resize of a map (confidence, masks) to ``width`` x ``height``."""
    import cv2

    data = np.asarray(data)
    if data.shape[:2] == (height, width):
        return data.copy()
    return cv2.resize(data, (int(width), int(height)), interpolation=cv2.INTER_NEAREST)
