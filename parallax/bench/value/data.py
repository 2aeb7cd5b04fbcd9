"""The data of the data-value experiment: synthetic and real corpora, exported to WebDataset, cached.

Every training pair reaches the model the way a user's training code gets it:
as a sample of a Parallax corpus, exported to WebDataset shards and streamed by
:class:`parallax.corpus.loader.CorpusDataset`.

* **Synthetic**: ``parallax synth`` renders the pairs (or ``--synth DIR`` gives
  them), ``parallax corpus add`` stores them under a CC0 consent, and the corpus
  is exported with every sample in the ``train`` split.
* **Real**: the chosen scenes of the test data go through ``parallax corpus add``
  (consent, face blurring, rectification, the matcher, quality gates, dedup),
  one contributor and one consent file per scene; the training scenes are
  exported into the ``train`` split, the held-out scenes into a separate
  corpus exported into the ``test`` split.

Everything is cached under ``cache/<kind>-<key>/`` where the key is a hash of
what decides the content (settings, seeds, the input files' paths, sizes and
modification times). A folder is built beside its final name and renamed into
place when complete, so an interrupted run leaves no half cache behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parallax.bench.value.scenes import RealScene
from parallax.bench.value.settings import ValueSettings
from parallax.errors import InputFileError, OutputError, ParameterError

__all__ = [
    "PreparedExport",
    "prepare_synthetic",
    "prepare_real",
    "prepare_corpus_arg",
    "export_metas",
    "CACHE_VERSION",
    "SYNTH_CONTRIBUTOR",
    "TEST_DATA_LICENSE",
]

#: Bumped when the cached content would change for the same key.
CACHE_VERSION = 1
#: Contributor id of the synthetic samples (consent: CC0-1.0).
SYNTH_CONTRIBUTOR = "parallax-synth"
#: Licence recorded in the consent files of the test data: the original datasets' licences apply
#: (``../shared/data/README.md``), several of them non-commercial; for testing and evaluation only.
TEST_DATA_LICENSE = "LicenseRef-shared-test-data"
_CONSENT_DATE = "2026-01-01"

Log = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class PreparedExport:
    """A WebDataset export ready for :class:`~parallax.corpus.loader.CorpusDataset`.

    Parameters
    ----------
    export : Path
        The export folder (``export.json`` and shards).
    split : str or None
        The split the experiment reads (None: every split).
    outcomes : list of dict
        What ``corpus add`` made of every input (accepted / duplicate / rejected, with reasons).
    cached : bool
        True when the folder came from the cache.
    """

    export: Path
    split: str | None
    outcomes: list[dict[str, Any]]
    cached: bool


def _key(payload: Any) -> str:
    text = json.dumps({"cache_version": CACHE_VERSION, **payload}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _file_identity(path: Path) -> list[Any]:
    st = path.stat()
    return [str(path.resolve()), st.st_size, st.st_mtime_ns]


def _file_key(paths: Sequence[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        h.update(b"\0|")
    return h.hexdigest()


def _cached(cache: Path, name: str, build: Callable[[Path], list[dict[str, Any]]], log: Log) -> tuple[Path, bool]:
    """``cache/name`` when complete, else build it in a staging folder and rename it into place."""
    final = cache / name
    if (final / "build.json").is_file():
        log(f"cached: {final}")
        return final, True
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create cache folder {cache}: {exc.strerror}; choose another --cache") from exc
    staging = cache / f".{name}.building-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        outcomes = build(staging)
        (staging / "build.json").write_text(json.dumps({"outcomes": outcomes}, indent=2) + "\n", encoding="utf-8")
        if final.exists() and not (final / "build.json").is_file():  # an incomplete folder from an older run
            shutil.rmtree(final)
        try:
            os.replace(staging, final)
        except OSError as exc:
            if not (final / "build.json").is_file():  # not a concurrent run that finished first
                raise OutputError(f"cannot move {staging} to {final}: {exc.strerror}; check --cache") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final, False


def _consent_file(folder: Path, contributor: str, license: str) -> Any:
    """Write ``consent-<contributor>.json`` and read it back through the corpus's own consent check."""
    from parallax.corpus.consent import load_consent

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"consent-{contributor}.json"
    record = {"contributor": contributor, "license": license, "allow_training": True, "date": _CONSENT_DATE}
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return load_consent(path)


def _export(corpus: Any, out: Path, split: str) -> None:
    from parallax.corpus.export import SPLITS, export_corpus

    train, val, test = (1.0 if s == split else 0.0 for s in SPLITS)
    # one sample per shard (a sample larger than the target gets its own shard), so the
    # loader's per-epoch shard shuffle reorders single samples
    export_corpus(
        corpus, fmt="webdataset", out=str(out), shard_size=1024, ratios=(train, val, test), name=out.parent.name
    )


def _outcome_dict(outcome: Any, **extra: Any) -> dict[str, Any]:
    return {
        "input": outcome.original_name,
        "status": outcome.status,
        "reason": outcome.reason,
        "sample_id": outcome.sample_id,
        **extra,
    }


def prepare_synthetic(
    settings: ValueSettings, cache: Path, *, synth_dir: Path | None = None, log: Log = print
) -> PreparedExport:
    """Render (or take) the synthetic pairs, store them in a corpus, export them to WebDataset.

    Parameters
    ----------
    synth_dir : Path, optional
        A folder of ``parallax synth`` sample folders to use instead of rendering.
    """
    from parallax.corpus.sample_import import add_sample_dirs, split_sample_dirs
    from parallax.corpus.store import Corpus
    from parallax.synth.config import SynthConfig

    config = SynthConfig(
        size_range=(settings.synth_size, settings.synth_size),
        spp=settings.synth_spp,
    )
    if synth_dir is not None:
        dirs, others = split_sample_dirs([synth_dir])
        if not dirs or others:
            raise InputFileError(
                f"--synth {synth_dir} holds no sample folders; give the --out folder of parallax synth"
            )
        ident: Any = [_file_identity(d / "meta.json") for d in dirs]
        key = _key({"synth_dir": ident})
    else:
        key = _key({"config": config.to_dict(), "count": settings.synth_count, "seed": settings.synth_seed})

    def build(folder: Path) -> list[dict[str, Any]]:
        pairs = synth_dir
        if pairs is None:
            from parallax.synth.dataset import generate_dataset

            pairs = folder / "pairs"
            n = settings.synth_count
            log(f"rendering {n} synthetic pairs {config.size_range[0][0]}x{config.size_range[0][1]} ({config.spp} spp)")
            generate_dataset(config, count=n, out=pairs, seed=settings.synth_seed)
        consent = _consent_file(folder / "consents", SYNTH_CONTRIBUTOR, "CC0-1.0")
        corpus = Corpus.init(folder / "corpus")
        try:
            dirs, _ = split_sample_dirs([pairs])
            outcomes = [_outcome_dict(o) for o in add_sample_dirs(corpus, dirs, consent)]
            _export(corpus, folder / "export", "train")
        finally:
            corpus.close()
        return outcomes

    final, cached = _cached(cache, f"synth-{key}", build, log)
    outcomes = json.loads((final / "build.json").read_text(encoding="utf-8"))["outcomes"]
    return PreparedExport(export=final / "export", split="train", outcomes=outcomes, cached=cached)


def _capture_items(scene: RealScene) -> list[Any]:
    from parallax.corpus.ingest import CaptureItem

    items = []
    for paths in scene.captures:
        name = " + ".join(f"{p.parent.name}/{p.name}" for p in paths)
        items.append(CaptureItem(paths=tuple(str(p) for p in paths), original_name=name, input_key=_file_key(paths)))
    return items


def prepare_real(
    scenes: Sequence[RealScene], settings: ValueSettings, cache: Path, *, split: str, log: Log = print
) -> PreparedExport:
    """Ingest ``scenes`` into a corpus (one contributor and consent per scene) and export it into ``split``.

    Parameters
    ----------
    split : {"train", "test"}
        ``train`` for the training scenes, ``test`` for the held-out ones.
    """
    from parallax.corpus.ingest import IngestSettings
    from parallax.corpus.store import Corpus

    if split not in ("train", "test"):
        raise ParameterError(f"split must be train or test, got {split!r}")
    ingest = IngestSettings(max_side_px=settings.ingest_max_side)
    key = _key(
        {
            "scenes": [(s.scene_id, s.kind, [_file_identity(p) for p in s.files]) for s in scenes],
            "max_side": ingest.max_side_px,
            "matcher": ingest.matcher,
            "split": split,
            "license": TEST_DATA_LICENSE,
        }
    )

    def build(folder: Path) -> list[dict[str, Any]]:
        corpus = Corpus.init(folder / "corpus")
        outcomes: list[dict[str, Any]] = []
        try:
            for scene in scenes:
                consent = _consent_file(folder / "consents", scene.contributor, TEST_DATA_LICENSE)
                log(f"corpus add: {scene.scene_id} ({len(scene.captures)} capture(s))")
                for outcome in corpus.add(_capture_items(scene), consent, ingest):
                    outcomes.append(_outcome_dict(outcome, scene=scene.scene_id))
            _export(corpus, folder / "export", split)
        finally:
            corpus.close()
        return outcomes

    final, cached = _cached(cache, f"real-{split}-{key}", build, log)
    outcomes = json.loads((final / "build.json").read_text(encoding="utf-8"))["outcomes"]
    return PreparedExport(export=final / "export", split=split, outcomes=outcomes, cached=cached)


def prepare_corpus_arg(path: Path, cache: Path, *, split: str | None, log: Log = print) -> PreparedExport:
    """A user's ``--corpus``/``--eval-corpus``: a WebDataset export (used as is) or a corpus folder (exported).

    A corpus folder is exported with its own contributor split into
    ``cache/corpus-<key>``, the key covering its catalog's content.

    Raises
    ------
    InputFileError
        If ``path`` is neither, or a Parquet export.
    """
    if (path / "export.json").is_file():
        listing = json.loads((path / "export.json").read_text(encoding="utf-8"))
        if listing.get("export_format") != "webdataset":
            raise InputFileError(
                f"{path} is a {listing.get('export_format')} export; export the corpus with --format webdataset"
            )
        return PreparedExport(export=path, split=split, outcomes=[], cached=True)
    if not (path / "corpus.json").is_file():
        raise InputFileError(f"{path} is neither a corpus (corpus.json) nor a WebDataset export (export.json)")
    from parallax.corpus.export import export_corpus
    from parallax.corpus.store import Corpus

    corpus = Corpus.open(path)
    try:
        rows = corpus.catalog.active_samples()
        key = _key(
            {"corpus": str(path.resolve()), "samples": sorted((r["sample_id"], r["manifest_sha256"]) for r in rows)}
        )

        def build(folder: Path) -> list[dict[str, Any]]:
            export_corpus(corpus, fmt="webdataset", out=str(folder / "export"), shard_size=1024)
            return []

        final, cached = _cached(cache, f"corpus-{key}", build, log)
    finally:
        corpus.close()
    return PreparedExport(export=final / "export", split=split, outcomes=[], cached=cached)


def export_metas(export: Path, split: str | None) -> list[dict[str, Any]]:
    """The ``meta.json`` of every sample of ``split`` (None: all splits) in a WebDataset export, in shard order."""
    from parallax.corpus.storage import Storage

    store = Storage(export)
    try:
        listing = json.loads(store.read_bytes("export.json"))
    except FileNotFoundError as exc:
        raise InputFileError(f"{export} has no export.json; give a folder written by parallax corpus export") from exc
    metas: list[dict[str, Any]] = []
    for shard in listing["shards"]:
        if split is not None and shard["split"] != split:
            continue
        with store.open(shard["path"], "rb") as fh, tarfile.open(fileobj=fh, mode="r:") as tar:
            for member in tar:
                if member.isfile() and member.name.endswith(".json") and member.name.count(".") == 1:
                    extracted = tar.extractfile(member)
                    if extracted is not None:
                        meta = json.loads(extracted.read())
                        meta["_split"] = shard["split"]
                        metas.append(meta)
    return metas
