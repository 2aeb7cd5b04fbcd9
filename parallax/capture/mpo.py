"""MPO reader (CIPA DC-007 Multi-Picture Format): 3DS, Fujifilm W3, Panasonic 3D lenses, ...

An MPO is JPEGs one after the other. The first carries an APP2 segment that
starts ``MPF\\0`` and holds a TIFF-style structure: the **MP Index IFD**

* ``0xB000`` version, ``0xB001`` number of images,
* ``0xB002`` MP entries, 16 bytes each: attribute (bit 31 dependent parent,
  bit 30 dependent child, bit 29 representative image, bits 24-26 data format,
  bits 0-23 MP type), size, offset (relative to the MPF TIFF header; 0 for the
  first image), two dependent-entry numbers,

followed (next-IFD link) by the first image's **MP Attribute IFD**. Every later
image has its own APP2 ``MPF`` with just its attribute IFD. The attribute tags
read here: ``0xB101`` individual image number, ``0xB204`` base viewpoint,
``0xB205`` convergence angle (SRATIONAL, degrees), ``0xB206`` baseline length
(RATIONAL, metres), ``0xB207`` vertical divergence, ``0xB208``-``0xB20A`` axis
distances (metres), ``0xB20B``-``0xB20D`` yaw/pitch/roll (degrees).

The parsing is our own: Pillow's ``_getmp`` fails on the later frames (they
have no index IFD). Views are the entries of MP type ``0x020002``
(multi-frame disparity) or ``0x020003`` (multi-angle), ordered by individual
image number, which DC-007 numbers from the leftmost viewpoint.

Unknown values: DC-007 marks an unknown rational with numerator and
denominator both 0xFFFFFFFF. The Nintendo 3DS writes exactly that for baseline
and convergence (read naively they look like "baseline 1 m, convergence 1
degree"). Such values become ``None``; the raw pairs stay in the metadata
(``raw_rationals``). Values from a Nintendo 3DS, and the pair (1 m, 1 degree)
from any camera, are never trusted as metric (a 1 m baseline is no consumer
camera's). The 3DS cameras are about 35 mm apart and converged.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parallax.capture.exif import exif_facts, intrinsics_from_exif
from parallax.capture.image_io import open_image, to_rgb_array
from parallax.capture.registry import FileProbe, ReaderSpec, ReadOptions, register_reader
from parallax.capture.types import Capture
from parallax.errors import InputFileError, NotStereoError, ParameterError

__all__ = ["MPEntry", "MPIndex", "MP_TYPES", "find_mpf", "parse_mp_index", "parse_mp_attributes", "read_mpo"]

MP_TYPES = {
    0x000000: "undefined",
    0x010001: "large-thumbnail-vga",
    0x010002: "large-thumbnail-full-hd",
    0x020001: "panorama",
    0x020002: "disparity",
    0x020003: "multi-angle",
    0x030000: "baseline-primary",
}
_VIEW_TYPES = (0x020002, 0x020003)
_UNTYPED = (0x000000, 0x030000)  # Pillow's MPO writer labels frames "primary" and "undefined"
_ATTRIBUTE_TAGS = {
    0xB101: "individual_image_number",
    0xB201: "panorama_orientation",
    0xB202: "panorama_overlap_h",
    0xB203: "panorama_overlap_v",
    0xB204: "base_viewpoint_number",
    0xB205: "convergence_angle_deg",
    0xB206: "baseline_length_m",
    0xB207: "vertical_divergence_deg",
    0xB208: "axis_distance_x_m",
    0xB209: "axis_distance_y_m",
    0xB20A: "axis_distance_z_m",
    0xB20B: "yaw_angle_deg",
    0xB20C: "pitch_angle_deg",
    0xB20D: "roll_angle_deg",
}
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8}


@dataclass(frozen=True, kw_only=True)
class MPEntry:
    """One image listed in the MP Index IFD (offsets in bytes from the start of the file)."""

    index: int
    mp_type: int
    representative: bool
    data_format: int
    offset: int
    size: int

    @property
    def type_name(self) -> str:
        """The DC-007 name of ``mp_type`` (or its hex code)."""
        return MP_TYPES.get(self.mp_type, f"0x{self.mp_type:06X}")


@dataclass(frozen=True, kw_only=True)
class MPIndex:
    """The parsed MP Index IFD: version, entries, and the first image's attributes."""

    version: str
    entries: tuple[MPEntry, ...]
    first_attributes: dict[str, Any]


def find_mpf(jpeg: bytes) -> int | None:
    """Offset of the MPF TIFF header inside the first JPEG's APP2 ``MPF\\0`` segment, or None."""
    if jpeg[:2] != b"\xff\xd8":
        return None
    pos = 2
    while pos + 4 <= len(jpeg):
        if jpeg[pos] != 0xFF:
            return None
        marker = jpeg[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no more metadata segments
            return None
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        (length,) = struct.unpack(">H", jpeg[pos + 2 : pos + 4])
        if length < 2:
            return None
        if marker == 0xE2 and jpeg[pos + 4 : pos + 8] == b"MPF\x00":
            return pos + 8
        pos += 2 + length
    return None


class _Tiff:
    """Bounds-checked reads inside one MPF TIFF structure."""

    def __init__(self, data: bytes, start: int, name: str) -> None:
        self.data, self.start, self.name = data, start, name
        order = data[start : start + 2]
        if order not in (b"II", b"MM"):
            raise InputFileError(f"{name}: damaged MPF header (byte order {order!r}); the file is corrupt")
        self.endian = "<" if order == b"II" else ">"

    def unpack(self, fmt: str, offset: int) -> tuple[Any, ...]:
        at = self.start + offset
        size = struct.calcsize(self.endian + fmt)
        if offset < 0 or at + size > len(self.data):
            raise InputFileError(f"{self.name}: MPF data runs past the end of the file; the file is truncated")
        return struct.unpack(self.endian + fmt, self.data[at : at + size])

    def ifd(self, offset: int) -> tuple[dict[int, tuple[int, int, int, int]], int]:
        """Entries ``tag -> (type, count, value_or_offset, entry_offset)`` and the next-IFD offset."""
        (count,) = self.unpack("H", offset)
        if count > 512:
            raise InputFileError(f"{self.name}: MPF IFD claims {count} entries; the file is corrupt")
        entries = {}
        for i in range(count):
            at = offset + 2 + 12 * i
            tag, typ, n, value = self.unpack("HHII", at)
            entries[tag] = (typ, n, value, at + 8)
        (next_ifd,) = self.unpack("I", offset + 2 + 12 * count)
        return entries, next_ifd

    def value_bytes(self, entry: tuple[int, int, int, int]) -> bytes:
        typ, n, value, inline_at = entry
        length = _TYPE_SIZES.get(typ, 1) * n
        at = inline_at if length <= 4 else value
        if length > 1 << 20:
            raise InputFileError(f"{self.name}: MPF value of {length} bytes; the file is corrupt")
        self.unpack(f"{length}s", at)
        return self.data[self.start + at : self.start + at + length]

    def rational(self, entry: tuple[int, int, int, int]) -> tuple[float | None, list[int]]:
        """The value (None for the DC-007 "unknown" marker or a zero denominator) and the raw pair."""
        typ, _, value, _ = entry
        num, den = self.unpack("ii" if typ == 10 else "II", value)
        unknown = 0xFFFFFFFF if typ == 5 else -1
        if den == 0 or (num == unknown and den == unknown):
            return None, [num, den]
        return num / den, [num, den]

    def scalar(self, entry: tuple[int, int, int, int]) -> int:
        typ, _, value, inline_at = entry
        return self.unpack("H", inline_at)[0] if typ == 3 else value


def _attributes(tiff: _Tiff, offset: int) -> dict[str, Any]:
    entries, _ = tiff.ifd(offset)
    out: dict[str, Any] = {}
    raw: dict[str, list[int]] = {}
    for tag, name in _ATTRIBUTE_TAGS.items():
        if tag not in entries:
            continue
        typ = entries[tag][0]
        if typ in (5, 10):
            out[name], raw[name] = tiff.rational(entries[tag])
        else:
            out[name] = tiff.scalar(entries[tag])
    if raw:
        out["raw_rationals"] = raw
    return out


def parse_mp_index(data: bytes, *, name: str = "<mpo>") -> MPIndex | None:
    """Parse the MP Index IFD of the first JPEG in ``data``; None when there is no MPF segment.

    Raises
    ------
    InputFileError
        A damaged MPF structure, or an image that lies past the end of ``data``.
    """
    start = find_mpf(data)
    if start is None:
        return None
    tiff = _Tiff(data, start, name)
    (first_ifd,) = tiff.unpack("I", 4)
    entries, next_ifd = tiff.ifd(first_ifd)
    version = tiff.value_bytes(entries[0xB000]).decode("latin-1", "replace") if 0xB000 in entries else ""
    if 0xB002 not in entries:
        raise InputFileError(f"{name}: MPF segment without MP entries; the file is corrupt")
    raw = tiff.value_bytes(entries[0xB002])
    mp_entries = []
    for i in range(len(raw) // 16):
        attr, size, offset, _dep1, _dep2 = struct.unpack(tiff.endian + "IIIHH", raw[16 * i : 16 * i + 16])
        absolute = 0 if i == 0 and offset == 0 else start + offset
        if absolute + size > len(data):
            raise InputFileError(
                f"{name} is truncated: image {i + 1} of {len(raw) // 16} should end at byte {absolute + size} "
                f"but the file has {len(data)} bytes; copy the file again from its source"
            )
        mp_entries.append(
            MPEntry(
                index=i,
                mp_type=attr & 0xFFFFFF,
                representative=bool(attr & (1 << 29)),
                data_format=(attr >> 24) & 0x7,
                offset=absolute,
                size=size,
            )
        )
    first = _attributes(tiff, next_ifd) if next_ifd else {}
    return MPIndex(version=version, entries=tuple(mp_entries), first_attributes=first)


def parse_mp_attributes(frame: bytes, *, name: str = "<mpo>") -> dict[str, Any]:
    """The MP Attribute IFD of one (later) image, as ``{name: value}``; empty if it has none."""
    start = find_mpf(frame)
    if start is None:
        return {}
    tiff = _Tiff(frame, start, name)
    (first_ifd,) = tiff.unpack("I", 4)
    entries, next_ifd = tiff.ifd(first_ifd)
    if 0xB002 in entries:  # an index IFD (first image): the attributes follow it
        return _attributes(tiff, next_ifd) if next_ifd else {}
    return _attributes(tiff, first_ifd)


def _as_plain_jpeg(frame: bytes) -> bytes:
    """The frame with its ``MPF`` identifier renamed, so Pillow decodes it as the plain JPEG it is.

    (Pillow would otherwise try its own MP parser on it, which fails and warns on later frames.)
    """
    start = find_mpf(frame)
    if start is None:
        return frame
    return frame[: start - 4] + b"XPF\x00" + frame[start:]


def _sniff(probe: FileProbe) -> bool:
    return probe.head[:2] == b"\xff\xd8" and find_mpf(probe.head) is not None


def _trusted(attrs: dict[str, Any], make: str | None) -> tuple[float | None, float | None, str | None]:
    baseline, convergence = attrs.get("baseline_length_m"), attrs.get("convergence_angle_deg")
    if (make or "").lower().startswith("nintendo") or (baseline == 1.0 and convergence == 1.0):
        return (
            None,
            None,
            "baseline/convergence are placeholders on this camera (Nintendo 3DS: DC-007 'unknown'); not metric",
        )
    if baseline is not None and not (0.0 < baseline < 10.0):
        return None, convergence, f"baseline {baseline} m is out of range; ignored"
    return baseline, convergence, None


def read_mpo(path: Path, options: ReadOptions) -> Capture:
    """Read a stereo MPO: left and right views, MP attributes, EXIF camera facts.

    Raises
    ------
    NotStereoError
        The MPO lists fewer than two views (and it is not a side-by-side image).
    InputFileError
        Truncated or damaged file.
    """
    data = path.read_bytes()
    index = parse_mp_index(data, name=str(path))
    views = [e for e in index.entries if e.mp_type in _VIEW_TYPES] if index else []
    assumed = False
    if (
        len(views) < 2
        and index is not None
        and len(index.entries) >= 2
        and all(e.mp_type in _UNTYPED for e in index.entries)
    ):
        # Untyped frames (e.g. written by Pillow): the listed images are the views, in order.
        views, assumed = list(index.entries), True
    if len(views) < 2 or index is None:  # (no index means no views)
        if (
            path.suffix.lower() != ".mpo"
            and index is not None
            and all(e.mp_type not in _VIEW_TYPES for e in index.entries)
        ):
            # An ordinary JPEG with MPF thumbnails (many cameras write one): a single image.
            from parallax.capture.sbs import read_single_image

            return read_single_image(path, options)
        raise NotStereoError(
            f"{path} is an MPO with only {len(views)} view(s) ({len(index.entries) if index else 0} image(s)); "
            "give a second view or a stereo file"
        )
    if options.layout != "auto":
        raise ParameterError(
            f"layout={options.layout!r} does not apply to {path}: an MPO stores its views separately; drop --layout"
        )
    frames = []
    for entry in views:
        frame = data[entry.offset : entry.offset + entry.size]
        try:
            attrs = index.first_attributes if entry.index == 0 else parse_mp_attributes(frame, name=str(path))
        except InputFileError as exc:  # a damaged attribute IFD costs the attributes, not the view
            attrs = {"unreadable": str(exc)}
        frames.append((entry, frame, attrs))
    frames.sort(key=lambda f: (f[2].get("individual_image_number", f[0].index + 1), f[0].index))
    base = frames[0][2].get("base_viewpoint_number")
    pick = 0
    if len(frames) > 2 and isinstance(base, int):
        numbers = [f[2].get("individual_image_number") for f in frames]
        pick = min(max(numbers.index(base) if base in numbers else 0, 0), len(frames) - 2)
    (lentry, lbytes, lattrs), (rentry, rbytes, rattrs) = frames[pick], frames[pick + 1]

    arrays, facts = [], []
    for which, blob in (("left", lbytes), ("right", rbytes)):
        image = open_image(_as_plain_jpeg(blob), name=f"{path} ({which} view)", max_pixels=options.max_pixels)
        facts.append(exif_facts(image.getexif()))
        arrays.append(to_rgb_array(image, name=f"{path} ({which} view)"))
        image.close()
    left, right = arrays
    if left.shape != right.shape:
        raise InputFileError(
            f"{path}: the MPO views differ in size ({left.shape[1]}x{left.shape[0]} vs {right.shape[1]}x{right.shape[0]}); "
            "Parallax needs views of one size"
        )
    make, model = facts[0].get("make"), facts[0].get("model")
    baseline, convergence, note = _trusted(lattrs, make)
    h, w = left.shape[:2]
    metadata: dict[str, Any] = {
        "mpf_version": index.version,
        "images": [
            {"index": e.index, "type": e.type_name, "size_bytes": e.size, "representative": e.representative}
            for e in index.entries
        ],
        "left": {"image_index": lentry.index, "attributes": lattrs},
        "right": {"image_index": rentry.index, "attributes": rattrs},
        "exif": facts[0],
    }
    if note:
        metadata["untrusted"] = note
    if assumed:
        metadata["views_assumed"] = (
            "no image is typed as a disparity view; the first two listed images were taken as left and right"
        )
    return Capture(
        left=left,
        right=right,
        format="mpo",
        source=str(path),
        left_camera=intrinsics_from_exif(facts[0], w, h),
        right_camera=intrinsics_from_exif(facts[1] or facts[0], w, h),
        baseline_m=baseline,
        convergence_deg=convergence,
        make=make,
        model=model,
        metadata=metadata,
    )


register_reader(
    ReaderSpec(name="mpo", description="MPO (multi-picture JPEG)", sniff=_sniff, extensions=(".mpo",), read=read_mpo)
)
