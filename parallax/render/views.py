"""Views of a :class:`~parallax.stereo.types.DepthResult` for display formats.

The display writers (quilts, side-by-side, anaglyph, animations, LIF) all start
here: take the rectified views and the disparity of a ``DepthResult``, crop and
resize them once, and render any number of camera positions with
:func:`parallax.render.synthesis.synthesize_views`.

Disparity follows ``docs/conventions.md``: pixels of the left view,
``x_right = x_left - d``, NaN = no value. Results without a disparity map
(RGB-D captures) get one from depth (see :func:`result_disparity`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from parallax.errors import ParameterError
from parallax.render.synthesis import fill_disparity, right_view_disparity, synthesize_views
from parallax.stereo.types import DepthResult

__all__ = ["NOMINAL_DISPARITY_FRACTION", "ViewSource", "result_disparity", "prepare_views", "render_result_views"]

#: Disparity, as a fraction of the image width, given to the median depth when a
#: result has only relative depth and no disparity (RGB-D captures).
NOMINAL_DISPARITY_FRACTION = 0.02


def result_disparity(result: DepthResult) -> np.ndarray:
    """Left-view disparity of ``result`` in pixels (``x_right = x_left - d``), NaN = no value.

    ``result.disparity_px`` where ``result.valid`` (NaN elsewhere: display
    formats fill those pixels from their background neighbours) when present.
    Otherwise it follows from the (valid) depth: with
    metric depth, a known focal length and baseline, ``d = f * B / Z - doffs``;
    else ``d = 0.02 * width * median(Z) / Z`` (a nominal stereo strength that
    puts the median depth at 2 % of the width), which only shapes the parallax
    of display formats.
    """
    if result.disparity_px is not None:
        return result.valid_disparity()
    depth = np.asarray(result.depth, dtype=np.float32)
    valid = np.isfinite(depth) & (depth > 0)
    out = np.full(depth.shape, np.nan, dtype=np.float32)
    if not valid.any():
        return out
    if result.depth_is_metric and result.camera is not None and result.baseline_m is not None:
        out[valid] = result.camera.focal_px * result.baseline_m / depth[valid] - result.doffs_px
        return out
    median = float(np.median(depth[valid]))
    out[valid] = NOMINAL_DISPARITY_FRACTION * depth.shape[1] * median / depth[valid]
    return out


@dataclass(frozen=True, kw_only=True)
class ViewSource:
    """Cropped and resized inputs of view synthesis, prepared once for many views.

    Parameters
    ----------
    left : numpy.ndarray
        ``HxWx3`` uint8 RGB left view.
    disparity_px : numpy.ndarray
        ``HxW`` float32 left disparity in pixels of this size, no NaN.
    right : numpy.ndarray or None
        ``HxWx3`` uint8 RGB right view, when used.
    right_disparity_px : numpy.ndarray or None
        ``HxW`` float32 right-view disparity, when ``right`` is used.
    focus_disparity_px : float
        Disparity (pixels of this size) that stays still across views.
    """

    left: np.ndarray
    disparity_px: np.ndarray
    right: np.ndarray | None
    right_disparity_px: np.ndarray | None
    focus_disparity_px: float

    def render(
        self,
        positions: Sequence[float] | np.ndarray,
        *,
        out: np.ndarray | None = None,
        origins: np.ndarray | Sequence[tuple[int, int]] | None = None,
    ) -> np.ndarray:
        """``V x H x W x 3`` uint8 views at ``positions`` (0 = left camera, 1 = right).

        With ``out`` (an ``* x * x 3`` uint8 canvas) and ``origins`` (each view's
        top-left ``(row, column)`` in it), the views are drawn straight into
        ``out``, which is returned (see :func:`~parallax.render.synthesis.synthesize_views`).
        """
        return synthesize_views(
            self.left,
            self.disparity_px,
            positions,
            right_image=self.right,
            right_disparity_px=self.right_disparity_px,
            focus_disparity_px=self.focus_disparity_px,
            out=out,
            origins=origins,
        )


def _crop_box(width: int, height: int, aspect: float | None) -> tuple[int, int, int, int]:
    if aspect is None:
        return 0, 0, width, height
    if not (math.isfinite(aspect) and aspect > 0):
        raise ParameterError(f"aspect must be a positive width/height ratio, got {aspect!r}")
    if width / height > aspect:
        w = max(1, round(height * aspect))
        x0 = (width - w) // 2
        return x0, 0, w, height
    h = max(1, round(width / aspect))
    y0 = (height - h) // 2
    return 0, y0, width, h


def prepare_views(
    result: DepthResult,
    *,
    size: tuple[int, int] | None = None,
    aspect: float | None = None,
    source: Literal["left", "both"] = "both",
    focus: float | Literal["median", "infinity"] = "median",
) -> ViewSource:
    """Crop (centre, to ``aspect``), resize (to ``size``) and fill the inputs of view synthesis.

    Parameters
    ----------
    result : DepthResult
        Rectified views and disparity (or depth).
    size : (int, int), optional
        Output ``(width, height)`` in pixels; ``None`` keeps the (cropped) size.
    aspect : float, optional
        Width/height ratio to centre-crop to before resizing; ``None`` = no crop.
    source : {"left", "both"}
        Warp the left view only, or both views where the right exists.
    focus : float or {"median", "infinity"}
        Disparity (pixels of the *original* result) that stays still across
        views: ``"median"`` = the median disparity of the cropped view, taken
        over its nearest samples at the output size (the subject sits on the
        screen plane), ``"infinity"`` = 0 (plain translated cameras).
    """
    if source not in ("left", "both"):
        raise ParameterError(f"source must be 'left' or 'both', got {source!r}")
    disparity = result_disparity(result)
    height, width = disparity.shape
    x0, y0, cw, ch = _crop_box(width, height, aspect)
    if size is None:
        size = (cw, ch)
    out_w, out_h = int(size[0]), int(size[1])
    if out_w < 1 or out_h < 1:
        raise ParameterError(f"size must be positive (width, height), got {size!r}")
    scale = out_w / cw

    def crop_resize(array: np.ndarray, interpolation: int) -> np.ndarray:
        crop = array[y0 : y0 + ch, x0 : x0 + cw]
        if (cw, ch) == (out_w, out_h):
            return np.ascontiguousarray(crop)
        return cv2.resize(crop, (out_w, out_h), interpolation=interpolation)

    if isinstance(focus, str):
        if focus == "median":
            # Median of the crop's disparities at the output size (nearest samples of
            # the original values, so NaN stays "no value"): the subject of what is shown.
            sampled = crop_resize(disparity, cv2.INTER_NEAREST)
            finite = sampled[np.isfinite(sampled)]
            focus_px = float(np.median(finite)) if finite.size else 0.0
        elif focus == "infinity":
            focus_px = 0.0
        else:
            raise ParameterError(f"focus must be a number, 'median' or 'infinity', got {focus!r}")
    else:
        focus_px = float(focus)
        if not math.isfinite(focus_px):
            raise ParameterError(f"focus must be finite, got {focus!r}")

    shrink = out_w < cw
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    left = crop_resize(np.asarray(result.image), interp)
    disp = fill_disparity(disparity)
    # Nearest keeps depth edges sharp (no in-between "flying" disparities).
    disp = crop_resize(disp, cv2.INTER_NEAREST) * np.float32(scale)
    right = None
    right_disp = None
    if source == "both" and result.right_image is not None:
        right = crop_resize(np.asarray(result.right_image), interp)
        # Right disparity warped at the output size (cheap); at a crop edge, pixels that would
        # enter from outside the crop are filled from the background side instead.
        right_disp = right_view_disparity(disp)
    return ViewSource(
        left=left,
        disparity_px=disp,
        right=right,
        right_disparity_px=right_disp,
        focus_disparity_px=focus_px * scale,
    )


def render_result_views(
    result: DepthResult,
    positions: Sequence[float] | np.ndarray,
    *,
    size: tuple[int, int] | None = None,
    aspect: float | None = None,
    source: Literal["left", "both"] = "both",
    focus: float | Literal["median", "infinity"] = "median",
) -> np.ndarray:
    """Views of ``result`` at ``positions``: ``V x H x W x 3`` uint8 (see :func:`prepare_views`)."""
    return prepare_views(result, size=size, aspect=aspect, source=source, focus=focus).render(positions)
