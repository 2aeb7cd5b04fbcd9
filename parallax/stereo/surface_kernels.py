"""Compiled per-pixel steps of :mod:`parallax.stereo.surfaces`.

Each function does, in one pass over rows ``y0 .. y1`` (so bands of rows can run
on several threads), what a chain of array expressions there would do in several
full-size passes. Inputs follow that module: disparity in pixels (NaN = no value),
confidence in [0, 1], masks as bool; outputs are written into given arrays.
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = [
    "agreement",
    "denoise_inputs",
    "denoised",
    "finish",
    "propagated",
    "rough_regions",
    "rough_seeds",
    "support",
]


@nb.njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _unit(c):  # pragma: no cover - compiled
    return min(max(c, np.float32(0.0)), np.float32(1.0))


@nb.njit(cache=True, nogil=True, error_model="numpy")
def support(
    disp,
    conf,
    measured,
    plain,
    near,
    plain_weight,
    sigma_disparity,
    reliable,
    treated,
    weight,
    values,
    scale_h,
    scale_v,
    y0,
    y1,
):  # pragma: no cover - compiled
    """Steps 2 and 3: which pixels keep their value (``reliable``: measured and textured) and
    which are replaced (``treated``: plain or ``near`` a plain one, and not reliable); the
    support ``weight`` (measured pixels' confidence, times ``plain_weight`` on plain ones),
    the ``values`` (0 where there is none) and the factors ``exp(-jump / sigma_disparity)``
    of the edges between two measured neighbours (``scale_h``: ``H x W-1``, ``scale_v``:
    ``H-1 x W``; 1 elsewhere)."""
    h, w = disp.shape
    for y in range(y0, y1):
        for x in range(w):
            d = disp[y, x]
            m = measured[y, x] and np.isfinite(d)
            p = plain[y, x]
            r = m and not p
            reliable[y, x] = r
            treated[y, x] = (p or near[y, x]) and not r
            wt = _unit(conf[y, x]) if m else np.float32(0.0)
            weight[y, x] = wt * plain_weight if p else wt
            values[y, x] = d if np.isfinite(d) else np.float32(0.0)
            if x + 1 < w:
                e = disp[y, x + 1]
                if m and measured[y, x + 1] and np.isfinite(e):
                    scale_h[y, x] = np.exp(-abs(e - d) / sigma_disparity)
                else:
                    scale_h[y, x] = np.float32(1.0)
            if y + 1 < h:
                e = disp[y + 1, x]
                if m and measured[y + 1, x] and np.isfinite(e):
                    scale_v[y, x] = np.exp(-abs(e - d) / sigma_disparity)
                else:
                    scale_v[y, x] = np.float32(1.0)


@nb.njit(cache=True, nogil=True, error_model="numpy")
def propagated(
    disp, conf, num, den, treated, min_support, max_confidence, out, out_conf, unsupported, y0, y1
):  # pragma: no cover - compiled
    """Step 4's result: treated pixels take ``num / den`` where ``den >= min_support`` (NaN and
    ``unsupported`` elsewhere) with confidence ``min(den, max_confidence)``; others keep theirs."""
    w = disp.shape[1]
    tiny = np.float32(1e-12)
    for y in range(y0, y1):
        for x in range(w):
            if treated[y, x]:
                s = den[y, x]
                ok = s >= min_support
                out[y, x] = num[y, x] / max(s, tiny) if ok else np.float32(np.nan)
                out_conf[y, x] = min(s, max_confidence)
                unsupported[y, x] = not ok
            else:
                out[y, x] = disp[y, x]
                out_conf[y, x] = conf[y, x]
                unsupported[y, x] = False


@nb.njit(cache=True, nogil=True, error_model="numpy")
def denoise_inputs(
    disp, conf, contrast, denoise_std, treated, target, weight, values, y0, y1
):  # pragma: no cover - compiled
    """Step 7's inputs: ``target`` (low-contrast pixels with a value that steps 2-6 did not
    treat), the support ``weight`` (confidence, 0 without a value) and ``values`` (0 without)."""
    w = disp.shape[1]
    for y in range(y0, y1):
        for x in range(w):
            d = disp[y, x]
            finite = np.isfinite(d)
            target[y, x] = finite and contrast[y, x] < denoise_std and not treated[y, x]
            weight[y, x] = _unit(conf[y, x]) if finite else np.float32(0.0)
            values[y, x] = d if finite else np.float32(0.0)


@nb.njit(cache=True, nogil=True, error_model="numpy")
def agreement(values, surface, target, outlier_px, weight, y0, y1):  # pragma: no cover - compiled
    """Step 7's weights, in place: a target pixel's weight times ``exp(-((value - surface) / outlier_px) ** 2)``."""
    w = values.shape[1]
    for y in range(y0, y1):
        for x in range(w):
            if target[y, x]:
                t = (values[y, x] - surface[y, x]) / outlier_px
                weight[y, x] = weight[y, x] * np.exp(-(t * t))


@nb.njit(cache=True, nogil=True, error_model="numpy")
def denoised(disp, num, den, target, min_support, out, y0, y1):  # pragma: no cover - compiled
    """Step 7's result: target pixels with support above ``min_support`` take ``num / den``."""
    w = disp.shape[1]
    tiny = np.float32(1e-12)
    for y in range(y0, y1):
        for x in range(w):
            s = den[y, x]
            out[y, x] = num[y, x] / max(s, tiny) if target[y, x] and s > min_support else disp[y, x]


@nb.njit(cache=True, nogil=True, error_model="numpy")
def finish(disp, conf, rough, out, out_conf, y0, y1):  # pragma: no cover - compiled
    """Step 8 and the confidence: ``rough`` pixels lose their value; confidence in [0, 1], 0 without a value."""
    w = disp.shape[1]
    for y in range(y0, y1):
        for x in range(w):
            d = np.float32(np.nan) if rough[y, x] else disp[y, x]
            out[y, x] = d
            out_conf[y, x] = _unit(conf[y, x]) if np.isfinite(d) else np.float32(0.0)


@nb.njit(cache=True, nogil=True, error_model="numpy")
def rough_seeds(
    disp, conf, contrast, hi, lo, rough_std, spread_px, rough_confidence, out, y0, y1
):  # pragma: no cover - compiled
    """Step 8's candidates (1.0, else 0.0): untextured (``contrast < rough_std``), unconfident pixels
    with a value whose window spans more than ``spread_px``; returns how many."""
    w = disp.shape[1]
    n = 0
    for y in range(y0, y1):
        for x in range(w):
            r = (
                contrast[y, x] < rough_std
                and np.isfinite(disp[y, x])
                and hi[y, x] - lo[y, x] > spread_px
                and conf[y, x] < rough_confidence
            )
            out[y, x] = np.float32(1.0) if r else np.float32(0.0)
            n += r
    return n


@nb.njit(cache=True, nogil=True, error_model="numpy")
def rough_regions(disp, contrast, density, rough_std, rough_density, out, y0, y1):  # pragma: no cover - compiled
    """Step 8's regions (uint8 0/1): untextured pixels with a value where the candidates' ``density`` exceeds ``rough_density``."""
    w = disp.shape[1]
    for y in range(y0, y1):
        for x in range(w):
            r = density[y, x] > rough_density and contrast[y, x] < rough_std and np.isfinite(disp[y, x])
            out[y, x] = 1 if r else 0
