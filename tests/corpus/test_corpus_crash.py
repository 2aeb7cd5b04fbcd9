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


def _cli(corpus: Path, files: list[Path], consent: Path, *extra: str) -> subprocess.Popen:
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
        *extra,
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


# -- clips: frames written into a staging run while the ingest runs, committed cut by cut -------------------------
CLIP_OPTIONS = ("--max-side", "192", "--clip-fps", "0", "--clip-chunk-frames", "8", "--clip-max-s", "0.8")
CLIP_SETTINGS = IngestSettings(max_side_px=192, clip_fps=None, clip_chunk_frames=8, clip_max_s=0.8)


@pytest.fixture(scope="module")
def clip_inputs(tmp_path_factory, captures_dir, data_dir) -> list[Path]:
    from .video_factory import gopro_pan, write_sbs_video

    frames, _ = gopro_pan(captures_dir, frames=14, pan_px=30, crop=(420, 640))
    pan = write_sbs_video(tmp_path_factory.mktemp("clips") / "pan.mp4", frames)  # 2 cuts of 7 frames
    return [pan, data_dir / "video" / "bidavideo-demo"]


@pytest.fixture(scope="module")
def clip_reference(tmp_path_factory, clip_inputs):
    root = tmp_path_factory.mktemp("clipref") / "corpus"
    corpus = Corpus.init(root)
    corpus.add(discover(clip_inputs)[0], ALICE, CLIP_SETTINGS)
    snapshot = corpus.catalog.snapshot()
    corpus.close()
    statuses = sorted(r["status"] for r in snapshot["inputs"])
    # the MP4 beside the frame folder is cut in two at 0.8 s (the folder, at an assumed 30 fps, is one cut):
    # both halves are duplicates of the folder's clip
    assert statuses == ["accepted", "accepted", "accepted", "duplicate", "duplicate"]
    assert len(snapshot["clip_frames"]) == 24
    return snapshot


def test_clip_ingest_killed_at_random_moments_then_rerun_equals_uninterrupted(
    tmp_path, clip_inputs, consent_file, clip_reference
):
    root = tmp_path / "corpus"
    Corpus.init(root).close()
    rng = np.random.default_rng(20261112)
    killed_after = []
    left_behind = 0  # killed runs that left a staging run (frames written, cut not committed yet)
    for _ in range(12):
        staging = root / "staging"
        left_behind += int(staging.is_dir() and any(p.suffix != ".lock" for p in staging.iterdir()))
        proc = _cli(root, clip_inputs, consent_file, *CLIP_OPTIONS)
        delay = float(rng.uniform(3.0, 10.0))
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
    print(f"killed after {killed_after} s; {left_behind} left a staging run behind")
    assert left_behind, "no run was killed while it processed a clip; raise the delays"
    corpus = Corpus.open(root)
    corpus.add(discover(clip_inputs)[0], ALICE, CLIP_SETTINGS)
    corpus.close()
    _check_store(root, clip_reference)
    assert list((root / "staging").iterdir()) == []  # no staging run left behind
