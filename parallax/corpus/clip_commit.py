"""Committing a processed clip cut: decide, join its chunks into one clip sample folder, store it atomically.

Crash safety for long clips: the chunks' frame files are written (and fsynced)
into a **staging run** folder, ``<corpus>/staging/run-<random>/``, while the
ingest runs; the run is held by an exclusive ``flock`` on ``run-<random>.lock``
for as long as the ingesting process lives, so :func:`remove_dead_runs` (called
by :meth:`Corpus.recover` under the catalog's write lock, at the start of every
``add`` and ``withdraw``) removes only the runs of processes that died. The
commit of a cut (:func:`commit_cut`) holds the catalog's write lock and, in this
order: skips an input seen before; applies the overlap rule
(:mod:`parallax.corpus.clip_dedup`) to the planned frames; takes a processing
failure as the rejection reason; joins the chunks (renames, renumbering the
kept frames ``0..F-1``, poses chained across chunks) into one folder with its
``meta.json`` (clip-level quality from :mod:`parallax.corpus.clip_quality`), fsyncs
it, renames it into the samples folder (an object store gets the files first,
``meta.json`` last) and inserts the ``samples``, ``clip_frames`` and ``inputs``
rows. A process killed at any moment leaves a staging run (removed when found
dead) or a sample folder without a row (removed by ``recover``): a rerun gives
the catalog of an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from parallax.corpus.catalog import Catalog, utc_now
from parallax.corpus.clip_cut import ClipCut, ClipPlan
from parallax.corpus.clip_dedup import content_from_frame_hashes, decide_overlap, frame_overlap
from parallax.corpus.clip_process import WARMUP_FRAMES, ChunkResult, CutSetup, FrameRecord
from parallax.corpus.clip_quality import assess_clip

if TYPE_CHECKING:  # pragma: no cover
    from parallax.corpus.consent import Consent
    from parallax.corpus.ingest import IngestSettings
    from parallax.corpus.store import Corpus, Outcome

__all__ = ["StagingRun", "remove_dead_runs", "chain_poses", "commit_cut", "precheck", "record_plan", "STAGING"]

#: The folder of staging runs inside a corpus folder.
STAGING = "staging"


class StagingRun:
    """One ingest run's staging folder, held by an exclusive ``flock`` while the process lives.

    Create it under the catalog's write lock (:meth:`open`), so :func:`remove_dead_runs`
    never sees its lock file before it is locked.
    """

    def __init__(self, root: Path) -> None:
        base = root / STAGING
        base.mkdir(exist_ok=True)
        name = f"run-{os.getpid()}-{secrets.token_hex(6)}"
        self.lock_path = base / f"{name}.lock"
        self._lock = open(self.lock_path, "x")  # held until close()
        fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.path = base / name
        self.path.mkdir()

    @classmethod
    @contextlib.contextmanager
    def open(cls, corpus: Corpus) -> Iterator[StagingRun]:
        """A staging run for ``corpus``, removed with everything in it when the block ends."""
        with corpus.catalog.write():
            run = cls(corpus.root)
        try:
            yield run
        finally:
            run.close()

    def cut_folder(self, cut: ClipCut) -> Path:
        """Where a cut's chunks are written."""
        return self.path / hashlib.sha256(cut.input_key.encode()).hexdigest()[:24]

    def close(self) -> None:
        """Remove the run's folder and release its lock."""
        shutil.rmtree(self.path, ignore_errors=True)
        with contextlib.suppress(OSError):
            self.lock_path.unlink()
        self._lock.close()


def remove_dead_runs(root: Path) -> list[str]:
    """Remove staging runs whose process is gone (their lock is free); return their names.

    Call it under the catalog's write lock (``Corpus.recover`` does).
    """
    base = root / STAGING
    if not base.is_dir():
        return []
    removed = []
    for entry in sorted(base.iterdir()):
        if entry.suffix == ".lock":
            continue
        lock = base / f"{entry.name}.lock"
        try:
            with open(lock, "a") as fh:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink()
                lock.unlink()
        except BlockingIOError:
            continue  # a live run
        removed.append(entry.name)
    for lock in base.glob("*.lock"):  # a lock without its run folder
        if not (base / lock.stem).exists():
            try:
                with open(lock, "a") as fh:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    lock.unlink()
            except BlockingIOError:
                continue
    return removed


def record_plan(corpus: Corpus, plan: ClipPlan) -> None:
    """Remember a source's cuts (``clip_sources``), so a re-ingest can skip it without decoding."""
    with corpus.catalog.write() as db:
        db.execute(
            "INSERT OR REPLACE INTO clip_sources VALUES (?, ?, ?, ?, ?, ?)",
            (
                plan.item.input_key,
                plan.item.original_name,
                plan.plan_key,
                Catalog.dumps([c.input_key for c in plan.cuts]),
                sum(len(c.frames) for c in plan.cuts),
                utc_now(),
            ),
        )


def chain_poses(chunks: Sequence[ChunkResult]) -> dict[int, np.ndarray | None]:
    """Camera-to-world pose of every processed frame (by source frame number) in the first chunk's world.

    A chunk's poses are relative to its own first (warm-up) frame; the warm-up frames
    are output frames of the chunk before, whose poses link the two worlds. ``None``
    where tracking was lost, or no warm-up frame links a chunk to the one before.
    """
    out: dict[int, np.ndarray | None] = {}
    for chunk in chunks:
        world = np.eye(4) if chunk.chunk == 0 else None
        if world is None:
            for rec in reversed([r for r in chunk.frames if r.warmup]):
                known = out.get(rec.source_index)
                if rec.pose is not None and known is not None:
                    world = known @ np.linalg.inv(rec.pose)
                    break
        for rec in chunk.frames:
            if rec.warmup and chunk.chunk > 0:
                continue
            out[rec.source_index] = None if world is None or rec.pose is None else world @ rec.pose
    return out


def _move_into_storage(corpus: Corpus, folder: Path, sample_id: str) -> None:
    storage = corpus.storage
    if storage.local_root is not None:
        target = storage.path(sample_id)
        if target.exists():  # an orphan of a killed run (recover removes those too)
            shutil.rmtree(target)
        try:
            os.rename(folder, target)
        except OSError:  # another file system: copy beside the target, then rename
            temp = target.parent / f".{sample_id}.staging-{secrets.token_hex(4)}"
            shutil.copytree(folder, temp)
            os.rename(temp, target)
        fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return
    if storage.exists(sample_id):
        storage.remove(sample_id)
    files = sorted((p for p in folder.rglob("*") if p.is_file()), key=lambda p: (p.name == "meta.json", str(p)))
    for path in files:
        storage.put_file(f"{sample_id}/{path.relative_to(folder).as_posix()}", path.read_bytes())


def _fsync_tree(folder: Path) -> None:
    for path in [*sorted(p for p in folder.rglob("*") if p.is_dir()), folder]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _assemble(
    folder: Path,
    kept: list[tuple[ChunkResult, FrameRecord]],
    poses: list[np.ndarray | None],
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Move the kept frames' files from their chunk folders into ``folder`` as frames ``0..F-1``."""
    entries: dict[str, dict[str, Any]] = {}
    frames: list[dict[str, Any]] = []
    by_chunk: dict[int, dict[int, list[tuple[str, dict[str, Any]]]]] = {}
    for chunk, _ in kept:
        if chunk.chunk not in by_chunk:
            index: dict[int, list[tuple[str, dict[str, Any]]]] = {}
            for key, entry in chunk.entries.items():
                stream, local = key.rsplit("/", 1)
                index.setdefault(int(local), []).append((stream, entry))
            by_chunk[chunk.chunk] = index
    for g, ((chunk, rec), pose) in enumerate(zip(kept, poses, strict=True)):
        for stream, entry in by_chunk[chunk.chunk][int(rec.local_index or 0)]:
            ext = entry["path"].rsplit(".", 1)[1]
            path = f"{stream}/{g:06d}.{ext}"
            (folder / stream).mkdir(parents=True, exist_ok=True)
            os.rename(Path(chunk.folder) / entry["path"], folder / path)
            entries[f"{stream}/{g:06d}"] = {**entry, "path": path}
        frames.append(
            {
                "index": g,
                "timestamp_s": rec.timestamp_s,
                "source_index": rec.source_index,
                "K": chunk.K,
                "pose": None if pose is None else np.asarray(pose).tolist(),
            }
        )
    return entries, frames


def _rebase(poses: list[np.ndarray | None]) -> tuple[list[np.ndarray | None], str]:
    """Poses relative to the first stored frame with a known pose, and the world frame's description."""
    for i, pose in enumerate(poses):
        if pose is not None:
            inv = np.linalg.inv(pose)
            out = [None if p is None else inv @ p for p in poses]
            for p in out:  # keep rotations orthonormal after the products
                if p is not None:
                    u, _, vt = np.linalg.svd(p[:3, :3])
                    p[:3, :3] = u @ vt
            where = (
                "the first frame's left camera" if i == 0 else f"the left camera of frame {i} (frame 0's is unknown)"
            )
            return out, where
    return poses, "the first frame's left camera (no pose is known)"


def commit_cut(
    corpus: Corpus,
    plan: ClipPlan,
    cut: ClipCut,
    consent: Consent,
    settings: IngestSettings,
    *,
    setup: CutSetup | None = None,
    chunks: Sequence[ChunkResult] | None = None,
    error: str | None = None,
) -> Outcome:
    """Store one cut (module docstring); ``chunks=None`` when it was not processed (a duplicate found before)."""
    from parallax.corpus.store import Outcome

    now = utc_now()
    with corpus.catalog.write() as db:
        seen = db.execute("SELECT status, sample_id FROM inputs WHERE input_key = ?", (cut.input_key,)).fetchone()
        if seen is not None:
            return Outcome(
                original_name=cut.original_name, status="skipped", reason=f"seen before ({seen[0]})", sample_id=seen[1]
            )
        status, reason, sample_id, built = _decide(db, corpus, plan, cut, consent, settings, setup, chunks, error)
        if status == "accepted" and built is not None:
            folder, row, frame_rows = built
            _move_into_storage(corpus, folder, row["sample_id"])
            db.execute(
                "INSERT INTO samples VALUES (:sample_id, :content_sha256, :phash_left, :phash_right, :contributor, "
                ":consent_id, :license, :source_kind, :source_format, :device, :original_name, :width, :height, "
                ":manifest_sha256, :bytes, 'active', :quality, :added_at, NULL)",
                {**row, "quality": Catalog.dumps(row["quality"]), "added_at": now},
            )
            db.executemany("INSERT INTO clip_frames VALUES (?, ?, ?, ?, ?, ?, ?)", frame_rows)
        db.execute(
            "INSERT INTO inputs VALUES (?, ?, ?, ?, ?, ?, ?)",
            (cut.input_key, cut.original_name, consent.consent_id, status, reason, sample_id, now),
        )
    return Outcome(original_name=cut.original_name, status=status, reason=reason, sample_id=sample_id)


def precheck(corpus: Corpus, plan: ClipPlan, cut: ClipCut, settings: IngestSettings) -> bool:
    """Whether the cut is decided without processing it (a duplicate or withdrawn frames); read-only."""
    if cut.reason:
        return True
    overlap = frame_overlap(
        corpus.catalog.db, cut.frames, source_key=plan.item.input_key, bits=settings.near_duplicate_bits
    )
    return decide_overlap(overlap, cut.frames, min_frames=settings.clip_min_frames)[0] != "new"


def _decide(
    db: Any,
    corpus: Corpus,
    plan: ClipPlan,
    cut: ClipCut,
    consent: Consent,
    settings: IngestSettings,
    setup: CutSetup | None,
    chunks: Sequence[ChunkResult] | None,
    error: str | None,
) -> tuple[str, str | None, str | None, tuple[Path, dict[str, Any], list[tuple[Any, ...]]] | None]:
    from parallax.corpus.clip_manifest import build_clip_manifest

    if cut.reason:
        return "rejected", cut.reason, None, None
    overlap = frame_overlap(db, cut.frames, source_key=plan.item.input_key, bits=settings.near_duplicate_bits)
    verdict, why, holder, (start, stop) = decide_overlap(overlap, cut.frames, min_frames=settings.clip_min_frames)
    if verdict != "new":
        return verdict, why, holder, None
    error = error or next((c.error for c in chunks or () if c.error), None)
    if error or setup is None or not chunks:
        return "rejected", error or "processing failed: the cut was not processed", None, None
    run = {f.source_index for f in cut.frames[start:stop]}
    in_run = [(c, r) for c in chunks for r in c.frames if not r.warmup and r.source_index in run]
    records = [r for _, r in in_run]
    kept = [(c, r) for c, r in in_run if r.local_index is not None]
    chained = chain_poses(chunks)
    poses, world = _rebase([chained.get(r.source_index) for _, r in kept])
    depth = next(c.depth for c in chunks if c.depth)
    baseline = depth.get("baseline_m") if depth.get("depth_is_metric") else None
    quality = assess_clip(
        frames=[r.quality for r in records if r.quality is not None],
        kept=[i for i, r in enumerate(records) if r.local_index is not None],
        rectification=setup.rectification.to_dict(),
        pose_status=[r.pose_status for _, r in kept],
        poses=poses,
        pose_unit_baselines=float(baseline or 1.0),
        min_frames=settings.clip_min_frames,
        thresholds=settings.thresholds,
        clip_thresholds=settings.clip_thresholds,
    )
    if not quality.accepted:
        return "rejected", "quality: " + "; ".join(quality.reasons), None, None
    planned = {f.source_index: f for f in cut.frames}
    content = content_from_frame_hashes([planned[r.source_index].pixel_sha256 for _, r in kept])
    hit = db.execute("SELECT sample_id FROM samples WHERE content_sha256 = ?", (content,)).fetchone()
    if hit:
        gone = db.execute("SELECT 1 FROM tombstones WHERE sample_id = ?", (hit[0],)).fetchone()
        if gone:
            return "rejected", f"withdrawn earlier as sample {hit[0]}; consent was withdrawn", None, None
        return "duplicate", f"same pixels as sample {hit[0]}", hit[0], None
    folder = Path(chunks[0].folder).parent / "clip"
    shutil.rmtree(folder, ignore_errors=True)  # left by a commit of this cut that failed earlier in this run
    folder.mkdir()
    entries, frame_records = _assemble(folder, kept, poses)
    trimmed = (start, stop) != (0, len(cut.frames))
    row, meta = build_clip_manifest(
        plan=plan, cut=cut, consent=consent, settings=settings, setup=setup, chunks=chunks, kept=kept,
        entries=entries, frames=frame_records, world_frame=world, quality=quality, content=content,
        trimmed=(cut.frames[start].source_index, cut.frames[stop - 1].source_index, overlap) if trimmed else None,
        warmup=WARMUP_FRAMES,
    )  # fmt: skip
    with open(folder / "meta.json", "wb") as fh:
        fh.write(meta)
        fh.flush()
        os.fsync(fh.fileno())
    _fsync_tree(folder)
    frame_rows = [
        (row["sample_id"], g, plan.item.input_key, r.source_index, r.timestamp_s, *planned[r.source_index].phash)
        for g, (_, r) in enumerate(kept)
    ]
    return "accepted", None, row["sample_id"], (folder, row, frame_rows)
