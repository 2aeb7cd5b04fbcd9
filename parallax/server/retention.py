"""How long captures stay and how much room they may take: expiry and the store's size quota.

* A capture **expires** ``expire_after_s`` seconds after its upload (its record's
  ``created`` time) and is then deleted with its files and link, unless it was
  contributed to the corpus (its owner must stay able to withdraw it).
* A capture is **abandoned** when nothing can use it: a folder without a readable
  record, or an upload whose processing never started (record still ``uploading``)
  after :data:`ABANDONED_AFTER_S` — what a crash mid-upload leaves behind.
* The **quota** counts the bytes of every file under the captures folder. Before an
  upload, :meth:`Retention.make_room` removes abandoned, then expired captures, oldest
  first, until the upload fits, and raises :class:`StorageFullError` (answered 507)
  when it still does not.

Sizes are measured per capture folder and kept up to date by :meth:`Retention.refresh`
(the service calls it whenever a capture's files change), so no request walks the
whole store. Only folders whose names are capture ids are ever counted or removed,
never a symbolic link.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from parallax.errors import OutputError
from parallax.server.store import ID_PATTERN, CaptureNotFoundError, CaptureStore

__all__ = ["ABANDONED_AFTER_S", "Retention", "StorageFullError", "folder_bytes"]

log = logging.getLogger("parallax.server")

#: Seconds after which a capture folder with no record, or an upload never processed, is abandoned.
ABANDONED_AFTER_S = 600.0


class StorageFullError(OutputError):
    """The capture store is at its size quota (or the disk is full); the upload is refused (HTTP 507)."""


def folder_bytes(folder: Path) -> int:
    """Total size in bytes of the files under ``folder`` (symbolic links not followed); 0 if it is gone."""
    total = 0
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:  # removed while we looked
                pass
    return total


def _created_s(meta: dict[str, Any]) -> float | None:
    try:
        return _dt.datetime.fromisoformat(str(meta["created"])).timestamp()
    except (KeyError, ValueError):
        return None


def _contributed(meta: dict[str, Any]) -> bool:
    contrib = meta.get("contribution")
    return isinstance(contrib, dict) and contrib.get("status") == "contributed"


class Retention:
    """Expiry and size quota of one :class:`~parallax.server.store.CaptureStore`.

    Parameters
    ----------
    store : CaptureStore
        The captures.
    expire_after_s : float, optional
        Seconds from upload to deletion; ``None`` = never.
    max_bytes : int, optional
        Size quota of the captures folder in bytes; ``None`` = none.
    clock : callable
        Wall-clock time in seconds since the epoch (tests pass their own).
    """

    def __init__(
        self,
        store: CaptureStore,
        *,
        expire_after_s: float | None = None,
        max_bytes: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.expire_after_s = expire_after_s
        self.max_bytes = max_bytes
        self.clock = clock
        self._sizes: dict[str, int] = {}
        self._lock = threading.Lock()

    # -- sizes -------------------------------------------------------------------------------
    def _folders(self) -> list[Path]:
        try:
            entries = list(self.store.root.iterdir())
        except FileNotFoundError:
            return []
        return [p for p in entries if ID_PATTERN.fullmatch(p.name) and not p.is_symlink() and p.is_dir()]

    def scan(self) -> int:
        """Measure every capture folder (at start-up); return the total in bytes."""
        sizes = {p.name: folder_bytes(p) for p in self._folders()}
        with self._lock:
            self._sizes = sizes
        return sum(sizes.values())

    def refresh(self, capture_id: str) -> None:
        """Measure one capture folder again (after its files changed)."""
        folder = self.store.root / capture_id
        if not ID_PATTERN.fullmatch(capture_id) or folder.is_symlink():
            return
        size = folder_bytes(folder) if folder.is_dir() else None
        with self._lock:
            if size is None:
                self._sizes.pop(capture_id, None)
            else:
                self._sizes[capture_id] = size

    def forget(self, capture_id: str) -> None:
        """Drop a deleted capture from the count."""
        with self._lock:
            self._sizes.pop(capture_id, None)

    @property
    def used_bytes(self) -> int:
        """Bytes the captures take, as last measured."""
        with self._lock:
            return sum(self._sizes.values())

    # -- expiry ------------------------------------------------------------------------------
    def expires_at(self, meta: dict[str, Any]) -> float | None:
        """When a capture with this record expires (seconds since the epoch); ``None`` if never."""
        if self.expire_after_s is None or _contributed(meta):
            return None
        created = _created_s(meta)
        return None if created is None else created + self.expire_after_s

    def _candidates(self, busy: Collection[str]) -> list[tuple[int, float, str]]:
        """``(kind, time, id)`` of captures that may go: kind 0 abandoned, 1 expired; oldest first in each."""
        now = self.clock()
        out: list[tuple[int, float, str]] = []
        for folder in self._folders():
            cid = folder.name
            if cid in busy:
                continue
            try:
                meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
                if not isinstance(meta, dict):
                    raise ValueError("not a record")
            except (OSError, ValueError):
                try:
                    changed = folder.stat().st_mtime
                except OSError:
                    continue
                if now - changed > ABANDONED_AFTER_S:
                    out.append((0, changed, cid))
                continue
            created = _created_s(meta) or 0.0
            if meta.get("state") == "uploading" and now - created > ABANDONED_AFTER_S:
                out.append((0, created, cid))
                continue
            expires = self.expires_at(meta)
            if expires is not None and expires <= now:
                out.append((1, created, cid))
        return sorted(out)

    def _remove(self, capture_id: str) -> bool:
        try:
            self.store.delete(capture_id, must_exist=False)
        except (CaptureNotFoundError, OSError) as exc:
            log.warning("could not remove capture %s: %s", capture_id, exc)
            return False
        self.forget(capture_id)
        return True

    def sweep(self, busy: Collection[str] = ()) -> list[str]:
        """Remove every abandoned and expired capture not in ``busy``; return the ids removed."""
        return [cid for _, _, cid in self._candidates(busy) if self._remove(cid)]

    def make_room(self, incoming_bytes: int, busy: Collection[str] = ()) -> list[str]:
        """Make room for ``incoming_bytes`` within the quota; return the ids of captures removed for it.

        Raises
        ------
        StorageFullError
            When abandoned and expired captures are gone and the upload still does not fit.
        """
        if self.max_bytes is None or self.used_bytes + incoming_bytes <= self.max_bytes:
            return []
        removed = []
        for _, _, cid in self._candidates(busy):
            if self._remove(cid):
                removed.append(cid)
            if self.used_bytes + incoming_bytes <= self.max_bytes:
                return removed
        raise StorageFullError(
            f"this server's storage is full ({self.max_bytes / 1e9:.2f} GB quota, "
            f"{self.used_bytes / 1e9:.2f} GB in use); try again later"
        )
