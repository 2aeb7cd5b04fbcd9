"""Edge-aware, confidence-weighted smoothing of a map guided by the image.

:func:`smooth_guided` is the fast global smoother of Min et al. (2014, "Fast
Global Image Smoothing Based on Weighted Least Squares"): the 2-D weighted
least-squares problem ``min_u sum_p (u_p - f_p)^2 + lambda sum_{p~q} w_pq (u_p - u_q)^2``
is approximated by 1-D solves along rows and then columns (each a tridiagonal
system, solved exactly), repeated ``iterations`` times with a decreasing
``lambda`` so that no streaks remain. Neighbour weights ``w_pq =
exp(-|I_p - I_q| / sigma_color)`` (``I`` in CIE Lab) keep the smoothing from
crossing colour edges.

With a confidence ``c``, the smoothed map is ``S(c * f) / S(c)``: values with
no confidence are replaced by those of confident neighbours on the same
surface, and ``S(c)`` says how much support each pixel got. Every row and every
column is solved on its own, so results do not depend on the thread count.
"""

from __future__ import annotations

import functools
import math

import cv2
import numba as nb
import numpy as np

from parallax.capture.types import check_image
from parallax.errors import ParameterError
from parallax.stereo.matchers.threads import run_rows

__all__ = ["smooth_guided", "edge_weights"]


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _solve_rows(f, w, lam, y0, y1):  # pragma: no cover - compiled
    """Solve ``(I + lam * L_w) u = f`` in place along each row ``y0 .. y1`` of ``f`` (``H x W x K``).

    ``w`` (``H x W-1``) holds the weights between horizontal neighbours; ``L_w`` is
    the 1-D weighted Laplacian. The K right-hand sides share the matrix (Thomas algorithm).
    """
    n = f.shape[1]
    k = f.shape[2]
    c = np.empty(n, dtype=np.float32)
    for r in range(y0, y1):
        wl = np.float32(0.0)
        for i in range(n):
            wr = np.float32(lam * w[r, i]) if i < n - 1 else np.float32(0.0)
            m = np.float32(1.0) + wl + wr + (wl * c[i - 1] if i > 0 else np.float32(0.0))
            inv = np.float32(1.0) / m
            for j in range(k):
                prev = f[r, i - 1, j] if i > 0 else np.float32(0.0)
                f[r, i, j] = (f[r, i, j] + wl * prev) * inv
            c[i] = -wr * inv
            wl = wr
        for i in range(n - 2, -1, -1):
            for j in range(k):
                f[r, i, j] -= c[i] * f[r, i + 1, j]


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _solve_cols(f, w, lam, x0, x1):  # pragma: no cover - compiled
    """Like :func:`_solve_rows` along each column ``x0 .. x1`` (``w`` is ``H-1 x W``), a row at a time."""
    n = f.shape[0]
    k = f.shape[2]
    c = np.empty((n, x1 - x0), dtype=np.float32)
    wl = np.zeros(x1 - x0, dtype=np.float32)
    for i in range(n):
        for x in range(x0, x1):
            u = x - x0
            wr = np.float32(lam * w[i, x]) if i < n - 1 else np.float32(0.0)
            m = np.float32(1.0) + wl[u] + wr + (wl[u] * c[i - 1, u] if i > 0 else np.float32(0.0))
            inv = np.float32(1.0) / m
            for j in range(k):
                prev = f[i - 1, x, j] if i > 0 else np.float32(0.0)
                f[i, x, j] = (f[i, x, j] + wl[u] * prev) * inv
            c[i, u] = -wr * inv
            wl[u] = wr
    for i in range(n - 2, -1, -1):
        for x in range(x0, x1):
            for j in range(k):
                f[i, x, j] -= c[i, x - x0] * f[i + 1, x, j]


@nb.njit(cache=True, nogil=True, error_model="numpy", fastmath=True)
def _weights(lab, inv_sigma, wh, wv):  # pragma: no cover - compiled
    h, w = lab.shape[0], lab.shape[1]
    for y in range(h):
        for x in range(w):
            if x + 1 < w:
                d2 = np.float32(0.0)
                for ch in range(3):
                    t = lab[y, x + 1, ch] - lab[y, x, ch]
                    d2 += t * t
                wh[y, x] = np.exp(-np.sqrt(d2) * inv_sigma)
            if y + 1 < h:
                d2 = np.float32(0.0)
                for ch in range(3):
                    t = lab[y + 1, x, ch] - lab[y, x, ch]
                    d2 += t * t
                wv[y, x] = np.exp(-np.sqrt(d2) * inv_sigma)


def edge_weights(image: np.ndarray, sigma_color: float) -> tuple[np.ndarray, np.ndarray]:
    """Weights between horizontal and vertical neighbours: ``exp(-|Lab_p - Lab_q| / sigma_color)``.

    Lab is OpenCV's 8-bit CIE Lab brought back to ``L`` in 0..100 and ``a, b`` in
    -128..127. Returns ``(wh, wv)`` of shapes ``H x W-1`` and ``H-1 x W`` (float32).
    """
    lab = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2LAB).astype(np.float32)
    lab[:, :, 0] *= np.float32(100.0 / 255.0)
    h, w = lab.shape[:2]
    wh = np.empty((h, max(w - 1, 0)), dtype=np.float32)
    wv = np.empty((max(h - 1, 0), w), dtype=np.float32)
    _weights(lab, np.float32(1.0 / sigma_color), wh, wv)
    return wh, wv


def _rows_job(stack: np.ndarray, wh: np.ndarray, lam: np.float32, y0: int, y1: int) -> None:
    _solve_rows(stack, wh, lam, y0, y1)


def _cols_job(stack: np.ndarray, wv: np.ndarray, lam: np.float32, x0: int, x1: int) -> None:
    _solve_cols(stack, wv, lam, x0, x1)


def smooth_guided(
    maps: list[np.ndarray],
    image: np.ndarray,
    *,
    lam: float,
    sigma_color: float,
    iterations: int = 3,
    threads: int = 1,
    edge_scale: tuple[np.ndarray, np.ndarray] | None = None,
    weights: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[np.ndarray]:
    """Smooth ``HxW`` maps with the fast global smoother guided by ``image`` (module docstring).

    Parameters
    ----------
    maps : list of numpy.ndarray
        ``HxW`` finite float maps, smoothed with the same weights (e.g. ``c * d`` and ``c``).
    image : numpy.ndarray
        ``HxWx3`` uint8 RGB guide.
    lam : float
        Smoothness (larger = smoother); the support of the smoothing grows about
        with ``sqrt(lam)`` pixels on a plain surface.
    sigma_color : float
        Lab colour difference that reduces a neighbour weight by ``e``.
    iterations : int
        Row-then-column rounds, with ``lambda`` falling by 4 each round.
    threads : int
        Threads for the row solves (same result for any number).
    edge_scale : tuple of numpy.ndarray, optional
        Factors in [0, 1] multiplied into the horizontal (``H x W-1``) and vertical
        (``H-1 x W``) neighbour weights, e.g. to stop at known depth edges.
    weights : tuple of numpy.ndarray, optional
        :func:`edge_weights` of ``image`` with this ``sigma_color``, when the caller
        already has them (several smoothings guided by one image).

    Returns
    -------
    list of numpy.ndarray
        The smoothed maps, float32.
    """
    image = check_image("image", image)
    h, w = image.shape[:2]
    if not maps or any(np.shape(m) != (h, w) for m in maps):
        raise ParameterError(f"maps must be a non-empty list of arrays of the image's size {(h, w)}")
    if not (math.isfinite(lam) and lam > 0 and math.isfinite(sigma_color) and sigma_color > 0):
        raise ParameterError(f"lam and sigma_color must be positive, got {lam!r}, {sigma_color!r}")
    if not (isinstance(iterations, int) and iterations >= 1):
        raise ParameterError(f"iterations must be an integer >= 1, got {iterations!r}")
    stack = np.ascontiguousarray(np.stack([np.asarray(m, dtype=np.float32) for m in maps], axis=2))
    if not np.isfinite(stack).all():
        raise ParameterError("maps must be finite everywhere; put 0 (with confidence 0) where there is no value")
    if w < 2 or h < 2:
        return [stack[:, :, i].copy() for i in range(stack.shape[2])]
    if weights is None:
        wh, wv = edge_weights(image, sigma_color)
    else:
        wh, wv = (np.asarray(a, dtype=np.float32) for a in weights)
        if wh.shape != (h, w - 1) or wv.shape != (h - 1, w):
            raise ParameterError(f"weights must have shapes {(h, w - 1)} and {(h - 1, w)}")
    if edge_scale is not None:
        sh, sv = edge_scale
        if np.shape(sh) != wh.shape or np.shape(sv) != wv.shape:
            raise ParameterError(f"edge_scale must have shapes {wh.shape} and {wv.shape}")
        wh = np.ascontiguousarray(wh * np.asarray(sh, dtype=np.float32))
        wv = np.ascontiguousarray(wv * np.asarray(sv, dtype=np.float32))
    for t in range(1, iterations + 1):
        lam_t = np.float32(1.5 * 4.0 ** (iterations - t) / (4.0**iterations - 1.0) * lam)
        run_rows(functools.partial(_rows_job, stack, wh, lam_t), h, threads)
        run_rows(functools.partial(_cols_job, stack, wv, lam_t), w, threads)
    return [stack[:, :, i] for i in range(stack.shape[2])]
