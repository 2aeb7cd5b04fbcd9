"""Exports carry clips: WebDataset (read back with webdataset), Parquet (read back with DuckDB), stored windows,
shard naming, and withdrawal / verify of clips."""

from __future__ import annotations

import gc
import json
import shutil
import tarfile
from collections import Counter

import numpy as np
import pytest

from parallax.cli.main import main
from parallax.corpus import encoding as enc
from parallax.corpus.clip_reader import open_clip_sample_dir
from parallax.corpus.export import export_corpus
from parallax.corpus.export_units import check_clip_window, clip_windows
from parallax.corpus.maintenance import verify, withdraw
from parallax.corpus.store import Corpus
from parallax.errors import ParameterError

from .clip_factory import build_clip_corpus


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_clip_corpus(tmp_path_factory.mktemp("clips") / "corpus")


@pytest.fixture()
def corpus(built, tmp_path):
    shutil.copytree(built["root"], tmp_path / "corpus")
    c = Corpus.open(tmp_path / "corpus")
    yield c
    c.close()


def _frames_of(built, split):
    return sum(c.frame_count for sid, c in built["clips"].items() if built["clip_split"][sid] == split)


@pytest.mark.filterwarnings("ignore::ResourceWarning")  # webdataset 1.0 leaves shard files to the garbage collector
def test_webdataset_export_of_clips_reads_with_webdataset(built, corpus, tmp_path):
    wds = pytest.importorskip("webdataset")
    result = export_corpus(corpus, fmt="webdataset", out=str(tmp_path / "a"), shard_size="200kB")
    again = export_corpus(corpus, fmt="webdataset", out=str(tmp_path / "b"), shard_size="200kB")
    assert [(s["path"], s["sha256"]) for s in result.shards] == [(s["path"], s["sha256"]) for s in again.shards]
    clip_shards = [s for s in result.shards if s["kind"] == "clip"]
    assert clip_shards and all(s["path"].startswith(f"clips-{s['split']}-") for s in clip_shards)
    assert all(s["path"].endswith(f"-{s['sha256'][:16]}.tar") for s in result.shards)
    for split in ("train", "val", "test"):
        assert result.frames[split] == _frames_of(built, split)
        want = sorted(sid for sid, sp in built["clip_split"].items() if sp == split)
        assert result.clip_samples[split] == want
    seen: dict[str, dict] = {}
    for shard in clip_shards:
        with tarfile.open(tmp_path / "a" / shard["path"]) as tar:
            names = tar.getnames()
            assert all(m.mtime == 0 and m.uid == 0 and m.uname == "" and m.mode == 0o644 for m in tar.getmembers())
        first_of_key = {}
        for n in names:
            first_of_key.setdefault(n.split(".")[0], n)
        assert all(n.endswith(".json") for n in first_of_key.values())  # the clip's .json comes first
        for item in wds.WebDataset(str(tmp_path / "a" / shard["path"]), shardshuffle=False):
            meta = json.loads(item["json"])
            clip = built["clips"][meta["sample_id"]]
            assert item["__key__"] == meta["sample_id"] and meta["window"] == {"start": 0, "stop": clip.frame_count}
            frames = sorted({k.split(".")[0] for k in item if k[0].isdigit()})
            assert frames == [f"{i:06d}" for i in range(clip.frame_count)]
            extras = [f"{name}.png" for name in clip.info.extras_info]  # the synthetic clips' occlusion masks
            depth = ["depth.png"] if clip.frames[0].depth is not None else []
            for i in range(clip.frame_count):
                members = {k.split(".", 1)[1] for k in item if k.startswith(f"{i:06d}.")}
                assert members == {
                    "left.png",
                    "right.png",
                    "disparity.png",
                    "confidence.png",
                    "valid.png",
                    *depth,
                    *extras,
                }
            assert [f["timestamp_s"] for f in meta["frames"]] == [f.timestamp_s for f in clip.frames]
            left = enc.decode_rgb_png(item["000001.left.png"], name="left")
            assert np.array_equal(left, clip.frames[1].left)
            seen[meta["sample_id"]] = meta
    assert sorted(seen) == sorted(built["clips"])
    # the per-frame index lists every exported frame once
    lines = [json.loads(x) for x in (tmp_path / "a" / "frames.jsonl").read_text().splitlines()]
    assert len(lines) == sum(result.frames.values())
    assert Counter(x["sample_id"] for x in lines) == {sid: c.frame_count for sid, c in built["clips"].items()}
    listing = json.loads((tmp_path / "a" / "export.json").read_text())
    assert listing["index"]["rows"] == len(lines)
    gc.collect()


def test_parquet_export_has_one_row_per_frame(built, corpus, tmp_path):
    duckdb = pytest.importorskip("duckdb")
    result = export_corpus(corpus, fmt="parquet", out=str(tmp_path / "pq"))
    con = duckdb.connect()
    glob = f"'{tmp_path / 'pq'}/clips-*.parquet'"
    rows = con.execute(
        f"SELECT sample_id, split, frame_index, frame_count, timestamp_s, pose, K, disparity, meta, source_kind "
        f"FROM read_parquet({glob}) ORDER BY sample_id, frame_index"
    ).fetchall()
    assert len(rows) == sum(c.frame_count for c in built["clips"].values()) == sum(result.frames.values())
    counts = dict(con.execute(f"SELECT sample_id, count(*) FROM read_parquet({glob}) GROUP BY sample_id").fetchall())
    assert counts == {sid: c.frame_count for sid, c in built["clips"].items()}
    stills = con.execute(f"SELECT count(*) FROM read_parquet('{tmp_path / 'pq'}/[tv]*-*.parquet')").fetchone()[0]
    assert stills == len(built["stills"])
    for sid, split, index, count, t, pose, K, disparity, meta, kind in rows:
        frame = built["clips"][sid].frames[index]
        assert split == built["clip_split"][sid] and count == built["clips"][sid].frame_count
        assert t == frame.timestamp_s and np.allclose(np.reshape(K, (3, 3)), frame.K)
        assert kind == ("video" if sid == "clip-bidavideo" else "synthetic")
        if frame.pose is None:
            assert pose is None
        else:
            assert np.array_equal(np.reshape(pose, (4, 4)), frame.pose)
        m = json.loads(meta)
        assert [f["index"] for f in m["frames"]] == [index] and m["frame_count"] == count
        d = enc.decode_map16(disparity, m["files"][f"disparity/{index:06d}"], name="disparity")
        fin = np.isfinite(frame.disparity_px)
        assert np.array_equal(np.isfinite(d), fin) and np.max(np.abs(d[fin] - frame.disparity_px[fin])) <= 1 / 128


def test_stored_clip_windows(built, corpus, tmp_path):
    result = export_corpus(corpus, fmt="webdataset", out=str(tmp_path / "w"), clip_window=4, clip_stride=2)
    parts = [c for s in result.shards if s["kind"] == "clip" for c in s["clips"]]
    real = [(c["start"], c["stop"]) for c in parts if c["sample_id"] == "clip-bidavideo"]
    assert real == [(0, 4), (2, 6), (4, 8), (6, 10)]
    assert {c["key"] for c in parts if c["sample_id"] == "clip-bidavideo"} >= {"clip-bidavideo@000002-000006"}
    short = [c for c in parts if built["clips"][c["sample_id"]].frame_count <= 4]
    assert short and all(c["key"] == c["sample_id"] and c["stop"] - c["start"] == c["frame_count"] for c in short)
    shard = next(s for s in result.shards if "clip-bidavideo@000002-000006" in s["keys"])
    with tarfile.open(tmp_path / "w" / shard["path"]) as tar:
        names = [n for n in tar.getnames() if n.startswith("clip-bidavideo@000002-000006.")]
        meta = json.loads(tar.extractfile("clip-bidavideo@000002-000006.json").read())
    assert sorted({n.split(".")[1] for n in names if n.count(".") == 3}) == ["000002", "000003", "000004", "000005"]
    assert meta["window"] == {"start": 2, "stop": 6} and [f["index"] for f in meta["frames"]] == [2, 3, 4, 5]
    assert meta["frame_count"] == 10 and sorted({k.split("/")[1] for k in meta["files"]}) == [
        "000002",
        "000003",
        "000004",
        "000005",
    ]
    assert result.frames["train"] == _frames_of(built, "train")  # distinct frames, not stored copies


def test_clip_window_rules():
    assert clip_windows(10, 4, 4) == [(0, 4), (4, 8), (8, 10)]
    assert clip_windows(9, 4, 2) == [(0, 4), (2, 6), (4, 8), (6, 9)]
    assert clip_windows(3, 4, 1) == [(0, 3)] and clip_windows(7, None, None) == [(0, 7)]
    assert check_clip_window(5, None) == (5, 5)
    with pytest.raises(ParameterError, match="every frame is exported"):
        check_clip_window(4, 5)
    with pytest.raises(ParameterError, match="clip_window"):
        check_clip_window(0, None)
    with pytest.raises(ParameterError, match="needs clip_window"):
        check_clip_window(None, 2)


def test_export_parameter_errors(corpus, tmp_path):
    with pytest.raises(ParameterError, match="one row per frame"):
        export_corpus(corpus, fmt="parquet", out=str(tmp_path / "x"), clip_window=4)
    with pytest.raises(ParameterError, match="YYYY-MM-DD"):
        export_corpus(corpus, fmt="webdataset", out=str(tmp_path / "x"), date_published="May 2026")
    assert not (tmp_path / "x" / "export.json").exists()


def test_large_clips_get_their_own_shards(built, corpus, tmp_path):
    result = export_corpus(corpus, fmt="webdataset", out=str(tmp_path / "s"), shard_size="2kB")
    clip_shards = [s for s in result.shards if s["kind"] == "clip"]
    assert len(clip_shards) == len(built["clips"]) and all(len(s["keys"]) == 1 for s in clip_shards)


def test_withdrawing_a_contributor_removes_their_clips_and_verify_tracks_the_export(built, corpus, tmp_path, capsys):
    out = tmp_path / "export"
    root = str(corpus.root)
    first = export_corpus(corpus, fmt="webdataset", out=str(out))
    export_corpus(corpus, fmt="parquet", out=str(tmp_path / "pq"))
    assert verify(corpus).ok
    owner = built["people"]["train"].contributor
    theirs = sorted(sid for sid, sp in built["clip_split"].items() if sp == "train")
    assert len(theirs) == 4
    assert main(["corpus", "withdraw", "--contributor", owner, "--corpus", root]) == 0
    assert "2 export(s) now stale" in capsys.readouterr().out
    for sid in theirs:
        assert not (corpus.root / "samples" / sid).exists()
    rows = corpus.catalog.rows("SELECT sample_id, status FROM samples WHERE contributor = ?", (owner,))
    assert {r["sample_id"] for r in rows} >= set(theirs) and {r["status"] for r in rows} == {"withdrawn"}
    assert not any(r["sample_id"] in theirs for r in corpus.catalog.active_samples())
    # before re-export: verify names both stale exports and fails
    assert main(["corpus", "verify", "--corpus", root, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert sorted(report["stale_exports"]) == sorted([str(out), str(tmp_path / "pq")])
    assert any(theirs[0] in p for p in report["problems"])
    # re-export both: the clips are gone from shards and index, old shards deleted; verify passes
    assert main(["corpus", "export", "--format", "webdataset", "--out", str(out), "--corpus", root]) == 0
    assert main(["corpus", "export", "--format", "parquet", "--out", str(tmp_path / "pq"), "--corpus", root]) == 0
    capsys.readouterr()
    listing = json.loads((out / "export.json").read_text())
    held = {sid for ids in listing["samples"].values() for sid in ids}
    assert held and not held & set(theirs)
    for shard in listing["shards"]:
        with tarfile.open(out / shard["path"]) as tar:
            assert not any(n.split(".")[0].split("@")[0] in theirs for n in tar.getnames())
    assert not any(json.loads(x)["sample_id"] in theirs for x in (out / "frames.jsonl").read_text().splitlines())
    gone = {s["path"] for s in first.shards if s["split"] == "train"}
    assert gone and not any((out / p).exists() for p in gone)
    assert main(["corpus", "verify", "--corpus", root, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["exports_checked"] == 2 and not report["stale_exports"]


def test_withdrawing_one_clip(built, corpus, tmp_path):
    export_corpus(corpus, fmt="webdataset", out=str(tmp_path / "e"))
    sid = "clip-bidavideo"
    assert withdraw(corpus, sample_id=sid) == [sid]
    assert not (corpus.root / "samples" / sid).exists()
    report = verify(corpus)
    assert not report.ok and report.stale_exports == [str(tmp_path / "e")]
    export_corpus(corpus, fmt="webdataset", out=str(tmp_path / "e"))
    assert verify(corpus).ok


def test_verify_checks_every_clip_frame_file(corpus):
    reader = open_clip_sample_dir(corpus.storage.path("clip-bidavideo"))
    path = corpus.storage.path("clip-bidavideo") / reader.manifest["files"]["valid/000007"]["path"]
    path.write_bytes(path.read_bytes()[:-3])
    report = verify(corpus)
    assert not report.ok and any("clip-bidavideo: valid/000007.png" in p for p in report.problems)


def test_cli_export_with_stored_windows_and_its_errors(corpus, tmp_path, capsys):
    root = str(corpus.root)
    out = str(tmp_path / "cli")
    assert (
        main(
            ["corpus", "export", "--out", out, "--corpus", root, "--clip-window", "4", "--date-published", "2026-05-04"]
        )
        == 0
    )
    line = capsys.readouterr().out
    assert "6 clips, 36 clip frames" in " ".join(line.split())
    crois = json.loads((tmp_path / "cli" / "croissant.json").read_text())
    assert crois["datePublished"] == "2026-05-04"
    listing = json.loads((tmp_path / "cli" / "export.json").read_text())
    assert listing["clip_window"] == 4 and listing["clip_stride"] == 4
    assert main(["corpus", "export", "--out", out, "--corpus", root, "--clip-window", "4", "--clip-stride", "5"]) == 64
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "clip_stride=5" in err[0] and "Traceback" not in err[0]
    assert json.loads((tmp_path / "cli" / "export.json").read_text()) == listing  # nothing replaced


def test_clips_in_an_object_store_export(built, corpus):
    torch = pytest.importorskip("torch")
    from parallax.corpus.loader import CorpusDataset

    result = export_corpus(corpus, fmt="webdataset", out="memory://exports/clips")
    import fsspec

    names = {p.rsplit("/", 1)[1] for p in fsspec.filesystem("memory").ls("/exports/clips", detail=False)}
    assert {s["path"] for s in result.shards} | {"frames.jsonl", "export.json"} <= names
    assert not [n for n in names if n.endswith(".partial")]
    assert verify(corpus).ok
    items = list(CorpusDataset("memory://exports/clips", clip_length=5, stride=5))
    train = {sid: c for sid, c in built["clips"].items() if built["clip_split"][sid] == "train"}
    assert sorted((i["clip_id"], int(i["frame_indices"][0])) for i in items) == sorted(
        (sid, s) for sid, c in train.items() for s in range(0, c.frame_count - 4, 5)
    )
    assert all(i["left"].dtype == torch.uint8 for i in items)


def test_rendered_synthetic_sequences_flow_through_corpus_export_and_loader(tmp_path, capsys):
    pytest.importorskip("mitsuba")
    torch = pytest.importorskip("torch")
    from parallax.corpus.loader import CorpusDataset

    synth = tmp_path / "synth-seq"
    assert (
        main(
            [
                "synth",
                "--frames",
                "6",
                "--count",
                "2",
                "--size",
                "64x48",
                "--spp",
                "4",
                "--out",
                str(synth),
                "--seed",
                "3",
            ]
        )
        == 0
    )
    consent = tmp_path / "cc0.json"
    consent.write_text(
        json.dumps({"contributor": "lab", "license": "CC0-1.0", "allow_training": True, "date": "2026-05-01"})
    )
    root = str(tmp_path / "corpus")
    assert main(["corpus", "init", root]) == 0
    assert main(["corpus", "add", str(synth), "--consent", str(consent), "--corpus", root]) == 0
    out = tmp_path / "export"
    assert main(["corpus", "export", "--out", str(out), "--corpus", root]) == 0
    capsys.readouterr()
    listing = json.loads((out / "export.json").read_text())
    split = next(s for s, ids in listing["clip_samples"].items() if ids)
    assert len(listing["clip_samples"][split]) == 2 and listing["frames"][split] == 12
    shard = next(s for s in listing["shards"] if s["kind"] == "clip")
    with tarfile.open(out / shard["path"]) as tar:
        names = tar.getnames()
    key = shard["keys"][0]
    for member in ("000000.flow.npy", "000005.occlusion.png", "000002.disparity_exact.npy", "000003.left.png"):
        assert f"{key}.{member}" in names, member
    ds = CorpusDataset(str(out), split=split, clip_length=3, stride=3)
    items = list(torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2))
    assert len(items) == 4
    for item in items:
        reader = open_clip_sample_dir(tmp_path / "corpus" / "samples" / item["clip_id"])
        start = int(item["frame_indices"][0])
        assert np.allclose(item["poses"].numpy(), reader.poses[start : start + 3], atol=1e-6)
        assert np.array_equal(item["timestamps"].numpy(), reader.timestamps_s[start : start + 3])
        assert item["source_kind"] == "synthetic" and not torch.isnan(item["poses"]).any()
