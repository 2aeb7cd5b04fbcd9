"""Typed results of the stereo stage: :class:`Rectification` and :class:`DepthResult`.

Conventions: disparity in pixels of the rectified left view, ``x_right = x_left - d``
(positive for points in front of a parallel rig; negative values are valid for
converged rigs). In memory NaN marks "no value" in every float map; files use
their own marker (PFM +inf, 16-bit PNG 0). Camera axes are OpenCV's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from parallax.capture.types import CameraIntrinsics, _readonly, base_names, check_image
from parallax.errors import ParameterError
from parallax.stereo.distortion import LensDistortion
from parallax.stereo.row_correction import RowCorrection

__all__ = ["Rectification", "DepthResult", "RECTIFIED_MEDIAN_PX", "RECTIFIED_P90_PX"]

#: Marks an omitted ``DepthResult.valid`` (derived from the depth on construction).
_UNSET = np.zeros((0, 0), dtype=bool)


def _check_h(name: str, h: Any) -> np.ndarray:
    h = np.asarray(h, dtype=np.float64)
    if h.shape != (3, 3) or not np.all(np.isfinite(h)):
        raise ParameterError(f"{name} must be a finite 3x3 homography, got shape {h.shape}")
    return _readonly(h)


#: A pair counts as rectified when the held-out median |dy| is at most this (pixels of the rectified views) ...
RECTIFIED_MEDIAN_PX = 1.0
#: ... and the held-out 90th percentile |dy| at most this.
RECTIFIED_P90_PX = 2.0

_METHODS = ("none", "calibrated", "uncalibrated")


def _optional_float(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if not (isinstance(value, (int, float)) and math.isfinite(value)):
        raise ParameterError(f"Rectification.{name} must be a finite number or None, got {value!r}")
    return float(value)


@dataclass(frozen=True, kw_only=True)
class Rectification:
    """How the original pair was mapped to the rectified pair, and how well it worked.

    The mapping of an original pixel ``p`` of one view to its rectified pixel is
    ``x_rect ~ H @ [undistort(p), 1]``: the view's lens distortion model (if
    any) first, then its homography; the right view's rows are then moved by
    ``row_correction_right`` (if any). :meth:`to_rectified` and
    :meth:`to_original` apply it and its inverse to points.

    Parameters
    ----------
    method : {"none", "calibrated", "uncalibrated"}
        ``"none"``: the pair was already rectified (homographies are identity).
    H_left, H_right : numpy.ndarray
        3x3 homographies from undistorted original pixel coordinates to rectified
        pixel coordinates of each view (``x_rect ~ H @ [x, y, 1]``). Without a
        distortion model they map original pixels directly, and their inverses
        map results back.
    width, height : int
        Size of the rectified views in pixels.
    vertical_error_before_px : float or None
        Median absolute vertical offset of matched features of the original
        views, in pixels (``None`` if too few features matched to tell).
    vertical_error_after_px : float or None
        The same after rectification, measured on the rectified views with
        matches the estimate did not use (equal to ``residual_median_px``).
    matches : int
        Number of feature matches the estimate used.
    disparity_offset_px : float
        Horizontal offset between the rectified views' frames, in rectified
        pixels: disparity in this rectified pair plus this offset is the disparity
        the rectified cameras would give without the crop to their common field
        of view (``d_uncropped = d + disparity_offset_px``). Depth therefore uses
        ``Z = f * B / (d + doffs + disparity_offset_px)``. 0 when nothing was cropped.
    distortion_left, distortion_right : LensDistortion or None
        Lens distortion removed from each original view before its homography
        (``None``: a pinhole view).
    row_correction_right : RowCorrection or None
        Smooth vertical correction of the right view's rows after its
        homography (lenses no global model explains); ``None``: none.
    principal_shift_px : tuple of float
        ``(dx, dy)`` added to the original left camera's principal point by the
        translations and crops of the rectification: the rectified left view's
        principal point is ``(cx + dx, cy + dy)`` (for calibrated and uncalibrated
        rectification the focal length is kept).
    rectified : bool
        True when the held-out check passed: median ``|dy|`` at most
        :data:`RECTIFIED_MEDIAN_PX` and 90th percentile at most
        :data:`RECTIFIED_P90_PX`. False: rows of the two views do not match well
        enough for row-wise matching, and ``reason`` says why; such a pair must not
        be presented as rectified.
    residual_median_px, residual_p90_px : float or None
        Median and 90th percentile of ``|y_right - y_left|`` of feature matches
        found anew on the rectified views (sub-pixel refined, RANSAC-filtered),
        in rectified pixels; ``None`` when too few matched.
    residual_matches : int
        Number of matches behind the residual.
    reason : str
        Why the pair is not rectified (empty when it is).
    model : str
        The geometric model that was chosen (``"identity"``, ``"calibrated"``,
        ``"rotation"``, ``"rotation+division"``, ``"vertical-shift"``, with
        ``"+rows"`` when a row correction was added), for lineage.
    """

    method: Literal["none", "calibrated", "uncalibrated"]
    H_left: np.ndarray
    H_right: np.ndarray
    width: int
    height: int
    vertical_error_before_px: float | None = None
    vertical_error_after_px: float | None = None
    matches: int = 0
    disparity_offset_px: float = 0.0
    distortion_left: LensDistortion | None = None
    distortion_right: LensDistortion | None = None
    row_correction_right: RowCorrection | None = None
    principal_shift_px: tuple[float, float] = (0.0, 0.0)
    rectified: bool = True
    residual_median_px: float | None = None
    residual_p90_px: float | None = None
    residual_matches: int = 0
    reason: str = ""
    model: str = ""

    def __post_init__(self) -> None:
        if not np.isfinite(self.disparity_offset_px):
            raise ParameterError(f"disparity_offset_px must be finite, got {self.disparity_offset_px!r}")
        if self.method not in _METHODS:
            raise ParameterError(f"Rectification.method {self.method!r} is not none, calibrated or uncalibrated")
        if int(self.width) < 1 or int(self.height) < 1:
            raise ParameterError(f"Rectification size must be at least 1x1, got {self.width}x{self.height}")
        object.__setattr__(self, "H_left", _check_h("H_left", self.H_left))
        object.__setattr__(self, "H_right", _check_h("H_right", self.H_right))
        for name in ("distortion_left", "distortion_right"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, LensDistortion):
                raise ParameterError(
                    f"Rectification.{name} must be a LensDistortion or None, got {type(value).__name__}"
                )
        if self.row_correction_right is not None and not isinstance(self.row_correction_right, RowCorrection):
            raise ParameterError(
                f"Rectification.row_correction_right must be a RowCorrection or None, "
                f"got {type(self.row_correction_right).__name__}"
            )
        shift = tuple(float(v) for v in self.principal_shift_px)
        if len(shift) != 2 or not all(math.isfinite(v) for v in shift):
            raise ParameterError(f"principal_shift_px must be two finite numbers, got {self.principal_shift_px!r}")
        object.__setattr__(self, "principal_shift_px", shift)
        for name in ("vertical_error_before_px", "vertical_error_after_px", "residual_median_px", "residual_p90_px"):
            object.__setattr__(self, name, _optional_float(name, getattr(self, name)))
        if not self.rectified and not self.reason:
            raise ParameterError("Rectification.reason must say why a pair is not rectified (rectified=False)")

    @classmethod
    def identity(cls, width: int, height: int, **kwargs: Any) -> Rectification:
        """The rectification of a pair that needs none."""
        eye = np.eye(3)
        return cls(method="none", H_left=eye, H_right=eye, width=width, height=height, **kwargs)

    def _parts(self, view: str) -> tuple[np.ndarray, LensDistortion | None]:
        if view == "left":
            return self.H_left, self.distortion_left
        if view == "right":
            return self.H_right, self.distortion_right
        raise ParameterError(f"view must be 'left' or 'right', got {view!r}")

    def to_rectified(self, xy: np.ndarray, view: str) -> np.ndarray:
        """Original pixel positions (``Nx2``) of ``view`` -> rectified pixel positions (``Nx2``)."""
        h, lens = self._parts(view)
        p = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        if lens is not None:
            p = lens.undistort_points(p)
        q = np.c_[p, np.ones(len(p))] @ h.T
        with np.errstate(divide="ignore", invalid="ignore"):
            out = q[:, :2] / q[:, 2:3]
        if view == "right" and self.row_correction_right is not None:
            out = self.row_correction_right.after(out)
        return out

    def to_original(self, xy: np.ndarray, view: str) -> np.ndarray:
        """Rectified pixel positions (``Nx2``) of ``view`` -> original pixel positions; NaN where none maps there."""
        h, lens = self._parts(view)
        p = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        if view == "right" and self.row_correction_right is not None:
            p = self.row_correction_right.before(p)
        q = np.c_[p, np.ones(len(p))] @ np.linalg.inv(h).T
        with np.errstate(divide="ignore", invalid="ignore"):
            p = q[:, :2] / q[:, 2:3]
        return lens.distort_points(p) if lens is not None else p

    @property
    def is_homography(self) -> bool:
        """True when both views map by their homography alone (no lens model, no row correction)."""
        return self.distortion_left is None and self.distortion_right is None and self.row_correction_right is None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (what ``rectification.json`` holds)."""
        return {
            "method": self.method,
            "model": self.model,
            "width": int(self.width),
            "height": int(self.height),
            "H_left": self.H_left.tolist(),
            "H_right": self.H_right.tolist(),
            "distortion_left": None if self.distortion_left is None else self.distortion_left.to_dict(),
            "distortion_right": None if self.distortion_right is None else self.distortion_right.to_dict(),
            "row_correction_right": None if self.row_correction_right is None else self.row_correction_right.to_dict(),
            "vertical_error_before_px": self.vertical_error_before_px,
            "vertical_error_after_px": self.vertical_error_after_px,
            "matches": int(self.matches),
            "disparity_offset_px": float(self.disparity_offset_px),
            "principal_shift_px": list(self.principal_shift_px),
            "rectified": bool(self.rectified),
            "residual_median_px": self.residual_median_px,
            "residual_p90_px": self.residual_p90_px,
            "residual_matches": int(self.residual_matches),
            "reason": self.reason,
            "convention": (
                "x_rect ~ H @ [undistort(x_orig, y_orig), 1] (undistort = the view's distortion model, "
                "identity when null), then the right view's row correction; their inverses map rectified pixels back"
            ),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rectification:
        """Inverse of :meth:`to_dict` (older dicts without the newer keys are read too)."""

        def lens(key: str) -> LensDistortion | None:
            value = data.get(key)
            return None if value is None else LensDistortion.from_dict(value)

        shift = data.get("principal_shift_px", (0.0, 0.0))
        return cls(
            method=data["method"],
            H_left=np.array(data["H_left"]),
            H_right=np.array(data["H_right"]),
            width=int(data["width"]),
            height=int(data["height"]),
            vertical_error_before_px=data.get("vertical_error_before_px"),
            vertical_error_after_px=data.get("vertical_error_after_px"),
            matches=int(data.get("matches", 0)),
            disparity_offset_px=float(data.get("disparity_offset_px", 0.0)),
            distortion_left=lens("distortion_left"),
            distortion_right=lens("distortion_right"),
            row_correction_right=(
                None
                if data.get("row_correction_right") is None
                else RowCorrection.from_dict(data["row_correction_right"])
            ),
            principal_shift_px=(float(shift[0]), float(shift[1])),
            rectified=bool(data.get("rectified", True)),
            residual_median_px=data.get("residual_median_px"),
            residual_p90_px=data.get("residual_p90_px"),
            residual_matches=int(data.get("residual_matches", 0)),
            reason=str(data.get("reason", "")),
            model=str(data.get("model", "")),
        )


@dataclass(frozen=True, kw_only=True)
class DepthResult:
    """Disparity, confidence and depth of the (rectified) left view.

    Parameters
    ----------
    image : numpy.ndarray
        The rectified left view the maps refer to, ``HxWx3`` uint8 RGB.
    right_image : numpy.ndarray or None
        The rectified right view (``None`` for RGB-D captures).
    disparity_px : numpy.ndarray or None
        ``HxW`` float32 disparity in pixels, ``x_right = x_left - d``; NaN = no value.
        ``None`` when depth came from an embedded depth map (RGB-D). A pixel may
        have a disparity and still not be ``valid`` (e.g. clipped as too far);
        use ``valid`` to decide.
    confidence : numpy.ndarray
        ``HxW`` float32 in [0, 1]: how far the value can be trusted (1 = a clear,
        left-right consistent match; low for values filled in or extrapolated,
        e.g. pixels seen by one camera only). 0 wherever ``valid`` is False.
    depth : numpy.ndarray
        ``HxW`` float32 depth along the optical axis (z); NaN wherever ``valid`` is
        False. In metres when ``depth_is_metric``, otherwise relative (arbitrary
        positive scale, larger = farther; its median over valid pixels is 1).
    valid : numpy.ndarray, optional
        ``HxW`` bool: "use this pixel". Every consumer (previews, point clouds,
        meshes, splats, display formats, the web viewer, corpus samples) uses
        exactly these pixels. Omitted: the pixels with a finite depth. Given: it is
        narrowed to pixels with a finite depth, and ``depth`` and ``confidence``
        are cleared (NaN, 0) outside it.
    depth_is_metric : bool
        Whether ``depth`` is in metres.
    camera : CameraIntrinsics or None
        Intrinsics of the rectified left view, when known (else consumers that need one
        assume the horizontal field of view :data:`~parallax.capture.types.ASSUMED_HFOV_DEG`, and say so).
    baseline_m : float or None
        Baseline used for depth, in metres.
    doffs_px : float
        Disparity offset used for depth (``Z = f * B / (d + doffs)``), pixels.
    rectification : Rectification or None
        How the original pair was rectified.
    source : str
        Where the capture came from.
    settings : Mapping
        Matcher name and parameters, for lineage.
    """

    image: np.ndarray
    right_image: np.ndarray | None
    disparity_px: np.ndarray | None
    confidence: np.ndarray
    depth: np.ndarray
    depth_is_metric: bool
    valid: np.ndarray = field(default_factory=lambda: _UNSET)
    camera: CameraIntrinsics | None = None
    baseline_m: float | None = None
    doffs_px: float = 0.0
    rectification: Rectification | None = None
    source: str = ""
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        image = check_image("image", self.image)
        object.__setattr__(self, "image", image)
        shape = image.shape[:2]
        if self.right_image is not None:
            object.__setattr__(self, "right_image", check_image("right_image", self.right_image))
        for name in ("disparity_px", "confidence", "depth"):
            value = getattr(self, name)
            if value is None and name == "disparity_px":
                continue
            if not isinstance(value, np.ndarray) or value.shape != shape:
                got = getattr(value, "shape", type(value).__name__)
                raise ParameterError(f"DepthResult.{name} must be an array of shape {shape}, got {got}")
            object.__setattr__(self, name, _readonly(value.astype(np.float32, copy=False)))
        if self.baseline_m is not None and not (math.isfinite(self.baseline_m) and self.baseline_m > 0):
            raise ParameterError(f"baseline_m must be positive, got {self.baseline_m!r}")
        finite = np.isfinite(self.depth)
        if self.valid is _UNSET:
            valid = finite
        else:
            valid = np.asarray(self.valid)
            if valid.shape != shape or valid.dtype != np.bool_:
                raise ParameterError(
                    f"DepthResult.valid must be a bool array of shape {shape}, got {valid.dtype} {valid.shape}"
                )
            valid = valid & finite
            if not valid[finite].all():
                object.__setattr__(self, "depth", _readonly(np.where(valid, self.depth, np.float32(np.nan))))
        if (self.confidence[~valid] != 0).any():
            object.__setattr__(self, "confidence", _readonly(np.where(valid, self.confidence, np.float32(0.0))))
        object.__setattr__(self, "valid", _readonly(np.ascontiguousarray(valid)))
        object.__setattr__(self, "source", base_names(self.source))

    def valid_disparity(self) -> np.ndarray:
        """``HxW`` float32 disparity where ``valid``, NaN elsewhere (what display formats warp with).

        Raises
        ------
        ParameterError
            For RGB-D results, which have no disparity.
        """
        if self.disparity_px is None:
            raise ParameterError(f"{self.source or 'the result'} has no disparity (its depth came from a depth map)")
        return np.where(self.valid, self.disparity_px, np.float32(np.nan)).astype(np.float32)

    @property
    def depth_units(self) -> str:
        """``"m"`` when metric, else ``"relative"``."""
        return "m" if self.depth_is_metric else "relative"
