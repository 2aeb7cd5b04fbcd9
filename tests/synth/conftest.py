"""Fixtures of the synth tests: a few small rendered pairs, made once per session.

Rendering is the expensive part (Mitsuba path tracing on 2 shared cores), so the
pairs are small (160x120) with few samples per pixel; each assertion states how
its bound accounts for the Monte Carlo noise that leaves.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from parallax.synth.config import SynthConfig
from parallax.synth.generate import SynthPair, render_pair

SIZE = (160, 120)
SPP = 32


def small_config(**kw) -> SynthConfig:
    """A small, fast configuration: 160x120, low spp, mirrors and glass always allowed."""
    base = dict(
        size_range=(SIZE, SIZE),
        spp=SPP,
        phone_effects=False,
        mirror_probability=1.0,
        glass_probability=1.0,
        object_count_range=(4, 8),
        thin_count_range=(2, 4),
    )
    base.update(kw)
    return SynthConfig(**base)


@pytest.fixture(scope="session")
def make_config():
    """:func:`small_config`, as a fixture (test modules do not import conftest)."""
    return small_config


@pytest.fixture(scope="session")
def room_config() -> SynthConfig:
    return small_config(scene_kinds=("room",))


@pytest.fixture(scope="session")
def outdoor_config() -> SynthConfig:
    return small_config(scene_kinds=("outdoor",))


@pytest.fixture(scope="session")
def synth_pairs(room_config: SynthConfig, outdoor_config: SynthConfig) -> list[tuple[SynthConfig, SynthPair]]:
    """A room and an open-ground pair (no camera effects), each with a mirror."""
    return [
        (room_config, render_pair(room_config, seed=5, index=0)),
        (outdoor_config, render_pair(outdoor_config, seed=5, index=1)),
    ]


@pytest.fixture(scope="session")
def texture_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of two small user images (made here with numpy) and one non-image file."""
    import numpy as np
    from PIL import Image

    folder = tmp_path_factory.mktemp("textures")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)).save(folder / "noise.png")
    Image.fromarray(np.tile(np.arange(0, 256, 4, dtype=np.uint8), (64, 1))).convert("RGB").save(folder / "ramp.jpg")
    (folder / "notes.txt").write_text("not an image")
    return folder
