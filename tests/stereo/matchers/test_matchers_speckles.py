"""Speckle removal: small islands of consistent disparity become mismatches, surfaces stay."""

from __future__ import annotations

import numpy as np
import pytest

from parallax.errors import ParameterError
from parallax.stereo.matchers.refine import MISMATCH, OCCLUDED, VALID
from parallax.stereo.matchers.speckles import remove_speckles


def test_small_islands_go_large_surfaces_and_other_states_stay():
    disp = np.full((40, 50), 10.0, dtype=np.float32)
    disp[:, 25:] = 20.0 + np.arange(25, dtype=np.float32) * 0.5  # a ramp: neighbours 0.5 px apart, one region
    disp[5:8, 5:8] = 30.0  # a 9-pixel island on the flat part
    state = np.full(disp.shape, VALID, dtype=np.uint8)
    state[30:, :3] = OCCLUDED
    out = remove_speckles(disp, state, 50, 1.0)
    assert out.dtype == np.uint8 and out.shape == state.shape and out is not state
    assert np.all(out[5:8, 5:8] == MISMATCH)
    untouched = np.ones(disp.shape, bool)
    untouched[5:8, 5:8] = False
    np.testing.assert_array_equal(out[untouched], state[untouched])
    # the island (9 pixels) survives a limit of 8, and with a wide enough range it joins its surroundings
    np.testing.assert_array_equal(remove_speckles(disp, state, 8, 1.0), state)
    np.testing.assert_array_equal(remove_speckles(disp, state, 50, 21.0), state)


def test_speckles_match_the_sixteenth_pixel_rounding_of_opencv():
    rng = np.random.default_rng(3)
    disp = (rng.normal(0, 40, (30, 30)) * 16).round().astype(np.float32) / 16 + np.float32(1 / 32)  # halves
    state = np.where(rng.random(disp.shape) < 0.8, VALID, MISMATCH).astype(np.uint8)
    import cv2

    codes = np.where(state == VALID, np.clip(np.round(disp * 16.0), -32000, 32000), -32768).astype(np.int16)
    cv2.filterSpeckles(codes, -32768, 4, 16)
    expected = state.copy()
    expected[(codes == -32768) & (state == VALID)] = MISMATCH
    np.testing.assert_array_equal(remove_speckles(disp, state, 4, 1.0), expected)


def test_speckles_refuse_views_of_different_sizes():
    with pytest.raises(ParameterError, match="one size"):
        remove_speckles(np.zeros((4, 5), np.float32), np.zeros((4, 6), np.uint8), 4, 1.0)
