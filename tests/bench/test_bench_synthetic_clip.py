"""Synthetic stereo clips with exact ground truth (parallax.bench.synthetic_clip)."""

from __future__ import annotations

import numpy as np
import pytest

from parallax.bench.flicker import photometric_error_map
from parallax.bench.synthetic_clip import TexturedPlane, camera_path, render_stereo_frame, room_scene
from parallax.capture.types import CameraIntrinsics
from parallax.errors import ParameterError

CAMERA = CameraIntrinsics.from_hfov(hfov_deg=70.0, width=96, height=72)


def test_true_disparity_explains_the_rendered_pair():
    frame = render_stereo_frame(room_scene(), np.eye(4), CAMERA, baseline_m=0.2)
    assert frame.left.shape == frame.right.shape == (72, 96, 3)
    centre = frame.depth_m[30:40, 60:70]  # the back wall, right of the moving panel
    assert np.allclose(centre, 8.0, atol=1e-3)
    np.testing.assert_allclose(frame.disparity_px, CAMERA.focal_px * 0.2 / frame.depth_m, rtol=1e-5)
    err = photometric_error_map(frame.left, frame.right, frame.disparity_px)
    wrong = photometric_error_map(frame.left, frame.right, frame.disparity_px + 1.5)
    assert np.nanmean(err) < 0.5 * np.nanmean(wrong)


def test_moving_panel_moves_and_noise_is_seeded():
    planes = room_scene()
    a = render_stereo_frame(planes, np.eye(4), CAMERA, baseline_m=0.2, frame=0)
    b = render_stereo_frame(planes, np.eye(4), CAMERA, baseline_m=0.2, frame=5)
    d_panel = CAMERA.focal_px * 0.2 / 3.0
    cols_a = np.where(np.abs(a.disparity_px - d_panel).min(axis=0) < 0.01)[0]
    cols_b = np.where(np.abs(b.disparity_px - d_panel).min(axis=0) < 0.01)[0]
    assert cols_b.mean() > cols_a.mean() + 3  # 20 cm to the right at 3 m
    n1 = render_stereo_frame(planes, np.eye(4), CAMERA, baseline_m=0.2, noise_std=2.0, seed=4)
    n2 = render_stereo_frame(planes, np.eye(4), CAMERA, baseline_m=0.2, noise_std=2.0, seed=4)
    assert np.array_equal(n1.left, n2.left) and not np.array_equal(n1.left, a.left)


def test_camera_paths():
    assert np.array_equal(camera_path("still", 3), np.repeat(np.eye(4)[None], 3, axis=0))
    dolly = camera_path("dolly", 4, step_m=0.1)
    assert dolly[3, 2, 3] == pytest.approx(0.3)
    pan = camera_path("pan", 3, yaw_deg_per_frame=1.0)
    assert np.allclose(pan[2, :3, :3] @ pan[2, :3, :3].T, np.eye(3))
    with pytest.raises(ParameterError, match="still, dolly or pan"):
        camera_path("orbit", 3)


def test_bad_planes_are_refused():
    with pytest.raises(ParameterError, match="non-zero"):
        TexturedPlane(origin=(0, 0, 1), u=(0, 0, 0), v=(0, 1, 0), half_u=1, half_v=1)
    with pytest.raises(ParameterError, match="positive"):
        TexturedPlane(origin=(0, 0, 1), u=(1, 0, 0), v=(0, 1, 0), half_u=0, half_v=1)
    with pytest.raises(ParameterError, match="contrast"):
        TexturedPlane(origin=(0, 0, 1), u=(1, 0, 0), v=(0, 1, 0), half_u=1, half_v=1, contrast=2.0)
