"""Synthetic stereo *sequences*: a scene, a camera path, moving objects, and exact per-frame ground truth.

One sequence depends only on ``(config, sequence config, seed, index)``: its
random streams come from ``numpy.random.SeedSequence([seed, index, SEQUENCE_KEY])``
(distinct from the still pairs' streams), so the same seed gives byte-identical
ground truth, one sequence at a time or as Ray tasks.

Per frame ``k`` (at ``k / fps`` seconds) the scene is rebuilt in Mitsuba with the
camera at its path pose and the moving objects at their poses, both views are
path-traced, and one ray per pixel centre gives the exact first hits. From them:

* depth, disparity, normals, reflection and mixed-pixel masks (as for still pairs,
  :func:`~parallax.synth.groundtruth.view_truth`), and the stereo ``occlusion``;
* forward optical flow of the left view to frame ``k + 1``: each pixel's surface
  point ``X`` is moved with its object (``M_{k+1} M_k^-1 X``; static surfaces stay
  put) and projected into the next left camera: ``x_{k+1} = x_k + flow``
  (:func:`~parallax.synth.groundtruth.project_flow`); a ray from the next camera
  towards the moved point says whether it is still visible (``flow_occlusion``);
* ``disparity_change``: the disparity of the same surface point in frame ``k + 1``
  minus its disparity in frame ``k`` (pixels), the scene-flow datasets' quantity.

The last frame has no next frame: its flow and disparity change are NaN.
Rendering is instantaneous (no motion blur, no rolling shutter); exposure is locked
at frame 0's auto-exposure.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from parallax.errors import ParameterError
from parallax.synth.config import SequenceConfig, SynthConfig
from parallax.synth.effects import NO_EFFECTS, PhoneEffects, auto_exposure, develop, sample_effects
from parallax.synth.generate import SUBPIXEL_OFFSETS, _check_seed
from parallax.synth.groundtruth import ViewTruth, mixed_pixels, occlusion_mask, project_flow, view_truth
from parallax.synth.motion import CameraPath, ObjectMotion, draw_object_motion, plan_camera_path
from parallax.synth.rig import StereoRig
from parallax.synth.scene import ScenePlan, plan_scene
from parallax.synth.textures import list_texture_images

__all__ = [
    "SequenceFrame",
    "SynthSequence",
    "SEQUENCE_KEY",
    "sequence_seeds",
    "sequence_id_for",
    "plan_at",
    "plan_sequence",
    "iter_sequence_frames",
    "render_sequence",
]

SEQUENCE_KEY = 0x53455131
"""Third entropy word of a sequence's SeedSequence (keeps its streams apart from still pair ``index``'s)."""
#: Free space the camera keeps around it (metres), unless frame 0 already starts closer.
CLEARANCE_M = 0.25
#: A ray towards a moved surface point that stops this much short of it (relative, plus 1 mm) hit an occluder.
VISIBILITY_TOL = 1e-3


@dataclass(frozen=True, kw_only=True)
class SequenceFrame:
    """One rendered frame of a sequence with its exact ground truth.

    Attributes
    ----------
    index : int
        Frame number (0-based).
    timestamp_s : float
        ``index / fps``.
    pose : numpy.ndarray
        4x4 camera-to-world pose of the left camera (OpenCV axes, metres, world y up).
    left, right : numpy.ndarray
        ``HxWx3`` uint8 sRGB views (``right`` as delivered: it carries the rig's
        rectification error, if any).
    truth : ViewTruth
        Ground truth of the left view (depth, disparity, normals, masks).
    occlusion : numpy.ndarray
        ``HxW`` bool: left pixels whose surface point the right view does not see.
    flow : numpy.ndarray
        ``HxWx2`` float32 forward optical flow ``(dx, dy)`` in pixels: the surface point
        seen at left pixel ``x`` in this frame is at ``x + flow`` in the next left
        frame. NaN: no surface (sky), the point is behind the next camera, or this
        is the last frame.
    flow_occlusion : numpy.ndarray
        ``HxW`` bool: the flow has a value, but in the next frame the point is hidden
        behind another surface or outside the view.
    disparity_change : numpy.ndarray
        ``HxW`` float32: the point's disparity in the next frame minus its disparity
        here, pixels; NaN where the flow is NaN.
    moving_mask : numpy.ndarray
        ``HxW`` bool: pixels on a moving object.
    render_seeds : tuple of int
        Mitsuba sampler seeds of the left and right render.
    exposure_scale : float
        Linear radiance scale used to develop the views (locked at frame 0's auto-exposure).
    """

    index: int
    timestamp_s: float
    pose: np.ndarray
    left: np.ndarray
    right: np.ndarray
    truth: ViewTruth
    occlusion: np.ndarray
    flow: np.ndarray
    flow_occlusion: np.ndarray
    disparity_change: np.ndarray
    moving_mask: np.ndarray
    render_seeds: tuple[int, int]
    exposure_scale: float


@dataclass(frozen=True, kw_only=True)
class SynthSequence:
    """A planned sequence (and, once rendered, its frames).

    Attributes
    ----------
    sample_id : str
        ``synth-clip-<seed>-<index:06d>``.
    seed, index : int
        Dataset seed and sequence index.
    plan : ScenePlan
        The scene at frame 0 (still objects, planned camera).
    path : CameraPath
        The camera path: its kind, drawn parameters and per-frame poses.
    moving : tuple of ObjectMotion
        The objects that move.
    times_s : numpy.ndarray
        ``(F,)`` frame times in seconds.
    effects : PhoneEffects
        The camera effects (one camera for the whole sequence).
    render_seeds : tuple of (int, int)
        Per frame, the Mitsuba seeds of the left and right render.
    frames : tuple of SequenceFrame
        The rendered frames (empty before rendering).
    exposure_scale : float
        Linear radiance scale, locked at frame 0's auto-exposure (NaN before rendering).
    renderer : str
        Renderer name and version ("" before rendering).
    """

    sample_id: str
    seed: int
    index: int
    plan: ScenePlan
    path: CameraPath
    moving: tuple[ObjectMotion, ...]
    times_s: np.ndarray
    effects: PhoneEffects
    render_seeds: tuple[tuple[int, int], ...]
    frames: tuple[SequenceFrame, ...] = ()
    exposure_scale: float = math.nan
    renderer: str = ""


def sequence_seeds(seed: int, index: int, frames: int) -> dict[str, Any]:
    """The independent random streams of sequence ``index`` of dataset ``seed``.

    Returns ``{"plan", "path", "motion", "effects", "noise": Generator, "render": ((l, r), ...)}``
    with one pair of Mitsuba seeds per frame.
    """
    seed, index = _check_seed(seed, index)
    ss = np.random.SeedSequence([seed, index, SEQUENCE_KEY])
    plan_ss, path_ss, motion_ss, effects_ss, noise_ss = ss.spawn(5)
    words = ss.generate_state(2 * frames, dtype=np.uint32) & 0x7FFFFFFF
    return {
        "plan": np.random.default_rng(plan_ss),
        "path": np.random.default_rng(path_ss),
        "motion": np.random.default_rng(motion_ss),
        "effects": np.random.default_rng(effects_ss),
        "noise": np.random.default_rng(noise_ss),
        "render": tuple((int(words[2 * k]), int(words[2 * k + 1])) for k in range(frames)),
    }


def sequence_id_for(seed: int, index: int) -> str:
    """The sample id (and folder name) of sequence ``index`` of dataset ``seed``: ``synth-clip-<seed>-<index:06d>``."""
    seed, index = _check_seed(seed, index)
    return f"synth-clip-{seed}-{index:06d}"


def plan_at(plan: ScenePlan, pose: np.ndarray, moving: tuple[ObjectMotion, ...], t: float) -> ScenePlan:
    """The scene at time ``t``: the rig at ``pose`` (left camera) and every moving object at its place."""
    rig = dataclasses.replace(plan.rig, left_to_world=pose)
    by_name = {m.shape: m for m in moving}
    shapes = tuple(s.moved(by_name[s.name].transform(t)) if s.name in by_name else s for s in plan.shapes)
    return dataclasses.replace(plan, rig=rig, shapes=shapes)


def _sphere_dirs() -> np.ndarray:
    grid = np.array(np.meshgrid([-1, 0, 1], [-1, 0, 1], [-1, 0, 1])).reshape(3, -1).T.astype(np.float64)
    d = grid[np.any(grid != 0, axis=1)]  # the 26 directions to a 3x3x3 cube's other cells
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def _free_space_check(built: Any, start: np.ndarray) -> Callable[[np.ndarray], bool]:
    """``is_clear(positions)``: the camera never passes through a surface and keeps its clearance."""
    from parallax.synth.render import first_hit_distance

    dirs = _sphere_dirs()
    near0 = first_hit_distance(built, start, dirs)
    clearance = min(CLEARANCE_M, 0.9 * float(np.nanmin(near0, initial=np.inf)))

    def is_clear(positions: np.ndarray) -> bool:
        steps = positions[1:] - positions[:-1]
        lengths = np.linalg.norm(steps, axis=1)
        moving = lengths > 1e-9
        n = len(positions)
        origins = np.concatenate([positions[:-1][moving], np.repeat(positions, len(dirs), axis=0)])
        rays = np.concatenate([steps[moving] / lengths[moving, None], np.tile(dirs, (n, 1))])
        hits = first_hit_distance(built, origins, rays)
        along, near = hits[: int(moving.sum())], hits[int(moving.sum()) :]
        # the segment to the next position is free, with room to spare, and every position keeps its clearance
        with np.errstate(invalid="ignore"):
            blocked = np.any(np.isfinite(along) & (along < lengths[moving] + clearance))
            crowded = np.any(np.isfinite(near) & (near < clearance))
        return not (blocked or crowded)

    return is_clear


def _orbit_target(built: Any, rig: StereoRig) -> np.ndarray:
    """The point the orbit circles: on the optical axis at the median depth of the central third of the view."""
    from parallax.synth.render import first_hit_distance

    pose = rig.left_to_world
    u = np.linspace(-1 / 6, 1 / 6, 9) * rig.width / rig.focal_px
    v = np.linspace(-1 / 6, 1 / 6, 9) * rig.height / rig.focal_px
    uu, vv = np.meshgrid(u, v)
    d = np.stack([uu.ravel(), vv.ravel(), np.ones(uu.size)], axis=1)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    t = first_hit_distance(built, pose[:3, 3], d @ pose[:3, :3].T)
    z = t * d[:, 2]
    depth = float(np.clip(np.nanmedian(z), 1.0, 12.0)) if np.isfinite(z).any() else 5.0
    return pose[:3, 3] + depth * pose[:3, 2]


def _moving_objects(
    rng: np.random.Generator,
    plan: ScenePlan,
    seq: SequenceConfig,
    path: CameraPath,
    times_s: np.ndarray,
    visible_px: np.ndarray,
) -> tuple[ObjectMotion, ...]:
    """Pick the objects that move: scattered objects seen in frame 0 (``visible_px`` per shape), each with a motion."""
    if not (seq.moving_probability > 0 and rng.random() < seq.moving_probability):
        return ()
    rig = plan.rig
    K = rig.K
    least = max(8, int(0.002 * rig.width * rig.height))
    candidates = []
    for i, s in enumerate(plan.shapes):
        if s.role.startswith("object") and visible_px[i] >= least:
            centre, radius = s.bounds()
            candidates.append((s.name, centre, radius))
    lo, hi = seq.moving_count_range
    count = int(rng.integers(lo, hi + 1))
    bounds = None
    if plan.kind == "room" and "room_size_m" in plan.info:
        W, D, H = plan.info["room_size_m"]
        bounds = (np.array([-W / 2, -np.inf, 0.0]), np.array([W / 2, np.inf, D]))
    poses = path.poses

    def in_view(centres: np.ndarray) -> bool:
        cam = np.einsum("fji,fj->fi", poses[:, :3, :3], centres - poses[:, :3, 3])  # R^T (c - t) per frame
        if np.any(cam[:, 2] <= 0.1):
            return False
        u = K[0, 0] * cam[:, 0] / cam[:, 2] + K[0, 2]
        v = K[1, 1] * cam[:, 1] / cam[:, 2] + K[1, 2]
        return bool(np.all((u >= 0) & (u < rig.width) & (v >= 0) & (v < rig.height)))

    drawn: list[tuple[ObjectMotion, bool]] = []
    for i in rng.permutation(len(candidates)).tolist():  # every candidate gets a motion, in random order
        name, centre, radius = candidates[i]
        m = draw_object_motion(
            rng,
            name,
            centre,
            radius,
            poses,
            times_s,
            bounds=bounds,
            motion_scale=seq.motion_scale,
            in_view=in_view,
        )
        if m is not None:
            track = np.asarray(m.centre) + np.outer(times_s, m.velocity_mps)
            drawn.append((m, in_view(track)))
    # the first `count` of them, those that stay in view first
    out = [m for m, seen in drawn if seen][:count]
    out += [m for m, seen in drawn if not seen][: count - len(out)]
    out.sort(key=lambda m: m.shape)
    return tuple(out)


def plan_sequence(
    config: SynthConfig, seq: SequenceConfig, *, seed: int, index: int, texture_files: list[Path] | None = None
) -> SynthSequence:
    """Draw sequence ``index`` of dataset ``seed``: its scene, camera path and moving objects (nothing rendered).

    Raises
    ------
    MissingDependencyError
        If Mitsuba is not installed (the path is checked against the scene by ray casting).
    """
    from parallax.synth import render

    streams = sequence_seeds(seed, index, seq.frames)
    if texture_files is None:
        texture_files = list_texture_images(config.textures_dir) if config.textures_dir else []
    plan = plan_scene(streams["plan"], config, texture_files)
    times = np.arange(seq.frames, dtype=np.float64) / seq.fps
    built = render.build_scene(plan, spp=1, max_bounces=2)
    path = plan_camera_path(
        streams["path"],
        seq.paths,
        plan.rig.left_to_world,
        times,
        is_clear=_free_space_check(built, plan.rig.left_to_world[:3, 3]),
        target=_orbit_target(built, plan.rig) if "orbit" in seq.paths else None,
        motion_scale=seq.motion_scale,
    )
    if path.kind != "orbit":
        path = dataclasses.replace(path, params={k: v for k, v in path.params.items() if k != "target"})
    seen = render.cast_rays(built, plan.rig, "left").shape
    visible_px = np.bincount(seen[seen >= 0], minlength=len(plan.shapes))
    moving = _moving_objects(streams["motion"], plan, seq, path, times, visible_px)
    effects = sample_effects(streams["effects"]) if config.phone_effects else NO_EFFECTS
    return SynthSequence(
        sample_id=sequence_id_for(seed, index),
        seed=int(seed),
        index=int(index),
        plan=plan,
        path=path,
        moving=moving,
        times_s=times,
        effects=effects,
        render_seeds=streams["render"],
    )


@dataclass
class _Pending:
    """A rendered frame waiting for the next frame's scene to get its flow."""

    index: int
    left: np.ndarray
    right: np.ndarray
    truth: ViewTruth
    occlusion: np.ndarray
    points: np.ndarray  # HxWx3 world points of the left pixel-centre hits (NaN = none)
    shape: np.ndarray  # HxW shape index (-1 = none)
    moving_mask: np.ndarray
    exposure_scale: float


def _finish(
    p: _Pending, seq: SynthSequence, nxt: tuple[Any, StereoRig] | None, shape_motion: dict[int, ObjectMotion]
) -> SequenceFrame:
    from parallax.synth.render import first_hit_distance

    h, w = p.shape.shape
    t_now = float(seq.times_s[p.index])
    flow = np.full((h, w, 2), np.nan, dtype=np.float32)
    flow_occ = np.zeros((h, w), dtype=bool)
    dchange = np.full((h, w), np.nan, dtype=np.float32)
    if nxt is not None:
        built, rig = nxt
        t_next = float(seq.times_s[p.index + 1])
        moved = p.points.copy()
        for j, m in shape_motion.items():
            sel = p.shape == j
            if sel.any():
                step = m.transform(t_next) @ np.linalg.inv(m.transform(t_now))
                moved[sel] = moved[sel] @ step[:3, :3].T + step[:3, 3]
        f, z_next, inside = project_flow(moved, rig.left_to_world, rig.K)
        has = np.isfinite(f[..., 0])
        centre = rig.left_to_world[:3, 3]
        ray = moved[has] - centre
        dist = np.linalg.norm(ray, axis=1)
        hit = first_hit_distance(built, centre, ray / dist[:, None])
        visible = ~np.isfinite(hit) | (hit >= dist * (1 - VISIBILITY_TOL) - 1e-3)
        occ = np.zeros((h, w), dtype=bool)
        occ[has] = ~visible
        flow = f.astype(np.float32)
        flow_occ = has & (occ | ~inside)
        with np.errstate(divide="ignore", invalid="ignore"):
            d_next = rig.focal_px * rig.baseline_m / z_next
        dchange = np.where(has, d_next - p.truth.disparity_px.astype(np.float64), np.nan).astype(np.float32)
    return SequenceFrame(
        index=p.index,
        timestamp_s=t_now,
        pose=seq.path.poses[p.index],
        left=p.left,
        right=p.right,
        truth=p.truth,
        occlusion=p.occlusion,
        flow=flow,
        flow_occlusion=flow_occ,
        disparity_change=dchange,
        moving_mask=p.moving_mask,
        render_seeds=seq.render_seeds[p.index],
        exposure_scale=p.exposure_scale,
    )


def iter_sequence_frames(seq: SynthSequence, config: SynthConfig) -> Iterator[SequenceFrame]:
    """Render ``seq`` frame by frame and yield each :class:`SequenceFrame` once its flow is known.

    Frame ``k`` is yielded after frame ``k + 1``'s scene is built (its flow needs it),
    so at most two frames are in memory.
    """
    from parallax.synth import render

    noise = sequence_seeds(seq.seed, seq.index, len(seq.times_s))["noise"]
    shape_index = {s.name: i for i, s in enumerate(seq.plan.shapes)}
    shape_motion = {shape_index[m.shape]: m for m in seq.moving}
    moving_ids = np.array(sorted(shape_motion), dtype=np.int32)
    scale = math.nan
    pending: _Pending | None = None
    for k, t in enumerate(seq.times_s):
        plan_k = plan_at(seq.plan, seq.path.poses[k], seq.moving, float(t))
        rig = plan_k.rig
        built = render.build_scene(plan_k, spp=config.spp, max_bounces=config.max_bounces)
        if pending is not None:
            yield _finish(pending, seq, (built, rig), shape_motion)
        left_linear = render.render_view(built, 0, spp=config.spp, seed=seq.render_seeds[k][0])
        right_linear = render.render_view(built, 1, spp=config.spp, seed=seq.render_seeds[k][1])
        if k == 0:
            scale = auto_exposure(left_linear)
        left = develop(left_linear, scale=scale, effects=seq.effects, view=0, rng=noise)
        right = develop(right_linear, scale=scale, effects=seq.effects, view=1, rng=noise)
        requests: list[tuple[Any, tuple[float, float]]] = [("left", (0.0, 0.0)), ("right", (0.0, 0.0))]
        hits, rhits, *subs = render.cast_views(built, rig, requests + [("left", o) for o in SUBPIXEL_OFFSETS])
        mixed = mixed_pixels(hits.distance_m * hits.dirs_cam[..., 2], [s.distance_m * s.dirs_cam[..., 2] for s in subs])
        pose = rig.pose("left")
        truth = view_truth(
            hits.distance_m,
            hits.dirs_cam,
            hits.normal_world,
            hits.kind,
            pose,
            focal_px=rig.focal_px,
            baseline_m=rig.baseline_m,
            mixed=mixed,
        )
        right_depth = (rhits.distance_m * rhits.dirs_cam[..., 2]).astype(np.float32)
        dirs_world = hits.dirs_cam @ pose[:3, :3].T
        points = pose[:3, 3] + hits.distance_m[..., None] * dirs_world
        pending = _Pending(
            index=k,
            left=left,
            right=right,
            truth=truth,
            occlusion=occlusion_mask(truth.depth_m, truth.disparity_px, right_depth, sign=-1),
            points=points,
            shape=hits.shape,
            moving_mask=np.isin(hits.shape, moving_ids),
            exposure_scale=float(scale),
        )
    if pending is not None:
        yield _finish(pending, seq, None, shape_motion)


def render_sequence(
    config: SynthConfig,
    seq_config: SequenceConfig,
    *,
    seed: int,
    index: int = 0,
    texture_files: list[Path] | None = None,
) -> SynthSequence:
    """Plan and render sequence ``index`` of dataset ``seed`` with all its frames in memory.

    For long sequences write frame by frame instead (:func:`parallax.synth.clip_export.write_sequence`).

    Raises
    ------
    MissingDependencyError
        If Mitsuba is not installed (``pip install 'parallax[synth]'``).
    """
    from parallax.synth.render import renderer_name

    if not isinstance(seq_config, SequenceConfig):
        raise ParameterError(f"seq_config must be a SequenceConfig, got {type(seq_config).__name__}")
    seq = plan_sequence(config, seq_config, seed=seed, index=index, texture_files=texture_files)
    frames = tuple(iter_sequence_frames(seq, config))
    return dataclasses.replace(seq, frames=frames, exposure_scale=frames[0].exposure_scale, renderer=renderer_name())
