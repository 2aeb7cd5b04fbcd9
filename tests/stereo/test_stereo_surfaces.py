"""Plain surfaces: untextured regions come out smooth and plausible, or without a value -- never as noise."""

from __future__ import annotations

import numpy as np
import pytest

from parallax.bench.geometry import plain_roughness
from parallax.errors import ParameterError
from parallax.stereo.disparity import disparity_of_pair
from parallax.stereo.smoothing import edge_weights, smooth_guided
from parallax.stereo.surfaces import PlainSurfaceSettings, plain_mask, smooth_plain_surfaces


@pytest.mark.parametrize("wall_fixture", ["plain_wall", "grainy_wall"])
def test_textureless_wall_is_smooth_and_right_or_has_no_value(wall_fixture, request):
    left, right, gt = request.getfixturevalue(wall_fixture)
    wall = gt == 24.0
    raw = disparity_of_pair(left, right, plain_surfaces=False)
    now = disparity_of_pair(left, right)
    before = plain_roughness(left, raw.disparity_px, raw.valid)
    after = plain_roughness(left, now.disparity_px, now.valid)
    # the matcher alone gives confident-looking noise on the grainy wall (the test has teeth) ...
    if wall_fixture == "grainy_wall":
        assert before.rough_valid_share > 0.5
    # ... the wall now comes out smooth (or without a value), and most of the view stays valid
    assert after.rough_valid_share <= 0.15, after
    assert after.valid_share >= 0.6
    # what is valid on the wall is the wall: never noisy-valid
    err = np.abs(now.disparity_px - gt)
    valid_wall = now.valid & wall
    assert np.mean(err[valid_wall] > 1.0) < 0.02
    assert np.all(now.confidence[~now.valid] == 0) and np.all(np.isnan(now.disparity_px[~now.valid]))
    # textured background untouched: as good as the matcher alone
    bg = ~wall
    assert np.mean(err[bg & now.valid] > 1.0) <= np.mean(np.abs(raw.disparity_px - gt)[bg] > 1.0) + 0.01
    # the plain interior goes through the plain-surface steps, the grainy one through the weak-texture steps
    plain_share = now.settings["plain_surfaces"]["plain_share"]
    assert plain_share > 0.1 if wall_fixture == "plain_wall" else plain_share < 0.05


def test_plain_region_without_support_has_no_value():
    rng = np.random.default_rng(3)
    h, w = 80, 160
    image = np.full((h, w, 3), 128, np.uint8)  # one plain wall
    disparity = rng.normal(10.0, 3.0, (h, w)).astype(np.float32)  # the matcher's noise
    confidence = np.ones((h, w), np.float32)
    measured = np.zeros((h, w), bool)
    measured[:, :40] = rng.random((h, 40)) < 0.2  # a fifth of its left part was measured ...
    disparity[measured] = 10.0 + rng.normal(0.0, 0.3, int(measured.sum()))  # ... about right
    out = smooth_plain_surfaces(image, disparity, confidence, measured)
    assert out.plain.all() and out.treated.all()
    near, far = np.zeros((h, w), bool), np.zeros((h, w), bool)
    near[:, 5:35], far[:, 120:] = True, True
    # far from anything measured: no value rather than noise
    assert np.isnan(out.disparity_px[far]).all() and (out.confidence[far] == 0).all() and out.unsupported[far].all()
    # near the measurements: one smooth surface at their value
    d = out.disparity_px[near]
    assert np.isfinite(d).all() and np.abs(d - 10.0).max() < 0.3 and np.ptp(d) < 0.5
    assert (out.confidence[near] <= PlainSurfaceSettings().max_confidence).all()


def test_fine_texture_at_low_contrast_is_not_plain():
    rng = np.random.default_rng(5)
    flat = np.full((60, 60, 3), 90, np.uint8)
    textured = np.clip(90 + rng.normal(0, 1.2, (60, 60, 1)), 0, 255).astype(np.uint8).repeat(3, axis=2)
    assert plain_mask(flat, fine_threshold=0.5).all()
    assert plain_mask(textured).mean() > 0.9  # contrast alone calls it plain ...
    assert plain_mask(textured, fine_threshold=0.5).mean() < 0.1  # ... its fine texture does not


def _weakly_textured(seed: int, shape: tuple[int, int] = (90, 120)) -> np.ndarray:
    """A low-contrast surface with fine noise (not plain to :func:`plain_mask`, std about 1.2 levels)."""
    rng = np.random.default_rng(seed)
    return np.clip(100 + rng.normal(0, 1.2, (*shape, 1)), 0, 255).astype(np.uint8).repeat(3, axis=2)


def test_weak_texture_is_denoised_and_ramps_stay_ramps():
    rng = np.random.default_rng(11)
    image = _weakly_textured(11)
    h, w = image.shape[:2]
    ramp = (20.0 + 0.05 * np.arange(w))[None, :].repeat(h, axis=0).astype(np.float32)
    noisy = ramp + rng.normal(0.0, 0.4, (h, w)).astype(np.float32)  # the matcher's noise, confident enough
    confidence = np.full((h, w), 0.8, np.float32)
    measured = np.ones((h, w), bool)
    off = smooth_plain_surfaces(image, noisy, confidence, measured, settings=PlainSurfaceSettings(denoise_std=0.0))
    out = smooth_plain_surfaces(image, noisy, confidence, measured)
    inner = (slice(10, -10), slice(10, -10))
    assert not out.plain[inner].any()  # fine texture: the plain-surface steps leave it alone ...
    np.testing.assert_array_equal(off.disparity_px, noisy)  # ... so without step 7 nothing changes
    err_before = np.abs(noisy - ramp)[inner]
    err_after = np.abs(out.disparity_px - ramp)[inner]
    assert np.median(err_after) < 0.4 * np.median(err_before)  # the noise averages out ...
    assert abs(float(np.mean(out.disparity_px[inner] - ramp[inner]))) < 0.05  # ... the ramp stays a ramp
    assert np.isfinite(out.disparity_px).all()  # confident pixels are never dropped


def test_rough_unconfident_plain_pixels_have_no_value_but_not_as_pinholes():
    rng = np.random.default_rng(12)
    h, w = 80, 160
    image = np.full((h, w, 3), 128, np.uint8)
    image[:, : w // 2] = _weakly_textured(12, (h, w // 2))  # left half: weak texture, right half: plain
    disparity = np.full((h, w), 10.0, np.float32)
    confidence = np.full((h, w), 0.9, np.float32)
    # a blob of unconfident noise nothing can average away (spread well above 1 px)
    blob = (slice(20, 60), slice(20, 60))
    disparity[blob] += rng.uniform(-6.0, 6.0, (40, 40)).astype(np.float32)
    confidence[blob] = 0.1
    # a few isolated unconfident noisy pixels on a clean surface
    specks = [(10, 100), (70, 130), (40, 150)]
    for y, x in specks:
        disparity[y, x] += 5.0
        confidence[y, x] = 0.1
    settings = PlainSurfaceSettings(denoise_std=0.0, ring_min_inliers=0.0, std_threshold=0.5)
    out = smooth_plain_surfaces(image, disparity, confidence, np.ones((h, w), bool), settings=settings)
    no_value = ~np.isfinite(out.disparity_px)
    assert no_value[25:55, 25:55].mean() > 0.9  # the noise blob: no value rather than noise
    assert out.unsupported[25:55, 25:55].mean() > 0.9 and (out.confidence[no_value] == 0).all()
    for y, x in specks:  # isolated pixels keep a value: a surface is not riddled with pinholes
        assert np.isfinite(out.disparity_px[y, x])
    assert no_value.mean() < 0.2
    off = smooth_plain_surfaces(
        image,
        disparity,
        confidence,
        np.ones((h, w), bool),
        settings=PlainSurfaceSettings(denoise_std=0.0, ring_min_inliers=0.0, std_threshold=0.5, rough_std=0.0),
    )
    assert np.isfinite(off.disparity_px).all()  # step 8 off: the values stay


def test_smoother_is_exact_on_constants_and_thread_independent():
    rng = np.random.default_rng(9)
    image = rng.integers(0, 255, (50, 70, 3)).astype(np.uint8)
    const = np.full((50, 70), 3.5)
    out = smooth_guided([const], image, lam=200.0, sigma_color=8.0)[0]
    np.testing.assert_allclose(out, 3.5, rtol=1e-5)
    values = rng.normal(0, 1, (50, 70))
    one = smooth_guided([values, const], image, lam=50.0, sigma_color=8.0, threads=1)
    for threads in (2, 3, 7):
        many = smooth_guided([values, const], image, lam=50.0, sigma_color=8.0, threads=threads)
        for a, b in zip(one, many, strict=True):
            np.testing.assert_array_equal(a, b)
    assert np.std(one[0]) < np.std(values)  # it smooths
    # weights computed once and handed in give the same result; wrong shapes are refused
    given = smooth_guided([values, const], image, lam=50.0, sigma_color=8.0, weights=edge_weights(image, 8.0))
    for a, b in zip(one, given, strict=True):
        np.testing.assert_array_equal(a, b)
    wh, wv = edge_weights(image, 8.0)
    with pytest.raises(ParameterError, match="weights"):
        smooth_guided([values], image, lam=50.0, sigma_color=8.0, weights=(wv, wh))


def test_disparity_of_pair_is_thread_independent(plain_wall):
    from parallax.stereo.matchers import threads as pool

    left, right, _ = plain_wall
    a = disparity_of_pair(left[:80], right[:80])
    original = pool.available_cores
    try:
        pool.available_cores = lambda: 1  # type: ignore[assignment]
        b = disparity_of_pair(left[:80], right[:80], options={"threads": 1})
    finally:
        pool.available_cores = original  # type: ignore[assignment]
    np.testing.assert_array_equal(a.disparity_px, b.disparity_px)
    np.testing.assert_array_equal(a.valid, b.valid)


def test_surface_settings_and_input_errors():
    with pytest.raises(ParameterError, match="window"):
        PlainSurfaceSettings(window=4)
    with pytest.raises(ParameterError, match="plain_weight"):
        PlainSurfaceSettings(plain_weight=2.0)
    with pytest.raises(ParameterError, match="smoothness"):
        PlainSurfaceSettings(smoothness=0.0)
    with pytest.raises(ParameterError, match="denoise_std"):
        PlainSurfaceSettings(denoise_std=-1.0)
    with pytest.raises(ParameterError, match="rough_spread_px"):
        PlainSurfaceSettings(rough_spread_px=float("nan"))
    with pytest.raises(ParameterError, match="rough_density"):
        PlainSurfaceSettings(rough_density=1.5)
    image = np.zeros((10, 10, 3), np.uint8)
    with pytest.raises(ParameterError, match="one size"):
        smooth_plain_surfaces(image, np.zeros((10, 9)), np.zeros((10, 10)), np.zeros((10, 10), bool))
    with pytest.raises(ParameterError, match="finite"):
        smooth_guided([np.full((10, 10), np.nan)], image, lam=1.0, sigma_color=1.0)
    with pytest.raises(ParameterError, match="strict"):
        disparity_of_pair(image, image, strict="yes")  # type: ignore[arg-type]


def test_guides_made_beforehand_give_the_same_surfaces_and_must_fit(plain_wall):
    from parallax.stereo.surfaces import surface_guides

    left, right, _ = plain_wall
    raw = disparity_of_pair(left, right, plain_surfaces=False)
    args = (left, raw.disparity_px, raw.confidence, raw.measured)
    inline = smooth_plain_surfaces(*args, threads=2)
    given = smooth_plain_surfaces(*args, threads=2, guides=surface_guides(left))
    for name in ("disparity_px", "confidence", "plain", "treated", "unsupported"):
        np.testing.assert_array_equal(getattr(given, name), getattr(inline, name))
    with pytest.raises(ParameterError, match="guides"):
        smooth_plain_surfaces(*args, guides=surface_guides(left[:-2]))
