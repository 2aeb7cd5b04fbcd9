"""A PyTorch ``IterableDataset`` over exported WebDataset shards, with weighted mixing of sources.

Each yielded item is a dict of tensors::

    left, right   uint8  [3, H, W]   rectified views (RGB)
    disparity     float32 [H, W]     pixels of the left view, x_right = x_left - d; 0 where not valid
    valid         bool   [H, W]      True where the disparity has a value
    K             float32 [3, 3]     intrinsics of the rectified left view (OpenCV)
    baseline_m    float32 []         metres; NaN when unknown (depth then relative)
    sample_id, source, source_kind   str

Splitting: the samples of every source are numbered in shard order; sample ``i``
goes to the worker slot ``i % (world_size * num_workers)``, with slot
``worker_id * world_size + rank`` (so the ranks' counts differ by at most one
per worker). Every sample is read by exactly one slot per epoch, whatever the
number of DataLoader workers and ranks.

Mixing ("synthetic builds the map, real keeps it true"): at each step one
source is drawn with probability proportional to its weight among the sources
not yet exhausted (seeded by ``seed``, the epoch and the slot). With
``stop="all"`` (default) an epoch yields every sample of every source once, the
weights setting how they interleave; with ``stop="first"`` the epoch ends when
the first source runs out, so the yielded mix follows the weights.
"""

from __future__ import annotations

import json
import math
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from parallax.corpus import encoding as enc
from parallax.corpus.storage import Storage
from parallax.errors import InputFileError, ParameterError, require

__all__ = ["CorpusDataset", "decode_wds_sample"]

torch = require("torch", "torch", "the corpus loader")


def decode_wds_sample(members: Mapping[str, bytes]) -> dict[str, Any]:
    """Decode one sample's WebDataset members (``{"left.png": bytes, ..., "json": bytes}``) to numpy arrays."""
    meta = json.loads(members["json"])
    files = meta["files"]

    def data(key: str) -> bytes:
        return members[f"{key}.{files[key]['path'].rsplit('.', 1)[1]}"]

    disparity = enc.decode_map16(data("disparity"), files["disparity"], name="disparity")
    valid = enc.decode_mask_png(data("valid"), name="valid", as_bool=True) & np.isfinite(disparity)
    cam = meta["camera"]
    return {
        "left": enc.decode_rgb_png(data("left"), name="left"),
        "right": enc.decode_rgb_png(data("right"), name="right"),
        "disparity": np.where(valid, disparity, 0.0).astype(np.float32),
        "valid": valid,
        "K": np.asarray(cam["K"], dtype=np.float32),
        "baseline_m": np.float32(cam["baseline_m"] if cam.get("baseline_m") is not None else math.nan),
        "sample_id": meta["sample_id"],
        "source_kind": meta["source"]["kind"],
    }


def _to_tensors(sample: dict[str, Any], source: str) -> dict[str, Any]:
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


# torch is imported lazily through require() (an untyped module object), so mypy cannot see the base class by name
_IterableDataset: Any = torch.utils.data.IterableDataset


class CorpusDataset(_IterableDataset):
    """Stream samples of one split from WebDataset exports, split across workers and ranks, mixing sources.

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
        Shuffle the shard order each epoch (seeded); samples keep their slot assignment by index.
    rank, world_size : int, optional
        Distributed rank and size; default from ``torch.distributed`` when initialised, else 0 and 1.
    stop : {"all", "first"}
        End the epoch when all sources are exhausted (each sample once) or when the first is.
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
        self.split, self.seed, self.stop, self.shuffle_shards = split, int(seed), stop, bool(shuffle_shards)
        self.weights = {name: float(weights[name]) for name in sources}
        self._rank, self._world = rank, world_size
        self.epoch = 0
        self.sources: dict[str, tuple[str, list[tuple[str, list[str]]]]] = {}
        for name, url in sources.items():
            store = Storage(url)
            try:
                listing = json.loads(store.read_bytes("export.json"))
            except FileNotFoundError as exc:
                raise InputFileError(
                    f"{url} has no export.json; give a folder written by parallax corpus export"
                ) from exc
            if listing.get("export_format") != "webdataset":
                raise InputFileError(
                    f"{url} is a {listing.get('export_format')} export; the loader reads webdataset exports"
                )
            shards = [(s["path"], list(s["keys"])) for s in listing["shards"] if s["split"] == split]
            self.sources[name] = (url, shards)

    def __len__(self) -> int:
        """Samples of the split over all sources (all ranks and workers together)."""
        return sum(len(keys) for _, shards in self.sources.values() for _, keys in shards)

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
        url, shards = self.sources[name]
        store = Storage(url)
        # the slot assignment follows the fixed (unshuffled) numbering, so it never overlaps
        numbered, index = [], 0
        for path, keys in shards:
            mine = [k for i, k in enumerate(keys, start=index) if i % total == slot]
            index += len(keys)
            if mine:
                numbered.append((path, mine))
        if self.shuffle_shards:
            order = np.random.default_rng([self.seed, self.epoch, 7]).permutation(len(numbered))
            numbered = [numbered[i] for i in order]
        for path, mine in numbered:
            wanted = set(mine)
            groups: dict[str, dict[str, bytes]] = {}
            with store.open(path, "rb") as fh, tarfile.open(fileobj=fh, mode="r:") as tar:
                for member in tar:
                    key, _, rest = member.name.partition(".")
                    if key not in wanted or not member.isfile():
                        continue
                    extracted = tar.extractfile(member)
                    groups.setdefault(key, {})[rest] = extracted.read() if extracted is not None else b""
            for key in mine:
                if key not in groups or "json" not in groups[key]:
                    raise InputFileError(f"{url}/{path} lacks sample {key}; the export is damaged, re-export it")
                yield _to_tensors(decode_wds_sample(groups.pop(key)), name)

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
        return f"CorpusDataset(split={self.split!r}, sources={list(self.sources)}, samples={len(self)})"
