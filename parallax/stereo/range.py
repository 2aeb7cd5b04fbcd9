"""The disparity search range of a rectified pair, from sparse feature matches.

Disparity convention: pixels of the left view, ``x_right = x_left - d``; negative
values are valid (converged rigs such as the Nintendo 3DS, about -110 ... -50 px
at 640x480).
"""

from __future__ import annotations

import math

import numpy as np

from parallax.capture.types import check_image
from parallax.errors import ParameterError
from parallax.stereo.features import match_features

__all__ = ["estimate_disparity_range"]


def estimate_disparity_range(
    left: np.ndarray,
    right: np.ndarray,
    *,
    low_percentile: float = 1.0,
    high_percentile: float = 99.0,
    margin_frac: float = 0.2,
    margin_px: float = 8.0,
    max_vertical_px: float = 2.0,
    min_matches: int = 20,
    fallback_frac: float = 0.25,
) -> tuple[float, float]:
    """Disparity range ``(min_d, max_d)`` of a rectified pair, in pixels.

    SIFT matches (:func:`parallax.stereo.features.match_features`) whose vertical
    offset is at most ``max_vertical_px`` give sample disparities ``x_left - x_right``.
    The range is their ``low_percentile`` .. ``high_percentile`` percentiles widened on
    each side by ``margin_px + margin_frac * (high - low)`` (sparse features miss
    the nearest and farthest surfaces, so the margin is generous).

    Parameters
    ----------
    left, right : numpy.ndarray
        Rectified ``HxWx3`` uint8 RGB views of equal size.
    low_percentile, high_percentile : float
        Robust percentiles (0..100) of the match disparities.
    margin_frac, margin_px : float
        Widening of the range on each side (fraction of its span, and pixels).
    max_vertical_px : float
        Matches with a larger vertical offset are outliers of a rectified pair.
    min_matches : int
        With fewer inlier matches the fallback range is returned.
    fallback_frac : float
        Fallback range ``(-fallback_frac * W, +fallback_frac * W)`` for pairs
        without enough texture to match.

    Returns
    -------
    tuple of float
        ``(min_d, max_d)`` in pixels, ``min_d < max_d``; either may be negative.

    Raises
    ------
    ParameterError
        If the views differ in size or a parameter is out of range.
    """
    left = check_image("left", left)
    right = check_image("right", right)
    if left.shape != right.shape:
        raise ParameterError(
            f"left {left.shape[:2]} and right {right.shape[:2]} views must have the same size; rectify the pair first"
        )
    if not 0.0 <= low_percentile < high_percentile <= 100.0:
        raise ParameterError(
            f"percentiles must satisfy 0 <= low < high <= 100, got {low_percentile!r}, {high_percentile!r}"
        )
    for name, value in (("margin_frac", margin_frac), ("margin_px", margin_px), ("fallback_frac", fallback_frac)):
        if not (math.isfinite(value) and value >= 0):
            raise ParameterError(f"{name} must be a finite number >= 0, got {value!r}")
    width = left.shape[1]
    matches = match_features(left, right)
    d = matches.disparity_px[np.abs(matches.vertical_px) <= max_vertical_px] if len(matches) else np.zeros(0)
    if d.size < max(int(min_matches), 1):
        half = max(fallback_frac * width, 1.0)
        return -float(half), float(half)
    lo, hi = np.percentile(d, [low_percentile, high_percentile])
    margin = margin_px + margin_frac * (hi - lo)
    return float(lo - margin), float(hi + margin)
