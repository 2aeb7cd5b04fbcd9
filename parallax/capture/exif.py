"""Camera facts from EXIF: make, model, focal length, and intrinsics in pixels where they follow.

Only camera facts are kept: no GPS, no serial numbers, no owner names (the
corpus must stay privacy-safe, and ``Capture.metadata`` travels with it).

Focal length in pixels, in order of preference:

1. ``FocalLength`` (mm) x ``FocalPlaneXResolution`` (pixels per unit of
   ``FocalPlaneResolutionUnit``), scaled from ``PixelXDimension`` to the view.
2. ``FocalLengthIn35mmFilm``: the equivalent focal length on a 36x24 mm frame,
   which by the usual crop-factor reading (CIPA DC-008 leaves it open) matches the
   diagonal: ``focal_px = f35 / 43.2666 mm * diagonal_px``.

Both assume the stored image is the whole sensor frame. When ``PixelXDimension``
/ ``PixelYDimension`` are present and their aspect ratio differs from the
view's by more than 1 %, the view was cropped after capture and no intrinsics
are derived (the facts stay in the metadata).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from PIL import Image

from parallax.capture.types import CameraIntrinsics

__all__ = ["exif_facts", "intrinsics_from_exif", "load_exif"]

# EXIF tag numbers (EXIF 2.32 / CIPA DC-008)
_MAKE, _MODEL, _ORIENTATION, _DATETIME = 0x010F, 0x0110, 0x0112, 0x0132
_EXIF_IFD = 0x8769
_FOCAL_LENGTH, _FOCAL_35MM = 0x920A, 0xA405
_PIXEL_X, _PIXEL_Y = 0xA002, 0xA003
_FP_XRES, _FP_YRES, _FP_UNIT = 0xA20E, 0xA20F, 0xA210
_DATETIME_ORIGINAL, _LENS_MODEL = 0x9003, 0xA434
_MM_PER_UNIT = {2: 25.4, 3: 10.0, 4: 1.0}  # inch, cm, mm
_DIAGONAL_35MM = math.hypot(36.0, 24.0)  # 43.2666 mm


def load_exif(raw: bytes | Image.Exif | None) -> Image.Exif | None:
    """Parse EXIF bytes (with or without the ``Exif\\0\\0`` prefix); None if absent or unreadable."""
    if raw is None or isinstance(raw, Image.Exif):
        return raw
    exif = Image.Exif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            exif.load(raw)
    except (OSError, SyntaxError, ValueError, TypeError, KeyError, IndexError):
        return None
    return exif


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("latin-1", "replace")
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", "").strip()
    return value or None


def exif_facts(exif: Image.Exif | None) -> dict[str, Any]:
    """The camera facts an EXIF block holds, as a JSON-ready dict (absent keys omitted).

    Keys: ``make``, ``model``, ``lens_model``, ``orientation``, ``datetime_original``,
    ``focal_length_mm``, ``focal_length_35mm``, ``pixel_x_dimension``,
    ``pixel_y_dimension``, ``focal_plane_x_resolution``,
    ``focal_plane_y_resolution``, ``focal_plane_resolution_unit``.
    """
    if exif is None:
        return {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            sub = exif.get_ifd(_EXIF_IFD)
    except (OSError, SyntaxError, ValueError, TypeError, KeyError, IndexError):
        sub = {}
    facts: dict[str, Any] = {}
    for key, value in (
        ("make", _text(exif.get(_MAKE))),
        ("model", _text(exif.get(_MODEL))),
        ("lens_model", _text(sub.get(_LENS_MODEL))),
        ("datetime_original", _text(sub.get(_DATETIME_ORIGINAL)) or _text(exif.get(_DATETIME))),
        ("focal_length_mm", _number(sub.get(_FOCAL_LENGTH))),
        ("focal_length_35mm", _number(sub.get(_FOCAL_35MM))),
        ("pixel_x_dimension", _number(sub.get(_PIXEL_X))),
        ("pixel_y_dimension", _number(sub.get(_PIXEL_Y))),
        ("focal_plane_x_resolution", _number(sub.get(_FP_XRES))),
        ("focal_plane_y_resolution", _number(sub.get(_FP_YRES))),
        ("focal_plane_resolution_unit", _number(sub.get(_FP_UNIT))),
    ):
        if value is not None:
            facts[key] = value
    orientation = exif.get(_ORIENTATION)
    if isinstance(orientation, int):
        facts["orientation"] = orientation
    for key in ("pixel_x_dimension", "pixel_y_dimension", "focal_plane_resolution_unit"):
        if key in facts:
            facts[key] = int(facts[key])
    return facts


def intrinsics_from_exif(facts: dict[str, Any], width: int, height: int) -> CameraIntrinsics | None:
    """Pinhole intrinsics of a ``width`` x ``height`` view from EXIF facts, or None.

    The principal point is taken at the image centre (EXIF does not store it).
    ``width``/``height`` are the view as stored in the Capture, after EXIF
    orientation; a 90-degree orientation swaps the EXIF pixel dimensions.
    See the module docstring for the rules.
    """
    ex_w, ex_h = facts.get("pixel_x_dimension"), facts.get("pixel_y_dimension")
    if facts.get("orientation") in (5, 6, 7, 8) and ex_w and ex_h:
        ex_w, ex_h = ex_h, ex_w
    if ex_w and ex_h:
        if abs((ex_w / ex_h) / (width / height) - 1.0) > 0.01:
            return None  # cropped after capture: EXIF focal no longer describes this view
        ref_w, ref_h = float(ex_w), float(ex_h)
    else:
        ref_w, ref_h = float(width), float(height)
    focal_ref = None
    f_mm = facts.get("focal_length_mm")
    xres, unit = facts.get("focal_plane_x_resolution"), facts.get("focal_plane_resolution_unit", 2)
    if f_mm and xres and unit in _MM_PER_UNIT and facts.get("orientation") not in (5, 6, 7, 8):
        # pixels per mm on the sensor, at the EXIF pixel dimensions
        focal_ref = f_mm * xres / _MM_PER_UNIT[unit]
    elif facts.get("focal_length_35mm"):
        focal_ref = facts["focal_length_35mm"] / _DIAGONAL_35MM * math.hypot(ref_w, ref_h)
    if focal_ref is None:
        return None
    focal = focal_ref * width / ref_w
    return CameraIntrinsics(
        focal_px=focal, cx_px=(width - 1) / 2.0, cy_px=(height - 1) / 2.0, width=width, height=height
    )
