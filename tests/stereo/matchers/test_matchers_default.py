"""The default matcher on seeded synthetic ground truth (positive, negative, slanted)."""

from __future__ import annotations

import numpy as np
import pytest

from parallax.errors import ParameterError
from parallax.stereo.disparity import estimate_disparity, match
from parallax.stereo.matchers.default import ParallaxMatcher


def _errors(disp: np.ndarray, gt: np.ndarray, border: int = 2) -> np.ndarray:
    """Absolute errors away from depth edges (occlusion boundaries are ambiguous by a pixel or two)."""
    edge = np.zeros(gt.shape, bool)
    gy, gx = np.gradient(np.nan_to_num(gt))
    edge[np.hypot(gx, gy) > 0.5] = True
    from scipy.ndimage import binary_dilation

    keep = ~binary_dilation(edge, iterations=border) & np.isfinite(gt)
    err = np.abs(disp[keep] - gt[keep])
    err[~np.isfinite(err)] = np.inf
    return err


@pytest.mark.parametrize("given_range", [False, True])
def test_default_recovers_boxes_with_positive_disparity(fg_bg_pair, given_range):
    left, right, gt = fg_bg_pair
    kwargs = {"min_disparity": 0, "max_disparity": 32} if given_range else {}
    disp = estimate_disparity(left, right, **kwargs)
    assert disp.dtype == np.float32 and disp.shape == gt.shape
    assert np.isfinite(disp).mean() >= 0.99  # dense: occlusions and borders are filled
    err = _errors(disp, gt)
    assert np.mean(err > 1.0) < 0.03, f"bad-1 away from edges {np.mean(err > 1.0):.3f}"
    assert np.median(err) < 0.25
    # and overall (occlusions and left border included) it stays mostly right
    assert np.mean(np.abs(disp - gt) > 2.0) < 0.08


def test_default_handles_negative_disparities(converged_pair):
    left, right, gt = converged_pair
    result = match(left, right)
    assert result.min_disparity < -26 < -12 < result.max_disparity
    err = _errors(result.disparity_px, gt)
    assert np.mean(err > 1.0) < 0.03
    assert np.nanmax(result.disparity_px) < 0  # no sign flip anywhere


def test_default_subpixel_on_slanted_plane(slanted_plane):
    left, right, gt = slanted_plane  # 10 .. 19.5 px
    disp = estimate_disparity(left, right, 4, 26)
    inner = (slice(6, -6), slice(30, -6))  # the left band beyond the right view's edge is extrapolated
    err = np.abs(disp[inner] - gt[inner])
    assert np.mean(err) < 0.35, f"mean error {np.mean(err):.3f} px"
    assert np.mean(err > 1.0) < 0.02


def test_default_is_deterministic_and_confidence_is_meaningful(fg_bg_pair):
    left, right, gt = fg_bg_pair
    a = match(left, right, min_disparity=0, max_disparity=32)  # every usable core
    for threads in (1, 2, 3, 5):
        b = match(left, right, min_disparity=0, max_disparity=32, threads=threads)
        np.testing.assert_array_equal(a.disparity_px, b.disparity_px)
        np.testing.assert_array_equal(a.confidence, b.confidence)
        np.testing.assert_array_equal(a.measured, b.measured)
    conf = a.confidence
    assert conf.dtype == np.float32 and conf.min() >= 0 and conf.max() <= 1
    wrong = np.abs(a.disparity_px - gt) > 1
    # wrong pixels are the less confident ones
    assert conf[wrong].mean() < conf[~wrong].mean() - 0.2
    assert a.settings["matcher"] == "parallax"


def test_default_without_fill_leaves_nan_with_zero_confidence(fg_bg_pair):
    left, right, _ = fg_bg_pair
    result = match(left, right, min_disparity=0, max_disparity=32, fill=False)
    holes = ~np.isfinite(result.disparity_px)
    assert 0.02 < holes.mean() < 0.4  # occlusions and the left band
    assert np.all(result.confidence[holes] == 0)
    assert np.all(result.confidence[~holes] > 0)


def test_default_downscales_large_volumes(fg_bg_pair):
    left, right, gt = fg_bg_pair
    result = match(left, right, min_disparity=0, max_disparity=32, max_voxels=100_000)
    assert result.settings["working_scale"] < 1.0
    assert result.disparity_px.shape == gt.shape
    err = _errors(result.disparity_px, gt, border=4)
    assert np.mean(err > 2.0) < 0.1


def test_default_coarse_to_fine_mode_recovers_boxes(wide_pair):
    # a range wide enough (0..64) that the pyramid halves (once: levels keep >= 48 px)
    # and the full level searches a 16-label band per pixel
    left, right, gt = wide_pair
    result = match(
        left, right, min_disparity=0, max_disparity=64, pyramid_levels=2, band_labels=16, coarse_voxels=10_000
    )
    assert np.isfinite(result.disparity_px).all()
    assert result.settings["pyramid_levels"] == 2
    err = _errors(result.disparity_px, gt)
    assert np.median(err) < 0.25
    # the box and the visible background are right; the wide occlusion left of the box
    # (30 px, filled) is as hard as for the full-range search
    visible = np.ones(gt.shape, bool)
    visible[20:76, 10:50] = False
    assert np.mean(np.abs(result.disparity_px - gt)[visible] > 1.0) < 0.03
    full = match(left, right, min_disparity=0, max_disparity=64)
    assert np.mean(err > 1.0) <= np.mean(_errors(full.disparity_px, gt) > 1.0) + 0.02
    # same result on one thread
    one = match(left, right, min_disparity=0, max_disparity=64, pyramid_levels=2, coarse_voxels=10_000, threads=1)
    np.testing.assert_array_equal(one.disparity_px, result.disparity_px)


def test_default_rejects_bad_input(fg_bg_pair):
    left, right, _ = fg_bg_pair
    with pytest.raises(ParameterError, match="same size"):
        estimate_disparity(left, right[:, :-1])
    with pytest.raises(ParameterError, match="uint8"):
        estimate_disparity(left.astype(np.float32), right)
    with pytest.raises(ParameterError, match="smaller than"):
        estimate_disparity(left, right, 30, 10)
    with pytest.raises(ParameterError, match="finite"):
        estimate_disparity(left, right, float("nan"), 10)
    with pytest.raises(ParameterError, match="does not take"):
        ParallaxMatcher(block_size=5)
    with pytest.raises(ParameterError, match="p2"):
        ParallaxMatcher(p1=50, p2=10)
    with pytest.raises(ParameterError, match="median_size"):
        ParallaxMatcher(median_size=4)
    with pytest.raises(ParameterError, match="sgm_paths"):
        ParallaxMatcher(sgm_paths=6)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ParameterError, match="threads"):
            ParallaxMatcher(threads=bad)
    with pytest.raises(ParameterError, match="pyramid_levels"):
        ParallaxMatcher(pyramid_levels=9)
    with pytest.raises(ParameterError, match="band_labels"):
        ParallaxMatcher(band_labels=12)
    with pytest.raises(ParameterError, match="band_margin_px"):
        ParallaxMatcher(band_margin_px=-1)
    with pytest.raises(ParameterError, match="coarse_voxels"):
        ParallaxMatcher(coarse_voxels=10)


def test_default_blank_pair_falls_back_to_a_wide_range():
    blank = np.full((48, 64, 3), 128, np.uint8)
    lo, hi = ParallaxMatcher().find_range(blank, blank)
    assert lo == pytest.approx(-16) and hi == pytest.approx(16)
