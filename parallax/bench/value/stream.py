"""Training batches for one arm and seed, streamed from corpus exports by ``CorpusDataset``.

The arm's sources (``{"synthetic": export}`` or ``{"synthetic": ..., "real": ...}``)
go into one :class:`~parallax.corpus.loader.CorpusDataset` with the arm's mixing
weights, ``stop="first"`` and a per-epoch shard shuffle (the exports hold one
sample per shard): every draw picks a source with probability proportional to
its weight, so over the run the real share of the draws is the stated ratio.
Epochs follow each other until the run has its steps; each draw is randomly
resized and cropped (:func:`~parallax.bench.value.pairs.random_crop`). Reading,
decoding and cropping run in one DataLoader worker process by default, beside
the training.

Clips: a clip sample of the corpus is a sequence of such pairs. When the
loader yields clips, their frame pairs enter here like still pairs (one draw per
frame pair), so sequences join the same mix without a change to the model.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from parallax.bench.value.pairs import Pair, random_crop
from parallax.errors import InputFileError, ParameterError, require

__all__ = ["TrainStream", "to_batch"]

torch: Any = require("torch", "torch", "parallax bench value")


def to_batch(pairs: list[Pair], device: Any = "cpu") -> dict[str, Any]:
    """Stack pairs into ``N x C x H x W`` float32 tensors (NaN disparities -> 0 with a ``valid_*`` mask)."""
    if not pairs:
        raise ParameterError("to_batch needs at least one pair")

    def images(name: str) -> Any:
        return torch.from_numpy(np.stack([getattr(p, name).transpose(2, 0, 1) for p in pairs])).to(device)

    batch = {"left": images("left"), "right": images("right")}
    for side in ("left", "right"):
        d = np.stack([getattr(p, f"disparity_{side}") for p in pairs])[:, None]
        valid = np.isfinite(d)
        batch[f"disparity_{side}"] = torch.from_numpy(np.where(valid, d, 0.0).astype(np.float32)).to(device)
        batch[f"valid_{side}"] = torch.from_numpy(valid).to(device)
    return batch


def _keep(item: Any) -> Any:
    """The DataLoader's collate function: items pass unchanged (batches are stacked by :func:`to_batch`)."""
    return item


class _CroppedPairs(torch.utils.data.IterableDataset):
    """Endless epochs of a ``CorpusDataset``, each draw randomly resized and cropped (runs in the loader worker)."""

    def __init__(self, dataset: Any, *, crop: tuple[int, int], seed: int) -> None:
        super().__init__()
        self.dataset, self.crop, self.seed = dataset, crop, seed

    def __iter__(self) -> Iterator[dict[str, Any]]:
        epoch = 0
        while True:
            self.dataset.set_epoch(epoch)
            rng = np.random.default_rng([self.seed, epoch, 104729])
            empty = True
            for item in self.dataset:
                empty = False
                left = item["left"].numpy().transpose(1, 2, 0)
                right = item["right"].numpy().transpose(1, 2, 0)
                disp = np.where(item["valid"].numpy(), item["disparity"].numpy(), np.nan).astype(np.float32)
                pair = random_crop(left, right, disp, crop=self.crop, rng=rng)
                yield {"pair": pair, "source": item["source"], "sample_id": item["sample_id"], "epoch": epoch}
            if empty:  # pragma: no cover - the stream checks every source has samples first
                raise InputFileError("the training loader yielded no sample in a whole epoch")
            epoch += 1


class TrainStream:
    """Endless training batches of one arm, in a seeded order.

    Parameters
    ----------
    sources : mapping of str to path-like
        Source name -> WebDataset export folder; its ``train`` split is read.
    weights : mapping of str to float
        Mixing weights (``CorpusDataset`` semantics).
    seed : int
        Seeds the loader's mixing and shard order and the crops.
    crop : (int, int)
        Crop ``(width, height)``.
    batch_size : int
    workers : int
        DataLoader worker processes that read, decode and crop (0: in this process).
        The order of the draws is the same for 0 and 1 worker.

    Call :meth:`close` when done (it stops the worker).
    """

    def __init__(
        self,
        sources: Mapping[str, Any],
        weights: Mapping[str, float],
        *,
        seed: int,
        crop: tuple[int, int],
        batch_size: int,
        workers: int = 0,
    ) -> None:
        from parallax.corpus.loader import CorpusDataset

        if workers not in (0, 1):
            raise ParameterError(f"workers must be 0 or 1 (one ordered stream), got {workers!r}")
        dataset = CorpusDataset(
            {name: str(path) for name, path in sources.items()},
            split="train",
            weights=dict(weights),
            seed=seed,
            shuffle_shards=True,
            stop="first",
        )
        for name, source in dataset.sources.items():
            if source.units == 0:
                raise InputFileError(
                    f"training source {name!r} ({source.url}) has no sample in its train split; "
                    "check that corpus add accepted its captures"
                )
        self.batch_size = int(batch_size)
        self.draws: Counter[tuple[str, str]] = Counter()
        self.epochs = 0
        loader = torch.utils.data.DataLoader(
            _CroppedPairs(dataset, crop=crop, seed=seed),
            batch_size=None,
            num_workers=workers,
            collate_fn=_keep,
            prefetch_factor=2 * self.batch_size if workers else None,
        )
        self._items: Iterator[dict[str, Any]] | None = iter(loader)

    def next_pairs(self) -> list[Pair]:
        """The next ``batch_size`` training pairs (cropped), counting every draw."""
        if self._items is None:
            raise ParameterError("the training stream is closed")
        pairs = []
        for _ in range(self.batch_size):
            item = next(self._items)
            self.draws[(item["source"], item["sample_id"])] += 1
            self.epochs = max(self.epochs, int(item["epoch"]) + 1)
            pairs.append(item["pair"])
        return pairs

    def close(self) -> None:
        """Stop the loader worker (if any)."""
        self._items = None

    def draw_counts(self) -> dict[str, dict[str, int]]:
        """Draws per source and sample id so far (the data list of the run)."""
        out: dict[str, dict[str, int]] = {}
        for (source, sid), n in sorted(self.draws.items()):
            out.setdefault(source, {})[sid] = n
        return out
