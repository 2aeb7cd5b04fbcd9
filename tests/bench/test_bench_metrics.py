"""Disparity metrics on tiny hand-computed examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from parallax.bench.metrics import DisparityMetrics, disparity_metrics, fill_missing, scene_metrics
from parallax.bench.scene import StereoScene
from parallax.errors import ParameterError

NAN = np.nan

# 2x4 ground truth with one pixel without GT; a prediction with one hole on a GT
# pixel and one prediction where there is no GT (ignored).
GT = np.array([[1.0, 2.0, 3.0, NAN], [4.0, 5.0, 6.0, 7.0]], dtype=np.float32)
PRED = np.array([[1.4, 2.6, NAN, 9.0], [4.0, 7.5, 6.0, 0.0]], dtype=np.float32)
# errors on GT pixels: 0.4, 0.6, (hole), 0, 2.5, 0, 7 ; the hole is filled with
# min(2.6, 9.0) = 2.6 -> error 0.4 for EPE/RMS.


def test_metrics_hand_computed_all_pixels() -> None:
    m = disparity_metrics(PRED, GT)
    assert m.n_pixels == 7
    assert m.density_pct == pytest.approx(100 * 6 / 7)
    assert m.bad_0_5_pct == pytest.approx(100 * 4 / 7)  # 0.6, 2.5, 7, hole
    assert m.bad_1_pct == pytest.approx(100 * 3 / 7)  # 2.5, 7, hole
    assert m.bad_2_pct == pytest.approx(100 * 3 / 7)
    assert m.bad_4_pct == pytest.approx(100 * 2 / 7)  # 7, hole
    assert m.d1_pct == pytest.approx(100 * 2 / 7)  # 7 (> 3 and > 0.35), hole
    assert m.epe_px == pytest.approx((0.4 + 0.6 + 0.4 + 0 + 2.5 + 0 + 7) / 7, abs=1e-6)
    assert m.rms_px == pytest.approx(math.sqrt((0.16 + 0.36 + 0.16 + 6.25 + 49) / 7), abs=1e-6)


def test_metrics_hand_computed_masked() -> None:
    mask = np.ones(GT.shape, dtype=bool)
    mask[1, 3] = False  # drop the 7 px error
    m = disparity_metrics(PRED, GT, mask=mask)
    assert m.n_pixels == 6
    assert m.bad_4_pct == pytest.approx(100 * 1 / 6)  # only the hole
    assert m.bad_0_5_pct == pytest.approx(100 * 3 / 6)  # 0.6, 2.5, hole
    assert m.epe_px == pytest.approx((0.4 + 0.6 + 0.4 + 2.5) / 6, abs=1e-6)


def test_d1_needs_both_absolute_and_relative_error() -> None:
    gt = np.array([[100.0, 10.0, 50.0]], dtype=np.float32)
    pred = np.array([[104.0, 14.0, 52.9]], dtype=np.float32)
    # 4 px on 100 is 4 % (not D1); 4 px on 10 is 40 % (D1); 2.9 px is under 3 px
    m = disparity_metrics(pred, gt)
    assert m.d1_pct == pytest.approx(100 / 3)
    assert m.bad_2_pct == pytest.approx(100.0)  # all three are > 2 px
    assert m.bad_4_pct == pytest.approx(0.0)  # 4.0 is not > 4 (strict)


def test_thresholds_are_strict() -> None:
    gt = np.zeros((1, 4), dtype=np.float32)
    pred = np.array([[0.5, 1.0, 2.0, 4.0]], dtype=np.float32)
    m = disparity_metrics(pred, gt)
    assert m.bad_0_5_pct == pytest.approx(75.0)
    assert m.bad_1_pct == pytest.approx(50.0)
    assert m.bad_2_pct == pytest.approx(25.0)
    assert m.bad_4_pct == pytest.approx(0.0)


def test_inf_prediction_counts_as_missing() -> None:
    gt = np.array([[1.0, 1.0]], dtype=np.float32)
    m = disparity_metrics(np.array([[1.0, np.inf]], dtype=np.float32), gt)
    assert m.density_pct == pytest.approx(50.0)
    assert m.bad_4_pct == pytest.approx(50.0)
    assert m.epe_px == pytest.approx(0.0)  # the hole takes its neighbour, 1.0


def test_fill_missing_takes_background_neighbour() -> None:
    d = np.array([[NAN, 5.0, NAN, NAN, 2.0, NAN], [NAN] * 6, [1.0, np.inf, 3.0, 4.0, 4.0, 4.0]], dtype=np.float32)
    out = fill_missing(d)
    np.testing.assert_array_equal(out[0], [5, 5, 2, 2, 2, 2])
    np.testing.assert_array_equal(out[1], [0] * 6)
    np.testing.assert_array_equal(out[2], [1, 1, 3, 4, 4, 4])
    assert out.dtype == np.float32


def test_metric_errors() -> None:
    with pytest.raises(ParameterError, match="one size"):
        disparity_metrics(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ParameterError, match="no ground-truth pixel"):
        disparity_metrics(np.zeros((2, 2)), np.full((2, 2), np.nan))
    with pytest.raises(ParameterError, match="bool array"):
        disparity_metrics(np.zeros((2, 2)), np.zeros((2, 2)), mask=np.ones((2, 2), dtype=np.uint8))
    with pytest.raises(ParameterError, match="2-D"):
        fill_missing(np.zeros(4))
    with pytest.raises(ParameterError, match="finite"):
        DisparityMetrics(
            n_pixels=1,
            density_pct=NAN,
            bad_0_5_pct=0,
            bad_1_pct=0,
            bad_2_pct=0,
            bad_4_pct=0,
            d1_pct=0,
            epe_px=0,
            rms_px=0,
        )


def test_scene_metrics_regions() -> None:
    rng = np.random.default_rng(7)
    img = rng.integers(0, 255, (2, 4, 3), dtype=np.uint8)
    nonocc = np.array([[True, True, True, True], [True, True, True, False]])
    common = dict(
        name="t",
        left=img,
        right=img,
        gt_disparity_px=GT,
        calib=None,
        min_disparity=0.0,
        max_disparity=16.0,
        range_source="dataset",
        dataset="test",
        source="mem",
    )
    scores = scene_metrics(PRED, StereoScene(nonocc=nonocc, **common))
    assert scores["all"].n_pixels == 7 and scores["nonocc"].n_pixels == 6
    assert scene_metrics(PRED, StereoScene(nonocc=None, **common))["nonocc"] is None
    assert scores["all"].to_dict(digits=2)["bad_2_pct"] == round(100 * 3 / 7, 2)
