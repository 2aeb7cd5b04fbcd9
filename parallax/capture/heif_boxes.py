"""Just enough ISO BMFF / HEIF box parsing to read camera extrinsics that pillow-heif does not expose.

ISO/IEC 23008-12 (HEIF) describes cameras with two item properties:

* ``cmin`` (camera intrinsic matrix, section 6.5.40): FullBox; ``focal_length_x``,
  ``principal_point_x``, ``principal_point_y`` (and with ``flags & 1``
  ``focal_length_y``, ``skew_factor``), all signed int32, scaled by image
  width/height over ``2^((flags >> 8) & 0x1F)``.
* ``cmex`` (camera extrinsic matrix, section 6.5.39): FullBox; flags 0x01/0x02/0x04
  say ``pos_x``/``pos_y``/``pos_z`` (signed int32, **micrometres**) are present,
  0x08 that an orientation follows (version 0: quaternion x, y, z as int32 when
  flag 0x10 is set, else int16, divided by ``2^(14 + 16*large)``; w = sqrt(1 - x^2 - y^2 - z^2)),
  0x20 that a world coordinate system id (uint32) follows.

Apple's spatial photos (Vision Pro, iPhone 15 Pro and later) store the same
payloads in ``uuid`` boxes: ``22cc04c7-d6d9-4e07-9d90-4eb6ecbaf3a3`` = cmin,
``4363e914-5b7d-4aab-97ae-bea69803b434`` = cmex, and
``de225085-36cb-4365-8743-2f8705e7c78a`` = the horizontal disparity adjustment
(int32, ImageIO's ``kCGImagePropertyGroupImageDisparityAdjustment``, in units of
1e-4 of the image width) attached to the ``ster`` group.

The baseline of a stereo pair is the distance between the two ``cmex``
positions. Every read is bounds-checked; a damaged structure gives an empty
result, never an exception (the images themselves are decoded by pillow-heif).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["HEIF_BRANDS", "CameraExtrinsics", "HeifLayout", "is_heif", "parse_heif_layout"]

HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"hevc", b"hevx", b"mif2"}
_UUID_CMIN = bytes.fromhex("22cc04c7d6d94e079d904eb6ecbaf3a3")
_UUID_CMEX = bytes.fromhex("4363e9145b7d4aab97aebea69803b434")
_UUID_DISPARITY = bytes.fromhex("de22508536cb436587432f8705e7c78a")
_MAX_BOXES = 4096


@dataclass(frozen=True, kw_only=True)
class CameraExtrinsics:
    """One ``cmex`` property: position in micrometres (absent axes are 0) and orientation quaternion (w, x, y, z)."""

    position_um: tuple[int, int, int]
    quaternion_wxyz: tuple[float, float, float, float] | None
    coordinate_system_id: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "position_um": list(self.position_um),
            "quaternion_wxyz": list(self.quaternion_wxyz) if self.quaternion_wxyz else None,
            "coordinate_system_id": self.coordinate_system_id,
        }


@dataclass(frozen=True, kw_only=True)
class HeifLayout:
    """What the ``meta`` box says: item types, groups, and camera properties per item or group id."""

    item_types: dict[int, str] = field(default_factory=dict)
    groups: list[tuple[str, int, tuple[int, ...]]] = field(default_factory=list)
    extrinsics: dict[int, CameraExtrinsics] = field(default_factory=dict)
    disparity_adjustment: dict[int, int] = field(default_factory=dict)


def is_heif(head: bytes) -> bool:
    """True when ``head`` starts with an ``ftyp`` box naming a HEIF brand."""
    if len(head) < 12 or head[4:8] != b"ftyp":
        return False
    (size,) = struct.unpack(">I", head[:4])
    end = min(max(size, 16), len(head))
    brands = [head[8:12]] + [head[i : i + 4] for i in range(16, end - 3, 4)]
    return any(b in HEIF_BRANDS for b in brands)


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int, bytes | None]]:
    """Yield ``(type, content_start, box_end, uuid)``; stops at the first damaged box."""
    pos, count = start, 0
    end = min(end, len(data))
    while pos + 8 <= end and count < _MAX_BOXES:
        size, typ = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            if pos + 16 > end:
                return
            (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        content, user_type = pos + header, None
        if typ == b"uuid":
            if content + 16 > pos + size:
                return
            user_type, content = data[content : content + 16], content + 16
        yield typ, content, pos + size, user_type
        pos += size
        count += 1


def _parse_cmex(data: bytes, start: int, end: int) -> CameraExtrinsics | None:
    if start + 4 > end:
        return None
    version = data[start]
    flags = int.from_bytes(data[start + 1 : start + 4], "big")
    pos = start + 4
    values: list[int] = []
    for bit in (1, 2, 4):
        if flags & bit:
            if pos + 4 > end:
                return None
            values.append(struct.unpack(">i", data[pos : pos + 4])[0])
            pos += 4
        else:
            values.append(0)
    position = (values[0], values[1], values[2])
    quaternion = None
    if flags & 8 and version == 0:
        large = bool(flags & 0x10)
        width = 4 if large else 2
        if pos + 3 * width > end:
            return None
        q = struct.unpack(">3i" if large else ">3h", data[pos : pos + 3 * width])
        pos += 3 * width
        scale = float(1 << (14 + (16 if large else 0)))
        qx, qy, qz = (v / scale for v in q)
        quaternion = (math.sqrt(max(0.0, 1.0 - qx * qx - qy * qy - qz * qz)), qx, qy, qz)
    elif flags & 8:
        return CameraExtrinsics(position_um=position, quaternion_wxyz=None, coordinate_system_id=0)
    ident = 0
    if flags & 0x20 and pos + 4 <= end:
        (ident,) = struct.unpack(">I", data[pos : pos + 4])
    return CameraExtrinsics(position_um=position, quaternion_wxyz=quaternion, coordinate_system_id=ident)


def parse_heif_layout(data: bytes) -> HeifLayout:
    """Parse the top-level ``meta`` box of a HEIF file's bytes (damaged parts are skipped)."""
    layout = HeifLayout()
    meta = next(((c, e) for t, c, e, _ in _boxes(data, 0, len(data)) if t == b"meta"), None)
    if meta is None:
        return layout
    properties: list[tuple[bytes, bytes | None, int, int]] = []
    associations: dict[int, list[int]] = {}
    for typ, start, end, _ in _boxes(data, meta[0] + 4, meta[1]):
        if typ == b"iinf" and start + 6 <= end:
            children = start + (6 if data[start] == 0 else 8)
            for ityp, istart, iend, _ in _boxes(data, children, end):
                if ityp != b"infe" or istart + 4 > iend:
                    continue
                version = data[istart]
                if version == 2 and istart + 12 <= iend:
                    item = struct.unpack(">H", data[istart + 4 : istart + 6])[0]
                    layout.item_types[item] = data[istart + 8 : istart + 12].decode("latin-1")
                elif version == 3 and istart + 14 <= iend:
                    item = struct.unpack(">I", data[istart + 4 : istart + 8])[0]
                    layout.item_types[item] = data[istart + 10 : istart + 14].decode("latin-1")
        elif typ == b"iprp":
            for ptyp, pstart, pend, _ in _boxes(data, start, end):
                if ptyp == b"ipco":
                    properties = [(t, u, s, e) for t, s, e, u in _boxes(data, pstart, pend)]
                elif ptyp == b"ipma" and pstart + 8 <= pend:
                    _parse_ipma(data, pstart, pend, associations)
        elif typ == b"grpl":
            for gtyp, gstart, gend, _ in _boxes(data, start, end):
                if gstart + 12 > gend:
                    continue
                gid, count = struct.unpack(">II", data[gstart + 4 : gstart + 12])
                count = min(count, (gend - gstart - 12) // 4)
                ids = struct.unpack(f">{count}I", data[gstart + 12 : gstart + 12 + 4 * count])
                layout.groups.append((gtyp.decode("latin-1"), gid, tuple(ids)))
    for owner, indices in associations.items():
        for index in indices:
            if not 1 <= index <= len(properties):
                continue
            ptyp, user_type, pstart, pend = properties[index - 1]
            if ptyp == b"cmex" or user_type == _UUID_CMEX:
                parsed = _parse_cmex(data, pstart, pend)
                if parsed is not None:
                    layout.extrinsics[owner] = parsed
            elif user_type == _UUID_DISPARITY and pstart + 4 <= pend:
                layout.disparity_adjustment[owner] = struct.unpack(">i", data[pstart : pstart + 4])[0]
    return layout


def _parse_ipma(data: bytes, start: int, end: int, associations: dict[int, list[int]]) -> None:
    version, wide = data[start], bool(data[start + 3] & 1)
    (entries,) = struct.unpack(">I", data[start + 4 : start + 8])
    pos = start + 8
    id_len = 2 if version == 0 else 4
    for _ in range(min(entries, _MAX_BOXES)):
        if pos + id_len + 1 > end:
            return
        item = int.from_bytes(data[pos : pos + id_len], "big")
        count = data[pos + id_len]
        pos += id_len + 1
        step = 2 if wide else 1
        if pos + step * count > end:
            return
        for i in range(count):
            raw = int.from_bytes(data[pos + step * i : pos + step * (i + 1)], "big")
            associations.setdefault(item, []).append(raw & (0x7FFF if wide else 0x7F))
        pos += step * count
