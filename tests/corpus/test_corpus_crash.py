"""Crash safety: SIGKILL at random moments then a rerun gives the uninterrupted catalog; two ingests at once are safe."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from parallax.corpus.ingest import IngestSettings, discover
from parallax.corpus.maintenance import verify
from parallax.corpus.store import Corpus

from .conftest import ALICE

ROOT = Path(__file__).resolve().parents[2]
MAX_SIDE = 320
pytestmark = pytest.mark.slow


def _inputs(captures_dir: Path) -> list[Path]:
    return [
        captures_dir / "mpo" / "sugarshack.mpo",
        captures_dir / "mpo" / "frozenpond.mpo",
        captures_dir / "sbs" / "02-super-mario.jps",
        captures_dir / "sbs" / "Panasonic-DMC-GX8.jpg",
        captures_dir / "mpo" / "Panasonic-DMC-GX8.mpo",
    ]


def _cli(corpus: Path, files: list[Path], consent: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    cmd = [
        sys.executable,
        "-m",
        "parallax.cli.main",
        "corpus",
        "add",
        *map(str, files),
        "--consent",
        str(consent),
        "--corpus",
        str(corpus),
        "--max-side",
        str(MAX_SIDE),
        "--json",
    ]
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, captures_dir):
    root = tmp_path_factory.mktemp("ref") / "corpus"
    corpus = Corpus.init(root)
    corpus.add(discover(_inputs(captures_dir))[0], ALICE, IngestSettings(max_side_px=MAX_SIDE))
    snapshot = corpus.catalog.snapshot()
    corpus.close()
    assert len(snapshot["samples"]) == 4 and len(snapshot["inputs"]) == 5
    return snapshot


@pytest.fixture()
def consent_file(tmp_path) -> Path:
    path = tmp_path / "consent.json"
    path.write_text(json.dumps(ALICE.to_dict()))
    return path


def _check_store(root: Path, reference: dict) -> None:
    corpus = Corpus.open(root)
    try:
        assert corpus.catalog.snapshot() == reference
        folders = sorted(p.name for p in (root / "samples").iterdir())
        assert folders == sorted(s["sample_id"] for s in reference["samples"])  # no partial, no orphan, no duplicate
        report = verify(corpus)
        assert report.ok, report.problems
    finally:
        corpus.close()


def test_sigkill_at_random_moments_then_rerun_equals_uninterrupted(tmp_path, captures_dir, consent_file, reference):
    root = tmp_path / "corpus"
    Corpus.init(root).close()
    rng = np.random.default_rng(20260501)
    files = _inputs(captures_dir)
    killed_after = []
    for _ in range(10):  # kill runs at random moments until one finishes on its own (or 10 rounds)
        proc = _cli(root, files, consent_file)
        delay = float(rng.uniform(0.5, 3.5))
        try:
            proc.wait(timeout=delay)
            finished = True
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            killed_after.append(round(delay, 2))
            finished = False
        proc.stdout.close()
        proc.stderr.close()
        if finished:
            break
    assert killed_after, "no run was killed; lower the delays"
    # the rerun completes the work; any partial state was left only in staging/orphan folders
    corpus = Corpus.open(root)
    corpus.add(discover(files)[0], ALICE, IngestSettings(max_side_px=MAX_SIDE))
    corpus.close()
    _check_store(root, reference)


def test_two_ingests_at_once_are_safe(tmp_path, captures_dir, consent_file, reference):
    root = tmp_path / "corpus"
    Corpus.init(root).close()
    files = _inputs(captures_dir)
    procs = [_cli(root, files, consent_file), _cli(root, files, consent_file)]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
        outputs.append(json.loads(out))
    _check_store(root, reference)
    # between them every input was committed exactly once
    committed = [o for out in outputs for o in out["outcomes"] if o["status"] != "skipped"]
    assert sorted(o["original_name"] for o in committed) == sorted(r["original_name"] for r in reference["inputs"])


def test_recover_removes_staging_and_orphan_folders(tmp_path):
    corpus = Corpus.init(tmp_path / "c")
    (tmp_path / "c" / "samples" / ".s-x.staging-abc").mkdir()
    (tmp_path / "c" / "samples" / "s-orphan").mkdir()
    (tmp_path / "c" / "samples" / "s-orphan" / "left.png").write_bytes(b"partial")
    assert sorted(corpus.recover()) == [".s-x.staging-abc", "s-orphan"]
    assert list((tmp_path / "c" / "samples").iterdir()) == []
    corpus.close()
