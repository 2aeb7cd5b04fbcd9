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
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["fill_nan_rows", "render_views", "warp_disparity"]

_NEG = -np.inf


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
        t0 = int(math.ceil(lo))
        t1 = int(math.ceil(hi)) - 1
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


@numba.njit(cache=True, parallel=True)
def render_views(left, disp_l, right, disp_r, positions, focus, edge_px, merge_px, use_right, out):
    """Render ``len(positions)`` views into ``out`` (``V x H x W x 3`` uint8).

    ``left``/``right`` are ``H x W x 3`` float32 colour (0..255), ``disp_l``/``disp_r``
    ``H x W`` float32 without NaN. A left pixel moves by ``-p * (d - focus)``, a
    right pixel by ``(1 - p) * (d_r - focus)``. Where both sources land within
    ``merge_px`` disparity they are blended with weights ``1 - p`` and ``p``
    (clipped to [0, 1]); otherwise the nearer one wins.
    """
    nv = positions.shape[0]
    h = disp_l.shape[0]
    w = disp_l.shape[1]
    for job in numba.prange(nv * h):
        v = job // h
        y = job % h
        p = positions[v]
        col_l = np.empty((w, 3), np.float32)
        z_l = np.full(w, _NEG, np.float32)
        _splat_row(left, disp_l, y, -p, focus, edge_px, col_l, z_l)
        if use_right:
            col_r = np.empty((w, 3), np.float32)
            z_r = np.full(w, _NEG, np.float32)
            _splat_row(right, disp_r, y, 1.0 - p, focus, edge_px, col_r, z_r)
            wr = min(max(p, 0.0), 1.0)
            wl = 1.0 - wr
            for t in range(w):
                if z_r[t] == _NEG:
                    continue
                if z_l[t] == _NEG or z_r[t] > z_l[t] + merge_px:
                    z_l[t] = z_r[t]
                    for c in range(3):
                        col_l[t, c] = col_r[t, c]
                elif z_l[t] <= z_r[t] + merge_px:
                    z_l[t] = wl * z_l[t] + wr * z_r[t]
                    for c in range(3):
                        col_l[t, c] = wl * col_l[t, c] + wr * col_r[t, c]
        _fill_row(col_l, z_l)
        for t in range(w):
            for c in range(3):
                val = col_l[t, c] + 0.5
                if val < 0.0:
                    val = 0.0
                elif val > 255.0:
                    val = 255.0
                out[v, y, t, c] = np.uint8(val)


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
