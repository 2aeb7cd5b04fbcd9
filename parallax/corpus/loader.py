"""A PyTorch ``IterableDataset`` over exported WebDataset shards: still pairs, or windows of clip frames, mixed by weight.

Still pairs (``clip_length=None``, the default): each item is a dict of tensors::

    left, right   uint8  [3, H, W]   rectified views (RGB)
    disparity     float32 [H, W]     pixels of the left view, x_right = x_left - d; 0 where not valid
    valid         bool   [H, W]      True where the disparity has a value
    K             float32 [3, 3]     intrinsics of the rectified left view (OpenCV)
    baseline_m    float32 []         metres; NaN when unknown (depth then relative)
    sample_id, source, source_kind   str

Clip samples are left out then.

Windows (``clip_length=T``, ``stride=S``): a clip of ``F`` frames gives the
``floor((F - T) / S) + 1`` windows starting at frames ``0, S, 2S, ...`` (none if
``F < T``); each item holds ``T`` consecutive frames in time order::

    left, right   uint8   [T, 3, H, W]
    disparity     float32 [T, H, W]  0 where not valid
    valid         bool    [T, H, W]
    poses         float32 [T, 4, 4]  camera-to-world of the rectified left camera, OpenCV axes; NaN when unknown
    K             float32 [T, 3, 3]
    timestamps    float64 [T]        seconds from the start of the source video
    frame_indices int64   [T]        the frames' indices in their clip
    baseline_m    float32 []
    clip_id, sample_id (both the clip's id), source, source_kind   str

A still pair has no time: with ``clip_length=1`` each still is a window of one
frame (pose NaN, timestamp 0, frame index 0, ``clip_id`` = its sample id), so
stills and clip frames mix in one stream; with ``clip_length > 1`` stills are left
out. A clip exported as stored windows (``export --clip-window``) gives only the
windows that lie inside one stored window (``dropped_windows`` counts the others).

Only the frames of the windows a worker reads are decoded, each once; a worker
holds at most one window's frames (see :mod:`parallax.corpus.wds_read`).

Splitting: the units (stills, or windows) of every source are numbered in shard
order; unit ``i`` goes to the worker slot ``i % (world_size * num_workers)``, with
slot ``worker_id * world_size + rank``. Every unit is read by exactly one slot per
epoch, whatever the number of DataLoader workers and ranks.

Mixing ("synthetic builds the map, real keeps it true"): at each step one
source is drawn with probability proportional to its weight among the sources
not yet exhausted (seeded by ``seed``, the epoch and the slot). With
``stop="all"`` (default) an epoch yields every unit of every source once, the
weights setting how they interleave; with ``stop="first"`` the epoch ends when
the first source runs out, so the yielded mix follows the weights. Make one
export per kind of data (real stills and clips, synthetic clips, ...) to weight them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from parallax.corpus.storage import Storage
from parallax.corpus.wds_read import WantedKey, decode_wds_sample, read_shard
from parallax.errors import InputFileError, ParameterError, require

__all__ = ["CorpusDataset", "decode_wds_sample", "window_count"]

torch = require("torch", "torch", "the corpus loader")


def window_count(frames: int, length: int, stride: int) -> int:
    """Windows of ``length`` frames every ``stride`` frames in a clip of ``frames`` frames: ``floor((F-T)/S)+1``, or 0."""
    return 0 if frames < length else (frames - length) // stride + 1


def _still_tensors(sample: dict[str, Any], source: str) -> dict[str, Any]:
    return {
        "left": torch.from_numpy(np.ascontiguousarray(sample["left"].transpose(2, 0, 1))),
        "right": torch.from_numpy(np.ascontiguousarray(sample["right"].transpose(2, 0, 1))),
        "disparity": torch.from_numpy(sample["disparity"]),
        "valid": torch.from_numpy(sample["valid"]),
        "K": torch.from_numpy(sample["K"]),
        "baseline_m": torch.tensor(float(sample["baseline_m"]), dtype=torch.float32),
        "sample_id": sample["sample_id"],
        "source": source,
        "source_kind": sample["source_kind"],
    }


def _window_tensors(frames: list[dict[str, Any]], facts: dict[str, Any], source: str) -> dict[str, Any]:
    def stack(name: str) -> Any:
        return torch.from_numpy(np.stack([f[name] for f in frames]))

    return {
        "left": torch.from_numpy(np.stack([f["left"].transpose(2, 0, 1) for f in frames])),
        "right": torch.from_numpy(np.stack([f["right"].transpose(2, 0, 1) for f in frames])),
        "disparity": stack("disparity"),
        "valid": stack("valid"),
        "poses": stack("pose"),
        "K": stack("K"),
        "timestamps": torch.tensor([f["timestamp_s"] for f in frames], dtype=torch.float64),
        "frame_indices": torch.tensor([f["index"] for f in frames], dtype=torch.int64),
        "baseline_m": torch.tensor(float(facts["baseline_m"]), dtype=torch.float32),
        "clip_id": facts["sample_id"],
        "sample_id": facts["sample_id"],
        "source": source,
        "source_kind": facts["source_kind"],
    }


def _still_window(sample: dict[str, Any], source: str) -> dict[str, Any]:
    frame = {**sample, "pose": np.full((4, 4), np.nan, np.float32), "timestamp_s": 0.0, "index": 0}
    return _window_tensors([frame], sample, source)


def _clip_window(meta: dict[str, Any], frames: list[dict[str, Any]], source: str) -> dict[str, Any]:
    b = meta["camera"].get("baseline_m")
    facts = {
        "sample_id": meta["sample_id"],
        "source_kind": meta["source"]["kind"],
        "baseline_m": math.nan if b is None else b,
    }
    return _window_tensors(frames, facts, source)


@dataclass
class _Source:
    """One export's units for one split: per shard, the keys and the unit number of each still / window."""

    url: str
    shards: list[tuple[str, list[tuple[WantedKey, list[int]]]]] = field(default_factory=list)
    units: int = 0
    clip_parts: int = 0
    longest: int = 0
    dropped: int = 0
    has_clips: bool = False


def _plan(url: str, listing: dict[str, Any], split: str, length: int | None, stride: int) -> _Source:
    src = _Source(url=url, has_clips=any(s.get("kind") == "clip" for s in listing["shards"]))
    shards = [s for s in listing["shards"] if s["split"] == split]
    parts: dict[str, list[tuple[int, int, int, str]]] = {}
    counts: dict[str, int] = {}
    for si, s in enumerate(shards):
        for c in s.get("clips", []) if s.get("kind") == "clip" else []:
            parts.setdefault(c["sample_id"], []).append((c["start"], c["stop"], si, c["key"]))
            counts[c["sample_id"]] = int(c["frame_count"])
            src.clip_parts += 1
            src.longest = max(src.longest, c["stop"] - c["start"])
    starts: dict[tuple[int, str], list[int]] = {}
    if length is not None:
        for sid, ps in parts.items():
            ps.sort()
            for start in range(0, counts[sid] - length + 1, stride):
                home = next(((si, key) for a, b, si, key in ps if a <= start and start + length <= b), None)
                if home is None:
                    src.dropped += 1
                else:
                    starts.setdefault(home, []).append(start)
    for si, s in enumerate(shards):
        entries: list[tuple[WantedKey, list[int]]] = []
        if s.get("kind", "still") == "still":
            if length is None or length == 1:
                for key in s["keys"]:
                    entries.append((WantedKey(key, "still"), [src.units]))
                    src.units += 1
        else:
            for c in s["clips"]:
                mine = starts.get((si, c["key"]), [])
                if mine:
                    entries.append(
                        (WantedKey(c["key"], "clip", tuple(mine)), list(range(src.units, src.units + len(mine))))
                    )
                    src.units += len(mine)
        if entries:
            src.shards.append((s["path"], entries))
    return src


def _check_positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ParameterError(f"{name}={value!r} must be a whole number of frames >= 1")
    return int(value)


# torch is imported lazily through require() (an untyped module object), so mypy cannot see the base class by name
_IterableDataset: Any = torch.utils.data.IterableDataset


class CorpusDataset(_IterableDataset):
    """Stream still pairs, or windows of clip frames, of one split from WebDataset exports, mixing sources.

    Parameters
    ----------
    sources : str, sequence of str, or mapping of name to str
        Export folders (or fsspec URLs) written by ``parallax corpus export --format webdataset``.
        A mapping names the sources (e.g. ``{"real": ..., "synthetic": ...}``) for ``weights``.
    split : {"train", "val", "test"}
    weights : mapping of name to float, optional
        Mixing weights per source (default equal).
    seed : int
        Seed of the mixing and of the per-epoch shard order.
    shuffle_shards : bool
        Shuffle the shard order each epoch (seeded); units keep their slot assignment by index.
    rank, world_size : int, optional
        Distributed rank and size; default from ``torch.distributed`` when initialised, else 0 and 1.
    stop : {"all", "first"}
        End the epoch when all sources are exhausted (each unit once) or when the first is.
    clip_length : int, optional
        ``T``: yield windows of ``T`` consecutive clip frames (see the module docstring);
        ``None``: yield still pairs.
    stride : int
        ``S``: frames between the starts of consecutive windows of a clip (default 1).

    Raises
    ------
    ParameterError
        For bad weights, ``clip_length`` or ``stride`` below 1, or a ``clip_length``
        longer than every clip of the split (or ``> 1`` for sources without clips).
    InputFileError
        If a source is not a WebDataset export.
    """

    def __init__(
        self,
        sources: str | Sequence[str] | Mapping[str, str],
        *,
        split: str = "train",
        weights: Mapping[str, float] | None = None,
        seed: int = 0,
        shuffle_shards: bool = False,
        rank: int | None = None,
        world_size: int | None = None,
        stop: str = "all",
        clip_length: int | None = None,
        stride: int | None = None,
    ) -> None:
        super().__init__()
        if isinstance(sources, str):
            sources = {"default": sources}
        elif not isinstance(sources, Mapping):
            sources = {f"source{i}": s for i, s in enumerate(sources)}
        if not sources:
            raise ParameterError("CorpusDataset needs at least one export folder")
        if stop not in ("all", "first"):
            raise ParameterError(f"stop={stop!r} must be 'all' or 'first'")
        weights = dict(weights or {name: 1.0 for name in sources})
        for name in sources:
            w = weights.get(name)
            if w is None or not (math.isfinite(w) and w > 0):
                raise ParameterError(f"weights[{name!r}] must be a positive number, got {w!r}")
        unknown = set(weights) - set(sources)
        if unknown:
            raise ParameterError(f"weights name unknown sources {sorted(unknown)}; sources are {sorted(sources)}")
        if clip_length is None and stride is not None:
            raise ParameterError(f"stride={stride!r} needs clip_length; give clip_length=T for windows of T frames")
        self.clip_length = None if clip_length is None else _check_positive("clip_length", clip_length)
        self.stride = 1 if stride is None else _check_positive("stride", stride)
        self.split, self.seed, self.stop, self.shuffle_shards = split, int(seed), stop, bool(shuffle_shards)
        self.weights = {name: float(weights[name]) for name in sources}
        self._rank, self._world = rank, world_size
        self.epoch = 0
        self.sources: dict[str, _Source] = {}
        for name, url in sources.items():
            try:
                listing = json.loads(Storage(url).read_bytes("export.json"))
            except FileNotFoundError as exc:
                raise InputFileError(
                    f"{url} has no export.json; give a folder written by parallax corpus export"
                ) from exc
            if listing.get("export_format") != "webdataset":
                raise InputFileError(
                    f"{url} is a {listing.get('export_format')} export; the loader reads webdataset exports"
                )
            self.sources[name] = _plan(url, listing, split, self.clip_length, self.stride)
        self._check_windows()

    def _check_windows(self) -> None:
        T = self.clip_length
        if T is None or T == 1:
            return
        if not any(s.has_clips for s in self.sources.values()):
            raise ParameterError(
                f"clip_length={T}: the sources hold no clips; still pairs are windows of one frame only "
                "(clip_length=1, or None for still items)"
            )
        parts = sum(s.clip_parts for s in self.sources.values())
        windows = sum(s.units for s in self.sources.values())
        if parts and not windows:
            longest = max(s.longest for s in self.sources.values())
            raise ParameterError(
                f"clip_length={T} is longer than every clip of split {self.split!r} (the longest stored clip has "
                f"{longest} frames); give clip_length <= {longest}"
            )

    @property
    def dropped_windows(self) -> int:
        """Windows not read because they span two stored windows of a clip (exports with ``--clip-window``)."""
        return sum(s.dropped for s in self.sources.values())

    def __len__(self) -> int:
        """Items (still pairs, or windows) of the split over all sources (all ranks and workers together)."""
        return sum(s.units for s in self.sources.values())

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch (changes the shard order when ``shuffle_shards`` and the mixing draws)."""
        self.epoch = int(epoch)

    def _slot(self) -> tuple[int, int]:
        rank, world = self._rank, self._world
        if rank is None or world is None:
            dist = torch.distributed
            if dist.is_available() and dist.is_initialized():
                rank, world = dist.get_rank(), dist.get_world_size()
            else:
                rank, world = 0, 1
        info = torch.utils.data.get_worker_info()
        wid, nworkers = (info.id, info.num_workers) if info is not None else (0, 1)
        return wid * world + rank, world * nworkers

    def _source_iter(self, name: str, slot: int, total: int) -> Iterator[dict[str, Any]]:
        source = self.sources[name]
        store = Storage(source.url)
        # the slot assignment follows the fixed (unshuffled) numbering, so it never overlaps
        mine: list[tuple[str, dict[str, WantedKey]]] = []
        for path, entries in source.shards:
            wanted: dict[str, WantedKey] = {}
            for want, units in entries:
                if want.kind == "still":
                    if units[0] % total == slot:
                        wanted[want.key] = want
                else:
                    starts = tuple(s for s, u in zip(want.starts, units, strict=True) if u % total == slot)
                    if starts:
                        wanted[want.key] = WantedKey(want.key, "clip", starts)
            if wanted:
                mine.append((path, wanted))
        if self.shuffle_shards:
            order = np.random.default_rng([self.seed, self.epoch, 7]).permutation(len(mine))
            mine = [mine[i] for i in order]
        length = self.clip_length or 1
        for path, wanted in mine:
            with store.open(path, "rb") as fh:
                for want, item in read_shard(fh, wanted, length=length, where=f"{source.url}/{path}"):
                    if want.kind == "clip":
                        yield _clip_window(item[0], item[1], name)
                    elif self.clip_length is None:
                        yield _still_tensors(item, name)
                    else:
                        yield _still_window(item, name)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        slot, total = self._slot()
        iters = {name: self._source_iter(name, slot, total) for name in self.sources}
        rng = np.random.default_rng([self.seed, self.epoch, slot])
        live = list(iters)
        while live:
            w = np.array([self.weights[n] for n in live])
            name = live[int(rng.choice(len(live), p=w / w.sum()))]
            try:
                yield next(iters[name])
            except StopIteration:
                if self.stop == "first":
                    return
                live.remove(name)

    def __repr__(self) -> str:
        what = "samples" if self.clip_length is None else f"windows of {self.clip_length} (stride {self.stride})"
        return f"CorpusDataset(split={self.split!r}, sources={list(self.sources)}, {what}={len(self)})"
