"""The video readers' shared open path: damaged headers (fuzzed end to end) give a ParallaxError and nothing else."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from parallax.capture.clip_registry import read_clip
from parallax.capture.registry import probe_file
from parallax.capture.video_clip import container_kind, frame_index
from parallax.errors import ParallaxError, UnsupportedFormatError


def test_container_kinds(data_dir, captures_dir, tmp_path):
    assert container_kind(probe_file(data_dir / "video/stereo_spatial.mp4")) == "iso-bmff"
    assert container_kind(probe_file(captures_dir / "heic/vision-pro.HEIC")) is None
    assert container_kind(probe_file(captures_dir / "vr/test.vr.jpg")) is None
    ts = tmp_path / "x.ts"
    ts.write_bytes((b"\x47" + b"\x00" * 187) * 8)
    assert container_kind(probe_file(ts)) == "mpeg-ts"
    mkv = tmp_path / "x.mkv"
    mkv.write_bytes(b"\x1a\x45\xdf\xa3" + b"\x00" * 60)
    assert container_kind(probe_file(mkv)) == "matroska"
    assert [frame_index(t, 30.0) for t in (0.0, 1 / 30, 0.999 / 30, 10.0)] == [0, 1, 1, 300]


def test_unknown_codec_is_unsupported(data_dir, tmp_path):
    data = (data_dir / "video/vr180_blender_lr.mp4").read_bytes()
    entry = data.index(b"avc1", data.index(b"stsd"))
    path = tmp_path / "odd_codec.mp4"
    path.write_bytes(data[:entry] + b"zzz1" + data[entry + 4 :])
    with pytest.raises(UnsupportedFormatError, match="codec FFmpeg cannot decode"):
        read_clip(path)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["stereo_spatial.mp4", "vr180_blender_lr.mp4", "testRoom1_1080Stereo.mp4"])
def test_fuzzed_videos_open_or_fail_with_one_clear_error(data_dir, tmp_path, name):
    """Seeded mutations of the movie header (and a few of the samples): read_clip and three frames either work or
    raise a ParallaxError; no other exception escapes."""
    original = (data_dir / "video" / name).read_bytes()
    moov = original.index(b"moov") - 4
    end = moov + struct.unpack(">I", original[moov : moov + 4])[0]
    rng = np.random.default_rng(21)
    outcomes: dict[str, int] = {}
    for i in range(15):
        data = bytearray(original)
        for _ in range(int(rng.integers(1, 6))):
            low, high = (moov, end - 4) if rng.random() < 0.8 else (0, len(data) - 4)
            pos = int(rng.integers(low, high))
            if rng.random() < 0.4:
                data[pos : pos + 4] = struct.pack(">I", int(rng.integers(0, 1 << 16)))
            else:
                data[pos] = int(rng.integers(0, 256))
        path = tmp_path / f"fuzz{i}.mp4"
        path.write_bytes(bytes(data))
        try:
            clip = read_clip(path, view_width=96)
            for _ in clip.frames(max_frames=3):
                pass
            outcome = "ok"
        except ParallaxError as exc:
            outcome = type(exc).__name__
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert sum(outcomes.values()) == 15
