"""Rendered pairs against their ground truth: photometric consistency, reflections, depth, rectification error."""

from __future__ import annotations

import numpy as np
import pytest

from parallax.synth import render
from parallax.synth.effects import NO_EFFECTS, develop
from parallax.synth.generate import render_pair
from parallax.synth.groundtruth import depth_edges, warp_with_disparity
from parallax.synth.materials import MATERIAL_KINDS


def _grow(mask: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)


def _mean_abs(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean(axis=-1)[mask].mean())


def test_synth_warp_right_into_left_matches_up_to_render_noise(synth_pairs):
    """Warping the right view into the left with the GT disparity leaves only rendering noise.

    Bound: on non-occluded, non-reflective pixels away from depth edges, the mean
    absolute difference (8-bit levels) between the left view and the warped right
    view is at most ``1.1 * floor + 1.0``, where ``floor`` is the same difference
    between the left view and a second render of the left view with another
    sampler seed. Why: at 32 samples per pixel the path tracer's Monte Carlo noise
    is the dominant, irreducible difference (the right view carries its own
    independent noise); bilinear resampling of the right view at sub-pixel
    positions softens noise but also blurs texture (up to about 1 level); depth
    edges and mixed pixels are excluded because anti-aliased pixels mix two
    surfaces whose disparities differ. The same comparison with the disparity off by 2 px must
    break the bound (the test can tell right from wrong ground truth).
    """
    for config, pair in synth_pairs:
        lt = pair.left_truth
        mask = pair.nonocc_left & ~lt.reflection_mask & ~depth_edges(lt.depth_m) & ~lt.mixed_mask
        assert mask.mean() > 0.25, f"{pair.sample_id}: too few comparable pixels ({mask.mean():.2f})"
        built = render.build_scene(pair.plan, spp=config.spp, max_bounces=config.max_bounces)
        again = develop(
            render.render_view(built, 0, spp=config.spp, seed=pair.render_seeds[0] + 1),
            scale=pair.exposure_scale,
            effects=NO_EFFECTS,
            view=0,
            rng=np.random.default_rng(0),
        )
        floor = _mean_abs(pair.left, again, mask)
        bound = 1.1 * floor + 1.0
        warped = warp_with_disparity(pair.right, lt.disparity_px)
        err = _mean_abs(pair.left, warped, mask)
        off = _mean_abs(pair.left, warp_with_disparity(pair.right, lt.disparity_px + 2.0), mask)
        assert err <= bound, f"{pair.sample_id}: warp error {err:.2f} > bound {bound:.2f} (noise floor {floor:.2f})"
        assert off > bound, f"{pair.sample_id}: 2 px wrong disparity still within the bound ({off:.2f} <= {bound:.2f})"


def test_synth_reflection_mask_non_empty_with_mirrors(synth_pairs):
    mirror = MATERIAL_KINDS.index("mirror")
    for _, pair in synth_pairs:
        assert pair.plan.has_mirror
        lt = pair.left_truth
        assert lt.reflection_mask.any(), f"{pair.sample_id}: a mirror faces the camera but the reflection mask is empty"
        seen_mirror = lt.material_kind == mirror
        assert seen_mirror.any(), f"{pair.sample_id}: the mirror is not visible"
        assert np.all(lt.reflection_mask[seen_mirror])
        diffuse = lt.material_kind == MATERIAL_KINDS.index("diffuse")
        assert not np.any(lt.reflection_mask[diffuse])
        assert pair.right_truth.reflection_mask.any()


def test_synth_gt_depth_agrees_with_mitsuba_depth_output(synth_pairs):
    """GT depth (exact pixel-centre ray casts) against Mitsuba's own ``aov`` depth through its sensor.

    The AOV averages 64 rays jittered over each pixel's footprint, so it may
    differ from the centre value by at most the depth variation inside the pixel:
    half the largest depth step to a neighbouring pixel, plus float32 rounding
    (1e-5 relative). Depth edges are excluded (there the footprint straddles two
    surfaces), and so are mixed pixels (a sub-pixel ray found a second surface,
    e.g. a wire thinner than a pixel that centre rays miss) and their neighbours.
    Mitsuba's value is the ray length from its near plane, converted to
    z-depth as ``t * dir_z + near_clip``.
    """
    for config, pair in synth_pairs:
        built = render.build_scene(pair.plan, spp=config.spp, max_bounces=config.max_bounces)
        aov = render.render_depth_aov(built, 0, spp=64, seed=3).astype(np.float64)
        from parallax.synth.rig import pixel_rays

        _, _, dirs = pixel_rays(pair.plan.rig, "left")
        z_mitsuba = np.where(aov > 0, aov * dirs[..., 2] + render.NEAR_CLIP_M, np.nan)
        z = pair.left_truth.depth_m.astype(np.float64)
        interior = ~depth_edges(pair.left_truth.depth_m) & ~_grow(pair.left_truth.mixed_mask)
        pad = np.pad(z, 1, mode="edge")
        step = np.zeros_like(z)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                step = np.fmax(step, np.abs(pad[1 + dy : 1 + dy + z.shape[0], 1 + dx : 1 + dx + z.shape[1]] - z))
        tol = 0.5 * step + 1e-5 * z
        diff = np.abs(z_mitsuba - z)
        inside = interior & np.isfinite(z)
        assert inside.mean() > 0.5
        within = diff[inside] <= tol[inside]
        assert within.mean() >= 0.995, f"{pair.sample_id}: only {within.mean():.4f} of pixels within sampling error"
        assert np.nanmedian(diff[inside] / z[inside]) < 2e-4
        sky = ~np.isfinite(z) & interior
        assert np.all(aov[sky] == 0)


def test_synth_rectification_error_is_stated_exactly(make_config):
    """With a rectification error, the stated residual homography rectifies the delivered right view."""
    import cv2

    config = make_config(scene_kinds=("outdoor",), rect_error_deg=1.0, spp=16, mirror_probability=0.0)
    pair = render_pair(config, seed=21, index=0)
    rig = pair.plan.rig
    assert 0.0 < rig.rect_error_deg <= 1.0
    lt = pair.left_truth
    mask = pair.nonocc_left & ~lt.reflection_mask & ~depth_edges(lt.depth_m, radius=2)
    mask[:, :8] = mask[:, -8:] = False
    mask[:8] = mask[-8:] = False
    rectified = cv2.warpPerspective(pair.right, rig.H_right_residual, (rig.width, rig.height), flags=cv2.INTER_LINEAR)
    good = _mean_abs(pair.left, warp_with_disparity(rectified, lt.disparity_px), mask)
    raw = _mean_abs(pair.left, warp_with_disparity(pair.right, lt.disparity_px), mask)
    inverse = cv2.warpPerspective(pair.right, np.linalg.inv(rig.H_right_residual), (rig.width, rig.height))
    wrong = _mean_abs(pair.left, warp_with_disparity(inverse, lt.disparity_px), mask)
    assert good < raw and good < wrong, (good, raw, wrong)


def test_synth_phone_effects_are_seeded(make_config):
    config = make_config(
        size_range=((64, 48), (64, 48)),
        spp=4,
        phone_effects=True,
        scene_kinds=("outdoor",),
        object_count_range=(1, 2),
        thin_count_range=(0, 1),
    )
    a = render_pair(config, seed=2, index=0)
    b = render_pair(config, seed=2, index=0)
    assert np.array_equal(a.left, b.left) and np.array_equal(a.right, b.right)
    assert a.effects == b.effects and a.effects.shot_gain > 0
    clean = render_pair(
        make_config(
            size_range=((64, 48), (64, 48)),
            spp=4,
            phone_effects=False,
            scene_kinds=("outdoor",),
            object_count_range=(1, 2),
            thin_count_range=(0, 1),
        ),
        seed=2,
        index=0,
    )
    assert not np.array_equal(clean.left, a.left)  # the effects changed the pixels
    assert np.array_equal(clean.left_truth.depth_m, a.left_truth.depth_m, equal_nan=True)  # but not the ground truth


def test_synth_scalar_fallback_gives_the_same_ground_truth(tmp_path, make_config):
    """Without a usable libLLVM the plain CPU variant is used; its ground truth matches the vectorised one."""
    import json
    import subprocess
    import sys

    if render.mitsuba_variant() == "scalar_rgb":
        pytest.skip("this machine already renders with scalar_rgb; nothing to compare against")
    config = make_config(size_range=((64, 48), (64, 48)), spp=2, scene_kinds=("room",))
    here = render_pair(config, seed=8, index=0)
    script = (
        "import json, sys, numpy as np\n"
        "import parallax.synth.render as r\n"
        "r._pick_variant = lambda mi: 'scalar_rgb'\n"
        "from parallax.synth.config import SynthConfig\n"
        "from parallax.synth.generate import render_pair\n"
        "p = render_pair(SynthConfig(**json.loads(sys.argv[2])), seed=8, index=0)\n"
        "assert r.mitsuba_variant() == 'scalar_rgb'\n"
        "np.savez(sys.argv[1], depth=p.left_truth.depth_m, kind=p.left_truth.material_kind, occ=p.occlusion_left)\n"
    )
    out = tmp_path / "scalar.npz"
    subprocess.run([sys.executable, "-c", script, str(out), json.dumps(config.to_dict())], check=True, timeout=300)
    other = np.load(out)
    same = np.isclose(other["depth"], here.left_truth.depth_m, rtol=1e-4, equal_nan=True)
    assert same.mean() > 0.995  # float32 intersection code differs: a silhouette pixel may flip
    assert (other["kind"] == here.left_truth.material_kind).mean() > 0.995
    assert (other["occ"] == here.occlusion_left).mean() > 0.99
