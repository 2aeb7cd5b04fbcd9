"""Planes over closed regions: the surface a ring of measured pixels around a region agrees on.

A plain region that edge-aware propagation cannot reach (a board or a wall whose
only measured pixels lie beyond its own outline) can still be filled when the
measured pixels around it agree on one plane. :func:`ring_planes` fits, per
region, a plane ``d = a x + b y + c`` (RANSAC, seeded, :func:`ransac_plane`) to
the reliable pixels of a ring around it and keeps it only when it is clear: at
least ``min_inliers`` of the ring agree within ``tolerance`` pixels, the agreeing
pixels surround the region (``min_angle_deg`` of directions seen from its
centre), and the plane is not extrapolated past the disparities it was fitted
to (their 5th to 95th percentile, widened by a quarter of that span). Used by
step 5 of :mod:`parallax.stereo.surfaces`.

Conventions: disparity in pixels, ``x_right = x_left - d``; NaN = no value.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["ransac_plane", "ring_planes"]

#: Unsupported regions smaller than this many pixels are left as they are (no plane is worth fitting).
_MIN_REGION_PX = 16
_RANSAC_TRIALS = 400


def ring_planes(
    regions: np.ndarray,
    reliable: np.ndarray,
    disparity_px: np.ndarray,
    *,
    ring: int,
    tolerance: float,
    min_inliers: float,
    min_angle_deg: float,
) -> np.ndarray:
    """Per region, the plane of the reliable pixels in a ring around it (the module docstring).

    Parameters
    ----------
    regions : numpy.ndarray
        ``HxW`` bool, the pixels to fill; each 8-connected region gets its own plane.
    reliable : numpy.ndarray
        ``HxW`` bool, the pixels whose disparity a plane may be fitted to.
    disparity_px : numpy.ndarray
        ``HxW`` disparity in pixels (NaN = no value).
    ring : int
        Width in pixels of the ring around a region.
    tolerance : float
        Disparity difference (pixels) within which a ring pixel agrees with a plane.
    min_inliers : float
        Share of the ring's reliable pixels that must agree with the plane.
    min_angle_deg : float
        Directions (degrees, seen from the region's centre) the agreeing pixels must cover.

    Returns
    -------
    numpy.ndarray
        ``HxW`` float32: the plane's disparity inside each region a plane fits, NaN elsewhere.
    """
    h, w = regions.shape
    out = np.full((h, w), np.nan, dtype=np.float32)
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(regions.astype(np.uint8), connectivity=8)
    rng = np.random.default_rng(0)  # seeded: the same input gives the same planes
    kernel = np.ones((2 * ring + 1, 2 * ring + 1), np.uint8)
    for label in range(1, count):
        x0, y0, bw, bh, area = (int(v) for v in stats[label])
        if area < _MIN_REGION_PX:
            continue
        # the region's bounding box grown by the ring, so the dilation stays local
        xa, ya = max(0, x0 - ring - 1), max(0, y0 - ring - 1)
        xb, yb = min(w, x0 + bw + ring + 1), min(h, y0 + bh + ring + 1)
        region = labels[ya:yb, xa:xb] == label
        around = cv2.dilate(region.astype(np.uint8), kernel).astype(bool) & ~region & reliable[ya:yb, xa:xb]
        ys, xs = np.nonzero(around)
        if len(xs) < 12:
            continue
        d = disparity_px[ya:yb, xa:xb][ys, xs].astype(np.float64)
        px, py = xs + xa, ys + ya
        plane = ransac_plane(px, py, d, tolerance, rng)
        if plane is None:
            continue
        a, b, c = plane
        inliers = np.abs(a * px + b * py + c - d) <= tolerance
        if inliers.mean() < min_inliers:
            continue
        cx, cy = centroids[label]
        angles = np.degrees(np.arctan2(py[inliers] - cy, px[inliers] - cx))
        hist = np.histogram(angles, bins=36, range=(-180.0, 180.0))[0]
        if 10.0 * np.count_nonzero(hist) < min_angle_deg:
            continue
        ry, rx = np.nonzero(region)
        values = a * (rx + xa) + b * (ry + ya) + c
        lo, hi = np.percentile(d[inliers], [5.0, 95.0])
        margin = tolerance + 0.25 * (hi - lo)  # a slanted surface may run a little past its ring
        if values.min() < lo - margin or values.max() > hi + margin:
            continue  # the plane would be extrapolated beyond what it was fitted to
        out[ry + ya, rx + xa] = values.astype(np.float32)
    return out


def ransac_plane(
    x: np.ndarray, y: np.ndarray, d: np.ndarray, tolerance: float, rng: np.random.Generator
) -> tuple[float, float, float] | None:
    """The plane ``d = a x + b y + c`` most points agree with (RANSAC, then least squares on its inliers).

    Among planes with nearly the best support (at least 85 % of it) the least
    slanted one wins: a ring around a region often holds pixels of two surfaces
    (a wall above, a desk below), and a steep plane through both can gather as
    many points as the surface itself.
    """
    n = len(d)
    if n < 3:
        return None  # no plane through fewer than three points
    design = np.c_[x, y, np.ones(n)].astype(np.float64)
    trials: list[tuple[int, float, np.ndarray]] = []
    for _ in range(_RANSAC_TRIALS):
        pick = rng.choice(n, 3, replace=False)
        try:
            coef = np.linalg.solve(design[pick], d[pick])
        except np.linalg.LinAlgError:
            continue
        inliers = np.abs(design @ coef - d) <= tolerance
        trials.append((int(inliers.sum()), float(np.hypot(coef[0], coef[1])), inliers))
    if not trials:
        return None
    top = max(count for count, _, _ in trials)
    if top < 3:
        return None
    _, _, best = min((t for t in trials if t[0] >= 0.85 * top), key=lambda t: (t[1], -t[0]))
    coef = np.zeros(3)
    for _ in range(3):  # least squares on the inliers, then the inliers of that plane: a stable refinement
        coef, *_ = np.linalg.lstsq(design[best], d[best], rcond=None)
        again = np.abs(design @ coef - d) <= tolerance
        if again.sum() < 3 or np.array_equal(again, best):
            break
        best = again
    return float(coef[0]), float(coef[1]), float(coef[2])
