"""Disparity -> depth (metric and relative) and depth from embedded maps, on seeded synthetic maps."""

from __future__ import annotations

import numpy as np
import pytest

from parallax.capture.types import EmbeddedMap
from parallax.errors import ParameterError
from parallax.stereo.depth import depth_from_map, disparity_to_depth, relative_depth, relative_offset


@pytest.fixture()
def scene_depth_m():
    rng = np.random.default_rng(7)
    return rng.uniform(0.8, 12.0, size=(40, 60))


def test_metric_depth_inverts_the_projection(scene_depth_m):
    f, b, doffs = 1000.0, 0.12, 25.0
    d = f * b / scene_depth_m - doffs
    d[3, 4] = np.nan
    d[5, 6] = -doffs - 1.0  # beyond infinity
    depth = disparity_to_depth(d, focal_px=f, baseline_m=b, doffs_px=doffs)
    assert depth.dtype == np.float32
    ok = np.isfinite(d) & (d + doffs > 0)
    assert np.allclose(depth[ok], scene_depth_m[ok], rtol=1e-5)
    assert np.isnan(depth[3, 4]) and np.isnan(depth[5, 6])


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"focal_px": 0.0, "baseline_m": 0.1}, "focal_px"),
        ({"focal_px": 500.0, "baseline_m": -1.0}, "baseline_m"),
        ({"focal_px": 500.0, "baseline_m": 0.1, "doffs_px": float("nan")}, "doffs_px"),
    ],
)
def test_metric_depth_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        disparity_to_depth(np.ones((4, 4)), **kwargs)
    with pytest.raises(ParameterError, match="2-D"):
        disparity_to_depth(np.ones(4), focal_px=1.0, baseline_m=1.0)


def test_relative_depth_of_a_parallel_rig_is_proportional(scene_depth_m):
    d = 800.0 * 0.1 / scene_depth_m
    depth, offset = relative_depth(d)
    assert offset == 0.0
    assert np.median(depth) == pytest.approx(1.0, rel=1e-4)
    assert np.allclose(depth, scene_depth_m / np.median(scene_depth_m), rtol=1e-4)


def test_relative_depth_of_a_converged_rig_keeps_the_order(scene_depth_m):
    d = 800.0 * 0.1 / scene_depth_m - 100.0  # 3DS-like: all negative
    offset = relative_offset(d)
    lo, hi = np.percentile(d, [1, 99])
    assert offset == pytest.approx(-lo + 0.1 * (hi - lo))
    depth, used = relative_depth(d)
    assert used == offset
    ok = np.isfinite(depth)
    assert ok.mean() > 0.98 and np.all(depth[ok] > 0)
    assert np.nanmedian(depth) == pytest.approx(1.0, rel=1e-4)
    # larger = farther: same ordering as the true depth
    order = np.argsort(scene_depth_m[ok])
    assert np.all(np.diff(depth[ok][order]) >= -1e-6)


def test_depth_from_embedded_maps():
    rng = np.random.default_rng(3)
    z = rng.uniform(0.5, 4.0, size=(30, 40)).astype(np.float32)
    inv = EmbeddedMap(data=1.0 / z, kind="inverse-depth", units="1/m")
    depth, metric = depth_from_map(inv)
    assert metric and np.allclose(depth, z, rtol=1e-5)
    mm = EmbeddedMap(data=z * 1000, kind="depth", units="mm")
    depth, metric = depth_from_map(mm)
    assert metric and np.allclose(depth, z, rtol=1e-5)
    norm = EmbeddedMap(data=(1.0 / z) / (1.0 / z).max(), kind="normalized-disparity", units="relative")
    depth, metric = depth_from_map(norm)
    assert not metric and np.nanmedian(depth) == pytest.approx(1.0, rel=1e-4)
    assert np.allclose(depth, z / np.median(z), rtol=1e-4)
    holes = np.where(rng.random(z.shape) < 0.1, 0.0, z).astype(np.float32)
    depth, _ = depth_from_map(EmbeddedMap(data=holes, kind="depth", units="m"))
    assert np.array_equal(np.isnan(depth), holes == 0)


def test_far_clip_marks_outliers_beyond_a_multiple_of_the_95th_percentile():
    from parallax.stereo.depth import far_clip

    rng = np.random.default_rng(1)
    depth = rng.uniform(1.0, 3.0, (50, 60)).astype(np.float32)
    depth[0, :10] = 500.0  # noise near zero disparity: hundreds of times farther than the scene
    depth[1, 0] = np.nan
    valid = np.isfinite(depth)
    far, limit = far_clip(depth, valid, factor=4.0)
    p95 = np.percentile(depth[valid], 95)
    assert limit == pytest.approx(4.0 * p95)
    assert far.sum() == 10 and far[0, :10].all() and not far[1, 0]
    none, no_limit = far_clip(np.full((3, 3), np.nan, np.float32), np.zeros((3, 3), bool), factor=4.0)
    assert not none.any() and no_limit is None
    with pytest.raises(ParameterError, match="factor"):
        far_clip(depth, valid, factor=1.0)


def test_pipeline_clips_far_outliers_and_says_so(captures_dir):
    from parallax.bench.geometry import depth_reach
    from parallax.capture import read_capture
    from parallax.scene.mesh import depth_mesh, result_camera
    from parallax.stereo.pipeline import compute_depth

    capture = read_capture(captures_dir / "sbs" / "calf-left-right.jpg")
    raw = compute_depth(capture, max_side_px=384, far_clip_factor=None)
    clipped = compute_depth(capture, max_side_px=384)
    clip = clipped.settings["far_clip"]
    assert clip["factor"] == 4.0 and 0 < clip["clipped_share"] < 0.05
    assert np.nanmax(clipped.depth) <= clip["max_depth"] * 1.0001 < np.nanmax(raw.depth)
    assert np.nanmedian(clipped.depth) == pytest.approx(1.0, rel=1e-3)  # relative depth keeps median 1
    # far-clipped pixels keep their disparity but are not valid
    far = raw.valid & ~clipped.valid
    assert far.any() and np.isfinite(clipped.disparity_px[far]).all() and np.isnan(clipped.depth[far]).all()
    camera, _ = result_camera(clipped)
    assert depth_reach(depth_mesh(clipped.depth, camera).vertices[:, 2]) <= 5.0
    with pytest.raises(ParameterError, match="far_clip_factor"):
        compute_depth(capture, max_side_px=384, far_clip_factor=0.5)
