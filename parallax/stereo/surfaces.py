"""Plain surfaces: untextured regions become smooth surfaces, or explicitly no value.

A matcher cannot measure disparity where the image has no texture (walls, sky,
white backgrounds): every disparity matches equally well, and what it returns
there is noise that still looks confident. :func:`smooth_plain_surfaces`
replaces it:

1. **Plain pixels** are those whose grey-level standard deviation over a
   ``window`` x ``window`` box is below ``std_threshold``; the region treated is
   every pixel whose box touches a plain pixel (so the surface joins its
   textured surroundings without a step).
2. **Support.** Measured pixels (left-right consistent matches) support the
   surface with their confidence; measured pixels inside plain areas count
   ``plain_weight`` times less (they are the least certain), filled pixels not at all.
3. **Propagation.** Disparity is propagated from the supporting pixels across
   the plain region by the edge-aware fast global smoother
   (:func:`parallax.stereo.smoothing.smooth_guided`): ``S(c * d) / S(c)``, guided
   by the image so it stays on the surface the colours say it is on. The result
   is smooth: a plain wall bounded by textured edges comes out as a smooth sheet
   between them.
4. **No support, no value.** Where the propagated support ``S(c)`` stays below
   ``min_support`` (a plain region with no measured pixel near it), the pixels
   have no value (NaN): explicitly not valid rather than noise.

The confidence of the smoothed pixels is their support, capped at
``max_confidence`` (an interpolated surface is never as sure as a measured one).

Conventions: images ``HxWx3`` uint8 RGB; disparity in pixels, ``x_right = x_left - d``;
NaN = no value; confidence in [0, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from parallax.capture.types import check_image
from parallax.errors import ParameterError
from parallax.stereo.smoothing import smooth_guided

__all__ = ["PlainSurfaceSettings", "PlainSurfaces", "plain_mask", "smooth_plain_surfaces"]


@dataclass(frozen=True, kw_only=True)
class PlainSurfaceSettings:
    """Parameters of :func:`smooth_plain_surfaces`.

    Parameters
    ----------
    window : int
        Side of the box (pixels, odd) of the texture measure.
    std_threshold : float
        Grey-level standard deviation (0..255 levels) below which a box has no texture.
    plain_weight : float
        Weight of a measured pixel inside a plain area relative to a textured one.
    smoothness : float
        Smoothness ``lambda`` of the fast global smoother, per pixel of the map's
        longer side (so the surface's reach scales with the image).
    sigma_color : float
        CIE Lab colour difference that divides a neighbour weight by ``e``.
    min_support : float
        Propagated support below which a plain pixel gets no value.
    max_confidence : float
        Highest confidence given to a smoothed pixel.
    """

    window: int = 11
    std_threshold: float = 3.0
    plain_weight: float = 0.2
    smoothness: float = 2.0
    sigma_color: float = 8.0
    min_support: float = 0.01
    max_confidence: float = 0.5

    def __post_init__(self) -> None:
        if not (isinstance(self.window, int) and self.window >= 3 and self.window % 2 == 1):
            raise ParameterError(f"window must be an odd integer >= 3, got {self.window!r}")
        for name in ("std_threshold", "smoothness", "sigma_color"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ParameterError(f"{name} must be a positive number, got {value!r}")
        for name in ("plain_weight", "min_support", "max_confidence"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise ParameterError(f"{name} must be in [0, 1], got {value!r}")


@dataclass(frozen=True, kw_only=True)
class PlainSurfaces:
    """Output of :func:`smooth_plain_surfaces`.

    Parameters
    ----------
    disparity_px : numpy.ndarray
        ``HxW`` float32; smooth over plain regions, NaN where they had no support.
    confidence : numpy.ndarray
        ``HxW`` float32 in [0, 1]; 0 where there is no value.
    plain : numpy.ndarray
        ``HxW`` bool, the pixels without texture.
    treated : numpy.ndarray
        ``HxW`` bool, the pixels whose value was replaced (plain pixels and their surroundings).
    unsupported : numpy.ndarray
        ``HxW`` bool, the treated pixels left without a value.
    """

    disparity_px: np.ndarray
    confidence: np.ndarray
    plain: np.ndarray
    treated: np.ndarray
    unsupported: np.ndarray


def plain_mask(image: np.ndarray, *, window: int = 11, std_threshold: float = 3.0) -> np.ndarray:
    """``HxW`` bool: pixels whose grey-level standard deviation over a ``window`` box is below ``std_threshold``."""
    grey = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY).astype(np.float32)
    mean = cv2.blur(grey, (window, window), borderType=cv2.BORDER_REFLECT)
    mean2 = cv2.blur(grey * grey, (window, window), borderType=cv2.BORDER_REFLECT)
    return (mean2 - mean * mean) < np.float32(std_threshold) ** 2


def smooth_plain_surfaces(
    image: np.ndarray,
    disparity_px: np.ndarray,
    confidence: np.ndarray,
    measured: np.ndarray,
    *,
    settings: PlainSurfaceSettings | None = None,
    threads: int = 1,
) -> PlainSurfaces:
    """Make untextured regions smooth surfaces, or leave them without a value (module docstring).

    Parameters
    ----------
    image : numpy.ndarray
        ``HxWx3`` uint8 RGB view the disparity refers to.
    disparity_px : numpy.ndarray
        ``HxW`` disparity in pixels; NaN = no value.
    confidence : numpy.ndarray
        ``HxW`` matcher confidence in [0, 1].
    measured : numpy.ndarray
        ``HxW`` bool, pixels whose value came from a consistent match (not a fill).
    settings : PlainSurfaceSettings, optional
        Parameters (defaults when omitted).
    threads : int
        Threads for the smoother (same result for any number).

    Returns
    -------
    PlainSurfaces
        The new disparity and confidence, and which pixels were plain, treated and left without a value.
    """
    s = settings or PlainSurfaceSettings()
    image = check_image("image", image)
    disparity_px = np.asarray(disparity_px, dtype=np.float32)
    shape = image.shape[:2]
    if disparity_px.shape != shape or np.shape(confidence) != shape or np.shape(measured) != shape:
        raise ParameterError(
            f"image {shape}, disparity {disparity_px.shape}, confidence {np.shape(confidence)} and "
            f"measured {np.shape(measured)} must have one size"
        )
    plain = plain_mask(image, window=s.window, std_threshold=s.std_threshold)
    finite = np.isfinite(disparity_px)
    if not plain.any():
        conf = np.where(finite, confidence, 0.0).astype(np.float32)
        none = np.zeros(shape, dtype=bool)
        return PlainSurfaces(disparity_px=disparity_px, confidence=conf, plain=plain, treated=none, unsupported=none)
    k = s.window + 2
    treated = cv2.dilate(plain.astype(np.uint8), np.ones((k, k), np.uint8)).astype(bool)
    weight = np.where(np.asarray(measured, dtype=bool) & finite, np.clip(confidence, 0.0, 1.0), 0.0)
    weight = np.where(plain, weight * s.plain_weight, weight).astype(np.float64)
    values = np.where(finite, disparity_px, 0.0).astype(np.float64)
    lam = s.smoothness * max(shape)
    num, den = smooth_guided([weight * values, weight], image, lam=lam, sigma_color=s.sigma_color, threads=threads)
    supported = den >= s.min_support
    with np.errstate(divide="ignore", invalid="ignore"):
        smooth = np.where(supported, num / np.maximum(den, 1e-12), np.nan).astype(np.float32)
    out = np.where(treated, smooth, disparity_px).astype(np.float32)
    conf = np.where(treated, np.minimum(den, s.max_confidence), confidence)
    conf = np.where(np.isfinite(out), np.clip(conf, 0.0, 1.0), 0.0).astype(np.float32)
    return PlainSurfaces(
        disparity_px=out, confidence=conf, plain=plain, treated=treated, unsupported=treated & ~supported
    )
