"""The plain-surface step's settings, and what it takes from the image alone.

:class:`PlainSurfaceSettings` holds the parameters of
:func:`parallax.stereo.surfaces.smooth_plain_surfaces` (its module docstring
describes the steps they belong to). :func:`surface_guides` computes the image's
texture measures and smoothing weights (:class:`SurfaceGuides`): they do not
depend on the disparity, so a caller can compute them while the matcher runs.

Conventions: images ``HxWx3`` uint8 RGB; grey levels 0..255; CIE Lab colour differences.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from parallax.capture.types import check_image
from parallax.errors import ParameterError
from parallax.stereo.matchers.threads import run_jobs
from parallax.stereo.smoothing import edge_weights
from parallax.stereo.texture import local_std, plain_from_contrast

__all__ = ["PlainSurfaceSettings", "SurfaceGuides", "surface_guides"]

#: Step 7's long-reach surface is found on a copy this many times smaller (its reach is many pixels).
_FAR_FACTOR = 4


@dataclass(frozen=True, kw_only=True)
class PlainSurfaceSettings:
    """Parameters of :func:`smooth_plain_surfaces`.

    Parameters
    ----------
    window : int
        Side of the box (pixels, odd) of the texture measures.
    std_threshold : float
        Grey-level standard deviation (0..255 levels) below which a box may be plain.
    fine_threshold : float
        Fine-scale texture (grey levels, see :func:`plain_mask`) below which a box
        may be plain; 0 = the standard deviation alone decides.
    band : int
        Pixels around plain regions, in pixels, whose unmeasured values are replaced too.
    plain_weight : float
        Weight of a measured pixel inside a plain region relative to a textured one.
    smoothness : float
        Smoothness ``lambda`` of the fast global smoother, per pixel of the map's
        longer side (so the surface's reach scales with the image).
    sigma_color : float
        CIE Lab colour difference that divides a neighbour weight by ``e``.
    sigma_disparity : float
        Disparity jump (pixels) between two measured neighbours that divides their
        weight by ``e``: measured depth edges stop the propagation like colour edges.
    min_support : float
        Propagated support below which a treated pixel gets no value (unless a plane fits around it).
    max_confidence : float
        Highest confidence given to a smoothed pixel.
    ring : int
        Width in pixels of the ring around an unsupported plain region whose measured pixels a plane is fitted to.
    ring_min_inliers : float
        Share of the ring's measured pixels that must agree with the plane (0 = no plane fitting).
    ring_min_angle_deg : float
        Directions (degrees, seen from the region's centre) the agreeing ring pixels must cover.
    plane_tolerance : float
        Disparity difference (pixels) within which a ring pixel agrees with a plane.
    plane_confidence : float
        Confidence of the pixels a plane fills.
    denoise_std : float
        Grey-level standard deviation below which measured pixels are denoised (step 7; 0 = off).
    denoise_smoothness : float
        Smoothness ``lambda`` of the denoising, per 1000 pixels of the map's longer side.
    denoise_outlier_px : float
        Disparity difference (pixels) from the long-reach surface around a low-contrast
        pixel that divides its weight in the denoising by ``e`` (0 = every value counts fully).
    rough_std : float
        Grey-level standard deviation below which a rough pixel may lose its value (step 8; 0 = off).
    rough_spread_px : float
        Disparity spread (max - min, pixels) over the window above which a pixel is rough.
    rough_confidence : float
        Confidence below which a rough pixel may lose its value.
    rough_density : float
        Share of its window that must be such pixels for one to lose its value.
    """

    window: int = 11
    std_threshold: float = 3.0
    fine_threshold: float = 0.2
    band: int = 5
    plain_weight: float = 1.0
    smoothness: float = 1.0
    sigma_color: float = 8.0
    sigma_disparity: float = 1.0
    min_support: float = 0.1
    max_confidence: float = 0.5
    ring: int = 6
    ring_min_inliers: float = 0.5
    ring_min_angle_deg: float = 150.0
    plane_tolerance: float = 1.5
    plane_confidence: float = 0.2
    denoise_std: float = 3.0
    denoise_smoothness: float = 100.0
    denoise_outlier_px: float = 2.0
    rough_std: float = 2.0
    rough_spread_px: float = 1.0
    rough_confidence: float = 0.5
    rough_density: float = 0.3

    def __post_init__(self) -> None:
        if not (isinstance(self.window, int) and self.window >= 3 and self.window % 2 == 1):
            raise ParameterError(f"window must be an odd integer >= 3, got {self.window!r}")
        if not (isinstance(self.band, int) and 0 <= self.band <= 64):
            raise ParameterError(f"band must be an integer in 0..64, got {self.band!r}")
        for name in ("std_threshold", "smoothness", "sigma_color", "sigma_disparity"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ParameterError(f"{name} must be a positive number, got {value!r}")
        if not (isinstance(self.fine_threshold, (int, float)) and math.isfinite(self.fine_threshold)):
            raise ParameterError(f"fine_threshold must be a number >= 0, got {self.fine_threshold!r}")
        if self.fine_threshold < 0:
            raise ParameterError(f"fine_threshold must be a number >= 0, got {self.fine_threshold!r}")
        if not (isinstance(self.ring, int) and 1 <= self.ring <= 64):
            raise ParameterError(f"ring must be an integer in 1..64, got {self.ring!r}")
        if not (isinstance(self.ring_min_angle_deg, (int, float)) and 0.0 <= self.ring_min_angle_deg <= 360.0):
            raise ParameterError(f"ring_min_angle_deg must be in [0, 360], got {self.ring_min_angle_deg!r}")
        if not (isinstance(self.plane_tolerance, (int, float)) and self.plane_tolerance > 0):
            raise ParameterError(f"plane_tolerance must be a positive number of pixels, got {self.plane_tolerance!r}")
        for name in ("denoise_std", "denoise_smoothness", "denoise_outlier_px", "rough_std", "rough_spread_px"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ParameterError(f"{name} must be a number >= 0, got {value!r}")
        for name in (
            "plain_weight",
            "min_support",
            "max_confidence",
            "ring_min_inliers",
            "plane_confidence",
            "rough_confidence",
            "rough_density",
        ):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise ParameterError(f"{name} must be in [0, 1], got {value!r}")


@dataclass(frozen=True, kw_only=True)
class SurfaceGuides:
    """What :func:`smooth_plain_surfaces` takes from the image alone (:func:`surface_guides`).

    Parameters
    ----------
    contrast : numpy.ndarray
        ``HxW`` float32 grey-level standard deviation over the window (:func:`local_std`).
    plain : numpy.ndarray
        ``HxW`` bool, the pixels without texture (step 1).
    weights : tuple of numpy.ndarray
        The smoother's neighbour weights (:func:`parallax.stereo.smoothing.edge_weights`).
    far_image : numpy.ndarray
        The image :data:`_FAR_FACTOR` times smaller, which step 7's long-reach surface is found on
        (the image itself when it is small).
    far_weights : tuple of numpy.ndarray
        The neighbour weights of ``far_image``.
    """

    contrast: np.ndarray
    plain: np.ndarray
    weights: tuple[np.ndarray, np.ndarray]
    far_image: np.ndarray
    far_weights: tuple[np.ndarray, np.ndarray]


def surface_guides(
    image: np.ndarray, *, settings: PlainSurfaceSettings | None = None, threads: int = 1
) -> SurfaceGuides:
    """The image's texture measures and smoothing weights for :func:`smooth_plain_surfaces`.

    They depend on the image alone, so a caller can compute them while the matcher
    runs and pass them in. With ``threads > 1`` the texture measures and the
    smoothing weights are computed side by side (same result).
    """
    s = settings or PlainSurfaceSettings()
    image = check_image("image", image)

    def texture() -> tuple[np.ndarray, np.ndarray]:
        contrast = local_std(image, s.window)
        return contrast, plain_from_contrast(image, contrast, s.window, s.std_threshold, s.fine_threshold)

    def smoothing() -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray, tuple[np.ndarray, np.ndarray]]:
        far = _far_image(image)
        return edge_weights(image, s.sigma_color), far, edge_weights(far, s.sigma_color)

    jobs: list[Callable[[], tuple]] = [texture, smoothing]
    (contrast, plain), (weights, far, far_weights) = run_jobs(jobs) if threads > 1 else [job() for job in jobs]
    return SurfaceGuides(contrast=contrast, plain=plain, weights=weights, far_image=far, far_weights=far_weights)


def _far_image(image: np.ndarray) -> np.ndarray:
    """The image :data:`_FAR_FACTOR` times smaller (area-averaged), or itself when that would be too small."""
    h, w = image.shape[:2]
    f = _FAR_FACTOR
    if min(h, w) < 16 * f:
        return image
    return cv2.resize(image, (-(-w // f), -(-h // f)), interpolation=cv2.INTER_AREA)
