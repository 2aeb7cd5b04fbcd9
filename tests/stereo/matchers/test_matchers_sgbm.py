"""The OpenCV SGBM baseline: the issue's recipe, checked against an independent cv2 call."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from parallax.errors import ParameterError
from parallax.stereo.disparity import match
from parallax.stereo.matchers.refine import scanline_background_fill
from parallax.stereo.matchers.registry import get_matcher


def _independent_sgbm(left, right, min_d, max_d):
    mind = int(np.floor(min_d))
    num = int(np.ceil((max_d - mind + 1) / 16)) * 16
    sgbm = cv2.StereoSGBM_create(
        minDisparity=mind,
        numDisparities=num,
        blockSize=5,
        P1=600,
        P2=2400,
        disp12MaxDiff=1,
        uniquenessRatio=10,
        speckleWindowSize=100,
        speckleRange=2,
        mode=cv2.STEREO_SGBM_MODE_SGBM_3WAY,
    )
    raw = sgbm.compute(left, right)
    return np.where(raw < mind * 16, np.nan, raw / 16.0).astype(np.float32)


@pytest.mark.parametrize("range_", [(0.0, 32.0), (2.5, 30.2), (-30.0, -5.0)])
def test_sgbm_raw_matches_an_independent_cv2_call(fg_bg_pair, converged_pair, range_):
    left, right, _ = fg_bg_pair if range_[0] >= 0 else converged_pair
    result = match(left, right, matcher="sgbm-raw", min_disparity=range_[0], max_disparity=range_[1])
    expected = _independent_sgbm(left, right, *range_)
    np.testing.assert_array_equal(result.disparity_px, expected)
    assert np.all(result.confidence[np.isnan(expected)] == 0)
    assert np.all(result.confidence[np.isfinite(expected)] == 1)
    assert result.settings["fill"] is False


def test_sgbm_fill_is_the_background_favouring_scanline_fill(fg_bg_pair):
    left, right, gt = fg_bg_pair
    raw = match(left, right, matcher="sgbm-raw", min_disparity=0, max_disparity=32).disparity_px
    filled = match(left, right, matcher="sgbm", min_disparity=0, max_disparity=32)
    assert np.isnan(raw).any() and np.isfinite(filled.disparity_px).all()
    np.testing.assert_array_equal(filled.disparity_px, scanline_background_fill(raw))
    holes = np.isnan(raw)
    assert np.all(filled.confidence[holes] == pytest.approx(0.05))
    # SGBM leaves the left numDisparities columns empty (filled from the right); beyond them it is accurate
    assert np.mean(np.abs(filled.disparity_px[:, 40:] - gt[:, 40:]) > 2) < 0.1


def test_scanline_fill_takes_the_smaller_neighbour():
    nan = np.nan
    row = np.array(
        [[nan, 5.0, nan, nan, 9.0, nan], [nan, nan, nan, nan, nan, nan], [3.0, nan, 7.0, 1.0, nan, 2.0]], np.float32
    )
    out = scanline_background_fill(row)
    np.testing.assert_array_equal(out[0], [5, 5, 5, 5, 9, 9])
    assert np.isnan(out[1]).all()  # nothing to fill from
    np.testing.assert_array_equal(out[2], [3, 3, 7, 1, 1, 2])


def test_sgbm_finds_a_missing_range_from_features(fg_bg_pair):
    left, right, gt = fg_bg_pair
    result = get_matcher("sgbm").match(left, right)
    assert result.min_disparity < 6 and result.max_disparity > 26
    assert np.mean(np.abs(result.disparity_px[:, 48:] - gt[:, 48:]) > 2) < 0.1


def test_sgbm_rejects_bad_input(fg_bg_pair):
    left, right, _ = fg_bg_pair
    with pytest.raises(ParameterError, match="same size"):
        match(left, right[:-2], matcher="sgbm", min_disparity=0, max_disparity=16)
    with pytest.raises(ParameterError, match="smaller than"):
        match(left, right, matcher="sgbm", min_disparity=20, max_disparity=4)
    with pytest.raises(ParameterError, match="finite"):
        match(left, right, matcher="sgbm", min_disparity=float("inf"), max_disparity=4)
    with pytest.raises(ParameterError, match="fill"):
        get_matcher("sgbm", fill="yes")
