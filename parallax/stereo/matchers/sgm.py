"""Semi-global matching (Hirschmueller 2008): cost aggregation along 8 image paths.

``S(p, d) = sum_r L_r(p, d)`` with
``L_r(p, d) = C(p, d) + min(L_r(p-r, d), L_r(p-r, d +- 1) + P1, min_k L_r(p-r, k) + P2) - min_k L_r(p-r, k)``.
``P2`` is edge-aware: it is divided by ``1 + |g(p) - g(p-r)| / p2_gamma`` (``g`` the
guide intensity, 0..255) and never drops below ``P1``. Compiled with numba
(``cache=True``) and deterministic. Costs are uint8, sums uint16 (exact integers).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba as nb
import numpy as np

from parallax.errors import ParameterError

__all__ = ["aggregate_sgm"]

_I16 = np.int16
#: Path value of padding entries: above any real path value (<= 255 + P2 <= 8191) and
#: still far from int16 overflow after adding P1.
_BIG = np.int16(16000)


@nb.njit(cache=True, nogil=True, fastmath=True)
def _row_min(buf, i, j):
    """Minimum of ``buf[i, j, 1:-1]`` (an integer reduction, which LLVM vectorises)."""
    nd = buf.shape[2] - 2
    m = _BIG
    for k in range(nd):
        v = buf[i, j, k + 1]
        m = v if v < m else m
    return m


@nb.njit(cache=True, nogil=True, fastmath=True)
def _path(cost, y, x, prev, pi, pj, m, base, p1, cur, ci, cj, tmp, first):
    """One path step at pixel (y, x): ``cur[ci, cj]`` from ``prev[pi, pj]``; adds to ``tmp``.

    All arithmetic is int16 (explicit casts keep numba from widening it), so the
    disparity loop runs 16 lanes per 256-bit vector.
    """
    nd = cost.shape[2]
    for k in range(nd):
        a = prev[pi, pj, k + 1]
        b = _I16(prev[pi, pj, k] + p1)
        e = _I16(prev[pi, pj, k + 2] + p1)
        a = a if a < b else b
        a = a if a < e else e
        a = a if a < base else base
        v = _I16(_I16(cost[y, x, k]) + a - m)
        cur[ci, cj, k + 1] = v
        if first:
            tmp[k] = v
        else:
            tmp[k] = _I16(tmp[k] + v)


@nb.njit(cache=True, nogil=True, fastmath=True)
def _p2(g0, g1, p1, p2, gamma):
    if gamma <= 0:
        return p2
    q = _I16(np.floor(np.float32(p2) / (np.float32(1.0) + abs(g0 - g1) / gamma)))
    return q if q > p1 else p1


@nb.njit(cache=True, nogil=True, fastmath=True)
def _pass(cost, guide, p1, p2, gamma, acc, forward, accumulate):
    """Sum of four paths into ``acc`` (uint16; added to it when ``accumulate``, else
    written): from the left, top-left, top and top-right when ``forward``; from the
    right, bottom-right, bottom and bottom-left otherwise.

    Path vectors of the previous/current image row live in ``prev``/``cur`` with one
    padding column each side (x index + 1) and one padding disparity each side
    (``_BIG``). A path entering from outside the image starts with ``L = C``
    (``prev_min = 0`` and ``base = 0``: every path value is >= 0).
    """
    h, w, nd = cost.shape
    big = _BIG
    prev = np.full((3, w + 2, nd + 2), big, dtype=np.int16)
    cur = np.full((3, w + 2, nd + 2), big, dtype=np.int16)
    prev_min = np.zeros((3, w + 2), dtype=np.int16)
    cur_min = np.zeros((3, w + 2), dtype=np.int16)
    hz3 = np.full((1, 2, nd + 2), big, dtype=np.int16)
    hz_min = np.zeros(2, dtype=np.int16)
    tmp = np.empty(nd, dtype=np.int16)
    st = 1 if forward else -1
    zero = _I16(0)
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
            if yi == 0:
                m0 = zero
                m1 = zero
                m2 = zero
                b0 = zero
                b1 = zero
                b2 = zero
            else:
                m1 = prev_min[1, xb]
                b1 = _I16(m1 + _p2(g, guide[yp, x], p1, p2, gamma))
                if 0 <= x - st < w:
                    m0 = prev_min[0, xa]
                    b0 = _I16(m0 + _p2(g, guide[yp, x - st], p1, p2, gamma))
                else:
                    m0 = zero
                    b0 = zero
                if 0 <= x + st < w:
                    m2 = prev_min[2, xc]
                    b2 = _I16(m2 + _p2(g, guide[yp, x + st], p1, p2, gamma))
                else:
                    m2 = zero
                    b2 = zero
            if xi == 0:
                mh = zero
                bh = zero
            else:
                mh = hz_min[hp]
                bh = _I16(mh + _p2(g, guide[y, x - st], p1, p2, gamma))
            _path(cost, y, x, prev, 0, xa, m0, b0, p1, cur, 0, xb, tmp, True)
            _path(cost, y, x, prev, 1, xb, m1, b1, p1, cur, 1, xb, tmp, False)
            _path(cost, y, x, prev, 2, xc, m2, b2, p1, cur, 2, xb, tmp, False)
            _path(cost, y, x, hz3, 0, hp, mh, bh, p1, hz3, 0, hc, tmp, False)
            if accumulate:
                for k in range(nd):
                    acc[y, x, k] = np.uint16(acc[y, x, k] + tmp[k])
            else:
                for k in range(nd):
                    acc[y, x, k] = np.uint16(tmp[k])
            cur_min[0, xb] = _row_min(cur, 0, xb)
            cur_min[1, xb] = _row_min(cur, 1, xb)
            cur_min[2, xb] = _row_min(cur, 2, xb)
            hz_min[hc] = _row_min(hz3, 0, hc)
        prev, cur = cur, prev
        prev_min, cur_min = cur_min, prev_min


def aggregate_sgm(
    cost: np.ndarray,
    guide: np.ndarray,
    *,
    p1: int,
    p2: int,
    p2_gamma: float = 0.0,
    threads: int = 1,
    out: np.ndarray | None = None,
    scratch: np.ndarray | None = None,
) -> np.ndarray:
    """Aggregate an ``HxWxD`` uint8 cost volume along 8 paths.

    Parameters
    ----------
    cost : numpy.ndarray
        ``HxWxD`` uint8 matching costs (lower = better).
    guide : numpy.ndarray
        ``HxW`` grey image (0..255) steering the edge-aware ``P2``.
    p1, p2 : int
        Penalties for disparity changes of 1 pixel and of more than 1 pixel (cost
        units; integers, so sums are exact; ``p2 <= 1744`` keeps int16 path values exact).
    p2_gamma : float
        Intensity scale of the edge-aware ``P2`` (0 = constant ``P2``); the
        effective ``P2`` is rounded down to an integer and never below ``P1``.
    threads : int
        1, or 2 to run the forward and backward passes concurrently (same result).
    out, scratch : numpy.ndarray, optional
        uint16 arrays of the padded volume's shape to write into (``scratch`` is
        used by the second thread); fresh ones when not given.

    Returns
    -------
    numpy.ndarray
        ``HxWxD`` uint16 aggregated costs ``S`` (exact sums, below ``8 * (255 + P2) < 16000``).

    Raises
    ------
    ParameterError
        If the penalties could overflow uint16 sums or are not ``0 <= p1 <= p2``.
    """
    if not (0 <= p1 <= p2 and 8 * (255 + p2) < 16000):
        raise ParameterError(f"SGM penalties must satisfy 0 <= p1 <= p2 <= 1744, got p1={p1!r}, p2={p2!r}")
    cost = np.ascontiguousarray(cost, dtype=np.uint8)
    shape = cost.shape
    if out is None or out.shape != shape or out.dtype != np.uint16:
        out = np.empty(shape, dtype=np.uint16)
    args = (np.ascontiguousarray(guide, dtype=np.float32), np.int16(p1), np.int16(p2), np.float32(p2_gamma))
    if threads > 1:
        # the two passes are independent: run them on two threads (the kernels release the GIL)
        if scratch is None or scratch.shape != shape or scratch.dtype != np.uint16:
            scratch = np.empty(shape, dtype=np.uint16)
        with ThreadPoolExecutor(max_workers=2) as pool:
            jobs = [pool.submit(_pass, cost, *args, out, True, False), pool.submit(_pass, cost, *args, scratch, False, False)]
            for job in jobs:
                job.result()
        np.add(out, scratch, out=out)
    else:
        _pass(cost, *args, out, True, False)
        _pass(cost, *args, out, False, True)
    return out
