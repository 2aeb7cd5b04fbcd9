"""Numba kernels behind :mod:`parallax.render.synthesis` (private).

Every kernel works row by row: the views are rectified, so a new camera
position only moves pixels horizontally. A source row is treated as a chain of
1-pixel segments ``[x - 0.5, x + 0.5]``; neighbouring segments whose disparities
differ by at most ``edge_px`` share their end point (so a continuous surface
stays closed when it stretches: no cracks), segments across a larger jump are
cut (so foreground and background never blend). Each segment is rasterised
into the target row at the pixel centres it covers, with a z-buffer on
disparity (larger disparity = nearer wins). Target pixels no segment reaches
are holes (disocclusions); they are filled along the row from the neighbour
with the smaller disparity, i.e. from the background side.

Speed (``render_views``, the multi-view path behind quilts and animations): the
per-row data all views share (colour and disparity as ``W x 4`` float32,
towards-neighbour slopes, segment end disparities) is built once per row; each
view then runs a vectorisable pass for the segments' end points and target
ranges, a scalar z-buffered scatter, a hole fill, and writes uint8 straight into
its tile of the output (a quilt needs no separate assembly). Colour arithmetic
is float32 with FMA contraction: results match a float64 reference to within
1 grey level.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["fill_nan_rows", "render_views", "warp_disparity"]

_NEG = -np.inf


@numba.njit(cache=True, nogil=True, inline="always")
def _ceil(v):
    """``ceil(v)`` as int64 for finite ``|v| < 2**62``, branch-free (numba's float32 ``math.ceil`` is a library call)."""
    i = np.int64(v)
    return i + np.int64(i < v)


@numba.njit(cache=True, nogil=True)
def _splat_row(src, disp, y, shift, focus, edge_px, col, z):
    """Forward-warp row ``y`` of ``src`` by ``shift * (disp - focus)`` into ``col``/``z``.

    ``col`` is ``W x 3`` float32, ``z`` is ``W`` float32 pre-set to -inf.
    """
    w = disp.shape[1]
    for x in range(w):
        d = disp[y, x]
        cl = False
        cr = False
        dl = d
        dr = d
        if x > 0:
            dn = disp[y, x - 1]
            if abs(dn - d) <= edge_px:
                cl = True
                dl = 0.5 * (dn + d)
        if x < w - 1:
            dn = disp[y, x + 1]
            if abs(dn - d) <= edge_px:
                cr = True
                dr = 0.5 * (dn + d)
        a = x - 0.5 + shift * (dl - focus)
        b = x + 0.5 + shift * (dr - focus)
        length = b - a
        lo = a
        hi = b
        if length < 0.0:
            lo = b
            hi = a
        if hi - lo < 1e-9:
            continue
        t0 = _ceil(lo)
        t1 = _ceil(hi) - 1
        if t0 < 0:
            t0 = 0
        if t1 > w - 1:
            t1 = w - 1
        for t in range(t0, t1 + 1):
            u = (t - a) / length - 0.5  # source offset from x, in [-0.5, 0.5]
            if u < 0.0 and cl:
                f = -u
                zt = (1.0 - f) * d + f * disp[y, x - 1]
                if zt > z[t]:
                    z[t] = zt
                    for c in range(3):
                        col[t, c] = (1.0 - f) * src[y, x, c] + f * src[y, x - 1, c]
            elif u > 0.0 and cr:
                f = u
                zt = (1.0 - f) * d + f * disp[y, x + 1]
                if zt > z[t]:
                    z[t] = zt
                    for c in range(3):
                        col[t, c] = (1.0 - f) * src[y, x, c] + f * src[y, x + 1, c]
            elif d > z[t]:
                z[t] = d
                for c in range(3):
                    col[t, c] = src[y, x, c]


@numba.njit(cache=True, nogil=True)
def _fill_row(col, z):
    """Fill holes (z == -inf) of one row from the background side (smaller disparity)."""
    w = z.shape[0]
    x = 0
    while x < w:
        if z[x] != _NEG:
            x += 1
            continue
        start = x
        while x < w and z[x] == _NEG:
            x += 1
        left = start - 1
        right = x  # first valid after the run, or w
        if left < 0 and right >= w:
            for t in range(start, x):
                z[t] = 0.0
            continue
        if left < 0:
            pick = right
        elif right >= w:
            pick = left
        elif z[left] <= z[right]:
            pick = left
        else:
            pick = right
        for t in range(start, x):
            z[t] = z[pick]
            for c in range(3):
                col[t, c] = col[pick, c]


# Float flags that keep infinities (the z-buffer's "empty" is -inf) but let LLVM
# contract a*b+c into FMAs and use reciprocals: changes below 1e-6 relative.
# The parallel loops below run on the first threading layer that loads: OpenMP, then numba's own
# workqueue; TBB last. (Probing TBB first makes numba warn when another library -- Open3D -- has
# loaded an older libtbb; the result is the same on every layer.)
numba.config.THREADING_LAYER_PRIORITY = ["omp", "workqueue", "tbb"]  # type: ignore[attr-defined]

_FAST = {"nsz", "arcp", "contract"}


@numba.njit(cache=True, nogil=True, fastmath=_FAST)
def _prep_row(src, disp, y, focus, edge_px, base, slope, dlf, drf):
    """Per-row data every view of row ``y`` shares.

    ``base[x]`` = ``(d, r, g, b)`` of source pixel ``x``; ``slope[x, 0]``/``slope[x, 1]``
    = the change of those four towards the left/right neighbour when it is on the
    same surface (disparities within ``edge_px``), else 0 (the segment half is flat);
    ``dlf``/``drf`` = disparity minus ``focus`` at the segment's left/right end.
    """
    w = disp.shape[1]
    for x in range(w):
        d = disp[y, x]
        base[x, 0] = d
        for c in range(3):
            base[x, c + 1] = np.float32(src[y, x, c])
    for x in range(w):
        d = base[x, 0]
        dl = d
        dr = d
        for c in range(4):
            slope[x, 0, c] = 0.0
            slope[x, 1, c] = 0.0
        if x > 0 and abs(base[x - 1, 0] - d) <= edge_px:
            dl = np.float32(0.5) * (base[x - 1, 0] + d)
            for c in range(4):
                slope[x, 0, c] = base[x - 1, c] - base[x, c]
        if x < w - 1 and abs(base[x + 1, 0] - d) <= edge_px:
            dr = np.float32(0.5) * (base[x + 1, 0] + d)
            for c in range(4):
                slope[x, 1, c] = base[x + 1, c] - base[x, c]
        dlf[x] = dl - focus
        drf[x] = dr - focus


@numba.njit(cache=True, nogil=True, fastmath=_FAST)
def _splat(base, slope, dlf, drf, shift, col, seg_a, seg_inv, seg_t0, seg_t1):
    """Forward-warp one prepared row by ``shift * (d - focus)`` into ``col`` (``W x 4``: z, r, g, b).

    Segment ``x`` spans ``[x - 0.5, x + 0.5]`` in the source; it lands on
    ``[a, b]`` and is rasterised at the target pixel centres it covers, each
    sampled at its source offset ``u`` (linear towards the neighbour on the same
    surface, flat across a depth edge). A z-buffer on disparity keeps the
    nearest; the first of equal disparities stays. Uncovered targets keep z = -inf.
    ``seg_*`` are scratch rows of length ``W``.
    """
    w = dlf.shape[0]
    # segment end points and covered target range (branch-free, vectorised by LLVM)
    for x in range(w):
        a = x - 0.5 + shift * dlf[x]
        b = x + 0.5 + shift * drf[x]
        lo = min(a, b)
        hi = max(a, b)
        t0 = max(int(math.ceil(lo)), 0)
        t1 = min(int(math.ceil(hi)) - 1, w - 1)
        seg_a[x] = a
        seg_inv[x] = b - a
        seg_t0[x] = t0
        seg_t1[x] = t0 - 1 if hi - lo < 1e-6 else t1
    for x in range(w):
        seg_inv[x] = np.float32(1.0) / seg_inv[x] if seg_t1[x] >= seg_t0[x] else np.float32(0.0)
    for t in range(w):
        col[t, 0] = _NEG
    for x in range(w):
        a = seg_a[x]
        inv = seg_inv[x]
        for t in range(seg_t0[x], seg_t1[x] + 1):
            u = np.float32((t - a) * inv) - np.float32(0.5)
            k = np.int64(u >= 0.0)
            f = abs(u)
            zt = base[x, 0] + f * slope[x, k, 0]
            if zt > col[t, 0]:
                for c in range(4):
                    col[t, c] = base[x, c] + f * slope[x, k, c]


@numba.njit(cache=True, nogil=True)
def _fill(col):
    """Fill holes (z == -inf) of one ``W x 4`` row from the background side (smaller disparity)."""
    w = col.shape[0]
    x = 0
    while x < w:
        if col[x, 0] != _NEG:
            x += 1
            continue
        start = x
        while x < w and col[x, 0] == _NEG:
            x += 1
        left = start - 1
        right = x  # first valid after the run, or w
        if left < 0 and right >= w:
            for t in range(start, x):
                for c in range(4):
                    col[t, c] = 0.0
            continue
        if left < 0:
            pick = right
        elif right >= w:
            pick = left
        elif col[left, 0] <= col[right, 0]:
            pick = left
        else:
            pick = right
        for t in range(start, x):
            for c in range(4):
                col[t, c] = col[pick, c]


@numba.njit(cache=True, nogil=True, fastmath=_FAST)
def _merge(col_l, col_r, wl, wr, merge_px):
    """Merge the right view's warped row into the left's (both ``W x 4``: z, r, g, b).

    Where only one has a sample it is kept; where the right one is nearer by more
    than ``merge_px`` it wins; where both are within ``merge_px`` (the same
    surface) they are blended ``wl * left + wr * right``; otherwise the left stays.
    Branch-free (selects), so LLVM can vectorise it.
    """
    w = col_l.shape[0]
    for t in range(w):
        zr = col_r[t, 0]
        zl = col_l[t, 0]
        # -inf (no sample) needs no special case: an empty left loses to any right
        # sample, and a difference involving -inf is never within merge_px
        take_r = zr > zl + merge_px
        blend = abs(zr - zl) <= merge_px
        for c in range(4):
            lv = col_l[t, c]
            rv = col_r[t, c]
            mixed = wl * lv + wr * rv
            col_l[t, c] = rv if take_r else (mixed if blend else lv)


@numba.njit(cache=True, parallel=True, fastmath=_FAST)
def render_views(left, disp_l, right, disp_r, positions, focus, edge_px, merge_px, use_right, out, tile_y, tile_x):
    """Render ``len(positions)`` views straight into tiles of ``out`` (``* x * x 3`` uint8).

    View ``v`` lands at ``out[tile_y[v] : tile_y[v] + H, tile_x[v] : tile_x[v] + W]``
    (a ``V x H x W x 3`` stack is ``out`` reshaped to ``(V H) x W x 3`` with
    ``tile_y = v H``, ``tile_x = 0``; a quilt passes its tile corners).

    ``left``/``right`` are ``H x W x 3`` uint8 colour, ``disp_l``/``disp_r``
    ``H x W`` float32 without NaN. A left pixel moves by ``-p * (d - focus)``, a
    right pixel by ``(1 - p) * (d_r - focus)``. Where both sources land within
    ``merge_px`` disparity they are blended with weights ``1 - p`` and ``p``
    (clipped to [0, 1]); otherwise the nearer one wins.

    Work runs in parallel over source rows; each row's neighbour analysis is done
    once and reused by every view. Rows are independent, so the result does not
    depend on the thread count or schedule.
    """
    nv = positions.shape[0]
    h = disp_l.shape[0]
    w = disp_l.shape[1]
    for y in numba.prange(h):
        base_l = np.empty((w, 4), np.float32)
        slope_l = np.empty((w, 2, 4), np.float32)
        dlf_l = np.empty(w, np.float32)
        drf_l = np.empty(w, np.float32)
        col_l = np.empty((w, 4), np.float32)
        seg_a = np.empty(w, np.float64)
        seg_inv = np.empty(w, np.float32)
        seg_t0 = np.empty(w, np.int64)
        seg_t1 = np.empty(w, np.int64)
        _prep_row(left, disp_l, y, focus, edge_px, base_l, slope_l, dlf_l, drf_l)
        nr = w if use_right else 0
        base_r = np.empty((nr, 4), np.float32)
        slope_r = np.empty((nr, 2, 4), np.float32)
        dlf_r = np.empty(nr, np.float32)
        drf_r = np.empty(nr, np.float32)
        col_r = np.empty((nr, 4), np.float32)
        if use_right:
            _prep_row(right, disp_r, y, focus, edge_px, base_r, slope_r, dlf_r, drf_r)
        for v in range(nv):
            p = positions[v]
            _splat(base_l, slope_l, dlf_l, drf_l, -p, col_l, seg_a, seg_inv, seg_t0, seg_t1)
            if use_right:
                _splat(base_r, slope_r, dlf_r, drf_r, np.float32(1.0) - p, col_r, seg_a, seg_inv, seg_t0, seg_t1)
                wr = min(max(p, np.float32(0.0)), np.float32(1.0))
                _merge(col_l, col_r, np.float32(1.0) - wr, wr, merge_px)
            _fill(col_l)
            # colours are convex combinations of 0..255 samples: round half up, no clamp needed
            dst = out[tile_y[v] + y, tile_x[v] : tile_x[v] + w]
            for t in range(w):
                dst[t, 0] = np.uint8(np.int32(col_l[t, 1] + np.float32(0.5)))
                dst[t, 1] = np.uint8(np.int32(col_l[t, 2] + np.float32(0.5)))
                dst[t, 2] = np.uint8(np.int32(col_l[t, 3] + np.float32(0.5)))


@numba.njit(cache=True, parallel=True)
def warp_disparity(disp, shift, edge_px, out):
    """Forward-warp a disparity map by ``shift * d`` (z-buffered, holes from the background)."""
    h, w = disp.shape
    for y in numba.prange(h):
        col = np.zeros((w, 3), np.float32)
        z = np.full(w, _NEG, np.float32)
        # the colour carries nothing here; the warped z is the disparity we want
        src = np.zeros((1, w, 3), np.float32)
        row = np.empty((1, w), np.float32)
        for x in range(w):
            row[0, x] = disp[y, x]
        _splat_row(src, row, 0, shift, 0.0, edge_px, col, z)
        _fill_row(col, z)
        for x in range(w):
            out[y, x] = z[x]


@numba.njit(cache=True, parallel=True)
def fill_nan_rows(disp, fallback, out):
    """Copy ``disp`` into ``out`` with NaN runs filled from the smaller (background) neighbour."""
    h, w = disp.shape
    for y in numba.prange(h):
        x = 0
        while x < w:
            if not math.isnan(disp[y, x]):
                out[y, x] = disp[y, x]
                x += 1
                continue
            start = x
            while x < w and math.isnan(disp[y, x]):
                x += 1
            has_l = start > 0
            has_r = x < w
            if has_l and has_r:
                val = min(disp[y, start - 1], disp[y, x])
            elif has_l:
                val = disp[y, start - 1]
            elif has_r:
                val = disp[y, x]
            else:
                val = fallback
            for t in range(start, x):
                out[y, t] = val
