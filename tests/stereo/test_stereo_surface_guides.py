"""The plain-surface step's image-only guides and its settings."""

from __future__ import annotations

import numpy as np
import pytest

from parallax.errors import ParameterError
from parallax.stereo.smoothing import edge_weights
from parallax.stereo.surface_guides import PlainSurfaceSettings, surface_guides
from parallax.stereo.texture import local_std


def test_guides_are_the_images_measures_for_any_thread_count():
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (70, 90, 3), dtype=np.uint8)
    image[10:40, 10:60] = 120  # a plain patch
    one, two = surface_guides(image), surface_guides(image, threads=2)
    np.testing.assert_array_equal(one.contrast, local_std(image, 11))
    assert one.plain[25, 35] and not one.plain[60, 80]
    for a, b in zip(one.weights, edge_weights(image, PlainSurfaceSettings().sigma_color), strict=True):
        np.testing.assert_array_equal(a, b)
    assert one.far_image.shape == (18, 23, 3)  # a quarter, rounded up
    for name in ("contrast", "plain", "far_image"):
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name))
    for a, b in zip(one.far_weights, two.far_weights, strict=True):
        np.testing.assert_array_equal(a, b)
    small = image[:40, :40]
    np.testing.assert_array_equal(surface_guides(small).far_image, small)  # too small to shrink: the image itself


def test_guides_refuse_what_is_not_an_image_and_settings_are_checked():
    with pytest.raises(ParameterError):
        surface_guides(np.zeros((10, 10), dtype=np.float32))
    with pytest.raises(ParameterError, match="window"):
        PlainSurfaceSettings(window=4)
