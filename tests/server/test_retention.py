"""Expiry and the size quota of the capture store, on a real folder with a controlled clock."""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path

import pytest

from parallax.server.retention import ABANDONED_AFTER_S, Retention, StorageFullError, folder_bytes
from parallax.server.store import CaptureStore, new_capture_id

DAY_S = 86_400.0
T0 = _dt.datetime(2025, 6, 1, tzinfo=_dt.UTC).timestamp()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _capture(store: CaptureStore, created: float, size: int, **fields) -> str:
    """A capture created at ``created`` (epoch seconds) holding ``size`` bytes of files besides its record."""
    cid, folder = store.create("photo.mpo", "owner-token")
    meta = store.meta(cid)
    meta.update(created=_dt.datetime.fromtimestamp(created, _dt.UTC).isoformat(timespec="seconds"), state="done")
    meta.update(fields)
    store.write_meta(cid, meta)
    (folder / "preview").mkdir()
    (folder / "preview" / "result.npz").write_bytes(b"\0" * size)
    return cid


@pytest.fixture()
def store(tmp_path: Path) -> CaptureStore:
    return CaptureStore(tmp_path / "captures")


def test_folder_bytes_counts_every_file(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x").write_bytes(b"1" * 100)
    (tmp_path / "y").write_bytes(b"2" * 23)
    (tmp_path / "link").symlink_to(tmp_path / "y")  # a link counts as itself, not its target
    assert folder_bytes(tmp_path) == 123 + os.lstat(tmp_path / "link").st_size
    assert folder_bytes(tmp_path / "gone") == 0


def test_scan_refresh_and_forget_keep_the_total(store):
    a = _capture(store, T0, 1000)
    b = _capture(store, T0, 500)
    retention = Retention(store)
    total = retention.scan()
    assert total == folder_bytes(store.root / a) + folder_bytes(store.root / b) == retention.used_bytes
    (store.root / a / "preview" / "more").write_bytes(b"\0" * 4000)
    retention.refresh(a)
    assert retention.used_bytes == total + 4000
    store.delete(b)
    retention.refresh(b)  # a folder that is gone counts nothing
    assert retention.used_bytes == folder_bytes(store.root / a)


def test_captures_expire_after_the_set_time_unless_contributed(store):
    clock = Clock(T0 + 10 * DAY_S)
    old = _capture(store, T0, 10)
    contributed = _capture(store, T0, 10, contribution={"status": "contributed", "license": "CC0-1.0"})
    withdrawn = _capture(store, T0, 10, contribution={"status": "withdrawn"})
    fresh = _capture(store, T0 + 9.5 * DAY_S, 10)
    busy = _capture(store, T0, 10)
    retention = Retention(store, expire_after_s=7 * DAY_S, clock=clock)
    retention.scan()
    assert retention.expires_at(store.meta(old)) == pytest.approx(T0 + 7 * DAY_S)
    assert retention.expires_at(store.meta(contributed)) is None
    assert sorted(retention.sweep(busy={busy})) == sorted([old, withdrawn])
    left = {p.name for p in store.root.iterdir()}
    assert left == {contributed, fresh, busy}
    assert Retention(store, clock=clock).sweep() == []  # no expiry set: nothing expires


def test_abandoned_uploads_go_but_not_what_is_not_ours(store, tmp_path):
    clock = Clock(T0 + 2 * ABANDONED_AFTER_S)
    stuck = _capture(store, T0, 10, state="uploading")  # the server died mid-upload
    uploading = _capture(store, clock.now - 5, 10, state="uploading")  # an upload arriving now
    no_record = store.root / new_capture_id()
    no_record.mkdir()
    (no_record / "upload").mkdir()
    os.utime(no_record, (T0, T0))
    not_an_id = store.root / "notes"
    not_an_id.mkdir()
    os.utime(not_an_id, (T0, T0))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    link = store.root / new_capture_id()
    link.symlink_to(outside, target_is_directory=True)
    retention = Retention(store, clock=clock)
    assert sorted(retention.sweep()) == sorted([stuck, no_record.name])
    assert (store.root / uploading).is_dir() and not_an_id.is_dir() and link.is_symlink()
    assert (outside / "keep.txt").read_text() == "mine"


def test_make_room_removes_the_oldest_first_then_refuses(store):
    clock = Clock(T0 + 30 * DAY_S)
    oldest = _capture(store, T0, 3000)
    older = _capture(store, T0 + DAY_S, 3000)
    kept = _capture(store, T0 + 29.9 * DAY_S, 3000)  # not expired
    retention = Retention(store, expire_after_s=7 * DAY_S, max_bytes=11_000, clock=clock)
    used = retention.scan()
    assert retention.make_room(11_000 - used) == []  # fits: nothing removed
    assert retention.make_room(2000) == [oldest]  # one expired capture is enough, the oldest goes
    assert (store.root / older).is_dir()
    with pytest.raises(StorageFullError, match=r"storage is full .*quota"):
        retention.make_room(9000)  # even without every expired capture it does not fit
    assert {p.name for p in store.root.iterdir()} == {kept}
    assert Retention(store, clock=clock).make_room(10**12) == []  # no quota: anything fits


def test_a_broken_record_is_abandoned_only_when_old(store):
    clock = Clock(T0)
    cid = _capture(store, T0, 10)
    (store.root / cid / "meta.json").write_text(json.dumps([1, 2]))
    os.utime(store.root / cid, (T0 - 5, T0 - 5))
    assert Retention(store, clock=clock).sweep() == []
    clock.now = T0 + 2 * ABANDONED_AFTER_S
    assert Retention(store, clock=clock).sweep() == [cid]
