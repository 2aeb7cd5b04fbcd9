"""Google VR photo (Cardboard Camera ``*.vr.jpg``): a 360° stereo panorama as a still :class:`Capture`.

The file is a JPEG whose primary image is the **left** eye, an equirectangular
panorama. The **right** eye is another JPEG, base64-encoded in the XMP property
``GImage:Data`` (namespace ``http://ns.google.com/photos/1.0/image/``). It is far
larger than one APP1 segment holds, so it usually sits in the *extended XMP*:
APP1 segments starting ``http://ns.adobe.com/xmp/extension/\\0``, then the
32-character GUID the standard XMP names in ``xmpNote:HasExtendedXMP``, the
total length (u32 BE) and this chunk's offset (u32 BE), then the chunk. The
``GPano:*`` properties give the panorama's crop (``CroppedArea*`` inside
``FullPano*``); without them a 2:1 image is taken as the full sphere and any
other aspect as 360° wide, centred on the horizon (stated in the metadata).
``GAudio:Data`` (an audio clip) is noted, not decoded.

Both eyes are reprojected to one forward pinhole crop through the same virtual
camera (:mod:`parallax.capture.equirect`; default 90° field of view, looking at
the panorama's centre, ``ReadOptions.virtual_camera`` changes it), so the
Capture holds a rectified pair. ``Capture.metadata["vr"]`` states the virtual
camera and the source facts; ``left_camera`` / ``right_camera`` are its
intrinsics. The file states no baseline (the views are a panorama swept by one
phone camera), so depth from it is relative.

Safety: segments are walked with bounds checks up to the first scan; the
extended XMP is assembled only when its stated total length fits in the file
and its chunks cover it exactly; both JPEGs pass the pixel-count guard before
decoding.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parallax.capture.equirect import EquirectCrop, EquirectReprojector, VirtualCamera
from parallax.capture.image_io import decode_image
from parallax.capture.registry import FileProbe, ReaderSpec, ReadOptions, register_reader
from parallax.capture.types import Capture
from parallax.errors import InputFileError, NotStereoError

__all__ = ["VrPhotoXmp", "parse_vr_xmp", "read_vr_photo"]

_XMP_STD = b"http://ns.adobe.com/xap/1.0/\x00"
_XMP_EXT = b"http://ns.adobe.com/xmp/extension/\x00"
_GIMAGE_NS = b"http://ns.google.com/photos/1.0/image/"
_GPANO_NS = b"http://ns.google.com/photos/1.0/panorama/"
_MAX_SEGMENTS = 4096
_ATTR = re.compile(rb'GPano:(\w+)\s*=\s*"([^"]{0,200})"')
_ELEM = re.compile(rb"<GPano:(\w+)>([^<]{0,200})</GPano:\1>")
_GUID = re.compile(rb'xmpNote:HasExtendedXMP\s*=\s*"([0-9A-Fa-f]{32})"|<xmpNote:HasExtendedXMP>([0-9A-Fa-f]{32})<')


@dataclass(frozen=True, kw_only=True)
class VrPhotoXmp:
    """What the XMP of a VR photo holds: GPano fields, the right eye's JPEG bytes, and where they came from."""

    gpano: dict[str, str]
    right_jpeg: bytes
    right_source: str
    extended_chunks: int
    has_audio: bool


def _app1_segments(data: bytes, name: str) -> list[bytes]:
    if data[:2] != b"\xff\xd8":
        raise InputFileError(f"{name} is not a JPEG (no start-of-image marker); the file is corrupt")
    segments: list[bytes] = []
    pos = 2
    for _ in range(_MAX_SEGMENTS):
        if pos + 4 > len(data):
            raise InputFileError(f"{name} is truncated inside its JPEG header segments; copy the file again")
        if data[pos] != 0xFF:
            raise InputFileError(f"{name}: no JPEG marker at byte {pos}; the file is corrupt")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD9, 0xDA):  # end of image / start of scan: no more metadata
            return segments
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if length < 2 or pos + 2 + length > len(data):
            raise InputFileError(
                f"{name}: JPEG segment 0xFF{marker:02X} at byte {pos} claims {length} bytes past the end of the "
                "file; it is truncated or corrupt"
            )
        if marker == 0xE1:
            segments.append(data[pos + 4 : pos + 2 + length])
        pos += 2 + length
    raise InputFileError(f"{name} has more than {_MAX_SEGMENTS} JPEG header segments; the file is corrupt")


def _extended_xmp(segments: list[bytes], guid: bytes, limit: int, name: str) -> tuple[bytes, int]:
    chunks: list[tuple[int, bytes]] = []
    total = None
    for seg in segments:
        if not seg.startswith(_XMP_EXT) or len(seg) < len(_XMP_EXT) + 40:
            continue
        body = seg[len(_XMP_EXT) :]
        if body[:32].upper() != guid.upper():
            continue
        length, offset = struct.unpack(">II", body[32:40])
        if total is None:
            total = length
        if length != total:
            raise InputFileError(f"{name}: extended-XMP chunks disagree on the total length; the file is corrupt")
        chunks.append((offset, body[40:]))
    if total is None:
        return b"", 0
    if total > limit:
        raise InputFileError(f"{name}: extended XMP claims {total} bytes, more than the file holds; it is corrupt")
    chunks.sort(key=lambda c: c[0])
    expected = 0
    for offset, chunk in chunks:
        if offset != expected:
            raise InputFileError(
                f"{name}: extended XMP is incomplete (a chunk is missing at byte {expected} of {total}); "
                "the file is truncated or was edited by a tool that dropped metadata"
            )
        expected += len(chunk)
    if expected != total:
        raise InputFileError(
            f"{name}: extended XMP holds {expected} of its {total} bytes; the file is truncated or was edited by a "
            "tool that dropped metadata"
        )
    return b"".join(c for _, c in chunks), len(chunks)


def _property(xmp: bytes, prefix: bytes, prop: bytes) -> bytes | None:
    attr = re.search(prefix + b":" + prop + rb'\s*=\s*"([^"]*)"', xmp)
    if attr:
        return attr.group(1)
    elem = re.search(b"<" + prefix + b":" + prop + rb">([^<]*)</", xmp)
    return elem.group(1) if elem else None


def parse_vr_xmp(data: bytes, name: str) -> VrPhotoXmp:
    """Read the XMP of a VR photo's bytes: GPano fields and the right eye's JPEG.

    Raises
    ------
    NotStereoError
        No ``GImage:Data`` (a plain panorama: one eye).
    InputFileError
        Damaged segments, incomplete extended XMP, or data that is not base64.
    """
    segments = _app1_segments(data, name)
    standard = b"".join(s[len(_XMP_STD) :] for s in segments if s.startswith(_XMP_STD))
    gpano = {k.decode(): v.decode("utf-8", "replace") for k, v in _ATTR.findall(standard) + _ELEM.findall(standard)}
    payload = _property(standard, b"GImage", b"Data")
    source, chunks = "standard XMP", 0
    extended = b""
    guid_match = _GUID.search(standard)
    if guid_match:
        extended, chunks = _extended_xmp(segments, guid_match.group(1) or guid_match.group(2), len(data), name)
    if payload is None and extended:
        payload = _property(extended, b"GImage", b"Data")
        source = f"extended XMP ({chunks} APP1 chunks)"
    if payload is None:
        raise NotStereoError(
            f"{name} is a panorama with one eye (no GImage:Data right-eye image in its XMP); "
            "give a VR photo with both eyes"
        )
    try:
        right = base64.b64decode(re.sub(rb"\s+", b"", payload), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InputFileError(
            f"{name}: the right eye (GImage:Data) is not valid base64 ({exc}); the file is corrupt"
        ) from exc
    has_audio = _property(standard + extended, b"GAudio", b"Mime") is not None or b"GAudio:Data" in extended
    return VrPhotoXmp(gpano=gpano, right_jpeg=right, right_source=source, extended_chunks=chunks, has_audio=has_audio)


def _crop(gpano: dict[str, str], width: int, height: int) -> tuple[EquirectCrop, str]:
    try:
        full_w = int(gpano["FullPanoWidthPixels"])
        full_h = int(gpano["FullPanoHeightPixels"])
        w = int(gpano.get("CroppedAreaImageWidthPixels", str(full_w)))
        h = int(gpano.get("CroppedAreaImageHeightPixels", str(full_h)))
        left = int(gpano.get("CroppedAreaLeftPixels", "0"))
        top = int(gpano.get("CroppedAreaTopPixels", "0"))
    except (KeyError, ValueError):
        full_w = 0
    if full_w > 0 and full_h > 0 and 0 < w <= full_w and 0 < h <= full_h and 0 <= left and 0 <= top:
        if left + w <= full_w and top + h <= full_h:
            crop = EquirectCrop(
                top=top / full_h,
                bottom=(full_h - top - h) / full_h,
                left=left / full_w,
                right=(full_w - left - w) / full_w,
            )
            return crop, "GPano CroppedArea* / FullPano*"
    # no usable GPano crop: 360 degrees wide, vertical span from the aspect ratio, centred on the horizon
    span = min(1.0, 2.0 * height / width)
    cut = (1.0 - span) / 2.0
    return EquirectCrop(top=cut, bottom=cut), "assumed: 360 degrees wide, centred on the horizon (no GPano crop)"


def _sniff(probe: FileProbe) -> bool:
    return probe.head.startswith(b"\xff\xd8\xff") and _GIMAGE_NS in probe.head and _GPANO_NS in probe.head


def read_vr_photo(path: Path, options: ReadOptions) -> Capture:
    """Read a Google VR photo as a rectified pinhole pair (see the module docstring).

    Raises
    ------
    NotStereoError
        The file holds one eye.
    InputFileError
        Damaged metadata, an undecodable eye, or eyes of different sizes.
    """
    name = path.name
    data = path.read_bytes()
    xmp = parse_vr_xmp(data, name)
    left_eq = decode_image(data, name=name, max_pixels=options.max_pixels)
    right_eq = decode_image(xmp.right_jpeg, name=f"{name} (right eye)", max_pixels=options.max_pixels)
    if left_eq.shape != right_eq.shape:
        raise InputFileError(
            f"{name}: the left eye is {left_eq.shape[1]}x{left_eq.shape[0]} and the right eye "
            f"{right_eq.shape[1]}x{right_eq.shape[0]}; a VR photo's eyes must be the same size"
        )
    height, width = left_eq.shape[:2]
    crop, crop_source = _crop(xmp.gpano, width, height)
    camera = options.virtual_camera or VirtualCamera()
    reprojector = EquirectReprojector(eye_width=width, eye_height=height, crop=crop, camera=camera)
    intrinsics = reprojector.intrinsics
    virtual = reprojector.describe()
    metadata: dict[str, Any] = {
        "vr": {
            "projection": "equirectangular",
            "eye_size": [width, height],
            "crop_source": crop_source,
            "gpano": xmp.gpano,
            "right_eye": xmp.right_source,
            "has_audio": xmp.has_audio,
            "eyes": "primary image = left eye, GImage:Data = right eye (Google VR photo convention)",
        },
        "virtual_camera": virtual,
    }
    return Capture(
        left=reprojector(left_eq),
        right=reprojector(right_eq),
        format="vr-photo",
        source=str(path),
        left_camera=intrinsics,
        right_camera=intrinsics,
        metadata=metadata,
    )


register_reader(
    ReaderSpec(
        name="vr-photo",
        description="Google VR photo (360° stereo panorama, right eye in XMP)",
        sniff=_sniff,
        extensions=(".vr.jpg",),
        read=read_vr_photo,
    )
)
