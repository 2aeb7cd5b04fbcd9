"""Two-view display formats: side-by-side, over-under, JPS and Dubois anaglyphs.

Layouts (``docs/conventions.md`` for the views):

* side-by-side **parallel**: left view on the left half (for parallel viewing,
  VR players, 3D TVs' "SBS" mode);
* side-by-side **cross-eyed**: right view on the left half;
* **over-under**: left view on top;
* ``.jps``: a JPEG holding a cross-eyed side-by-side pair (right view first,
  the JPS convention).
* **anaglyph** red-cyan with Dubois' least-squares matrices (E. Dubois, "A
  projection method to generate anaglyph stereo images", ICASSP 2001; the
  red-cyan matrices of his 2009 web note). Dubois' projection works on linear
  RGB, so the sRGB transfer curve is removed first and re-applied after
  (IEC 61966-2-1 formulas); results are clipped to [0, 1].

Results without a right view (RGB-D captures) get one synthesised at camera
position 1 (:mod:`parallax.render.views`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from parallax.capture.types import check_image
from parallax.errors import ParameterError
from parallax.outputs.registry import OutputOptions
from parallax.render.options import option_int
from parallax.stereo.types import DepthResult

__all__ = [
    "DUBOIS_RED_CYAN_LEFT",
    "DUBOIS_RED_CYAN_RIGHT",
    "anaglyph",
    "over_under",
    "side_by_side",
    "stereo_pair",
    "write_anaglyph_output",
    "write_anaglyph_views",
    "write_jps_output",
    "write_jps_views",
    "write_over_under_output",
    "write_over_under_views",
    "write_sbs_cross_output",
    "write_sbs_cross_views",
    "write_sbs_output",
    "write_sbs_views",
]

#: Dubois red-cyan matrix applied to the left view (rows: output R, G, B), linear RGB.
DUBOIS_RED_CYAN_LEFT = np.array(
    [[0.437, 0.449, 0.164], [-0.062, -0.062, -0.024], [-0.048, -0.050, -0.017]], dtype=np.float64
)
#: Dubois red-cyan matrix applied to the right view (rows: output R, G, B), linear RGB.
DUBOIS_RED_CYAN_RIGHT = np.array(
    [[-0.011, -0.032, -0.007], [0.377, 0.761, 0.009], [-0.026, -0.093, 1.234]], dtype=np.float64
)


def _pair(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    left = check_image("left", left)
    right = check_image("right", right)
    if left.shape != right.shape:
        raise ParameterError(f"left and right differ in shape ({left.shape} vs {right.shape}); give views of one size")
    return left, right


def side_by_side(
    left: np.ndarray, right: np.ndarray, *, order: Literal["parallel", "cross"] = "parallel"
) -> np.ndarray:
    """``H x 2W x 3`` uint8: ``"parallel"`` puts the left view on the left, ``"cross"`` the right view."""
    left, right = _pair(left, right)
    if order == "parallel":
        return np.concatenate([left, right], axis=1)
    if order == "cross":
        return np.concatenate([right, left], axis=1)
    raise ParameterError(f"order must be 'parallel' or 'cross', got {order!r}")


def over_under(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``2H x W x 3`` uint8 with the left view on top."""
    left, right = _pair(left, right)
    return np.concatenate([left, right], axis=0)


def _srgb_to_linear(image: np.ndarray) -> np.ndarray:
    c = image.astype(np.float64) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    c = np.clip(linear, 0.0, 1.0)
    s = np.where(c <= 0.0031308, 12.92 * c, 1.055 * np.power(c, 1.0 / 2.4) - 0.055)
    return np.clip(np.round(s * 255.0), 0, 255).astype(np.uint8)


def anaglyph(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Red-cyan anaglyph by Dubois' least-squares projection (linear light).

    ``out_linear = clip(L @ left_linear + R @ right_linear, 0, 1)`` per pixel, with
    :data:`DUBOIS_RED_CYAN_LEFT` and :data:`DUBOIS_RED_CYAN_RIGHT`; sRGB decoded
    before and encoded after. Returns ``HxWx3`` uint8 RGB.
    """
    left, right = _pair(left, right)
    lin = _srgb_to_linear(left) @ DUBOIS_RED_CYAN_LEFT.T + _srgb_to_linear(right) @ DUBOIS_RED_CYAN_RIGHT.T
    return _linear_to_srgb(lin)


def stereo_pair(result: DepthResult) -> tuple[np.ndarray, np.ndarray]:
    """The (rectified) left and right views of ``result``; a synthesised right view for RGB-D results.

    The synthesised view is the camera at position 1 (see :func:`parallax.render.views.result_disparity`):
    a plain translation for metric results, re-converged on the median disparity otherwise.
    """
    if result.right_image is not None:
        return np.asarray(result.image), np.asarray(result.right_image)
    from parallax.render.views import render_result_views

    # A metric result gives the real right camera's disparity: translate plainly. A nominal
    # disparity (relative depth) is re-converged on the median so the pair is comfortable.
    metric = result.depth_is_metric and result.camera is not None and result.baseline_m is not None
    right = render_result_views(result, [1.0], source="left", focus="infinity" if metric else "median")[0]
    return np.asarray(result.image), right


def _save(image: np.ndarray, path: Path, options: OutputOptions, *, jpeg: bool | None = None) -> None:
    suffix = path.suffix.lower()
    if jpeg is None:
        jpeg = suffix in (".jpg", ".jpeg", ".jps")
    quality = option_int(options.extra, "quality", 92)
    if not 1 <= quality <= 100:
        raise ParameterError(f"quality must be in 1..100, got {quality}")
    pil = Image.fromarray(image)
    if jpeg:
        pil.save(path, format="JPEG", quality=quality, subsampling=0)
    else:
        pil.save(path, format="PNG")


# Each format has a views writer (the rectified pair: no depth needed, see parallax.outputs.registry)
# and a DepthResult writer that hands it the result's views (synthesising a right view for RGB-D).


def write_sbs_views(left: np.ndarray, right: np.ndarray, path: Path, options: OutputOptions) -> None:
    """Views writer: parallel side-by-side (left view on the left), PNG or JPEG by extension."""
    _save(side_by_side(left, right, order="parallel"), path, options)


def write_sbs_output(result: DepthResult, path: Path, options: OutputOptions) -> None:
    """Registry writer: parallel side-by-side (left view on the left), PNG or JPEG by extension."""
    write_sbs_views(*stereo_pair(result), path, options)


def write_sbs_cross_views(left: np.ndarray, right: np.ndarray, path: Path, options: OutputOptions) -> None:
    """Views writer: cross-eyed side-by-side (right view on the left), PNG or JPEG by extension."""
    _save(side_by_side(left, right, order="cross"), path, options)


def write_sbs_cross_output(result: DepthResult, path: Path, options: OutputOptions) -> None:
    """Registry writer: cross-eyed side-by-side (right view on the left), PNG or JPEG by extension."""
    write_sbs_cross_views(*stereo_pair(result), path, options)


def write_over_under_views(left: np.ndarray, right: np.ndarray, path: Path, options: OutputOptions) -> None:
    """Views writer: over-under (left view on top), PNG or JPEG by extension."""
    _save(over_under(left, right), path, options)


def write_over_under_output(result: DepthResult, path: Path, options: OutputOptions) -> None:
    """Registry writer: over-under (left view on top), PNG or JPEG by extension."""
    write_over_under_views(*stereo_pair(result), path, options)


def write_jps_views(left: np.ndarray, right: np.ndarray, path: Path, options: OutputOptions) -> None:
    """Views writer: ``.jps``, a JPEG with the cross-eyed pair (right view first)."""
    _save(side_by_side(left, right, order="cross"), path, options, jpeg=True)


def write_jps_output(result: DepthResult, path: Path, options: OutputOptions) -> None:
    """Registry writer: ``.jps``, a JPEG with the cross-eyed pair (right view first)."""
    write_jps_views(*stereo_pair(result), path, options)


def write_anaglyph_views(left: np.ndarray, right: np.ndarray, path: Path, options: OutputOptions) -> None:
    """Views writer: Dubois red-cyan anaglyph, PNG or JPEG by extension."""
    _save(anaglyph(left, right), path, options)


def write_anaglyph_output(result: DepthResult, path: Path, options: OutputOptions) -> None:
    """Registry writer: Dubois red-cyan anaglyph, PNG or JPEG by extension."""
    write_anaglyph_views(*stereo_pair(result), path, options)
