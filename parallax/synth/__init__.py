"""Synthetic stereo scenes with exact ground truth, rendered with Mitsuba 3.

Pipeline: :func:`~parallax.synth.scene.plan_scene` (procedural layout, materials,
lights, rig) -> :mod:`~parallax.synth.render` (Mitsuba path tracing, exact
pixel-centre ray casts) -> :mod:`~parallax.synth.groundtruth` (depth, disparity,
occlusion, normals, reflection mask) -> :mod:`~parallax.synth.effects` (phone-like
exposure, blur, noise) -> :mod:`~parallax.synth.export` (corpus sample folder).
Sequences (``parallax synth --frames N``): :mod:`~parallax.synth.motion` (camera
paths, moving objects) -> :mod:`~parallax.synth.sequence` (per-frame rendering,
exact flow, disparity change, poses) -> :mod:`~parallax.synth.clip_export`
(corpus clip sample folder).
:func:`generate_dataset` runs N pairs locally or as Ray tasks;
:mod:`~parallax.synth.reader` reads synth folders back as benchmark scenes.
Mitsuba is imported lazily (``pip install 'parallax[synth]'``).
"""

from parallax.synth.config import SequenceConfig, SynthConfig
from parallax.synth.dataset import generate_dataset
from parallax.synth.generate import SynthPair, render_pair
from parallax.synth.reader import (
    SynthScene,
    is_synth_dataset_dir,
    is_synth_sample_dir,
    list_synth_scenes,
    load_synth_scene,
    synth_sample_dirs,
)
from parallax.synth.sequence import SynthSequence, render_sequence

__all__ = [
    "SynthConfig",
    "SequenceConfig",
    "SynthSequence",
    "render_sequence",
    "SynthPair",
    "SynthScene",
    "generate_dataset",
    "render_pair",
    "is_synth_dataset_dir",
    "is_synth_sample_dir",
    "list_synth_scenes",
    "load_synth_scene",
    "synth_sample_dirs",
]
