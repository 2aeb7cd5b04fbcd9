"""From aggregated costs to a dense disparity map: winner-take-all with sub-pixel
parabola fitting, left-right consistency, and hole filling.

Conventions: disparity in pixels of the left view, ``x_right = x_left - d``; NaN = no
value. Pixel states: :data:`VALID`, :data:`OCCLUDED` (the left-right check failed
because a nearer surface claims the matching right pixel), :data:`MISMATCH` (any
other failure), :data:`OUTSIDE` (the match falls outside the right view).
Compiled with numba (``cache=True``); deterministic.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from parallax.errors import ParameterError
from parallax.stereo.matchers.threads import run_rows

__all__ = [
    "VALID",
    "OCCLUDED",
    "MISMATCH",
    "OUTSIDE",
    "winner_take_all",
    "fill_occlusion_aware",
    "scanline_background_fill",
]

VALID, OCCLUDED, MISMATCH, OUTSIDE = 0, 1, 2, 3


@nb.njit(cache=True, nogil=True)
def _wta(agg, nd, dmin, lr_tol, uniq, disp, state, unique, y0, y1):
    """Integer costs: winner and right-view winners are found as minima of the int32
    keys ``cost << shift | k`` (integer minima vectorise; ties go to the smaller k).
    Needs ``cost < 2**(31 - shift)``: uint16 costs and up to 32768 disparities."""
    h, w = agg.shape[:2]
    shift = 1
    while (1 << shift) < nd:
        shift += 1
    mask = np.int32((1 << shift) - 1)
    sh = np.int32(shift)
    big = np.int32(2**31 - 1)
    best_l = np.empty(w, dtype=np.int64)
    key_r = np.empty(w, dtype=np.int32)  # mirrored: index j = w - 1 - x_right
    for y in range(y0, y1):
        for j in range(w):
            key_r[j] = big
        for x in range(w):
            kmin = big
            for k in range(nd):
                key = np.int32((np.int32(agg[y, x, k]) << sh) | np.int32(k))
                kmin = key if key < kmin else kmin
            bk = np.int64(kmin & mask)
            bv = np.int64(kmin >> sh)
            best_l[x] = bk
            # best cost away from the winner's neighbours (uniqueness)
            sv = big
            lo_k = np.int32(bk - 1)
            hi_k = np.int32(bk + 1)
            for k in range(nd):
                v = np.int32(agg[y, x, k])
                kk = np.int32(k)
                v = v if (kk < lo_k or kk > hi_k) else big
                sv = v if v < sv else sv
            unique[y, x] = np.float32(sv - bv) / np.float32(sv) if (sv < big and sv > 0) else np.float32(1.0)
            # right-view winners: S_R(x_r, k) = S(x_r + dmin + k, k)
            k0 = min(max(0, x - dmin - (w - 1)), nd)
            k1 = max(min(nd, x - dmin + 1), k0)
            base = w - 1 - x + dmin
            for k in range(k0, k1):
                key = np.int32((np.int32(agg[y, x, k]) << sh) | np.int32(k))
                j = base + k
                old = key_r[j]
                key_r[j] = key if key < old else old
            # sub-pixel parabola
            off = np.float32(0.0)
            if 0 < bk < nd - 1:
                a = np.float32(agg[y, x, bk - 1])
                c = np.float32(agg[y, x, bk + 1])
                den = a + c - np.float32(2.0) * np.float32(bv)
                if den > 0:
                    off = np.float32(0.5) * (a - c) / den
            disp[y, x] = dmin + bk + off
        for x in range(w):
            bk = best_l[x]
            xr = x - dmin - bk
            if xr < 0 or xr >= w:
                state[y, x] = 3
                continue
            if uniq > 0 and unique[y, x] < uniq:
                state[y, x] = 2
                continue
            kr = np.int64(key_r[w - 1 - xr] & mask)
            if abs(kr - bk) > lr_tol:
                state[y, x] = 1 if kr > bk else 2
    return disp, state, unique


def winner_take_all(
    agg: np.ndarray,
    min_disparity: int,
    *,
    num_disparities: int | None = None,
    lr_tolerance: int = 1,
    uniqueness: float = 0.0,
    threads: int = 1,
):
    """Best disparity per pixel with parabola sub-pixel refinement and a left-right check.

    The right view's winners are read from the same volume (``S_R(x_r, d) = S(x_r + d, d)``).

    Parameters
    ----------
    agg : numpy.ndarray
        ``HxWxD'`` uint16 aggregated costs, ``d = min_disparity + k``.
    num_disparities : int, optional
        Disparities to consider (the first ``D <= D'`` entries; default all).
    threads : int
        1 or 2 threads (row bands; same result).
    min_disparity : int
        Disparity of index 0, pixels.
    lr_tolerance : int
        Largest allowed difference between left and right winners, pixels.
    uniqueness : float
        Minimum relative margin ``(S_2 - S_1) / S_2`` of the winner over the best
        non-neighbouring disparity; below it the pixel is a mismatch (0 = off).

    Returns
    -------
    disparity : numpy.ndarray
        ``HxW`` float32 sub-pixel disparity of every pixel (before invalidation).
    state : numpy.ndarray
        ``HxW`` uint8 pixel states (:data:`VALID`, :data:`OCCLUDED`, :data:`MISMATCH`, :data:`OUTSIDE`).
    uniqueness : numpy.ndarray
        ``HxW`` float32 ``(S_2 - S_1) / S_2`` in [0, 1].
    """
    nd = agg.shape[2] if num_disparities is None else int(num_disparities)
    if not 1 <= nd <= agg.shape[2]:
        raise ParameterError(f"num_disparities must be in 1..{agg.shape[2]}, got {num_disparities!r}")
    if agg.dtype != np.uint16 or agg.ndim != 3:
        raise ParameterError(f"winner_take_all needs an HxWxD uint16 cost volume, got {agg.dtype} of shape {agg.shape}")
    if not agg.flags.c_contiguous:
        agg = np.ascontiguousarray(agg)
    h, w = agg.shape[:2]
    disp = np.empty((h, w), dtype=np.float32)
    state = np.zeros((h, w), dtype=np.uint8)
    unique = np.zeros((h, w), dtype=np.float32)
    args = (agg, nd, int(min_disparity), int(lr_tolerance), np.float32(uniqueness), disp, state, unique)
    run_rows(lambda y0, y1: _wta(*args, y0, y1), h, threads)
    return disp, state, unique


_DIRS = np.array(
    [[0, 1], [0, -1], [1, 0], [-1, 0], [1, 1], [1, -1], [-1, 1], [-1, -1],
     [1, 2], [-1, 2], [1, -2], [-1, -2], [2, 1], [-2, 1], [2, -1], [-2, -1]],
    dtype=np.int64,
)


@nb.njit(cache=True, nogil=True)
def _fill(disp, state, dirs, max_steps, outside_mode):
    h, w = disp.shape
    out = disp.copy()
    nd = dirs.shape[0]
    vals = np.empty(nd, dtype=np.float32)
    for y in range(h):
        for x in range(w):
            st = state[y, x]
            if st == 0:
                continue
            if st == 3 and outside_mode == 1:
                # outside the right view: continue the nearest valid pixel inward on the row
                dx = 1 if x - disp[y, x] < 0 else -1
                xx = x + dx
                while 0 <= xx < w and state[y, xx] != 0:
                    xx += dx
                if 0 <= xx < w:
                    out[y, x] = disp[y, xx]
                    continue
            elif st == 3 and outside_mode == 2:
                continue  # keep the winner (the aggregation's extrapolation)
            n = 0
            for i in range(nd):
                dy = dirs[i, 0]
                dx = dirs[i, 1]
                yy = y + dy
                xx = x + dx
                steps = 0
                while 0 <= yy < h and 0 <= xx < w and steps < max_steps:
                    if state[yy, xx] == 0:
                        vals[n] = disp[yy, xx]
                        n += 1
                        break
                    yy += dy
                    xx += dx
                    steps += 1
            if n == 0:
                out[y, x] = np.nan
                continue
            v = np.sort(vals[:n])
            if st == 2:
                out[y, x] = v[n // 2]  # mismatch: median of the neighbours
            else:
                out[y, x] = v[min(1, n - 1)]  # occlusion / outside: second lowest (background)
    return out


def fill_occlusion_aware(
    disparity: np.ndarray, state: np.ndarray, *, max_steps: int = 10_000, outside_mode: int = 1
) -> np.ndarray:
    """Fill invalid pixels from the nearest valid ones along 16 directions (Hirschmueller 2008).

    Occluded and outside pixels take the second-lowest neighbour (they belong to
    the background); mismatched pixels take the median.

    Returns
    -------
    numpy.ndarray
        ``HxW`` float32; NaN only where no valid pixel was found in any direction.
    """
    return _fill(np.ascontiguousarray(disparity, dtype=np.float32), np.ascontiguousarray(state, dtype=np.uint8), _DIRS, int(max_steps), int(outside_mode))


@nb.njit(cache=True, nogil=True)
def _scanfill(disp):
    h, w = disp.shape
    out = disp.copy()
    left = np.empty(w, dtype=np.float32)
    for y in range(h):
        last = np.float32(np.nan)
        for x in range(w):
            v = disp[y, x]
            if np.isfinite(v):
                last = v
            left[x] = last
        last = np.float32(np.nan)
        for x in range(w - 1, -1, -1):
            v = disp[y, x]
            if np.isfinite(v):
                last = v
                continue
            a = left[x]
            if np.isfinite(a) and np.isfinite(last):
                out[y, x] = min(a, last)
            elif np.isfinite(a):
                out[y, x] = a
            else:
                out[y, x] = last
    return out


def scanline_background_fill(disparity: np.ndarray) -> np.ndarray:
    """Background-favouring row fill: each NaN pixel takes the smaller of the nearest
    valid disparities to its left and right on its row (or the one that exists).

    Returns
    -------
    numpy.ndarray
        ``HxW`` float32; NaN only on rows without any valid pixel.
    """
    return _scanfill(np.ascontiguousarray(disparity, dtype=np.float32))
