"""Two files: a left and a right view (``pair``), or an image and its depth map (``rgbd``).

* ``pair``: both files are decoded with :func:`~parallax.capture.image_io.load_image`
  rules; they must have the same size (no silent resizing or cropping).
* ``rgbd``: the second file is a depth map in metres: a 16-bit PNG in
  millimetres (0 = no value, ``docs/conventions.md``) or a ``.npy`` float array
  in metres (NaN = no value). In memory: ``EmbeddedMap(kind="depth", units="m")``
  with NaN where there is no value.

With ``layout="auto"`` a 16-bit single-channel PNG or a ``.npy`` second file
means ``rgbd``; anything else is a second view.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from parallax.capture.exif import exif_facts, intrinsics_from_exif
from parallax.capture.heif_boxes import is_heif
from parallax.capture.image_io import check_input_file, check_pixel_count, open_image, to_rgb_array
from parallax.capture.registry import ReadOptions
from parallax.capture.types import Capture, EmbeddedMap
from parallax.errors import InputFileError, ParameterError

__all__ = ["read_pair", "read_depth_file"]

_DEPTH_MODES = ("I;16", "I;16B", "I;16L", "I")


def _view(path: Path, options: ReadOptions) -> tuple[np.ndarray, dict[str, Any]]:
    with open(path, "rb") as fh:
        head = fh.read(32)
    if is_heif(head):
        from parallax.capture.heic import decode_heif_primary

        return decode_heif_primary(path, max_pixels=options.max_pixels), {}
    image = open_image(path, name=str(path), max_pixels=options.max_pixels)
    try:
        return to_rgb_array(image, name=str(path)), exif_facts(image.getexif())
    finally:
        image.close()


def _is_depth_file(path: Path, options: ReadOptions) -> bool:
    if path.suffix.lower() == ".npy":
        return True
    with open(path, "rb") as fh:
        head = fh.read(32)
    if not head.startswith(b"\x89PNG"):
        return False
    image = open_image(path, name=str(path), max_pixels=options.max_pixels)
    try:
        return image.mode in _DEPTH_MODES
    finally:
        image.close()


def read_depth_file(path: Path, *, max_pixels: int) -> EmbeddedMap:
    """A depth map file as ``EmbeddedMap(kind="depth", units="m")``, NaN = no value.

    Raises
    ------
    InputFileError
        Not a 16-bit PNG or a 2-D ``.npy`` array, or unreadable.
    """
    if path.suffix.lower() == ".npy":
        try:
            data = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise InputFileError(f"{path} is not a readable .npy array ({exc}); save depth with numpy.save") from exc
        if data.ndim != 2 or not np.issubdtype(data.dtype, np.number):
            raise InputFileError(
                f"{path} holds a {data.dtype} array of shape {data.shape}; a depth map must be 2-D numbers in metres"
            )
        check_pixel_count(str(path), int(data.shape[1]), int(data.shape[0]), max_pixels)
        depth = data.astype(np.float32)
        depth[~(depth > 0)] = np.nan
        return EmbeddedMap(data=depth, kind="depth", units="m", metadata={"file": str(path), "encoding": "npy metres"})
    image = open_image(path, name=str(path), max_pixels=max_pixels)
    try:
        if image.mode not in _DEPTH_MODES:
            raise InputFileError(
                f"{path} is a {image.mode} image, not a 16-bit depth PNG (millimetres); give a 16-bit PNG or a .npy in metres"
            )
        try:
            raw = np.asarray(image).astype(np.float32)
        except (OSError, ValueError) as exc:
            raise InputFileError(f"{path} could not be decoded ({exc}); the file is truncated or corrupt") from exc
    finally:
        image.close()
    depth = raw / 1000.0
    depth[raw == 0] = np.nan
    return EmbeddedMap(
        data=depth,
        kind="depth",
        units="m",
        metadata={"file": str(path), "encoding": "uint16 PNG millimetres, 0 = no value"},
    )


def read_pair(left_path: Path, right_path: Path, options: ReadOptions) -> Capture:
    """Read two views from two files, or an image and its depth map (see the module docstring).

    Raises
    ------
    InputFileError
        Missing or unreadable files; views of different sizes.
    ParameterError
        A single-image layout given for two files.
    """
    left_path, right_path = check_input_file(left_path), check_input_file(right_path)
    layout = options.layout
    if layout not in ("auto", "pair", "rgbd"):
        raise ParameterError(f"layout={layout!r} applies to one stereo image, not to two files; use auto, pair or rgbd")
    if layout == "rgbd" or (layout == "auto" and _is_depth_file(right_path, options)):
        left, facts = _view(left_path, options)
        depth = read_depth_file(right_path, max_pixels=options.max_pixels)
        h, w = left.shape[:2]
        return Capture(
            left=left,
            right=None,
            format="rgbd",
            source=f"{left_path} + {right_path}",
            left_camera=intrinsics_from_exif(facts, w, h),
            make=facts.get("make"),
            model=facts.get("model"),
            maps=(depth,),
            metadata={"exif": facts},
        )
    left, lfacts = _view(left_path, options)
    right, rfacts = _view(right_path, options)
    if left.shape != right.shape:
        raise InputFileError(
            f"{left_path} ({left.shape[1]}x{left.shape[0]}) and {right_path} ({right.shape[1]}x{right.shape[0]}) differ in size; "
            "give two views of the same size (crop or resize one first)"
        )
    h, w = left.shape[:2]
    return Capture(
        left=left,
        right=right,
        format="pair",
        source=f"{left_path} + {right_path}",
        left_camera=intrinsics_from_exif(lfacts, w, h),
        right_camera=intrinsics_from_exif(rfacts, w, h),
        make=lfacts.get("make") or rfacts.get("make"),
        model=lfacts.get("model") or rfacts.get("model"),
        metadata={"exif": {"left": lfacts, "right": rfacts}},
    )
