"""A synthetic sequence as a corpus clip sample (:class:`~parallax.corpus.clip_sample.ClipSample` folder).

Layout: the clip sample folder (``docs/corpus.md``) with source kind ``synthetic``,
licence CC0-1.0, metric depth and poses in the scene's world frame (right-handed,
metres, y up; camera axes OpenCV), and these extra per-frame ground-truth streams:

=====================  ================================================================
``occlusion``          bool PNG: left pixels whose surface point the right view does not
                       see (hidden or outside it)
``flow``               float32 NPY HxWx2: forward optical flow of the left view to the next
                       frame, ``(dx, dy)`` px: ``x_{t+1} = x_t + flow``. Defined wherever the
                       pixel's surface point is in front of the next camera, also where it
                       is hidden there or outside the view (see ``flow_occlusion``);
                       NaN: no surface (sky), behind the next camera, or the last frame
``flow_occlusion``     bool PNG: the flow has a value but in the next frame the point is
                       hidden behind another surface or outside the view
``disparity_change``   float32 NPY: the point's disparity in the next frame minus its
                       disparity here (px); NaN where the flow is NaN
``disparity_exact``    float32 NPY: left disparity before PNG quantisation (px), NaN = sky
``depth_exact``        float32 NPY: left z-depth before PNG quantisation (m), NaN = sky
``reflection_mask``    bool PNG: first hit is mirror, metal or glass (the flow and depth are
                       of that surface, not of what it reflects)
``mixed_pixels``       bool PNG: the pixel's footprint holds more than one surface
``moving_mask``        bool PNG: pixels on an object that moves
=====================  ================================================================

``meta.json`` ``lineage`` holds the generator and sequence settings, seed and index,
per-frame render seeds, the scene, the rig, the camera path (kind, drawn parameters,
speed scale), each moving object's motion model and per-frame transforms, the camera
effects and the locked exposure.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from parallax.synth.config import SequenceConfig, SynthConfig
from parallax.synth.export import CONSENT_ID, CONTRIBUTOR, LICENSE
from parallax.synth.sequence import SequenceFrame, SynthSequence, iter_sequence_frames, plan_sequence

__all__ = ["EXTRAS_INFO", "clip_info_for", "clip_frame_for", "sequence_to_clip", "write_sequence"]

EXTRAS_INFO: dict[str, dict[str, str]] = {
    "occlusion": {
        "content": "left pixels whose surface point the right view does not see (hidden or outside it)",
        "values": "true = occluded",
    },
    "flow": {
        "content": "forward optical flow of the left view to the next frame: x_next = x + flow[..., 0], "
        "y_next = y + flow[..., 1]; defined also where the point is hidden in the next frame (flow_occlusion)",
        "units": "px",
        "nodata": "NaN: no surface (sky), point behind the next camera, or the last frame",
    },
    "flow_occlusion": {
        "content": "the flow has a value, but in the next frame the point is hidden behind another surface "
        "or outside the view",
        "values": "true = not visible in the next frame",
    },
    "disparity_change": {
        "content": "disparity of the same surface point in the next frame minus its disparity in this frame",
        "units": "px",
        "nodata": "NaN where the flow is NaN",
    },
    "disparity_exact": {
        "content": "disparity of the left view before 16-bit PNG quantisation, x_right = x_left - d",
        "units": "px",
        "nodata": "NaN = no surface (sky)",
    },
    "depth_exact": {
        "content": "z-depth of the left view before 16-bit PNG quantisation",
        "units": "m",
        "nodata": "NaN = no surface (sky)",
    },
    "reflection_mask": {
        "content": "the first hit is a mirror, metal or glass surface (its colour comes from reflection or "
        "refraction; depth and flow are of that surface)",
        "values": "true = reflective",
    },
    "mixed_pixels": {
        "content": "the pixel's footprint holds more than one surface (anti-aliased colour)",
        "values": "true = mixed",
    },
    "moving_mask": {"content": "pixels on an object that moves in the world", "values": "true = moving"},
}


def _lineage(seq: SynthSequence, config: SynthConfig, seq_config: SequenceConfig, renderer: str) -> dict[str, Any]:
    from parallax import __version__
    from parallax.synth.materials import MATERIAL_KINDS

    return {
        "parallax_version": __version__,
        "generator": {
            "name": "parallax.synth",
            "kind": "sequence",
            "renderer": renderer,
            "settings": config.to_dict(),
            "sequence": seq_config.to_dict(),
            "scene": seq.plan.describe(),
            "material_kinds": list(MATERIAL_KINDS),
        },
        "seed": seq.seed,
        "index": seq.index,
        "render_seeds": [list(s) for s in seq.render_seeds],
        "rig": seq.plan.rig.to_dict(),
        "camera_path": {"kind": seq.path.kind, "speed_scale": seq.path.speed_scale, "params": dict(seq.path.params)},
        "moving_objects": [
            {**m.describe(), "transforms": [np.round(m.transform(float(t)), 9).tolist() for t in seq.times_s]}
            for m in seq.moving
        ],
        "effects": seq.effects.to_dict(),
        "exposure": "locked at frame 0's auto-exposure",
        "exposure_scale": seq.exposure_scale,
        "ground_truth": {
            "depth": "z along the optical axis of the first surface hit through each pixel centre, metres",
            "disparity": "f * B / Z, pixels of the rectified left view, x_right = x_left - d, doffs 0",
            "flow": "exact: each pixel's surface point moved with its object and projected into the next left "
            "camera; visibility by a ray from the next camera towards it",
            "poses": "frames[i].pose: left camera-to-world, OpenCV axes, world = the scene's (metres, y up)",
            "right_view": "the stored right image is the delivered one (rectification error in lineage.rig)",
            "rendering": "instantaneous shutter: no motion blur, no rolling shutter",
            "sky": "no surface: NaN (no value)",
        },
    }


def clip_info_for(
    seq: SynthSequence,
    config: SynthConfig,
    seq_config: SequenceConfig,
    *,
    renderer: str,
    quality: dict[str, Any] | None = None,
) -> Any:
    """The :class:`~parallax.corpus.clip_sample.ClipInfo` of a synthetic sequence."""
    from parallax.corpus.clip_sample import ClipInfo

    rig = seq.plan.rig
    return ClipInfo(
        sample_id=seq.sample_id,
        fps=seq_config.fps,
        baseline_m=float(rig.baseline_m),
        doffs_px=0.0,
        depth_is_metric=True,
        poses_are_metric=True,
        world_frame="the synthetic scene's frame: right-handed, metres, y up",
        rectification=None,
        source_kind="synthetic",
        source_format="synthetic",
        layout=None,
        device=renderer,
        original_name=f"parallax synth --frames {seq_config.frames} --seed {seq.seed} (sequence {seq.index})",
        license=LICENSE,
        consent_id=CONSENT_ID,
        contributor=CONTRIBUTOR,
        quality=quality or {"accepted": True, "reasons": []},
        lineage=_lineage(seq, config, seq_config, renderer),
        processing={"original_width": rig.width, "original_height": rig.height, "scale": 1.0},
        privacy={"note": "synthetic scene: no people, no location, no camera serial"},
        extras_info=EXTRAS_INFO,
    )


def clip_frame_for(frame: SequenceFrame, seq: SynthSequence) -> Any:
    """The :class:`~parallax.corpus.clip_sample.ClipFrame` of one rendered frame (exact disparity and depth)."""
    from parallax.corpus.clip_sample import ClipFrame

    tr = frame.truth
    return ClipFrame(
        timestamp_s=frame.timestamp_s,
        left=frame.left,
        right=frame.right,
        disparity_px=tr.disparity_px,
        depth=tr.depth_m,
        valid=np.isfinite(tr.disparity_px),
        K=seq.plan.rig.K,
        pose=frame.pose,
        source_index=frame.index,
        extras={
            "occlusion": frame.occlusion,
            "flow": frame.flow,
            "flow_occlusion": frame.flow_occlusion,
            "disparity_change": frame.disparity_change,
            "disparity_exact": tr.disparity_px,
            "depth_exact": tr.depth_m,
            "reflection_mask": tr.reflection_mask,
            "mixed_pixels": tr.mixed_mask,
            "moving_mask": frame.moving_mask,
        },
    )


class _Stats:
    """Per-clip quality scores accumulated frame by frame."""

    def __init__(self) -> None:
        self.valid: list[float] = []
        self.flow: list[float] = []
        self.flow_occ: list[float] = []
        self.moving: list[float] = []

    def add(self, f: SequenceFrame) -> None:
        valid = np.isfinite(f.truth.disparity_px)
        self.valid.append(float(valid.mean()))
        has = np.isfinite(f.flow[..., 0])
        if has.any():
            self.flow.append(float(np.median(np.hypot(f.flow[has, 0], f.flow[has, 1]))))
            self.flow_occ.append(float(f.flow_occlusion[has].mean()))
        self.moving.append(float(f.moving_mask.mean()))

    def quality(self) -> dict[str, Any]:
        mean = lambda v: float(np.mean(v)) if v else None  # noqa: E731
        return {
            "accepted": True,
            "reasons": [],
            "scores": {
                "valid_fraction": mean(self.valid),
                "median_flow_px": mean(self.flow),
                "flow_occluded_fraction": mean(self.flow_occ),
                "moving_fraction": mean(self.moving),
            },
        }


def sequence_to_clip(seq: SynthSequence, config: SynthConfig, seq_config: SequenceConfig) -> Any:
    """A rendered :class:`SynthSequence` (frames in memory) as a :class:`~parallax.corpus.clip_sample.ClipSample`."""
    from parallax.corpus.clip_sample import ClipSample

    stats = _Stats()
    for f in seq.frames:
        stats.add(f)
    info = clip_info_for(seq, config, seq_config, renderer=seq.renderer, quality=stats.quality())
    return ClipSample(info=info, frames=tuple(clip_frame_for(f, seq) for f in seq.frames))


def write_sequence(
    config: SynthConfig,
    seq_config: SequenceConfig,
    *,
    seed: int,
    index: int,
    out_dir: str | os.PathLike[str],
    texture_files: list[Path] | None = None,
) -> Path:
    """Render sequence ``index`` of dataset ``seed`` frame by frame into ``out_dir/<sample_id>``; return the folder.

    Memory stays flat with the number of frames (each frame is written as soon as its
    flow is known); the folder appears whole or not at all.
    """
    import dataclasses

    from parallax.corpus.clip_folder import ClipSampleWriter
    from parallax.synth.render import renderer_name

    seq = plan_sequence(config, seq_config, seed=seed, index=index, texture_files=texture_files)
    renderer = renderer_name()
    folder = Path(out_dir) / seq.sample_id
    stats = _Stats()
    with ClipSampleWriter(folder, clip_info_for(seq, config, seq_config, renderer=renderer)) as writer:
        for frame in iter_sequence_frames(seq, config):
            stats.add(frame)
            writer.add_frame(clip_frame_for(frame, seq))
            if frame.index == 0:
                seq = dataclasses.replace(seq, exposure_scale=frame.exposure_scale, renderer=renderer)
        writer.update_info(
            quality=stats.quality(), lineage=_lineage(seq, config, seq_config, renderer), device=renderer
        )
    return folder
