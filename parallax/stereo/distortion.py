"""Radial lens distortion: the one-parameter division model.

Wide-angle and action cameras (GoPro, phone ultra-wides, cropped fisheye)
bend straight lines; no homography can rectify such a pair. The division model
(Fitzgibbon, CVPR 2001) undistorts a pixel in closed form and has a closed-form
inverse, which makes it cheap both for fitting and for resampling::

    q   = ((x - cx) / sx, (y - cy) / sy)          normalised distorted position
    q_u = q / (1 + k1 * |q|^2)                     normalised undistorted position
    x_u = cx + sx * q_u[0],  y_u = cy + sy * q_u[1]

``k1 < 0`` is barrel distortion (the usual wide-angle case: undistortion moves
the periphery outwards), ``k1 > 0`` pincushion. The normalisation radii
``sx``, ``sy`` are half the image diagonal when estimated (then ``|q| = 1`` at
the corners); they keep ``k1`` independent of the image size. Near the centre
the mapping is the identity (unit scale), so the focal length of the
undistorted pinhole view equals the central focal length of the lens.

Pixel convention: ``(0, 0)`` is the centre of the top-left pixel (OpenCV).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from parallax.errors import ParameterError

__all__ = ["LensDistortion"]

#: Largest |k1| accepted: beyond it the model folds over inside the image.
MAX_ABS_K1 = 2.0


@dataclass(frozen=True, kw_only=True)
class LensDistortion:
    """A one-parameter division model of radial lens distortion (see the module docstring).

    Parameters
    ----------
    k1 : float
        Division coefficient, dimensionless (radii normalised by ``scale_x_px``,
        ``scale_y_px``); negative = barrel, positive = pincushion, 0 = none.
    centre_x_px, centre_y_px : float
        Distortion centre in pixels of the view the model applies to.
    scale_x_px, scale_y_px : float
        Normalisation radii in pixels (positive).
    model : {"division"}
        The model's name (one model today; written to JSON for readers).
    source : str
        Where the model came from: ``"estimated"`` (from the pair's feature
        matches) or ``"given"`` (by the caller or the file).
    """

    k1: float
    centre_x_px: float
    centre_y_px: float
    scale_x_px: float
    scale_y_px: float
    model: Literal["division"] = "division"
    source: str = "estimated"

    def __post_init__(self) -> None:
        if self.model != "division":
            raise ParameterError(f"LensDistortion.model must be 'division', got {self.model!r}")
        for name in ("k1", "centre_x_px", "centre_y_px", "scale_x_px", "scale_y_px"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value)):
                raise ParameterError(f"LensDistortion.{name} must be a finite number, got {value!r}")
            object.__setattr__(self, name, float(value))
        if self.scale_x_px <= 0 or self.scale_y_px <= 0:
            raise ParameterError(
                f"LensDistortion scales must be positive, got {self.scale_x_px!r} and {self.scale_y_px!r}"
            )
        if abs(self.k1) > MAX_ABS_K1:
            raise ParameterError(f"LensDistortion.k1={self.k1!r} is outside [-{MAX_ABS_K1}, {MAX_ABS_K1}]")

    @classmethod
    def for_image(
        cls, k1: float, width: int, height: int, *, centre_px: tuple[float, float] | None = None, **kw: Any
    ) -> LensDistortion:
        """A model for a ``width`` x ``height`` view: radii normalised by half its diagonal, centred unless given."""
        half_diagonal = math.hypot(width, height) / 2.0
        cx, cy = centre_px if centre_px is not None else ((width - 1) / 2.0, (height - 1) / 2.0)
        return cls(k1=k1, centre_x_px=cx, centre_y_px=cy, scale_x_px=half_diagonal, scale_y_px=half_diagonal, **kw)

    @property
    def is_identity(self) -> bool:
        """True when the model does nothing (``k1 == 0``)."""
        return self.k1 == 0.0

    def _normalise(self, xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, dtype=np.float64)
        return np.stack(
            [(xy[..., 0] - self.centre_x_px) / self.scale_x_px, (xy[..., 1] - self.centre_y_px) / self.scale_y_px], -1
        )

    def _pixels(self, q: np.ndarray) -> np.ndarray:
        return np.stack(
            [q[..., 0] * self.scale_x_px + self.centre_x_px, q[..., 1] * self.scale_y_px + self.centre_y_px], -1
        )

    def undistort_points(self, xy: np.ndarray) -> np.ndarray:
        """Distorted pixel positions (``...x2``) -> undistorted pixel positions (same shape)."""
        q = self._normalise(xy)
        r2 = np.sum(q * q, axis=-1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            return self._pixels(q / (1.0 + self.k1 * r2))

    def distort_points(self, xy: np.ndarray) -> np.ndarray:
        """Undistorted pixel positions (``...x2``) -> distorted pixel positions; NaN where no pixel maps there.

        Closed form: ``r_d = (1 - sqrt(1 - 4 k1 r_u^2)) / (2 k1 r_u)``, the root
        that tends to ``r_u`` as ``k1 -> 0``.
        """
        q = self._normalise(xy)
        if self.k1 == 0.0:
            return self._pixels(q)
        ru = np.sqrt(np.sum(q * q, axis=-1, keepdims=True))
        disc = 1.0 - 4.0 * self.k1 * ru * ru
        with np.errstate(divide="ignore", invalid="ignore"):
            rd = (1.0 - np.sqrt(np.where(disc >= 0, disc, np.nan))) / (2.0 * self.k1 * ru)
            ratio = np.where(ru > 1e-12, rd / ru, 1.0)
        return self._pixels(q * ratio)

    def scale_factor(self, xy: np.ndarray) -> np.ndarray:
        """Local shrink factor ``1 + k1 r^2`` at distorted positions ``xy``: undistorted lengths times it ~ distorted lengths."""
        q = self._normalise(xy)
        return 1.0 + self.k1 * np.sum(q * q, axis=-1)

    def transformed(self, sx: float, sy: float, tx: float, ty: float) -> LensDistortion:
        """The same lens in pixel coordinates ``x' = sx * x + tx``, ``y' = sy * y + ty`` (e.g. a resized view).

        ``undistort'(A p) = A undistort(p)`` for that affine map ``A``, so the
        model composes exactly with resizing.
        """
        if not (sx > 0 and sy > 0):
            raise ParameterError(f"LensDistortion.transformed needs positive scales, got {sx!r}, {sy!r}")
        return LensDistortion(
            k1=self.k1,
            centre_x_px=sx * self.centre_x_px + tx,
            centre_y_px=sy * self.centre_y_px + ty,
            scale_x_px=sx * self.scale_x_px,
            scale_y_px=sy * self.scale_y_px,
            model=self.model,
            source=self.source,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "model": self.model,
            "k1": self.k1,
            "centre_x_px": self.centre_x_px,
            "centre_y_px": self.centre_y_px,
            "scale_x_px": self.scale_x_px,
            "scale_y_px": self.scale_y_px,
            "source": self.source,
            "convention": "x_u = c + s * q / (1 + k1 |q|^2), q = (x - c) / s (division model)",
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LensDistortion:
        """Inverse of :meth:`to_dict`."""
        return cls(
            k1=float(data["k1"]),
            centre_x_px=float(data["centre_x_px"]),
            centre_y_px=float(data["centre_y_px"]),
            scale_x_px=float(data["scale_x_px"]),
            scale_y_px=float(data["scale_y_px"]),
            model=data.get("model", "division"),
            source=str(data.get("source", "estimated")),
        )
