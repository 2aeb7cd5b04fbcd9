"""Planes over closed regions: seeded synthetic rings with a known plane, and the refusals."""

from __future__ import annotations

import numpy as np
import pytest

from parallax.stereo.planes import ransac_plane, ring_planes

KW = {"ring": 6, "tolerance": 0.5, "min_inliers": 0.6, "min_angle_deg": 270.0}


def _scene(h: int = 80, w: int = 100):
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    plane = 0.05 * xs - 0.02 * ys + 12.0
    region = np.zeros((h, w), bool)
    region[30:50, 40:65] = True
    return plane, region


def test_a_region_inside_a_planar_ring_gets_that_plane():
    plane, region = _scene()
    noisy = plane + np.random.default_rng(0).normal(0, 0.1, plane.shape)
    out = ring_planes(region, ~region, noisy.astype(np.float32), **KW)
    assert np.isnan(out[~region]).all()
    assert np.abs(out[region] - plane[region]).max() < 0.1  # the plane, its noise averaged away


def test_rings_without_one_clear_plane_leave_the_region_empty():
    plane, region = _scene()
    rng = np.random.default_rng(1)
    scattered = rng.uniform(0, 40, plane.shape).astype(np.float32)  # no plane agrees
    assert np.isnan(ring_planes(region, ~region, scattered, **KW)).all()
    one_side = ~region.copy()
    one_side[:, 50:] = False  # measured pixels only on the left of the region: not surrounded
    assert np.isnan(ring_planes(region, one_side, plane.astype(np.float32), **KW)[region]).all()
    tiny = np.zeros_like(region)
    tiny[10:13, 10:13] = True  # under the smallest region worth a plane
    assert np.isnan(ring_planes(tiny, ~tiny, plane.astype(np.float32), **KW)).all()


def test_ransac_prefers_the_least_slanted_of_the_near_best_planes():
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 100, 400)
    y = rng.uniform(0, 100, 400)
    wall = y < 50
    d = np.where(wall, 10.0, 10.0 + 0.3 * (y - 50))  # a flat wall above, a receding floor below
    a, b, c = ransac_plane(x, y, d, 0.25, np.random.default_rng(0))
    assert (a, b, c) == pytest.approx((0.0, 0.0, 10.0), abs=1e-6)
    assert ransac_plane(x[:2], y[:2], d[:2], 0.25, np.random.default_rng(0)) is None
