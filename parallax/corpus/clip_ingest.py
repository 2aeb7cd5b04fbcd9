"""Ingesting stereo videos and frame folders: cut into clips, each clip one sample (embedded or on Ray).

For every clip source (an item of kind ``"clip"`` from :func:`parallax.corpus.discovery.discover`):

1. **Skip** what is done: a source rejected before (unreadable), or one whose
   planned cuts (``clip_sources``, same cut settings) are all in ``inputs``.
2. **Plan** (:func:`~parallax.corpus.clip_cut.plan_clip`): one streamed pass
   samples the frames, computes their dedup keys and finds the cuts; the cuts
   are recorded in ``clip_sources``. A source that cannot be read is rejected
   with the reader's reason.
3. Per cut: **skip** a cut committed before; decide **without processing** a
   cut that is too short or whose frames are all stored already (the embedded
   engine; the Ray engine processes it and the commit decides the same);
   **prepare** it (rectification, depth units) and **process** it chunk by
   chunk (:mod:`parallax.corpus.clip_process`); **commit** it
   (:func:`~parallax.corpus.clip_commit.commit_cut`).

Both engines run the same functions on the same arguments and commit in the
same order (sources in input order, cuts in time order), so the catalog is the
same whichever runs (``tests/corpus/test_corpus_ray.py``). The Ray engine runs
plan-and-prepare per source, then every chunk of every cut, as two Ray Data
maps, so the frames of one long clip are processed in parallel.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from parallax.corpus.clip_commit import StagingRun, commit_cut, precheck, record_plan
from parallax.corpus.clip_cut import ClipCut, ClipPlan, plan_clip, plan_key
from parallax.corpus.clip_process import ChunkResult, CutSetup, chunk_tasks, prepare_cut, process_chunk
from parallax.errors import ParallaxError

if TYPE_CHECKING:  # pragma: no cover
    from parallax.corpus.consent import Consent
    from parallax.corpus.discovery import CaptureItem
    from parallax.corpus.ingest import IngestSettings
    from parallax.corpus.store import Corpus, Outcome

__all__ = ["ingest_clips", "plan_source", "plan_and_prepare", "prepare_or_error"]

_FAILURES = (ParallaxError, OSError, ValueError, cv2.error, np.linalg.LinAlgError)


def _why(exc: BaseException, prefix: str) -> str:
    return " ".join(f"{prefix}: {exc}".split())


def plan_source(item: CaptureItem, settings: IngestSettings) -> ClipPlan | str:
    """The source's plan, or the reason it cannot be read."""
    try:
        return plan_clip(item, settings)
    except _FAILURES as exc:
        return _why(exc, "unreadable")


def prepare_or_error(item: CaptureItem, cut: ClipCut, settings: IngestSettings, fps: float) -> CutSetup | str:
    """:func:`~parallax.corpus.clip_process.prepare_cut`, or the reason it failed."""
    try:
        return prepare_cut(item, cut, settings, fps)
    except _FAILURES as exc:
        return _why(exc, "processing failed")


def plan_and_prepare(
    item: CaptureItem, settings: IngestSettings, skip: frozenset[str] = frozenset()
) -> tuple[ClipPlan | str, dict[int, CutSetup | str]]:
    """Plan a source and prepare each of its cuts (but those too short, or whose input key is in ``skip``)."""
    plan = plan_source(item, settings)
    if isinstance(plan, str):
        return plan, {}
    setups = {
        cut.number: prepare_or_error(item, cut, settings, plan.fps)
        for cut in plan.cuts
        if cut.reason is None and cut.input_key not in skip
    }
    return plan, setups


def _skipped(name: str, row: dict[str, Any]) -> Outcome:
    from parallax.corpus.store import Outcome

    return Outcome(original_name=name, status="skipped", reason=f"seen before ({row['status']})",
                   sample_id=row["sample_id"])  # fmt: skip


def _done(corpus: Corpus, item: CaptureItem, settings: IngestSettings) -> list[Outcome] | None:
    """Outcomes of a source done before (step 1 of the module docstring), else None."""
    row = corpus.seen(item)
    if row is not None:
        return [_skipped(item.original_name, row)]
    known = corpus.catalog.rows("SELECT plan_key, cut_keys FROM clip_sources WHERE source_key = ?", (item.input_key,))
    if not known or known[0]["plan_key"] != plan_key(settings):
        return None
    out = []
    for key in json.loads(known[0]["cut_keys"]):
        seen = corpus.catalog.input_status(key)
        if seen is None:
            return None
        stored = str(seen["original_name"])  # "<name> [frames a-b]", maybe of the same bytes under another name
        out.append(_skipped(item.original_name + stored[stored.rfind(" [") :] if " [" in stored else stored, seen))
    return out


def _reject_source(corpus: Corpus, item: CaptureItem, consent: Consent, reason: str) -> Outcome:
    from parallax.corpus.ingest import Processed

    return corpus.commit(Processed(item=item, consent_id=consent.consent_id, status="rejected", reason=reason))


def ingest_clips(
    corpus: Corpus,
    items: Sequence[CaptureItem],
    consent: Consent,
    settings: IngestSettings,
    *,
    engine: str = "embedded",
    on_outcome: Callable[[Outcome], None] | None = None,
    ray_workers: int | None = None,
) -> list[Outcome]:
    """Ingest clip sources (module docstring); one :class:`Outcome` per cut (or per source rejected or skipped whole).

    The caller registered the consent and ran :meth:`Corpus.recover`.
    """
    outcomes: list[Outcome] = []

    def emit(outcome: Outcome) -> None:
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    with StagingRun.open(corpus) as run:
        if engine != "embedded":
            _on_ray(corpus, run, items, consent, settings, emit, ray_workers)
            return outcomes
        for item in items:
            done = _done(corpus, item, settings)
            if done is None:
                _embedded(corpus, run, item, consent, settings, emit)
            else:
                for o in done:
                    emit(o)
    return outcomes


def _embedded(
    corpus: Corpus,
    run: StagingRun,
    item: CaptureItem,
    consent: Consent,
    settings: IngestSettings,
    emit: Callable[[Outcome], None],
) -> None:
    plan = plan_source(item, settings)
    if isinstance(plan, str):
        emit(_reject_source(corpus, item, consent, plan))
        return
    record_plan(corpus, plan)
    for cut in plan.cuts:
        seen = corpus.catalog.input_status(cut.input_key)
        if seen is not None:
            emit(_skipped(cut.original_name, seen))
            continue
        if precheck(corpus, plan, cut, settings):
            emit(commit_cut(corpus, plan, cut, consent, settings))
            continue
        setup = prepare_or_error(item, cut, settings, plan.fps)
        if isinstance(setup, str):
            emit(commit_cut(corpus, plan, cut, consent, settings, error=setup))
            continue
        folder = run.cut_folder(cut)
        try:
            chunks = [process_chunk(t) for t in chunk_tasks(item, cut, setup, settings, plan.fps, folder)]
            emit(commit_cut(corpus, plan, cut, consent, settings, setup=setup, chunks=chunks))
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def _on_ray(
    corpus: Corpus,
    run: StagingRun,
    items: Sequence[CaptureItem],
    consent: Consent,
    settings: IngestSettings,
    emit: Callable[[Outcome], None],
    workers: int | None,
) -> None:
    """Plan and prepare every source, then process every chunk, on Ray; commit here as the embedded engine does."""
    from parallax.corpus.ray_engine import map_with_ray

    todo: dict[str, CaptureItem] = {}  # one per input key (the same bytes at two paths are one source)
    for item in items:
        if item.input_key not in todo and _done(corpus, item, settings) is None:
            todo[item.input_key] = item
    seen_keys = frozenset(
        r["input_key"] for r in corpus.catalog.rows("SELECT input_key FROM inputs WHERE input_key LIKE 'clip:%'")
    )
    calls = [(item, settings, seen_keys) for item in todo.values()]
    planned = dict(zip(todo, map_with_ray(plan_and_prepare, calls, workers=workers), strict=True))
    tasks = []
    for key, item in todo.items():
        plan, setups = planned[key]
        if isinstance(plan, str):
            continue
        record_plan(corpus, plan)
        for cut in plan.cuts:
            setup = setups.get(cut.number)
            if isinstance(setup, CutSetup):
                tasks.extend(chunk_tasks(item, cut, setup, settings, plan.fps, run.cut_folder(cut)))
    results: dict[str, list[ChunkResult]] = {}
    for task, result in zip(tasks, map_with_ray(process_chunk, [(t,) for t in tasks], workers=workers), strict=True):
        results.setdefault(task.folder.rsplit("/", 1)[0], []).append(result)
    for item in items:  # in input order, deciding what is done as the embedded engine would at this point
        done = _done(corpus, item, settings)
        if done is not None:
            for o in done:
                emit(o)
            continue
        plan, setups = planned[item.input_key]
        if isinstance(plan, str):
            emit(_reject_source(corpus, item, consent, plan))
            continue
        for cut in plan.cuts:
            setup = setups.get(cut.number)
            folder = run.cut_folder(cut)
            try:
                emit(
                    commit_cut(corpus, plan, cut, consent, settings,
                               setup=setup if isinstance(setup, CutSetup) else None, chunks=results.get(str(folder)),
                               error=setup if isinstance(setup, str) else None)
                )  # fmt: skip
            finally:
                shutil.rmtree(folder, ignore_errors=True)
