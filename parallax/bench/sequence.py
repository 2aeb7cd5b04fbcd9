"""A benchmark *sequence*: stereo frames in time order with ground-truth disparity, flow and disparity change.

Conventions (``docs/conventions.md``): images ``HxWx3`` uint8 RGB; disparity in
pixels of the left view, ``x_right = x_left - d``; forward optical flow of the
left view in pixels, ``x_{t+1} = x_t + flow``; NaN = no ground truth.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from parallax.capture.types import _readonly, check_image
from parallax.errors import ParameterError

__all__ = ["SequenceFrameTruth", "StereoSequence"]


def _optional(name: str, value: np.ndarray | None, shape: tuple[int, ...], kind: str) -> np.ndarray | None:
    if value is None:
        return None
    arr = np.asarray(value)
    if arr.shape != shape or arr.dtype.kind != kind:
        raise ParameterError(
            f"{name} must be a {'bool' if kind == 'b' else 'float'} array of shape {shape}, got {arr.dtype} {arr.shape}"
        )
    return _readonly(arr)


@dataclass(frozen=True, kw_only=True)
class SequenceFrameTruth:
    """One frame of a benchmark sequence.

    Parameters
    ----------
    index : int
        Frame number in the sequence (0-based).
    timestamp_s : float
        Time of the frame, seconds.
    left, right : numpy.ndarray
        Rectified views, ``HxWx3`` uint8 RGB.
    gt_disparity_px : numpy.ndarray
        ``HxW`` float32 exact disparity of the left view; NaN = no ground truth.
    nonocc : numpy.ndarray or None
        ``HxW`` bool: pixels the right view also sees.
    flow_px : numpy.ndarray or None
        ``HxWx2`` float32 forward flow of the left view to the next frame; NaN = none
        (always NaN in the last frame).
    flow_visible : numpy.ndarray or None
        ``HxW`` bool: the flow has a value and the point is visible in the next frame.
    disparity_change_px : numpy.ndarray or None
        ``HxW`` float32 ``d_{t+1}(point) - d_t(x)``; NaN = none.
    """

    index: int
    timestamp_s: float
    left: np.ndarray
    right: np.ndarray
    gt_disparity_px: np.ndarray
    nonocc: np.ndarray | None = None
    flow_px: np.ndarray | None = None
    flow_visible: np.ndarray | None = None
    disparity_change_px: np.ndarray | None = None

    def __post_init__(self) -> None:
        left = check_image("SequenceFrameTruth.left", self.left)
        right = check_image("SequenceFrameTruth.right", self.right)
        if right.shape != left.shape:
            raise ParameterError(f"frame {self.index}: left and right views differ in size")
        shape = left.shape[:2]
        gt = _optional("gt_disparity_px", self.gt_disparity_px, shape, "f")
        object.__setattr__(self, "left", left)
        object.__setattr__(self, "right", right)
        object.__setattr__(self, "gt_disparity_px", gt)
        object.__setattr__(self, "nonocc", _optional("nonocc", self.nonocc, shape, "b"))
        object.__setattr__(self, "flow_px", _optional("flow_px", self.flow_px, (*shape, 2), "f"))
        object.__setattr__(self, "flow_visible", _optional("flow_visible", self.flow_visible, shape, "b"))
        change = _optional("disparity_change_px", self.disparity_change_px, shape, "f")
        object.__setattr__(self, "disparity_change_px", change)

    @property
    def has_temporal_truth(self) -> bool:
        """Whether flow and disparity change are given (needed for TEPE)."""
        return self.flow_px is not None and self.disparity_change_px is not None


@dataclass(frozen=True, kw_only=True)
class StereoSequence:
    """A benchmark sequence whose frames are read one at a time.

    Parameters
    ----------
    name : str
        Sequence name, unique within its dataset.
    frame_count : int
        Number of frames (>= 1).
    width, height : int
        Size of the views, pixels.
    fps : float
        Frame rate, frames per second.
    min_disparity, max_disparity : float
        Search range for the whole sequence (from the ground truth of all frames: see
        :func:`~parallax.bench.scene.range_from_ground_truth`).
    dataset : str
        The layout it was read with (``"synth-clip"``).
    source : str
        Where it was read from.
    read_frame : callable
        ``read_frame(index) -> SequenceFrameTruth``.
    """

    name: str
    frame_count: int
    width: int
    height: int
    fps: float
    min_disparity: float
    max_disparity: float
    dataset: str
    source: str
    read_frame: Callable[[int], SequenceFrameTruth]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ParameterError(f"StereoSequence.name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.frame_count, int) or self.frame_count < 1:
            raise ParameterError(f"sequence {self.name}: frame_count must be >= 1, got {self.frame_count!r}")
        lo, hi = self.min_disparity, self.max_disparity
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ParameterError(f"sequence {self.name}: disparity range [{lo}, {hi}] must be finite with min < max")

    def frames(self) -> Iterator[SequenceFrameTruth]:
        """The frames in time order, read one at a time."""
        for i in range(self.frame_count):
            yield self.read_frame(i)
