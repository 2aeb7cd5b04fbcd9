"""The PyTorch loader over exported shards: workers and ranks see every sample once; weighted source mixing."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from parallax.corpus.consent import Consent  # noqa: E402
from parallax.corpus.export import export_corpus  # noqa: E402
from parallax.corpus.loader import CorpusDataset  # noqa: E402
from parallax.corpus.store import Corpus  # noqa: E402
from parallax.errors import InputFileError, ParameterError  # noqa: E402

from .conftest import make_sample  # noqa: E402

DAVE = Consent(contributor="dave", license="CC0-1.0", allow_training=True, date="2026-04-02")


@pytest.fixture(scope="module")
def exports(tmp_path_factory, ingested):
    """A WebDataset export of the real samples (small shards) and one of 30 synthetic samples."""
    base = tmp_path_factory.mktemp("loader")
    shutil.copytree(ingested["root"], base / "real-corpus")  # exports are recorded in the catalog: use a copy
    real = Corpus.open(base / "real-corpus")
    real_out = export_corpus(real, fmt="webdataset", out=str(base / "real"), shard_size="1MB", ratios=(1.0, 0.0, 0.0))
    real.close()
    syn = Corpus.init(base / "syn-corpus")
    for i in range(30):
        syn.add_sample(make_sample(DAVE, i), DAVE)
    syn_out = export_corpus(syn, fmt="webdataset", out=str(base / "syn"), shard_size="100kB", ratios=(1.0, 0.0, 0.0))
    syn.close()
    return {
        "real": base / "real",
        "syn": base / "syn",
        "real_ids": real_out.samples["train"],
        "syn_ids": syn_out.samples["train"],
        "syn_shards": len(syn_out.shards),
    }


def _ids(loader) -> list[str]:
    return [item["sample_id"] for item in loader]


def test_two_workers_yield_every_training_sample_exactly_once(exports):
    ds = CorpusDataset({"real": str(exports["real"]), "synthetic": str(exports["syn"])}, split="train", seed=3)
    assert len(ds) == len(exports["real_ids"]) + len(exports["syn_ids"])
    assert exports["syn_shards"] > 2
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2)
    for epoch in range(2):
        ds.set_epoch(epoch)
        ids = _ids(loader)
        assert Counter(ids) == Counter(exports["real_ids"] + exports["syn_ids"]), epoch


def test_ranks_and_workers_split_without_overlap(exports):
    seen = []
    for rank in range(2):
        ds = CorpusDataset(str(exports["syn"]), rank=rank, world_size=2, shuffle_shards=True, seed=5)
        seen.append(_ids(torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2)))
    assert not set(seen[0]) & set(seen[1])
    assert sorted(seen[0] + seen[1]) == sorted(exports["syn_ids"])
    assert abs(len(seen[0]) - len(seen[1])) <= 1


def test_items_are_tensors_matching_the_sample(exports):
    ds = CorpusDataset(str(exports["real"]))
    item = next(iter(ds))
    meta = json.loads((exports["real"] / "export.json").read_text())
    assert item["sample_id"] in meta["samples"]["train"]
    h, w = item["disparity"].shape
    assert item["left"].dtype == torch.uint8 and item["left"].shape == (3, h, w) and item["right"].shape == (3, h, w)
    assert item["disparity"].dtype == torch.float32 and item["valid"].dtype == torch.bool
    assert item["K"].shape == (3, 3) and item["K"][2, 2] == 1 and item["baseline_m"].dtype == torch.float32
    assert torch.all(item["disparity"][~item["valid"]] == 0) and item["valid"].any()
    assert item["source"] == "default" and item["source_kind"] == "real"


def test_weighted_mixing_follows_the_weights_and_the_seed(exports):
    sources = {"real": str(exports["real"]), "synthetic": str(exports["syn"])}
    ds = CorpusDataset(sources, weights={"real": 1.0, "synthetic": 9.0}, seed=11, stop="all")
    first = [item["source"] for item in ds]
    again = [item["source"] for item in CorpusDataset(sources, weights={"real": 1.0, "synthetic": 9.0}, seed=11)]
    assert first == again  # seeded
    head = first[:10]
    assert head.count("synthetic") >= 6  # synthetic drawn ~9x as often while both last
    n_real = len(exports["real_ids"])
    even = [item["source"] for item in CorpusDataset(sources, seed=11, stop="first")]
    assert min(Counter(even).values()) <= n_real and "real" in even and "synthetic" in even
    ds.set_epoch(1)
    assert [item["source"] for item in ds] != first or len(set(first)) == 1


def test_loader_errors(tmp_path, exports):
    with pytest.raises(InputFileError, match="export.json"):
        CorpusDataset(str(tmp_path))
    with pytest.raises(ParameterError, match="positive"):
        CorpusDataset({"a": str(exports["syn"])}, weights={"a": 0.0})
    with pytest.raises(ParameterError, match="unknown sources"):
        CorpusDataset({"a": str(exports["syn"])}, weights={"a": 1.0, "b": 1.0})
    with pytest.raises(ParameterError, match="stop"):
        CorpusDataset(str(exports["syn"]), stop="never")
    assert (
        np.isfinite(len(CorpusDataset(str(exports["syn"]), split="val")))
        and len(CorpusDataset(str(exports["syn"]), split="val")) == 0
    )
