"""New views of a rectified stereo pair: forward warping with depth ordering.

A view at horizontal camera position ``p`` (``0`` = left camera, ``1`` = right
camera, fractions in between, values beyond both ends extrapolate along the
baseline) is made by moving every pixel of the left view by ``-p * d`` pixels,
``d`` its disparity (``x_right = x_left - d``, see ``docs/conventions.md``); a
right-view pixel with right-view disparity ``d_r`` (``x_left = x_right + d_r``)
moves by ``(1 - p) * d_r``.

How the warp stays clean:

* **No cracks.** Each source row is a chain of 1-pixel segments; neighbours
  whose disparities differ by at most ``edge_px`` share their end point, so a
  stretched surface stays closed.
* **No bleeding.** Segments across a larger disparity jump are cut, and colour
  is only interpolated between neighbours of the same surface.
* **Depth ordering.** A z-buffer on disparity keeps the nearest surface.
* **Disocclusions** (target pixels no source pixel reaches) are filled along the
  row from the neighbour with the smaller disparity, i.e. the background.
* **Both views.** With the right view, both are warped and blended with weights
  ``1 - p`` and ``p`` where they see the same surface (disparities within
  ``merge_px``); where they disagree the nearer wins; where one view has a hole
  the other fills it.

With ``focus_disparity_px = f`` pixels move by ``-p * (d - f)`` instead: the
plane at disparity ``f`` stays put (a re-converged, off-axis camera), which is
what display formats want; the z-order still uses ``d``.

The kernels are compiled with numba (cached on disk); all per-view work runs in
parallel over rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

from parallax.capture.types import check_image
from parallax.errors import ParameterError

__all__ = [
    "fill_disparity",
    "right_view_disparity",
    "synthesize_view",
    "synthesize_views",
    "sweep_positions",
]


def _check_disparity(name: str, disparity: object, shape: tuple[int, int]) -> np.ndarray:
    if not isinstance(disparity, np.ndarray) or disparity.ndim != 2:
        got = getattr(disparity, "shape", type(disparity).__name__)
        raise ParameterError(f"{name} must be an HxW float array of disparities in pixels, got {got}")
    if disparity.shape != shape:
        raise ParameterError(
            f"{name} has shape {disparity.shape} but the image is {shape}; give a disparity map of the image's size"
        )
    if not np.issubdtype(disparity.dtype, np.floating) and not np.issubdtype(disparity.dtype, np.integer):
        raise ParameterError(f"{name} must hold numbers, got dtype {disparity.dtype}")
    return disparity


def fill_disparity(disparity_px: np.ndarray) -> np.ndarray:
    """Fill "no value" pixels of a disparity map from the background side, row by row.

    Parameters
    ----------
    disparity_px : numpy.ndarray
        ``HxW`` disparity in pixels; NaN (or +/-inf) = no value.

    Returns
    -------
    numpy.ndarray
        ``HxW`` float32 without NaN: each run of missing pixels takes the smaller
        (farther) of the two valid disparities beside it on its row; rows with no
        value at all take the smallest disparity of the map (0 if the map is empty).
    """
    disp = np.asarray(disparity_px, dtype=np.float32)
    if disp.ndim != 2:
        raise ParameterError(f"disparity_px must be 2-D (HxW), got shape {disp.shape}")
    finite = np.isfinite(disp)
    if finite.all():
        return np.ascontiguousarray(disp)
    disp = np.where(finite, disp, np.float32(np.nan))
    fallback = float(np.nanmin(disp)) if finite.any() else 0.0
    from parallax.render._kernels import fill_nan_rows

    out = np.empty_like(disp)
    fill_nan_rows(np.ascontiguousarray(disp), np.float32(fallback), out)
    return out


def right_view_disparity(disparity_px: np.ndarray, *, edge_px: float = 1.0) -> np.ndarray:
    """The right view's disparity map, made by forward-warping the left one.

    Every left pixel moves to ``x - d`` with its disparity; where several land on
    one right pixel the nearest (largest disparity) wins, which is what a
    left-right consistent right-view match gives wherever the left view sees the
    surface; right-view pixels the left view cannot see (occluded in the left)
    take the background disparity along the row.

    Parameters
    ----------
    disparity_px : numpy.ndarray
        ``HxW`` left-view disparity in pixels (``x_right = x_left - d``); NaN = no value.
    edge_px : float
        Neighbouring disparities further apart than this are separate surfaces.

    Returns
    -------
    numpy.ndarray
        ``HxW`` float32 disparity of the right view, positive, ``x_left = x_right + d_r``; no NaN.
    """
    from parallax.render._kernels import warp_disparity

    disp = fill_disparity(disparity_px)
    out = np.empty_like(disp)
    warp_disparity(disp, np.float32(-1.0), np.float32(edge_px), out)
    return out


def synthesize_views(
    image: np.ndarray,
    disparity_px: np.ndarray,
    positions: Sequence[float] | np.ndarray,
    *,
    right_image: np.ndarray | None = None,
    right_disparity_px: np.ndarray | None = None,
    focus_disparity_px: float = 0.0,
    edge_px: float = 1.0,
    merge_px: float = 1.0,
    out: np.ndarray | None = None,
    origins: np.ndarray | Sequence[tuple[int, int]] | None = None,
) -> np.ndarray:
    """Render several views of a rectified pair at once (per-view work only).

    Parameters
    ----------
    image : numpy.ndarray
        Rectified left view, ``HxWx3`` uint8 RGB.
    disparity_px : numpy.ndarray
        ``HxW`` left-view disparity in pixels, ``x_right = x_left - d``; NaN = no
        value (filled from the background side first, see :func:`fill_disparity`).
    positions : sequence of float
        Camera positions along the baseline: 0 = left camera, 1 = right camera.
    right_image : numpy.ndarray, optional
        Rectified right view, same size. When given, both views are warped and
        blended by visibility.
    right_disparity_px : numpy.ndarray, optional
        ``HxW`` right-view disparity (``x_left = x_right + d_r``, positive); NaN =
        no value. Defaults to :func:`right_view_disparity` of ``disparity_px``.
    focus_disparity_px : float
        Disparity of the plane that stays still across views (0 = infinity,
        the plain translated camera).
    edge_px : float
        Neighbouring disparities further apart than this many pixels are
        treated as a depth edge (not connected, never blended).
    merge_px : float
        Both views' samples within this many pixels of disparity are blended.
    out : numpy.ndarray, optional
        C-contiguous ``* x * x 3`` uint8 canvas to render into (e.g. a quilt)
        instead of a new ``V x H x W x 3`` stack; requires ``origins``.
    origins : array-like of (int, int), optional
        ``V`` pairs ``(row, column)``: the top-left pixel of ``out`` where view
        ``v`` goes; its ``H x W`` tile must lie inside ``out``. Pixels of ``out``
        outside the tiles are left as they are.

    Returns
    -------
    numpy.ndarray
        ``V x H x W x 3`` uint8 RGB, one view per position; or ``out`` when given.

    Raises
    ------
    ParameterError
        On wrong shapes/dtypes, non-finite positions, or tiles outside ``out``.
    """
    from parallax.render._kernels import render_views

    image = check_image("image", image)
    shape = image.shape[:2]
    disp_l = fill_disparity(_check_disparity("disparity_px", disparity_px, shape))
    pos = np.asarray(positions, dtype=np.float32).reshape(-1)
    if pos.size == 0:
        raise ParameterError("positions is empty; give at least one camera position (0 = left, 1 = right)")
    if not np.all(np.isfinite(pos)):
        raise ParameterError(f"positions must be finite numbers, got {pos.tolist()}")
    for name, value in (("focus_disparity_px", focus_disparity_px), ("edge_px", edge_px), ("merge_px", merge_px)):
        if not math.isfinite(value):
            raise ParameterError(f"{name} must be finite, got {value!r}")
    if edge_px < 0 or merge_px < 0:
        raise ParameterError(f"edge_px and merge_px must be >= 0, got {edge_px!r} and {merge_px!r}")
    left = np.ascontiguousarray(image)
    if right_image is not None:
        right = check_image("right_image", right_image)
        if right.shape != image.shape:
            raise ParameterError(
                f"right_image has shape {right.shape} but image is {image.shape}; give two views of one size"
            )
        if right_disparity_px is None:
            disp_r = right_view_disparity(disp_l, edge_px=edge_px)
        else:
            disp_r = fill_disparity(_check_disparity("right_disparity_px", right_disparity_px, shape))
        right_f = np.ascontiguousarray(right)
        use_right = True
    else:
        if right_disparity_px is not None:
            raise ParameterError("right_disparity_px was given without right_image; give both or neither")
        right_f = left
        disp_r = disp_l
        use_right = False
    canvas, tile_y, tile_x = _canvas(out, origins, pos.size, shape)
    render_views(
        left,
        disp_l,
        right_f,
        disp_r,
        pos,
        np.float32(focus_disparity_px),
        np.float32(edge_px),
        np.float32(merge_px),
        use_right,
        canvas,
        tile_y,
        tile_x,
    )
    return out if out is not None else canvas.reshape(pos.size, shape[0], shape[1], 3)


def _canvas(
    out: np.ndarray | None, origins: object, views: int, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``* x * x 3`` uint8 array the kernel writes into and each view's tile corner in it."""
    h, w = shape
    if out is None:
        if origins is not None:
            raise ParameterError("origins was given without out; give both (render into a canvas) or neither")
        tile_y = np.arange(views, dtype=np.int64) * h
        return np.empty((views * h, w, 3), dtype=np.uint8), tile_y, np.zeros(views, dtype=np.int64)
    if not isinstance(out, np.ndarray) or out.ndim != 3 or out.shape[2] != 3 or out.dtype != np.uint8:
        got = (getattr(out, "shape", None), getattr(out, "dtype", type(out).__name__))
        raise ParameterError(f"out must be an HxWx3 uint8 array, got {got}")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ParameterError("out must be a writeable C-contiguous array; allocate it with np.zeros/np.empty")
    if origins is None:
        raise ParameterError("out was given without origins; give each view's (row, column) corner in out")
    corners = np.asarray(origins)
    if corners.shape != (views, 2) or not np.issubdtype(corners.dtype, np.integer):
        raise ParameterError(f"origins must be {views} integer (row, column) pairs, got shape {corners.shape}")
    tile_y = np.ascontiguousarray(corners[:, 0], dtype=np.int64)
    tile_x = np.ascontiguousarray(corners[:, 1], dtype=np.int64)
    if tile_y.min() < 0 or tile_x.min() < 0 or tile_y.max() + h > out.shape[0] or tile_x.max() + w > out.shape[1]:
        raise ParameterError(
            f"origins put {w}x{h} views outside out ({out.shape[1]}x{out.shape[0]}); keep every tile inside it"
        )
    return out, tile_y, tile_x


def synthesize_view(
    image: np.ndarray,
    disparity_px: np.ndarray,
    position: float,
    *,
    right_image: np.ndarray | None = None,
    right_disparity_px: np.ndarray | None = None,
    focus_disparity_px: float = 0.0,
    edge_px: float = 1.0,
    merge_px: float = 1.0,
) -> np.ndarray:
    """The view at camera position ``position`` along the baseline.

    Parameters are those of :func:`synthesize_views` with one ``position``
    (0 = left camera, 1 = right camera; values outside [0, 1] extrapolate).

    Returns
    -------
    numpy.ndarray
        ``HxWx3`` uint8 RGB.
    """
    if not isinstance(position, (int, float, np.floating, np.integer)) or not math.isfinite(float(position)):
        raise ParameterError(f"position must be a finite number (0 = left camera, 1 = right), got {position!r}")
    return synthesize_views(
        image,
        disparity_px,
        [float(position)],
        right_image=right_image,
        right_disparity_px=right_disparity_px,
        focus_disparity_px=focus_disparity_px,
        edge_px=edge_px,
        merge_px=merge_px,
    )[0]


def sweep_positions(
    frames: int, *, start: float = -0.25, stop: float = 1.25, kind: Literal["cosine", "linear"] = "cosine"
) -> np.ndarray:
    """Camera positions for a parallax animation or a multi-view display.

    Parameters
    ----------
    frames : int
        Number of positions (>= 2).
    start, stop : float
        Extreme positions (0 = left camera, 1 = right camera).
    kind : {"cosine", "linear"}
        ``"cosine"``: a looping sweep ``start -> stop -> start`` that slows at the
        ends (``p = c - a cos(2 pi k / frames)``); ``"linear"``: evenly spaced from
        ``start`` to ``stop`` inclusive (quilt views, leftmost first).

    Returns
    -------
    numpy.ndarray
        ``frames`` float32 positions.
    """
    if not isinstance(frames, (int, np.integer)) or frames < 2:
        raise ParameterError(f"frames must be an integer >= 2, got {frames!r}")
    if not (math.isfinite(start) and math.isfinite(stop)):
        raise ParameterError(f"start and stop must be finite, got {start!r} and {stop!r}")
    k = np.arange(frames, dtype=np.float64)
    if kind == "cosine":
        centre, amp = 0.5 * (start + stop), 0.5 * (stop - start)
        return (centre - amp * np.cos(2.0 * np.pi * k / frames)).astype(np.float32)
    if kind == "linear":
        return np.linspace(start, stop, frames).astype(np.float32)
    raise ParameterError(f"kind must be 'cosine' or 'linear', got {kind!r}")
