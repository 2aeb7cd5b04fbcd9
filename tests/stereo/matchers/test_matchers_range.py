"""Disparity range from sparse feature matches (parallax.stereo.range)."""

from __future__ import annotations

import numpy as np
import pytest

from parallax.errors import ParameterError
from parallax.stereo.range import estimate_disparity_range


def _shifted_pair(shift: int, seed: int = 5):
    """A textured scene (multi-scale noise) seen with a global shift: x_right = x_left - shift."""
    import cv2

    rng = np.random.default_rng(seed)
    h, w = 160, 448
    octaves = [
        cv2.resize(
            rng.uniform(0, 255, size=(h // s, w // s, 3)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC
        )
        for s in (2, 4, 8, 16)
    ]
    big = np.clip(sum(octaves) / len(octaves), 0, 255)
    left = big[:, 64 : 64 + 320]
    right = big[:, 64 + shift : 64 + shift + 320]
    return left.round().astype(np.uint8), right.round().astype(np.uint8)


@pytest.mark.parametrize("shift", [17, -45])
def test_range_brackets_a_known_shift(shift):
    left, right = _shifted_pair(shift)
    lo, hi = estimate_disparity_range(left, right)
    assert lo < shift < hi
    assert hi - lo < 30  # tight: percentiles of one shift plus the margin


def test_range_falls_back_without_texture():
    blank = np.full((60, 200, 3), 90, np.uint8)
    assert estimate_disparity_range(blank, blank) == (-50.0, 50.0)
    assert estimate_disparity_range(blank, blank, fallback_frac=0.1) == (-20.0, 20.0)


def test_range_rejects_bad_parameters():
    left, right = _shifted_pair(5)
    with pytest.raises(ParameterError, match="same size"):
        estimate_disparity_range(left, right[:, :-1])
    with pytest.raises(ParameterError, match="percentiles"):
        estimate_disparity_range(left, right, low_percentile=90, high_percentile=10)
    with pytest.raises(ParameterError, match="margin_px"):
        estimate_disparity_range(left, right, margin_px=-1)
