"""Generate synthetic stereo pairs with exact ground truth, and write them as corpus samples.

One pair depends only on ``(config, seed, index)``: the scene, the rig, the
renderer's sampling seeds and the camera-effect noise are all derived from
``numpy.random.SeedSequence([seed, index])``, so the same seed gives the same
scene and byte-identical ground truth, whether the pairs are made one after
another or as Ray tasks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from parallax.errors import ParameterError
from parallax.synth.config import SynthConfig
from parallax.synth.effects import NO_EFFECTS, PhoneEffects, auto_exposure, develop, sample_effects
from parallax.synth.groundtruth import ViewTruth, mixed_pixels, occlusion_mask, view_truth
from parallax.synth.scene import ScenePlan, plan_scene
from parallax.synth.textures import list_texture_images

__all__ = ["SynthPair", "scene_seeds", "sample_id_for", "render_pair", "render_scene", "SUBPIXEL_OFFSETS"]

SUBPIXEL_OFFSETS = ((-0.35, -0.35), (0.35, -0.35), (-0.35, 0.35), (0.35, 0.35))
"""Where inside each pixel (px from its centre) extra rays look for a second surface (the mixed-pixel mask)."""


@dataclass(frozen=True, kw_only=True)
class SynthPair:
    """One rendered stereo pair with the ground truth of both views.

    Attributes
    ----------
    sample_id : str
        ``synth-<seed>-<index>``.
    seed, index : int
        The dataset seed and the pair's index in the dataset.
    plan : ScenePlan
        The scene and the rig.
    left, right : numpy.ndarray
        ``HxWx3`` uint8 sRGB views. ``right`` is the *delivered* right view (it
        carries the rig's rectification error, if any).
    left_truth, right_truth : ViewTruth
        Ground truth of the left view and of the *rectified* right view.
    occlusion_left, occlusion_right : numpy.ndarray
        ``HxW`` bool: pixels of this view whose surface point the other view does
        not see (occluded or outside its frame).
    effects : PhoneEffects
        The camera effects applied.
    exposure_scale : float
        Linear radiance scale of the auto-exposure.
    render_seeds : tuple of int
        Mitsuba sampler seeds of the left and right render.
    renderer : str
        Renderer name and version.
    """

    sample_id: str
    seed: int
    index: int
    plan: ScenePlan
    left: np.ndarray
    right: np.ndarray
    left_truth: ViewTruth
    right_truth: ViewTruth
    occlusion_left: np.ndarray
    occlusion_right: np.ndarray
    effects: PhoneEffects
    exposure_scale: float
    render_seeds: tuple[int, int]
    renderer: str

    @property
    def nonocc_left(self) -> np.ndarray:
        """``HxW`` bool: left pixels with a surface that the right view also sees."""
        return np.isfinite(self.left_truth.disparity_px) & ~self.occlusion_left


def _check_seed(seed: Any, index: Any) -> tuple[int, int]:
    for name, v in (("seed", seed), ("index", index)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or not 0 <= int(v) < 2**63:
            raise ParameterError(f"{name} must be a non-negative integer below 2**63, got {v!r}")
    return int(seed), int(index)


def scene_seeds(seed: int, index: int) -> dict[str, Any]:
    """The independent random streams of pair ``index`` of dataset ``seed``.

    Returns ``{"plan": Generator, "effects": Generator, "noise": Generator,
    "render": (left_seed, right_seed)}``.
    """
    seed, index = _check_seed(seed, index)
    ss = np.random.SeedSequence([seed, index])
    plan_ss, effects_ss, noise_ss = ss.spawn(3)
    left_seed, right_seed = (int(s) for s in ss.generate_state(2, dtype=np.uint32))
    return {
        "plan": np.random.default_rng(plan_ss),
        "effects": np.random.default_rng(effects_ss),
        "noise": np.random.default_rng(noise_ss),
        "render": (left_seed & 0x7FFFFFFF, right_seed & 0x7FFFFFFF),
    }


def sample_id_for(seed: int, index: int) -> str:
    """The sample id (and folder name) of pair ``index`` of dataset ``seed``: ``synth-<seed>-<index:06d>``."""
    seed, index = _check_seed(seed, index)
    return f"synth-{seed}-{index:06d}"


def render_scene(plan: ScenePlan, config: SynthConfig, *, render_seeds: tuple[int, int]) -> dict[str, Any]:
    """Render ``plan``'s two views (linear radiance) and cast the ground-truth rays of both rectified views.

    Returns ``{"left_linear", "right_linear", "left_truth", "right_truth", "renderer"}``.
    """
    from parallax.synth import render

    built = render.build_scene(plan, spp=config.spp, max_bounces=config.max_bounces)
    rig = plan.rig
    left_linear = render.render_view(built, 0, spp=config.spp, seed=render_seeds[0])
    right_linear = render.render_view(built, 1, spp=config.spp, seed=render_seeds[1])
    truths = {}
    for view in ("left", "right"):
        hits = render.cast_rays(built, rig, view)
        subs = []
        for offset in SUBPIXEL_OFFSETS:
            sub = render.cast_rays(built, rig, view, offset_px=offset)
            subs.append(sub.distance_m * sub.dirs_cam[..., 2])
        mixed = mixed_pixels(hits.distance_m * hits.dirs_cam[..., 2], subs)
        truths[view] = view_truth(
            hits.distance_m,
            hits.dirs_cam,
            hits.normal_world,
            hits.kind,
            rig.pose(view),
            focal_px=rig.focal_px,
            baseline_m=rig.baseline_m,
            mixed=mixed,
        )
    return {
        "left_linear": left_linear,
        "right_linear": right_linear,
        "left_truth": truths["left"],
        "right_truth": truths["right"],
        "renderer": render.renderer_name(),
    }


def render_pair(
    config: SynthConfig, *, seed: int, index: int = 0, texture_files: list[Path] | None = None
) -> SynthPair:
    """Draw, render and label pair ``index`` of dataset ``seed``.

    Parameters
    ----------
    config : SynthConfig
        Generator settings.
    seed, index : int
        Dataset seed and pair index (non-negative); together they fix everything.
    texture_files : list of Path, optional
        The user's texture images; by default listed from ``config.textures_dir``.

    Raises
    ------
    MissingDependencyError
        If Mitsuba is not installed (``pip install 'parallax[synth]'``).
    """
    streams = scene_seeds(seed, index)
    if texture_files is None:
        texture_files = list_texture_images(config.textures_dir) if config.textures_dir else []
    plan = plan_scene(streams["plan"], config, texture_files)
    out = render_scene(plan, config, render_seeds=streams["render"])
    effects = sample_effects(streams["effects"]) if config.phone_effects else NO_EFFECTS
    scale = auto_exposure(out["left_linear"])
    left = develop(out["left_linear"], scale=scale, effects=effects, view=0, rng=streams["noise"])
    right = develop(out["right_linear"], scale=scale, effects=effects, view=1, rng=streams["noise"])
    lt, rt = out["left_truth"], out["right_truth"]
    return SynthPair(
        sample_id=sample_id_for(seed, index),
        seed=int(seed),
        index=int(index),
        plan=plan,
        left=left,
        right=right,
        left_truth=lt,
        right_truth=rt,
        occlusion_left=occlusion_mask(lt.depth_m, lt.disparity_px, rt.depth_m, sign=-1),
        occlusion_right=occlusion_mask(rt.depth_m, rt.disparity_px, lt.depth_m, sign=+1),
        effects=effects,
        exposure_scale=float(scale),
        render_seeds=streams["render"],
        renderer=out["renderer"],
    )


def default_workers() -> int:
    """Number of CPUs this process may use (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)
