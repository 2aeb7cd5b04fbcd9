"""Clip quality: per-frame gates on real frames, clip-level gates (drift, dropped frames, exposure, tracking)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from parallax.corpus.clip_quality import ClipQualityThresholds, FrameQuality, assess_clip, assess_frame
from parallax.errors import ParameterError

from .video_factory import bida_frames

GOOD_RECT = {
    "vertical_error_after_px": 0.2,
    "pooled_matches": 400,
    "max_residual_px": 0.3,
    "check_frames": [3, 6],
    "residual_px": [0.2, 0.3],
}


def _frame(
    i: int, *, ok: bool = True, exposure: float = 100.0, why: str = "too blurry: sharpness 2 < 10"
) -> FrameQuality:
    return FrameQuality(
        source_index=i,
        timestamp_s=i / 10,
        accepted=ok,
        reasons=() if ok else (why,),
        scores={"sharpness": 500.0, "exposure_mean": exposure},
    )


def _pose(tx: float = 0.0, yaw_deg: float = 0.0) -> np.ndarray:
    p = np.eye(4)
    a = math.radians(yaw_deg)
    p[:3, :3] = [[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]]
    p[0, 3] = tx
    return p


def _clip(frames, *, pose_status=None, poses=None, **kw):
    """assess_clip with per-frame poses and statuses given for every frame (subset to the kept ones here)."""
    n = len(frames)
    kept = [i for i, f in enumerate(frames) if f.accepted]
    status = pose_status or ["first"] + ["tracked"] * (n - 1)
    poses = poses or [_pose(0.2 * i) for i in range(n)]
    args = {"rectification": GOOD_RECT, "pose_unit_baselines": 1.0, "min_frames": 4, **kw}
    return assess_clip(
        frames=frames, kept=kept, pose_status=[status[i] for i in kept], poses=[poses[i] for i in kept], **args
    )


def test_frame_gates_on_real_frames_and_a_blurred_one(video_dir):
    left, right = bida_frames(video_dir, width=320)[0]
    from parallax.stereo.disparity import estimate_disparity

    d = estimate_disparity(left, right, min_disparity=0, max_disparity=32)
    good = assess_frame(left, right, d, valid=np.isfinite(d), source_index=3, timestamp_s=0.3)
    assert good.accepted and good.reasons == () and good.source_index == 3
    assert "rectification_residual_px" not in good.scores  # judged per clip
    flat_l = cv2.GaussianBlur(left, (0, 0), 12)
    flat_r = cv2.GaussianBlur(right, (0, 0), 12)
    blurred = assess_frame(flat_l, flat_r, d, valid=np.isfinite(d), source_index=4, timestamp_s=0.4)
    assert not blurred.accepted and any(r.startswith("too blurry") for r in blurred.reasons)


def test_a_good_clip_is_accepted_with_its_scores():
    report = _clip([_frame(i) for i in range(8)])
    assert report.accepted and report.reasons == () and report.notes == ()
    s = report.scores
    assert s["frames_kept"] == 8 and s["frames_dropped"] == 0 and s["camera_static"] is False
    assert s["camera_path_baselines"] == pytest.approx(1.4)
    assert report.thresholds["clip_max_drift_px"] == 1.0 and report.thresholds["min_frames"] == 4


def test_dropped_frames_keep_their_reasons_and_too_many_reject_the_clip():
    frames = [_frame(i, ok=i not in (2, 5)) for i in range(8)]
    report = _clip(frames)
    assert report.accepted
    assert [d["source_index"] for d in report.dropped_frames] == [2, 5]
    assert report.dropped_frames[0]["reasons"] == ["too blurry: sharpness 2 < 10"]
    bad = _clip([_frame(i, ok=i < 3) for i in range(8)])
    assert not bad.accepted
    assert "too many frames rejected: 5 of 8 > 50% (mostly: too blurry (5))" in bad.reasons
    assert "too short: 3 frames kept < 4" in bad.reasons


def test_drift_exposure_jumps_and_tracking_failure_reject():
    drift = _clip([_frame(i) for i in range(6)], rectification={**GOOD_RECT, "max_residual_px": 2.5,
                                                                "residual_px": [0.2, 2.5]})  # fmt: skip
    assert drift.reasons == (
        "rectification drift: residual 2.500 px on frame 6 > 1.0 px (the rig moved during the clip)",
    )
    flash = _clip([_frame(i, exposure=180.0 if i == 4 else 90.0) for i in range(6)])
    assert flash.reasons == ("exposure change: mean grey jumps by 90.0 between source frames 3 and 4 > 40.0",)
    lost = _clip([_frame(i) for i in range(8)], pose_status=["first"] + ["lost"] * 4 + ["tracked"] * 3)
    assert lost.reasons == ("camera tracking failed: lost on 4 of 8 frames > 25%",)
    rect = _clip([_frame(i) for i in range(6)], rectification={**GOOD_RECT, "vertical_error_after_px": 3.0})
    assert rect.reasons == ("rectification residual 3.0 px > 1.5 px",)
    unrect = _clip([_frame(i) for i in range(6)], rectification={**GOOD_RECT, "rectified": False, "reason": "rows"})
    assert unrect.reasons == ("not rectified: rows",)


def test_a_camera_that_never_moves_is_reported_not_rejected():
    frames = [_frame(i) for i in range(6)]
    still = _clip(frames, poses=[_pose(0.01 * i, 0.05 * i) for i in range(6)])
    assert still.accepted and still.scores["camera_static"] is True
    assert still.notes[0].startswith("the camera never moves: path 0.050 baselines < 0.5, rotation 0.25 deg")
    turning = _clip(frames, poses=[_pose(0.0, 2.0 * i) for i in range(6)])
    assert turning.scores["camera_static"] is False and turning.scores["camera_rotation_deg"] == pytest.approx(10.0)
    metric = _clip(frames, poses=[_pose(0.01 * i) for i in range(6)], pose_unit_baselines=0.065)  # 5 cm in metres
    assert metric.scores["camera_path_baselines"] == pytest.approx(0.05 / 0.065, abs=1e-3)


def test_thresholds_are_checked():
    with pytest.raises(ParameterError, match="max_drift_px"):
        ClipQualityThresholds(max_drift_px=-1.0)
