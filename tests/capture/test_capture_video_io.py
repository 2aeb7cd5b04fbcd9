"""PyAV decoding for the clip readers: FFmpeg errors while iterating become InputFileError, HEVC layer ids, the extra."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from parallax.capture.video_io import decode_frames, hevc_layer_ids, probe_video, require_av
from parallax.errors import InputFileError, MissingDependencyError


@pytest.fixture(scope="module")
def sbs_video(data_dir: Path) -> Path:
    return data_dir / "video" / "bidavideo-demo" / "sbs_2560x720_10fps.mp4"


def test_ffmpeg_errors_while_decoding_become_input_errors(sbs_video, tmp_path):
    """Damaged slices, decoded with FFmpeg's strict error detection, raise inside the frame loop."""
    data = bytearray(sbs_video.read_bytes())
    start = data.index(b"mdat") + 2000
    rng = np.random.default_rng(8)
    for pos in rng.integers(start, start + 400_000, 3000):
        data[int(pos)] = int(rng.integers(0, 256))
    path = tmp_path / "damaged.mp4"
    path.write_bytes(bytes(data))
    frames = decode_frames(path, name=path.name, codec_options={"err_detect": "explode"})
    with pytest.raises(InputFileError, match=r"damaged\.mp4: decoding failed near .* truncated or corrupt"):
        for _ in frames:
            pass


def test_probe_facts(sbs_video):
    facts = probe_video(sbs_video, name=sbs_video.name)
    assert (facts.codec, facts.width, facts.height, facts.fps, facts.frame_count) == ("h264", 2560, 720, 10.0, 10)
    assert facts.frame_count_exact and facts.sample_aspect == 1.0 and not facts.has_audio


def test_hevc_layer_ids_length_prefixed_and_annex_b():
    def nal(layer: int, kind: int = 1) -> bytes:
        return bytes([(kind << 1) | (layer >> 5), ((layer & 31) << 3) | 1]) + b"\xaa\xbb"

    prefixed = b"".join(len(n).to_bytes(4, "big") + n for n in (nal(0, 32), nal(0), nal(1)))
    assert hevc_layer_ids(prefixed, 4) == {0, 1}
    annex_b = b"\x00\x00\x00\x01" + nal(0) + b"\x00\x00\x01" + nal(2)
    assert hevc_layer_ids(annex_b) == {0, 2}
    assert hevc_layer_ids(b"", 4) == set()


def test_missing_video_extra_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'parallax\[video\]'"):
        require_av()
