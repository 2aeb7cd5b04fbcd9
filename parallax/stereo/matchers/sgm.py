"""Semi-global matching (Hirschmueller 2008): cost aggregation along 8 image paths (or
the 4 horizontal and vertical ones), over a full disparity range or over a narrow
per-pixel band of disparities.

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
uint16 (exact integers). Each pixel's labels are processed 16 (then 8, then 1) at
a time in explicit int16 vectors (:mod:`~parallax.stereo.matchers.simd`), all four
paths of a pass in one sweep, so the sums are the recurrence's, bit for bit.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from parallax.errors import ParameterError
from parallax.stereo.matchers.simd import vadd, vhmin, vlanes, vload, vmin, vpointer, vsplat, vstore, vsub, vzero
from parallax.stereo.matchers.threads import run_pair, run_rows

__all__ = ["aggregate_sgm", "edge_penalties"]

_I16 = np.int16
#: Path value of padding entries: above any real path value (<= 255 + P2 <= 8191) and
#: still far from int16 overflow after adding P1.
_BIG = np.int16(16000)


@nb.njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _step(c, prev, i, cur, j, m, base, p1):  # pragma: no cover - compiled
    """One path step over a vector of labels: ``cur[j:]`` from the costs ``c`` and the
    neighbour's vector, whose values at labels ``k - 1 .. k + 1`` start at ``prev[i]``,
    ``prev[i + 1]`` and ``prev[i + 2]`` (its padding holds ``_BIG``); returns the new values."""
    a = vload(prev, i + 1, c)
    a = vmin(a, vadd(vload(prev, i, c), p1))
    a = vmin(a, vadd(vload(prev, i + 2, c), p1))
    a = vmin(a, base)
    v = vsub(vadd(c, a), m)
    vstore(cur, j, v)
    return v


@nb.njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _labels(
    like, k0, k1, cf, af, c0, prev, cur, hz, src, dst, mins, bases, p1, diagonals, accumulate
):  # pragma: no cover - compiled
    """Labels ``k0 .. k1 - 1`` of one pixel, in vectors as wide as ``like``, for the paths
    0 (diagonal), 1 (vertical), 2 (diagonal; these three in ``prev``/``cur``) and the
    horizontal one (in ``hz``): ``src[r]`` indexes the neighbour's label ``-1``,
    ``dst[r]`` the new label ``0``; ``mins[r]`` is the neighbour's minimum and
    ``bases[r]`` that plus the jump penalty. Adds (or writes) the paths' sum into the
    flat volume ``af`` from ``c0 + k0`` and returns each path's minimum over these labels."""
    step = vlanes(like)
    big = vsplat(_BIG, like)
    q1 = vsplat(p1, like)
    n0, n1, n2, nh = big, big, big, big
    m0, m1, m2, mh = vsplat(mins[0], like), vsplat(mins[1], like), vsplat(mins[2], like), vsplat(mins[3], like)
    b0, b1, b2, bh = vsplat(bases[0], like), vsplat(bases[1], like), vsplat(bases[2], like), vsplat(bases[3], like)
    k = k0
    while k < k1:
        c = vload(cf, c0 + k, like)
        v1 = _step(c, prev, src[1] + k, cur, dst[1] + k, m1, b1, q1)
        vh = _step(c, hz, src[3] + k, hz, dst[3] + k, mh, bh, q1)
        n1, nh = vmin(n1, v1), vmin(nh, vh)
        total = vadd(v1, vh)
        if diagonals:  # (the same every step: LLVM takes the test out of the loop)
            v0 = _step(c, prev, src[0] + k, cur, dst[0] + k, m0, b0, q1)
            v2 = _step(c, prev, src[2] + k, cur, dst[2] + k, m2, b2, q1)
            n0, n2 = vmin(n0, v0), vmin(n2, v2)
            total = vadd(total, vadd(v0, v2))
        if accumulate:
            total = vadd(total, vload(af, c0 + k, like))
        vstore(af, c0 + k, total)
        k += step
    return vhmin(n0), vhmin(n1), vhmin(n2), vhmin(nh)


@nb.njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _least(a, b):  # pragma: no cover - compiled
    """The smaller of each of two 4-tuples' entries."""
    return min(a[0], b[0]), min(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])


@nb.njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _pixel(
    cf, af, c0, nd, prev, cur, hz, src, dst, mins, bases, p1, diagonals, accumulate
):  # pragma: no cover - compiled
    """All ``nd`` labels of one pixel (:func:`_labels`): 16 at a time, then 8, then one by one.
    Returns the new minima of the four paths."""
    n16 = nd - nd % 16
    n8 = nd - nd % 8
    r = _labels(vzero(16), 0, n16, cf, af, c0, prev, cur, hz, src, dst, mins, bases, p1, diagonals, accumulate)
    if n8 > n16:
        r = _least(
            r, _labels(vzero(8), n16, n8, cf, af, c0, prev, cur, hz, src, dst, mins, bases, p1, diagonals, accumulate)
        )
    if nd > n8:
        r = _least(
            r, _labels(vzero(1), n8, nd, cf, af, c0, prev, cur, hz, src, dst, mins, bases, p1, diagonals, accumulate)
        )
    return r


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _row_setup(offsets, pen_all, kind, ye, y, yq, dx, pad, lim, pen, sh):  # pragma: no cover - compiled
    """Per pixel of row ``y``: the edge-aware ``P2`` towards neighbour ``(yq, x + dx)``
    (``pen``, from :func:`edge_penalties` map ``kind`` at row ``ye``) and the index of
    label 0 in that neighbour's padded vector (``sh``)."""
    w = offsets.shape[1]
    x0 = max(0, -dx)
    x1 = min(w, w - dx)
    for x in range(x0, x1):
        pen[x] = pen_all[kind, ye, x if dx >= 0 else x + dx]
        s = offsets[y, x] - offsets[yq, x + dx]
        s = s if s < lim else lim
        s = s if s > -lim else -lim
        sh[x] = pad + s


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _pass(cost, offsets, pen_all, p1, acc, forward, diagonals, state, yi0, yi1, written):  # pragma: no cover - compiled
    """Sum of four paths into ``acc`` (uint16) over the pass's rows ``yi0 .. yi1 - 1``
    (counted in the pass's direction): written for rows before ``written``, added to
    it after. The paths come from the left, top-left, top and top-right when
    ``forward``; from the right, bottom-right, bottom and bottom-left otherwise;
    without the two diagonal ones unless ``diagonals``. ``state`` (:func:`_path_state`)
    carries the paths from one call to the next, so a pass can run in parts.

    Path vectors of the previous/current image row live in ``rows`` (one buffer per
    row parity) with one padding column each side (x index + 1) and ``nd + 2``
    padding labels each side (``_BIG``), so a neighbour's vector can be read at any
    offset difference. A path entering from outside the image starts with
    ``L = C`` (``prev_min = 0`` and ``base = 0``: every path value is >= 0).
    """
    h, w, nd = cost.shape
    pad = nd + 2
    lim = nd + 1
    width = 3 * nd + 4
    rows, row_mins, hz, hz_min = state
    cf = vpointer(cost.reshape(h * w * nd))
    af = vpointer(acc.reshape(h * w * nd))
    hzp = vpointer(hz)
    pen = np.zeros((4, w), dtype=np.int16)
    shf = np.full((4, w), pad, dtype=np.int64)
    st = 1 if forward else -1
    zero = _I16(0)
    row = (w + 2) * width
    for yi in range(yi0, yi1):
        y = yi if forward else h - 1 - yi
        yp = y - st
        ye = y if yp > y else yp  # the row of the edges between rows y and yp
        prev, cur = vpointer(rows[1 - (yi & 1)]), vpointer(rows[yi & 1])
        prev_min, cur_min = row_mins[1 - (yi & 1)], row_mins[yi & 1]
        accumulate = yi >= written
        # directions: 0 = (yp, x - st), 1 = (yp, x), 2 = (yp, x + st), 3 = (y, x - st); their
        # edges are of kinds 2, 1, 3 and 0 of edge_penalties in both passes
        if yi > 0:
            _row_setup(offsets, pen_all, 2, ye, y, yp, -st, pad, lim, pen[0], shf[0])
            _row_setup(offsets, pen_all, 1, ye, y, yp, 0, pad, lim, pen[1], shf[1])
            _row_setup(offsets, pen_all, 3, ye, y, yp, st, pad, lim, pen[2], shf[2])
        _row_setup(offsets, pen_all, 0, y, y, y, -st, pad, lim, pen[3], shf[3])
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
            c0 = (y * w + x) * nd
            q = xb * width + pad
            src = (xa * width + o0 - 1, row + xb * width + o1 - 1, 2 * row + xc * width + o2 - 1, hp * width + oh - 1)
            dst = (q, row + q, 2 * row + q, hc * width + pad)
            r = _pixel(
                cf, af, c0, nd, prev, cur, hzp, src, dst, (m0, m1, m2, mh), (b0, b1, b2, bh), p1, diagonals, accumulate
            )
            cur_min[0, xb], cur_min[1, xb], cur_min[2, xb], hz_min[hc] = r


@nb.njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _penalty(a, b, two, one, gam, low):  # pragma: no cover - compiled
    q = np.floor(two / (one + np.abs(a - b) / gam))
    return np.int16(q if q > low else low)


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _penalties(g, p1, p2, gamma, pen, y0, y1):  # pragma: no cover - compiled
    """:func:`edge_penalties` of rows ``y0 .. y1`` into ``pen`` (float32 IEEE arithmetic, no fastmath)."""
    h, w = g.shape
    two, one, gam, low = np.float32(p2), np.float32(1.0), np.float32(gamma), np.float32(p1)
    for y in range(y0, y1):
        a = g[y]
        for x in range(w - 1):
            pen[0, y, x] = _penalty(a[x], a[x + 1], two, one, gam, low)
        if y + 1 < h:
            b = g[y + 1]
            for x in range(w):
                pen[1, y, x] = _penalty(a[x], b[x], two, one, gam, low)
            for x in range(w - 1):
                pen[2, y, x] = _penalty(a[x], b[x + 1], two, one, gam, low)
                pen[3, y, x] = _penalty(a[x + 1], b[x], two, one, gam, low)


def edge_penalties(guide: np.ndarray, p1: int, p2: int, gamma: float, *, threads: int = 1) -> np.ndarray:
    """Edge-aware ``P2`` of every pair of neighbouring pixels: ``4 x H x W`` int16.

    ``[0, y, x]``: ``(y, x)``-``(y, x + 1)``; ``[1, y, x]``: ``(y, x)``-``(y + 1, x)``;
    ``[2, y, x]``: ``(y, x)``-``(y + 1, x + 1)``; ``[3, y, x]``: ``(y, x + 1)``-``(y + 1, x)``.
    ``P2 / (1 + |g_p - g_q| / gamma)`` rounded down, never below ``P1`` (``P2`` where
    ``gamma`` is 0 and on entries past the border). Float32 IEEE arithmetic (no fast-math),
    so the penalties are the same on every machine and for any number of ``threads``.
    """
    g = np.ascontiguousarray(guide, dtype=np.float32)
    h, w = g.shape
    pen = np.full((4, h, w), p2, dtype=np.int16)
    if gamma <= 0:
        return pen
    run_rows(lambda y0, y1: _penalties(g, int(p1), int(p2), float(gamma), pen, y0, y1), h, threads)
    return pen


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _pass_full(cost, pen, p1, acc, forward, diagonals, state, yi0, yi1, written):  # pragma: no cover - compiled
    """:func:`_pass` for a full-range volume (every pixel's label 0 is the same disparity):
    path vectors need one padding label each side, and the penalties come from
    :func:`edge_penalties` (``pen``). Same sums as :func:`_pass`; kept apart because the
    narrow rows and the missing per-pixel label shifts make it about a fifth faster,
    and full range is the default matcher's case."""
    h, w, nd = cost.shape
    width = nd + 2
    rows, row_mins, hz, hz_min = state
    cf = vpointer(cost.reshape(h * w * nd))
    af = vpointer(acc.reshape(h * w * nd))
    hzp = vpointer(hz)
    st = 1 if forward else -1
    zero = _I16(0)
    row = (w + 2) * width
    # diagonal edges: (y, x)-(y+1, x+1) is pen[2], (y, x+1)-(y+1, x) is pen[3]; the neighbour
    # (yp, x - st) of a pass lies on the first kind in both passes, (yp, x + st) on the second
    for yi in range(yi0, yi1):
        y = yi if forward else h - 1 - yi
        yp = y - st
        ye = y if yp > y else yp  # the row of the edges between rows y and yp
        prev, cur = vpointer(rows[1 - (yi & 1)]), vpointer(rows[yi & 1])
        prev_min, cur_min = row_mins[1 - (yi & 1)], row_mins[yi & 1]
        accumulate = yi >= written
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
            else:
                m1 = prev_min[1, xb]
                b1 = _I16(m1 + pen[1, ye, x])
                if 0 <= x - st < w:
                    m0 = prev_min[0, xa]
                    b0 = _I16(m0 + pen[2, ye, x if x < x - st else x - st])
                else:
                    m0 = zero
                    b0 = zero
                if 0 <= x + st < w:
                    m2 = prev_min[2, xc]
                    b2 = _I16(m2 + pen[3, ye, x if x < x + st else x + st])
                else:
                    m2 = zero
                    b2 = zero
            if xi == 0:
                mh = zero
                bh = zero
            else:
                mh = hz_min[hp]
                bh = _I16(mh + pen[0, y, x if x < x - st else x - st])
            c0 = (y * w + x) * nd
            q = xb * width + 1
            src = (xa * width, row + xb * width, 2 * row + xc * width, hp * width)
            dst = (q, row + q, 2 * row + q, hc * width + 1)
            r = _pixel(
                cf, af, c0, nd, prev, cur, hzp, src, dst, (m0, m1, m2, mh), (b0, b1, b2, bh), p1, diagonals, accumulate
            )
            cur_min[0, xb], cur_min[1, xb], cur_min[2, xb], hz_min[hc] = r


def _path_state(w: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Path vectors a pass carries from row to row (see :func:`_pass`): the three paths from
    the row before and the current row (one buffer per row parity), their minima, and the
    horizontal path's last two vectors and minima. Padding holds ``_BIG``."""
    return (
        np.full((2, 3 * (w + 2) * width), _BIG, dtype=np.int16),
        np.zeros((2, 3, w + 2), dtype=np.int16),
        np.full(2 * width, _BIG, dtype=np.int16),
        np.zeros(2, dtype=np.int16),
    )


def aggregate_sgm(
    cost: np.ndarray,
    guide: np.ndarray,
    *,
    p1: int,
    p2: int,
    p2_gamma: float = 0.0,
    offsets: np.ndarray | None = None,
    paths: int = 8,
    threads: int = 1,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Aggregate an ``HxWxD`` uint8 cost volume along 8 paths (or 4).

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
    paths : {8, 4}
        Paths summed: the horizontal, vertical and diagonal ones (8), or the
        horizontal and vertical ones only (4, about half the work).
    threads : int
        1, or more to run the forward and backward passes concurrently (same result
        for any number): each pass first writes the half of the image it starts in,
        then adds into the other half.
    out : numpy.ndarray, optional
        C-contiguous uint16 array of the volume's shape to write into; a fresh one when not given.

    Returns
    -------
    numpy.ndarray
        ``HxWxD`` uint16 aggregated costs ``S`` (exact sums, below ``paths * (255 + P2) < 16000``).

    Raises
    ------
    ParameterError
        If the penalties could overflow uint16 sums or are not ``0 <= p1 <= p2``,
        ``offsets`` does not match the volume, or ``paths`` is not 4 or 8.
    """
    if paths not in (4, 8) or isinstance(paths, bool):
        raise ParameterError(f"paths must be 4 (horizontal and vertical) or 8 (with the diagonals), got {paths!r}")
    if not (0 <= p1 <= p2 and 8 * (255 + p2) < 16000):
        raise ParameterError(f"SGM penalties must satisfy 0 <= p1 <= p2 <= 1744, got p1={p1!r}, p2={p2!r}")
    cost = np.ascontiguousarray(cost, dtype=np.uint8)
    shape = cost.shape
    if offsets is not None and offsets.shape != shape[:2]:
        raise ParameterError(f"offsets of shape {offsets.shape} must match the cost volume's {shape[:2]}")
    if out is None or out.shape != shape or out.dtype != np.uint16 or not out.flags.c_contiguous:
        out = np.empty(shape, dtype=np.uint16)
    pen = edge_penalties(guide, p1, p2, p2_gamma, threads=threads)
    h, w, nd = shape
    diagonals = paths == 8
    if offsets is None:  # one range for every pixel: the leaner kernel, same sums
        width = nd + 2

        def part(forward: bool, state: tuple, yi0: int, yi1: int, written: int) -> None:
            _pass_full(cost, pen, np.int16(p1), out, forward, diagonals, state, yi0, yi1, written)

    else:
        width = 3 * nd + 4
        band = np.ascontiguousarray(offsets, dtype=np.int32)

        def part(forward: bool, state: tuple, yi0: int, yi1: int, written: int) -> None:
            _pass(cost, band, pen, np.int16(p1), out, forward, diagonals, state, yi0, yi1, written)

    down, up = _path_state(w, width), _path_state(w, width)
    if threads > 1:
        # the two passes run concurrently on disjoint rows: each writes the half of the
        # image it starts in, then (after both are done) adds into the other half
        half = h // 2
        run_pair(lambda: part(True, down, 0, half, h), lambda: part(False, up, 0, h - half, h))
        run_pair(lambda: part(True, down, half, h, half), lambda: part(False, up, h - half, h, h - half))
    else:
        part(True, down, 0, h, h)
        part(False, up, 0, h, 0)
    return out
