"""The held-out check: no contributor, source file or capture is on both sides of the split.

Run before any training. The training side is read from the training exports
themselves (every sample's ``meta.json`` and decoded views), not from the lists
the run meant to use, so a wrong ``--corpus`` is caught too. Four keys:

* the contributor id (the corpus splits by contributor: one scene per contributor here);
* the SHA-256 of the original decoded pixels (``source.content_sha256``: the same capture);
* the source file (path when known, else the corpus's ``original_name``);
* the perceptual hashes of both views within the corpus's near-duplicate
  distance (the same shot in another format or size).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from parallax.bench.value.evaluate import EvalScene
from parallax.errors import ParameterError

__all__ = ["HeldOutLeakError", "TrainRecord", "train_records", "check_held_out"]


class HeldOutLeakError(ParameterError):
    """A held-out scene shares a contributor, file or capture with the training data."""


@dataclass(frozen=True, kw_only=True)
class TrainRecord:
    """What identifies one training sample."""

    sample_id: str
    contributor: str
    content_sha256: str
    original_name: str
    phash: tuple[int, int] | None = None
    files: tuple[str, ...] = field(default_factory=tuple)


def train_records(
    export: Any, split: str, *, files_by_contributor: dict[str, list[str]] | None = None
) -> list[TrainRecord]:
    """One :class:`TrainRecord` per sample of ``split`` in a WebDataset export (views decoded for the pHash).

    ``files_by_contributor`` adds the source paths the run ingested for a contributor.
    """
    from parallax.bench.value.data import export_metas
    from parallax.corpus.dedup import phash64
    from parallax.corpus.loader import CorpusDataset

    metas = {m["sample_id"]: m for m in export_metas(export, split)}
    hashes: dict[str, tuple[int, int]] = {}
    if metas:
        for item in CorpusDataset(str(export), split=split, seed=0, stop="all"):
            hashes[item["sample_id"]] = (
                phash64(item["left"].numpy().transpose(1, 2, 0)),
                phash64(item["right"].numpy().transpose(1, 2, 0)),
            )
    records = []
    for sid, meta in metas.items():
        contributor = str(meta.get("rights", {}).get("contributor", ""))
        records.append(
            TrainRecord(
                sample_id=sid,
                contributor=contributor,
                content_sha256=str(meta.get("source", {}).get("content_sha256", "")),
                original_name=str(meta.get("source", {}).get("original_name", "")),
                phash=hashes.get(sid),
                files=tuple((files_by_contributor or {}).get(contributor, ())),
            )
        )
    return records


def check_held_out(
    train: Iterable[TrainRecord], held_out: Sequence[EvalScene], *, near_bits: int | None = None
) -> dict[str, Any]:
    """Raise :class:`HeldOutLeakError` if a held-out scene shares anything with the training data.

    Returns
    -------
    dict
        What was compared (counts per key), for the results.
    """
    from parallax.corpus.dedup import NEAR_DUPLICATE_BITS, is_near_duplicate

    bits = NEAR_DUPLICATE_BITS if near_bits is None else near_bits
    train = list(train)
    problems: list[str] = []
    contributors = {r.contributor: r for r in train if r.contributor}
    contents = {r.content_sha256: r for r in train if r.content_sha256}
    names = {r.original_name: r for r in train if r.original_name}
    files = {f: r for r in train for f in r.files}
    for scene in held_out:
        if scene.contributor in contributors:
            problems.append(f"contributor {scene.contributor} ({scene.scene_id})")
        if scene.content_sha256 and scene.content_sha256 in contents:
            problems.append(
                f"the pixels of {scene.scene_id} (training sample {contents[scene.content_sha256].sample_id})"
            )
        for f in scene.files:
            hit = files.get(f) or names.get(f)
            if hit is not None:
                problems.append(f"file {f} ({scene.scene_id}; training sample {hit.sample_id})")
        for r in train:
            if r.phash is not None and is_near_duplicate(scene.phash, r.phash, bits=bits):
                problems.append(f"a near-duplicate of {scene.scene_id} (training sample {r.sample_id})")
    if problems:
        raise HeldOutLeakError(
            "held-out scenes share data with training: "
            + "; ".join(sorted(set(problems)))
            + "; choose other --eval-scenes/--train-scenes or another --eval-corpus"
        )
    return {
        "training_samples": len(train),
        "held_out_scenes": len(held_out),
        "compared": ["contributor", "content_sha256", "source file", f"perceptual hash (<= {bits} bits)"],
        "shared": 0,
    }
