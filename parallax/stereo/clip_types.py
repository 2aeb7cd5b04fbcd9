"""The typed objects of the clip pipeline: :class:`ClipDepthSettings` and the per-frame :class:`FrameDepth`.

:class:`~parallax.stereo.clip_depth.ClipDepth` takes the one and yields the
other (see :mod:`parallax.stereo.clip_depth` for the processing).
Conventions: ``docs/conventions.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from parallax.errors import ParameterError
from parallax.stereo.odometry import OdometrySettings, PoseEstimate
from parallax.stereo.temporal import TemporalSettings
from parallax.stereo.types import DepthResult

__all__ = ["DEFAULT_CLIP_MAX_SIDE_PX", "ClipDepthSettings", "FrameDepth"]

#: Longer side (pixels) clips are matched at by default.
DEFAULT_CLIP_MAX_SIDE_PX = 640


def _positive(name: str, value: float | None) -> None:
    if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ParameterError(f"{name} must be a positive finite number, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class ClipDepthSettings:
    """How :class:`ClipDepth` processes a clip.

    Parameters
    ----------
    matcher : str
        Matcher name (:func:`parallax.stereo.disparity.match`).
    matcher_options : Mapping
        Extra keyword arguments for the matcher.
    max_side_px : int or None
        Working size: frames are matched with their longer side at most this
        (default 640); results are upsampled to the rectified views' size.
        ``None`` matches at full size.
    temporal : bool
        Fuse each frame with the past (:mod:`parallax.stereo.temporal`); ``False`` = per-frame matching.
    odometry : bool
        Estimate a pose per frame.
    min_disparity, max_disparity : float, optional
        Search range in pixels of the clip's views (``x_right = x_left - d``); ``None`` = found per frame.
    focal_px, baseline_m, doffs_px : float, optional
        Override the clip's focal length (pixels of its views), baseline (metres)
        and principal-point offset (pixels).
    fit_frames, check_frames : int
        Frames the rectification is fitted on and checked on.
    strict : bool
        Only pixels the current frame measured with a left-right consistent match
        get a value (default: dense, as for stills; see
        :func:`parallax.stereo.disparity.disparity_of_pair`).
    plain_surfaces : bool or None
        Untextured regions become smooth surfaces or no value (``None``: on for
        correspondence matchers, off for learned models), as for stills.
    temporal_settings : TemporalSettings
    odometry_settings : OdometrySettings
    """

    matcher: str = "default"
    matcher_options: Mapping[str, Any] = field(default_factory=dict)
    max_side_px: int | None = DEFAULT_CLIP_MAX_SIDE_PX
    temporal: bool = True
    odometry: bool = True
    min_disparity: float | None = None
    max_disparity: float | None = None
    focal_px: float | None = None
    baseline_m: float | None = None
    doffs_px: float | None = None
    fit_frames: int = 5
    check_frames: int = 3
    strict: bool = False
    plain_surfaces: bool | None = None
    temporal_settings: TemporalSettings = field(default_factory=TemporalSettings)
    odometry_settings: OdometrySettings = field(default_factory=OdometrySettings)

    def __post_init__(self) -> None:
        if self.max_side_px is not None and not (isinstance(self.max_side_px, int) and self.max_side_px >= 32):
            raise ParameterError(f"max_side_px must be an integer >= 32 or None, got {self.max_side_px!r}")
        _positive("focal_px", self.focal_px)
        _positive("baseline_m", self.baseline_m)
        if self.doffs_px is not None and not math.isfinite(self.doffs_px):
            raise ParameterError(f"doffs_px must be finite, got {self.doffs_px!r}")
        lo, hi = self.min_disparity, self.max_disparity
        if lo is not None and hi is not None and not lo < hi:
            raise ParameterError(f"min_disparity ({lo}) must be below max_disparity ({hi}); swap or widen them")


@dataclass(frozen=True, kw_only=True)
class FrameDepth:
    """Depth and camera pose of one frame of a clip.

    Parameters
    ----------
    index : int
        Frame number in the source.
    timestamp_s : float
        Presentation time, seconds.
    result : DepthResult
        Rectified views, disparity, confidence and depth of the frame (full rectified size).
    pose : PoseEstimate or None
        Camera-to-world pose (``None`` when odometry is off).
    temporal : Mapping
        Share of pixels ``"new"``, ``"median"``, ``"blended"`` (see :class:`~parallax.stereo.temporal.TemporalUpdate`).
    """

    index: int
    timestamp_s: float
    result: DepthResult
    pose: PoseEstimate | None = None
    temporal: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.index, (int, np.integer)) or self.index < 0:
            raise ParameterError(f"FrameDepth.index must be an integer >= 0, got {self.index!r}")
        if not (isinstance(self.timestamp_s, (int, float)) and math.isfinite(self.timestamp_s)):
            raise ParameterError(f"FrameDepth.timestamp_s must be a finite number of seconds, got {self.timestamp_s!r}")
        if not isinstance(self.result, DepthResult):
            raise ParameterError(f"FrameDepth.result must be a DepthResult, got {type(self.result).__name__}")
        if self.pose is not None and not isinstance(self.pose, PoseEstimate):
            raise ParameterError(f"FrameDepth.pose must be a PoseEstimate or None, got {type(self.pose).__name__}")
