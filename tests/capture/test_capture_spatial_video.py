"""Apple spatial video (MV-HEVC): both views, the eye assignment and camera facts from the boxes, and its errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from parallax.capture.clip_registry import find_clip_reader, read_clip
from parallax.errors import InputFileError, NotStereoError, ParameterError


@pytest.fixture(scope="module")
def spatial(data_dir: Path) -> Path:
    return data_dir / "video" / "stereo_spatial.mp4"


def _patched(src: Path, dst: Path, old: bytes, new: bytes) -> Path:
    data = src.read_bytes()
    assert data.count(old) == 1
    dst.write_bytes(data.replace(old, new))
    return dst


def test_spatial_video_facts_and_both_views(spatial):
    assert find_clip_reader(spatial).name == "mv-hevc"
    clip = read_clip(spatial)
    assert (clip.format, clip.layout, clip.projection) == ("mv-hevc", "multiview", "rectilinear")
    assert (clip.width, clip.height, clip.frame_count, clip.fps) == (160, 120, 10, 30.0)
    assert clip.baseline_m == pytest.approx(0.01924)
    assert clip.hfov_deg == pytest.approx(63.4)
    assert clip.hero_eye == "left"
    assert clip.disparity_adjustment == pytest.approx(0.02)
    assert clip.left_camera.hfov_deg == pytest.approx(63.4) and clip.left_camera.cx_px == pytest.approx(79.5)
    assert clip.metadata["views_decoded"] == 2 and "stri" in clip.eyes["evidence"]
    frames = list(clip.frames())
    assert [f.index for f in frames] == list(range(10))
    assert frames[1].timestamp_s == pytest.approx(1 / 30)
    # view 0 is the left eye: red ~188 on the left, ~78 on the right in the first frame (README), drifting slowly
    assert abs(float(frames[0].left[..., 0].mean()) - 188) < 3 and abs(float(frames[0].right[..., 0].mean()) - 78) < 3
    assert all(f.left[..., 0].mean() > 180 and f.right[..., 0].mean() < 90 for f in frames)


def test_eyes_option_swaps_the_views(spatial):
    first = read_clip(spatial, eyes="right-left").first_frame()
    assert first.left[..., 0].mean() < 100 < first.right[..., 0].mean()


def test_views_reversed_flag_makes_view_0_the_right_eye(spatial, tmp_path):
    # stri is a FullBox + u8: 0x03 -> 0x0B adds "views reversed"
    path = _patched(spatial, tmp_path / "reversed.mp4", b"stri\x00\x00\x00\x00\x03", b"stri\x00\x00\x00\x00\x0b")
    clip = read_clip(path)
    first = clip.first_frame()
    assert first.left[..., 0].mean() < 100 < first.right[..., 0].mean()
    assert clip.eyes["decision"] == "view 0 = right eye"


def test_stri_with_one_eye_is_not_stereo(spatial, tmp_path):
    path = _patched(spatial, tmp_path / "one_eye.mp4", b"stri\x00\x00\x00\x00\x03", b"stri\x00\x00\x00\x00\x01")
    with pytest.raises(NotStereoError, match="holds one eye"):
        read_clip(path)


def test_missing_lhvc_means_a_missing_view(spatial, tmp_path):
    # the layer-1 parameter sets renamed away (the vexu facts stay): the right eye cannot be decoded
    path = _patched(spatial, tmp_path / "no_lhvc.mp4", b"lhvC", b"free")
    with pytest.raises(InputFileError, match=r"lacks the 'lhvC' box .* right view cannot be decoded"):
        read_clip(path)


def test_remuxed_spatial_video_lost_its_second_eye(spatial, tmp_path):
    """Remuxing with PyAV (FFmpeg) drops lhvC and vexu: the stream still carries layer 1, which cannot be decoded."""
    import av

    out_path = tmp_path / "remuxed.mp4"
    with av.open(str(spatial)) as src, av.open(str(out_path), "w") as out:
        in_stream = src.streams.video[0]
        out_stream = out.add_stream_from_template(in_stream)
        for packet in src.demux(in_stream):
            if packet.dts is None:
                continue
            packet.stream = out_stream
            out.mux(packet)
    assert b"lhvC" not in out_path.read_bytes()
    with pytest.raises(InputFileError, match="second eye cannot be decoded"):
        read_clip(out_path)


def test_truncated_spatial_video(spatial, tmp_path):
    data = spatial.read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFileError, match="truncated"):
        read_clip(path)


def test_layout_option_does_not_apply(spatial):
    with pytest.raises(ParameterError, match="separate layers"):
        read_clip(spatial, layout="sbs")


def test_frames_do_not_share_memory(spatial):
    a, b = list(read_clip(spatial).frames(max_frames=2))
    assert not np.shares_memory(a.left, b.left) and not a.left.flags.writeable
