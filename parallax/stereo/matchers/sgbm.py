"""The OpenCV semi-global block matching baseline (issue 3's recipe).

``cv2.StereoSGBM`` in 3-way mode, block size 5, ``P1 = 8*3*25``, ``P2 = 32*3*25``,
uniqueness ratio 10, speckle window 100 / range 2, ``disp12MaxDiff`` 1, with the
search range ``numDisparities`` = span rounded up to a multiple of 16 and
``minDisparity = floor(min_disparity)``. ``"sgbm"`` then fills holes with the
background-favouring scanline fill (each invalid pixel takes the smaller of the
nearest valid disparities left and right on its row); ``"sgbm-raw"`` leaves them NaN.

Disparity convention: pixels of the left view, ``x_right = x_left - d``; NaN = no value.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from parallax.capture.types import check_image
from parallax.errors import ParameterError
from parallax.stereo.matchers.base import MatchResult
from parallax.stereo.matchers.refine import scanline_background_fill

__all__ = ["SgbmMatcher", "SgbmRawMatcher", "sgbm_disparity", "resolve_range"]

#: Confidence given to pixels that only the hole fill gave a value.
FILLED_CONFIDENCE = 0.05


def resolve_range(
    left: np.ndarray, right: np.ndarray, min_disparity: float | None, max_disparity: float | None
) -> tuple[float, float]:
    """Check a given search range, or find the missing bounds from sparse matches.

    Raises
    ------
    ParameterError
        If a bound is not finite or ``min_disparity >= max_disparity``.
    """
    for name, value in (("min_disparity", min_disparity), ("max_disparity", max_disparity)):
        if value is not None and not (
            isinstance(value, (int, float, np.integer, np.floating)) and math.isfinite(value)
        ):
            raise ParameterError(f"{name} must be a finite number of pixels or None, got {value!r}")
    if min_disparity is None or max_disparity is None:
        from parallax.stereo.range import estimate_disparity_range

        lo, hi = estimate_disparity_range(left, right)
        if min_disparity is None:
            min_disparity = min(lo, max_disparity - 16) if max_disparity is not None else lo
        if max_disparity is None:
            max_disparity = max(hi, min_disparity + 16)
    if not min_disparity < max_disparity:
        raise ParameterError(
            f"min_disparity ({min_disparity}) must be smaller than max_disparity ({max_disparity}); swap or widen them"
        )
    return float(min_disparity), float(max_disparity)


def sgbm_disparity(left: np.ndarray, right: np.ndarray, min_disparity: float, max_disparity: float) -> np.ndarray:
    """Raw OpenCV SGBM disparity (issue 3's recipe) of ``left``; NaN = no value.

    Parameters
    ----------
    left, right : numpy.ndarray
        Rectified ``HxWx3`` uint8 views.
    min_disparity, max_disparity : float
        The search range in pixels (``numDisparities`` is rounded up to a multiple of 16).

    Returns
    -------
    numpy.ndarray
        ``HxW`` float32 disparity in pixels (1/16 px steps), NaN where SGBM gave none.
    """
    mind = int(math.floor(min_disparity))
    num = int(math.ceil((max_disparity - mind + 1) / 16.0)) * 16
    sgbm = cv2.StereoSGBM.create(
        minDisparity=mind,
        numDisparities=num,
        blockSize=5,
        P1=8 * 3 * 25,
        P2=32 * 3 * 25,
        disp12MaxDiff=1,
        uniquenessRatio=10,
        speckleWindowSize=100,
        speckleRange=2,
        mode=cv2.STEREO_SGBM_MODE_SGBM_3WAY,
    )
    raw = sgbm.compute(np.ascontiguousarray(left), np.ascontiguousarray(right))
    disp = raw.astype(np.float32) / 16.0
    disp[raw < mind * 16] = np.nan
    return disp


class SgbmMatcher:
    """OpenCV SGBM with the background-favouring scanline hole fill (``"sgbm"``).

    Parameters
    ----------
    fill : bool
        Fill holes (default) or leave them NaN.

    Confidence is 1 where SGBM itself gave a value and 0.05 where only the fill did.
    A missing search range is estimated with :func:`parallax.stereo.range.estimate_disparity_range`.
    """

    name = "sgbm"

    def __init__(self, *, fill: bool = True) -> None:
        if not isinstance(fill, bool):
            raise ParameterError(f"sgbm option fill must be True or False, got {fill!r}")
        self.fill = fill
        self.name = "sgbm" if fill else "sgbm-raw"

    def match(
        self,
        left: np.ndarray,
        right: np.ndarray,
        *,
        min_disparity: float | None = None,
        max_disparity: float | None = None,
    ) -> MatchResult:
        """Disparity of ``left`` against ``right`` (rectified ``HxWx3`` uint8 RGB, same size)."""
        left = check_image("left", left)
        right = check_image("right", right)
        if left.shape != right.shape:
            raise ParameterError(f"left {left.shape[:2]} and right {right.shape[:2]} views must have the same size")
        lo, hi = resolve_range(left, right, min_disparity, max_disparity)
        raw = sgbm_disparity(left, right, lo, hi)
        valid = np.isfinite(raw)
        disp = scanline_background_fill(raw) if self.fill else raw
        conf = np.where(valid, 1.0, np.where(np.isfinite(disp), FILLED_CONFIDENCE, 0.0)).astype(np.float32)
        return MatchResult(
            disparity_px=disp,
            confidence=conf,
            min_disparity=lo,
            max_disparity=hi,
            settings={"matcher": self.name, "recipe": "opencv-sgbm-3way-bs5", "fill": self.fill},
            measured=valid,
        )


class SgbmRawMatcher(SgbmMatcher):
    """OpenCV SGBM without hole filling (``"sgbm-raw"``): NaN where SGBM gave no value."""

    name = "sgbm-raw"

    def __init__(self) -> None:
        super().__init__(fill=False)
