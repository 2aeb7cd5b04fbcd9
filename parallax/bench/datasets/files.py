"""Readers for the file formats stereo benchmarks ship: PNG views, PFM and PNG
disparity, occlusion masks, Middlebury ``calib.txt`` and KITTI calibration.

Every reader returns "no value" as NaN (conventions) and raises
:class:`~parallax.errors.InputFileError` naming the file on bad input.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from parallax.capture.types import CameraIntrinsics
from parallax.errors import InputFileError, UnsupportedFormatError

if TYPE_CHECKING:
    from parallax.bench.scene import SceneCalib

__all__ = [
    "read_view",
    "read_pfm",
    "read_png_values",
    "read_png_disparity",
    "read_mask",
    "read_middlebury_calib",
    "calib_from_middlebury",
    "read_kitti_calib",
]


def _open(path: Path) -> Image.Image:
    if not path.is_file():
        raise InputFileError(f"{path}: file not found; check the dataset folder is complete")
    try:
        image = Image.open(path)
        image.load()
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InputFileError(
            f"{path}: cannot read the image ({exc}); the file may be truncated or not an image"
        ) from exc
    return image


def read_view(path: Path) -> np.ndarray:
    """Read a stereo view as ``HxWx3`` uint8 RGB (grey and palette images are expanded).

    16-bit views are scaled to 8 bits (``value >> 8``).
    """
    image = _open(path)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(image).astype(np.uint32) >> 8
        arr = np.clip(arr, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.dstack([arr] * 3))
    return np.ascontiguousarray(np.asarray(image.convert("RGB")))


def read_png_values(path: Path) -> np.ndarray:
    """Raw integer values of a single-channel map image (PNG, PGM).

    Palette images are converted to 8-bit grey (``Image.convert("L")``); for
    RGB(A) images the first channel is taken (benchmarks store grey maps in RGB).
    Returns a 2-D ``uint16``/``uint8``/``int32`` array.
    """
    image = _open(path)
    if image.mode == "P":
        image = image.convert("L")
    arr = np.asarray(image)
    if arr.ndim == 3:
        arr = arr[..., 0]
    return arr


def read_png_disparity(path: Path, *, divisor: float) -> np.ndarray:
    """Disparity from an integer map image: ``d = value / divisor``; ``0`` = no value (NaN).

    Parameters
    ----------
    path : Path
        PNG/PGM file (8- or 16-bit, grey, palette or grey-in-RGB).
    divisor : float
        The dataset's scale: 256 for KITTI, 16 for Tsukuba, 8 for Middlebury
        2001, 4 for quarter-size Middlebury 2003, 1 for Middlebury 2005/2006.

    Returns
    -------
    numpy.ndarray
        ``HxW`` float32 disparity in pixels, NaN = no value.
    """
    values = read_png_values(path)
    disp = values.astype(np.float32) / np.float32(divisor)
    disp[values == 0] = np.nan
    return disp


def read_pfm(path: Path) -> np.ndarray:
    """Read a one-channel PFM (``Pf``) disparity map as ``HxW`` float32, top row first.

    Parsing is :func:`parallax.io.maps.read_pfm`'s; ``+inf`` (Middlebury's "no
    value") and any other non-finite value become NaN. A three-channel ``PF``
    file is refused.
    """
    from parallax.io.maps import read_pfm as read_pfm_file

    if not path.is_file():
        raise InputFileError(f"{path}: file not found; check the dataset folder is complete")
    arr = read_pfm_file(path)
    if arr.ndim != 2:
        raise UnsupportedFormatError(f"{path}: a 3-channel PFM (PF); a disparity map must be a 1-channel PFM (Pf)")
    arr = np.array(arr, dtype=np.float32)
    arr[~np.isfinite(arr)] = np.nan
    return arr


def read_mask(path: Path, *, shape: tuple[int, int]) -> np.ndarray:
    """A non-occlusion mask: True where the value is 255 (Middlebury, ETH3D ``mask0nocc.png``).

    In MiddEval3 masks 128 marks occluded and 0 invalid pixels; both are False here.
    """
    values = read_png_values(path)
    if values.shape != shape:
        raise InputFileError(
            f"{path}: mask is {values.shape[1]}x{values.shape[0]}, the views are {shape[1]}x{shape[0]}"
        )
    return values == 255


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def read_middlebury_calib(path: Path) -> dict[str, Any]:
    """Parse a Middlebury/ETH3D ``calib.txt``.

    Returns
    -------
    dict
        ``cam0``/``cam1`` as 3x3 float64 arrays (when present) and the scalar
        keys (``doffs``, ``baseline`` in mm, ``width``, ``height``, ``ndisp``,
        ``vmin``, ``vmax``, ...) as floats.
    """
    if not path.is_file():
        raise InputFileError(f"{path}: file not found")
    try:
        text = path.read_text(encoding="ascii")
    except (UnicodeDecodeError, OSError) as exc:
        raise InputFileError(f"{path}: cannot read calib.txt ({exc})") from exc
    out: dict[str, Any] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise InputFileError(f"{path}: line {lineno} {line!r} is not key=value (Middlebury calib.txt)")
        key, value = key.strip(), value.strip()
        if value.startswith("["):
            numbers = [float(v) for v in re.findall(_NUMBER, value)]
            if len(numbers) != 9:
                raise InputFileError(f"{path}: {key} holds {len(numbers)} numbers, a 3x3 matrix needs 9")
            out[key] = np.array(numbers, dtype=np.float64).reshape(3, 3)
        else:
            try:
                out[key] = float(value)
            except ValueError as exc:
                raise InputFileError(f"{path}: {key}={value!r} is not a number") from exc
    return out


def calib_from_middlebury(calib: dict[str, Any], path: Path, *, width: int, height: int) -> SceneCalib:
    """Build a :class:`~parallax.bench.scene.SceneCalib` from a parsed ``calib.txt``.

    ``doffs`` defaults to ``cam1.cx - cam0.cx``; ``baseline`` is converted from
    millimetres to metres.
    """
    from parallax.bench.scene import SceneCalib

    if "cam0" not in calib or "baseline" not in calib:
        raise InputFileError(f"{path}: calib.txt lacks cam0 or baseline; it is not a Middlebury calibration")
    k0 = calib["cam0"]
    doffs = calib.get("doffs")
    if doffs is None:
        doffs = float(calib["cam1"][0, 2] - k0[0, 2]) if "cam1" in calib else 0.0
    camera = CameraIntrinsics(
        focal_px=float(k0[0, 0]),
        focal_y_px=float(k0[1, 1]),
        cx_px=float(k0[0, 2]),
        cy_px=float(k0[1, 2]),
        width=width,
        height=height,
    )
    return SceneCalib(camera=camera, baseline_m=float(calib["baseline"]) / 1000.0, doffs_px=float(doffs))


def read_kitti_calib(path: Path, *, width: int, height: int) -> SceneCalib:
    """Calibration from a KITTI file: ``P2``/``P3`` (2012 ``calib/``) or
    ``P_rect_02``/``P_rect_03`` (2015 ``calib_cam_to_cam/``).

    ``focal_px = P2[0,0]``, ``baseline_m = (P2[0,3] - P3[0,3]) / focal_px``,
    ``doffs_px = P3[0,2] - P2[0,2]`` (0 for KITTI's rectified cameras).
    """
    from parallax.bench.scene import SceneCalib

    if not path.is_file():
        raise InputFileError(f"{path}: file not found")
    mats: dict[str, np.ndarray] = {}
    for line in path.read_text(encoding="ascii", errors="replace").splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        numbers = re.findall(_NUMBER, value)
        if len(numbers) == 12:
            mats[key.strip()] = np.array([float(v) for v in numbers], dtype=np.float64).reshape(3, 4)
    left = mats.get("P2", mats.get("P_rect_02"))
    right = mats.get("P3", mats.get("P_rect_03"))
    if left is None or right is None:
        raise InputFileError(f"{path}: no P2/P3 (or P_rect_02/P_rect_03) projection matrices; not a KITTI calibration")
    focal = float(left[0, 0])
    camera = CameraIntrinsics(
        focal_px=focal,
        focal_y_px=float(left[1, 1]),
        cx_px=float(left[0, 2]),
        cy_px=float(left[1, 2]),
        width=width,
        height=height,
    )
    baseline = (float(left[0, 3]) - float(right[0, 3])) / focal
    return SceneCalib(camera=camera, baseline_m=baseline, doffs_px=float(right[0, 2] - left[0, 2]))
