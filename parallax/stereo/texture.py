"""Texture measures of an image: local contrast, fine texture, plain pixels, disparity spread.

:func:`plain_mask` tells the pixels a matcher cannot measure (no texture around
them); :func:`local_std` and :func:`local_spread` (:func:`window_extremes`) are the window statistics it
and :mod:`parallax.stereo.surfaces` (and the geometry benchmark) judge by.

Conventions: images ``HxWx3`` uint8 RGB or ``HxW`` grey (levels 0..255);
disparity in pixels, NaN = no value; windows are odd squares, borders reflected.
"""

from __future__ import annotations

import cv2
import numba as nb
import numpy as np

from parallax.stereo.matchers.threads import run_jobs

__all__ = ["grey_levels", "local_spread", "local_std", "plain_from_contrast", "plain_mask", "window_extremes"]

#: Immerkaer's noise-estimation kernel: the difference of two Laplacians, blind to
#: planes and ramps, so its response measures fine-scale texture (and noise).
_FINE = np.array([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]], dtype=np.float32)


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _std_from_moments(mean, mean2, out):  # pragma: no cover - compiled
    """``out = sqrt(max(mean2 - mean ** 2, 0))`` as float32 (float64 IEEE arithmetic, one pass)."""
    h, w = mean.shape
    for y in range(h):
        for x in range(w):
            m = mean[y, x]
            out[y, x] = np.float32(np.sqrt(max(mean2[y, x] - m * m, 0.0)))


def grey_levels(image: np.ndarray) -> np.ndarray:
    """``HxW`` grey levels of ``image`` (OpenCV's RGB weights; a grey ``HxW`` image as it is)."""
    image = np.asarray(image)
    return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image


def local_std(image: np.ndarray, window: int) -> np.ndarray:
    """Grey-level standard deviation over a ``window`` x ``window`` box (``HxW`` float32, levels 0..255).

    ``image`` is ``HxWx3`` uint8 RGB or ``HxW`` grey; borders are reflected.
    """
    g = grey_levels(image).astype(np.float64)
    mean = cv2.blur(g, (window, window), borderType=cv2.BORDER_REFLECT)
    np.multiply(g, g, out=g)
    mean2 = cv2.blur(g, (window, window), borderType=cv2.BORDER_REFLECT)
    out = np.empty(mean.shape, dtype=np.float32)
    _std_from_moments(mean, mean2, out)
    return out


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _bounded(disp, hi, lo):  # pragma: no cover - compiled
    """The values whose window max (``hi``) and min (``lo``) are wanted: -1e9 and 1e9 without a value."""
    h, w = disp.shape
    for y in range(h):
        for x in range(w):
            d = disp[y, x]
            finite = np.isfinite(d)
            hi[y, x] = d if finite else np.float32(-1e9)
            lo[y, x] = d if finite else np.float32(1e9)


def window_extremes(disparity_px: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Max and min of the finite values over a ``window`` box (``HxW`` float32 each; -1e9 and
    1e9 where none is finite). The two filters run side by side."""
    d = np.ascontiguousarray(disparity_px, dtype=np.float32)
    top, bottom = np.empty_like(d), np.empty_like(d)
    _bounded(d, top, bottom)
    kernel = np.ones((window, window), np.uint8)
    hi, lo = run_jobs([lambda: cv2.dilate(top, kernel), lambda: cv2.erode(bottom, kernel)])
    return hi, lo


def local_spread(disparity_px: np.ndarray, window: int) -> np.ndarray:
    """Max - min of the finite values over a ``window`` box (``HxW`` float32; about -2e9 where none is finite)."""
    hi, lo = window_extremes(disparity_px, window)
    return hi - lo


def plain_mask(
    image: np.ndarray, *, window: int = 11, std_threshold: float = 3.0, fine_threshold: float = 0.0
) -> np.ndarray:
    """``HxW`` bool: pixels without texture around them.

    A pixel is plain when the grey-level standard deviation over a ``window`` box
    is below ``std_threshold`` and, with ``fine_threshold > 0``, the box's
    fine-scale texture is below it too: Immerkaer's measure, the mean of
    ``sqrt(pi / 2) / 6 * |I * K|`` with ``K`` the difference of two Laplacians
    (blind to planes and ramps), in grey levels. Low-contrast surfaces that do
    carry fine texture (which the census matcher locks onto) are not plain.
    Strong sensor noise looks like fine texture to this measure, so a very noisy
    plain wall keeps the matcher's values.
    """
    return plain_from_contrast(image, local_std(image, window), window, std_threshold, fine_threshold)


def plain_from_contrast(
    image: np.ndarray, contrast: np.ndarray, window: int, std_threshold: float, fine_threshold: float
) -> np.ndarray:
    """:func:`plain_mask` given the image's :func:`local_std` (computed once by callers that need it too)."""
    plain = contrast < std_threshold
    if fine_threshold > 0:
        grey = grey_levels(image).astype(np.float32)
        box = (window, window)
        response = np.abs(cv2.filter2D(grey, -1, _FINE, borderType=cv2.BORDER_REFLECT))
        fine = cv2.blur(response * np.float32(np.sqrt(np.pi / 2) / 6), box, borderType=cv2.BORDER_REFLECT)
        plain &= fine < np.float32(fine_threshold)
    return plain
