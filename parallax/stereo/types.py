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

__all__ = ["Rectification", "DepthResult"]

#: Marks an omitted ``DepthResult.valid`` (derived from the depth on construction).
_UNSET = np.zeros((0, 0), dtype=bool)


def _check_h(name: str, h: Any) -> np.ndarray:
    h = np.asarray(h, dtype=np.float64)
    if h.shape != (3, 3) or not np.all(np.isfinite(h)):
        raise ParameterError(f"{name} must be a finite 3x3 homography, got shape {h.shape}")
    return _readonly(h)


@dataclass(frozen=True, kw_only=True)
class Rectification:
    """How the original pair was mapped to the rectified pair.

    Parameters
    ----------
    method : {"none", "calibrated", "uncalibrated"}
        ``"none"``: the pair was already rectified (homographies are identity).
    H_left, H_right : numpy.ndarray
        3x3 homographies from original pixel coordinates to rectified pixel
        coordinates of each view (``x_rect ~ H @ [x, y, 1]``). Their inverses map
        results back to the original pixels.
    width, height : int
        Size of the rectified views in pixels.
    vertical_error_before_px, vertical_error_after_px : float or None
        Median absolute vertical offset of matched features, in pixels, before and
        after rectification (``None`` if too few features matched to tell).
    matches : int
        Number of feature matches the measurement used.
    disparity_offset_px : float
        Horizontal offset between the rectified views' frames, in rectified
        pixels: disparity in this rectified pair plus this offset is the disparity
        the rectified cameras would give without the crop to their common field
        of view (``d_uncropped = d + disparity_offset_px``). Depth therefore uses
        ``Z = f * B / (d + doffs + disparity_offset_px)``. 0 when nothing was cropped.
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

    def __post_init__(self) -> None:
        if not np.isfinite(self.disparity_offset_px):
            raise ParameterError(f"disparity_offset_px must be finite, got {self.disparity_offset_px!r}")
        if self.method not in ("none", "calibrated", "uncalibrated"):
            raise ParameterError(f"Rectification.method {self.method!r} is not none, calibrated or uncalibrated")
        object.__setattr__(self, "H_left", _check_h("H_left", self.H_left))
        object.__setattr__(self, "H_right", _check_h("H_right", self.H_right))

    @classmethod
    def identity(cls, width: int, height: int, **kwargs: Any) -> Rectification:
        """The rectification of a pair that needs none."""
        eye = np.eye(3)
        return cls(method="none", H_left=eye, H_right=eye, width=width, height=height, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (what ``rectification.json`` holds)."""
        return {
            "method": self.method,
            "width": int(self.width),
            "height": int(self.height),
            "H_left": self.H_left.tolist(),
            "H_right": self.H_right.tolist(),
            "vertical_error_before_px": self.vertical_error_before_px,
            "vertical_error_after_px": self.vertical_error_after_px,
            "matches": int(self.matches),
            "disparity_offset_px": float(self.disparity_offset_px),
            "convention": "x_rect ~ H @ [x_orig, y_orig, 1]; inverse(H) maps rectified pixels back",
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rectification:
        """Inverse of :meth:`to_dict`."""
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
