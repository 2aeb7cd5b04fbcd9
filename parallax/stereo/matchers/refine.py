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
from parallax.stereo.matchers.simd import (
    vadd,
    vfirst_eq,
    vhminu,
    viota,
    vlanes,
    vload,
    vminu,
    vpointer,
    vselect_ltu,
    vsplat,
    vstore,
    vsub,
    vzero,
)
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


#: "No value" of the unsigned 16-bit minima (aggregated costs stay below it).
_NONE = 65535


@nb.njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _first_in(like, p, a, b, m):  # pragma: no cover - compiled
    """First index of ``m`` in ``p[a:b]`` in vectors as wide as ``like`` (``b - a >= lanes``;
    ``b`` if absent), without branching on the data."""
    step = vlanes(like)
    found = b
    i = a
    while i < b:
        i = i if i + step <= b else b - step
        j = vfirst_eq(vload(p, i, like), m)
        at = i + j if j < step else b
        found = at if at < found else found
        i += step
    return found


@nb.njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _min_outside_in(like, p, a, b, lo, hi):  # pragma: no cover - compiled
    """:func:`_min_outside` in vectors as wide as ``like`` (``b - a >= lanes``)."""
    step = vlanes(like)
    none = vsplat(_NONE, like)
    lane = vsub(viota(like), vsplat(lo, like))
    width = vsplat(hi - lo, like)
    acc = none
    i = a
    while i < b:
        i = i if i + step <= b else b - step
        inside = vadd(lane, vsplat(i, like))  # index - lo: below width inside the window
        acc = vminu(acc, vselect_ltu(inside, width, none, vload(p, i, like)))
        i += step
    return vhminu(acc)


@nb.njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _min_outside(p, a, b, lo, hi):  # pragma: no cover - compiled
    """Smallest of the uint16 values ``p[i]``, ``a <= i < b``, outside ``lo <= i < hi``
    (indices below 32768 apart; :data:`_NONE` when there is none)."""
    n = b - a
    if n >= 16:
        return _min_outside_in(vzero(16), p, a, b, lo, hi)
    if n >= 8:
        return _min_outside_in(vzero(8), p, a, b, lo, hi)
    m = np.uint16(_NONE)
    for i in range(a, b):
        v = p[i] if (i < lo or i >= hi) else np.uint16(_NONE)
        m = v if v < m else m
    return m


@nb.njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _first(p, a, b, m):  # pragma: no cover - compiled
    """First index of the value ``m`` in ``p[a:b]`` (``b`` if absent)."""
    n = b - a
    if n >= 16:
        return _first_in(vzero(16), p, a, b, m)
    if n >= 8:
        return _first_in(vzero(8), p, a, b, m)
    for i in range(a, b):
        if p[i] == m:
            return i
    return b


@nb.njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _right_in(like, p, c, best, idx, j, n, g):  # pragma: no cover - compiled
    """:func:`_right_winners` in vectors as wide as ``like`` (``n >= lanes``; an overlapping
    last vector changes nothing twice: its lanes already hold the minimum)."""
    step = vlanes(like)
    lane = viota(like)
    i = 0
    while i < n:
        i = i if i + step <= n else n - step
        v = vload(p, c + i, like)
        b = vload(best, j + i, like)
        vstore(idx, j + i, vselect_ltu(v, b, vadd(lane, vsplat(g + i, like)), vload(idx, j + i, like)))
        vstore(best, j + i, vminu(b, v))
        i += step


@nb.njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _right_winners(p, c, best, idx, j, n, g):  # pragma: no cover - compiled
    """Offer the costs ``p[c : c + n]`` of labels ``g .. g + n - 1`` to the right-view pixels
    mirrored at ``j .. j + n - 1``: each keeps the smaller cost and its label. For one right
    pixel the offers come in increasing disparity, so keeping the first of equal costs gives
    ties to the smaller disparity."""
    if n >= 16:
        _right_in(vzero(16), p, c, best, idx, j, n, g)
    elif n >= 8:
        _right_in(vzero(8), p, c, best, idx, j, n, g)
    else:
        for i in range(n):
            v = p[c + i]
            if v < best[j + i]:
                best[j + i] = v
                idx[j + i] = g + i


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _wta(agg, offsets, dlo, dhi, lr_tol, uniq, disp, state, unique, y0, y1):  # pragma: no cover - compiled
    """Rows ``y0 .. y1 - 1``. Label ``k`` of pixel (y, x) is ``d = offsets[y, x] + k``; only
    labels with ``dlo <= d <= dhi`` count. The winner is the first smallest cost (ties go to
    the smaller disparity); costs are compared as unsigned 16-bit values in int16 SIMD
    vectors (:mod:`~parallax.stereo.matchers.simd`), and must stay below 65535."""
    h, w, nl = agg.shape
    p = vpointer(agg.reshape(h * w * nl))
    best_r = np.empty(w, dtype=np.uint16)  # mirrored: index j = w - 1 - x_right
    idx_r = np.empty(w, dtype=np.int16)
    bp, ip = vpointer(best_r), vpointer(idx_r)
    best_g = np.empty(w, dtype=np.int64)
    for y in range(y0, y1):
        best_r[:] = _NONE
        idx_r[:] = -1
        for x in range(w):
            d0 = offsets[y, x]
            r0 = min(max(0, dlo - d0), nl)
            r1 = max(min(nl, dhi - d0 + 1), r0)
            if r1 == r0:  # no label inside the range (cannot happen for a checked band)
                disp[y, x] = np.float32(min(max(d0, dlo), dhi))
                unique[y, x] = np.float32(0.0)
                best_g[x] = -1
                continue
            c = (y * w + x) * nl
            bv = _min_outside(p, c + r0, c + r1, c, c)  # an empty window: the smallest of all
            bk = _first(p, c + r0, c + r1, bv) - c
            best_g[x] = d0 + bk - dlo
            # best cost away from the winner's neighbours (uniqueness)
            lo, hi = max(bk - 1, r0), min(bk + 2, r1)
            if hi - lo < r1 - r0:
                sv = np.int32(_min_outside(p, c + r0, c + r1, c + lo, c + hi))
                unique[y, x] = np.float32(sv - np.int32(bv)) / np.float32(sv) if sv > 0 else np.float32(1.0)
            else:
                unique[y, x] = np.float32(1.0)
            # right-view winners: S_R(x_r, d) = S(x_r + d, d), for the labels this pixel holds
            k0 = min(max(r0, x - d0 - (w - 1)), r1)
            k1 = max(min(r1, x - d0 + 1), k0)
            _right_winners(p, c + k0, bp, ip, w - 1 - x + d0 + k0, k1 - k0, d0 - dlo + k0)
            # sub-pixel parabola
            off = np.float32(0.0)
            if r0 < bk < r1 - 1:
                a = np.float32(agg[y, x, bk - 1])
                b = np.float32(agg[y, x, bk + 1])
                den = a + b - np.float32(2.0) * np.float32(bv)
                if den > 0:
                    off = np.float32(0.5) * (a - b) / den
            disp[y, x] = d0 + bk + off
        for x in range(w):
            bg = best_g[x]
            if bg < 0:
                state[y, x] = 2
                continue
            xr = x - dlo - bg
            if xr < 0 or xr >= w:
                state[y, x] = 3
                continue
            if uniq > 0 and unique[y, x] < uniq:
                state[y, x] = 2
                continue
            kr = np.int64(idx_r[w - 1 - xr])
            if abs(kr - bg) > lr_tol:
                state[y, x] = 1 if kr > bg else 2
    return disp, state, unique


def winner_take_all(
    agg: np.ndarray,
    min_disparity: int,
    *,
    num_disparities: int | None = None,
    offsets: np.ndarray | None = None,
    lr_tolerance: int = 1,
    uniqueness: float = 0.0,
    threads: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best disparity per pixel with parabola sub-pixel refinement and a left-right check.

    The right view's winners are read from the same volume (``S_R(x_r, d) = S(x_r + d, d)``;
    with a per-pixel band, over the labels the left pixels hold).

    Parameters
    ----------
    agg : numpy.ndarray
        ``HxWxD'`` uint16 aggregated costs; label ``k`` is ``d = min_disparity + k``,
        or ``d = offsets[p] + k`` with a band.
    min_disparity : int
        Smallest disparity considered, pixels.
    num_disparities : int, optional
        Disparities considered: ``min_disparity .. min_disparity + num_disparities - 1``
        (default ``D'``).
    offsets : numpy.ndarray, optional
        ``HxW`` integer disparity of label 0 per pixel (``None`` = ``min_disparity``).
    lr_tolerance : int
        Largest allowed difference between left and right winners, pixels.
    uniqueness : float
        Minimum relative margin ``(S_2 - S_1) / S_2`` of the winner over the best
        non-neighbouring disparity; below it the pixel is a mismatch (0 = off).
    threads : int
        Threads (row bands; the same result for any number).

    Returns
    -------
    disparity : numpy.ndarray
        ``HxW`` float32 sub-pixel disparity of every pixel (before invalidation).
    state : numpy.ndarray
        ``HxW`` uint8 pixel states (:data:`VALID`, :data:`OCCLUDED`, :data:`MISMATCH`, :data:`OUTSIDE`).
    uniqueness : numpy.ndarray
        ``HxW`` float32 ``(S_2 - S_1) / S_2`` in [0, 1].
    """
    if agg.dtype != np.uint16 or agg.ndim != 3:
        raise ParameterError(f"winner_take_all needs an HxWxD uint16 cost volume, got {agg.dtype} of shape {agg.shape}")
    nd = agg.shape[2] if num_disparities is None else int(num_disparities)
    if nd < 1 or (offsets is None and nd > agg.shape[2]):
        raise ParameterError(f"num_disparities must be in 1..{agg.shape[2]}, got {num_disparities!r}")
    if not agg.flags.c_contiguous:
        agg = np.ascontiguousarray(agg)
    h, w = agg.shape[:2]
    if offsets is None:
        offsets = np.full((h, w), int(min_disparity), dtype=np.int32)
    elif offsets.shape != (h, w):
        raise ParameterError(f"offsets of shape {offsets.shape} must match the volume's {(h, w)}")
    disp = np.empty((h, w), dtype=np.float32)
    state = np.zeros((h, w), dtype=np.uint8)
    unique = np.zeros((h, w), dtype=np.float32)
    dlo = int(min_disparity)
    args = (
        agg,
        np.ascontiguousarray(offsets, dtype=np.int32),
        dlo,
        dlo + nd - 1,
        int(lr_tolerance),
        np.float32(uniqueness),
        disp,
        state,
        unique,
    )
    run_rows(lambda y0, y1: _wta(*args, y0, y1), h, threads)
    return disp, state, unique


_DIRS = np.array(
    [
        [0, 1],
        [0, -1],
        [1, 0],
        [-1, 0],
        [1, 1],
        [1, -1],
        [-1, 1],
        [-1, -1],
        [1, 2],
        [-1, 2],
        [1, -2],
        [-1, -2],
        [2, 1],
        [-2, 1],
        [2, -1],
        [-2, -1],
    ],
    dtype=np.int64,
)


@nb.njit(cache=True, nogil=True)
def _weight_table(sigma_color):  # pragma: no cover - compiled
    """The colour weights of :func:`_fill` for every whole colour difference 0 .. 765."""
    lut = np.empty(766, dtype=np.float32)
    for i in range(766):
        dc = np.float32(i)
        lut[i] = np.exp(-dc / (np.float32(3.0) * sigma_color))
    return lut


@nb.njit(cache=True, nogil=True)
def _fill(
    disp, state, image, dirs, lut, max_steps, outside_mode, sigma_color, out, y0, y1
):  # pragma: no cover - compiled
    """Rows ``y0 .. y1`` of ``out`` (a copy of ``disp``): ``sigma_color <= 0``: plain fill
    (``image`` unused); else colour-weighted, the weights looked up in ``lut``
    (:func:`_weight_table`) unless it is empty (an image of fractional levels). Rows only
    read ``disp`` and ``state``, so bands of rows can be filled concurrently."""
    h, w = disp.shape
    nd = dirs.shape[0]
    guided = sigma_color > 0
    table = lut.size > 0
    vals = np.empty(nd, dtype=np.float32)
    wts = np.ones(nd, dtype=np.float32)
    right = np.empty(w, dtype=np.int64)  # nearest valid column at or right of x (w = none)
    left = np.empty(w, dtype=np.int64)  # nearest valid column at or left of x (-1 = none)
    for y in range(y0, y1):
        nxt = w
        for x in range(w - 1, -1, -1):
            if state[y, x] == 0:
                nxt = x
            right[x] = nxt
        nxt = -1
        for x in range(w):
            if state[y, x] == 0:
                nxt = x
            left[x] = nxt
        for x in range(w):
            st = state[y, x]
            if st == 0:
                continue
            if st == 3 and outside_mode == 1:
                # outside the right view: continue the nearest valid pixel inward on the row
                xx = (right[x + 1] if x + 1 < w else w) if x - disp[y, x] < 0 else (left[x - 1] if x > 0 else -1)
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
                found = False
                if dy == 0 and (dx == 1 or dx == -1):  # along the row: precomputed
                    xx = (right[x + 1] if x + 1 < w else w) if dx == 1 else (left[x - 1] if x > 0 else -1)
                    found = 0 <= xx < w and abs(xx - x) <= max_steps
                else:
                    steps = 0
                    while 0 <= yy < h and 0 <= xx < w and steps < max_steps:
                        if state[yy, xx] == 0:
                            found = True
                            break
                        yy += dy
                        xx += dx
                        steps += 1
                if found:
                    vals[n] = disp[yy, xx]
                    if guided:
                        dc = (
                            abs(np.float32(image[yy, xx, 0]) - np.float32(image[y, x, 0]))
                            + abs(np.float32(image[yy, xx, 1]) - np.float32(image[y, x, 1]))
                            + abs(np.float32(image[yy, xx, 2]) - np.float32(image[y, x, 2]))
                        )
                        wts[n] = lut[int(dc)] if table else np.exp(-dc / (np.float32(3.0) * sigma_color))
                    n += 1
            if n == 0:
                out[y, x] = np.nan
                continue
            for i in range(1, n):  # insertion sort of at most 16 values, weights alongside
                v = vals[i]
                q = wts[i]
                j = i - 1
                while j >= 0 and vals[j] > v:
                    vals[j + 1] = vals[j]
                    wts[j + 1] = wts[j]
                    j -= 1
                vals[j + 1] = v
                wts[j + 1] = q
            if st != 2:
                out[y, x] = vals[min(1, n - 1)]  # occlusion / outside: second lowest (background)
            elif not guided:
                out[y, x] = vals[n // 2]  # mismatch: median of the neighbours
            else:  # mismatch: colour-weighted (lower) median of the neighbours
                tot = np.float32(0.0)
                for i in range(n):
                    tot += wts[i]
                acc = np.float32(0.0)
                k = n - 1
                for i in range(n):
                    acc += wts[i]
                    if acc >= np.float32(0.5) * tot:
                        k = i
                        break
                out[y, x] = vals[k]


def fill_occlusion_aware(
    disparity: np.ndarray,
    state: np.ndarray,
    *,
    max_steps: int = 10_000,
    outside_mode: int = 1,
    image: np.ndarray | None = None,
    sigma_color: float = 0.0,
    threads: int = 1,
) -> np.ndarray:
    """Fill invalid pixels from the nearest valid ones along 16 directions (Hirschmueller 2008).

    Occluded pixels (and, with ``outside_mode`` 0, outside ones) take the
    second-lowest neighbour (they belong to the background). Mismatched pixels take
    the median; with ``image`` and ``sigma_color > 0``, the weighted lower median
    with weights ``exp(-mean_c |I(p) - I(q)| / sigma_color)`` (``q`` the neighbour
    the value comes from), so the fill follows colour edges. Outside pixels follow
    ``outside_mode``: 0 as occlusions, 1 continue the nearest valid pixel inward on
    the row (``x - d < 0``: to the right, else to the left), 2 keep ``disparity``.

    Parameters
    ----------
    disparity : numpy.ndarray
        ``HxW`` float32 winners, pixels.
    state : numpy.ndarray
        ``HxW`` uint8 pixel states (:data:`VALID` ... :data:`OUTSIDE`).
    max_steps : int
        Longest walk along a direction, pixels.
    image : numpy.ndarray, optional
        ``HxWx3`` left view (0..255 levels) for the colour weights.
    sigma_color : float
        Colour scale of the weights, grey levels (0 = unweighted median).
    threads : int
        Threads filling bands of rows (same result for any number).

    Returns
    -------
    numpy.ndarray
        ``HxW`` float32; NaN only where no valid pixel was found in any direction.
    """
    h, w = np.shape(disparity)[:2]
    if sigma_color > 0:
        if image is None or np.shape(image) != (h, w, 3):
            raise ParameterError(
                f"fill with sigma_color={sigma_color} needs the HxWx3 image of size {(h, w)}, got "
                f"{None if image is None else np.shape(image)}"
            )
        img = np.asarray(image)  # (levels widened to float32 in the kernel: same differences)
        if img.dtype != np.uint8:
            img = np.ascontiguousarray(img, dtype=np.float32)
    else:
        img = np.zeros((1, 1, 3), dtype=np.float32)
    disp = np.ascontiguousarray(disparity, dtype=np.float32)
    states = np.ascontiguousarray(state, dtype=np.uint8)
    out = disp.copy()
    # weights of whole colour differences (uint8 images) come from a table: one exp per difference, not per pair
    whole = sigma_color > 0 and image is not None and np.asarray(image).dtype == np.uint8
    lut = _weight_table(np.float32(sigma_color)) if whole else np.zeros(0, dtype=np.float32)
    args = (disp, states, img, _DIRS, lut, int(max_steps), int(outside_mode), np.float32(sigma_color), out)
    # finer bands than threads: holes gather in parts of the image, and the pool balances the bands
    run_rows(lambda y0, y1: _fill(*args, y0, y1), h, 4 * threads if threads > 1 else 1)
    return out


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
