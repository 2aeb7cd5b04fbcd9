"""The loader's windows of clip frames: every training window exactly once per epoch across workers and ranks,
frames, poses and timestamps in order, window counts, mixing stills, real clips and synthetic clips by weight."""

from __future__ import annotations

import shutil
from collections import Counter

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from parallax.corpus import wds_read  # noqa: E402
from parallax.corpus.clip_reader import open_clip_sample_dir  # noqa: E402
from parallax.corpus.consent import Consent  # noqa: E402
from parallax.corpus.export import export_corpus  # noqa: E402
from parallax.corpus.loader import CorpusDataset, window_count  # noqa: E402
from parallax.corpus.store import Corpus  # noqa: E402
from parallax.errors import ParameterError  # noqa: E402

from .clip_factory import build_clip_corpus, make_clip  # noqa: E402
from .conftest import make_sample  # noqa: E402

ERIN = Consent(contributor="erin", license="CC0-1.0", allow_training=True, date="2026-04-04")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The clip corpus (stills, synthetic clips, the real clip) exported whole and as stored windows; a corpus of
    synthetic clips only; one of stills only (all in the train split)."""
    base = tmp_path_factory.mktemp("loader-clips")
    built = build_clip_corpus(base / "corpus")
    corpus = Corpus.open(base / "corpus")
    export_corpus(corpus, fmt="webdataset", out=str(base / "mixed"), shard_size="150kB")
    export_corpus(corpus, fmt="webdataset", out=str(base / "windows"), clip_window=4, clip_stride=2)
    export_corpus(corpus, fmt="webdataset", out=str(base / "chunks"), clip_window=4)
    corpus.close()
    syn = Corpus.init(base / "syn-corpus")
    syn_clips = {}
    for i in range(6):
        clip = make_clip(ERIN, 50 + i, frames=4 + i % 3)
        syn.add_sample(clip, ERIN)
        syn_clips[clip.sample_id] = clip
    export_corpus(syn, fmt="webdataset", out=str(base / "syn"), shard_size="60kB", ratios=(1.0, 0.0, 0.0))
    syn.close()
    stills = Corpus.init(base / "stills-corpus")
    for i in range(8):
        stills.add_sample(make_sample(ERIN, 300 + i), ERIN)
    export_corpus(stills, fmt="webdataset", out=str(base / "stills"), ratios=(1.0, 0.0, 0.0))
    stills.close()
    train = {sid: c for sid, c in built["clips"].items() if built["clip_split"][sid] == "train"}
    return {**built, "base": base, "train": train, "syn_clips": syn_clips}


def _expected(clips, T, S) -> Counter:
    return Counter((sid, s) for sid, c in clips.items() for s in range(0, c.frame_count - T + 1, S))


def _check_window(item, clips, T):
    clip = clips[item["clip_id"]]
    start = int(item["frame_indices"][0])
    assert item["frame_indices"].tolist() == list(range(start, start + T))
    t = item["timestamps"].numpy()
    assert np.array_equal(t, clip.timestamps_s[start : start + T]) and np.all(np.diff(t) > 0)
    assert np.allclose(item["poses"].numpy(), clip.poses[start : start + T], equal_nan=True, atol=1e-6)
    assert np.allclose(item["K"].numpy(), clip.intrinsics[start : start + T])
    h, w = clip.height, clip.width
    assert item["left"].shape == (T, 3, h, w) and item["left"].dtype == torch.uint8
    assert item["disparity"].shape == (T, h, w) and item["disparity"].dtype == torch.float32
    assert item["valid"].dtype == torch.bool and item["poses"].dtype == torch.float32
    assert item["sample_id"] == item["clip_id"]
    return item["clip_id"], start


def _windows(loader, clips, T) -> Counter:
    return Counter(_check_window(item, clips, T) for item in loader)


def test_two_workers_yield_every_training_window_exactly_once_in_order(data):
    T, S = 3, 1
    ds = CorpusDataset(str(data["base"] / "mixed"), split="train", clip_length=T, stride=S, seed=2)
    expected = _expected(data["train"], T, S)
    assert len(ds) == sum(expected.values()) and len(ds) > 10
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2)
    for epoch in range(2):
        ds.set_epoch(epoch)
        assert _windows(loader, data["train"], T) == expected, epoch


def test_two_ranks_with_two_workers_split_the_windows_without_overlap(data):
    T, S = 2, 2
    seen = []
    for rank in range(2):
        ds = CorpusDataset(
            str(data["base"] / "mixed"), rank=rank, world_size=2, shuffle_shards=True, clip_length=T, stride=S
        )
        seen.append(_windows(torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2), data["train"], T))
    assert not set(seen[0]) & set(seen[1])
    assert seen[0] + seen[1] == _expected(data["train"], T, S)
    assert abs(sum(seen[0].values()) - sum(seen[1].values())) <= 2


@pytest.mark.parametrize(("T", "S"), [(1, 1), (2, 3), (4, 2), (5, 1), (10, 4)])
def test_window_counts_follow_the_formula(data, T, S):
    ds = CorpusDataset(str(data["base"] / "mixed"), clip_length=T, stride=S)
    stills = sum(sp == "train" for sp in data["stills"].values()) if T == 1 else 0
    per_clip = {sid: window_count(c.frame_count, T, S) for sid, c in data["train"].items()}
    assert per_clip == {
        sid: (c.frame_count - T) // S + 1 if c.frame_count >= T else 0 for sid, c in data["train"].items()
    }
    assert len(ds) == sum(per_clip.values()) + stills
    got = Counter(item["clip_id"] for item in ds)
    assert {sid: got[sid] for sid in per_clip} == per_clip


def test_window_content_is_the_stored_frames(data):
    ds = CorpusDataset(str(data["base"] / "mixed"), clip_length=4, stride=3)
    item = next(i for i in ds if i["clip_id"] == "clip-bidavideo" and int(i["frame_indices"][0]) == 3)
    reader = open_clip_sample_dir(data["root"] / "samples" / "clip-bidavideo")
    for t, frame in enumerate(reader.read_frames(3, 7, extras=False)):
        assert np.array_equal(item["left"][t].permute(1, 2, 0).numpy(), frame.left)
        assert np.array_equal(item["right"][t].permute(1, 2, 0).numpy(), frame.right)
        valid = frame.valid & np.isfinite(frame.disparity_px)
        assert np.array_equal(item["valid"][t].numpy(), valid) and valid.mean() > 0.5
        d = item["disparity"][t].numpy()
        assert np.all(d[~valid] == 0) and np.max(np.abs(d[valid] - frame.disparity_px[valid])) <= 1 / 128
    assert item["source_kind"] == "video" and np.isnan(item["baseline_m"].item()) and torch.isnan(item["poses"]).all()


def test_stills_are_windows_of_one_frame_with_clip_length_1(data):
    ds = CorpusDataset(str(data["base"] / "mixed"), clip_length=1)
    items = list(ds)
    stills = [i for i in items if i["clip_id"] in data["stills"]]
    assert sorted(i["clip_id"] for i in stills) == sorted(s for s, sp in data["stills"].items() if sp == "train")
    for item in stills:
        assert item["left"].shape[0] == 1 and item["left"].ndim == 4 and item["timestamps"].tolist() == [0.0]
        assert torch.isnan(item["poses"]).all() and item["frame_indices"].tolist() == [0]
        assert item["K"].shape == (1, 3, 3) and item["baseline_m"].item() == pytest.approx(0.1)
    assert len(items) - len(stills) == sum(c.frame_count for c in data["train"].values())
    # without clip_length: still pairs only, as before clips existed
    plain = [i["sample_id"] for i in CorpusDataset(str(data["base"] / "mixed"))]
    assert sorted(plain) == sorted(i["clip_id"] for i in stills)


def test_mixing_stills_real_clips_and_synthetic_clips_by_weight(data, tmp_path):
    base = data["base"]
    real = tmp_path / "real-corpus"
    shutil.copytree(data["root"], real)
    corpus = Corpus.open(real)  # the real clip alone (its contributor's other samples withdrawn)
    from parallax.corpus.maintenance import withdraw

    for sid in [r["sample_id"] for r in corpus.catalog.active_samples() if r["sample_id"] != "clip-bidavideo"]:
        withdraw(corpus, sample_id=sid)
    export_corpus(corpus, fmt="webdataset", out=str(tmp_path / "real"), ratios=(1.0, 0.0, 0.0))
    corpus.close()
    sources = {"stills": str(base / "stills"), "real": str(tmp_path / "real"), "synthetic": str(base / "syn")}
    weights = {"stills": 1.0, "real": 1.0, "synthetic": 8.0}
    ds = CorpusDataset(sources, weights=weights, clip_length=1, seed=4)
    order = [item["source"] for item in ds]
    assert order == [item["source"] for item in CorpusDataset(sources, weights=weights, clip_length=1, seed=4)]
    n_syn = sum(c.frame_count for c in data["syn_clips"].values())
    assert Counter(order) == {"stills": 8, "real": 10, "synthetic": n_syn}  # stop="all": everything once
    assert order[:12].count("synthetic") >= 7
    kinds = {(i["source"], i["source_kind"]) for i in CorpusDataset(sources, clip_length=1)}
    assert kinds == {("stills", "synthetic"), ("real", "video"), ("synthetic", "synthetic")}
    first = Counter(i["source"] for i in CorpusDataset(sources, weights=weights, clip_length=1, seed=4, stop="first"))
    assert first["synthetic"] > first["real"] and first["synthetic"] > first["stills"]
    # windows of 2: stills are left out, real and synthetic clips mix
    two = Counter(i["source"] for i in CorpusDataset(sources, weights=weights, clip_length=2, seed=4))
    assert two == {"real": 9, "synthetic": sum(c.frame_count - 1 for c in data["syn_clips"].values())}


def test_only_the_frames_of_wanted_windows_are_decoded(data, monkeypatch):
    calls: list[tuple[str, int]] = []
    original = wds_read.decode_clip_frame

    def counting(members, meta, index, *, where):
        calls.append((meta["sample_id"], index))
        return original(members, meta, index, where=where)

    monkeypatch.setattr(wds_read, "decode_clip_frame", counting)
    items = [
        i
        for i in CorpusDataset(str(data["base"] / "mixed"), clip_length=2, stride=4)
        if i["clip_id"] == "clip-bidavideo"
    ]
    assert [i["frame_indices"].tolist() for i in items] == [[0, 1], [4, 5], [8, 9]]
    assert sorted(i for sid, i in calls if sid == "clip-bidavideo") == [0, 1, 4, 5, 8, 9]
    calls.clear()
    items = [i for i in CorpusDataset(str(data["base"] / "mixed"), clip_length=3) if i["clip_id"] == "clip-bidavideo"]
    assert len(items) == 8 and sorted(i for sid, i in calls if sid == "clip-bidavideo") == list(range(10))


def test_windows_of_an_export_with_stored_windows(data):
    T = 3
    overlapping = CorpusDataset(str(data["base"] / "windows"), clip_length=T)
    got = Counter(item["clip_id"] + f"@{int(item['frame_indices'][0])}" for item in overlapping)
    assert max(got.values()) == 1  # overlapping stored windows never give a window twice
    assert sum(got.values()) == sum(_expected(data["train"], T, 1).values()) and overlapping.dropped_windows == 0
    chunks = CorpusDataset(str(data["base"] / "chunks"), clip_length=T)
    windows = _windows(chunks, data["train"], T)
    assert max(windows.values()) == 1 and all(s % 4 + T <= 4 or data["train"][c].frame_count <= 4 for c, s in windows)
    assert chunks.dropped_windows == sum(_expected(data["train"], T, 1).values()) - len(chunks) > 0


def test_bad_window_parameters_are_refused(data):
    src = str(data["base"] / "mixed")
    for bad in (0, -2, 2.5, True):
        with pytest.raises(ParameterError, match="clip_length"):
            CorpusDataset(src, clip_length=bad)
        with pytest.raises(ParameterError, match="stride"):
            CorpusDataset(src, clip_length=2, stride=bad)
    with pytest.raises(ParameterError, match="needs clip_length"):
        CorpusDataset(src, stride=2)
    with pytest.raises(ParameterError, match="longer than every clip.*10 frames"):
        CorpusDataset(src, clip_length=11)
    with pytest.raises(ParameterError, match="hold no clips"):
        CorpusDataset(str(data["base"] / "stills"), clip_length=2)
    assert len(CorpusDataset(src, split="test", clip_length=3)) == 1  # the test clip has exactly 3 frames
