"""Resampling views through a :class:`~parallax.stereo.types.Rectification`, and what the result covers.

A rectification without a lens model or row correction is a homography
(``cv2.warpPerspective``); otherwise every output pixel is mapped back to its
original pixel (:meth:`Rectification.to_original`) and sampled with
``cv2.remap``, in bands of rows to bound memory. Output pixels with no source
pixel are black (0, 0, 0). Pixel ``(0, 0)`` is the centre of the top-left pixel.
"""

from __future__ import annotations

import cv2
import numpy as np

from parallax.stereo.types import Rectification

__all__ = ["warp_view", "rectification_maps", "covered_mask", "common_rectangle"]

_BAND_ROWS = 256
#: Maps of large views are computed on a grid this many pixels apart and interpolated (they are smooth).
_MAP_STEP = 8


def _grid_to_original(rect: Rectification, view: str, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    pts = np.stack([xs.ravel(), ys.ravel()], axis=1)
    return rect.to_original(pts, view).reshape(*xs.shape, 2)


def rectification_maps(
    rect: Rectification, view: str, *, scale: float = 1.0, width: int | None = None, height: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``cv2.remap`` maps (float32 ``HxW`` x and y of the original pixel) for one rectified view.

    ``scale`` renders the rectified frame at another size (``u = (x + 0.5) * scale - 0.5``);
    ``width``/``height`` default to the rectification's size times ``scale``. The
    mapping is evaluated every 8 output pixels and interpolated bilinearly
    (it is smooth: a homography, a lens model and a smooth row correction).
    Positions with no source become -1e6, which remap fills with the border colour.
    """
    out_w = int(width if width is not None else round(rect.width * scale))
    out_h = int(height if height is not None else round(rect.height * scale))
    step = _MAP_STEP if min(out_w, out_h) > 4 * _MAP_STEP else 1
    nx, ny = -(-(out_w - 1) // step) + 1, -(-(out_h - 1) // step) + 1
    us = np.arange(nx, dtype=np.float64) * step
    vs = np.arange(ny, dtype=np.float64) * step
    gx, gy = np.meshgrid((us + 0.5) / scale - 0.5, (vs + 0.5) / scale - 0.5)
    coarse = _grid_to_original(rect, view, gx, gy).astype(np.float32)
    # a NaN (no source) must not bleed into its neighbours' interpolation: mark it far outside
    coarse = np.where(np.isfinite(coarse), coarse, np.float32(-1e6))
    if step == 1:
        return np.ascontiguousarray(coarse[..., 0]), np.ascontiguousarray(coarse[..., 1])
    px, py = np.meshgrid(np.arange(out_w, dtype=np.float32) / step, np.arange(out_h, dtype=np.float32) / step)
    map_x = cv2.remap(np.ascontiguousarray(coarse[..., 0]), px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    map_y = cv2.remap(np.ascontiguousarray(coarse[..., 1]), px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return map_x, map_y


def warp_view(image: np.ndarray, rect: Rectification, view: str, *, scale: float = 1.0) -> np.ndarray:
    """The rectified ``view`` ("left" or "right") of ``image``: bilinear, black where there is no source.

    Parameters
    ----------
    image : numpy.ndarray
        The original view, ``HxWx3`` uint8 (or ``HxW``).
    rect : Rectification
        How it maps to the rectified frame.
    view : {"left", "right"}
        Which view ``image`` is.
    scale : float
        Render the rectified frame scaled by this (1 = its own size).
    """
    out_w, out_h = int(round(rect.width * scale)), int(round(rect.height * scale))
    h = rect.H_left if view == "left" else rect.H_right
    if rect.is_homography or (
        view == "left" and rect.distortion_left is None
    ):  # the left view never has a row correction
        s = np.array([[scale, 0.0, 0.5 * scale - 0.5], [0.0, scale, 0.5 * scale - 0.5], [0.0, 0.0, 1.0]])
        full = s @ h
        if np.allclose(full, np.eye(3)) and image.shape[:2] == (out_h, out_w):
            return image
        return cv2.warpPerspective(
            np.ascontiguousarray(image),
            full,
            (out_w, out_h),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(0, 0, 0),
        )
    map_x, map_y = rectification_maps(rect, view, scale=scale, width=out_w, height=out_h)
    return cv2.remap(
        np.ascontiguousarray(image),
        map_x,
        map_y,
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )


def _inside(orig: np.ndarray, width: int, height: int) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return (
            np.isfinite(orig[..., 0])
            & (orig[..., 0] >= -0.5)
            & (orig[..., 0] <= width - 0.5)
            & (orig[..., 1] >= -0.5)
            & (orig[..., 1] <= height - 0.5)
        )


def covered_mask(rect: Rectification, view: str, source_width: int, source_height: int) -> np.ndarray:
    """Boolean ``HxW`` mask of rectified pixels whose source lies inside the original view (of the given size)."""
    if (
        rect.method == "none"
        and rect.is_homography
        and np.allclose(rect.H_left if view == "left" else rect.H_right, np.eye(3))
    ):
        out = np.zeros((rect.height, rect.width), dtype=bool)
        out[: min(rect.height, source_height), : min(rect.width, source_width)] = True
        return out
    mask = np.empty((rect.height, rect.width), dtype=bool)
    xs = np.arange(rect.width, dtype=np.float64)
    for top in range(0, rect.height, _BAND_ROWS):
        bottom = min(rect.height, top + _BAND_ROWS)
        gx, gy = np.meshgrid(xs, np.arange(top, bottom, dtype=np.float64))
        mask[top:bottom] = _inside(_grid_to_original(rect, view, gx, gy), source_width, source_height)
    return mask


def _largest_rectangle(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Largest all-True axis-aligned rectangle ``(x0, y0, x1, y1)`` (inclusive) of a boolean matrix, or None."""
    rows, cols = mask.shape
    heights = np.zeros(cols, dtype=np.int64)
    best: tuple[int, tuple[int, int, int, int] | None] = (0, None)
    for r in range(rows):
        heights = np.where(mask[r], heights + 1, 0)
        stack: list[int] = []
        for c in range(cols + 1):
            hc = heights[c] if c < cols else 0
            start = c
            while stack and heights[stack[-1]] >= hc:
                top = stack.pop()
                left = stack[-1] + 1 if stack else 0
                area = int(heights[top]) * (c - left)
                if area > best[0]:
                    best = (area, (left, r - int(heights[top]) + 1, c - 1, r))
                start = left
            del start
            stack.append(c)
    return best[1]


def common_rectangle(
    rect: Rectification, source_width: int, source_height: int, *, max_cells: int = 240
) -> tuple[int, int, int, int]:
    """The largest rectangle of the rectified frame that both views cover, ``(x0, y0, width, height)`` in pixels.

    Coverage is sampled on a grid of at most ``max_cells`` nodes per side; the
    rectangle found there is shrunk to nodes that are covered with their
    neighbours, then grown pixel by pixel at full resolution while each new
    edge stays covered in both views.
    """
    w, h = rect.width, rect.height
    step = max(1, int(np.ceil(max(w, h) / max_cells)))
    xs = np.arange(0, w, step, dtype=np.float64)
    ys = np.arange(0, h, step, dtype=np.float64)
    if xs[-1] != w - 1:
        xs = np.append(xs, w - 1)
    if ys[-1] != h - 1:
        ys = np.append(ys, h - 1)
    gx, gy = np.meshgrid(xs, ys)
    both = _inside(_grid_to_original(rect, "left", gx, gy), source_width, source_height) & _inside(
        _grid_to_original(rect, "right", gx, gy), source_width, source_height
    )
    if both.all():
        return 0, 0, w, h
    # a cell counts only when all four of its corners are covered (the boundary is smooth between nodes)
    cells = both[:-1, :-1] & both[1:, :-1] & both[:-1, 1:] & both[1:, 1:]
    found = _largest_rectangle(cells)
    if found is None:
        return 0, 0, w, h
    c0, r0, c1, r1 = found
    x0, y0, x1, y1 = int(xs[c0]), int(ys[r0]), int(xs[c1 + 1]), int(ys[r1 + 1])

    def covered(px: np.ndarray, py: np.ndarray) -> bool:
        pts = np.stack([px, py], axis=1).astype(np.float64)
        return bool(
            _inside(rect.to_original(pts, "left"), source_width, source_height).all()
            and _inside(rect.to_original(pts, "right"), source_width, source_height).all()
        )

    def column(x: int) -> bool:
        py = np.arange(y0, y1 + 1)
        return covered(np.full(len(py), x), py)

    def row(y: int) -> bool:
        px = np.arange(x0, x1 + 1)
        return covered(px, np.full(len(px), y))

    # the sampled rectangle's own edges may cut a corner between nodes: shrink until covered
    for _ in range(2 * step + 2):
        changed = False
        if not row(y0):
            y0 += 1
            changed = True
        if not row(y1):
            y1 -= 1
            changed = True
        if not column(x0):
            x0 += 1
            changed = True
        if not column(x1):
            x1 -= 1
            changed = True
        if not changed or x1 <= x0 or y1 <= y0:
            break
    # then grow each side while the new edge is covered
    for _ in range(step + 1):
        grown = False
        if y0 > 0 and row(y0 - 1):
            y0 -= 1
            grown = True
        if y1 < h - 1 and row(y1 + 1):
            y1 += 1
            grown = True
        if x0 > 0 and column(x0 - 1):
            x0 -= 1
            grown = True
        if x1 < w - 1 and column(x1 + 1):
            x1 += 1
            grown = True
        if not grown:
            break
    if x1 <= x0 or y1 <= y0:
        return 0, 0, w, h
    return x0, y0, x1 - x0 + 1, y1 - y0 + 1
