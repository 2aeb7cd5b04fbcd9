"""A bounded ISO-BMFF (MP4 / QuickTime ``.mov``) reader for the stereo and spherical facts PyAV does not expose.

PyAV (FFmpeg) decodes the samples; it does not hand over the boxes that say
*what* the pictures are. This module reads only those, straight from the file:

``moov > trak > tkhd``
    the display matrix (rotation) and track size;
``moov > trak > mdia > mdhd`` / ``hdlr``
    time scale, duration, track kind (``vide``, ``soun``);
``moov > trak > uuid`` (``ffcc8263-f855-4a93-8814-587a02521fdd``)
    Spherical Video V1: XML with ``GSpherical:ProjectionType``, ``StereoMode``
    and optional ``CroppedArea*`` / ``FullPano*`` pixel fields;
``... > stbl > stsd > <visual sample entry>`` (``hvc1``, ``hev1``, ``avc1``, ...)
    the children after the 78-byte visual sample entry header:

    * ``hvcC`` (NAL length size), ``lhvC`` (MV-HEVC layer-1 parameter sets,
      needed to decode the second eye);
    * Apple ``vexu > eyes > stri`` (FullBox + u8: 0x01 left eye present,
      0x02 right eye present, 0x08 views reversed, i.e. view 0 is the right
      eye), ``eyes > hero`` (FullBox + u8: 0 none, 1 left, 2 right),
      ``eyes > cams > blin`` (FullBox + u32 baseline in micrometres),
      ``eyes > cmfy > dadj`` (FullBox + s32 disparity adjustment in 1/10000 of
      the image width), ``vexu > proj > prji`` and ``vexu > pack > pkin``
      (FullBox + four-character projection / packing kind);
    * ``hfov`` (u32, horizontal field of view in 1/1000 degree);
    * Spherical Video V2 ``st3d`` (FullBox + u8: 0 mono, 1 top-bottom,
      2 left-right) and ``sv3d > proj > prhd`` (pose, 16.16 degrees) /
      ``equi`` (FullBox + u32 crop top, bottom, left, right, each a fraction
      2^-32 of the full projection) / ``cbmp`` / ``mshp``;
    * ``pasp`` (u32 horizontal and vertical spacing: the pixel aspect ratio).

Safety (the file is untrusted): the file is never loaded whole; every box
header is checked against its container (a size smaller than its header, or
past the end of its container, is an :class:`~parallax.errors.InputFileError`
naming the box and the byte offset); nesting depth and the total number of
boxes visited are capped, so a malformed file cannot loop forever; payloads are
read only for the small leaf boxes above, at most :data:`MAX_PAYLOAD_BYTES`,
never sized by a value read from the file alone.
"""

from __future__ import annotations

import functools
import math
import os
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from parallax.errors import InputFileError

__all__ = [
    "SPHERICAL_V1_UUID",
    "MAX_PAYLOAD_BYTES",
    "Box",
    "AppleStereo",
    "SphericalV1",
    "SphericalV2",
    "SampleEntry",
    "TrackInfo",
    "MovieInfo",
    "is_iso_bmff",
    "parse_movie",
    "read_movie",
]

SPHERICAL_V1_UUID = bytes.fromhex("ffcc8263f8554a938814587a02521fdd")
#: Largest payload read from any one box (the V1 XML is the largest: about 500 bytes in practice).
MAX_PAYLOAD_BYTES = 1 << 20
_MAX_DEPTH = 12
_MAX_BOXES = 20_000
_VISUAL_ENTRY_HEADER = 78  # bytes of a VisualSampleEntry before its child boxes (ISO/IEC 14496-12 12.1.3)
_TOP_LEVEL = {
    b"ftyp",
    b"moov",
    b"mdat",
    b"free",
    b"skip",
    b"wide",
    b"pnot",
    b"uuid",
    b"styp",
    b"sidx",
    b"moof",
    b"meta",
}
_IMAGE_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"mif1", b"mif2", b"msf1", b"hevc", b"hevx", b"avif", b"avis"}
_STEREO_V1 = re.compile(rb"<GSpherical:(\w+)>([^<]{0,200})</GSpherical:\1>")


@dataclass(frozen=True)
class Box:
    """One box: its four-character type, where it starts and ends, where its content starts."""

    type: bytes
    start: int
    end: int
    content: int
    user_type: bytes | None = None

    @property
    def name(self) -> str:
        """The type as text (non-printable bytes escaped)."""
        return self.type.decode("latin-1").encode("unicode_escape").decode("ascii")


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


@dataclass(frozen=True, kw_only=True)
class TrackInfo:
    """One ``trak``: kind, timing, display matrix, its sample entry and V1 spherical XML."""

    track_id: int
    handler: str
    timescale: int
    duration: int
    matrix: tuple[float, ...]
    width: float
    height: float
    sample_entry: SampleEntry | None = None
    spherical_v1: SphericalV1 | None = None

    @property
    def rotation_deg(self) -> int | None:
        """Clockwise display rotation (0, 90, 180, 270) the matrix asks for; ``None`` if it is no such rotation."""
        a, b, _, c, d = self.matrix[:5]
        scale = math.hypot(a, b)
        if scale < 1e-6:
            return None
        angle = math.degrees(math.atan2(b, a)) % 360.0
        quarter = round(angle / 90.0) % 4
        # a pure rotation: |angle - k*90| small, c = -b, d = a (no mirror, no shear)
        if abs((angle - 90.0 * quarter + 180.0) % 360.0 - 180.0) > 0.5 or abs(c + b) > 1e-3 or abs(d - a) > 1e-3:
            return None
        return 90 * quarter

    @property
    def duration_s(self) -> float | None:
        """Duration in seconds (``mdhd``), or ``None`` when not stated."""
        return self.duration / self.timescale if self.timescale > 0 and self.duration > 0 else None


@dataclass(frozen=True, kw_only=True)
class MovieInfo:
    """What :func:`read_movie` found: brands and tracks."""

    major_brand: str | None
    brands: tuple[str, ...]
    tracks: tuple[TrackInfo, ...]

    @property
    def video_track(self) -> TrackInfo | None:
        """The first video track with a sample entry, or ``None``."""
        return next((t for t in self.tracks if t.handler == "vide" and t.sample_entry is not None), None)

    @property
    def has_audio(self) -> bool:
        """True when the movie has a sound track."""
        return any(t.handler == "soun" for t in self.tracks)


def is_iso_bmff(head: bytes) -> bool:
    """True when ``head`` starts like an MP4/MOV movie (not a HEIF/AVIF still image)."""
    if len(head) < 8:
        return False
    size, typ = struct.unpack(">I4s", head[:8])
    if typ not in _TOP_LEVEL or (size != 1 and 0 < size < 8):
        return False
    if typ == b"ftyp":
        if len(head) < 12 or head[8:12] in _IMAGE_BRANDS:
            return False
        end = min(max(size, 16), len(head))
        brands = {head[i : i + 4] for i in range(16, end - 3, 4)}
        video = {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"qt  ", b"avc1", b"M4V ", b"dash"}
        if brands & _IMAGE_BRANDS and not brands & video:
            return False
    return True


class _Reader:
    """Bounded box access to an open file."""

    def __init__(self, fh: BinaryIO, size: int, name: str) -> None:
        self.fh, self.size, self.name = fh, size, name
        self.visited = 0

    def _read(self, pos: int, n: int) -> bytes:
        self.fh.seek(pos)
        return self.fh.read(n)

    def children(self, start: int, end: int, parent: str, *, top: bool = False) -> Iterator[Box]:
        pos = start
        while pos + 8 <= end:
            self.visited += 1
            if self.visited > _MAX_BOXES:
                raise InputFileError(
                    f"{self.name} holds more than {_MAX_BOXES} boxes where a few are expected; the file is corrupt"
                )
            size, typ = struct.unpack(">I4s", self._read(pos, 8))
            header = 8
            if size == 1:
                raw = self._read(pos + 8, 8)
                if len(raw) < 8:
                    raise self._bad(typ, pos, "ends inside its 64-bit size", top)
                (size,) = struct.unpack(">Q", raw)
                header = 16
            elif size == 0:  # the box extends to the end of its container
                size = end - pos
            if size < header:
                raise self._bad(typ, pos, f"claims {size} bytes, less than its own header", top)
            if pos + size > end:
                where = "the file ends" if top else f"its container '{parent}' ends"
                raise self._bad(typ, pos, f"claims {size} bytes but {where} {end - pos} bytes later", top)
            content, user_type = pos + header, None
            if typ == b"uuid":
                if size < header + 16:
                    raise self._bad(typ, pos, "is too short for its 16-byte user type", top)
                user_type, content = self._read(content, 16), content + 16
            yield Box(typ, pos, pos + size, content, user_type)
            pos += size
        # fewer than 8 bytes left hold no box (QuickTime ends some lists with a 4-byte zero): nothing to read there

    def _bad(self, typ: bytes, pos: int, what: str, top: bool) -> InputFileError:
        name = Box(typ, 0, 0, 0).name
        if top:
            return InputFileError(
                f"{self.name} is truncated or corrupt: its '{name}' box at byte {pos} {what}; "
                "copy or download the file again"
            )
        return InputFileError(f"{self.name}: box '{name}' at byte {pos} {what}; the file is corrupt")

    def payload(self, box: Box, limit: int = 4096) -> bytes:
        n = box.end - box.content
        if n > min(limit, MAX_PAYLOAD_BYTES):
            raise InputFileError(
                f"{self.name}: box '{box.name}' at byte {box.start} holds {n} bytes where at most {limit} are "
                "expected; the file is corrupt"
            )
        return self._read(box.content, n)


def _u(data: bytes, offset: int, fmt: str) -> Any:
    size = struct.calcsize(fmt)
    if offset + size > len(data):
        return None
    return struct.unpack(fmt, data[offset : offset + size])[0]


def _full_u(data: bytes, fmt: str) -> Any:
    """The value after a FullBox's version and flags."""
    return _u(data, 4, fmt)


def _apple(r: _Reader, vexu: Box, depth: int) -> AppleStereo:
    values: dict[str, Any] = {}
    seen: list[str] = []

    def walk(box: Box, d: int) -> None:
        if d > _MAX_DEPTH:
            return
        for child in r.children(box.content, box.end, box.name):
            seen.append(child.name)
            if child.type in (b"eyes", b"cams", b"cmfy", b"proj", b"pack"):
                walk(child, d + 1)
            elif child.type == b"stri":
                values["stri_flags"] = _full_u(r.payload(child, 64), ">B")
            elif child.type == b"hero":
                values["hero"] = _full_u(r.payload(child, 64), ">B")
            elif child.type == b"blin":
                values["baseline_um"] = _full_u(r.payload(child, 64), ">I")
            elif child.type == b"dadj":
                values["disparity_adjustment"] = _full_u(r.payload(child, 64), ">i")
            elif child.type in (b"prji", b"pkin"):
                raw = r.payload(child, 64)[4:8]
                text = raw.decode("latin-1") if len(raw) == 4 else None
                values["projection" if child.type == b"prji" else "packing"] = text

    walk(vexu, depth)
    return AppleStereo(boxes=tuple(seen), **values)


def _spherical_v2(r: _Reader, sv3d: Box | None, st3d: Box | None, depth: int) -> SphericalV2:
    values: dict[str, Any] = {}
    if st3d is not None:
        values["stereo_mode"] = _full_u(r.payload(st3d, 64), ">B")
    if sv3d is not None and depth <= _MAX_DEPTH:
        for child in r.children(sv3d.content, sv3d.end, "sv3d"):
            if child.type == b"svhd":
                raw = r.payload(child, 4096)[4:]
                values["metadata_source"] = raw.split(b"\0", 1)[0].decode("utf-8", "replace")
            elif child.type == b"proj":
                for p in r.children(child.content, child.end, "proj"):
                    if p.type == b"prhd":
                        raw = r.payload(p, 64)
                        pose = [_u(raw, 4 + 4 * i, ">i") for i in range(3)]
                        if all(v is not None for v in pose):
                            values["pose_deg"] = tuple(v / 65536.0 for v in pose)
                    elif p.type == b"equi":
                        raw = r.payload(p, 64)
                        bounds = [_u(raw, 4 + 4 * i, ">I") for i in range(4)]
                        values["projection"] = "equirectangular"
                        if all(v is not None for v in bounds):
                            values["crop"] = tuple(v / 2.0**32 for v in bounds)
                    elif p.type == b"cbmp":
                        values["projection"] = "cubemap"
                    elif p.type == b"mshp":
                        values["projection"] = "mesh"
    return SphericalV2(**values)


def _sample_entry(r: _Reader, entry: Box, handler: str, depth: int) -> SampleEntry:
    codec = entry.name
    if handler != "vide":
        return SampleEntry(codec=codec)
    head = r._read(entry.content, _VISUAL_ENTRY_HEADER)
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
            raw = r._read(child.content, 22)
            if len(raw) == 22:
                values["nal_length_size"] = (raw[21] & 3) + 1
        elif child.type == b"avcC":
            raw = r._read(child.content, 5)
            if len(raw) == 5:
                values["nal_length_size"] = (raw[4] & 3) + 1
        elif child.type == b"lhvC":
            values["has_lhvc"] = True
        elif child.type == b"hfov":
            values["hfov_mdeg"] = _u(r.payload(child, 64), 0, ">I")
        elif child.type == b"pasp":
            raw = r.payload(child, 64)
            h, v = _u(raw, 0, ">I"), _u(raw, 4, ">I")
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


def _track(r: _Reader, trak: Box) -> TrackInfo:
    values: dict[str, Any] = {
        "track_id": 0,
        "handler": "",
        "timescale": 0,
        "duration": 0,
        "matrix": (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0),
        "width": 0.0,
        "height": 0.0,
    }
    stsd: Box | None = None
    for box in r.children(trak.content, trak.end, "trak"):
        if box.type == b"tkhd":
            raw = r.payload(box, 256)
            version = raw[0] if raw else 0
            base = 4 + (32 if version == 1 else 20)  # after the times, track id, reserved and duration
            values["track_id"] = _u(raw, 4 + (16 if version == 1 else 8), ">I") or 0
            m = [_u(raw, base + 16 + 4 * i, ">i") for i in range(9)]
            if all(v is not None for v in m):
                values["matrix"] = tuple(v / (1 << 30) if i in (2, 5, 8) else v / 65536.0 for i, v in enumerate(m))
            w, h = _u(raw, base + 52, ">I"), _u(raw, base + 56, ">I")
            if w is not None and h is not None:
                values["width"], values["height"] = w / 65536.0, h / 65536.0
        elif box.type == b"uuid" and box.user_type == SPHERICAL_V1_UUID:
            xml = r.payload(box, 65536)
            values["spherical_v1"] = SphericalV1(
                fields={k.decode(): v.decode("utf-8", "replace").strip() for k, v in _STEREO_V1.findall(xml)}
            )
        elif box.type == b"mdia":
            for m_box in r.children(box.content, box.end, "mdia"):
                if m_box.type == b"mdhd":
                    raw = r.payload(m_box, 256)
                    if raw and raw[0] == 1:
                        values["timescale"], values["duration"] = _u(raw, 20, ">I") or 0, _u(raw, 24, ">Q") or 0
                    else:
                        values["timescale"], values["duration"] = _u(raw, 12, ">I") or 0, _u(raw, 16, ">I") or 0
                elif m_box.type == b"hdlr":
                    raw = r.payload(m_box, 4096)
                    values["handler"] = raw[8:12].decode("latin-1") if len(raw) >= 12 else ""
                elif m_box.type == b"minf":
                    for n_box in r.children(m_box.content, m_box.end, "minf"):
                        if n_box.type == b"stbl":
                            stsd = next(
                                (s for s in r.children(n_box.content, n_box.end, "stbl") if s.type == b"stsd"), None
                            )
    if stsd is not None and stsd.content + 8 <= stsd.end:
        entry = next(r.children(stsd.content + 8, stsd.end, "stsd"), None)  # FullBox + entry count
        if entry is not None:
            values["sample_entry"] = _sample_entry(r, entry, values["handler"], 6)
    return TrackInfo(**values)


def parse_movie(fh: BinaryIO, size: int, name: str) -> MovieInfo:
    """Parse an open MP4/MOV file of ``size`` bytes (``name`` for messages); see :func:`read_movie`."""
    r = _Reader(fh, size, name)
    major, brands, tracks, moov_seen = None, [], [], False
    for box in r.children(0, size, "file", top=True):
        if box.type == b"ftyp":
            raw = r.payload(box, 4096)
            major = raw[:4].decode("latin-1") if len(raw) >= 4 else None
            brands = [raw[i : i + 4].decode("latin-1") for i in range(8, len(raw) - 3, 4)]
        elif box.type == b"moov" and not moov_seen:
            moov_seen = True
            tracks = [_track(r, t) for t in r.children(box.content, box.end, "moov") if t.type == b"trak"]
    if not moov_seen:
        raise InputFileError(
            f"{name} has no movie header ('moov' box): the recording or download was interrupted, or it is no "
            "MP4/MOV; copy the complete file again"
        )
    return MovieInfo(major_brand=major, brands=tuple(brands), tracks=tuple(tracks))


@functools.lru_cache(maxsize=16)
def _cached(path: str, size: int, mtime_ns: int) -> MovieInfo:
    with open(path, "rb") as fh:
        return parse_movie(fh, size, Path(path).name)


def read_movie(path: str | os.PathLike[str]) -> MovieInfo:
    """Read the stereo and spherical facts of an MP4/MOV file (see the module docstring).

    The result is cached per file (path, size, modification time): sniffing and
    reading the same file parse it once.

    Raises
    ------
    InputFileError
        A malformed box (size smaller than its header, past its container or
        the end of the file), no ``moov`` box, or far too many boxes.
    """
    st = os.stat(path)
    try:
        return _cached(os.fspath(path), st.st_size, st.st_mtime_ns)
    except OSError as exc:
        raise InputFileError(f"{Path(path).name} could not be read ({exc.strerror or exc}); check the file") from exc
