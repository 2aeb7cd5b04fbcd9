"""Every export's croissant.json yields its records through the reference reader, mlcroissant: stills and clip frames,
WebDataset (records read out of the tar shards) and Parquet."""

from __future__ import annotations

import gc
import json
import shutil

import numpy as np
import pytest

from parallax.corpus import encoding as enc
from parallax.corpus.export import export_corpus
from parallax.corpus.maintenance import withdraw
from parallax.corpus.store import Corpus

from .clip_factory import build_clip_corpus

# mlcroissant 1.1.1 builds an rdflib ConjunctiveGraph (deprecated in rdflib 7), calls DataFrame.reset_index(inplace=)
# (deprecated in pandas 3.1) and leaves the member files it reads to the garbage collector: third-party warnings
# (_records collects the files while they are ignored)
pytestmark = [
    pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.reset_index is deprecated"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture(scope="module")
def mlc(tmp_path_factory):
    """mlcroissant, with its download and extraction cache in a temporary folder (not ~/.cache/croissant)."""
    cache = tmp_path_factory.mktemp("croissant-cache")
    patch = pytest.MonkeyPatch()
    patch.setenv("CROISSANT_CACHE", str(cache))
    mlcroissant = pytest.importorskip("mlcroissant")
    from etils import epath
    from mlcroissant._src.core import constants
    from mlcroissant._src.operation_graph.operations import extract

    # mlcroissant reads CROISSANT_CACHE once, when first imported; in case that happened earlier, point it here
    patch.setattr(constants, "DOWNLOAD_PATH", epath.Path(cache) / "download")
    patch.setattr(extract, "EXTRACT_PATH", epath.Path(cache) / "extract")
    yield mlcroissant
    patch.undo()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    base = tmp_path_factory.mktemp("croissant")
    built = build_clip_corpus(base / "corpus")
    corpus = Corpus.open(base / "corpus")
    for fmt in ("webdataset", "parquet"):
        export_corpus(corpus, fmt=fmt, out=str(base / fmt), shard_size="300kB", date_published="2026-05-04")
    corpus.close()
    return {**built, "base": base}


def _records(mlc, path, record_set):
    dataset = mlc.Dataset(jsonld=str(path / "croissant.json"))
    records = [{k.split("/", 1)[1]: v for k, v in r.items()} for r in dataset.records(record_set=record_set)]
    gc.collect()  # close the files mlcroissant left open
    return records


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@pytest.mark.parametrize("fmt", ["webdataset", "parquet"])
def test_mlcroissant_reads_the_still_samples(mlc, exported, fmt):
    records = _records(mlc, exported["base"] / fmt, "samples")
    assert sorted(_text(r["sample_id"]) for r in records) == sorted(exported["stills"])
    from .conftest import make_sample

    people = exported["people"]
    for r in records:
        sid = _text(r["sample_id"])
        consent = people[exported["stills"][sid]]
        sample = make_sample(consent, int(sid.rsplit("-", 1)[1]))
        assert np.array_equal(np.asarray(r["left"]), sample.left)
        assert np.array_equal(np.asarray(r["right"]), sample.right)
        meta = json.loads(r["meta"])
        assert meta["sample_id"] == sid
        disparity = enc.decode_map16(_png(r["disparity"]), meta["files"]["disparity"], name="d")
        assert np.allclose(disparity, sample.disparity_px)
        assert np.array_equal(np.asarray(r["valid"]) > 127, sample.valid)


def _png(image) -> bytes:
    """Re-encode a decoded 16-bit PIL image as PNG bytes for the project's decoder."""
    import io

    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["webdataset", "parquet"])
def test_mlcroissant_reads_every_clip_frame_with_its_time_pose_and_K(mlc, exported, fmt):
    records = _records(mlc, exported["base"] / fmt, "frames")
    clips = exported["clips"]
    assert len(records) == sum(c.frame_count for c in clips.values())
    got = {(_text(r["clip_id"]), int(r["frame_index"])): r for r in records}
    assert set(got) == {(sid, i) for sid, c in clips.items() for i in range(c.frame_count)}
    for (sid, i), r in got.items():
        frame = clips[sid].frames[i]
        assert int(r["frame_count"]) == clips[sid].frame_count
        assert abs(r["timestamp_s"] - frame.timestamp_s) < 1e-9
        assert np.allclose(np.reshape(r["K"], (3, 3)), frame.K, rtol=1e-12, atol=0)
        if frame.pose is None:
            assert not r["pose"]
        else:  # pandas' JSON reader (WebDataset's frames.jsonl) parses floats to ~15 digits
            assert np.allclose(np.reshape(r["pose"], (4, 4)), frame.pose, rtol=1e-12, atol=1e-14)
        assert np.array_equal(np.asarray(r["left"]), frame.left)
        assert np.array_equal(np.asarray(r["right"]), frame.right)
        assert np.array_equal(np.asarray(r["valid"]) > 127, frame.valid)
        assert np.asarray(r["disparity"]).shape == frame.disparity_px.shape


def test_mlcroissant_reads_the_stored_clips_of_a_webdataset_export(mlc, exported):
    records = _records(mlc, exported["base"] / "webdataset", "clips")
    metas = {_text(r["key"]): json.loads(r["meta"]) for r in records}
    assert sorted(metas) == sorted(exported["clips"])
    for sid, meta in metas.items():
        assert [f["timestamp_s"] for f in meta["frames"]] == [f.timestamp_s for f in exported["clips"][sid].frames]


@pytest.mark.parametrize("fmt", ["webdataset", "parquet"])
def test_croissant_has_citation_date_and_validates_cleanly(mlc, exported, fmt):
    path = exported["base"] / fmt
    dataset = mlc.Dataset(jsonld=str(path / "croissant.json"))
    export_id = json.loads((path / "export.json").read_text())["export_id"]
    assert dataset.metadata.cite_as.startswith("@misc{parallax-") and export_id in dataset.metadata.cite_as
    assert str(dataset.metadata.date_published)[:10] == "2026-05-04"
    assert not dataset.metadata.issues.errors and not dataset.metadata.issues.warnings
    raw = json.loads((path / "croissant.json").read_text())
    assert raw["px:frameCounts"]["train"] == sum(
        c.frame_count for sid, c in exported["clips"].items() if exported["clip_split"][sid] == "train"
    )


def test_records_after_a_withdrawal_and_reexport_hold_no_withdrawn_clip(mlc, exported, tmp_path):
    """mlcroissant caches a tar's extraction by URL: content-addressed shard names keep it from serving stale records."""
    shutil.copytree(exported["base"] / "corpus", tmp_path / "corpus")
    corpus = Corpus.open(tmp_path / "corpus")
    out = tmp_path / "wds"
    export_corpus(corpus, fmt="webdataset", out=str(out))
    before = {_text(r["clip_id"]) for r in _records(mlc, out, "frames")}
    assert "clip-bidavideo" in before
    withdraw(corpus, sample_id="clip-bidavideo")
    export_corpus(corpus, fmt="webdataset", out=str(out))
    corpus.close()
    after = {_text(r["clip_id"]) for r in _records(mlc, out, "frames")}
    assert after == before - {"clip-bidavideo"}


@pytest.mark.parametrize("fmt", ["webdataset", "parquet"])
def test_the_croissant_of_an_empty_export_loads(mlc, tmp_path, fmt):
    corpus = Corpus.init(tmp_path / "corpus")
    export_corpus(corpus, fmt=fmt, out=str(tmp_path / fmt))
    corpus.close()
    dataset = mlc.Dataset(jsonld=str(tmp_path / fmt / "croissant.json"))
    assert not dataset.metadata.issues.errors and not dataset.metadata.record_sets
