"""The corpus catalog: one SQLite database (WAL, transactions, busy timeout).

Tables
------
``consents``      one row per consent record (contributor, licence, allow_training, date).
``samples``       one row per stored sample (active or withdrawn), with its dedup keys.
``inputs``        one row per input capture seen (accepted, duplicate or rejected, with the reason).
``tombstones``    what remains of a withdrawn sample: id, content hash, perceptual hashes, contributor.
``exports``       every export made, with ``stale`` set when a sample it holds is withdrawn.
``export_samples`` which samples each export holds.
``clip_frames``   one row per stored frame of a clip cut from a video: its source (file key and frame
                  number) and the perceptual hashes of its views -- the frame-level dedup keys. The
                  rows of a withdrawn clip stay: with its ``samples`` row (status ``withdrawn``) and
                  its tombstone they refuse a re-add of the same frames in any container.
``clip_sources``  one row per video or frame folder whose cuts were planned: its cuts' input keys, so
                  a re-ingest skips it without decoding it again.

Writers take the database's write lock with ``BEGIN IMMEDIATE`` and hold it while
they move a sample folder into place and insert its row, so two processes never
commit the same sample and a folder without a row (left by a killed process) is
an orphan that :meth:`Catalog.write` holders may remove.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from parallax.errors import InputFileError

__all__ = ["Catalog", "SCHEMA_VERSION", "utc_now"]

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS info(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS consents(
    consent_id TEXT PRIMARY KEY, contributor TEXT NOT NULL, license TEXT NOT NULL,
    allow_training INTEGER NOT NULL, date TEXT NOT NULL, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS samples(
    sample_id TEXT PRIMARY KEY, content_sha256 TEXT NOT NULL UNIQUE,
    phash_left INTEGER NOT NULL, phash_right INTEGER NOT NULL,
    contributor TEXT NOT NULL, consent_id TEXT NOT NULL, license TEXT NOT NULL,
    source_kind TEXT NOT NULL, source_format TEXT NOT NULL, device TEXT, original_name TEXT NOT NULL,
    width INTEGER NOT NULL, height INTEGER NOT NULL, manifest_sha256 TEXT NOT NULL, bytes INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'withdrawn')),
    quality TEXT NOT NULL, added_at TEXT NOT NULL, withdrawn_at TEXT);
CREATE INDEX IF NOT EXISTS samples_contributor ON samples(contributor);
CREATE TABLE IF NOT EXISTS inputs(
    input_key TEXT PRIMARY KEY, original_name TEXT NOT NULL, consent_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('accepted', 'duplicate', 'rejected')),
    reason TEXT, sample_id TEXT, added_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tombstones(
    sample_id TEXT PRIMARY KEY, content_sha256 TEXT NOT NULL, phash_left INTEGER NOT NULL,
    phash_right INTEGER NOT NULL, contributor TEXT NOT NULL, reason TEXT NOT NULL, withdrawn_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS exports(
    export_id TEXT PRIMARY KEY, url TEXT NOT NULL, format TEXT NOT NULL, created_at TEXT NOT NULL,
    samples INTEGER NOT NULL, stale INTEGER NOT NULL DEFAULT 0, stale_reason TEXT);
CREATE TABLE IF NOT EXISTS export_samples(
    export_id TEXT NOT NULL REFERENCES exports(export_id) ON DELETE CASCADE, sample_id TEXT NOT NULL,
    PRIMARY KEY (export_id, sample_id));
CREATE TABLE IF NOT EXISTS clip_frames(
    sample_id TEXT NOT NULL, frame_index INTEGER NOT NULL, source_key TEXT NOT NULL, source_index INTEGER NOT NULL,
    timestamp_s REAL NOT NULL, phash_left INTEGER NOT NULL, phash_right INTEGER NOT NULL,
    PRIMARY KEY (sample_id, frame_index));
CREATE INDEX IF NOT EXISTS clip_frames_source ON clip_frames(source_key, source_index);
CREATE TABLE IF NOT EXISTS clip_sources(
    source_key TEXT PRIMARY KEY, original_name TEXT NOT NULL, plan_key TEXT NOT NULL, cut_keys TEXT NOT NULL,
    frames INTEGER NOT NULL, planned_at TEXT NOT NULL);
"""
#: Tables added after schema 1 shipped; created when an older catalog is opened (additive only).
_ADDED_TABLES = ("clip_frames", "clip_sources")


def utc_now() -> str:
    """The current UTC time as ISO 8601 (seconds)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


class Catalog:
    """The SQLite catalog of one corpus.

    Parameters
    ----------
    path : path-like
        The database file (``<corpus>/catalog.sqlite``).
    create : bool
        Create the file and schema if missing (else a missing file is an error).
    busy_timeout_s : float
        How long a writer waits for another one's lock, seconds.
    """

    def __init__(self, path: str | Path, *, create: bool = False, busy_timeout_s: float = 120.0) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise InputFileError(f"no corpus catalog at {self.path}; create the corpus with: parallax corpus init DIR")
        try:
            self.db = sqlite3.connect(self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
            self.db.row_factory = sqlite3.Row
            self.db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = FULL")
            self.db.execute("PRAGMA foreign_keys = ON")
            if create:
                with self.write():
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            self.db.execute(statement)
                    self.db.execute("INSERT OR IGNORE INTO info VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            else:
                self._add_missing_tables()
            version = self.db.execute("SELECT value FROM info WHERE key = 'schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise InputFileError(
                f"{self.path} is not a readable corpus catalog ({exc}); restore it or init a new corpus"
            ) from exc
        if version is None or int(version[0]) > SCHEMA_VERSION:
            raise InputFileError(
                f"{self.path}: catalog schema {version and version[0]} is not one this Parallax reads; upgrade"
            )

    def _add_missing_tables(self) -> None:
        """Create the tables added since schema 1 (clip frames, clip sources) in a catalog made before them."""
        have = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "samples" not in have or all(t in have for t in _ADDED_TABLES):
            return
        with self.write():
            for statement in _SCHEMA.split(";"):
                if "clip_" in statement and statement.strip():
                    self.db.execute(statement)

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``): committed on success, rolled back on error."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- reads -------------------------------------------------------------------------------
    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """Run a query; rows as dicts."""
        return [dict(r) for r in self.db.execute(sql, params).fetchall()]

    def input_status(self, input_key: str) -> dict[str, Any] | None:
        """The row of an input already seen, or None."""
        rows = self.rows("SELECT * FROM inputs WHERE input_key = ?", (input_key,))
        return rows[0] if rows else None

    def active_samples(self, contributor: str | None = None) -> list[dict[str, Any]]:
        """Active sample rows, sorted by id (optionally of one contributor)."""
        if contributor is None:
            return self.rows("SELECT * FROM samples WHERE status = 'active' ORDER BY sample_id")
        return self.rows(
            "SELECT * FROM samples WHERE status = 'active' AND contributor = ? ORDER BY sample_id", (contributor,)
        )

    def counts(self) -> dict[str, Any]:
        """Counts for ``parallax corpus status``."""
        one = lambda sql: self.db.execute(sql).fetchone()[0]  # noqa: E731
        licences = {
            r["license"]: r["n"]
            for r in self.rows(
                "SELECT license, COUNT(*) AS n FROM samples WHERE status = 'active' GROUP BY license ORDER BY license"
            )
        }
        kinds = {
            r["source_kind"]: r["n"]
            for r in self.rows(
                "SELECT source_kind, COUNT(*) AS n FROM samples WHERE status = 'active' GROUP BY source_kind ORDER BY source_kind"
            )
        }
        return {
            "samples": one("SELECT COUNT(*) FROM samples WHERE status = 'active'"),
            "rejected": one("SELECT COUNT(*) FROM inputs WHERE status = 'rejected'"),
            "duplicates": one("SELECT COUNT(*) FROM inputs WHERE status = 'duplicate'"),
            "withdrawn": one("SELECT COUNT(*) FROM tombstones"),
            "inputs": one("SELECT COUNT(*) FROM inputs"),
            "contributors": one("SELECT COUNT(DISTINCT contributor) FROM samples WHERE status = 'active'"),
            "bytes": one("SELECT COALESCE(SUM(bytes), 0) FROM samples WHERE status = 'active'"),
            "licenses": licences,
            "source_kinds": kinds,
            "exports": one("SELECT COUNT(*) FROM exports"),
            "stale_exports": one("SELECT COUNT(*) FROM exports WHERE stale = 1"),
        }

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """The catalog's content without timestamps, sorted: equal for equal ingests, whatever the engine."""
        return {
            "samples": self.rows(
                "SELECT sample_id, content_sha256, phash_left, phash_right, contributor, consent_id, license, source_kind, "
                "source_format, device, original_name, width, height, manifest_sha256, bytes, status, quality "
                "FROM samples ORDER BY sample_id"
            ),
            "inputs": self.rows(
                "SELECT input_key, original_name, consent_id, status, reason, sample_id FROM inputs ORDER BY input_key"
            ),
            "tombstones": self.rows(
                "SELECT sample_id, content_sha256, contributor, reason FROM tombstones ORDER BY sample_id"
            ),
            "consents": self.rows(
                "SELECT consent_id, contributor, license, allow_training, date FROM consents ORDER BY consent_id"
            ),
            "clip_frames": self.rows(
                "SELECT sample_id, frame_index, source_key, source_index, timestamp_s, phash_left, phash_right "
                "FROM clip_frames ORDER BY sample_id, frame_index"
            ),
            "clip_sources": self.rows(
                "SELECT source_key, original_name, plan_key, cut_keys, frames FROM clip_sources ORDER BY source_key"
            ),
        }

    @staticmethod
    def dumps(value: Any) -> str:
        """Deterministic JSON for catalog text columns."""
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
