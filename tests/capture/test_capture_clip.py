"""StereoClip, FramePair and the frame-folder reader (real frames from ../shared/data/video, read in place)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from parallax.capture.clip import FramePair, FrameSelection, StereoClip
from parallax.capture.clip_registry import is_clip_path, read_clip
from parallax.errors import InputFileError, ParameterError, UnsupportedFormatError


@pytest.fixture(scope="module")
def bida_dir(data_dir: Path) -> Path:
    return data_dir / "video" / "bidavideo-demo"


def _pair(index: int, t: float, size: tuple[int, int] = (8, 6)) -> FramePair:
    w, h = size
    img = np.full((h, w, 3), index, np.uint8)
    return FramePair(index=index, timestamp_s=t, left=img, right=img)


def _clip(n: int, fps: float = 10.0) -> StereoClip:
    def open_frames(start_s: float | None) -> Iterator[FramePair]:
        for i in range(n):
            yield _pair(i, i / fps)

    return StereoClip(
        source="toy.mp4",
        format="sbs-video",
        layout="side-by-side",
        projection="rectilinear",
        width=8,
        height=6,
        fps=fps,
        frame_count=n,
        duration_s=n / fps,
        open_frames=open_frames,
    )


def test_frame_pair_is_validated_and_read_only():
    pair = _pair(3, 0.3)
    assert not pair.left.flags.writeable
    with pytest.raises(ParameterError, match="differ in size"):
        FramePair(index=0, timestamp_s=0.0, left=np.zeros((4, 4, 3), np.uint8), right=np.zeros((4, 5, 3), np.uint8))
    with pytest.raises(ParameterError, match="index"):
        FramePair(index=-1, timestamp_s=0.0, left=pair.left, right=pair.right)
    with pytest.raises(ParameterError, match="timestamp_s"):
        FramePair(index=0, timestamp_s=float("nan"), left=pair.left, right=pair.right)


def test_frame_selection_start_end_step_max():
    clip = _clip(20)
    assert [f.index for f in clip.frames()] == list(range(20))
    assert [f.index for f in clip.frames(start_s=0.5, end_s=1.2)] == [5, 6, 7, 8, 9, 10, 11]
    assert [f.index for f in clip.frames(step=3)] == [0, 3, 6, 9, 12, 15, 18]
    assert [f.index for f in clip.frames(start_s=1.0, step=2, max_frames=3)] == [10, 12, 14]
    assert clip.first_frame().index == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"step": 0}, "step"),
        ({"max_frames": 0}, "max_frames"),
        ({"start_s": -1.0}, "start_s"),
        ({"start_s": 2.0, "end_s": 1.0}, "end_s"),
    ],
)
def test_frame_selection_rejects_bad_values(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        FrameSelection(**kwargs)


def test_clip_refuses_paths_and_bad_facts():
    base = _clip(2)
    kwargs = {k: getattr(base, k) for k in ("format", "layout", "projection", "width", "height", "frame_count")}
    with pytest.raises(ParameterError, match="base name"):
        StereoClip(source="/home/me/clip.mp4", fps=10.0, duration_s=1.0, open_frames=base.open_frames, **kwargs)
    with pytest.raises(ParameterError, match="fps"):
        StereoClip(source="c.mp4", fps=0.0, duration_s=1.0, open_frames=base.open_frames, **kwargs)
    with pytest.raises(ParameterError, match="rotation_deg"):
        StereoClip(source="c.mp4", fps=10.0, duration_s=1.0, open_frames=base.open_frames, rotation_deg=45, **kwargs)


def test_frames_folder_reads_the_real_frames_lazily(bida_dir):
    clip = read_clip(bida_dir, fps=10)
    assert (clip.format, clip.layout, clip.width, clip.height, clip.frame_count) == (
        "frames",
        "separate",
        1280,
        720,
        10,
    )
    assert clip.duration_s == pytest.approx(1.0)
    assert clip.source == "bidavideo-demo"
    frames = clip.frames(start_s=0.3, max_frames=2)
    assert isinstance(frames, Iterator)
    got = list(frames)
    assert [f.index for f in got] == [3, 4]
    assert got[0].timestamp_s == pytest.approx(0.3)
    # RGBA frames come out RGB, byte-identical to the PNG's colour channels
    png = np.asarray(Image.open(bida_dir / "left" / "left000003.png"))[..., :3]
    np.testing.assert_array_equal(got[0].left, png)
    d = clip.to_dict()
    assert d["metadata"]["fps_source"] == "option" and d["kind"] == "clip"


def test_frames_folder_eye_swap_and_default_fps(bida_dir):
    clip = read_clip(bida_dir, eyes="right-left")
    first = clip.first_frame()
    png_right = np.asarray(Image.open(bida_dir / "right" / "right000000.png"))[..., :3]
    np.testing.assert_array_equal(first.left, png_right)
    assert clip.fps == 30.0 and "assumed" in clip.metadata["fps_source"]


def _write(path: Path, value: int, size: tuple[int, int] = (16, 12)) -> None:
    Image.fromarray(np.full((size[1], size[0], 3), value, np.uint8)).save(path)


def test_tagged_files_folder(tmp_path):
    for i in (2, 10, 1):
        _write(tmp_path / f"shot{i}_left.png", i)
        _write(tmp_path / f"shot{i}_right.png", 100 + i)
    clip = read_clip(tmp_path)
    assert [int(f.left[0, 0, 0]) for f in clip.frames()] == [1, 2, 10]  # natural order
    assert [int(f.right[0, 0, 0]) for f in clip.frames()] == [101, 102, 110]


def test_a_single_tagged_pair_is_a_still_pair_not_a_clip(tmp_path):
    _write(tmp_path / "a_left.png", 1)
    _write(tmp_path / "a_right.png", 2)
    assert not is_clip_path(tmp_path)


def test_frame_folder_errors(tmp_path):
    (tmp_path / "left").mkdir()
    (tmp_path / "right").mkdir()
    for i in range(3):
        _write(tmp_path / "left" / f"{i}.png", i)
    for i in range(2):
        _write(tmp_path / "right" / f"{i}.png", i)
    with pytest.raises(InputFileError, match="left/ holds 3 frames and right/ 2"):
        read_clip(tmp_path)
    _write(tmp_path / "right" / "2.png", 2, size=(20, 12))
    clip = read_clip(tmp_path, eyes="left-right")  # (auto would decode frames for the eye check, and fail there)
    with pytest.raises(InputFileError, match="frame 2"):
        list(clip.frames())


def test_unknown_inputs_get_one_clear_error(tmp_path):
    with pytest.raises(InputFileError, match="does not exist"):
        read_clip(tmp_path / "nope.mp4")
    with pytest.raises(InputFileError, match="not one of stereo frames"):
        read_clip(tmp_path)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(UnsupportedFormatError, match="not a stereo video"):
        read_clip(junk)
    with pytest.raises(ParameterError, match="eyes"):
        read_clip(tmp_path, eyes="sideways")


def test_frame_folder_takes_no_layout(bida_dir):
    with pytest.raises(ParameterError, match="separate left and right frames"):
        read_clip(bida_dir, layout="sbs")
    assert read_clip(bida_dir).eyes["decision"] == "left-named files = left eye"


def _rss_mb() -> float:
    import os

    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_memory_stays_flat_while_a_long_clip_streams(tmp_path, bida_dir):
    """600 frames (a looped real pair): Python allocations and RSS after warm-up stay near one frame pair."""
    import tracemalloc

    import cv2

    from .conftest import write_video

    pairs = []
    for i in range(3):
        views = [np.asarray(Image.open(bida_dir / e / f"{e}{i:06d}.png"))[..., :3] for e in ("left", "right")]
        pairs.append(np.hstack([cv2.resize(v, (480, 270), interpolation=cv2.INTER_AREA) for v in views]))
    path = write_video(
        tmp_path / "long.mp4", [pairs[k % 3] for k in range(600)], fps=30, options={"preset": "ultrafast", "crf": "28"}
    )
    clip = read_clip(path, layout="sbs")
    assert clip.frame_count == 600
    pair_mb = 2 * 480 * 270 * 3 / 2**20
    count, rss_warm, rss_peak, last = 0, 0.0, 0.0, -1
    for frame in clip.frames():
        count, last = count + 1, frame.index
        if count == 30:
            rss_warm = _rss_mb()
            tracemalloc.start()
        elif count > 30:
            rss_peak = max(rss_peak, _rss_mb())
    traced_peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    assert count == 600 and last == 599
    assert traced_peak_mb < 8 * pair_mb  # 600 frames held would be 600 pairs
    assert rss_peak - rss_warm < 40.0


def test_a_frame_folder_given_the_wrong_way_round_is_swapped_back(bida_dir, tmp_path):
    """left/ and right/ swapped (the usual mistake with twin-camera files): the stereo geometry puts them back."""
    (tmp_path / "left").mkdir()
    (tmp_path / "right").mkdir()
    for i in range(3):
        (tmp_path / "left" / f"{i}.png").symlink_to(bida_dir / "right" / f"right{i:06d}.png")
        (tmp_path / "right" / f"{i}.png").symlink_to(bida_dir / "left" / f"left{i:06d}.png")
    clip = read_clip(tmp_path, fps=10)
    assert clip.eyes["check"]["swapped"] is True and "swapped" in clip.eyes["decision"]
    first = clip.first_frame()
    np.testing.assert_array_equal(first.left, np.asarray(Image.open(bida_dir / "left" / "left000000.png"))[..., :3])
    straight = read_clip(bida_dir, fps=10)
    assert straight.eyes["check"]["swapped"] is False and "confirmed" in straight.eyes["check"]["reason"]
    forced = read_clip(tmp_path, fps=10, eyes="left-right")
    assert "check" not in forced.eyes
