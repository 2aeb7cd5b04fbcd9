"""Withdrawal (with tombstones and stale exports) and verification of a corpus.

Withdrawal commits first (the sample rows become ``withdrawn``, a tombstone is
written, every export that holds one of them is marked stale), then deletes the
sample folders; a crash in between leaves folders that the next
:meth:`~parallax.corpus.store.Corpus.recover` removes, and :func:`verify`
reports until then.

:func:`verify` proves two things from what is on disk, not only from the
catalog: every active sample's files match the SHA-256 recorded in its
``meta.json`` (whose own hash is in the catalog), and no export that still
exists holds a withdrawn sample.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from parallax.corpus.catalog import utc_now
from parallax.corpus.storage import Storage
from parallax.corpus.store import Corpus
from parallax.errors import ParameterError

__all__ = ["withdraw", "verify", "VerifyReport"]


def withdraw(
    corpus: Corpus, *, contributor: str | None = None, sample_id: str | None = None, reason: str = "consent withdrawn"
) -> list[str]:
    """Withdraw every active sample of ``contributor``, or one sample; return the withdrawn ids.

    Raises
    ------
    ParameterError
        If neither or both of ``contributor`` and ``sample_id`` are given, or nothing matches.
    """
    if (contributor is None) == (sample_id is None):
        raise ParameterError("withdraw needs exactly one of --contributor ID or --sample ID")
    corpus.recover()
    now = utc_now()
    with corpus.catalog.write() as db:
        if contributor is not None:
            rows = db.execute(
                "SELECT * FROM samples WHERE status = 'active' AND contributor = ? ORDER BY sample_id", (contributor,)
            ).fetchall()
            what = f"contributor {contributor!r}"
        else:
            rows = db.execute(
                "SELECT * FROM samples WHERE status = 'active' AND sample_id = ?", (sample_id,)
            ).fetchall()
            what = f"sample {sample_id!r}"
        if not rows:
            raise ParameterError(
                f"no active sample of {what} in {corpus.root}; check the id with: parallax corpus status --json"
            )
        ids = [r["sample_id"] for r in rows]
        for r in rows:
            db.execute(
                "UPDATE samples SET status = 'withdrawn', withdrawn_at = ? WHERE sample_id = ?", (now, r["sample_id"])
            )
            db.execute(
                "INSERT OR REPLACE INTO tombstones VALUES (?, ?, ?, ?, ?, ?, ?)",
                (r["sample_id"], r["content_sha256"], r["phash_left"], r["phash_right"], r["contributor"], reason, now),
            )
        marks = ",".join("?" * len(ids))
        stale = [
            e[0] for e in db.execute(f"SELECT DISTINCT export_id FROM export_samples WHERE sample_id IN ({marks})", ids)
        ]
        for export_id in stale:
            db.execute(
                "UPDATE exports SET stale = 1, stale_reason = ? WHERE export_id = ?",
                (f"holds withdrawn samples (withdrawn {now}); re-export", export_id),
            )
    for sid in ids:
        corpus.storage.remove(sid)
    return ids


@dataclass(kw_only=True)
class VerifyReport:
    """Outcome of :func:`verify`: ``ok`` when ``problems`` is empty."""

    samples_checked: int = 0
    files_checked: int = 0
    exports_checked: int = 0
    problems: list[str] = field(default_factory=list)
    stale_exports: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "ok": self.ok,
            "samples_checked": self.samples_checked,
            "files_checked": self.files_checked,
            "exports_checked": self.exports_checked,
            "stale_exports": self.stale_exports,
            "problems": self.problems,
        }


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sha_file(store: Storage, rel: str) -> str:
    """SHA-256 of a (possibly large) file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with store.open(rel, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(corpus: Corpus, *, check_export_files: bool = True) -> VerifyReport:
    """Check every sample file against its hash, and every existing export against the tombstones."""
    report = VerifyReport()
    cat = corpus.catalog
    for row in cat.active_samples():
        sid = row["sample_id"]
        report.samples_checked += 1
        try:
            meta_bytes = corpus.storage.read_bytes(f"{sid}/meta.json")
        except FileNotFoundError:
            report.problems.append(f"sample {sid}: folder or meta.json missing")
            continue
        if _sha(meta_bytes) != row["manifest_sha256"]:
            report.problems.append(f"sample {sid}: meta.json does not match the catalog's hash")
            continue
        for info in json.loads(meta_bytes)["files"].values():
            report.files_checked += 1
            try:
                data = corpus.storage.read_bytes(f"{sid}/{info['path']}")
            except FileNotFoundError:
                report.problems.append(f"sample {sid}: {info['path']} missing")
                continue
            if _sha(data) != info["sha256"]:
                report.problems.append(f"sample {sid}: {info['path']} does not match its SHA-256")
    withdrawn = {r["sample_id"] for r in cat.rows("SELECT sample_id FROM tombstones")}
    for sid in sorted(withdrawn):
        if corpus.storage.exists(sid):
            report.problems.append(
                f"withdrawn sample {sid}: its folder still exists (run parallax corpus add or withdraw again)"
            )
    for export in cat.rows("SELECT * FROM exports ORDER BY export_id"):
        store = Storage(export["url"])
        try:
            listing = json.loads(store.read_bytes("export.json"))
        except FileNotFoundError:
            continue  # the export was deleted: it holds nothing any more
        if listing.get("export_id") != export["export_id"]:
            continue  # replaced by a later export in the same place (checked as that one)
        report.exports_checked += 1
        held = {sid for ids in listing["samples"].values() for sid in ids}
        leaked = sorted(held & withdrawn)
        if leaked or export["stale"]:
            report.stale_exports.append(export["url"])
        if leaked:
            report.problems.append(
                f"export {export['url']} is stale: it holds {len(leaked)} withdrawn sample(s) ({', '.join(leaked[:5])}); "
                f"re-export with: parallax corpus export --format {export['format']} --out {export['url']}"
            )
        if check_export_files:
            for shard in listing["shards"]:
                report.files_checked += 1
                try:
                    digest = _sha_file(store, shard["path"])
                except FileNotFoundError:
                    report.problems.append(f"export {export['url']}: shard {shard['path']} missing")
                    continue
                if digest != shard["sha256"]:
                    report.problems.append(f"export {export['url']}: shard {shard['path']} does not match its SHA-256")
    return report
