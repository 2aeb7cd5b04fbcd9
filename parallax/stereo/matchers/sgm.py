"""Semi-global matching (Hirschmueller 2008): cost aggregation along 8 image paths,
over a full disparity range or over a narrow per-pixel band of disparities.

``S(p, d) = sum_r L_r(p, d)`` with
``L_r(p, d) = C(p, d) + min(L_r(p-r, d), L_r(p-r, d +- 1) + P1, min_k L_r(p-r, k) + P2) - min_k L_r(p-r, k)``.
``P2`` is edge-aware: it is divided by ``1 + |g(p) - g(p-r)| / p2_gamma`` (``g`` the
guide intensity, 0..255) and never drops below ``P1``.

**Bands.** Label ``k`` of pixel ``p`` stands for disparity ``d = offsets[p] + k``
(``offsets`` an ``HxW`` integer map; a constant map is the ordinary full-range
volume). The recurrence compares labels of neighbouring pixels by their absolute
disparity: a disparity the neighbour does not hold costs at least
``min_k L_r(p-r, k) + P2`` (a jump), exactly as if the neighbour's value there were
infinite. This is the coarse-to-fine "tube" SGM (Rothermel et al. 2012, tSGM).

Compiled with numba (``cache=True``) and deterministic. Costs are uint8, sums
uint16 (exact integers).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from parallax.errors import ParameterError
from parallax.stereo.matchers.threads import run_pair, run_rows

__all__ = ["aggregate_sgm"]

_I16 = np.int16
#: Path value of padding entries: above any real path value (<= 255 + P2 <= 8191) and
#: still far from int16 overflow after adding P1.
_BIG = np.int16(16000)


@nb.njit(cache=True, nogil=True, fastmath=True, error_model="numpy", inline="always")
def _path(cf, c0, prev, p0, cur, q0, nd, m, base, p1, tmp, first):
    """One path step: the new vector ``cur[q0 : q0 + nd]`` from the costs ``cf[c0 : c0 + nd]``
    and the neighbour's vector, whose value at label ``k - 1 .. k + 1`` is
    ``prev[p0 + k .. p0 + k + 2]`` (its padding holds ``_BIG``); adds it to ``tmp`` and
    returns its minimum. Flat arrays with unsigned indices and int16 arithmetic
    (explicit casts keep numba from widening it) let the label loop run 16 lanes per
    256-bit vector.
    """
    mn = _BIG
    for k in range(nd):
        u = np.uint64(k)
        a = prev[p0 + u + np.uint64(1)]
        b = _I16(prev[p0 + u] + p1)
        e = _I16(prev[p0 + u + np.uint64(2)] + p1)
        a = a if a < b else b
        a = a if a < e else e
        a = a if a < base else base
        v = _I16(_I16(cf[c0 + u]) + a - m)
        cur[q0 + u] = v
        mn = v if v < mn else mn
        if first:
            tmp[u] = v
        else:
            tmp[u] = _I16(tmp[u] + v)
    return mn


@nb.njit(cache=True, nogil=True, error_model="numpy")  # exact division: no fastmath
def _row_setup(offsets, guide, y, yq, dx, p1, p2, gamma, pad, lim, pen, sh):
    """Per pixel of row ``y``: the edge-aware ``P2`` towards neighbour ``(yq, x + dx)``
    (``pen``) and the index of label 0 in that neighbour's padded vector (``sh``)."""
    w = guide.shape[1]
    x0 = max(0, -dx)
    x1 = min(w, w - dx)
    for x in range(x0, x1):
        if gamma > 0:
            q = _I16(np.float32(p2) / (np.float32(1.0) + abs(guide[y, x] - guide[yq, x + dx]) / gamma))
            pen[x] = q if q > p1 else p1
        else:
            pen[x] = p2
        s = offsets[y, x] - offsets[yq, x + dx]
        s = s if s < lim else lim
        s = s if s > -lim else -lim
        sh[x] = pad + s


@nb.njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def _pass(cost, offsets, guide, p1, p2, gamma, acc, forward, accumulate):
    """Sum of four paths into ``acc`` (uint16; added to it when ``accumulate``, else
    written): from the left, top-left, top and top-right when ``forward``; from the
    right, bottom-right, bottom and bottom-left otherwise.

    Path vectors of the previous/current image row live in ``prev``/``cur`` with one
    padding column each side (x index + 1) and ``nd + 2`` padding labels each side
    (``_BIG``), so a neighbour's vector can be read at any offset difference. A path
    entering from outside the image starts with ``L = C`` (``prev_min = 0`` and
    ``base = 0``: every path value is >= 0).
    """
    h, w, nd = cost.shape
    big = _BIG
    pad = nd + 2
    lim = nd + 1
    width = 3 * nd + 4
    cf = cost.reshape(h * w * nd)
    prev = np.full(3 * (w + 2) * width, big, dtype=np.int16)
    cur = np.full(3 * (w + 2) * width, big, dtype=np.int16)
    prev_min = np.zeros((3, w + 2), dtype=np.int16)
    cur_min = np.zeros((3, w + 2), dtype=np.int16)
    hz = np.full(2 * width, big, dtype=np.int16)
    hz_min = np.zeros(2, dtype=np.int16)
    tmp = np.empty(nd, dtype=np.int16)
    pen = np.zeros((4, w), dtype=np.int16)
    shf = np.full((4, w), pad, dtype=np.int64)
    st = 1 if forward else -1
    zero = _I16(0)
    und = np.uint64(nd)
    uw = np.uint64(width)
    row = np.uint64((w + 2) * width)
    for yi in range(h):
        y = yi if forward else h - 1 - yi
        yp = y - st
        # directions: 0 = (yp, x - st), 1 = (yp, x), 2 = (yp, x + st), 3 = (y, x - st)
        if yi > 0:
            _row_setup(offsets, guide, y, yp, -st, p1, p2, gamma, pad, lim, pen[0], shf[0])
            _row_setup(offsets, guide, y, yp, 0, p1, p2, gamma, pad, lim, pen[1], shf[1])
            _row_setup(offsets, guide, y, yp, st, p1, p2, gamma, pad, lim, pen[2], shf[2])
        _row_setup(offsets, guide, y, y, -st, p1, p2, gamma, pad, lim, pen[3], shf[3])
        for xi in range(w):
            x = xi if forward else w - 1 - xi
            xb = x + 1
            hc = xi & 1
            hp = 1 - hc
            xa = xb - st
            xc = xb + st
            if yi == 0:
                m0 = zero
                m1 = zero
                m2 = zero
                b0 = zero
                b1 = zero
                b2 = zero
                o0 = pad
                o1 = pad
                o2 = pad
            else:
                m1 = prev_min[1, xb]
                b1 = _I16(m1 + pen[1, x])
                o1 = shf[1, x]
                if 0 <= x - st < w:
                    m0 = prev_min[0, xa]
                    b0 = _I16(m0 + pen[0, x])
                    o0 = shf[0, x]
                else:
                    m0 = zero
                    b0 = zero
                    o0 = pad
                if 0 <= x + st < w:
                    m2 = prev_min[2, xc]
                    b2 = _I16(m2 + pen[2, x])
                    o2 = shf[2, x]
                else:
                    m2 = zero
                    b2 = zero
                    o2 = pad
            if xi == 0:
                mh = zero
                bh = zero
                oh = pad
            else:
                mh = hz_min[hp]
                bh = _I16(mh + pen[3, x])
                oh = shf[3, x]
            c0 = np.uint64(y * w + x) * und
            q = np.uint64(xb) * uw + np.uint64(pad)
            cur_min[0, xb] = _path(
                cf, c0, prev, np.uint64(xa) * uw + np.uint64(o0 - 1), cur, q, nd, m0, b0, p1, tmp, True
            )
            cur_min[1, xb] = _path(
                cf, c0, prev, row + np.uint64(xb) * uw + np.uint64(o1 - 1), cur, row + q, nd, m1, b1, p1, tmp, False
            )
            cur_min[2, xb] = _path(
                cf,
                c0,
                prev,
                row + row + np.uint64(xc) * uw + np.uint64(o2 - 1),
                cur,
                row + row + q,
                nd,
                m2,
                b2,
                p1,
                tmp,
                False,
            )
            hz_min[hc] = _path(
                cf,
                c0,
                hz,
                np.uint64(hp) * uw + np.uint64(oh - 1),
                hz,
                np.uint64(hc) * uw + np.uint64(pad),
                nd,
                mh,
                bh,
                p1,
                tmp,
                False,
            )
            a = acc[y, x]
            if accumulate:
                for k in range(nd):
                    a[k] = np.uint16(a[k] + tmp[k])
            else:
                for k in range(nd):
                    a[k] = np.uint16(tmp[k])
        prev, cur = cur, prev
        prev_min, cur_min = cur_min, prev_min


def aggregate_sgm(
    cost: np.ndarray,
    guide: np.ndarray,
    *,
    p1: int,
    p2: int,
    p2_gamma: float = 0.0,
    offsets: np.ndarray | None = None,
    threads: int = 1,
    out: np.ndarray | None = None,
    scratch: np.ndarray | None = None,
) -> np.ndarray:
    """Aggregate an ``HxWxD`` uint8 cost volume along 8 paths.

    Parameters
    ----------
    cost : numpy.ndarray
        ``HxWxD`` uint8 matching costs (lower = better); label ``k`` of pixel ``p``
        is disparity ``offsets[p] + k`` pixels.
    guide : numpy.ndarray
        ``HxW`` grey image (0..255) steering the edge-aware ``P2``.
    p1, p2 : int
        Penalties for disparity changes of 1 pixel and of more than 1 pixel (cost
        units; integers, so sums are exact; ``p2 <= 1744`` keeps int16 path values exact).
    p2_gamma : float
        Intensity scale of the edge-aware ``P2`` (0 = constant ``P2``); the
        effective ``P2`` is rounded down to an integer and never below ``P1``.
    offsets : numpy.ndarray, optional
        ``HxW`` integer disparity (pixels) of label 0 per pixel (a narrow band per
        pixel); ``None`` = the same for every pixel (a full-range volume).
    threads : int
        1, or more to run the forward and backward passes concurrently and sum them
        in row bands (same result for any number).
    out, scratch : numpy.ndarray, optional
        uint16 arrays of the volume's shape to write into (``scratch`` is used by
        the second thread); fresh ones when not given.

    Returns
    -------
    numpy.ndarray
        ``HxWxD`` uint16 aggregated costs ``S`` (exact sums, below ``8 * (255 + P2) < 16000``).

    Raises
    ------
    ParameterError
        If the penalties could overflow uint16 sums or are not ``0 <= p1 <= p2``,
        or ``offsets`` does not match the volume.
    """
    if not (0 <= p1 <= p2 and 8 * (255 + p2) < 16000):
        raise ParameterError(f"SGM penalties must satisfy 0 <= p1 <= p2 <= 1744, got p1={p1!r}, p2={p2!r}")
    cost = np.ascontiguousarray(cost, dtype=np.uint8)
    shape = cost.shape
    if offsets is None:
        offsets = np.zeros(shape[:2], dtype=np.int32)
    elif offsets.shape != shape[:2]:
        raise ParameterError(f"offsets of shape {offsets.shape} must match the cost volume's {shape[:2]}")
    offsets = np.ascontiguousarray(offsets, dtype=np.int32)
    if out is None or out.shape != shape or out.dtype != np.uint16:
        out = np.empty(shape, dtype=np.uint16)
    args = (offsets, np.ascontiguousarray(guide, dtype=np.float32), np.int16(p1), np.int16(p2), np.float32(p2_gamma))
    if threads > 1:
        # the two passes are independent: run them concurrently (the kernels release the GIL)
        if scratch is None or scratch.shape != shape or scratch.dtype != np.uint16:
            scratch = np.empty(shape, dtype=np.uint16)
        run_pair(lambda: _pass(cost, *args, out, True, False), lambda: _pass(cost, *args, scratch, False, False))
        run_rows(lambda y0, y1: np.add(out[y0:y1], scratch[y0:y1], out=out[y0:y1]), shape[0], threads)
    else:
        _pass(cost, *args, out, True, False)
        _pass(cost, *args, out, False, True)
    return out
