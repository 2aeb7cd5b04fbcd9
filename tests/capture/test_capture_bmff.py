"""The ISO-BMFF box reader: the facts of the real test videos, and malformed boxes (fuzzed) give InputFileError only."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest

from parallax.capture.bmff import TrackInfo, is_iso_bmff, parse_movie, read_movie
from parallax.errors import InputFileError

from .conftest import box, full_box


def _parse(data: bytes):
    return parse_movie(io.BytesIO(data), len(data), "x.mp4")


def test_spatial_video_boxes(data_dir):
    movie = read_movie(data_dir / "video/stereo_spatial.mp4")
    track = movie.video_track
    assert track is not None and track.handler == "vide" and not movie.has_audio
    entry = track.sample_entry
    assert entry.codec == "hvc1" and entry.has_lhvc and entry.nal_length_size == 4
    assert (entry.width, entry.height) == (160, 120)
    assert entry.hfov_mdeg == 63400
    apple = entry.apple
    assert (apple.stri_flags, apple.hero, apple.baseline_um, apple.disparity_adjustment) == (0x03, 1, 19240, 200)
    assert apple.has_left and apple.has_right and not apple.views_reversed
    assert track.rotation_deg == 0 and track.timescale == 600 and track.duration_s == pytest.approx(1 / 3)


def test_spherical_boxes(data_dir):
    vr180 = read_movie(data_dir / "video/vr180_blender_lr.mp4").video_track
    v2 = vr180.sample_entry.spherical
    assert v2.stereo_mode == 2 and v2.projection == "equirectangular"
    assert v2.crop == pytest.approx((0.0, 0.0, 0.25, 0.25), abs=1e-8)  # 0x3FFFFFFF / 2^32 on each side: 180 deg wide
    assert vr180.sample_entry.pixel_aspect == (1, 1) and vr180.spherical_v1 is None
    room = read_movie(data_dir / "video/testRoom1_1080Stereo.mp4").video_track
    assert room.spherical_v1.stereo_mode == "top-bottom"
    assert room.spherical_v1.projection_type == "equirectangular"
    assert room.sample_entry.spherical is None
    sbs = read_movie(data_dir / "video/bidavideo-demo/sbs_2560x720_10fps.mp4").video_track
    assert sbs.sample_entry.spherical is None and sbs.sample_entry.apple is None and sbs.spherical_v1 is None


def _matrix(a: float, b: float, c: float, d: float) -> tuple[float, ...]:
    return (a, b, 0.0, c, d, 0.0, 0.0, 0.0, 1.0)


@pytest.mark.parametrize(
    ("matrix", "rotation"),
    [
        (_matrix(1, 0, 0, 1), 0),
        (_matrix(0, 1, -1, 0), 90),  # iPhone portrait: turn 90 degrees clockwise to display
        (_matrix(-1, 0, 0, -1), 180),
        (_matrix(0, -1, 1, 0), 270),
        (_matrix(-1, 0, 0, 1), None),  # a mirror is no rotation
        (_matrix(0.7, 0.7, -0.7, 0.7), None),  # 45 degrees
    ],
)
def test_rotation_from_the_display_matrix(matrix, rotation):
    track = TrackInfo(track_id=1, handler="vide", timescale=1, duration=1, matrix=matrix, width=1, height=1)
    assert track.rotation_deg == rotation


def test_sniffing_tells_movies_from_heif_stills(captures_dir, data_dir):
    assert is_iso_bmff((data_dir / "video/stereo_spatial.mp4").read_bytes()[:64])
    assert not is_iso_bmff((captures_dir / "heic/vision-pro.HEIC").read_bytes()[:64])
    assert not is_iso_bmff(b"\xff\xd8\xff\xe0" + b"\x00" * 60)


def _movie(*children: bytes) -> bytes:
    return box(b"ftyp", b"isom\x00\x00\x02\x00isom") + box(b"moov", b"".join(children))


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        (box(b"ftyp", b"isom\x00\x00\x00\x00") + struct.pack(">I4s", 4, b"moov"), r"less than its own header"),
        (box(b"ftyp", b"isom\x00\x00\x00\x00") + struct.pack(">I4s", 1000, b"mdat") + b"\x00" * 10, r"truncated"),
        (box(b"ftyp", b"isom\x00\x00\x00\x00") + struct.pack(">I4sQ", 1, b"mdat", 2**62), r"truncated"),
        (_movie(struct.pack(">I4s", 500, b"trak")), r"container 'moov' ends"),
        (box(b"ftyp", b"isom\x00\x00\x00\x00") + box(b"free", b""), r"no movie header"),
        (box(b"ftyp", b"isom\x00\x00\x00\x00") + box(b"free", b"") * 30000, r"more than 20000 boxes"),
        (_movie(box(b"trak", full_box(b"tkhd", b"") + box(b"uuid", b"short"))), r"16-byte user type"),
    ],
)
def test_malformed_boxes_are_input_errors(data, pattern):
    with pytest.raises(InputFileError, match=pattern):
        _parse(data)


def test_an_oversized_leaf_box_is_refused_not_read():
    xml_box = box(b"uuid", bytes.fromhex("ffcc8263f8554a938814587a02521fdd") + b"x" * 70000)
    with pytest.raises(InputFileError, match="at most 65536 are expected"):
        _parse(_movie(box(b"trak", xml_box)))


@pytest.mark.parametrize("name", ["stereo_spatial.mp4", "vr180_blender_lr.mp4", "testRoom1_1080Stereo.mp4"])
def test_fuzzed_headers_never_escape_as_other_errors(data_dir, name):
    """Seeded byte and size mutations of the real files: each parse ends in a MovieInfo or an InputFileError."""
    original = (data_dir / "video" / name).read_bytes()
    moov = original.index(b"moov") - 4
    end = moov + struct.unpack(">I", original[moov : moov + 4])[0]
    rng = np.random.default_rng(11)
    outcomes = {"parsed": 0, "refused": 0}
    for _ in range(300):
        data = bytearray(original)
        for _ in range(int(rng.integers(1, 6))):
            pos = int(rng.integers(moov, end - 4))
            if rng.random() < 0.5:  # damage a size field-like word
                data[pos : pos + 4] = struct.pack(
                    ">I", int(rng.choice([0, 1, 7, 8, 2**31, 2**32 - 1, rng.integers(0, 5000)]))
                )
            else:
                data[pos] = int(rng.integers(0, 256))
        cut = len(data) if rng.random() < 0.7 else int(rng.integers(moov, len(data)))
        try:
            _parse(bytes(data[:cut]))
            outcomes["parsed"] += 1
        except InputFileError:
            outcomes["refused"] += 1
    assert outcomes["parsed"] > 0 and outcomes["refused"] > 0
