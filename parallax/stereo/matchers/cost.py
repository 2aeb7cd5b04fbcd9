"""Matching costs for the default matcher: census transform + truncated colour difference.

All kernels are compiled with numba (``cache=True``) and are deterministic.
Disparity convention: ``x_right = x_left - d``; disparity index ``k`` of a cost
volume stands for ``d = min_disparity + k`` pixels.
"""

from __future__ import annotations

import cv2
import numba as nb
import numpy as np
from numba import types
from numba.extending import intrinsic

from parallax.errors import ParameterError
from parallax.stereo.matchers.threads import run_rows

__all__ = ["census_transform", "cost_volume"]


@intrinsic
def _popcount64(typingctx, x):
    """Number of set bits of a uint64 (LLVM ``ctpop``)."""
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return sig, codegen


@nb.njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def _census(padded, out, rx, ry, y0, y1):  # pragma: no cover - compiled
    """Census strings of rows ``y0 .. y1`` into ``out`` (``HxW`` uint64); ``padded`` is the
    image with ``ry``/``rx`` replicated border rows/columns."""
    w = out.shape[1]
    one = np.uint64(1)
    zero = np.uint64(0)
    for y in range(y0, y1):
        row = out[y]
        row[:] = zero
        cen = padded[y + ry, rx : rx + w]  # views indexed from 0 keep the loop vectorisable
        for dy in range(2 * ry + 1):
            for dx in range(2 * rx + 1):
                if dy == ry and dx == rx:
                    continue
                src = padded[y + dy, dx : dx + w]
                for x in range(w):
                    bit = one if src[x] < cen[x] else zero
                    row[x] = (row[x] << one) | bit


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _census_bytes(padded, out, rx, ry, y0, y1):  # pragma: no cover - compiled
    """:func:`_census` of a uint8 image: the bits are gathered a byte at a time (eight
    comparisons OR-ed into uint8 lanes, many to a vector) and the bytes joined into the
    strings last. Same strings: neighbour ``k`` of ``n`` (row by row, centre skipped) is bit ``n - 1 - k``."""
    w = out.shape[1]
    n = (2 * rx + 1) * (2 * ry + 1) - 1
    acc = np.zeros((8, w), dtype=np.uint8)
    zero = np.uint8(0)
    for y in range(y0, y1):
        acc[:] = zero
        cen = padded[y + ry, rx : rx + w]
        k = 0
        for dy in range(2 * ry + 1):
            for dx in range(2 * rx + 1):
                if dy == ry and dx == rx:
                    continue
                bit = np.uint8(1 << ((n - 1 - k) % 8))
                part = acc[(n - 1 - k) // 8]
                src = padded[y + dy, dx : dx + w]
                for x in range(w):
                    part[x] |= bit if src[x] < cen[x] else zero
                k += 1
        row = out[y]
        for x in range(w):
            v = np.uint64(0)
            for j in range(8):
                v |= np.uint64(acc[j, x]) << np.uint64(8 * j)
            row[x] = v


def census_transform(gray: np.ndarray, radius_x: int = 4, radius_y: int = 3, *, threads: int = 1) -> np.ndarray:
    """Census transform of a grey image (window ``(2*radius_x+1) x (2*radius_y+1)``, at most 64 bits).

    Parameters
    ----------
    gray : numpy.ndarray
        ``HxW`` intensities: uint8 (the faster path) or float32.
    radius_x, radius_y : int
        Half window sizes in pixels; borders replicate the edge pixels.
    threads : int
        Threads (row bands; the same result for any number).

    Returns
    -------
    numpy.ndarray
        ``HxW`` uint64 bit strings: bit set where the neighbour is darker than the centre.
    """
    rx, ry = int(radius_x), int(radius_y)
    if (2 * rx + 1) * (2 * ry + 1) - 1 > 64:
        raise ParameterError(f"census window {2 * rx + 1}x{2 * ry + 1} has more than 64 bits; use smaller radii")
    gray = np.asarray(gray)
    gray = np.ascontiguousarray(gray, dtype=np.uint8 if gray.dtype == np.uint8 else np.float32)
    padded = cv2.copyMakeBorder(gray, ry, ry, rx, rx, cv2.BORDER_REPLICATE)
    out = np.empty(gray.shape, dtype=np.uint64)  # (first written by the threads that fill it)
    kernel = _census_bytes if gray.dtype == np.uint8 else _census
    run_rows(lambda y0, y1: kernel(padded, out, rx, ry, y0, y1), gray.shape[0], threads)
    return out


@nb.njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def _cost_volume(cl, cr, il, ir, offsets, dlo, dhi, w_census, w_ad, t_ad, border_cost, pad_cost, out, y0, y1):
    """``il``/``ir`` are ``HxWx3`` images (0..255 levels). Each row of the right view's
    census and colours is first copied channel-first and mirrored left-right (``[j]`` is
    pixel ``w - 1 - j``), and the left row's colours channel-first, so the label loop
    reads forwards and vectorises. Label ``k`` of pixel (y, x) is ``d = offsets[y, x] + k``;
    labels outside ``dlo..dhi`` get ``pad_cost``."""
    h, w = cl.shape
    ndp = out.shape[2]
    wc = w_ad / np.float32(3.0)
    half = np.float32(0.5)
    top = np.float32(255.0)
    crm = np.empty(w, dtype=np.uint64)
    irm = np.empty((3, w), dtype=np.float32)
    ilr = np.empty((3, w), dtype=np.float32)
    for y in range(y0, y1):
        for j in range(w):
            crm[j] = cr[y, w - 1 - j]
            for c in range(3):
                irm[c, j] = np.float32(ir[y, w - 1 - j, c])
                ilr[c, j] = np.float32(il[y, j, c])
        for x in range(w):
            d0 = offsets[y, x]
            # labels with dlo <= d <= dhi
            r0 = min(max(0, dlo - d0), ndp)
            r1 = max(min(ndp, dhi - d0 + 1), r0)
            # of those, matches inside the right view: 0 <= x - d0 - k <= w - 1
            k0 = min(max(r0, x - d0 - (w - 1)), r1)
            k1 = max(min(r1, x - d0 + 1), k0)
            a = cl[y, x]
            base = w - 1 - x + d0  # mirrored index of x_right = x - d0 - k is base + k
            v0 = ilr[0, x]
            v1 = ilr[1, x]
            v2 = ilr[2, x]
            # views indexed from 0 keep the loop vectorisable
            crv = crm[base + k0 : base + k1]
            r0v = irm[0, base + k0 : base + k1]
            r1v = irm[1, base + k0 : base + k1]
            r2v = irm[2, base + k0 : base + k1]
            ov = out[y, x, k0:k1]
            for i in range(k1 - k0):
                e0 = abs(v0 - r0v[i])
                e0 = e0 if e0 < t_ad else t_ad
                e1 = abs(v1 - r1v[i])
                e1 = e1 if e1 < t_ad else t_ad
                e2 = abs(v2 - r2v[i])
                e2 = e2 if e2 < t_ad else t_ad
                # (numba's @intrinsic supplies typingctx itself; mypy sees the two-argument Python signature)
                t = w_census * np.float32(_popcount64(a ^ crv[i])) + wc * (e0 + e1 + e2) + half  # type: ignore[call-arg]
                t = t if t < top else top
                ov[i] = np.uint8(t)
            for k in range(r0):
                out[y, x, k] = pad_cost
            for k in range(r0, k0):
                out[y, x, k] = border_cost
            for k in range(k1, r1):
                out[y, x, k] = border_cost
            for k in range(r1, ndp):
                out[y, x, k] = pad_cost


def cost_volume(
    census_left: np.ndarray,
    census_right: np.ndarray,
    image_left: np.ndarray,
    image_right: np.ndarray,
    min_disparity: int,
    num_disparities: int,
    *,
    census_weight: float = 1.0,
    ad_weight: float = 0.0,
    ad_truncation: float = 20.0,
    border_cost: int = 64,
    pad_to: int = 16,
    offsets: np.ndarray | None = None,
    labels: int | None = None,
    out: np.ndarray | None = None,
    threads: int = 1,
) -> np.ndarray:
    """Per-pixel matching cost ``C[y, x, k]`` as uint8, over a full range or a per-pixel band.

    ``C = round(census_weight * hamming(census_L(x), census_R(x - d))
    + ad_weight * mean_c min(|I_L - I_R|, ad_truncation))``, saturated at 255;
    where ``x - d`` falls outside the right view the cost is ``border_cost``.

    Without ``offsets``, label ``k`` is ``d = min_disparity + k`` and the label axis
    is padded up to a multiple of ``pad_to`` with cost 255 (a cost that never wins),
    as :func:`~parallax.stereo.matchers.sgm.aggregate_sgm` wants. With ``offsets``
    (a per-pixel band), label ``k`` of pixel ``p`` is ``d = offsets[p] + k`` for
    ``k < labels``, and labels outside ``min_disparity .. min_disparity +
    num_disparities - 1`` cost 255.

    Parameters
    ----------
    census_left, census_right : numpy.ndarray
        ``HxW`` uint64 census strings (:func:`census_transform`).
    image_left, image_right : numpy.ndarray
        ``HxWx3`` images (0..255 levels) for the colour term.
    min_disparity, num_disparities : int
        The disparity range, pixels.
    offsets : numpy.ndarray, optional
        ``HxW`` integer disparity of label 0 per pixel.
    labels : int, optional
        Labels per pixel with ``offsets`` (default ``num_disparities`` padded).
    out : numpy.ndarray, optional
        uint8 ``HxWxD'`` array to write into.
    threads : int
        Threads (row bands; the same result for any number).

    Returns
    -------
    numpy.ndarray
        ``HxWxD'`` uint8 costs (lower = better match).
    """
    nd = int(num_disparities)
    if nd < 1:
        raise ParameterError(f"num_disparities must be >= 1, got {num_disparities!r}")
    if not 0 <= int(border_cost) <= 255:
        raise ParameterError(f"border_cost must be in 0..255, got {border_cost!r}")
    h, w = census_left.shape
    if offsets is None:
        ndp = nd if pad_to <= 1 else -(-nd // pad_to) * pad_to
        offsets = np.full((h, w), int(min_disparity), dtype=np.int32)
    else:
        ndp = int(labels) if labels is not None else (nd if pad_to <= 1 else -(-nd // pad_to) * pad_to)
        if offsets.shape != (h, w) or ndp < 1:
            raise ParameterError(
                f"offsets {offsets.shape} must be HxW {(h, w)} with labels >= 1, got labels={labels!r}"
            )
    if image_left.shape != (h, w, 3) or image_right.shape != (h, w, 3):
        raise ParameterError(
            f"cost_volume needs HxWx3 images of the census size {(h, w)}, got {image_left.shape}, {image_right.shape}"
        )
    if out is None or out.shape != (h, w, ndp) or out.dtype != np.uint8:
        out = np.empty((h, w, ndp), dtype=np.uint8)
    args = (
        census_left,
        census_right,
        np.asarray(image_left),
        np.asarray(image_right),
        np.ascontiguousarray(offsets, dtype=np.int32),
        int(min_disparity),
        int(min_disparity) + nd - 1,
        np.float32(census_weight),
        np.float32(ad_weight),
        np.float32(ad_truncation),
        np.uint8(border_cost),
        np.uint8(255),
        out,
    )
    run_rows(lambda y0, y1: _cost_volume(*args, y0, y1), h, threads)
    return out
