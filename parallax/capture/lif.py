"""Leia Image Format (LIF): structure (parse and pack) and the reader.

File layout
-----------
A LIF is an ordinary JPEG (the *host*: the left/primary view, which every JPEG
viewer shows) followed by a metadata *region*::

    [host JPEG ... FF D9]
    [u32 BE field count]
    field * count: [u32 BE type][u32 BE size][size bytes]
    [u32 BE region size][1E 1A]

``region size`` counts from the region's first byte (the field count) to the
end of the file, the 6-byte trailer included; a LIF is recognised by the final
``1E 1A`` and a region size that lands just after a JPEG end-of-image marker.

Field types (:data:`FIELD_TYPES`)
---------------------------------
======== ===================================================================
type     content
======== ===================================================================
0, 1     4-byte values seen in Lume Pad files (kept, not interpreted)
7        legacy JSON metadata (``views`` with ``albedoId``/``disparityId``,
         ``xLocation``; ``convergence``, ``gain``, ``disparitySource``)
8        JSON metadata, LIF 5 (``views`` with ``image.blob_id``,
         ``inv_z_map {blob_id, min, max}``, ``focal_px`` or
         ``camera_data.focal_ratio_to_width``, ``position``, ...)
>= 1e6   blobs, referred to by their type number from the JSON ("blob id");
         id -1 means the host JPEG. Lume Pad 2 files use 1000001/1000003 for
         PNG disparity maps (left/right) and 1000002 for the right view's JPEG.
======== ===================================================================

:func:`parse_lif` and :func:`pack_lif` are exact inverses (``pack_lif(*parse_lif(b)) == b``
for a well-formed file), so a writer builds a LIF with :class:`LifField` and
:func:`pack_lif` and tests it by reading it back with :func:`read_lif`.

Maps and sizes
--------------
* Legacy (type 7) disparity PNGs hold 8-bit values with no scale in the JSON
  (only ``gain`` and ``convergence`` of Leia's display pipeline). They become
  ``normalized-disparity`` maps, ``n = value / 255``, larger = nearer (checked on
  Cactus.jpg: the rank correlation between ``n`` and the disparity of sparse
  SIFT matches is 0.95).
* LIF 5 (type 8) ``inv_z_map`` PNGs become ``inverse-depth`` maps with Leia's
  viewer mapping ``inv_z = max + n * (min - max)`` (``min``/``max`` divided by
  ``-focal_ratio_to_width`` for files before 5.3, which lack ``width_px``);
  units are ``relative`` (Leia normalises positions by the baseline).
* The host JPEG may be larger than the other views (Cactus.jpg: 2560x1440 host,
  1280x720 right view and maps). Both views must share one size, so the host is
  downscaled (area filter) to the right view's size; the original size is kept
  in ``metadata["host_size"]``. Nothing is upscaled.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from parallax.capture.exif import exif_facts, intrinsics_from_exif
from parallax.capture.image_io import decode_image, open_image, to_rgb_array
from parallax.capture.registry import FileProbe, ReaderSpec, ReadOptions, register_reader
from parallax.capture.types import CameraIntrinsics, Capture, EmbeddedMap
from parallax.errors import InputFileError, NotStereoError, ParameterError

__all__ = [
    "FIELD_TYPES",
    "LIF_TRAILER",
    "LifField",
    "is_lif",
    "parse_lif",
    "pack_lif",
    "lif_json",
    "read_lif",
]

LIF_TRAILER = b"\x1e\x1a"
FIELD_TYPES = {
    0: "unknown-0",
    1: "unknown-1",
    7: "json-legacy",
    8: "json",
    1000001: "left-disparity-png",
    1000002: "right-view-jpeg",
    1000003: "right-disparity-png",
}
_MAX_FIELDS = 4096


@dataclass(frozen=True, kw_only=True)
class LifField:
    """One field of the LIF region: ``type`` (u32) and its raw bytes."""

    type: int
    data: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.type, int) or not 0 <= self.type < 2**32:
            raise ParameterError(f"LifField.type must be an integer in [0, 2^32), got {self.type!r}")
        if not isinstance(self.data, (bytes, bytearray)):
            raise ParameterError(f"LifField.data must be bytes, got {type(self.data).__name__}")


def is_lif(head: bytes, tail: bytes, size: int) -> bool:
    """True when a file (its first bytes, last bytes, and size) looks like a LIF."""
    if head[:2] != b"\xff\xd8" or len(tail) < 6 or tail[-2:] != LIF_TRAILER:
        return False
    (region,) = struct.unpack(">I", tail[-6:-2])
    return 10 <= region < size


def parse_lif(data: bytes, *, name: str = "<lif>") -> tuple[bytes, tuple[LifField, ...]]:
    """Split a LIF into its host JPEG bytes and its fields.

    Raises
    ------
    InputFileError
        A damaged region (sizes that do not add up), naming ``name``.
    """
    if len(data) < 12 or data[-2:] != LIF_TRAILER or data[:2] != b"\xff\xd8":
        raise InputFileError(f"{name} is not a LIF file (no JPEG start or no 1E 1A trailer)")
    (region,) = struct.unpack(">I", data[-6:-2])
    start = len(data) - region
    if not 2 <= start <= len(data) - 10:
        raise InputFileError(
            f"{name}: LIF region size {region} does not fit the file of {len(data)} bytes; the file is truncated"
        )
    (count,) = struct.unpack(">I", data[start : start + 4])
    if count > _MAX_FIELDS:
        raise InputFileError(f"{name}: LIF region claims {count} fields; the file is corrupt")
    pos, end, fields = start + 4, len(data) - 6, []
    for i in range(count):
        if pos + 8 > end:
            raise InputFileError(
                f"{name}: LIF field {i + 1} of {count} starts past the region's end; the file is truncated"
            )
        ftype, fsize = struct.unpack(">II", data[pos : pos + 8])
        if pos + 8 + fsize > end:
            raise InputFileError(
                f"{name}: LIF field {i + 1} ({fsize} bytes) runs past the region's end; the file is truncated"
            )
        fields.append(LifField(type=ftype, data=bytes(data[pos + 8 : pos + 8 + fsize])))
        pos += 8 + fsize
    if pos != end:
        raise InputFileError(f"{name}: {end - pos} unexplained bytes at the end of the LIF region; the file is corrupt")
    return bytes(data[:start]), tuple(fields)


def pack_lif(host_jpeg: bytes, fields: Sequence[LifField]) -> bytes:
    """Build LIF bytes from a host JPEG and fields (inverse of :func:`parse_lif`).

    Raises
    ------
    ParameterError
        ``host_jpeg`` is not a JPEG (must start with ``FF D8``).
    """
    if not host_jpeg[:2] == b"\xff\xd8":
        raise ParameterError("pack_lif: host_jpeg must be JPEG bytes (starting FF D8)")
    body = bytearray(struct.pack(">I", len(fields)))
    for field in fields:
        body += struct.pack(">II", field.type, len(field.data)) + field.data
    region = len(body) + 6
    return bytes(host_jpeg) + bytes(body) + struct.pack(">I", region) + LIF_TRAILER


def lif_json(fields: Sequence[LifField], *, name: str = "<lif>") -> tuple[int | None, dict[str, Any]]:
    """The JSON metadata field (type 8 preferred over legacy 7): ``(type, parsed)``; ``(None, {})`` if absent."""
    for ftype in (8, 7):
        for field in fields:
            if field.type == ftype:
                try:
                    parsed = json.loads(field.data.decode("utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                    raise InputFileError(
                        f"{name}: LIF metadata (field {ftype}) is not valid JSON ({exc}); the file is corrupt"
                    ) from exc
                return ftype, parsed if isinstance(parsed, dict) else {"value": parsed}
    return None, {}


def _sniff(probe: FileProbe) -> bool:
    return is_lif(probe.head, probe.tail, probe.size)


def _grey(blob: bytes, name: str, max_pixels: int) -> np.ndarray:
    image = open_image(blob, name=name, max_pixels=max_pixels)
    try:
        image.load()
        if image.mode in ("I;16", "I;16B", "I;16L", "I"):
            return np.asarray(image).astype(np.float32) / 65535.0
        return np.asarray(image.convert("L")).astype(np.float32) / 255.0
    except (OSError, ValueError, SyntaxError) as exc:
        raise InputFileError(f"{name} could not be decoded ({exc}); the file is corrupt") from exc
    finally:
        image.close()


def _views(meta: dict[str, Any]) -> list[dict[str, Any]]:
    views = meta.get("views")
    return [v for v in views if isinstance(v, dict)] if isinstance(views, list) else []


def _x_position(view: dict[str, Any], order: int) -> float:
    if isinstance(view.get("xLocation"), (int, float)):
        return float(view["xLocation"])
    pos = view.get("position") or (view.get("camera_data") or {}).get("position")
    if isinstance(pos, list) and pos and isinstance(pos[0], (int, float)):
        return float(pos[0])
    return float(order)


def _image_id(view: dict[str, Any]) -> int | None:
    if "albedoId" in view:
        return view.get("albedoId")
    image = view.get("image")
    return image.get("blob_id") if isinstance(image, dict) else None


def _map_for(
    view: dict[str, Any], blobs: dict[int, bytes], which: Literal["left", "right"], name: str, max_pixels: int
) -> EmbeddedMap | None:
    inv = view.get("inv_z_map")
    if isinstance(inv, dict) and inv.get("blob_id") in blobs:
        n = _grey(blobs[inv["blob_id"]], f"{name} ({which} inverse-depth map)", max_pixels)
        lo, hi = inv.get("min"), inv.get("max")
        ratio = (view.get("camera_data") or {}).get("focal_ratio_to_width")
        meta = {"blob_id": inv["blob_id"], "min": lo, "max": hi}
        if isinstance(lo, (int, float)) and isinstance(hi, (int, float)):
            if not view.get("width_px") and isinstance(ratio, (int, float)) and ratio:
                lo, hi = lo / -ratio, hi / -ratio
            meta["conversion"] = "inv_z = max + n * (min - max), n = value / max_value (Leia viewer)"
            return EmbeddedMap(
                data=hi + n * (lo - hi), kind="inverse-depth", units="relative", view=which, metadata=meta
            )
        meta["conversion"] = "n = value / max_value (no min/max in the file)"
        return EmbeddedMap(data=n, kind="normalized-disparity", units="relative", view=which, metadata=meta)
    did = view.get("disparityId")
    if did in blobs:
        n = _grey(blobs[did], f"{name} ({which} disparity map)", max_pixels)
        meta = {"blob_id": did, "conversion": "n = value / 255, larger = nearer; the file gives no scale"}
        return EmbeddedMap(data=n, kind="normalized-disparity", units="relative", view=which, metadata=meta)
    return None


def _focal(view: dict[str, Any], width: int, height: int) -> CameraIntrinsics | None:
    focal = view.get("focal_px")
    ref_w = view.get("width_px") or width
    ratio = (view.get("camera_data") or {}).get("focal_ratio_to_width")
    if not isinstance(focal, (int, float)) and isinstance(ratio, (int, float)):
        focal, ref_w = ratio * width, width
    if not isinstance(focal, (int, float)) or focal <= 0 or not isinstance(ref_w, (int, float)) or ref_w <= 0:
        return None
    f = float(focal) * width / float(ref_w)
    return CameraIntrinsics(focal_px=f, cx_px=(width - 1) / 2.0, cy_px=(height - 1) / 2.0, width=width, height=height)


def read_lif(path: Path, options: ReadOptions) -> Capture:
    """Read a LIF: host JPEG = left view, the JPEG blob of the second view = right, maps, JSON.

    A LIF with a single view and an inverse-depth map opens as RGB-D (``right=None``).

    Raises
    ------
    InputFileError
        Damaged region, undecodable views.
    NotStereoError
        One view and no map.
    """
    if options.layout != "auto":
        raise ParameterError(
            f"layout={options.layout!r} does not apply to {path}: a LIF stores its views separately; drop --layout"
        )
    name = str(path)
    host, fields = parse_lif(path.read_bytes(), name=name)
    json_type, meta = lif_json(fields, name=name)
    blobs: dict[int, bytes] = {f.type: f.data for f in fields if f.type >= 1_000_000}
    blobs[-1] = host
    views = sorted(enumerate(_views(meta)), key=lambda iv: (_x_position(iv[1], iv[0]), iv[0]))
    if not views:  # no JSON: the Lume Pad 2 convention
        views = [(0, {"albedoId": -1, "disparityId": 1000001}), (1, {"albedoId": 1000002, "disparityId": 1000003})]
    host_image = open_image(host, name=f"{name} (host JPEG)", max_pixels=options.max_pixels)
    facts = exif_facts(host_image.getexif())
    left = to_rgb_array(host_image, name=f"{name} (host JPEG)")
    host_size = [int(left.shape[1]), int(left.shape[0])]
    lview = views[0][1]
    left_id = _image_id(lview)
    if left_id is not None and left_id != -1 and left_id in blobs:
        left = decode_image(blobs[left_id], name=f"{name} (left view)", max_pixels=options.max_pixels)
    right = None
    rview = views[1][1] if len(views) > 1 else None
    right_id = _image_id(rview) if rview is not None else None
    if right_id is not None and right_id in blobs and right_id != left_id:
        right = decode_image(blobs[right_id], name=f"{name} (right view)", max_pixels=options.max_pixels)
        if right.shape != left.shape:
            if right.shape[0] * right.shape[1] > left.shape[0] * left.shape[1]:
                right = cv2.resize(right, (left.shape[1], left.shape[0]), interpolation=cv2.INTER_AREA)
            else:
                left = cv2.resize(left, (right.shape[1], right.shape[0]), interpolation=cv2.INTER_AREA)
    sides: tuple[tuple[dict[str, Any] | None, Literal["left", "right"]], ...] = ((lview, "left"), (rview, "right"))
    maps = [m for m in (_map_for(v, blobs, w, name, options.max_pixels) for v, w in sides if v) if m]
    if right is None and not maps:
        raise NotStereoError(f"{name} is a LIF with one view and no depth map; give a second view or a stereo file")
    h, w = left.shape[:2]
    metadata: dict[str, Any] = {
        "json_field_type": json_type,
        "lif": meta,
        "fields": [
            {
                "type": f.type,
                "name": FIELD_TYPES.get(f.type, "blob" if f.type >= 1_000_000 else "unknown"),
                "size_bytes": len(f.data),
            }
            for f in fields
        ],
        "host_size": host_size,
        "exif": facts,
    }
    if host_size != [w, h]:
        metadata["left_resized_from"] = host_size
    return Capture(
        left=left,
        right=right,
        format="lif",
        source=name,
        left_camera=_focal(lview, w, h) or intrinsics_from_exif(facts, w, h),
        right_camera=_focal(rview, w, h) if rview else None,
        make=facts.get("make"),
        model=facts.get("model"),
        maps=tuple(maps),
        metadata=metadata,
    )


register_reader(
    ReaderSpec(
        name="lif", description="Leia LIF (JPEG with appended views)", sniff=_sniff, extensions=(".lif",), read=read_lif
    )
)
