"""The :class:`StereoClip` type every video reader returns, and its :class:`FramePair`.

A clip is a capture over time: the camera facts of the whole clip (the same
kind of facts a :class:`~parallax.capture.types.Capture` holds, plus the
video's own: frame rate, frame count, layout, projection) and a *streaming*
iterator of frame pairs. A clip never holds its frames: :meth:`StereoClip.frames`
decodes them one at a time from the file, so memory stays flat with clip length.

Conventions (``docs/conventions.md``): views are ``HxWx3`` uint8 RGB; camera
axes are OpenCV's; timestamps are seconds from the start of the video;
``disparity_adjustment`` is a fraction of the view width (Apple ``dadj``,
with Apple's sign: the horizontal shift a player applies between the views).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from parallax.capture.types import CameraIntrinsics, check_image
from parallax.errors import ParameterError

__all__ = ["ClipFormat", "FramePair", "FrameSelection", "FrameSource", "StereoClip", "Projection", "StereoLayout"]

ClipFormat = Literal[
    "mv-hevc",  # Apple spatial video: two HEVC layers in one track
    "sbs-video",  # one video track, views side by side (full or half width)
    "ou-video",  # one video track, views one over the other (full or half height)
    "equirect-video",  # 360° / VR180 equirectangular stereo, reprojected to pinhole views
    "frames",  # a folder of left/right image files
]

#: How the views sit in the decoded frame.
StereoLayout = Literal["multiview", "side-by-side", "side-by-side-half", "over-under", "over-under-half", "separate"]

#: What the delivered views are. ``equirectangular`` sources are reprojected to
#: rectilinear views by the reader (see ``StereoClip.virtual_camera``);
#: ``projection`` names the *source* projection, the views are always pinhole.
Projection = Literal["rectilinear", "equirectangular"]


def _finite(name: str, value: float | None, *, positive: bool = False, allow_none: bool = True) -> None:
    if value is None:
        if allow_none:
            return
        raise ParameterError(f"{name} is required")
    if not isinstance(value, (int, float)) or not math.isfinite(value) or (positive and value <= 0):
        kind = "a positive finite number" if positive else "a finite number"
        raise ParameterError(f"{name} must be {kind}, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class FramePair:
    """One stereo frame of a clip.

    Parameters
    ----------
    index : int
        Frame number in the source video (0-based, in presentation order).
    timestamp_s : float
        Presentation time in seconds from the start of the video.
    left, right : numpy.ndarray
        The two views, ``HxWx3`` uint8 RGB, same size. Read-only.
    """

    index: int
    timestamp_s: float
    left: np.ndarray
    right: np.ndarray

    def __post_init__(self) -> None:
        if not isinstance(self.index, (int, np.integer)) or self.index < 0:
            raise ParameterError(f"FramePair.index must be an integer >= 0, got {self.index!r}")
        _finite("FramePair.timestamp_s", self.timestamp_s, allow_none=False)
        left = check_image("left", self.left)
        right = check_image("right", self.right)
        if left.shape != right.shape:
            raise ParameterError(
                f"frame {self.index}: the views differ in size ({left.shape[1]}x{left.shape[0]} vs "
                f"{right.shape[1]}x{right.shape[0]}); a reader must deliver views of one size"
            )
        object.__setattr__(self, "index", int(self.index))
        object.__setattr__(self, "left", left)
        object.__setattr__(self, "right", right)


@dataclass(frozen=True, kw_only=True)
class FrameSelection:
    """Which frames of a clip to deliver.

    Parameters
    ----------
    start_s, end_s : float, optional
        Keep frames with ``start_s <= timestamp_s < end_s`` (seconds; ``None`` = open).
    step : int
        Keep every ``step``-th frame of those (1 = all).
    max_frames : int, optional
        Stop after this many frames.
    """

    start_s: float | None = None
    end_s: float | None = None
    step: int = 1
    max_frames: int | None = None

    def __post_init__(self) -> None:
        _finite("start_s", self.start_s)
        _finite("end_s", self.end_s)
        if self.start_s is not None and self.start_s < 0:
            raise ParameterError(f"start_s must be >= 0 seconds, got {self.start_s!r}")
        if self.start_s is not None and self.end_s is not None and not self.end_s > self.start_s:
            raise ParameterError(f"end_s ({self.end_s}) must be after start_s ({self.start_s}); swap or widen them")
        if not isinstance(self.step, int) or self.step < 1:
            raise ParameterError(f"step must be an integer >= 1, got {self.step!r}")
        if self.max_frames is not None and (not isinstance(self.max_frames, int) or self.max_frames < 1):
            raise ParameterError(f"max_frames must be an integer >= 1 or None, got {self.max_frames!r}")

    def apply(self, frames: Iterator[FramePair]) -> Iterator[FramePair]:
        """Filter a stream of frames (in presentation order) by this selection, lazily."""
        kept = 0
        seen = 0
        for frame in frames:
            if self.start_s is not None and frame.timestamp_s < self.start_s - 1e-9:
                continue
            if self.end_s is not None and frame.timestamp_s >= self.end_s - 1e-9:
                return
            seen += 1
            if (seen - 1) % self.step:
                continue
            yield frame
            kept += 1
            if self.max_frames is not None and kept >= self.max_frames:
                return


#: What a reader hands :class:`StereoClip` to stream frames: called with the
#: selection's ``start_s`` (a seek hint the reader may use or ignore), it returns a
#: fresh iterator of all frames from there on, in presentation order.
FrameSource = Callable[[float | None], Iterator[FramePair]]


@dataclass(frozen=True, kw_only=True)
class StereoClip:
    """A stereo video (or a folder of stereo frames): per-clip camera facts and streamed frames.

    Parameters
    ----------
    source : str
        File or folder *base name* the clip came from (for messages and
        provenance; never an absolute path).
    format : str
        One of :data:`ClipFormat`.
    layout : str
        One of :data:`StereoLayout`: how the views sit in the source frames.
    projection : str
        One of :data:`Projection`: the source's projection. Delivered views are
        always rectilinear (pinhole); an equirectangular source is reprojected
        by the reader into the virtual camera ``virtual_camera`` describes.
    width, height : int
        Size of one delivered view in pixels.
    fps : float
        Frames per second (the container's average rate).
    frame_count : int
        Number of stereo frames in the source (the container's count, or the
        number of frame files).
    duration_s : float
        Duration in seconds.
    left_camera, right_camera : CameraIntrinsics, optional
        Pinhole intrinsics of the delivered views, where the file gives them or
        they follow from its field of view (or from the virtual camera).
    baseline_m : float, optional
        Distance between the camera centres in metres, when the file states it.
    hfov_deg : float, optional
        Horizontal field of view of one delivered view in degrees, when known.
    hero_eye : {"left", "right"}, optional
        The eye the file marks as primary (Apple ``hero``).
    disparity_adjustment : float, optional
        Apple ``dadj``: the horizontal shift the player applies between the
        views, as a fraction of the view width (``+0.02`` = 2 %).
    rotation_deg : int
        Clockwise display rotation the container asks for (0, 90, 180, 270).
        A 180° turn is applied to the delivered views (and swaps the eyes: the
        rig was upside down); 90° / 270° are not (the baseline would become
        vertical); ``metadata["rotation_applied"]`` says which.
    has_audio : bool
        Whether the container holds an audio stream.
    virtual_camera : Mapping, optional
        For reprojected (equirectangular) sources: the pinhole camera the views
        were cut with (``hfov_deg``, ``yaw_deg``, ``pitch_deg``, ``width``,
        ``height``, ``focal_px``, ``cx_px``, ``cy_px``, ``rotation``, the source
        crop and ``coverage``; see :mod:`parallax.capture.equirect`).
    eyes : Mapping
        How the eye order was decided (``{"decision": ..., "source": ...,
        "evidence": ...}``).
    metadata : Mapping
        The container's own stereo and spherical metadata (JSON-serialisable).
    open_frames : callable
        See :data:`FrameSource`. Use :meth:`frames` rather than calling it.
    """

    source: str
    format: str
    layout: str
    projection: str
    width: int
    height: int
    fps: float
    frame_count: int
    duration_s: float
    open_frames: FrameSource = field(repr=False, compare=False)
    left_camera: CameraIntrinsics | None = None
    right_camera: CameraIntrinsics | None = None
    baseline_m: float | None = None
    hfov_deg: float | None = None
    hero_eye: Literal["left", "right"] | None = None
    disparity_adjustment: float | None = None
    rotation_deg: int = 0
    has_audio: bool = False
    virtual_camera: Mapping[str, Any] | None = None
    eyes: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if "/" in self.source or "\\" in self.source:
            raise ParameterError(f"StereoClip.source must be a base name, not a path: {self.source!r}")
        if int(self.width) < 1 or int(self.height) < 1:
            raise ParameterError(f"StereoClip width and height must be >= 1, got {self.width}x{self.height}")
        _finite("fps", self.fps, positive=True, allow_none=False)
        _finite("duration_s", self.duration_s, allow_none=False)
        _finite("baseline_m", self.baseline_m, positive=True)
        _finite("hfov_deg", self.hfov_deg, positive=True)
        _finite("disparity_adjustment", self.disparity_adjustment)
        if not isinstance(self.frame_count, int) or self.frame_count < 0:
            raise ParameterError(f"frame_count must be an integer >= 0, got {self.frame_count!r}")
        if self.rotation_deg not in (0, 90, 180, 270):
            raise ParameterError(f"rotation_deg must be 0, 90, 180 or 270, got {self.rotation_deg!r}")
        if self.hero_eye not in (None, "left", "right"):
            raise ParameterError(f"hero_eye must be 'left', 'right' or None, got {self.hero_eye!r}")
        if not callable(self.open_frames):
            raise ParameterError("StereoClip.open_frames must be callable (a reader's frame source)")

    def frames(
        self,
        *,
        start_s: float | None = None,
        end_s: float | None = None,
        step: int = 1,
        max_frames: int | None = None,
    ) -> Iterator[FramePair]:
        """Stream the clip's frame pairs, decoded one at a time.

        Parameters
        ----------
        start_s, end_s : float, optional
            Keep frames with ``start_s <= timestamp_s < end_s`` (seconds).
        step : int
            Keep every ``step``-th of those.
        max_frames : int, optional
            Stop after this many.

        Yields
        ------
        FramePair
            In presentation order. Each call starts a fresh decode.

        Raises
        ------
        InputFileError
            If the file turns out truncated or corrupt while decoding.
        """
        selection = FrameSelection(start_s=start_s, end_s=end_s, step=step, max_frames=max_frames)
        return selection.apply(self.open_frames(selection.start_s))

    def first_frame(self) -> FramePair:
        """The first frame pair (decodes only what it needs)."""
        from parallax.errors import InputFileError

        for frame in self.frames(max_frames=1):
            return frame
        raise InputFileError(f"{self.source} holds no decodable stereo frame; the file is empty or corrupt")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (what ``parallax info --json`` prints for a clip); no pixels."""
        return {
            "source": self.source,
            "kind": "clip",
            "format": self.format,
            "layout": self.layout,
            "projection": self.projection,
            "stereo": True,
            "width": int(self.width),
            "height": int(self.height),
            "fps": float(self.fps),
            "frame_count": int(self.frame_count),
            "duration_s": float(self.duration_s),
            "camera": {
                "baseline_m": self.baseline_m,
                "hfov_deg": self.hfov_deg,
                "hero_eye": self.hero_eye,
                "disparity_adjustment": self.disparity_adjustment,
                "left": self.left_camera.to_dict() if self.left_camera else None,
                "right": self.right_camera.to_dict() if self.right_camera else None,
            },
            "rotation_deg": int(self.rotation_deg),
            "has_audio": bool(self.has_audio),
            "virtual_camera": dict(self.virtual_camera) if self.virtual_camera is not None else None,
            "eyes": dict(self.eyes),
            "metadata": dict(self.metadata),
        }
