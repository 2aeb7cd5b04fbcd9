"""Semi-global matching (Hirschmueller 2008): cost aggregation along 8 image paths.

``S(p, d) = sum_r L_r(p, d)`` with
``L_r(p, d) = C(p, d) + min(L_r(p-r, d), L_r(p-r, d +- 1) + P1, min_k L_r(p-r, k) + P2) - min_k L_r(p-r, k)``.
``P2`` is edge-aware: it is divided by ``1 + |g(p) - g(p-r)| / p2_gamma`` (``g`` the
guide intensity, 0..255) and never drops below ``P1``. Compiled with numba
(``cache=True``), single-threaded and deterministic.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba as nb
import numpy as np

__all__ = ["aggregate_sgm", "box_aggregate"]

_BIG = np.float32(1e30)


_LANES = 16


@nb.njit(cache=True, nogil=True, fastmath=True, inline="always")
def _upd(a, b, e, base, p1):
    """``min(a, b + P1, e + P1, base)``, written with selects so LLVM vectorises it."""
    b = b + p1
    e = e + p1
    a = a if a < b else b
    a = a if a < e else e
    return a if a < base else base


@nb.njit(cache=True, nogil=True, fastmath=True, inline="always")
def _p2(g0, g1, p1, p2, gamma):
    if gamma <= 0:
        return p2
    q = p2 / (np.float32(1.0) + abs(g0 - g1) / gamma)
    return q if q > p1 else p1


@nb.njit(cache=True, nogil=True, fastmath=True)
def _pass(cost, guide, p1, p2, gamma, acc, forward):
    """Add four paths to ``acc``: from the left, top-left, top and top-right when
    ``forward``; from the right, bottom-right, bottom and bottom-left otherwise.

    Path vectors of the previous/current image row live in ``prev``/``cur`` with one
    padding column each side (x index + 1) and one padding disparity each side (+BIG).
    A path starts (``L = C``) where its previous pixel is outside the image: the
    padding column holds zeros there via ``base = 0 + BIG`` and ``prev_min = 0``.
    """
    h, w, nd = cost.shape
    big = _BIG
    prev = np.full((3, w + 2, nd + 2), big, dtype=np.float32)
    cur = np.full((3, w + 2, nd + 2), big, dtype=np.float32)
    prev_min = np.zeros((3, w + 2), dtype=np.float32)
    cur_min = np.zeros((3, w + 2), dtype=np.float32)
    hz = np.full((2, nd + 2), big, dtype=np.float32)
    hz_min = np.zeros(2, dtype=np.float32)
    lanes = np.empty((4, _LANES), dtype=np.float32)
    st = 1 if forward else -1
    zero = np.float32(0.0)
    for yi in range(h):
        y = yi if forward else h - 1 - yi
        yp = y - st
        for xi in range(w):
            x = xi if forward else w - 1 - xi
            xb = x + 1
            hc = xi & 1
            hp = 1 - hc
            g = guide[y, x]
            xa = xb - st
            xc = xb + st
            # previous-row paths; a path entering from outside starts with L = C
            if yi == 0:
                m0 = zero
                m1 = zero
                m2 = zero
                b0 = zero
                b1 = zero
                b2 = zero
            else:
                m1 = prev_min[1, xb]
                b1 = m1 + _p2(g, guide[yp, x], p1, p2, gamma)
                if 0 <= x - st < w:
                    m0 = prev_min[0, xa]
                    b0 = m0 + _p2(g, guide[yp, x - st], p1, p2, gamma)
                else:
                    m0 = zero
                    b0 = zero
                if 0 <= x + st < w:
                    m2 = prev_min[2, xc]
                    b2 = m2 + _p2(g, guide[yp, x + st], p1, p2, gamma)
                else:
                    m2 = zero
                    b2 = zero
            if xi == 0:
                mh = zero
                bh = zero
            else:
                mh = hz_min[hp]
                bh = mh + _p2(g, guide[y, x - st], p1, p2, gamma)
            for k in range(nd):
                c = cost[y, x, k]
                v0 = c + _upd(prev[0, xa, k + 1], prev[0, xa, k], prev[0, xa, k + 2], b0, p1) - m0
                v1 = c + _upd(prev[1, xb, k + 1], prev[1, xb, k], prev[1, xb, k + 2], b1, p1) - m1
                v2 = c + _upd(prev[2, xc, k + 1], prev[2, xc, k], prev[2, xc, k + 2], b2, p1) - m2
                vh = c + _upd(hz[hp, k + 1], hz[hp, k], hz[hp, k + 2], bh, p1) - mh
                cur[0, xb, k + 1] = v0
                cur[1, xb, k + 1] = v1
                cur[2, xb, k + 1] = v2
                hz[hc, k + 1] = vh
                acc[y, x, k] += v0 + v1 + v2 + vh
            for j in range(_LANES):
                lanes[0, j] = big
                lanes[1, j] = big
                lanes[2, j] = big
                lanes[3, j] = big
            for k0 in range(0, nd, _LANES):
                for j in range(_LANES):
                    kk = k0 + j + 1
                    v = cur[0, xb, kk]
                    q = lanes[0, j]
                    lanes[0, j] = q if q < v else v
                    v = cur[1, xb, kk]
                    q = lanes[1, j]
                    lanes[1, j] = q if q < v else v
                    v = cur[2, xb, kk]
                    q = lanes[2, j]
                    lanes[2, j] = q if q < v else v
                    v = hz[hc, kk]
                    q = lanes[3, j]
                    lanes[3, j] = q if q < v else v
            for i in range(4):
                q = lanes[i, 0]
                for j in range(1, _LANES):
                    q = q if q < lanes[i, j] else lanes[i, j]
                if i < 3:
                    cur_min[i, xb] = q
                else:
                    hz_min[hc] = q
        prev, cur = cur, prev
        prev_min, cur_min = cur_min, prev_min


def aggregate_sgm(
    cost: np.ndarray, guide: np.ndarray, *, p1: float, p2: float, p2_gamma: float = 0.0, threads: int = 1
) -> np.ndarray:
    """Aggregate an ``HxWxD`` cost volume along 8 paths.

    Parameters
    ----------
    cost : numpy.ndarray
        ``HxWxD`` float32 matching costs (lower = better).
    guide : numpy.ndarray
        ``HxW`` float32 grey image (0..255) steering the edge-aware ``P2``.
    p1, p2 : float
        Penalties for disparity changes of 1 pixel and of more than 1 pixel (cost units).
    p2_gamma : float
        Intensity scale of the edge-aware ``P2`` (0 = constant ``P2``).
    threads : int
        1, or 2 to run the forward and backward passes concurrently (same result).

    Returns
    -------
    numpy.ndarray
        ``HxWxD`` float32 aggregated costs ``S`` (a view when ``D`` was padded to a
        multiple of 16 internally; pass a volume with padding costs already in
        place to avoid the copy).
    """
    cost = np.ascontiguousarray(cost, dtype=np.float32)
    nd = cost.shape[2]
    if nd % _LANES:
        # pad with a cost that never wins (the kernel wants whole lanes of 16)
        padded = np.full(cost.shape[:2] + (nd + _LANES - nd % _LANES,), float(cost.max()) + 2 * p2 + 1, np.float32)
        padded[:, :, :nd] = cost
        cost = padded
    args = (np.ascontiguousarray(guide, dtype=np.float32), np.float32(p1), np.float32(p2), np.float32(p2_gamma))
    fwd = np.zeros(cost.shape, dtype=np.float32)
    if threads > 1:
        # the two passes are independent: run them on two threads (kernels release the GIL)
        bwd = np.zeros(cost.shape, dtype=np.float32)
        with ThreadPoolExecutor(max_workers=2) as pool:
            jobs = [pool.submit(_pass, cost, *args, fwd, True), pool.submit(_pass, cost, *args, bwd, False)]
            for job in jobs:
                job.result()
        np.add(fwd, bwd, out=fwd)
    else:
        _pass(cost, *args, fwd, True)
        _pass(cost, *args, fwd, False)
    return fwd if fwd.shape[2] == nd else fwd[:, :, :nd]


@nb.njit(cache=True, nogil=True, fastmath=True)
def _box(cost, h, w, ry, rx):
    nd = cost.shape[1]
    tmp = np.zeros_like(cost)
    for y in range(h):
        y0 = max(0, y - ry)
        y1 = min(h - 1, y + ry)
        inv = np.float32(1.0 / (y1 - y0 + 1))
        for x in range(w):
            o = y * w + x
            for yy in range(y0, y1 + 1):
                i = yy * w + x
                for k in range(nd):
                    tmp[o, k] += cost[i, k]
            for k in range(nd):
                tmp[o, k] *= inv
    out = np.zeros_like(cost)
    for y in range(h):
        for x in range(w):
            x0 = max(0, x - rx)
            x1 = min(w - 1, x + rx)
            inv = np.float32(1.0 / (x1 - x0 + 1))
            o = y * w + x
            for xx in range(x0, x1 + 1):
                i = y * w + xx
                for k in range(nd):
                    out[o, k] += tmp[i, k]
            for k in range(nd):
                out[o, k] *= inv
    return out


def box_aggregate(cost: np.ndarray, radius_y: int, radius_x: int) -> np.ndarray:
    """Mean of the cost over a ``(2*radius_y+1) x (2*radius_x+1)`` window (borders shrink the window)."""
    cost = np.ascontiguousarray(cost, dtype=np.float32)
    h, w, nd = cost.shape
    return _box(cost.reshape(h * w, nd), h, w, int(radius_y), int(radius_x)).reshape(h, w, nd)
