"""Speckle removal: small islands of consistent disparity become mismatches.

A connected region of left-right consistent pixels whose neighbours differ by at
most ``range_px`` and that holds at most ``size`` pixels is almost always a
wrong match (a patch of repeated texture, noise in a plain region); its pixels
are marked :data:`~parallax.stereo.matchers.refine.MISMATCH` so the fill replaces
them. The regions are found by OpenCV's ``filterSpeckles`` on disparity in
sixteenths of a pixel; the conversions around it are compiled (one pass each).
"""

from __future__ import annotations

import cv2
import numba as nb
import numpy as np

from parallax.errors import ParameterError
from parallax.stereo.matchers.refine import MISMATCH, VALID

__all__ = ["remove_speckles"]

#: ``filterSpeckles``' value of the pixels that have none (the int16 minimum).
_NONE = np.int16(-32768)
#: Disparities are clipped to this many sixteenths of a pixel (far from :data:`_NONE`).
_LIMIT = np.float32(32000.0)


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _sixteenths(disp, state, out):  # pragma: no cover - compiled
    """``out``: the valid pixels' disparity in sixteenths of a pixel (rounded half to even,
    clipped to +-32000), :data:`_NONE` elsewhere."""
    h, w = disp.shape
    for y in range(h):
        for x in range(w):
            if state[y, x] == VALID:
                v = np.rint(disp[y, x] * np.float32(16.0))
                v = min(max(v, -_LIMIT), _LIMIT)
                out[y, x] = np.int16(v)
            else:
                out[y, x] = _NONE


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _mark(codes, state, out):  # pragma: no cover - compiled
    """``out``: ``state`` with the valid pixels that lost their value marked as mismatches."""
    h, w = state.shape
    for y in range(h):
        for x in range(w):
            st = state[y, x]
            out[y, x] = MISMATCH if st == VALID and codes[y, x] == _NONE else st


def remove_speckles(disparity: np.ndarray, state: np.ndarray, size: int, range_px: float) -> np.ndarray:
    """States with the small regions of consistent pixels marked as mismatches (module docstring).

    Parameters
    ----------
    disparity : numpy.ndarray
        ``HxW`` float32 winners, pixels (finite where ``state`` is ``VALID``).
    state : numpy.ndarray
        ``HxW`` uint8 pixel states (:data:`~parallax.stereo.matchers.refine.VALID` ...).
    size : int
        Regions of at most this many pixels are removed (0 = none).
    range_px : float
        Largest disparity difference, pixels, between neighbours of one region.

    Returns
    -------
    numpy.ndarray
        ``HxW`` uint8, a new array.
    """
    disp = np.ascontiguousarray(disparity, dtype=np.float32)
    states = np.ascontiguousarray(state, dtype=np.uint8)
    if disp.shape != states.shape or disp.ndim != 2:
        raise ParameterError(f"disparity {disp.shape} and state {states.shape} must be HxW of one size")
    codes = np.empty(disp.shape, dtype=np.int16)
    _sixteenths(disp, states, codes)
    cv2.filterSpeckles(codes, int(_NONE), int(size), int(round(range_px * 16)))
    out = np.empty_like(states)
    _mark(codes, states, out)
    return out
