"""Camera paths, object motion and flow projection (plain numpy, no rendering)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from parallax.errors import ParameterError
from parallax.synth.config import SequenceConfig
from parallax.synth.groundtruth import project_flow
from parallax.synth.motion import (
    ObjectMotion,
    draw_object_motion,
    draw_path_params,
    path_poses,
    plan_camera_path,
)
from parallax.synth.rig import look_rotation

FPS = 10.0
TIMES = np.arange(20) / FPS


def _start() -> np.ndarray:
    pose = np.eye(4)
    pose[:3, :3] = look_rotation(np.array([0.3, -0.1, 1.0]), roll_rad=0.02)
    pose[:3, 3] = [0.2, 1.5, 0.4]
    return pose


def _rotation_angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    R = a[:3, :3].T @ b[:3, :3]
    return math.degrees(math.acos(float(np.clip((np.trace(R) - 1) / 2, -1, 1))))


@pytest.mark.parametrize("kind", ["handheld", "walk", "orbit"])
def test_paths_start_at_the_planned_view_and_move_smoothly(kind):
    start = _start()
    target = start[:3, 3] + 3.0 * start[:3, 2]
    params = draw_path_params(kind, np.random.default_rng(7))
    poses = path_poses(kind, params, start, TIMES, target=target)
    assert poses.shape == (20, 4, 4)
    assert np.allclose(poses[0], start, atol=1e-12)  # frame 0 is the planned camera
    for p in poses:  # rigid camera-to-world transforms
        assert np.allclose(p[:3, :3] @ p[:3, :3].T, np.eye(3), atol=1e-9) and np.linalg.det(p[:3, :3]) > 0
        assert np.allclose(p[3], [0, 0, 0, 1])
    steps = np.linalg.norm(np.diff(poses[:, :3, 3], axis=0), axis=1)
    turns = [_rotation_angle_deg(a, b) for a, b in zip(poses[:-1], poses[1:], strict=True)]
    # what a person can do in a tenth of a second: under 0.2 m and 5 degrees
    assert steps.max() < 0.2 and max(turns) < 5.0
    assert steps.sum() > 0.01 or sum(turns) > 1.0  # and it does move
    # smooth: the change of velocity between frames is small against the velocity
    accel = np.linalg.norm(np.diff(poses[:, :3, 3], n=2, axis=0), axis=1)
    assert accel.max() < 0.05


def test_walk_goes_forward_and_orbit_keeps_its_target_in_view():
    start = _start()
    params = draw_path_params("walk", np.random.default_rng(3))
    poses = path_poses("walk", params, start, TIMES)
    forward = start[:3, 2] - start[:3, 2] @ np.array([0, 1.0, 0]) * np.array([0, 1.0, 0])
    travelled = (poses[-1, :3, 3] - start[:3, 3]) @ (forward / np.linalg.norm(forward))
    expected = params["speed_mps"] * TIMES[-1]
    assert 0.6 * expected < travelled <= expected + 0.05
    target = start[:3, 3] + 4.0 * start[:3, 2]
    params = draw_path_params("orbit", np.random.default_rng(4))
    poses = path_poses("orbit", params, start, TIMES, target=target)
    K = np.array([[100.0, 0, 50], [0, 100.0, 40], [0, 0, 1]])
    for p in poses:
        pc = p[:3, :3].T @ (target - p[:3, 3])
        u = K[0, 0] * pc[0] / pc[2] + K[0, 2]
        assert abs(u - 50) < 3.0  # the circled point stays near the image centre (only hand shake moves it)
        assert abs(np.linalg.norm(p[:3, 3] - target) - 4.0) < 0.05
    assert _rotation_angle_deg(poses[0], poses[-1]) > 10  # and the camera went round it


def test_blocked_paths_slow_down_until_clear():
    start = _start()
    calls = []

    def is_clear(positions):
        calls.append(positions)
        return float(np.linalg.norm(positions[-1] - positions[0])) < 0.3

    path = plan_camera_path(np.random.default_rng(1), ["walk"], start, TIMES, is_clear=is_clear, motion_scale=1.0)
    assert path.kind == "walk" and path.speed_scale < 1.0 and len(calls) >= 2
    assert np.linalg.norm(path.poses[-1, :3, 3] - start[:3, 3]) < 0.3
    never = plan_camera_path(np.random.default_rng(1), ["walk"], start, TIMES, is_clear=lambda p: False)
    assert never.speed_scale == 0.0  # nowhere to go: the camera only shakes
    assert np.linalg.norm(never.poses[:, :3, 3] - start[:3, 3], axis=1).max() < 0.05


def test_same_generator_state_gives_the_same_path():
    a = plan_camera_path(
        np.random.default_rng(9),
        ["handheld", "walk", "orbit"],
        _start(),
        TIMES,
        is_clear=lambda p: True,
        target=np.array([0.0, 1.0, 4.0]),
    )
    b = plan_camera_path(
        np.random.default_rng(9),
        ["handheld", "walk", "orbit"],
        _start(),
        TIMES,
        is_clear=lambda p: True,
        target=np.array([0.0, 1.0, 4.0]),
    )
    assert a.kind == b.kind and a.params == b.params and np.array_equal(a.poses, b.poses)


def test_object_motion_is_rigid_and_keeps_away_from_the_camera():
    m = ObjectMotion(shape="s", centre=(1.0, 0.5, 3.0), velocity_mps=(0.4, 0.0, -0.1), spin_dps=30.0)
    assert np.allclose(m.transform(0.0), np.eye(4))
    M = m.transform(0.5)
    assert np.allclose(M[:3, :3] @ M[:3, :3].T, np.eye(3)) and np.isclose(np.linalg.det(M[:3, :3]), 1.0)
    assert np.isclose(math.degrees(math.atan2(M[0, 2], M[0, 0])), 15.0)  # 30 deg/s for 0.5 s about y
    assert np.allclose(M[:3, :3] @ np.array([1.0, 0.5, 3.0]) + M[:3, 3], [1.2, 0.5, 2.95])  # the centre translates
    poses = np.repeat(np.eye(4)[None], len(TIMES), axis=0)
    rng = np.random.default_rng(0)
    for _ in range(20):
        centre = np.array([rng.uniform(-1, 1), 0.0, rng.uniform(0.8, 3.0)])
        motion = draw_object_motion(rng, "s", centre, 0.3, poses, TIMES)
        if motion is None:
            continue
        path = centre + np.outer(TIMES, motion.velocity_mps)
        assert np.linalg.norm(path, axis=1).min() >= 0.3 + 0.3 - 1e-9
        assert abs(motion.velocity_mps[1]) < 1e-12  # horizontal
    bounded = draw_object_motion(
        np.random.default_rng(2),
        "s",
        np.array([0.0, 0.0, 5.0]),
        0.5,
        poses,
        TIMES,
        bounds=(np.array([-0.6, -np.inf, 4.4]), np.array([0.6, np.inf, 5.6])),
    )
    assert bounded is None or np.all(np.abs(np.array(bounded.velocity_mps)) * TIMES[-1] <= 0.1 + 1e-9)


def test_project_flow_of_known_motions():
    K = np.array([[80.0, 0, 31.5], [0, 80.0, 23.5], [0, 0, 1]])
    h, w = 48, 64
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    depth = 2.0 + 0.01 * xs
    points = np.stack([(xs - K[0, 2]) / K[0, 0] * depth, (ys - K[1, 2]) / K[1, 1] * depth, depth], axis=-1)
    flow, z, inside = project_flow(points, np.eye(4), K)
    assert np.allclose(flow, 0, atol=1e-9) and np.allclose(z, depth) and inside.all()
    pose = np.eye(4)
    pose[0, 3] = 0.1  # the camera moves 10 cm right: points move left by f * 0.1 / Z
    flow, z, inside = project_flow(points, pose, K)
    assert np.allclose(flow[..., 0], -80.0 * 0.1 / depth) and np.allclose(flow[..., 1], 0, atol=1e-9)
    assert np.array_equal(inside, xs + flow[..., 0] >= -0.5) and not inside.all()  # the left edge leaves the view
    points[0, 0] = np.nan
    pose[2, 3] = 3.0  # moved past some points: they are behind the camera
    flow, z, inside = project_flow(points, pose, K)
    assert np.isnan(flow[0, 0]).all() and np.isnan(flow[..., 0][depth <= 3.0 + 0.01]).all()


def test_sequence_config_is_validated():
    assert SequenceConfig().frames == 8
    for bad, message in (
        ({"frames": 1}, "frames"),
        ({"fps": 0.0}, "fps"),
        ({"paths": ("fly",)}, "paths"),
        ({"moving_probability": 2.0}, "moving_probability"),
        ({"moving_count_range": (3, 1)}, "moving_count_range"),
        ({"motion_scale": 0.0}, "motion_scale"),
    ):
        with pytest.raises(ParameterError, match=message):
            SequenceConfig(**bad)
    with pytest.raises(ParameterError, match="handheld, walk or orbit"):
        draw_path_params("fly", np.random.default_rng(0))
    with pytest.raises(ParameterError, match="target"):
        path_poses("orbit", draw_path_params("orbit", np.random.default_rng(0)), _start(), TIMES)
