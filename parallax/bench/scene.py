"""One benchmark scene: a rectified stereo pair with ground-truth disparity.

Conventions (``docs/conventions.md``): images ``HxWx3`` uint8 RGB; disparity in
pixels of the left view, ``x_right = x_left - d``; NaN = no ground truth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from parallax.capture.types import CameraIntrinsics, _readonly, check_image
from parallax.errors import ParameterError

__all__ = ["SceneCalib", "StereoScene", "range_from_ground_truth"]


@dataclass(frozen=True, kw_only=True)
class SceneCalib:
    """Calibration of a benchmark pair (what Middlebury's ``calib.txt`` holds).

    Parameters
    ----------
    camera : CameraIntrinsics
        Intrinsics of the left view, in pixels of the stored images.
    baseline_m : float
        Distance between the camera centres, metres (> 0).
    doffs_px : float
        x-difference of the principal points (``cx_right - cx_left``), pixels;
        depth ``Z = focal_px * baseline_m / (d + doffs_px)`` in metres.
    """

    camera: CameraIntrinsics
    baseline_m: float
    doffs_px: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.camera, CameraIntrinsics):
            raise ParameterError(f"SceneCalib.camera must be a CameraIntrinsics, got {type(self.camera).__name__}")
        if not (isinstance(self.baseline_m, (int, float)) and math.isfinite(self.baseline_m) and self.baseline_m > 0):
            raise ParameterError(f"SceneCalib.baseline_m must be a positive number of metres, got {self.baseline_m!r}")
        if not (isinstance(self.doffs_px, (int, float)) and math.isfinite(self.doffs_px)):
            raise ParameterError(f"SceneCalib.doffs_px must be a finite number of pixels, got {self.doffs_px!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "focal_px": self.camera.focal_px,
            "cx_px": self.camera.cx_px,
            "cy_px": self.camera.cy_px,
            "baseline_m": self.baseline_m,
            "doffs_px": self.doffs_px,
        }


@dataclass(frozen=True, kw_only=True)
class StereoScene:
    """A rectified stereo pair with ground-truth disparity of the left view.

    Parameters
    ----------
    name : str
        Scene name, unique within its dataset (e.g. ``"middlebury2003-cones"``,
        ``"training/000000_10"``).
    left, right : numpy.ndarray
        ``HxWx3`` uint8 RGB views (grey datasets are repeated into 3 channels).
    gt_disparity_px : numpy.ndarray
        ``HxW`` float32 disparity of the left view in pixels,
        ``x_right = x_left - d``; NaN where the dataset has no ground truth.
    nonocc : numpy.ndarray or None
        ``HxW`` bool, True where the pixel is visible in both views (the dataset's
        non-occluded mask); ``None`` when the dataset gives none.
    calib : SceneCalib or None
        Calibration, when the dataset gives one.
    min_disparity, max_disparity : float
        The disparity search range a matcher may use, pixels (see
        ``range_source``).
    range_source : {"dataset", "ground-truth"}
        ``"dataset"``: the dataset's own bound (Middlebury's ``ndisp``, which
        algorithms may use). ``"ground-truth"``: no usable bound was given, so
        :func:`range_from_ground_truth` derived one (``[min(0, floor(min gt)),``
        ``next multiple of 16 above max gt]``), the way Middlebury's ``ndisp`` is
        a rounded-up bound of its ground truth.
    dataset : str
        The layout it was read with (``"middlebury2014"``, ``"kitti"``, ...).
    source : str
        Folder (or manifest) it was read from.
    """

    name: str
    left: np.ndarray
    right: np.ndarray
    gt_disparity_px: np.ndarray
    nonocc: np.ndarray | None
    calib: SceneCalib | None
    min_disparity: float
    max_disparity: float
    range_source: Literal["dataset", "ground-truth"]
    dataset: str
    source: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ParameterError(f"StereoScene.name must be a non-empty string, got {self.name!r}")
        left = check_image("StereoScene.left", self.left)
        right = check_image("StereoScene.right", self.right)
        if right.shape != left.shape:
            raise ParameterError(
                f"scene {self.name}: left {left.shape[1]}x{left.shape[0]} and right "
                f"{right.shape[1]}x{right.shape[0]} views differ in size; the pair must be rectified to one size"
            )
        gt = np.asarray(self.gt_disparity_px)
        if gt.shape != left.shape[:2] or gt.dtype.kind != "f":
            raise ParameterError(
                f"scene {self.name}: gt_disparity_px must be a float array of shape {left.shape[:2]}, "
                f"got {gt.dtype} {gt.shape}"
            )
        gt = gt.astype(np.float32, copy=False)
        if np.isinf(gt).any():
            raise ParameterError(f"scene {self.name}: gt_disparity_px holds inf; mark missing ground truth with NaN")
        object.__setattr__(self, "left", left)
        object.__setattr__(self, "right", right)
        object.__setattr__(self, "gt_disparity_px", _readonly(gt))
        if self.nonocc is not None:
            mask = np.asarray(self.nonocc)
            if mask.shape != gt.shape or mask.dtype != np.bool_:
                raise ParameterError(
                    f"scene {self.name}: nonocc must be a bool array of shape {gt.shape}, got {mask.dtype} {mask.shape}"
                )
            object.__setattr__(self, "nonocc", _readonly(mask))
        if self.calib is not None and not isinstance(self.calib, SceneCalib):
            raise ParameterError(f"scene {self.name}: calib must be a SceneCalib or None")
        lo, hi = self.min_disparity, self.max_disparity
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ParameterError(f"scene {self.name}: disparity range [{lo}, {hi}] must be finite with min < max")
        if self.range_source not in ("dataset", "ground-truth"):
            raise ParameterError(
                f"scene {self.name}: range_source {self.range_source!r} is not dataset or ground-truth"
            )

    @property
    def width(self) -> int:
        """Width of the views in pixels."""
        return int(self.left.shape[1])

    @property
    def height(self) -> int:
        """Height of the views in pixels."""
        return int(self.left.shape[0])

    @property
    def megapixels(self) -> float:
        """``width * height / 1e6``."""
        return self.width * self.height / 1e6

    @property
    def gt_valid(self) -> np.ndarray:
        """Bool ``HxW``: pixels that carry ground truth."""
        return np.isfinite(self.gt_disparity_px)


def range_from_ground_truth(gt_disparity_px: np.ndarray) -> tuple[float, float]:
    """A disparity search range bounding the ground truth, for datasets that give none.

    Parameters
    ----------
    gt_disparity_px : numpy.ndarray
        Ground-truth disparity in pixels, NaN = no value.

    Returns
    -------
    (float, float)
        ``min(0, floor(min))`` and the smallest multiple of 16 strictly above the
        maximum (so the range width suits SGBM's multiple-of-16 rule).

    Raises
    ------
    ParameterError
        If the map holds no finite value.
    """
    finite = gt_disparity_px[np.isfinite(gt_disparity_px)]
    if finite.size == 0:
        raise ParameterError("ground truth holds no valid pixel; cannot derive a disparity range from it")
    lo = float(min(0.0, math.floor(float(finite.min()))))
    hi = float(16 * (math.floor(float(finite.max()) / 16.0) + 1))
    return lo, hi
