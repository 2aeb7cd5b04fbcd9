"""HEIC/HEIF reader: Apple spatial photos (stereo) and portrait photos with a depth image (RGB-D).

* **Spatial photo** (Vision Pro, iPhone 15 Pro+): two image items grouped by a
  ``ster`` entity group, left first. pillow-heif decodes both and exposes each
  image's ``cmin`` intrinsics and ``cmex`` rotation; the ``cmex`` *position*
  (micrometres) is read from the file bytes by :mod:`parallax.capture.heif_boxes`,
  and ``baseline_m`` is the distance between the two positions.
  ``right_rotation`` is ``R_left^T @ R_right`` from the two ``cmex`` rotations
  (identity when the file gives none).
* **Depth photo** (iPhone portrait): one image plus an auxiliary depth image.
  Its samples ``v`` (normalised to ``n = v / (2^bits - 1)``) map linearly to
  ``d_min + n * (d_max - d_min)`` as in ISO/IEC 23002-3. The representation type
  says what that value is: 0 uniform inverse Z (``inverse-depth``, 1/m),
  1 uniform disparity, 2 uniform Z (``depth``, m), 3 non-uniform disparity.
  Apple writes its disparity (type 1) in 1/metres (AVDepthData's convention), so
  an Apple type-1 map becomes ``inverse-depth`` in ``1/m``; type 1 from other
  makers and type 3 stay ``normalized-disparity`` (``n``, larger = nearer).
  The map keeps its own size (768x576 for 4032x3024 on iPhone).

pillow-heif is a core dependency but registered lazily (imported on first use).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from parallax.capture.exif import exif_facts, intrinsics_from_exif, load_exif
from parallax.capture.heif_boxes import is_heif, parse_heif_layout
from parallax.capture.image_io import check_pixel_count
from parallax.capture.registry import FileProbe, ReaderSpec, ReadOptions, register_reader
from parallax.capture.types import CameraIntrinsics, Capture, EmbeddedMap
from parallax.errors import InputFileError, NotStereoError, ParameterError

__all__ = ["read_heic", "decode_heif_primary"]

_REPRESENTATIONS = {0: "uniform inverse Z", 1: "uniform disparity", 2: "uniform Z", 3: "nonuniform disparity"}


def _open(path: Path) -> Any:  # a pillow_heif.HeifFile; its stubs type .info as a loose union, so Any
    import pillow_heif  # a core dependency, imported on first use only

    try:
        return pillow_heif.open_heif(str(path), convert_hdr_to_8bit=True)
    except (ValueError, RuntimeError, OSError, EOFError) as exc:
        raise InputFileError(f"{path} could not be opened as HEIC ({exc}); the file is truncated or corrupt") from exc


def _decode(image: Any, name: str, max_pixels: int) -> np.ndarray:
    width, height = image.size
    check_pixel_count(name, width, height, max_pixels)
    try:
        array = np.asarray(image)
    except (ValueError, RuntimeError, OSError, EOFError) as exc:
        raise InputFileError(f"{name} could not be decoded ({exc}); the file is truncated or corrupt") from exc
    if array.ndim == 2:
        array = np.dstack([array] * 3)
    if array.dtype != np.uint8:
        array = np.clip(array / 257.0 + 0.5, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(array[:, :, :3])


def decode_heif_primary(path: Path, *, max_pixels: int) -> np.ndarray:
    """The primary image of a HEIC/HEIF file as ``HxWx3`` uint8 RGB (libheif applies irot/imir)."""
    heif = _open(path)
    return _decode(heif[heif.primary_index], str(path), max_pixels)


def _intrinsics(info: dict[str, Any], width: int, height: int) -> CameraIntrinsics | None:
    matrix = (info.get("heif") or {}).get("camera_intrinsic_matrix")
    if not matrix:
        return None
    try:
        return CameraIntrinsics(
            focal_px=float(matrix["focal_length_x"]),
            focal_y_px=float(matrix["focal_length_y"]),
            cx_px=float(matrix["principal_point_x"]),
            cy_px=float(matrix["principal_point_y"]),
            width=width,
            height=height,
        )
    except (KeyError, TypeError, ValueError, ParameterError):
        return None


def _rotation(info: dict[str, Any]) -> np.ndarray | None:
    rot = (info.get("heif") or {}).get("camera_extrinsic_matrix_rot")
    if rot is None or len(rot) != 9:
        return None
    return np.asarray(rot, dtype=np.float64).reshape(3, 3)


def read_heic(path: Path, options: ReadOptions) -> Capture:
    """Read a spatial photo (stereo) or a depth photo (RGB-D) from a HEIC/HEIF file.

    Raises
    ------
    NotStereoError
        A HEIC with neither a ``ster`` pair nor a depth image.
    InputFileError
        Truncated, corrupt or too large.
    """
    if options.layout != "auto":
        raise ParameterError(
            f"layout={options.layout!r} does not apply to {path}: a HEIC stores its views separately; drop --layout"
        )
    heif = _open(path)
    if len(heif) == 0 or not 0 <= heif.primary_index < len(heif):
        raise InputFileError(f"{path} holds no decodable image; the file is truncated or corrupt")
    primary = heif[heif.primary_index]
    facts = exif_facts(load_exif(primary.info.get("exif")))
    make, model = facts.get("make"), facts.get("model")
    groups = primary.info.get("entity_groups") or []
    ster = next((g for g in groups if g.get("type") == "ster" and len(g.get("images", ())) >= 2), None)
    if ster is not None:
        return _read_spatial(path, heif, ster, facts, options)
    depth_images = primary.info.get("depth_images") or []
    if not depth_images:
        raise NotStereoError(f"{path} holds one view and no depth image; give a second view or a stereo file")
    left = _decode(primary, str(path), options.max_pixels)
    depth = depth_images[0]
    dmeta = dict(depth.info.get("metadata") or {})
    try:
        raw = np.asarray(depth.to_pillow())
    except (ValueError, RuntimeError, OSError, EOFError) as exc:
        raise InputFileError(f"{path}: its depth image could not be decoded ({exc}); the file is corrupt") from exc
    emap = _depth_map(raw, dmeta, make)
    h, w = left.shape[:2]
    return Capture(
        left=left,
        right=None,
        format="heic-depth",
        source=str(path),
        left_camera=_intrinsics(primary.info, w, h) or intrinsics_from_exif(facts, w, h),
        make=make,
        model=model,
        maps=(emap,),
        metadata={"exif": facts, "depth": emap.metadata},
    )


def _finite_number(value: Any) -> float | None:
    """``value`` as a float if it is a finite number (a depth range bound from the file), else None."""
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _depth_map(raw: np.ndarray, dmeta: dict[str, Any], make: str | None) -> EmbeddedMap:
    if raw.ndim == 3:
        raw = raw[:, :, 0]
    top = 255.0 if raw.dtype == np.uint8 else 65535.0
    n = raw.astype(np.float32) / np.float32(top)
    rep = dmeta.get("representation_type")
    d_min, d_max = _finite_number(dmeta.get("d_min")), _finite_number(dmeta.get("d_max"))
    meta = {k: (float(v) if isinstance(v, float) else v) for k, v in dmeta.items()}
    name = _REPRESENTATIONS.get(rep) if isinstance(rep, int) else None
    meta["representation"] = name or f"unknown ({rep})"
    if d_min is not None and d_max is not None and (rep == 0 or (rep == 1 and (make or "").lower() == "apple")):
        meta["conversion"] = (
            "d_min + n * (d_max - d_min), n = sample / max; Apple stores disparity as 1/m"
            if rep == 1
            else "d_min + n * (d_max - d_min)"
        )
        return EmbeddedMap(data=d_min + n * (d_max - d_min), kind="inverse-depth", units="1/m", metadata=meta)
    if d_min is not None and d_max is not None and rep == 2:
        meta["conversion"] = "d_min + n * (d_max - d_min)"
        return EmbeddedMap(data=d_min + n * (d_max - d_min), kind="depth", units="m", metadata=meta)
    meta["conversion"] = "n = sample / max (scale unknown; larger = nearer)"
    return EmbeddedMap(data=n, kind="normalized-disparity", units="relative", metadata=meta)


def _read_spatial(path: Path, heif: Any, ster: dict[str, Any], facts: dict[str, Any], options: ReadOptions) -> Capture:
    li, ri = ster["images"][0], ster["images"][1]
    if not all(isinstance(i, int) and 0 <= i < len(heif) for i in (li, ri)):
        raise InputFileError(f"{path}: its 'ster' group names images that are not in the file; the file is corrupt")
    limg, rimg = heif[li], heif[ri]
    left = _decode(limg, f"{path} (left view)", options.max_pixels)
    right = _decode(rimg, f"{path} (right view)", options.max_pixels)
    if left.shape != right.shape:
        raise InputFileError(
            f"{path}: the two views differ in size ({left.shape[1]}x{left.shape[0]} vs {right.shape[1]}x{right.shape[0]}); "
            "Parallax needs views of one size"
        )
    h, w = left.shape[:2]
    layout = parse_heif_layout(path.read_bytes())
    lid, rid = ster["entities"][0], ster["entities"][1]
    lext, rext = layout.extrinsics.get(lid), layout.extrinsics.get(rid)
    baseline = None
    if lext is not None and rext is not None:
        dist_um = math.dist(lext.position_um, rext.position_um)
        baseline = dist_um * 1e-6 if dist_um > 0 else None
    rl, rr = _rotation(limg.info), _rotation(rimg.info)
    relative = rl.T @ rr if rl is not None and rr is not None else None
    group_id = ster.get("id")
    adjust = layout.disparity_adjustment.get(lid)
    if isinstance(group_id, int) and group_id in layout.disparity_adjustment:  # the group's own value first
        adjust = layout.disparity_adjustment[group_id]
    metadata: dict[str, Any] = {
        "ster_group": {"id": ster.get("id"), "entities": list(ster["entities"]), "images": [li, ri]},
        "exif": facts,
        "left": {
            "item_id": lid,
            "extrinsics": lext.to_dict() if lext else None,
            "heif": _jsonable(limg.info.get("heif")),
        },
        "right": {
            "item_id": rid,
            "extrinsics": rext.to_dict() if rext else None,
            "heif": _jsonable(rimg.info.get("heif")),
        },
    }
    if adjust is not None:
        metadata["disparity_adjustment"] = {"raw": adjust, "fraction_of_width": adjust * 1e-4}
    return Capture(
        left=left,
        right=right,
        format="heic-spatial",
        source=str(path),
        left_camera=_intrinsics(limg.info, w, h),
        right_camera=_intrinsics(rimg.info, w, h),
        baseline_m=baseline,
        right_rotation=relative,
        make=facts.get("make"),
        model=facts.get("model"),
        metadata=metadata,
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return None
    return value


def _sniff(probe: FileProbe) -> bool:
    return is_heif(probe.head)


register_reader(
    ReaderSpec(
        name="heic", description="HEIC/HEIF image", sniff=_sniff, extensions=(".heic", ".heif", ".hif"), read=read_heic
    )
)
