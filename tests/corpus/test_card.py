"""The dataset card and Croissant describe the sequence fields of clips; dates and citations."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from parallax.corpus.card import check_date, cite_as_bibtex
from parallax.corpus.export import export_corpus
from parallax.corpus.store import Corpus
from parallax.errors import ParameterError

from .clip_factory import build_clip_corpus
from .conftest import ALICE, make_sample


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    base = tmp_path_factory.mktemp("card")
    built = build_clip_corpus(base / "corpus", real=False)
    corpus = Corpus.open(base / "corpus")
    for fmt in ("webdataset", "parquet"):
        export_corpus(corpus, fmt=fmt, out=str(base / fmt), name="Seq test", cite_as="Parallax authors, 2026")
    corpus.close()
    stills = Corpus.init(base / "stills-corpus")
    for i in range(2):
        stills.add_sample(make_sample(ALICE, i), ALICE)
    export_corpus(stills, fmt="webdataset", out=str(base / "stills"))
    stills.close()
    return {**built, "base": base}


def _front(card: str) -> str:
    assert card.startswith("---\n")
    return card[4 : card.index("\n---\n", 4)]


def test_card_describes_clips_and_their_sequence_fields(exports):
    card = (exports["base"] / "webdataset" / "README.md").read_text()
    front = _front(card)
    assert "- config_name: default" in front and "- config_name: clips" in front
    assert (
        'path: "train-*.tar"' in front and 'path: "clips-train-*.tar"' in front and 'path: "clips-test-*.tar"' in front
    )
    assert "- video" in front
    frames = {s: 0 for s in ("train", "val", "test")}
    clips = {s: 0 for s in frames}
    for sid, clip in exports["clips"].items():
        frames[exports["clip_split"][sid]] += clip.frame_count
        clips[exports["clip_split"][sid]] += 1
    stills = {s: sum(sp == s for sp in exports["stills"].values()) for s in frames}
    for split in frames:
        row = f"| {split} | {stills[split] + clips[split]} | {stills[split]} | {clips[split]} | {frames[split]} |"
        assert row in card, row
    sequences = card[card.index("## Sequences") :]
    for field in ("clip id", "frame index", "frame count", "timestamp", "pose", "K"):
        assert re.search(rf"^\| {field} \|", sequences, re.M), field
    assert "camera-to-world" in sequences and "OpenCV" in sequences
    assert "`<key>.NNNNNN.left.png`" in card and "frames.jsonl" in card
    parquet = (exports["base"] / "parquet" / "README.md").read_text()
    assert 'path: "clips-train-*.parquet"' in _front(parquet) and "`frame_index`" in parquet


def test_stills_only_card_has_no_clip_config(exports):
    card = (exports["base"] / "stills" / "README.md").read_text()
    assert "config_name: clips" not in card and "## Sequences" not in card
    assert 'path: "train-*.tar"' in _front(card)


def test_croissant_describes_the_sequence_fields(exports):
    for fmt in ("webdataset", "parquet"):
        crois = json.loads((exports["base"] / fmt / "croissant.json").read_text())
        assert crois["citeAs"] == "Parallax authors, 2026"
        today = datetime.now(UTC).date()
        assert crois["datePublished"] in {today.isoformat(), (today - timedelta(days=1)).isoformat()}  # export day
        frames = next(rs for rs in crois["recordSet"] if rs["@id"] == "frames")
        names = {f["name"]: f for f in frames["field"]}
        assert {"clip_id", "frame_index", "frame_count", "timestamp_s", "pose", "K", "left", "disparity"} <= set(names)
        assert names["pose"]["repeated"] is True and "camera-to-world" in names["pose"]["description"].lower()
        assert names["frame_index"]["dataType"] == "sc:Integer" and names["timestamp_s"]["dataType"] == "sc:Float"
        assert sum(crois["px:clipCounts"].values()) == len(exports["clips"])
        assert "video" in crois["keywords"]


def test_dates_and_citations():
    assert check_date("2026-05-04") == "2026-05-04"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", check_date(None))
    with pytest.raises(ParameterError, match="YYYY-MM-DD"):
        check_date("04/05/2026")
    bib = cite_as_bibtex(title="A {set}", export_id="e-0123", date_published="2026-05-04", samples=7)
    assert bib.startswith("@misc{parallax-0123,") and "year = {2026}" in bib and "e-0123, 7 samples" in bib
    assert "title = {A (set)}" in bib
