"""Fixtures for the clip-output tests: a small synthetic stereo clip (frame folder) rendered once."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def small_clip_info(tmp_path_factory):
    """A 160x120, 5-frame synthetic clip: camera moving forward and turning, a moving panel."""
    from parallax.bench.synthetic_clip import render_clip

    return render_clip(tmp_path_factory.mktemp("small-clip"), kind="pan", frames=5, width=160, height=120)


@pytest.fixture
def small_run(small_clip_info):
    """A fresh ClipDepth over the small clip, metric (focal and baseline given)."""
    from parallax.capture.clip_registry import read_clip
    from parallax.stereo.clip_depth import clip_depth

    clip = read_clip(small_clip_info.folder, fps=small_clip_info.fps)
    return clip_depth(clip, focal_px=small_clip_info.camera.focal_px, baseline_m=small_clip_info.baseline_m)
