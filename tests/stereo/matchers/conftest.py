"""Seeded synthetic stereo pairs with exact ground-truth disparity for the matcher tests.

Every surface carries its own texture, defined on its own coordinates, so both
views sample it exactly: a left pixel ``x`` on a layer with disparity ``d`` shows
texture column ``x``; the right view shows it at ``x - d`` (``x_right = x_left - d``).
Nearer layers (larger ``d``) hide farther ones in each view independently, so
occlusions are real.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest


def texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Random colour texture (float32, 0..255), slightly smoothed so it can be resampled."""
    tex = rng.uniform(0, 255, size=(height, width, 3)).astype(np.float32)
    return cv2.GaussianBlur(tex, (0, 0), 0.8)


def layered_pair(
    seed: int,
    height: int,
    width: int,
    layers: list[tuple[float, tuple[int, int, int, int] | None]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Left view, right view and the left view's true disparity of fronto-parallel layers.

    Parameters
    ----------
    layers : list of (disparity_px, box)
        Back to front; ``box`` = ``(y0, y1, x0, x1)`` in left-view pixels, ``None``
        for a full-frame background. Integer disparities keep sampling exact.
    """
    rng = np.random.default_rng(seed)
    pad = int(max(abs(d) for d, _ in layers)) + 4
    left = np.zeros((height, width, 3), np.float32)
    right = np.zeros((height, width, 3), np.float32)
    gt = np.full((height, width), np.nan, np.float32)
    xs = np.arange(width)
    for d, box in layers:
        tex = texture(rng, height, width + 2 * pad)
        y0, y1, x0, x1 = box if box is not None else (0, height, -pad, width + pad)
        rows = slice(y0, y1)
        # left view: columns x0..x1 show texture column x
        lm = (xs >= x0) & (xs < x1)
        left[rows, lm] = tex[rows, xs[lm] + pad]
        gt[rows, lm] = d
        # right view: the same surface appears at x - d
        src = xs + int(d)
        rm = (src >= x0) & (src < x1)
        right[rows, rm] = tex[rows, src[rm] + pad]
    return left.round().astype(np.uint8), right.round().astype(np.uint8), gt


def slanted_pair(seed: int, height: int, width: int, d0: float, slope: float):
    """A single slanted plane ``d(x) = d0 + slope * x`` (fractional disparities), resampled bilinearly."""
    rng = np.random.default_rng(seed)
    pad = int(abs(d0) + abs(slope) * width) + 4
    tex = cv2.GaussianBlur(rng.uniform(0, 255, size=(height, width + 2 * pad, 3)).astype(np.float32), (0, 0), 1.2)
    xs = np.arange(width, dtype=np.float32)
    ys = np.arange(height, dtype=np.float32)
    gx, gy = np.meshgrid(xs, ys)
    left = tex[:, pad : pad + width]
    # right pixel xr shows the plane point whose left x satisfies x - d(x) = xr
    x_left = (gx + d0) / (1.0 - slope)
    right = cv2.remap(tex, (x_left + pad).astype(np.float32), gy, cv2.INTER_LINEAR)
    gt = (d0 + slope * gx).astype(np.float32)
    return left.round().astype(np.uint8), right.round().astype(np.uint8), gt


@pytest.fixture(scope="session")
def fg_bg_pair():
    """Positive disparities: background at 6 px, a box at 18 px and a small box at 26 px (96x128)."""
    return layered_pair(7, 96, 128, [(6, None), (18, (20, 70, 40, 90)), (26, (60, 88, 70, 100))])


@pytest.fixture(scope="session")
def converged_pair():
    """Negative disparities as from a converged 3DS: background at -26 px, a box at -12 px (96x128)."""
    return layered_pair(11, 96, 128, [(-26, None), (-12, (25, 75, 30, 80))])


@pytest.fixture(scope="session")
def slanted_plane():
    """One slanted plane, ``d = 10 + 0.08 x`` (10 .. 19.5 px, fractional), 80x120."""
    return slanted_pair(3, 80, 120, 10.0, 0.08)


@pytest.fixture(scope="session")
def wide_pair():
    """A wider range: background at 10 px, a box at 40 px (96x160), for the coarse-to-fine mode."""
    return layered_pair(13, 96, 160, [(10, None), (40, (20, 76, 50, 120))])
