"""A bounded ISO-BMFF (MP4 / QuickTime ``.mov``) reader for the stereo and spherical facts PyAV does not expose.

PyAV (FFmpeg) decodes the samples; it does not hand over the boxes that say
*what* the pictures are. :func:`read_movie` reads only those, straight from the
file:

``moov > trak > tkhd``
    the display matrix (rotation) and track size;
``moov > trak > mdia > mdhd`` / ``hdlr``
    time scale, duration, track kind (``vide``, ``soun``);
``moov > trak > uuid`` (Spherical Video V1 XML)
    ``GSpherical:ProjectionType``, ``StereoMode`` and optional
    ``CroppedArea*`` / ``FullPano*`` pixel fields;
``moov > trak > mdia > minf > stbl > stsd > <visual sample entry>``
    MV-HEVC, Apple spatial-video and Spherical V2 boxes
    (:mod:`parallax.capture.bmff_entries`).

The bounds and checks that keep an untrusted file from reading past its end,
looping or allocating by a size it claims are in
:mod:`parallax.capture.bmff_reader`.
"""

from __future__ import annotations

import functools
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from parallax.capture.bmff_entries import (
    SPHERICAL_V1_UUID,
    AppleStereo,
    SampleEntry,
    SphericalV1,
    SphericalV2,
    parse_sample_entry,
    parse_spherical_v1,
)
from parallax.capture.bmff_reader import MAX_PAYLOAD_BYTES, Box, BoxReader, value_at
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


def _track(r: BoxReader, trak: Box) -> TrackInfo:
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
            values["track_id"] = value_at(raw, 4 + (16 if version == 1 else 8), ">I") or 0
            m = [value_at(raw, base + 16 + 4 * i, ">i") for i in range(9)]
            if all(v is not None for v in m):
                values["matrix"] = tuple(v / (1 << 30) if i in (2, 5, 8) else v / 65536.0 for i, v in enumerate(m))
            w, h = value_at(raw, base + 52, ">I"), value_at(raw, base + 56, ">I")
            if w is not None and h is not None:
                values["width"], values["height"] = w / 65536.0, h / 65536.0
        elif box.type == b"uuid" and box.user_type == SPHERICAL_V1_UUID:
            xml = r.payload(box, 65536)
            values["spherical_v1"] = parse_spherical_v1(xml)
        elif box.type == b"mdia":
            for m_box in r.children(box.content, box.end, "mdia"):
                if m_box.type == b"mdhd":
                    raw = r.payload(m_box, 256)
                    if raw and raw[0] == 1:
                        values["timescale"], values["duration"] = (
                            value_at(raw, 20, ">I") or 0,
                            value_at(raw, 24, ">Q") or 0,
                        )
                    else:
                        values["timescale"], values["duration"] = (
                            value_at(raw, 12, ">I") or 0,
                            value_at(raw, 16, ">I") or 0,
                        )
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
            values["sample_entry"] = parse_sample_entry(r, entry, values["handler"], 6)
    return TrackInfo(**values)


def parse_movie(fh: BinaryIO, size: int, name: str) -> MovieInfo:
    """Parse an open MP4/MOV file of ``size`` bytes (``name`` for messages); see :func:`read_movie`."""
    r = BoxReader(fh, size, name)
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
