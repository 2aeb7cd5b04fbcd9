"""A corpus on disk: ``corpus.json``, the SQLite catalog, and one folder per sample.

Layout::

    <corpus>/
        corpus.json          {"format": "parallax-corpus", "version": 1, "samples_url": "samples", ...}
        catalog.sqlite       the catalog (WAL mode; -wal and -shm files beside it)
        samples/<sample_id>/ one self-describing sample folder each (see parallax.corpus.sample)

``samples_url`` may be any fsspec URL (an object store); the catalog stays local.

Crash safety: a sample's files are encoded first, then, holding the catalog's
write lock, staged in a hidden folder, fsynced, renamed into place, and only
then its row is committed. A killed process leaves at most a staging folder or
a folder without a row; :meth:`Corpus.recover` (run at the start of every ingest)
removes both under the same lock. Inputs are keyed by the SHA-256 of their
bytes, samples by the SHA-256 of their decoded pixels, so a rerun skips what
is done and never stores a sample twice.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from parallax.corpus import dedup
from parallax.corpus.catalog import Catalog, utc_now
from parallax.corpus.consent import Consent
from parallax.corpus.ingest import CaptureItem, IngestSettings, Processed, process_capture
from parallax.corpus.storage import Storage, is_local
from parallax.errors import InputFileError, OutputError, ParameterError

if TYPE_CHECKING:  # pragma: no cover
    from parallax.corpus.clip_sample import ClipSample
    from parallax.corpus.sample import Sample

__all__ = ["Corpus", "Outcome", "CORPUS_FORMAT"]

CORPUS_FORMAT = "parallax-corpus"


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What happened to one input: ``accepted``, ``duplicate``, ``rejected`` or ``skipped`` (seen before)."""

    original_name: str
    status: str
    reason: str | None = None
    sample_id: str | None = None


@dataclass(kw_only=True)
class Corpus:
    """An open corpus.

    Use :meth:`init` to create one and :meth:`open` to open one.
    """

    root: Path
    config: dict[str, Any]
    catalog: Catalog
    storage: Storage = field(repr=False)

    # -- opening ---------------------------------------------------------------------------
    @classmethod
    def init(cls, root: str | os.PathLike[str], *, samples_url: str | None = None) -> Corpus:
        """Create a corpus in folder ``root`` (created if missing; must not hold a corpus yet).

        Parameters
        ----------
        samples_url : str, optional
            Where sample folders go: default ``<root>/samples``; any fsspec URL works.

        Raises
        ------
        OutputError
            If ``root`` already holds a corpus or cannot be created.
        """
        root = Path(root)
        if (root / "corpus.json").exists():
            raise OutputError(f"{root} already holds a corpus; open it, or choose another folder")
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create corpus folder {root}: {exc.strerror}; choose another folder") from exc
        config = {
            "format": CORPUS_FORMAT,
            "version": 1,
            "samples_url": samples_url or "samples",
            "created_at": utc_now(),
        }
        catalog = Catalog(root / "catalog.sqlite", create=True)
        Storage(_samples_url(root, config)).makedirs()
        from parallax.io.atomic import atomic_output

        with atomic_output(root / "corpus.json") as tmp:
            tmp.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return cls(root=root, config=config, catalog=catalog, storage=Storage(_samples_url(root, config)))

    @classmethod
    def open(cls, root: str | os.PathLike[str]) -> Corpus:
        """Open the corpus in ``root``.

        Raises
        ------
        InputFileError
            If ``root`` holds no corpus (names ``parallax corpus init``).
        """
        root = Path(root)
        try:
            config = json.loads((root / "corpus.json").read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise InputFileError(
                f"{root} is not a corpus (no corpus.json); create one with: parallax corpus init {root}"
            ) from exc
        except (OSError, ValueError) as exc:
            raise InputFileError(f"{root}/corpus.json is unreadable ({exc}); restore it") from exc
        if config.get("format") != CORPUS_FORMAT:
            raise InputFileError(f"{root}/corpus.json is not a Parallax corpus description")
        url = _samples_url(root, config)
        return cls(root=root, config=config, catalog=Catalog(root / "catalog.sqlite"), storage=Storage(url))

    def close(self) -> None:
        """Close the catalog."""
        self.catalog.close()

    # -- crash recovery --------------------------------------------------------------------
    def recover(self) -> list[str]:
        """Remove staging folders, sample folders without a catalog row and the clip staging runs
        of processes that died (:mod:`parallax.corpus.clip_commit`); return what was removed.

        Runs under the catalog's write lock, so it never touches a folder another
        process is about to commit (those are written under the same lock).
        """
        from parallax.corpus.clip_commit import remove_dead_runs

        removed: list[str] = []
        with self.catalog.write() as db:
            known = {r[0] for r in db.execute("SELECT sample_id FROM samples WHERE status = 'active'")}
            for name in self.storage.listdir(""):
                if name in known:
                    continue
                self.storage.remove(name)
                removed.append(name)
            removed += remove_dead_runs(self.root)
        return removed

    # -- ingest ----------------------------------------------------------------------------
    def register_consent(self, consent: Consent) -> None:
        """Record the consent (idempotent)."""
        with self.catalog.write() as db:
            db.execute(
                "INSERT OR IGNORE INTO consents VALUES (?, ?, ?, ?, ?, ?)",
                (consent.consent_id, consent.contributor, consent.license, 1, consent.date, consent.canonical()),
            )

    def seen(self, item: CaptureItem) -> dict[str, Any] | None:
        """The catalog row of an input already processed, or None."""
        return self.catalog.input_status(item.input_key)

    def commit(self, processed: Processed, *, near_duplicate_bits: int = dedup.NEAR_DUPLICATE_BITS) -> Outcome:
        """Store one processed capture: dedup against the catalog, move its folder into place, insert its rows.

        Everything happens inside one write transaction; a crash before COMMIT
        leaves at most an orphan folder that :meth:`recover` removes.
        """
        item = processed.item
        now = utc_now()
        with self.catalog.write() as db:
            seen = db.execute(
                "SELECT status, reason, sample_id FROM inputs WHERE input_key = ?", (item.input_key,)
            ).fetchone()
            if seen is not None:
                return Outcome(
                    original_name=item.original_name,
                    status="skipped",
                    reason=f"seen before ({seen[0]})",
                    sample_id=seen[2],
                )
            status, reason, sample_id = self._decide(db, processed, near_duplicate_bits)
            if status == "accepted":
                row = dict(processed.row)
                if self.storage.exists(row["sample_id"]):  # an orphan from a killed run
                    self.storage.remove(row["sample_id"])
                self.storage.put_folder(row["sample_id"], processed.files)
                db.execute(
                    "INSERT INTO samples VALUES (:sample_id, :content_sha256, :phash_left, :phash_right, :contributor, "
                    ":consent_id, :license, :source_kind, :source_format, :device, :original_name, :width, :height, "
                    ":manifest_sha256, :bytes, 'active', :quality, :added_at, NULL)",
                    {**row, "quality": Catalog.dumps(row["quality"]), "added_at": now},
                )
            db.execute(
                "INSERT INTO inputs VALUES (?, ?, ?, ?, ?, ?, ?)",
                (item.input_key, item.original_name, processed.consent_id, status, reason, sample_id, now),
            )
        return Outcome(original_name=item.original_name, status=status, reason=reason, sample_id=sample_id)

    @staticmethod
    def _decide(db: Any, processed: Processed, bits: int) -> tuple[str, str | None, str | None]:
        if processed.status != "ok":
            return "rejected", processed.reason, None
        content = processed.content_sha256
        hit = db.execute(
            "SELECT sample_id FROM samples WHERE content_sha256 = ? AND status = 'active'", (content,)
        ).fetchone()
        if hit:
            return "duplicate", f"same pixels as sample {hit[0]}", hit[0]
        gone = db.execute("SELECT sample_id FROM tombstones WHERE content_sha256 = ?", (content,)).fetchone()
        if gone:
            return "rejected", f"withdrawn earlier as sample {gone[0]}; consent was withdrawn", None
        if processed.phash is None:
            raise ParameterError(f"{processed.item.original_name}: a processed sample lacks its perceptual hash")
        for table, status in (("samples WHERE status = 'active'", "duplicate"), ("tombstones", "rejected")):
            for sid, pl, pr in db.execute(f"SELECT sample_id, phash_left, phash_right FROM {table} ORDER BY sample_id"):
                if dedup.is_near_duplicate(processed.phash, (pl, pr), bits=bits):
                    d = max(dedup.hamming(processed.phash[0], pl), dedup.hamming(processed.phash[1], pr))
                    if status == "duplicate":
                        return (
                            "duplicate",
                            f"near-duplicate of sample {sid} (perceptual hash distance {d} <= {bits} bits)",
                            sid,
                        )
                    return "rejected", f"near-duplicate of withdrawn sample {sid}; consent was withdrawn", None
        return "accepted", None, processed.sample_id

    def add(
        self,
        items: Iterable[CaptureItem],
        consent: Consent,
        settings: IngestSettings = IngestSettings(),
        *,
        engine: str = "embedded",
        on_outcome: Callable[[Outcome], None] | None = None,
        ray_workers: int | None = None,
    ) -> list[Outcome]:
        """Ingest ``items`` under ``consent``; return one :class:`Outcome` per item, in order.

        Items of kind ``"clip"`` (stereo videos, frame folders) are ingested after the
        stills by :func:`parallax.corpus.clip_ingest.ingest_clips`: one outcome per
        cut of each (or one for a source rejected or skipped whole), after the stills'.

        Parameters
        ----------
        engine : {"embedded", "ray"}
            Where :func:`process_capture` runs: in this process, or as a Ray Data map
            (see :mod:`parallax.corpus.ray_engine`). Commits always happen here, in input order.
        on_outcome : callable, optional
            Called after each item (progress bars).
        """
        if engine not in ("embedded", "ray"):
            raise ParameterError(f"engine {engine!r} is not 'embedded' or 'ray'")
        self.recover()
        self.register_consent(consent)
        items = list(items)
        clips = [it for it in items if it.kind == "clip"]
        items = [it for it in items if it.kind != "clip"]
        outcomes: list[Outcome | None] = [None] * len(items)

        def done(index: int, outcome: Outcome) -> None:
            outcomes[index] = outcome
            if on_outcome is not None:
                on_outcome(outcome)

        todo: list[int] = []
        for index, item in enumerate(items):
            row = self.seen(item)
            if row is not None:
                done(
                    index,
                    Outcome(
                        original_name=item.original_name,
                        status="skipped",
                        reason=f"seen before ({row['status']})",
                        sample_id=row["sample_id"],
                    ),
                )
            else:
                todo.append(index)
        bits = settings.near_duplicate_bits
        if engine == "embedded":
            for index in todo:
                done(index, self.commit(process_capture(items[index], consent, settings), near_duplicate_bits=bits))
        else:
            from parallax.corpus.ray_engine import process_with_ray

            results = process_with_ray([items[i] for i in todo], consent, settings, workers=ray_workers)
            for index, processed in zip(todo, results, strict=True):
                done(index, self.commit(processed, near_duplicate_bits=bits))
        stills = [o for o in outcomes if o is not None]
        if not clips:
            return stills
        from parallax.corpus.clip_ingest import ingest_clips

        return stills + ingest_clips(
            self, clips, consent, settings, engine=engine, on_outcome=on_outcome, ray_workers=ray_workers
        )

    def add_sample(self, sample: Sample | ClipSample, consent: Consent) -> Outcome:
        """Store a ready-made :class:`~parallax.corpus.sample.Sample` or
        :class:`~parallax.corpus.clip_sample.ClipSample` (e.g. synthetic) under ``consent``.

        The sample goes through the same dedup and crash-safe commit as a capture;
        its input key is its content hash, so adding it again is skipped. A clip's
        dedup keys are its content hash over all frames and its first frame's
        perceptual hashes.

        Raises
        ------
        ParameterError
            If the sample's contributor, licence or consent id differ from ``consent``'s.
        """
        from parallax.corpus.clip_sample import ClipSample, clip_content_sha256
        from parallax.corpus.encoding import pixel_sha256
        from parallax.corpus.ingest import package_clip_sample, package_sample

        facts: Any = sample.info if isinstance(sample, ClipSample) else sample
        for field_name, want in (
            ("contributor", consent.contributor),
            ("license", consent.license),
            ("consent_id", consent.consent_id),
        ):
            if getattr(facts, field_name) != want:
                raise ParameterError(
                    f"sample {facts.sample_id}: {field_name} {getattr(facts, field_name)!r} does not "
                    f"match the consent's {want!r}; build the sample from the consent record"
                )
        self.recover()
        self.register_consent(consent)
        if isinstance(sample, ClipSample):
            content = facts.content_sha256 or clip_content_sha256((f.left, f.right) for f in sample.frames)
            item = CaptureItem(paths=(), original_name=facts.original_name, input_key="clip:" + content)
            return self.commit(package_clip_sample(sample, item=item))
        content = sample.content_sha256 or pixel_sha256(sample.left, sample.right)
        item = CaptureItem(paths=(), original_name=sample.original_name, input_key="sample:" + content)
        return self.commit(package_sample(sample, item=item))

    # -- status ----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """Counts (samples, rejected, duplicates, withdrawn, ...), the corpus path and storage URL."""
        return {"corpus": str(self.root), "samples_url": self.storage.url, **self.catalog.counts()}


def _samples_url(root: Path, config: dict[str, Any]) -> str:
    url = str(config.get("samples_url", "samples"))
    if is_local(url) and not Path(url.removeprefix("file://")).is_absolute():
        return str(root / url.removeprefix("file://"))
    return url
