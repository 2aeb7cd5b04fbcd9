"""Image metrics of the data-value experiment: PSNR, SSIM and the gradient error at depth edges.

Images are ``HxWx3`` float arrays in ``[0, 1]``. No learned metric (LPIPS
needs downloaded weights): the edge metric measures what a person sees as
wobbling or smeared edges -- how far the predicted image's gradients are from
the true ones where the depth jumps.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from scipy import ndimage

from parallax.errors import ParameterError

__all__ = ["psnr", "ssim", "depth_edge_mask", "edge_gradient_error", "EDGE_JUMP_PX"]

#: A depth edge: neighbouring disparities differing by more than this, pixels of the evaluated size.
EDGE_JUMP_PX = 1.0


def _check(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    if p.shape != t.shape or p.ndim != 3 or p.shape[2] != 3:
        raise ParameterError(f"prediction {p.shape} and target {t.shape} must be HxWx3 images of one size")
    return p, t


def psnr(pred: np.ndarray, target: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB over all pixels and channels (peak 1); ``inf`` if identical."""
    p, t = _check(pred, target)
    mse = float(np.mean((p - t) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def ssim(pred: np.ndarray, target: np.ndarray, *, sigma: float = 1.5) -> float:
    """Mean structural similarity (Wang et al. 2004), Gaussian window, averaged over the RGB channels.

    The settings of ``skimage.metrics.structural_similarity(..., gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=-1)``: an 11x11
    Gaussian window (truncated at 3.5 sigma, reflected at the border), ``K1 = 0.01``,
    ``K2 = 0.03``, and the mean over the pixels at least 5 from the border.
    """
    p, t = _check(pred, target)
    c1, c2 = 0.01**2, 0.03**2
    pad = int(3.5 * sigma + 0.5)
    values = []
    for c in range(3):
        a, b = p[..., c], t[..., c]

        def blur(x: np.ndarray) -> np.ndarray:
            return ndimage.gaussian_filter(x, sigma=sigma, truncate=3.5, mode="reflect")

        mu_a, mu_b = blur(a), blur(b)
        va = blur(a * a) - mu_a * mu_a
        vb = blur(b * b) - mu_b * mu_b
        cov = blur(a * b) - mu_a * mu_b
        s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (va + vb + c2))
        values.append(float(s[pad:-pad, pad:-pad].mean()) if min(s.shape) > 2 * pad else float(s.mean()))
    return float(np.mean(values))


def depth_edge_mask(disparity_px: np.ndarray, *, jump_px: float = EDGE_JUMP_PX, radius_px: int = 1) -> np.ndarray:
    """Pixels at depth edges: where a neighbour's disparity differs by more than ``jump_px``.

    Parameters
    ----------
    disparity_px : numpy.ndarray
        ``HxW`` disparity in pixels of the image it belongs to; NaN = no value
        (a pair with a NaN side is no edge).
    jump_px : float
        Smallest disparity jump that makes an edge, pixels.
    radius_px : int
        The mask is grown by this many pixels (a square), so both sides of an edge count.

    Returns
    -------
    numpy.ndarray
        ``HxW`` bool.
    """
    d = np.asarray(disparity_px, dtype=np.float64)
    if d.ndim != 2:
        raise ParameterError(f"disparity_px must be HxW, got shape {d.shape}")
    with np.errstate(invalid="ignore"):
        jx = np.abs(d[:, 1:] - d[:, :-1]) > jump_px
        jy = np.abs(d[1:, :] - d[:-1, :]) > jump_px
    mask = np.zeros(d.shape, dtype=bool)
    mask[:, 1:] |= jx
    mask[:, :-1] |= jx
    mask[1:, :] |= jy
    mask[:-1, :] |= jy
    if radius_px > 0 and mask.any():
        mask = ndimage.binary_dilation(mask, structure=np.ones((2 * radius_px + 1,) * 2, dtype=bool))
    return mask


def _gradients(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    grey = (image[..., 0] * 0.299 + image[..., 1] * 0.587 + image[..., 2] * 0.114).astype(np.float32)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT) / 8.0
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT) / 8.0
    return gx, gy


def edge_gradient_error(pred: np.ndarray, target: np.ndarray, mask: np.ndarray) -> float:
    """Mean L1 distance of the image gradients (Sobel / 8 of the luma, per pixel) over ``mask``.

    A sharp, correctly placed edge scores 0; a smeared, doubled or shifted one
    scores its gradient difference. NaN when ``mask`` holds no pixel.
    """
    p, t = _check(pred, target)
    m = np.asarray(mask, dtype=bool)
    if m.shape != p.shape[:2]:
        raise ParameterError(f"mask {m.shape} must match the images {p.shape[:2]}")
    if not m.any():
        return math.nan
    px, py = _gradients(p)
    tx, ty = _gradients(t)
    err = np.abs(px - tx) + np.abs(py - ty)
    return float(err[m].mean())
