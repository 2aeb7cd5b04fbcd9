"""Measures of how trustworthy a depth result looks as geometry (no ground truth needed).

* :func:`plain_roughness` -- on pixels with no texture (grey-level standard
  deviation below ``std_threshold`` over a ``window`` x ``window`` box), the
  share that are marked valid yet rough: the spread (max - min) of the valid
  disparities in the same box exceeds ``spread_px``. Confident-looking noise
  on walls and sky shows up here. A steep but smooth surface (a floor or a
  bed receding from the camera) spreads too, so the rough pixels whose box a
  plane explains to within ``plane_rms_px`` are also counted on their own
  (``steep_valid_share``): rough by the measure, yet not noise.
* :func:`boundary_edges_per_1000_faces` -- edges used by exactly one triangle,
  per 1000 triangles: a mesh shredded into cracks has many.
* :func:`depth_reach` -- the largest vertex depth over the 95th percentile:
  a few far outliers make it large.

Conventions: images ``HxWx3`` uint8 RGB; disparity in pixels, NaN = no value;
``valid`` a boolean mask of pixels to use.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from parallax.errors import ParameterError
from parallax.stereo.surfaces import local_spread, local_std

__all__ = ["PlainRoughness", "plain_roughness", "boundary_edges_per_1000_faces", "depth_reach", "local_std"]


@dataclass(frozen=True, kw_only=True)
class PlainRoughness:
    """Result of :func:`plain_roughness` (shares in [0, 1]).

    Parameters
    ----------
    plain_share : float
        Share of all pixels that have no texture.
    rough_valid_share : float
        Of the untextured pixels, the share that are valid and whose local
        disparity spread exceeds the threshold (the issue's measure).
    valid_plain_share : float
        Of the untextured pixels, the share that are valid.
    valid_share : float
        Share of all pixels that are valid.
    steep_valid_share : float
        Of the untextured pixels, the share counted in ``rough_valid_share``
        whose box is all valid and fits one plane to within ``plane_rms_px``
        (root mean square): steep, smooth surfaces rather than noise.
    """

    plain_share: float
    rough_valid_share: float
    valid_plain_share: float
    valid_share: float
    steep_valid_share: float = 0.0


def plain_roughness(
    image: np.ndarray,
    disparity_px: np.ndarray,
    valid: np.ndarray,
    *,
    window: int = 11,
    std_threshold: float = 2.0,
    spread_px: float = 1.0,
    plane_rms_px: float = 0.25,
) -> PlainRoughness:
    """Share of untextured pixels that are valid yet rough (see the module docstring).

    Parameters
    ----------
    image : numpy.ndarray
        ``HxWx3`` uint8 RGB view the disparity refers to.
    disparity_px : numpy.ndarray
        ``HxW`` disparity in pixels; NaN = no value.
    valid : numpy.ndarray
        ``HxW`` bool, the pixels a consumer would use.
    window : int
        Side of the square box, pixels (odd).
    std_threshold : float
        A pixel has no texture when the grey-level standard deviation of its box is below this.
    spread_px : float
        A valid pixel is rough when max - min of the valid disparities in its box exceeds this.
    plane_rms_px : float
        A rough pixel is steep (smooth) when one plane fits its box to within this, pixels RMS.
    """
    disparity_px = np.asarray(disparity_px, dtype=np.float32)
    valid = np.asarray(valid, dtype=bool) & np.isfinite(disparity_px)
    if image.shape[:2] != disparity_px.shape or valid.shape != disparity_px.shape:
        raise ParameterError(
            f"image {image.shape[:2]}, disparity {disparity_px.shape} and valid {valid.shape} must be one size"
        )
    if not (isinstance(window, int) and window >= 3 and window % 2 == 1):
        raise ParameterError(f"window must be an odd integer >= 3, got {window!r}")
    plain = local_std(image, window) < std_threshold
    rough = plain & valid & (local_spread(np.where(valid, disparity_px, np.nan), window) > spread_px)
    n_plain = max(int(plain.sum()), 1)
    steep = rough & (_plane_rms(disparity_px, valid, window) <= plane_rms_px)
    return PlainRoughness(
        steep_valid_share=float(steep.sum() / n_plain),
        plain_share=float(plain.mean()),
        rough_valid_share=float(rough.sum() / n_plain),
        valid_plain_share=float((plain & valid).sum() / n_plain),
        valid_share=float(valid.mean()),
    )


def _plane_rms(disparity_px: np.ndarray, valid: np.ndarray, window: int) -> np.ndarray:
    """RMS residual (pixels) of the least-squares plane over each box; +inf where the box is not all valid.

    With coordinates centred on the box, the plane's terms are orthogonal: the
    residual variance is ``E[d^2] - E[d]^2 - (E[x d]^2 / E[x^2]) - (E[y d]^2 / E[y^2])``,
    all from box filters.
    """
    h, w = disparity_px.shape
    d = np.where(valid, disparity_px, 0.0).astype(np.float64)
    box = (window, window)
    edge = cv2.BORDER_CONSTANT
    full = cv2.blur(valid.astype(np.float64), box, borderType=edge) > 1.0 - 1e-9
    xs = np.broadcast_to(np.arange(w, dtype=np.float64)[None, :], (h, w))
    ys = np.broadcast_to(np.arange(h, dtype=np.float64)[:, None], (h, w))
    mean = cv2.blur(d, box, borderType=edge)
    mean2 = cv2.blur(d * d, box, borderType=edge)
    # E[(x - x0) d] = E[x d] - x0 E[d] on a full box centred at x0
    exd = cv2.blur(xs * d, box, borderType=edge) - xs * mean
    eyd = cv2.blur(ys * d, box, borderType=edge) - ys * mean
    r = window // 2
    ex2 = float(np.mean(np.arange(-r, r + 1, dtype=np.float64) ** 2))
    var = mean2 - mean * mean - (exd * exd + eyd * eyd) / ex2
    return np.where(full, np.sqrt(np.maximum(var, 0.0)), np.inf)


def boundary_edges_per_1000_faces(faces: np.ndarray) -> float:
    """Edges used by exactly one triangle, per 1000 triangles (0 for a closed surface).

    Parameters
    ----------
    faces : numpy.ndarray
        ``M x 3`` vertex indices.
    """
    faces = np.asarray(faces, dtype=np.int64)
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise ParameterError(f"faces must be M x 3, got {faces.shape}")
    if faces.shape[0] == 0:
        return 0.0
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]], axis=0)
    edges.sort(axis=1)
    key = edges[:, 0] * (int(faces.max()) + 1) + edges[:, 1]
    _, counts = np.unique(key, return_counts=True)
    return float((counts == 1).sum() * 1000.0 / faces.shape[0])


def depth_reach(depths: np.ndarray) -> float:
    """Largest depth over the 95th percentile of positive finite depths (NaN when there is none)."""
    z = np.asarray(depths, dtype=np.float64).ravel()
    z = z[np.isfinite(z) & (z > 0)]
    if z.size == 0:
        return float("nan")
    return float(z.max() / np.percentile(z, 95.0))
