"""Dedup for clips: frame-level keys in the catalog, and the overlap rule.

Every stored frame of a clip cut from a video has a ``clip_frames`` row: the
source it came from (the input key of the file or frame folder, and its frame
number there) and the 64-bit perceptual hashes of its views (taken, as for
stills, on the views downsized to the stored size, before blurring). A frame of
a new cut is **held** by a stored frame when

* it comes from the same source file with the same frame number (cuts of one
  file never overlap; this also catches a rerun with other cut settings), or
* it comes from another source and both views' perceptual hashes are within
  ``near_duplicate_bits`` bits (the same frames as MV-HEVC, side-by-side or a
  frame folder decode to nearly the same pixels; re-encodes and resizes keep
  the hashes close).

Every frame is a keyframe here: each new frame is compared with all stored
frames at once (vectorised XOR and popcount over the catalog's hashes).

The rule, decided at commit time under the catalog's write lock on the cut's
planned frames (so both engines, and concurrent ingests, decide alike):

* a frame held by a **withdrawn** clip: the cut is rejected ("consent was withdrawn");
* every frame held: the cut is a **duplicate** of the sample holding most of them;
* some frames held: the cut is **trimmed** to its longest run of new frames
  (shorter than ``clip_min_frames``: a duplicate). Overlapping cuts thus never
  make two samples of the same frames, while new footage next to stored footage
  is kept. Only the longest run is kept (a cut whose new frames sit on both
  sides of stored ones keeps one side).

Beyond that, a clip whose content hash (over the source pixels of the frames it
stores) equals a stored or withdrawn sample's is a duplicate or rejected, as for stills.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from parallax.corpus.clip_cut import PlannedFrame

__all__ = ["FrameOverlap", "frame_overlap", "decide_overlap", "content_from_frame_hashes", "longest_run"]


@dataclass(frozen=True, kw_only=True)
class FrameOverlap:
    """Per planned frame of a cut: the active sample holding it (or None), and a withdrawn one (or None)."""

    held_by: tuple[str | None, ...]
    withdrawn_by: tuple[str | None, ...]

    @property
    def held(self) -> int:
        """How many frames an active sample holds."""
        return sum(h is not None for h in self.held_by)


def _as_u64(values: Sequence[int]) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).view(np.uint64)


def frame_overlap(db: Any, frames: Sequence[PlannedFrame], *, source_key: str, bits: int) -> FrameOverlap:
    """Which of ``frames`` (a cut's planned frames from source ``source_key``) stored clips hold (module docstring)."""
    rows = db.execute(
        "SELECT f.sample_id, f.source_key, f.source_index, f.phash_left, f.phash_right, s.status "
        "FROM clip_frames f JOIN samples s ON s.sample_id = f.sample_id ORDER BY f.sample_id, f.frame_index"
    ).fetchall()
    n = len(frames)
    if not rows or not n:
        return FrameOverlap(held_by=(None,) * n, withdrawn_by=(None,) * n)
    ids = np.array([r[0] for r in rows], dtype=object)
    same = np.array([r[1] == source_key for r in rows])
    index = np.array([r[2] for r in rows], dtype=np.int64)
    left, right = _as_u64([r[3] for r in rows]), _as_u64([r[4] for r in rows])
    active = np.array([r[5] == "active" for r in rows])
    held: list[str | None] = []
    gone: list[str | None] = []
    for f in frames:
        near = (np.bitwise_count(left ^ _as_u64([f.phash[0]])) <= bits) & (
            np.bitwise_count(right ^ _as_u64([f.phash[1]])) <= bits
        )
        hit = np.where(same, index == f.source_index, near)
        on = np.nonzero(hit & active)[0]
        off = np.nonzero(hit & ~active)[0]
        held.append(str(ids[on[0]]) if on.size else None)
        gone.append(str(ids[off[0]]) if off.size else None)
    return FrameOverlap(held_by=tuple(held), withdrawn_by=tuple(gone))


def longest_run(new: Sequence[bool]) -> tuple[int, int]:
    """``(start, stop)`` of the longest run of True in ``new`` (the first of equal ones); ``(0, 0)`` if none."""
    best, start = (0, 0), None
    for i, flag in enumerate([*new, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            if i - start > best[1] - best[0]:
                best = (start, i)
            start = None
    return best


def decide_overlap(
    overlap: FrameOverlap, frames: Sequence[PlannedFrame], *, min_frames: int
) -> tuple[str, str | None, str | None, tuple[int, int]]:
    """Apply the overlap rule: ``(status, reason, sample_id, (start, stop))``.

    ``status`` is ``"new"`` (keep ``frames[start:stop]``, all of them or a trimmed run),
    ``"duplicate"`` or ``"rejected"``.
    """
    n = len(frames)
    gone = [g for g in overlap.withdrawn_by if g is not None]
    if gone:
        sid = Counter(gone).most_common(1)[0][0]
        return (
            "rejected",
            f"{len(gone)} of {n} frames are frames of withdrawn sample {sid}; consent was withdrawn",
            None,
            (0, 0),
        )
    holders = [h for h in overlap.held_by if h is not None]
    if not holders:
        return "new", None, None, (0, n)
    main = Counter(holders).most_common(1)[0][0]
    if len(holders) == n:
        return "duplicate", f"all {n} frames are already stored (in sample {main})", main, (0, 0)
    start, stop = longest_run([h is None for h in overlap.held_by])
    if stop - start < min_frames:
        return (
            "duplicate",
            f"{len(holders)} of {n} frames are already stored (in sample {main}); the longest run of new "
            f"frames has {stop - start} < {min_frames}",
            main,
            (0, 0),
        )
    return "new", None, None, (start, stop)


def content_from_frame_hashes(pixel_sha256s: Sequence[str]) -> str:
    """A clip's content hash from its frames' :func:`~parallax.corpus.encoding.pixel_sha256` hex digests
    (equal to :func:`~parallax.corpus.clip_sample.clip_content_sha256` over the same frames)."""
    h = hashlib.sha256(b"parallax-clip;")
    for digest in pixel_sha256s:
        h.update(digest.encode("ascii"))
    return h.hexdigest()
