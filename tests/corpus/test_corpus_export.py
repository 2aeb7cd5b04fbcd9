"""Export (WebDataset, Parquet, card, Croissant), withdrawal with stale exports, verify."""

from __future__ import annotations

import gc
import json
import tarfile

import numpy as np
import pytest

from parallax.cli.main import main
from parallax.corpus.consent import Consent
from parallax.corpus.export import export_corpus, parse_size, split_of
from parallax.corpus.maintenance import verify, withdraw
from parallax.errors import ParameterError

from .conftest import ALICE, BOB, make_sample


def _contributors_for_every_split(per_split: int = 3) -> list[Consent]:
    chosen: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for i in range(200):
        name = f"carol{i}"
        if len(chosen[split_of(name)]) < per_split:
            chosen[split_of(name)].append(name)
    names = sorted(n for group in chosen.values() for n in group)
    return [Consent(contributor=n, license="CC0-1.0", allow_training=True, date="2026-04-01") for n in names]


CAROL = _contributors_for_every_split()


@pytest.fixture()
def big_corpus(corpus_copy):
    """The real captures plus small synthetic samples from 9 more contributors (3 per split)."""
    for i, consent in enumerate(CAROL):
        for j in range(2):
            outcome = corpus_copy.add_sample(make_sample(consent, 10 * i + j), consent)
            assert outcome.status == "accepted", outcome
    return corpus_copy


@pytest.mark.filterwarnings("ignore::ResourceWarning")  # webdataset 1.0 leaves shard files to the garbage collector
def test_webdataset_export_reads_with_webdataset_and_is_deterministic(big_corpus, tmp_path):
    wds = pytest.importorskip("webdataset")
    a = export_corpus(big_corpus, fmt="webdataset", out=str(tmp_path / "a"), shard_size="2MB")
    b = export_corpus(big_corpus, fmt="webdataset", out=str(tmp_path / "b"), shard_size="2MB")
    assert [s["sha256"] for s in a.shards] == [s["sha256"] for s in b.shards] and len(a.shards) > 3
    active = {r["sample_id"] for r in big_corpus.catalog.active_samples()}
    assert {sid for ids in a.samples.values() for sid in ids} == active
    seen = []
    for shard in a.shards:
        with tarfile.open(tmp_path / "a" / shard["path"]) as tar:
            for m in tar.getmembers():
                assert (m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) == (0, 0, 0, "", "", 0o644)
        ds = wds.WebDataset(str(tmp_path / "a" / shard["path"]), shardshuffle=False)
        for item in ds:
            meta = json.loads(item["json"])
            assert item["__key__"] == meta["sample_id"].replace(".", "_")
            assert item["left.png"][:4] == b"\x89PNG" and "disparity.png" in item and "valid.png" in item
            seen.append((shard["split"], meta["sample_id"], meta["rights"]["contributor"]))
    assert sorted(s[1] for s in seen) == sorted(active)
    splits_of = {}
    for split, _, contributor in seen:
        splits_of.setdefault(contributor, set()).add(split)
    assert all(len(s) == 1 for s in splits_of.values())  # nobody's captures in two splits
    assert {next(iter(s)) for s in splits_of.values()} == {"train", "val", "test"}
    gc.collect()  # close webdataset's shard files while ResourceWarning is ignored


def test_parquet_export_reads_with_duckdb(big_corpus, tmp_path):
    duckdb = pytest.importorskip("duckdb")
    result = export_corpus(big_corpus, fmt="parquet", out=str(tmp_path / "pq"))
    con = duckdb.connect()
    rows = con.execute(
        f'SELECT split, sample_id, contributor, license, source_kind, width, K, octet_length("left") AS nbytes '
        f"FROM read_parquet('{tmp_path / 'pq'}/*.parquet') ORDER BY sample_id"
    ).fetchall()
    assert [r[1] for r in rows] == sorted(r["sample_id"] for r in big_corpus.catalog.active_samples())
    assert all(r[0] == split_of(r[2]) for r in rows)
    assert all(len(r[6]) == 9 and r[7] > 100 for r in rows)
    by_licence = dict(
        con.execute(
            f"SELECT license, count(*) FROM read_parquet('{tmp_path / 'pq'}/*.parquet') GROUP BY license"
        ).fetchall()
    )
    assert by_licence["CC0-1.0"] == 18
    assert sum(len(v) for v in result.samples.values()) == len(rows)


def test_dataset_card_and_croissant(big_corpus, tmp_path):
    export_corpus(big_corpus, fmt="webdataset", out=str(tmp_path / "e"))
    card = (tmp_path / "e" / "README.md").read_text()
    assert card.startswith("---\n") and "\n---\n" in card[4:]
    front = card[4 : card.index("\n---\n", 4)]
    assert "license: other" in front and "task_categories:" in front and "depth-estimation" in front
    assert 'path: "train-*.tar"' in front
    assert "| CC0-1.0 | 18 |" in card
    crois = json.loads((tmp_path / "e" / "croissant.json").read_text())
    assert crois["@type"] == "sc:Dataset" and "http://mlcommons.org/croissant/1.0" in crois["conformsTo"]
    for key in (
        "rai:dataCollection",
        "rai:personalSensitiveInformation",
        "rai:dataUseCases",
        "rai:dataBiases",
        "rai:dataLimitations",
        "rai:dataPreprocessingProtocol",
    ):
        assert crois[key], key
    assert "blurred" in crois["rai:personalSensitiveInformation"] and "consent" in crois["rai:dataCollection"]
    assert crois["px:licenseBreakdown"]["CC0-1.0"] == 18
    shards = [d for d in crois["distribution"] if d["@type"] == "cr:FileObject"]
    listing = json.loads((tmp_path / "e" / "export.json").read_text())
    assert [d["sha256"] for d in shards] == [s["sha256"] for s in listing["shards"]]


def test_withdraw_then_verify_reports_stale_export_until_reexport(corpus_copy, tmp_path, capsys):
    out = tmp_path / "export"
    root = str(corpus_copy.root)
    export_corpus(corpus_copy, fmt="webdataset", out=str(out))
    assert verify(corpus_copy).ok
    bob_ids = [r["sample_id"] for r in corpus_copy.catalog.active_samples("bob")]
    assert bob_ids
    assert main(["corpus", "withdraw", "--contributor", "bob", "--corpus", root]) == 0
    assert "now stale" in capsys.readouterr().out
    for sid in bob_ids:
        assert not (corpus_copy.root / "samples" / sid).exists()
    status = corpus_copy.status()
    assert status["withdrawn"] == len(bob_ids) and status["stale_exports"] == 1
    # before re-export: verify names the stale export and fails
    assert main(["corpus", "verify", "--corpus", root]) == 1
    assert "is stale" in capsys.readouterr().out
    # re-export leaves bob out; verify passes
    assert main(["corpus", "export", "--format", "webdataset", "--out", str(out), "--corpus", root]) == 0
    capsys.readouterr()
    listing = json.loads((out / "export.json").read_text())
    held = {sid for ids in listing["samples"].values() for sid in ids}
    assert held and not held & set(bob_ids)
    for shard in listing["shards"]:
        with tarfile.open(out / shard["path"]) as tar:
            assert not any(n.split(".")[0] in bob_ids for n in tar.getnames())
    assert main(["corpus", "verify", "--corpus", root, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["exports_checked"] == 1 and report["samples_checked"] == len(held)


def test_withdrawn_sample_does_not_come_back(corpus_copy, captures_dir, ingested):
    from parallax.corpus.ingest import discover

    sid = next(o.sample_id for o in ingested["outcomes"] if o.original_name == "sugarshack.mpo")
    assert withdraw(corpus_copy, sample_id=sid) == [sid]
    corpus_copy.catalog.db.execute("DELETE FROM inputs WHERE original_name = 'sugarshack.mpo'")  # forget the input
    (outcome,) = corpus_copy.add(discover([captures_dir / "mpo" / "sugarshack.mpo"])[0], ALICE, ingested["settings"])
    assert outcome.status == "rejected" and "withdrawn" in outcome.reason
    assert not (corpus_copy.root / "samples" / sid).exists()


def test_verify_catches_a_tampered_file(corpus_copy):
    sid = corpus_copy.catalog.active_samples()[0]["sample_id"]
    path = corpus_copy.root / "samples" / sid / "right.png"
    path.write_bytes(path.read_bytes() + b"x")
    report = verify(corpus_copy)
    assert not report.ok and any("right.png does not match" in p for p in report.problems)


def test_export_parameters_are_checked(corpus_copy, tmp_path):
    with pytest.raises(ParameterError, match="not one of"):
        export_corpus(corpus_copy, fmt="csv", out=str(tmp_path / "x"))
    with pytest.raises(ParameterError, match="adding up to 1"):
        export_corpus(corpus_copy, fmt="parquet", out=str(tmp_path / "x"), ratios=(0.5, 0.1, 0.1))
    with pytest.raises(ParameterError, match="256MB"):
        parse_size("lots")
    assert parse_size("64MB") == 64_000_000 and parse_size("1.5G") == 1_500_000_000


def test_export_to_an_object_store(corpus_copy):
    result = export_corpus(corpus_copy, fmt="webdataset", out="memory://exports/run1")
    import fsspec

    fs = fsspec.filesystem("memory")
    names = sorted(p.rsplit("/", 1)[1] for p in fs.ls("/exports/run1", detail=False))
    assert {"README.md", "croissant.json", "export.json"} <= set(names)
    assert sum(n.endswith(".tar") for n in names) == len(result.shards)
    assert verify(corpus_copy).ok


def test_add_sample_checks_its_consent(corpus_copy):
    sample = make_sample(BOB, 1)
    with pytest.raises(ParameterError, match="does not match the consent"):
        corpus_copy.add_sample(sample, ALICE)
    assert corpus_copy.add_sample(sample, BOB).status == "accepted"
    assert corpus_copy.add_sample(sample, BOB).status == "skipped"
    stored = np.asarray(sample.disparity_px)
    assert stored.shape == (48, 64)


def test_samples_in_an_object_store(tmp_path):
    from parallax.corpus.store import Corpus

    corpus = Corpus.init(tmp_path / "c", samples_url="memory://objstore/samples")
    for i in range(3):
        assert corpus.add_sample(make_sample(ALICE, i), ALICE).status == "accepted"
    import fsspec

    fs = fsspec.filesystem("memory")
    assert sorted(p.rsplit("/", 1)[1] for p in fs.ls("/objstore/samples", detail=False)) == [
        "syn-alice-000",
        "syn-alice-001",
        "syn-alice-002",
    ]
    fs.pipe_file("/objstore/samples/syn-orphan/left.png", b"partial")  # a killed writer's leftovers
    assert corpus.recover() == ["syn-orphan"]
    result = export_corpus(corpus, fmt="webdataset", out=str(tmp_path / "e"))
    assert sum(len(v) for v in result.samples.values()) == 3
    assert withdraw(corpus, sample_id="syn-alice-001") == ["syn-alice-001"]
    assert not fs.exists("/objstore/samples/syn-alice-001")
    assert not verify(corpus).ok  # the export now holds a withdrawn sample
    export_corpus(corpus, fmt="webdataset", out=str(tmp_path / "e"))
    assert verify(corpus).ok
    corpus.close()
