"""Stereo pairs at the experiment's working size: resize, crop, and the right view's disparity.

A :class:`Pair` holds a rectified pair as float32 arrays in ``[0, 1]``
(``HxWx3``) with the left view's disparity in pixels (``x_right = x_left - d``,
NaN = no value) and the right view's disparity made from it by forward warping
(:func:`right_disparity`). Resizing scales disparities by the horizontal
factor.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from parallax.errors import ParameterError

__all__ = ["Pair", "make_pair", "right_disparity", "random_crop", "resize_to_width"]


@dataclass(frozen=True, kw_only=True)
class Pair:
    """A stereo pair ready for the model.

    Parameters
    ----------
    left, right : numpy.ndarray
        ``HxWx3`` float32 RGB in ``[0, 1]``.
    disparity_left : numpy.ndarray
        ``HxW`` float32 pixels of this size, NaN = no value.
    disparity_right : numpy.ndarray
        ``HxW`` float32, disparity of the right view (``x_left = x_right + d``), NaN where
        no valid left pixel lands.
    """

    left: np.ndarray
    right: np.ndarray
    disparity_left: np.ndarray
    disparity_right: np.ndarray

    def __post_init__(self) -> None:
        shape = self.left.shape
        if len(shape) != 3 or shape[2] != 3 or self.right.shape != shape:
            raise ParameterError(f"Pair views must be HxWx3 of one size, got {self.left.shape} and {self.right.shape}")
        for name in ("disparity_left", "disparity_right"):
            if getattr(self, name).shape != shape[:2]:
                raise ParameterError(f"Pair.{name} must be {shape[:2]}, got {getattr(self, name).shape}")


def right_disparity(disparity_left: np.ndarray) -> np.ndarray:
    """The right view's disparity by forward-warping the left one (nearest surface wins).

    Parameters
    ----------
    disparity_left : numpy.ndarray
        ``HxW`` pixels, ``x_right = x_left - d``; NaN = no value.

    Returns
    -------
    numpy.ndarray
        ``HxW`` float32: at right-view pixel ``x`` the largest disparity of the valid
        left pixels that land on it (``round(x_left - d) == x``); NaN where none does
        (disocclusions, and pixels of left pixels without a value).
    """
    d = np.asarray(disparity_left, dtype=np.float32)
    if d.ndim != 2:
        raise ParameterError(f"disparity_left must be HxW, got shape {d.shape}")
    h, w = d.shape
    ys, xs = np.nonzero(np.isfinite(d))
    out = np.full(h * w, -np.inf, dtype=np.float32)
    if ys.size:
        vals = d[ys, xs]
        xr = np.rint(xs - vals).astype(np.int64)
        inside = (xr >= 0) & (xr < w)
        np.maximum.at(out, ys[inside] * w + xr[inside], vals[inside])
    out[~np.isfinite(out)] = np.nan
    return out.reshape(h, w)


def _resize(array: np.ndarray, size: tuple[int, int], *, image: bool) -> np.ndarray:
    w, h = size
    if image:
        shrink = w < array.shape[1]
        return cv2.resize(array, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return cv2.resize(array, (w, h), interpolation=cv2.INTER_NEAREST)


def make_pair(left: np.ndarray, right: np.ndarray, disparity_left: np.ndarray, *, size: tuple[int, int]) -> Pair:
    """Resize a pair to ``size`` (``(w, h)``), scale the disparity by the horizontal factor, add the right disparity.

    Parameters
    ----------
    left, right : numpy.ndarray
        ``HxWx3`` uint8 RGB.
    disparity_left : numpy.ndarray
        ``HxW`` pixels of the input size, NaN = no value.
    size : (int, int)
        Size to resize to, ``(width, height)``.
    """
    if left.shape != right.shape or left.shape[:2] != disparity_left.shape:
        raise ParameterError(
            f"views {left.shape}, {right.shape} and disparity {disparity_left.shape} must have one size"
        )
    sx = size[0] / left.shape[1]
    lv = _resize(left, size, image=True).astype(np.float32) / 255.0
    rv = _resize(right, size, image=True).astype(np.float32) / 255.0
    dl = _resize(np.asarray(disparity_left, dtype=np.float32), size, image=False) * np.float32(sx)
    return Pair(left=lv, right=rv, disparity_left=dl, disparity_right=right_disparity(dl))


def resize_to_width(
    left: np.ndarray, right: np.ndarray, disparity_left: np.ndarray, *, width: int, multiple: int
) -> Pair:
    """The whole pair at ``width`` pixels wide, the height keeping the aspect, rounded to ``multiple``."""
    h, w = left.shape[:2]
    height = max(multiple, int(round(h * width / w / multiple)) * multiple)
    return make_pair(left, right, disparity_left, size=(width, height))


def random_crop(
    left: np.ndarray,
    right: np.ndarray,
    disparity_left: np.ndarray,
    *,
    crop: tuple[int, int],
    rng: np.random.Generator,
    max_zoom: float = 1.25,
) -> Pair:
    """A random crop of ``crop`` (``(w, h)``) after a random resize.

    The pair is resized by ``s * max(crop_w / W, crop_h / H)`` with ``s`` drawn
    uniformly from ``[1, max_zoom]`` (so the crop sees between the whole width or
    height and ``1 / max_zoom`` of it), then cropped at a random position.
    """
    h, w = left.shape[:2]
    cw, ch = crop
    scale = float(rng.uniform(1.0, max_zoom)) * max(cw / w, ch / h)
    size = (max(cw, int(round(w * scale))), max(ch, int(round(h * scale))))
    full = make_pair(left, right, disparity_left, size=size)
    x0 = int(rng.integers(0, size[0] - cw + 1))
    y0 = int(rng.integers(0, size[1] - ch + 1))
    sl = (slice(y0, y0 + ch), slice(x0, x0 + cw))
    dl = full.disparity_left[sl]
    return Pair(
        left=np.ascontiguousarray(full.left[sl]),
        right=np.ascontiguousarray(full.right[sl]),
        disparity_left=np.ascontiguousarray(dl),
        disparity_right=right_disparity(dl),
    )
