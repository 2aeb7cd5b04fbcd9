"""Quality scores and thresholds, and perceptual-hash dedup, on seeded synthetic pairs."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from parallax.corpus.dedup import hamming, is_near_duplicate, phash64
from parallax.corpus.quality import QualityThresholds, assess_quality
from parallax.errors import ParameterError


def _pair(seed: int = 0, h: int = 120, w: int = 160):
    """Two fronto-parallel planes: disparity 6 px on the left half of the left view, 9 px on the right half."""
    rng = np.random.default_rng(seed)
    left = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (0, 0), 1.0)
    disparity = np.where(np.arange(w) < w // 2, 6.0, 9.0).astype(np.float32) * np.ones((h, 1), np.float32)
    right = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (0, 0), 1.0)  # disoccluded texture
    for x in np.argsort(disparity[0], kind="stable"):  # far first, near overwrites
        xr = x - int(disparity[0, x])  # x_right = x_left - d
        if 0 <= xr < w:
            right[:, xr] = left[:, x]
    return left, right, disparity


def test_a_good_pair_is_accepted_with_its_scores():
    left, right, disp = _pair()
    report = assess_quality(left, right, disp, rectification_residual_px=0.2, feature_matches=200)
    assert report.accepted, report.reasons
    assert report.scores["disparity_density"] == 1.0 and report.scores["lr_photometric_error"] < 1.0
    assert report.scores["disparity_p2_px"] == 6.0 and report.scores["disparity_p98_px"] == 9.0
    assert report.to_dict()["thresholds"]["min_sharpness"] == QualityThresholds().min_sharpness


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda l, r, d: (np.zeros_like(l), np.zeros_like(r), d), "badly exposed"),
        (lambda l, r, d: (cv2.GaussianBlur(l, (0, 0), 6), cv2.GaussianBlur(r, (0, 0), 6), d), "too blurry"),
        (
            lambda l, r, d: (l, r, np.where(np.arange(d.shape[1]) < 150, np.nan, d).astype(np.float32)),
            "sparse disparity",
        ),
        (lambda l, r, d: (l, r, np.full_like(d, 6.0)), "flat disparity"),
        (lambda l, r, d: (l, 255 - r, d), "left-right inconsistent"),
        (lambda l, r, d: (l, r, np.full_like(d, 500.0) + np.indices(d.shape)[1]), "implausible disparity range"),
    ],
)
def test_bad_pairs_are_rejected_with_the_reason(change, reason):
    left, right, disp = change(*_pair())
    report = assess_quality(left, right, disp, rectification_residual_px=0.2, feature_matches=200)
    assert not report.accepted
    assert any(reason in r for r in report.reasons), report.reasons


def test_rectification_checks():
    left, right, disp = _pair()
    r1 = assess_quality(left, right, disp, rectification_residual_px=3.0, feature_matches=200)
    assert any("rectification residual 3.0 px > 1.5 px" in r for r in r1.reasons)
    r2 = assess_quality(left, right, disp, rectification_residual_px=None, feature_matches=3)
    assert any("too few feature matches" in r for r in r2.reasons)


def test_thresholds_are_validated():
    with pytest.raises(ParameterError, match="min_sharpness"):
        QualityThresholds(min_sharpness=-1)


def test_perceptual_hash_finds_reencodes_and_resizes_but_not_other_scenes():
    left, right, _ = _pair(seed=1, h=300, w=400)
    ok, jpg = cv2.imencode(".jpg", left, [cv2.IMWRITE_JPEG_QUALITY, 70])
    reencoded = cv2.imdecode(jpg, cv2.IMREAD_UNCHANGED)
    resized = cv2.resize(left, (200, 150), interpolation=cv2.INTER_AREA)
    other, _, _ = _pair(seed=2, h=300, w=400)
    assert hamming(phash64(left), phash64(reencoded)) <= 4
    assert hamming(phash64(left), phash64(resized)) <= 4
    assert hamming(phash64(left), phash64(other)) > 16
    a = (phash64(left), phash64(right))
    assert is_near_duplicate(a, (phash64(reencoded), phash64(right)))
    assert not is_near_duplicate(a, (phash64(other), phash64(right)))
    assert -(2**63) <= phash64(left) < 2**63  # fits SQLite INTEGER


def test_a_pair_the_stereo_stage_could_not_rectify_is_rejected_with_its_reason():
    left, right, disp = _pair()
    why = "rows do not match: vertical offset of feature matches on the rectified views is 2.40 px (median)"
    report = assess_quality(
        left,
        right,
        disp,
        rectification_residual_px=2.4,
        rectification_p90_px=9.0,
        feature_matches=200,
        rectified=False,
        rectification_reason=why,
    )
    assert not report.accepted
    assert report.reasons[0] == f"not rectified: {why}"
    assert report.scores["rectified"] is False and report.scores["rectification_residual_p90_px"] == 9.0
