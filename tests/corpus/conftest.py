"""Corpus test fixtures: the real captures ingested once per test session, at a bounded size."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from parallax.corpus.consent import Consent
from parallax.corpus.ingest import IngestSettings, discover
from parallax.corpus.sample import Sample
from parallax.corpus.store import Corpus

#: Stored size for the test corpus (the default is 1280; 640 keeps the suite fast).
TEST_MAX_SIDE = 640
ALICE = Consent(contributor="alice", license="CC-BY-4.0", allow_training=True, date="2026-03-01")
BOB = Consent(contributor="bob", license="CC-BY-SA-4.0", allow_training=True, date="2026-03-02")


@pytest.fixture(scope="session")
def ingested(tmp_path_factory: pytest.TempPathFactory, captures_dir: Path) -> dict:
    """All of ``captures/``: mpo, heic, lif and vr under alice, sbs (side-by-side and the two-file pair) under bob."""
    root = tmp_path_factory.mktemp("corpus") / "corpus"
    corpus = Corpus.init(root)
    settings = IngestSettings(max_side_px=TEST_MAX_SIDE)
    outcomes = []
    for consent, folders in ((ALICE, ["mpo", "heic", "lif", "vr"]), (BOB, ["sbs"])):
        items, _ = discover([captures_dir / f for f in folders])
        outcomes += corpus.add(items, consent, settings)
    snapshot = corpus.catalog.snapshot()
    corpus.close()
    return {"root": root, "outcomes": outcomes, "snapshot": snapshot, "settings": settings}


@pytest.fixture()
def corpus_copy(ingested: dict, tmp_path: Path) -> Corpus:
    """A private copy of the session corpus, for tests that change it."""
    root = tmp_path / "corpus"
    shutil.copytree(ingested["root"], root)
    corpus = Corpus.open(root)
    yield corpus
    corpus.close()


def make_sample(consent: Consent, index: int, *, kind: str = "synthetic", size: tuple[int, int] = (48, 64)) -> Sample:
    """A small seeded synthetic sample (random texture shifted by a known disparity)."""
    rng = np.random.default_rng(1000 + index)
    h, w = size
    right = rng.integers(0, 256, (h, w + 8, 3), dtype=np.uint8)
    disparity = np.full((h, w), 4.0, dtype=np.float32)
    left = np.ascontiguousarray(right[:, :w])  # left(x) = right(x - 4) shifted view
    right = np.ascontiguousarray(right[:, 4 : w + 4])
    return Sample(
        sample_id=f"syn-{consent.contributor}-{index:03d}",
        left=left,
        right=right,
        disparity_px=disparity,
        depth=(100.0 / disparity).astype(np.float32),
        K=[[60.0, 0, w / 2], [0, 60.0, h / 2], [0, 0, 1]],
        baseline_m=0.1,
        depth_is_metric=True,
        source_kind=kind,
        source_format="synthetic",
        device="test-renderer",
        original_name=f"scene-{index}",
        license=consent.license,
        consent_id=consent.consent_id,
        contributor=consent.contributor,
        lineage={"generator": {"kind": "shifted-noise"}, "seed": 1000 + index},
        extras={"occlusion": np.zeros((h, w), dtype=bool)},
    )


def read_meta(root: Path, sample_id: str) -> dict:
    """``meta.json`` of a stored sample."""
    return json.loads((root / "samples" / sample_id / "meta.json").read_text())


@pytest.fixture(scope="session")
def video_dir(data_dir: Path) -> Path:
    """``../shared/data/video`` (stereo videos and a frame folder)."""
    return data_dir / "video"
