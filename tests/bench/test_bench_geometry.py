"""Geometry measures without ground truth: roughness of untextured pixels, steep-but-smooth surfaces."""

from __future__ import annotations

import numpy as np
import pytest

from parallax.bench.geometry import plain_roughness
from parallax.errors import ParameterError


def test_steep_smooth_plane_is_rough_but_counted_as_steep():
    h, w = 60, 80
    image = np.full((h, w, 3), 120, np.uint8)  # no texture anywhere
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    steep = 5.0 + 0.2 * xx + 0.15 * yy  # 11 px span ~ 3.5 px of disparity: rough by the spread measure
    out = plain_roughness(image, steep, np.ones((h, w), bool))
    assert out.plain_share == 1.0 and out.rough_valid_share == pytest.approx(1.0)
    # yet one plane explains every box that lies inside the image (boxes cut by the border are not judged)
    assert out.steep_valid_share == pytest.approx((h - 10) * (w - 10) / (h * w))


def test_noise_is_rough_and_not_steep():
    rng = np.random.default_rng(4)
    h, w = 60, 80
    image = np.full((h, w, 3), 120, np.uint8)
    noise = (10.0 + rng.normal(0.0, 1.0, (h, w))).astype(np.float32)
    valid = np.ones((h, w), bool)
    valid[:, :20] = False  # invalid pixels never count as rough
    out = plain_roughness(image, noise, valid)
    assert out.rough_valid_share == pytest.approx(0.75, abs=0.01)
    assert out.steep_valid_share == 0.0
    assert out.valid_share == pytest.approx(0.75)


def test_flat_is_smooth_and_sizes_must_agree():
    image = np.full((30, 30, 3), 50, np.uint8)
    out = plain_roughness(image, np.full((30, 30), 4.0, np.float32), np.ones((30, 30), bool))
    assert out.rough_valid_share == 0.0 and out.steep_valid_share == 0.0
    with pytest.raises(ParameterError, match="one size"):
        plain_roughness(image, np.zeros((30, 29), np.float32), np.ones((30, 29), bool))
    with pytest.raises(ParameterError, match="window"):
        plain_roughness(image, np.zeros((30, 30), np.float32), np.ones((30, 30), bool), window=4)
