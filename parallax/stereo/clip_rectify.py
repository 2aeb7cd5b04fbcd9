"""Per-clip rectification: one set of homographies for every frame of a stereo clip.

A stereo rig does not change its geometry during a clip, so the rectification
is estimated once, from feature matches *pooled* over frames spread through
the (selected part of the) clip, and then checked on other frames:

1. **Fit.** SIFT matches (:func:`parallax.stereo.features.match_features`) of
   ``fit_frames`` frames spread evenly through the selection are pooled; one
   RANSAC fundamental matrix over the pooled set (1 px) drops outliers, so a
   moving object or a bad frame cannot steer the result, and the pooled inliers
   go to :func:`parallax.stereo.rectify.rectify` (which decides between "none",
   a rotation fit and a vertical shift exactly as for a still pair, and crops to
   the common view).
2. **Check.** On ``check_frames`` other frames, spread between the fit frames,
   the frame's own RANSAC-filtered matches of the *rectified* views give the
   residual vertical error (median ``|y_right - y_left|``, pixels of the
   original views): a rig that moved during the clip (a knock, a zoom,
   thermal drift, a reader that mixed up frames) shows up as a residual that
   grows along the clip. ``drift`` is set when the largest residual exceeds
   :data:`DRIFT_THRESHOLD_PX`.

One pass over the frames does both (decoding is sequential; the frames are
picked as they stream past). Homographies follow ``docs/conventions.md``: they
map original pixels to rectified pixels.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from parallax.capture.clip import FramePair, FrameSelection, StereoClip
from parallax.errors import InputFileError, ParameterError
from parallax.stereo.features import FeatureMatches, match_features
from parallax.stereo.rectify import rectify, warp_view
from parallax.stereo.types import Rectification

__all__ = [
    "DRIFT_THRESHOLD_PX",
    "FEATURE_SIDE_PX",
    "ClipRectification",
    "estimate_clip_rectification",
    "expected_frame_count",
    "frame_residual",
    "rectify_frame",
    "sample_positions",
]

#: A checked frame whose residual vertical error exceeds this (pixels) means the rig moved during the clip.
DRIFT_THRESHOLD_PX = 1.0
#: At most this many pooled matches are used for the fit (a seeded random subset beyond it).
_MAX_POOLED = 8000
#: Longer side (pixels) frames are shrunk to for feature detection (matches are in full-size pixels).
FEATURE_SIDE_PX = 960
#: Fewer RANSAC inliers than this on a checked frame and its residual is not measured.
_MIN_CHECK_MATCHES = 12


@dataclass(frozen=True, kw_only=True)
class ClipRectification:
    """The one rectification of a clip and how well it holds along the clip.

    Parameters
    ----------
    rectification : Rectification
        Homographies from original view pixels to rectified pixels, the
        rectified size and ``disparity_offset_px`` (as for a still pair).
        Its vertical errors are those of the pooled matches, before and after.
    fit_frames : tuple of int
        Frame indices (of the source) whose matches were pooled.
    pooled_matches : int
        RANSAC inliers of the pooled set (the fit used at most 8000 of them).
    check_frames : tuple of int
        Frame indices the rectification was checked on.
    residual_px : tuple of float or None
        Residual vertical error after rectification on each checked frame,
        median ``|y_right - y_left|`` of its own RANSAC-filtered matches,
        pixels of the original views; ``None`` where too few features matched.
    held_out : bool
        Whether the checked frames are all different from the fit frames
        (not possible on clips shorter than ``fit_frames + check_frames``).
    """

    rectification: Rectification
    fit_frames: tuple[int, ...]
    pooled_matches: int
    check_frames: tuple[int, ...]
    residual_px: tuple[float | None, ...]
    held_out: bool

    def __post_init__(self) -> None:
        if len(self.residual_px) != len(self.check_frames):
            raise ParameterError("ClipRectification: one residual per checked frame is needed")

    @property
    def max_residual_px(self) -> float | None:
        """Largest residual over the checked frames (pixels), ``None`` if none could be measured."""
        values = [r for r in self.residual_px if r is not None]
        return max(values) if values else None

    @property
    def drift(self) -> bool:
        """True when a checked frame's residual exceeds :data:`DRIFT_THRESHOLD_PX`."""
        worst = self.max_residual_px
        return worst is not None and worst > DRIFT_THRESHOLD_PX

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (``clip.json`` holds it)."""
        return {
            **self.rectification.to_dict(),
            "fit_frames": list(self.fit_frames),
            "pooled_matches": int(self.pooled_matches),
            "check_frames": list(self.check_frames),
            "residual_px": [None if r is None else float(r) for r in self.residual_px],
            "max_residual_px": self.max_residual_px,
            "held_out": self.held_out,
            "drift": self.drift,
            "drift_threshold_px": DRIFT_THRESHOLD_PX,
        }


def expected_frame_count(clip: StereoClip, selection: FrameSelection) -> int:
    """How many frames ``clip.frames(...)`` with ``selection`` will deliver, from the clip's facts.

    An estimate for containers whose frame count or rate is approximate; exact for frame folders.
    """
    fps, total = float(clip.fps), int(clip.frame_count)
    first = 0 if selection.start_s is None else max(0, math.ceil(selection.start_s * fps - 1e-6))
    last = total if selection.end_s is None else min(total, math.ceil(selection.end_s * fps - 1e-6))
    count = max(0, -(-(last - first) // selection.step))
    if selection.max_frames is not None:
        count = min(count, selection.max_frames)
    return count


def sample_positions(count: int, fit: int, check: int) -> tuple[list[int], list[int]]:
    """Positions (0-based, among ``count`` selected frames) of the fit and check frames.

    Fit frames sit at the centres of ``fit`` equal parts of the selection; check
    frames at the centres of ``check`` equal parts, moved to the nearest position
    that is not a fit frame when there is one.
    """
    if count <= 0:
        return [], []
    fit_pos = sorted({min(count - 1, int((i + 0.5) * count / fit)) for i in range(max(1, fit))})
    taken = set(fit_pos)
    check_pos: list[int] = []
    for i in range(max(0, check)):
        want = min(count - 1, int((i + 0.5) * count / check))
        free = [p for p in range(count) if p not in taken]
        pos = min(free, key=lambda p: (abs(p - want), p)) if free else want
        taken.add(pos)
        check_pos.append(pos)
    return fit_pos, sorted(set(check_pos))


def _ransac(matches: FeatureMatches) -> FeatureMatches:
    """The matches consistent with one fundamental matrix (RANSAC, 1 px)."""
    if len(matches) < 8:
        return matches
    _, mask = cv2.findFundamentalMat(
        matches.left_xy, matches.right_xy, cv2.FM_RANSAC, ransacReprojThreshold=1.0, confidence=0.999, maxIters=5000
    )
    if mask is None:
        return matches.subset(np.zeros(len(matches), dtype=bool))
    return matches.subset(mask.ravel().astype(bool))


def frame_residual(rectification: Rectification, left: np.ndarray, right: np.ndarray) -> float | None:
    """Residual vertical error of one frame after the clip's rectification (pixels), ``None`` if unmeasurable.

    The frame's own SIFT matches, RANSAC-filtered (so a changed rig geometry is
    kept, not rejected), are mapped through the homographies; the result is
    the median ``|y_right - y_left|``.
    """
    matches = _ransac(match_features(left, right, max_side_px=FEATURE_SIDE_PX))
    if len(matches) < _MIN_CHECK_MATCHES:
        return None

    yl = rectification.to_rectified(matches.left_xy, "left")[:, 1]
    yr = rectification.to_rectified(matches.right_xy, "right")[:, 1]
    ok = np.isfinite(yl) & np.isfinite(yr)
    return float(np.median(np.abs(yr[ok] - yl[ok]))) if ok.any() else None


def _pooled_inliers(pooled: list[FeatureMatches], seed: int) -> FeatureMatches:
    left = np.concatenate([m.left_xy for m in pooled]) if pooled else np.zeros((0, 2))
    right = np.concatenate([m.right_xy for m in pooled]) if pooled else np.zeros((0, 2))
    inliers = _ransac(FeatureMatches(left_xy=left, right_xy=right))
    if len(inliers) > _MAX_POOLED:
        keep = np.sort(np.random.default_rng(seed).choice(len(inliers), _MAX_POOLED, replace=False))
        inliers = FeatureMatches(left_xy=inliers.left_xy[keep], right_xy=inliers.right_xy[keep])
    return inliers


def rectify_frame(rectification: Rectification, left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Warp one frame pair with the clip's rectification (views of the clip's size -> rectified views)."""
    return warp_view(left, rectification, "left"), warp_view(right, rectification, "right")


def estimate_clip_rectification(
    clip: StereoClip,
    *,
    start_s: float | None = None,
    end_s: float | None = None,
    step: int = 1,
    max_frames: int | None = None,
    fit_frames: int = 6,
    check_frames: int = 4,
    seed: int = 0,
) -> ClipRectification:
    """Estimate a clip's rectification from matches pooled over its frames, and check it along the clip.

    Parameters
    ----------
    clip : StereoClip
        The clip; its frames are decoded once, in order.
    start_s, end_s, step, max_frames
        The frame selection (as for :meth:`StereoClip.frames`): rectification is
        fitted and checked on the frames that will be processed.
    fit_frames : int
        Frames whose matches are pooled for the fit (>= 1).
    check_frames : int
        Frames the result is checked on (>= 0), different from the fit frames when the clip is long enough.
    seed : int
        Seed of the subset drawn when more than 8000 pooled matches survive RANSAC.

    Returns
    -------
    ClipRectification

    Raises
    ------
    ParameterError
        Bad counts or selection.
    InputFileError
        The selection holds no frame.
    """
    if not isinstance(fit_frames, int) or fit_frames < 1:
        raise ParameterError(f"fit_frames must be an integer >= 1, got {fit_frames!r}")
    if not isinstance(check_frames, int) or check_frames < 0:
        raise ParameterError(f"check_frames must be an integer >= 0, got {check_frames!r}")
    selection = FrameSelection(start_s=start_s, end_s=end_s, step=step, max_frames=max_frames)
    count = expected_frame_count(clip, selection)
    fit_pos, check_pos = sample_positions(max(count, 1), fit_frames, check_frames)
    wanted = set(fit_pos) | set(check_pos)
    pooled: list[FeatureMatches] = []
    fit_idx: list[int] = []
    kept: dict[int, FramePair] = {}
    first: FramePair | None = None
    last: FramePair | None = None
    frames: Iterator[FramePair] = clip.frames(start_s=start_s, end_s=end_s, step=step, max_frames=max_frames)
    for pos, frame in enumerate(frames):
        first = first or frame
        last = frame
        if pos in fit_pos:
            pooled.append(match_features(frame.left, frame.right, max_side_px=FEATURE_SIDE_PX))
            fit_idx.append(frame.index)
        if pos in check_pos:
            kept[pos] = frame
        if pos >= max(wanted):
            break
    if first is None or last is None:
        raise InputFileError(f"{clip.source}: the selected range holds no frame; widen --start/--end")
    if not pooled:  # the stream was shorter than the clip's facts said: fit on the last frame seen
        pooled.append(match_features(last.left, last.right, max_side_px=FEATURE_SIDE_PX))
        fit_idx.append(last.index)
    inliers = _pooled_inliers(pooled, seed)
    pair = rectify(first.left, first.right, matches=inliers)
    rect = pair.rectification
    checked: list[int] = []
    residuals: list[float | None] = []
    for pos in sorted(kept):
        frame = kept[pos]
        checked.append(frame.index)
        residuals.append(frame_residual(rect, frame.left, frame.right))
    return ClipRectification(
        rectification=rect,
        fit_frames=tuple(fit_idx),
        pooled_matches=len(inliers),
        check_frames=tuple(checked),
        residual_px=tuple(residuals),
        held_out=not (set(checked) & set(fit_idx)),
    )
