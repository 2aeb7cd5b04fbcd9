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
surface, and ``S(c)`` says how much support each pixel got. Every map, row and
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
from parallax.stereo.matchers.threads import run_jobs, run_rows

__all__ = ["smooth_guided", "edge_weights"]

#: Maps smaller than this (pixels) are smoothed on one thread.
_MIN_THREADED_PX = 65_536


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _solve_lines(f, w, lam, c, x0, x1):  # pragma: no cover - compiled
    """Solve ``(I + lam * L_w) u = f`` in place along axis 1 of ``f`` (``K x N x M``), for
    the lines ``x0 .. x1`` of axis 2, all of them at once (Thomas algorithm).

    ``w`` (``N-1 x M``) holds the weights between neighbours along axis 1; ``L_w`` is the
    1-D weighted Laplacian; the K right-hand sides share the matrix. ``c`` (``N x M``)
    is scratch. Each step runs across the contiguous axis 2, so it vectorises.
    """
    k, n = f.shape[0], f.shape[1]
    m = x1 - x0
    wl = np.zeros(m, dtype=np.float32)
    wr = np.zeros(m, dtype=np.float32)
    inv = np.empty(m, dtype=np.float32)
    one = np.float32(1.0)
    for i in range(n):
        if i < n - 1:
            wi = w[i, x0:x1]
            for u in range(m):
                wr[u] = np.float32(lam * wi[u])
        else:
            wr[:] = 0.0
        if i > 0:
            cp = c[i - 1, x0:x1]
            for u in range(m):
                inv[u] = one / (one + wl[u] + wr[u] + wl[u] * cp[u])
            for j in range(k):
                fi = f[j, i, x0:x1]
                fp = f[j, i - 1, x0:x1]
                for u in range(m):
                    fi[u] = (fi[u] + wl[u] * fp[u]) * inv[u]
        else:
            for u in range(m):
                inv[u] = one / (one + wr[u])
            for j in range(k):
                fi = f[j, i, x0:x1]
                for u in range(m):
                    fi[u] = fi[u] * inv[u]
        ci = c[i, x0:x1]
        for u in range(m):
            ci[u] = -wr[u] * inv[u]
            wl[u] = wr[u]
    for i in range(n - 2, -1, -1):
        ci = c[i, x0:x1]
        for j in range(k):
            fi = f[j, i, x0:x1]
            fn = f[j, i + 1, x0:x1]
            for u in range(m):
                fi[u] -= ci[u] * fn[u]


@nb.njit(cache=True, nogil=True, error_model="numpy", fastmath=True)
def _weights(lab, inv_sigma, wh, wv, y0, y1):  # pragma: no cover - compiled
    h, w = lab.shape[0], lab.shape[1]
    for y in range(y0, y1):
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


def edge_weights(image: np.ndarray, sigma_color: float, *, threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Weights between horizontal and vertical neighbours: ``exp(-|Lab_p - Lab_q| / sigma_color)``.

    Lab is OpenCV's 8-bit CIE Lab brought back to ``L`` in 0..100 and ``a, b`` in
    -128..127. Returns ``(wh, wv)`` of shapes ``H x W-1`` and ``H-1 x W`` (float32), the
    same for any number of ``threads`` (row bands).
    """
    lab = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2LAB).astype(np.float32)
    lab[:, :, 0] *= np.float32(100.0 / 255.0)
    h, w = lab.shape[:2]
    wh = np.empty((h, max(w - 1, 0)), dtype=np.float32)
    wv = np.empty((max(h - 1, 0), w), dtype=np.float32)
    inv = np.float32(1.0 / sigma_color)
    run_rows(lambda y0, y1: _weights(lab, inv, wh, wv, y0, y1), h, threads)
    return wh, wv


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
        Threads; the maps are smoothed side by side, at most one thread per map
        (same result for any number).
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
    stack = np.ascontiguousarray(np.stack([np.asarray(m, dtype=np.float32) for m in maps], axis=0))
    if not np.isfinite(stack).all():
        raise ParameterError("maps must be finite everywhere; put 0 (with confidence 0) where there is no value")
    if w < 2 or h < 2:
        return [stack[i].copy() for i in range(stack.shape[0])]
    if h * w < _MIN_THREADED_PX:  # a small map: starting threads costs more than the work
        threads = 1
    if weights is None:
        wh, wv = edge_weights(image, sigma_color, threads=threads)
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
    wh_t = cv2.transpose(np.ascontiguousarray(wh))  # rows are solved on transposed copies
    # each map is smoothed on its own, all rounds in one job: splitting the lines of one map
    # between threads is slower than one thread (the threads stall on each other's memory
    # traffic), while whole maps side by side run about twice as fast
    k = stack.shape[0]
    groups = min(max(1, int(threads)), k)
    cuts = [k * i // groups for i in range(groups + 1)]
    jobs = [
        functools.partial(_smooth_maps, stack[a:b], wh_t, wv, lam, iterations)
        for a, b in zip(cuts[:-1], cuts[1:], strict=True)
    ]
    run_jobs(jobs)
    return [stack[i] for i in range(k)]


def _smooth_maps(stack: np.ndarray, wh_t: np.ndarray, wv: np.ndarray, lam: float, iterations: int) -> None:
    """The rounds of :func:`smooth_guided` on the ``K x H x W`` maps ``stack``, in place (one thread)."""
    k, h, w = stack.shape
    flipped = np.empty((k, w, h), dtype=np.float32)
    c_rows, c_cols = np.empty((w, h), dtype=np.float32), np.empty((h, w), dtype=np.float32)
    for t in range(1, iterations + 1):
        lam_t = np.float32(1.5 * 4.0 ** (iterations - t) / (4.0**iterations - 1.0) * lam)
        for j in range(k):
            cv2.transpose(stack[j], flipped[j])
        _solve_lines(flipped, wh_t, lam_t, c_rows, 0, h)
        for j in range(k):
            cv2.transpose(flipped[j], stack[j])
        _solve_lines(stack, wv, lam_t, c_cols, 0, w)
