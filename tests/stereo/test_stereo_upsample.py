"""Edge-aware disparity upsampling (parallax.stereo.upsample)."""

from __future__ import annotations

import numpy as np
import pytest

from parallax.errors import ParameterError
from parallax.stereo.upsample import upsample_disparity, upsample_nearest


def _step_scene(width: int, height: int, edge_x: int) -> tuple[np.ndarray, np.ndarray]:
    image = np.full((height, width, 3), 40, np.uint8)
    image[:, edge_x:] = 220
    disparity = np.where(np.arange(width)[None, :] < edge_x, 4.0, 12.0).astype(np.float32)
    return image, np.repeat(disparity, height, axis=0)


def test_a_depth_edge_stays_sharp_where_the_colour_edge_is():
    big, _ = _step_scene(64, 16, 33)  # the edge falls between low-resolution pixels
    small = big[::2, ::2].copy()
    d_small = np.where(np.arange(32)[None, :] < 17, 2.0, 6.0).astype(np.float32).repeat(8, axis=0)
    up = upsample_disparity(d_small, small, big)
    assert up.shape == (16, 64)
    expected = np.where(np.arange(64) < 33, 4.0, 12.0)
    np.testing.assert_allclose(up, np.broadcast_to(expected, up.shape), atol=1e-5)


def test_a_smooth_ramp_is_interpolated():
    small = np.full((8, 16, 3), 128, np.uint8)
    big = np.full((16, 32, 3), 128, np.uint8)
    ramp = np.linspace(1.0, 4.0, 16, dtype=np.float32)[None, :].repeat(8, axis=0)
    up = upsample_disparity(ramp, small, big)
    row = up[5]
    assert np.all(np.diff(row[2:-2]) > 0)  # bilinear, not blocky
    assert abs(row.mean() - 2.0 * ramp.mean()) < 0.05  # scaled to full-size pixels


def test_holes_stay_holes_and_same_size_is_a_copy():
    small = np.full((4, 4, 3), 100, np.uint8)
    big = np.full((8, 8, 3), 100, np.uint8)
    d = np.full((4, 4), np.nan, np.float32)
    d[:, :2] = 3.0
    up = upsample_disparity(d, small, big)
    assert np.all(np.isfinite(up[:, :3])) and np.all(np.isnan(up[:, 5:]))
    same = upsample_disparity(d, small, small)
    assert same is not d and np.array_equal(np.isnan(same), np.isnan(d))
    assert upsample_nearest(np.eye(2, dtype=np.float32), 4, 4).shape == (4, 4)


def test_bad_input_is_refused():
    with pytest.raises(ParameterError, match="one size"):
        upsample_disparity(np.zeros((3, 3), np.float32), np.zeros((4, 4, 3), np.uint8), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ParameterError, match="edge_px"):
        upsample_disparity(
            np.zeros((4, 4), np.float32), np.zeros((4, 4, 3), np.uint8), np.zeros((8, 8, 3), np.uint8), edge_px=-1
        )
