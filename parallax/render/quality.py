"""Image-quality metrics for synthesised views: PSNR and SSIM.

SSIM is the Gaussian-window SSIM of Wang et al. (2004): an 11x11 Gaussian
window with sigma 1.5, ``K1 = 0.01``, ``K2 = 0.03``, dynamic range 255, sample
covariances (``N / (N - 1)`` correction off, as in the paper), computed per
channel and averaged; it matches ``skimage.metrics.structural_similarity(...,
gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255,
channel_axis=-1)`` up to the border handling (here: reflected borders, the
mean over every pixel).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from parallax.errors import ParameterError

__all__ = ["psnr", "ssim"]


def _pair(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        raise ParameterError(f"the two images differ in shape ({a.shape} vs {b.shape}); compare images of one size")
    if a.ndim not in (2, 3):
        raise ParameterError(f"images must be HxW or HxWxC, got shape {a.shape}")
    if mask is not None and np.asarray(mask).shape != a.shape[:2]:
        raise ParameterError(f"mask has shape {np.asarray(mask).shape}, expected {a.shape[:2]}")
    return a.astype(np.float64), b.astype(np.float64)


def psnr(
    image: np.ndarray, reference: np.ndarray, *, mask: np.ndarray | None = None, data_range: float = 255.0
) -> float:
    """Peak signal-to-noise ratio in dB (``inf`` for identical images).

    Parameters
    ----------
    image, reference : numpy.ndarray
        ``HxW`` or ``HxWxC`` images of one shape (uint8: ``data_range`` 255).
    mask : numpy.ndarray, optional
        ``HxW`` bool: only these pixels count (default: all).
    data_range : float
        Peak value.
    """
    a, b = _pair(image, reference, mask)
    err = (a - b) ** 2
    if err.ndim == 3:
        err = err.mean(axis=2)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            raise ParameterError("mask selects no pixel; give a mask with at least one True")
        err = err[mask]
    mse = float(err.mean())
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(data_range**2 / mse)


def _ssim_map(a: np.ndarray, b: np.ndarray, data_range: float) -> np.ndarray:
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mu_a = blur(a)
    mu_b = blur(b)
    saa = blur(a * a) - mu_a * mu_a
    sbb = blur(b * b) - mu_b * mu_b
    sab = blur(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * sab + c2)
    den = (mu_a * mu_a + mu_b * mu_b + c1) * (saa + sbb + c2)
    return num / den


def ssim(
    image: np.ndarray, reference: np.ndarray, *, mask: np.ndarray | None = None, data_range: float = 255.0
) -> float:
    """Mean structural similarity (Gaussian window, see the module docstring), in [-1, 1].

    Parameters
    ----------
    image, reference : numpy.ndarray
        ``HxW`` or ``HxWxC`` images of one shape.
    mask : numpy.ndarray, optional
        ``HxW`` bool: average the SSIM map over these pixels only (default: all).
    data_range : float
        Peak value (255 for uint8).
    """
    a, b = _pair(image, reference, mask)
    if a.ndim == 2:
        a = a[..., None]
        b = b[..., None]
    maps = np.stack([_ssim_map(a[..., c], b[..., c], data_range) for c in range(a.shape[2])], axis=-1).mean(axis=2)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            raise ParameterError("mask selects no pixel; give a mask with at least one True")
        return float(maps[mask].mean())
    return float(maps.mean())
