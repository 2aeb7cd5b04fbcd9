"""Cutting videos into clips: sampling rate, scene cuts, length limit, too-short scenes (real frames, plan pass only)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from parallax.corpus.clip_cut import colour_histogram, plan_clip, scene_change, split_scene
from parallax.corpus.discovery import discover
from parallax.corpus.ingest import IngestSettings
from parallax.errors import ParameterError

from .video_factory import bida_frames, gopro_pan, write_sbs_video

SMALL = 320


@pytest.fixture(scope="module")
def two_shots(tmp_path_factory, captures_dir, video_dir) -> Path:
    """10 frames of the office (bidavideo) then 8 of the GoPro shot, 320x180 per eye, 10 fps: one scene cut."""
    office = bida_frames(video_dir, width=SMALL)
    pan, _ = gopro_pan(captures_dir)
    outdoor = [tuple(cv2.resize(v[200:740], (SMALL, 180), interpolation=cv2.INTER_AREA) for v in f) for f in pan]
    return write_sbs_video(tmp_path_factory.mktemp("cut") / "two-shots.mp4", office + outdoor)


def _plan(path: Path, **settings):
    items, _ = discover([path])
    (item,) = [it for it in items if it.paths == (str(path),)]
    return plan_clip(item, IngestSettings(max_side_px=SMALL, **settings))


def test_split_scene_gives_equal_parts_without_a_short_tail():
    assert split_scene(10, 100) == [(0, 10)]
    assert split_scene(120, 100) == [(0, 60), (60, 120)]
    assert split_scene(11, 5) == [(0, 4), (4, 7), (7, 11)]
    assert split_scene(0, 5) == []


def test_scene_change_is_low_within_a_shot_and_high_across_shots(video_dir, captures_dir):
    office = bida_frames(video_dir, width=SMALL)
    pan, _ = gopro_pan(captures_dir)
    within = [
        scene_change(colour_histogram(a[0]), colour_histogram(b[0])) for a, b in zip(office, office[1:], strict=False)
    ]
    across = scene_change(colour_histogram(office[-1][0]), colour_histogram(pan[0][0]))
    assert max(within) < 0.2 < 0.5 < across
    assert scene_change(colour_histogram(office[0][0]), colour_histogram(office[0][0])) == pytest.approx(0.0, abs=1e-6)


def test_a_scene_cut_starts_a_new_clip(two_shots):
    plan = _plan(two_shots)
    assert plan.step == 1 and plan.fps == pytest.approx(10.0)
    assert [c.source_indices for c in plan.cuts] == [tuple(range(10)), tuple(range(10, 18))]
    assert plan.cuts[0].starts_at == "the start of the source"
    assert plan.cuts[1].starts_at.startswith("a scene cut (colour change")
    assert [c.original_name for c in plan.cuts] == ["two-shots.mp4 [frames 0-9]", "two-shots.mp4 [frames 10-17]"]
    assert len({c.input_key for c in plan.cuts}) == 2 and all(c.reason is None for c in plan.cuts)
    # the keys are those of the source: the same plan again gives the same keys
    assert [c.input_key for c in _plan(two_shots).cuts] == [c.input_key for c in plan.cuts]
    assert plan.stored_size == (SMALL, 180) and plan.source_size == (SMALL, 180)
    # no scene cuts: one clip
    assert [len(c.frames) for c in _plan(two_shots, scene_cut=1.0).cuts] == [18]


def test_length_limit_sampling_rate_and_short_scenes(two_shots):
    plan = _plan(two_shots, clip_max_s=0.5)  # at most 5 frames at 10 fps
    assert [len(c.frames) for c in plan.cuts] == [5, 5, 4, 4]
    assert plan.cuts[1].starts_at == "the length limit (0.5 s)"
    half = _plan(two_shots, clip_fps=5.0)  # every 2nd frame
    assert half.step == 2 and half.fps == pytest.approx(5.0)
    assert [c.source_indices for c in half.cuts] == [(0, 2, 4, 6, 8), (10, 12, 14, 16)]
    short = _plan(two_shots, clip_min_frames=9)
    assert short.cuts[0].reason is None
    assert short.cuts[1].reason == "too short: 8 frames between scene cuts (at 10 frames/s) < 9"
    faster = _plan(two_shots, clip_fps=30.0)  # never more frames than the source has
    assert faster.step == 1


def test_frame_folder_keeps_every_frame_when_its_rate_is_unknown(video_dir):
    plan = _plan(video_dir / "bidavideo-demo")
    assert plan.fps_assumed and plan.step == 1 and plan.source_format == "frames"
    assert [c.source_indices for c in plan.cuts] == [tuple(range(10))]
    given = _plan(video_dir / "bidavideo-demo", frames_fps=30.0)  # now it is resampled to 10 fps
    assert not given.fps_assumed and given.step == 3
    assert given.cuts[0].source_indices == (0, 3, 6, 9)


def test_plan_keys_match_across_containers(video_dir):
    folder = _plan(video_dir / "bidavideo-demo")
    video = _plan(video_dir / "bidavideo-demo" / "sbs_2560x720_10fps.mp4")
    a, b = folder.cuts[0].frames, video.cuts[0].frames
    from parallax.corpus.dedup import hamming

    assert (
        max(max(hamming(x.phash[0], y.phash[0]), hamming(x.phash[1], y.phash[1])) for x, y in zip(a, b, strict=True))
        <= 6
    )
    assert all(x.pixel_sha256 != y.pixel_sha256 for x, y in zip(a, b, strict=True))  # lossy H.264: not the same pixels


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("clip_max_s", 0),
        ("clip_fps", -1.0),
        ("clip_min_frames", 1),
        ("scene_cut", 0.0),
        ("scene_cut", 1.5),
        ("clip_chunk_frames", 3),
        ("frames_fps", float("nan")),
    ],
)
def test_bad_clip_settings_name_the_field(field, value):
    with pytest.raises(ParameterError, match=field):
        IngestSettings(**{field: value})


def test_histogram_sums_to_one():
    rng = np.random.default_rng(0)
    hist = colour_histogram(rng.integers(0, 256, (90, 160, 3), dtype=np.uint8))
    assert hist.sum() == pytest.approx(1.0, abs=1e-5)
