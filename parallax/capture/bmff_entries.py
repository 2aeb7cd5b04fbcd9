"""The facts in a video track's sample entry: MV-HEVC, Apple spatial-video and Spherical Video V1/V2 boxes.

``... > stbl > stsd > <visual sample entry>`` (``hvc1``, ``hev1``, ``avc1``, ...):
the children after the 78-byte visual sample entry header.

* ``hvcC`` / ``avcC`` (NAL length size), ``lhvC`` (MV-HEVC layer-1 parameter
  sets, needed to decode the second eye);
* Apple ``vexu > eyes > stri`` (FullBox + u8: 0x01 left eye present, 0x02
  right eye present, 0x08 views reversed, i.e. view 0 is the right eye),
  ``eyes > hero`` (FullBox + u8: 0 none, 1 left, 2 right), ``eyes > cams >
  blin`` (FullBox + u32 baseline in micrometres), ``eyes > cmfy > dadj``
  (FullBox + s32 disparity adjustment in 1/10000 of the image width),
  ``vexu > proj > prji`` and ``vexu > pack > pkin`` (FullBox + four-character
  projection / packing kind);
* ``hfov`` (u32, horizontal field of view in 1/1000 degree; a sibling of ``vexu``);
* Spherical Video V2 ``st3d`` (FullBox + u8: 0 mono, 1 top-bottom, 2
  left-right) and ``sv3d > proj > prhd`` (pose, 16.16 degrees) / ``equi``
  (FullBox + u32 crop top, bottom, left, right, each a fraction 2^-32 of the
  full projection) / ``cbmp`` / ``mshp``;
* ``pasp`` (u32 horizontal and vertical spacing: the pixel aspect ratio).

Spherical Video V1 is not in the sample entry but in a ``uuid`` box under
``trak`` (:data:`SPHERICAL_V1_UUID`): XML whose ``GSpherical:*`` elements
:func:`parse_spherical_v1` reads with a bounded pattern (no XML parser on
untrusted input).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from typing import Any

from parallax.capture.bmff_reader import MAX_DEPTH, Box, BoxReader, full_box_value, value_at
from parallax.errors import InputFileError

__all__ = [
    "SPHERICAL_V1_UUID",
    "AppleStereo",
    "SphericalV1",
    "SphericalV2",
    "SampleEntry",
    "parse_sample_entry",
    "parse_spherical_v1",
]

SPHERICAL_V1_UUID = bytes.fromhex("ffcc8263f8554a938814587a02521fdd")
_VISUAL_ENTRY_HEADER = 78  # bytes of a VisualSampleEntry before its child boxes (ISO/IEC 14496-12 12.1.3)
_STEREO_V1 = re.compile(rb"<GSpherical:(\w+)>([^<]{0,200})</GSpherical:\1>")


@dataclass(frozen=True, kw_only=True)
class AppleStereo:
    """Apple's Video Extended Usage (``vexu``) box and its sibling ``hfov``: the spatial-video facts."""

    stri_flags: int | None = None
    hero: int | None = None
    baseline_um: int | None = None
    disparity_adjustment: int | None = None
    projection: str | None = None
    packing: str | None = None
    boxes: tuple[str, ...] = ()

    @property
    def has_left(self) -> bool:
        """``stri`` says a left-eye view is present."""
        return bool((self.stri_flags or 0) & 0x01)

    @property
    def has_right(self) -> bool:
        """``stri`` says a right-eye view is present."""
        return bool((self.stri_flags or 0) & 0x02)

    @property
    def views_reversed(self) -> bool:
        """``stri`` flag 0x08: view 0 (the base layer) is the right eye."""
        return bool((self.stri_flags or 0) & 0x08)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (raw values, units in the names)."""
        return {
            "stri_flags": self.stri_flags,
            "hero": self.hero,
            "baseline_um": self.baseline_um,
            "disparity_adjustment_1e4": self.disparity_adjustment,
            "projection": self.projection,
            "packing": self.packing,
            "boxes": list(self.boxes),
        }


@dataclass(frozen=True, kw_only=True)
class SphericalV2:
    """Spherical Video V2 boxes of a sample entry: ``st3d`` and ``sv3d``.

    ``crop`` is ``(top, bottom, left, right)``: the fraction of the full
    projection cut away at each edge (``equi`` bounds / 2^32).
    """

    stereo_mode: int | None = None
    projection: str | None = None
    crop: tuple[float, float, float, float] | None = None
    pose_deg: tuple[float, float, float] | None = None
    metadata_source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "st3d": self.stereo_mode,
            "projection": self.projection,
            "crop_top_bottom_left_right": list(self.crop) if self.crop else None,
            "pose_yaw_pitch_roll_deg": list(self.pose_deg) if self.pose_deg else None,
            "metadata_source": self.metadata_source,
        }


@dataclass(frozen=True, kw_only=True)
class SphericalV1:
    """Spherical Video V1 (the ``uuid`` XML under ``trak``): its ``GSpherical:*`` fields as text."""

    fields: dict[str, str] = field(default_factory=dict)

    @property
    def projection_type(self) -> str | None:
        """``ProjectionType`` (``equirectangular`` is the only one V1 defines), lower case."""
        value = self.fields.get("ProjectionType")
        return value.strip().lower() if value else None

    @property
    def stereo_mode(self) -> str | None:
        """``StereoMode`` (``mono``, ``top-bottom``, ``left-right``), lower case."""
        value = self.fields.get("StereoMode")
        return value.strip().lower() if value else None

    @property
    def crop(self) -> tuple[float, float, float, float] | None:
        """``(top, bottom, left, right)`` fractions cut away, from the ``CroppedArea*`` / ``FullPano*`` pixels."""
        try:
            full_w = int(self.fields["FullPanoWidthPixels"])
            full_h = int(self.fields["FullPanoHeightPixels"])
            w = int(self.fields["CroppedAreaImageWidthPixels"])
            h = int(self.fields["CroppedAreaImageHeightPixels"])
            left = int(self.fields.get("CroppedAreaLeftPixels", "0"))
            top = int(self.fields.get("CroppedAreaTopPixels", "0"))
        except (KeyError, ValueError):
            return None
        if not (0 < w <= full_w and 0 < h <= full_h and 0 <= left <= full_w - w and 0 <= top <= full_h - h):
            return None
        return (top / full_h, (full_h - top - h) / full_h, left / full_w, (full_w - left - w) / full_w)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return dict(self.fields)


@dataclass(frozen=True, kw_only=True)
class SampleEntry:
    """The first sample entry of a track's ``stsd`` and the facts its child boxes hold."""

    codec: str
    width: int = 0
    height: int = 0
    children: tuple[str, ...] = ()
    nal_length_size: int | None = None
    has_lhvc: bool = False
    hfov_mdeg: int | None = None
    apple: AppleStereo | None = None
    spherical: SphericalV2 | None = None
    pixel_aspect: tuple[int, int] | None = None


def _apple(r: BoxReader, vexu: Box, depth: int) -> AppleStereo:
    values: dict[str, Any] = {}
    seen: list[str] = []

    def walk(box: Box, d: int) -> None:
        if d > MAX_DEPTH:
            return
        for child in r.children(box.content, box.end, box.name):
            seen.append(child.name)
            if child.type in (b"eyes", b"cams", b"cmfy", b"proj", b"pack"):
                walk(child, d + 1)
            elif child.type == b"stri":
                values["stri_flags"] = full_box_value(r.payload(child, 64), ">B")
            elif child.type == b"hero":
                values["hero"] = full_box_value(r.payload(child, 64), ">B")
            elif child.type == b"blin":
                values["baseline_um"] = full_box_value(r.payload(child, 64), ">I")
            elif child.type == b"dadj":
                values["disparity_adjustment"] = full_box_value(r.payload(child, 64), ">i")
            elif child.type in (b"prji", b"pkin"):
                raw = r.payload(child, 64)[4:8]
                text = raw.decode("latin-1") if len(raw) == 4 else None
                values["projection" if child.type == b"prji" else "packing"] = text

    walk(vexu, depth)
    return AppleStereo(boxes=tuple(seen), **values)


def _spherical_v2(r: BoxReader, sv3d: Box | None, st3d: Box | None, depth: int) -> SphericalV2:
    values: dict[str, Any] = {}
    if st3d is not None:
        values["stereo_mode"] = full_box_value(r.payload(st3d, 64), ">B")
    if sv3d is not None and depth <= MAX_DEPTH:
        for child in r.children(sv3d.content, sv3d.end, "sv3d"):
            if child.type == b"svhd":
                raw = r.payload(child, 4096)[4:]
                values["metadata_source"] = raw.split(b"\0", 1)[0].decode("utf-8", "replace")
            elif child.type == b"proj":
                for p in r.children(child.content, child.end, "proj"):
                    if p.type == b"prhd":
                        raw = r.payload(p, 64)
                        pose = [value_at(raw, 4 + 4 * i, ">i") for i in range(3)]
                        if all(v is not None for v in pose):
                            values["pose_deg"] = tuple(v / 65536.0 for v in pose)
                    elif p.type == b"equi":
                        raw = r.payload(p, 64)
                        bounds = [value_at(raw, 4 + 4 * i, ">I") for i in range(4)]
                        values["projection"] = "equirectangular"
                        if all(v is not None for v in bounds):
                            values["crop"] = tuple(v / 2.0**32 for v in bounds)
                    elif p.type == b"cbmp":
                        values["projection"] = "cubemap"
                    elif p.type == b"mshp":
                        values["projection"] = "mesh"
    return SphericalV2(**values)


def parse_sample_entry(r: BoxReader, entry: Box, handler: str, depth: int) -> SampleEntry:
    """The facts of one sample entry box (only visual entries, ``handler == "vide"``, are looked into)."""
    codec = entry.name
    if handler != "vide":
        return SampleEntry(codec=codec)
    head = r.read(entry.content, _VISUAL_ENTRY_HEADER)
    if len(head) < _VISUAL_ENTRY_HEADER or entry.content + _VISUAL_ENTRY_HEADER > entry.end:
        raise InputFileError(
            f"{r.name}: the video sample entry '{codec}' at byte {entry.start} is too short; the file is corrupt"
        )
    width, height = struct.unpack(">HH", head[24:28])
    values: dict[str, Any] = {}
    children: list[str] = []
    sv3d = st3d = vexu = None
    for child in r.children(entry.content + _VISUAL_ENTRY_HEADER, entry.end, codec):
        children.append(child.name)
        if child.type == b"hvcC":
            raw = r.read(child.content, 22)
            if len(raw) == 22:
                values["nal_length_size"] = (raw[21] & 3) + 1
        elif child.type == b"avcC":
            raw = r.read(child.content, 5)
            if len(raw) == 5:
                values["nal_length_size"] = (raw[4] & 3) + 1
        elif child.type == b"lhvC":
            values["has_lhvc"] = True
        elif child.type == b"hfov":
            values["hfov_mdeg"] = value_at(r.payload(child, 64), 0, ">I")
        elif child.type == b"pasp":
            raw = r.payload(child, 64)
            h, v = value_at(raw, 0, ">I"), value_at(raw, 4, ">I")
            if h and v:
                values["pixel_aspect"] = (h, v)
        elif child.type == b"vexu":
            vexu = child
        elif child.type == b"st3d":
            st3d = child
        elif child.type == b"sv3d":
            sv3d = child
    if vexu is not None:
        values["apple"] = _apple(r, vexu, depth + 1)
    if sv3d is not None or st3d is not None:
        values["spherical"] = _spherical_v2(r, sv3d, st3d, depth + 1)
    return SampleEntry(codec=codec, width=width, height=height, children=tuple(children), **values)


def parse_spherical_v1(xml: bytes) -> SphericalV1:
    """The ``GSpherical:*`` fields of a Spherical V1 XML payload."""
    return SphericalV1(fields={k.decode(): v.decode("utf-8", "replace").strip() for k, v in _STEREO_V1.findall(xml)})
