"""StereoClip -> FrameDepth stream (parallax.stereo.clip_depth)."""

from __future__ import annotations

import numpy as np
import pytest

from parallax.errors import InputFileError, ParameterError
from parallax.stereo.clip_depth import ClipDepth, ClipDepthSettings, FrameDepth, clip_depth


@pytest.mark.slow
def test_every_frame_of_the_real_clip_explains_its_pair(bidavideo_clip):
    """Issue 11: warping the right view with each frame's disparity beats the best global shift by >= 20 %,
    on >= 90 % of the left view."""
    from parallax.bench.flicker import global_shift_error, photometric_error_map

    frames = list(clip_depth(bidavideo_clip))
    assert len(frames) == 10
    for frame in frames:
        r = frame.result
        error = photometric_error_map(r.image, r.right_image, r.disparity_px)
        scored = np.isfinite(error)
        assert scored.mean() >= 0.9, frame.index
        lo, hi = np.nanpercentile(r.disparity_px, [0.5, 99.5])
        shift_error, _ = global_shift_error(r.image, r.right_image, scored, shifts=range(int(lo), int(hi) + 1))
        assert error[scored].mean() <= 0.8 * shift_error, (frame.index, error[scored].mean(), shift_error)


def test_metric_depth_of_a_synthetic_clip(still_clip, open_synthetic):
    run = clip_depth(open_synthetic(still_clip), focal_px=still_clip.camera.focal_px, baseline_m=still_clip.baseline_m)
    frames = list(run)
    assert [f.index for f in frames] == list(range(8))
    truth_depth = still_clip.camera.focal_px * still_clip.baseline_m / still_clip.disparity_px
    for frame in frames:
        r = frame.result
        assert r.depth_is_metric and r.baseline_m == still_clip.baseline_m
        assert r.image.shape == (240, 320, 3) and r.depth.shape == (240, 320)
        rel = np.abs(r.depth - truth_depth[frame.index]) / truth_depth[frame.index]
        assert np.nanmedian(rel) < 0.03
        assert np.isfinite(r.depth).mean() > 0.9
        assert np.all(r.confidence[~np.isfinite(r.depth)] == 0)
    summary = run.summary()
    assert summary["frames"] == 8 and summary["depth_is_metric"] is True
    assert summary["trajectory"]["units"] == "m" and "assumed_hfov_deg" not in summary["trajectory"]
    assert summary["rectification"]["method"] == "none"


def test_relative_depth_keeps_one_scale_for_the_clip(still_clip, open_synthetic):
    frames = list(clip_depth(open_synthetic(still_clip), max_frames=3, max_side_px=160))
    first = frames[0].result
    assert not first.depth_is_metric
    assert abs(np.nanmedian(first.depth) - 1.0) < 0.02
    assert "one scale for the clip" in first.settings["depth"]
    scale = first.settings["relative_depth_scale"]
    for frame in frames:
        r = frame.result
        assert r.settings["relative_depth_scale"] == scale
        d = r.disparity_px + r.doffs_px
        expected = np.where(d > 0, 1.0 / (d * scale), np.nan)
        np.testing.assert_allclose(r.depth, expected, rtol=1e-5)


def test_working_size_is_upsampled_to_the_views(still_clip, open_synthetic):
    frames = list(clip_depth(open_synthetic(still_clip), max_frames=2, max_side_px=160))
    r = frames[1].result
    assert r.disparity_px.shape == (240, 320)
    truth = still_clip.disparity_px[1]
    assert np.nanmedian(np.abs(r.disparity_px - truth)) < 0.5  # full-size pixels
    assert r.settings["scale"] == 0.5 and r.settings["max_side_px"] == 160


def test_frame_selection(still_clip, open_synthetic):
    clip = open_synthetic(still_clip)
    run = clip_depth(clip, start_s=1 / 30, end_s=7 / 30, step=2, max_side_px=160)
    frames = list(run)
    assert [f.index for f in frames] == [1, 3, 5]
    assert all(isinstance(f, FrameDepth) for f in frames)
    assert run.expected_frames == 3
    assert frames[0].timestamp_s == pytest.approx(1 / 30)
    assert [f.index for f in clip_depth(clip, max_frames=2, max_side_px=160)] == [0, 1]


def test_per_frame_mode_has_no_history(still_clip, open_synthetic):
    frames = list(clip_depth(open_synthetic(still_clip), max_frames=3, temporal=False, odometry=False))
    assert all(f.pose is None and f.temporal["new"] == 1.0 for f in frames)


@pytest.mark.parametrize(
    ("settings", "word"),
    [
        ({"max_side_px": 8}, "max_side_px"),
        ({"focal_px": -1.0}, "focal_px"),
        ({"baseline_m": 0.0}, "baseline_m"),
        ({"min_disparity": 5.0, "max_disparity": 1.0}, "min_disparity"),
        ({"colour": "red"}, "does not take"),
    ],
)
def test_bad_settings_are_one_clear_error(still_clip, open_synthetic, settings, word):
    with pytest.raises(ParameterError, match=word):
        clip_depth(open_synthetic(still_clip), **settings)


def test_bad_input_is_refused(still_clip, open_synthetic):
    with pytest.raises(ParameterError, match="StereoClip"):
        ClipDepth("clip.mp4")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="step"):
        ClipDepth(open_synthetic(still_clip), step=0)
    with pytest.raises(InputFileError, match="no frame"):
        list(ClipDepth(open_synthetic(still_clip), start_s=50.0, settings=ClipDepthSettings()))


def test_a_misaligned_rig_is_rectified_before_matching(still_clip, tmp_path):
    import cv2

    from parallax.capture.clip_registry import read_clip

    w, h = still_clip.camera.width, still_clip.camera.height
    k = still_clip.camera.K
    bad = k @ cv2.Rodrigues(np.radians([0.5, 0.0, 0.7]))[0] @ np.linalg.inv(k)
    for eye in ("left", "right"):
        (tmp_path / "rig" / eye).mkdir(parents=True)
    for path in sorted((still_clip.folder / "left").glob("*.png"))[:4]:
        cv2.imwrite(str(tmp_path / "rig" / "left" / path.name), cv2.imread(str(path)))
        right = cv2.imread(str(still_clip.folder / "right" / path.name))
        cv2.imwrite(str(tmp_path / "rig" / "right" / path.name), cv2.warpPerspective(right, bad, (w, h)))
    run = clip_depth(
        read_clip(tmp_path / "rig", fps=30), focal_px=still_clip.camera.focal_px, baseline_m=still_clip.baseline_m
    )
    frames = list(run)
    rect = run.rectification.rectification
    assert rect.method == "uncalibrated" and rect.vertical_error_after_px < 0.5
    r = frames[-1].result
    assert r.image.shape[:2] == (rect.height, rect.width) == r.disparity_px.shape
    assert r.camera.width == rect.width
    assert np.isfinite(r.depth).mean() > 0.8
    truth = np.nanmedian(still_clip.camera.focal_px * still_clip.baseline_m / still_clip.disparity_px[3])
    assert abs(np.nanmedian(r.depth) / truth - 1.0) < 0.1  # the depth stays metric after rectification


def test_frame_depth_is_validated(still_clip, open_synthetic):
    frame = next(iter(clip_depth(open_synthetic(still_clip), max_frames=1, max_side_px=64)))
    with pytest.raises(ParameterError, match="index"):
        FrameDepth(index=-1, timestamp_s=0.0, result=frame.result)
    with pytest.raises(ParameterError, match="timestamp_s"):
        FrameDepth(index=0, timestamp_s=float("nan"), result=frame.result)
    with pytest.raises(ParameterError, match="DepthResult"):
        FrameDepth(index=0, timestamp_s=0.0, result=None)  # type: ignore[arg-type]


def test_field_of_view_and_baseline_of_the_clip_give_metric_depth(still_clip, open_synthetic):
    import dataclasses

    clip = dataclasses.replace(open_synthetic(still_clip), hfov_deg=70.0, baseline_m=still_clip.baseline_m)
    frame = next(iter(clip_depth(clip, max_frames=1, max_side_px=160)))
    assert frame.result.depth_is_metric
    assert frame.result.camera.focal_px == pytest.approx(still_clip.camera.focal_px)
    truth = still_clip.camera.focal_px * still_clip.baseline_m / still_clip.disparity_px[0]
    assert abs(np.nanmedian(frame.result.depth / truth) - 1.0) < 0.03
