"""Video disparity metrics (parallax.bench.flicker) on seeded synthetic ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from parallax.bench.flicker import (
    dis_flow,
    flicker_comparison,
    global_shift_error,
    photometric_error_map,
    static_mask,
    warp_by_flow,
)
from parallax.errors import ParameterError


def _textured(seed: int, h: int = 60, w: int = 80) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (h // 4, w // 4, 3), dtype=np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def test_photometric_error_is_zero_for_the_true_shift_and_nan_outside():
    left = _textured(0)
    right = np.roll(left, -4, axis=1)  # x_right = x_left - 4
    d = np.full(left.shape[:2], 4.0, np.float32)
    err = photometric_error_map(left, right, d)
    assert np.nanmax(err[:, 4:-4]) == 0.0
    assert np.all(np.isnan(err[:, :3]))  # x - d leaves the right view
    err_nan = photometric_error_map(left, right, np.full_like(d, np.nan))
    assert np.all(np.isnan(err_nan))
    best, shift = global_shift_error(left, right, np.isfinite(err), shifts=range(9))
    assert shift == 4 and best == 0.0


def test_flow_compensated_flicker_of_a_moving_image():
    frame0 = _textured(1)
    frame1 = np.roll(frame0, 2, axis=1)  # the scene moved 2 px right
    flow = dis_flow(frame1, frame0)
    assert np.median(flow[..., 0][:, 10:-10]) == pytest.approx(-2.0, abs=0.2)
    static = static_mask(frame1, frame0, flow)
    assert static[:, 10:-10].mean() > 0.8
    d0 = np.tile(np.linspace(1, 9, 80, dtype=np.float32), (60, 1))
    d1 = np.roll(d0, 2, axis=1)  # the same surface, moved with the image
    warped, inside = warp_by_flow(d0, flow, nearest=True)
    assert np.nanmedian(np.abs(warped - d1)[:, 10:-10]) < 0.25 and inside[:, 10:-10].all()
    report = flicker_comparison(
        [frame0, frame1],
        [frame0, frame1],
        {"moved": [d0, d1], "jumpy": [d0, d1 + 1.0]},
    )
    assert report.flicker_px["moved"] < 0.3
    assert report.flicker_px["jumpy"] == pytest.approx(report.flicker_px["moved"] + 1.0, abs=0.3)
    assert report.ratios("moved", "jumpy")["flicker"] < 0.3
    assert report.frames == 2 and 0 < report.static_share <= 1


def test_flicker_comparison_needs_two_frames_per_method():
    img = _textured(2)
    d = np.zeros(img.shape[:2], np.float32)
    with pytest.raises(ParameterError, match="2 frames"):
        flicker_comparison([img], [img], {"a": [d]})
    with pytest.raises(ParameterError, match="every method"):
        flicker_comparison([img, img], [img, img], {"a": [d]})
