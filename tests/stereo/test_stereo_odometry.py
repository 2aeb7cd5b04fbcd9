"""Stereo visual odometry (parallax.stereo.odometry): known motion, a still camera, quality figures."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from parallax.capture.types import CameraIntrinsics
from parallax.errors import ParameterError
from parallax.stereo.clip_depth import clip_depth
from parallax.stereo.odometry import (
    OdometrySettings,
    PoseEstimate,
    StereoOdometry,
    rotation_angle_deg,
    rotation_to_quaternion,
    trajectory_quality,
)

BIDA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "video" / "bidavideo-demo"
BIDA_LEFT = "left000000.png"
BIDA_RIGHT = "right000000.png"


def _poses(clip, **settings):
    return [f.pose for f in clip_depth(clip, **settings)]


def test_known_camera_motion_is_recovered(pan_clip, open_synthetic):
    clip = open_synthetic(pan_clip)
    poses = _poses(clip, focal_px=pan_clip.camera.focal_px, baseline_m=pan_clip.baseline_m)
    truth = pan_clip.poses
    path_m = float(np.sum(np.linalg.norm(np.diff(truth[:, :3, 3], axis=0), axis=1)))
    assert poses[0].status == "first" and all(p.status == "tracked" for p in poses[1:])
    for pose, true in zip(poses, truth, strict=True):
        err_t = np.linalg.norm(pose.camera_to_world[:3, 3] - true[:3, 3])
        err_r = rotation_angle_deg(pose.camera_to_world[:3, :3].T @ true[:3, :3])
        assert err_t <= 0.03 * path_m + 0.002, (err_t, path_m)  # metres
        assert err_r <= 0.25  # degrees (the camera turns 1.8 degrees in all)
    final_turn = rotation_angle_deg(poses[-1].camera_to_world[:3, :3])
    assert math.isclose(final_turn, 0.2 * (len(truth) - 1), abs_tol=0.15)
    quality = trajectory_quality(poses)
    assert quality["lost"] == 0 and quality["median_inliers"] > 100
    assert quality["median_reprojection_error_px"] < 1.0


def test_still_camera_with_a_moving_object_stays_put(still_clip, open_synthetic):
    poses = _poses(open_synthetic(still_clip), focal_px=still_clip.camera.focal_px, baseline_m=still_clip.baseline_m)
    for pose in poses:
        assert np.linalg.norm(pose.camera_to_world[:3, 3]) < 0.01  # 1 cm
        assert rotation_angle_deg(pose.camera_to_world[:3, :3]) < 0.5


def _still_camera_checks(run, metric: bool) -> None:
    frames = list(run)
    assert len(frames) >= 4
    depth = float(np.nanmedian(frames[0].result.depth))
    if metric:
        limit = 0.01  # 1 cm
    else:  # baselines: 0.5 % of the median depth in the same unit
        focal = CameraIntrinsics.from_hfov(hfov_deg=60.0, width=1280, height=720).focal_px
        limit = 0.005 * depth * focal * frames[0].result.settings["relative_depth_scale"]
    for frame in frames:
        c2w = frame.pose.camera_to_world
        assert rotation_angle_deg(c2w[:3, :3]) < 0.5
        assert np.linalg.norm(c2w[:3, 3]) < limit
    assert run.pose_units == ("m" if metric else "baseline")


@pytest.mark.parametrize("metric", [True, False])
def test_looped_real_frame_stays_within_half_a_degree_and_a_centimetre(tmp_path, looped_folder, metric):
    from parallax.capture.clip_registry import read_clip

    folder = looped_folder(tmp_path / "loop", BIDA / "left" / BIDA_LEFT, BIDA / "right" / BIDA_RIGHT, 4)
    settings = {"focal_px": 1000.0, "baseline_m": 0.12} if metric else {}
    _still_camera_checks(clip_depth(read_clip(folder, fps=10), max_side_px=320, **settings), metric)


def _sbs_mp4_clip(path, left, right, frames: int):
    """A side-by-side H.264 video of one stereo pair repeated, opened with PyAV as a StereoClip."""
    av = pytest.importorskip("av")
    from parallax.capture.clip import FramePair, StereoClip

    sbs = np.concatenate([left, right], axis=1)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = sbs.shape[1], sbs.shape[0], "yuv420p"
        stream.options = {"crf": "23"}
        for _ in range(frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(sbs, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    width = left.shape[1]

    def open_frames(start_s):
        with av.open(str(path)) as container:
            for i, frame in enumerate(container.decode(video=0)):
                rgb = frame.to_ndarray(format="rgb24")
                yield FramePair(index=i, timestamp_s=i / 10, left=rgb[:, :width], right=rgb[:, width:])

    return StereoClip(
        source=path.name, format="sbs-video", layout="side-by-side", projection="rectilinear",
        width=width, height=left.shape[0], fps=10.0, frame_count=frames, duration_s=frames / 10,
        open_frames=open_frames,
    )  # fmt: skip


@pytest.mark.parametrize("metric", [True, False])
def test_looped_side_by_side_video_stays_put(tmp_path, metric):
    left = cv2.cvtColor(cv2.imread(str(BIDA / "left" / BIDA_LEFT)), cv2.COLOR_BGR2RGB)
    right = cv2.cvtColor(cv2.imread(str(BIDA / "right" / BIDA_RIGHT)), cv2.COLOR_BGR2RGB)
    size = (640, 360)
    clip = _sbs_mp4_clip(tmp_path / "still.mp4", cv2.resize(left, size), cv2.resize(right, size), 6)
    settings = {"focal_px": 500.0, "baseline_m": 0.12} if metric else {}
    run = clip_depth(clip, max_side_px=320, **settings)
    frames = list(run)
    depth = float(np.nanmedian(frames[0].result.depth))
    focal = CameraIntrinsics.from_hfov(hfov_deg=60.0, width=640, height=360).focal_px
    limit = 0.01 if metric else 0.005 * depth * focal * frames[0].result.settings["relative_depth_scale"]
    for frame in frames:
        c2w = frame.pose.camera_to_world
        assert rotation_angle_deg(c2w[:3, :3]) < 0.5
        assert np.linalg.norm(c2w[:3, 3]) < limit


def test_pose_estimate_validates_and_serialises():
    pose = PoseEstimate(camera_to_world=np.eye(4), status="tracked", inliers=50, tracked=60, reprojection_error_px=0.3)
    doc = pose.to_dict()
    assert doc["camera_to_world"] == np.eye(4).tolist() and doc["inliers"] == 50
    with pytest.raises(ParameterError, match="4x4"):
        PoseEstimate(camera_to_world=np.eye(3), status="tracked")
    with pytest.raises(ParameterError, match="status"):
        PoseEstimate(camera_to_world=np.eye(4), status="walking")  # type: ignore[arg-type]


def test_quaternions_round_trip():
    rng = np.random.default_rng(3)
    for _ in range(20):
        r = cv2.Rodrigues(rng.normal(size=3))[0]
        w, x, y, z = rotation_to_quaternion(r)
        assert w >= 0 and math.isclose(w * w + x * x + y * y + z * z, 1.0, rel_tol=1e-9)
        back = np.array(
            [
                [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
            ]
        )
        np.testing.assert_allclose(back, r, atol=1e-9)


def test_textureless_frames_are_lost_not_invented():
    camera = CameraIntrinsics.from_hfov(hfov_deg=60, width=64, height=48)
    vo = StereoOdometry(camera, baseline=0.1)
    flat = np.full((48, 64, 3), 128, np.uint8)
    first = vo.track(flat)
    vo.commit(np.full((48, 64), 5.0, np.float32))
    second = vo.track(flat)
    assert first.status == "first" and second.status == "lost"
    np.testing.assert_array_equal(second.camera_to_world, np.eye(4))


def test_bad_settings_are_refused():
    camera = CameraIntrinsics.from_hfov(hfov_deg=60, width=64, height=48)
    with pytest.raises(ParameterError, match="baseline"):
        StereoOdometry(camera, baseline=0.0)
    with pytest.raises(ParameterError, match="min_inliers"):
        OdometrySettings(min_inliers=2)
    with pytest.raises(ParameterError, match="keyframe_ratio"):
        OdometrySettings(keyframe_ratio=2.0)
    vo = StereoOdometry(camera)
    with pytest.raises(ParameterError, match="track"):
        vo.commit(np.zeros((48, 64), np.float32))
