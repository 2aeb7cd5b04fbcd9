"""How well rows of a (rectified) pair match, measured on the views themselves.

:func:`measure_row_residual` finds feature matches anew on the given views
(SIFT on a downscaled copy, each match re-measured at full resolution with
sub-pixel cross-correlation, :func:`~parallax.stereo.features.refine_matches`),
keeps those consistent with one fundamental matrix (RANSAC, 1.5 px) and
reports the median and 90th percentile of ``|y_right - y_left|``. Run on the
written rectified views it checks the rectification with matches its estimate
never saw. ``parallax`` calls a pair rectified when the median is at most
1 px and the 90th percentile at most 2 px
(:data:`~parallax.stereo.types.RECTIFIED_MEDIAN_PX`, ``..._P90_PX``).
:func:`already_rectified` answers the common question first, from corners
tracked by Lucas-Kanade (:mod:`parallax.capture.tracks`): is this pair
rectified already, clearly enough that nothing needs estimating?
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from parallax.capture.tracks import track_points, tracks_cover
from parallax.stereo.features import FeatureMatches, match_features, refine_matches
from parallax.stereo.types import RECTIFIED_MEDIAN_PX, RECTIFIED_P90_PX

__all__ = ["RowResidual", "already_rectified", "measure_row_residual", "ransac_inliers", "MIN_MATCHES"]

#: Fewer matches than this say nothing about a residual.
MIN_MATCHES = 12
#: The quick check (:func:`already_rectified`): tracks needed, grid cover, median and 90th percentile ``|dy|`` (px).
QUICK_MIN_TRACKS = 60
QUICK_MIN_COVER = 0.6
QUICK_MEDIAN_PX = 0.5
QUICK_P90_PX = 1.0


@dataclass(frozen=True, kw_only=True)
class RowResidual:
    """Vertical offsets of matched features: median and 90th percentile of ``|dy|`` (pixels), and the count."""

    median_px: float | None
    p90_px: float | None
    matches: int

    @property
    def measured(self) -> bool:
        """True when enough matches were found to tell."""
        return self.median_px is not None

    @property
    def rectified(self) -> bool:
        """True when measured and within :data:`RECTIFIED_MEDIAN_PX` / :data:`RECTIFIED_P90_PX`."""
        return (
            self.median_px is not None
            and self.p90_px is not None
            and self.median_px <= RECTIFIED_MEDIAN_PX
            and self.p90_px <= RECTIFIED_P90_PX
        )

    def reason(self) -> str:
        """Why the pair does not count as rectified (empty when it does)."""
        if self.median_px is None or self.p90_px is None:
            return (
                f"too few feature matches ({self.matches} < {MIN_MATCHES}) to check that rows match; "
                "the pair may not be rectified"
            )
        if self.rectified:
            return ""
        return (
            f"rows do not match: vertical offset of feature matches on the rectified views is "
            f"{self.median_px:.2f} px (median) and {self.p90_px:.2f} px (90th percentile), above "
            f"{RECTIFIED_MEDIAN_PX:g} / {RECTIFIED_P90_PX:g} px"
        )

    @classmethod
    def from_offsets(cls, dy: np.ndarray) -> RowResidual:
        """Summarise vertical offsets (pixels)."""
        dy = np.abs(np.asarray(dy, dtype=np.float64))
        if len(dy) < MIN_MATCHES:
            return cls(median_px=None, p90_px=None, matches=int(len(dy)))
        return cls(median_px=float(np.median(dy)), p90_px=float(np.percentile(dy, 90)), matches=int(len(dy)))


def ransac_inliers(matches: FeatureMatches, threshold_px: float) -> FeatureMatches:
    """Matches consistent with one fundamental matrix (OpenCV RANSAC, deterministic); all of them if under 8."""
    if len(matches) < 8:
        return matches
    _, mask = cv2.findFundamentalMat(
        matches.left_xy,
        matches.right_xy,
        cv2.FM_RANSAC,
        ransacReprojThreshold=threshold_px,
        confidence=0.999,
        maxIters=5000,
    )
    if mask is None:
        return matches.subset(np.zeros(len(matches), dtype=bool))
    return matches.subset(mask.ravel().astype(bool))


def measure_row_residual(left: np.ndarray, right: np.ndarray, *, max_side_px: int = 1024) -> RowResidual:
    """Median and 90th percentile of ``|y_right - y_left|`` of fresh, refined, RANSAC-filtered matches.

    Parameters
    ----------
    left, right : numpy.ndarray
        ``HxWx3`` uint8 RGB views of one size.
    max_side_px : int
        SIFT runs on copies downscaled to at most this (other than the
        rectification's own matching, so the features differ); matches are then
        refined at full resolution.
    """
    matches = match_features(left, right, max_side_px=max_side_px, max_features=3000)
    refined = refine_matches(left, right, matches)
    if len(refined) >= max(MIN_MATCHES, len(matches) // 3):
        matches = refined
    return RowResidual.from_offsets(ransac_inliers(matches, 1.5).vertical_px)


def already_rectified(left: np.ndarray, right: np.ndarray) -> tuple[FeatureMatches, RowResidual] | None:
    """Tracked corners and their row residual when they show the pair is already rectified, else None.

    Corners tracked by pyramidal Lucas-Kanade (:func:`parallax.capture.tracks.track_points`,
    forward-backward checked, then RANSAC-filtered by one fundamental matrix at 1 px) must
    be at least :data:`QUICK_MIN_TRACKS`, cover :data:`QUICK_MIN_COVER` of a 4x4 grid over
    the view (so a lens's periphery is seen) and agree on rows more tightly than the SIFT
    decision asks (median ``|dy|`` at most :data:`QUICK_MEDIAN_PX`, 90th percentile at most
    :data:`QUICK_P90_PX`). Anything less -- too few tracks, a plain view, rows that
    disagree -- leaves the decision to the SIFT matches.
    """
    first, second = track_points(left, right)
    tracks = ransac_inliers(FeatureMatches(left_xy=first, right_xy=second), 1.0)
    if len(tracks) < QUICK_MIN_TRACKS or tracks_cover(tracks.left_xy, left.shape[1], left.shape[0]) < QUICK_MIN_COVER:
        return None
    res = RowResidual.from_offsets(tracks.vertical_px)
    if res.median_px is None or res.p90_px is None:
        return None
    if res.median_px > QUICK_MEDIAN_PX or res.p90_px > QUICK_P90_PX:
        return None
    return tracks, res
