"""Texture measures: local contrast, fine texture, plain pixels and disparity spread, against their definitions."""

from __future__ import annotations

import numpy as np

from parallax.stereo.texture import grey_levels, local_spread, local_std, plain_from_contrast, plain_mask


def _reflect_windows(a: np.ndarray, window: int) -> np.ndarray:
    r = window // 2
    padded = np.pad(a, r, mode="symmetric")  # OpenCV's BORDER_REFLECT repeats the edge pixel
    return np.lib.stride_tricks.sliding_window_view(padded, (window, window))


def test_local_std_is_the_window_standard_deviation():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (23, 31, 3), dtype=np.uint8)
    grey = grey_levels(image)
    assert grey.shape == (23, 31) and grey.dtype == np.uint8
    expected = _reflect_windows(grey.astype(np.float64), 5).std(axis=(2, 3))
    got = local_std(image, 5)
    assert got.dtype == np.float32 and got.shape == grey.shape
    np.testing.assert_allclose(got, expected, atol=1e-3)
    np.testing.assert_array_equal(local_std(grey, 5), got)  # a grey image as it is
    assert np.all(local_std(np.full((9, 9), 7, np.uint8), 3) == 0)  # flat: exactly 0, never NaN


def test_local_spread_ignores_missing_values():
    d = np.array([[1.0, 2.0, np.nan], [4.0, np.nan, 0.5], [np.nan, np.nan, np.nan]], dtype=np.float32)
    spread = local_spread(d, 3)
    assert spread[1, 1] == 3.5  # max 4 - min 0.5 over the whole 3x3
    assert spread[0, 0] == 3.0  # 4 - 1 over its reflected window
    assert local_spread(np.full((3, 3), np.nan, np.float32), 3)[1, 1] < -1e9  # nothing finite


def test_plain_mask_needs_low_contrast_and_no_fine_texture():
    rng = np.random.default_rng(1)
    ramp = np.tile(np.linspace(100, 104, 40), (30, 1)).astype(np.uint8)  # low contrast, no fine texture
    grainy = (128 + rng.normal(0, 1.2, (30, 40))).round().astype(np.uint8)  # low contrast, fine texture
    assert plain_mask(ramp, fine_threshold=0.5).all()
    assert plain_mask(grainy).mean() > 0.9 and plain_mask(grainy, fine_threshold=0.5).mean() < 0.1
    contrast = local_std(grainy, 11)
    np.testing.assert_array_equal(
        plain_from_contrast(grainy, contrast, 11, 3.0, 0.5), plain_mask(grainy, fine_threshold=0.5)
    )
