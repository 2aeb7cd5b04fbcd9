"""Frame-level dedup for clips: which planned frames stored clips hold, and the overlap rule."""

from __future__ import annotations

import pytest

from parallax.corpus.catalog import Catalog
from parallax.corpus.clip_cut import PlannedFrame
from parallax.corpus.clip_dedup import (
    FrameOverlap,
    content_from_frame_hashes,
    decide_overlap,
    frame_overlap,
    longest_run,
)
from parallax.corpus.clip_sample import clip_content_sha256
from parallax.corpus.encoding import pixel_sha256


def _frame(i: int, left: int, right: int) -> PlannedFrame:
    return PlannedFrame(source_index=i, timestamp_s=i / 10, phash=(left, right), pixel_sha256=f"{i:064x}")


@pytest.fixture()
def catalog(tmp_path):
    cat = Catalog(tmp_path / "catalog.sqlite", create=True)
    with cat.write() as db:
        for sid, status in (("c-a", "active"), ("c-gone", "withdrawn")):
            db.execute(
                "INSERT INTO samples VALUES (?, ?, 0, 0, 'alice', 'k', 'CC0-1.0', 'video', 'sbs-video', NULL, 'x', 8, 8,"
                " 'm', 1, ?, '{}', 'now', NULL)",
                (sid, sid + "-content", status),
            )
        # c-a holds frames 0..4 of source "file-1" with hashes (i, i); c-gone frames 0..1 of "file-9" (1000+i)
        for i in range(5):
            db.execute(
                "INSERT INTO clip_frames VALUES ('c-a', ?, 'file-1', ?, ?, ?, ?)", (i, i, i / 10, 1 << i, -1 << i)
            )
        for i in range(2):
            db.execute(
                "INSERT INTO clip_frames VALUES ('c-gone', ?, 'file-9', ?, ?, ?, ?)", (i, i, i / 10, 3 << 40, 5 << 40)
            )
    yield cat
    cat.close()


def test_frames_of_another_source_match_by_perceptual_hash(catalog):
    frames = [_frame(7, 1 << 2, -1 << 2), _frame(8, (1 << 2) ^ (0b111 << 50), -1 << 2), _frame(9, 0x0F0F0F0F0F0F, 77)]
    overlap = frame_overlap(catalog.db, frames, source_key="file-2", bits=3)
    assert overlap.held_by == ("c-a", "c-a", None)  # 0 and 3 bits away: held; unrelated: new
    assert overlap.withdrawn_by == (None, None, None)
    assert frame_overlap(catalog.db, frames, source_key="file-2", bits=2).held_by == ("c-a", None, None)


def test_frames_of_the_same_source_match_only_by_frame_number(catalog):
    # a static camera: frame 12 of file-1 looks exactly like frame 2 (same hashes) but is another frame
    frames = [_frame(2, 1 << 2, -1 << 2), _frame(12, 1 << 2, -1 << 2)]
    overlap = frame_overlap(catalog.db, frames, source_key="file-1", bits=10)
    assert overlap.held_by == ("c-a", None)


def test_withdrawn_frames_are_reported(catalog):
    frames = [_frame(0, 3 << 40, 5 << 40), _frame(1, 12345, 6789)]
    overlap = frame_overlap(catalog.db, frames, source_key="file-3", bits=4)
    assert overlap.withdrawn_by == ("c-gone", None) and overlap.held_by == (None, None)
    status, reason, sid, _ = decide_overlap(overlap, frames, min_frames=1)
    assert status == "rejected" and sid is None
    assert reason == "1 of 2 frames are frames of withdrawn sample c-gone; consent was withdrawn"


def test_the_overlap_rule():
    frames = [_frame(i, i, i) for i in range(10)]
    none = FrameOverlap(held_by=(None,) * 10, withdrawn_by=(None,) * 10)
    assert decide_overlap(none, frames, min_frames=4) == ("new", None, None, (0, 10))
    every = FrameOverlap(held_by=("c-x",) * 10, withdrawn_by=(None,) * 10)
    assert decide_overlap(every, frames, min_frames=4) == (
        "duplicate",
        "all 10 frames are already stored (in sample c-x)",
        "c-x",
        (0, 0),
    )
    # the first 4 frames are stored: trimmed to frames 4..9
    head = FrameOverlap(held_by=("c-x",) * 4 + (None,) * 6, withdrawn_by=(None,) * 10)
    assert decide_overlap(head, frames, min_frames=4) == ("new", None, None, (4, 10))
    # new frames on both sides of stored ones: the longer run is kept
    middle = FrameOverlap(held_by=(None,) * 2 + ("c-x",) * 3 + (None,) * 5, withdrawn_by=(None,) * 10)
    assert decide_overlap(middle, frames, min_frames=4)[3] == (5, 10)
    # too few new frames left: a duplicate
    status, reason, sid, _ = decide_overlap(middle, frames, min_frames=6)
    assert (status, sid) == ("duplicate", "c-x")
    assert reason == "3 of 10 frames are already stored (in sample c-x); the longest run of new frames has 5 < 6"


def test_longest_run():
    assert longest_run([]) == (0, 0)
    assert longest_run([False, False]) == (0, 0)
    assert longest_run([True, True, False, True]) == (0, 2)
    assert longest_run([True, False, True, True, True]) == (2, 5)


def test_content_hash_from_frame_hashes_equals_the_clip_content_hash():
    import numpy as np

    rng = np.random.default_rng(3)
    frames = [tuple(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8) for _ in range(2)) for _ in range(3)]
    assert content_from_frame_hashes([pixel_sha256(a, b) for a, b in frames]) == clip_content_sha256(frames)
