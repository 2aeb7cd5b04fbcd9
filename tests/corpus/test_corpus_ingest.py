"""Ingest of the real captures: every one accepted or rejected with a reason, the GX8 shot once, idempotent reruns."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from parallax.cli.main import main
from parallax.corpus.consent import Consent, load_consent
from parallax.corpus.ingest import discover
from parallax.corpus.sample import read_sample_dir
from parallax.corpus.store import Corpus
from parallax.errors import InputFileError, OutputError, ParameterError

from .conftest import ALICE, BOB, read_meta


def test_every_capture_is_accepted_or_rejected_with_a_reason(ingested, captures_dir):
    outcomes = ingested["outcomes"]
    all_files = sorted(p.name for p in captures_dir.rglob("*") if p.is_file())
    seen = sorted(n for o in outcomes for n in o.original_name.split(" + "))
    assert seen == all_files
    for o in outcomes:
        assert o.status in ("accepted", "duplicate", "rejected")
        if o.status != "accepted":
            assert o.reason, o
        if o.status != "rejected":
            assert o.sample_id
    by_name = {o.original_name: o for o in outcomes}
    assert by_name["pug.heic"].status == "rejected" and "one view" in by_name["pug.heic"].reason
    rows = ingested["snapshot"]["inputs"]
    assert len(rows) == len(outcomes) and all(
        r["status"] == o.status
        for r, o in zip(
            sorted(rows, key=lambda r: r["original_name"]), sorted(outcomes, key=lambda o: o.original_name), strict=True
        )
    )


def test_gx8_as_mpo_side_by_side_and_two_files_is_one_sample(ingested):
    gx8 = [o for o in ingested["outcomes"] if "Panasonic-DMC-GX8" in o.original_name]
    assert len(gx8) == 3
    assert {o.sample_id for o in gx8} == {gx8[0].sample_id} and gx8[0].sample_id is not None
    assert sorted(o.status for o in gx8) == ["accepted", "duplicate", "duplicate"]
    samples = [s for s in ingested["snapshot"]["samples"] if "Panasonic-DMC-GX8" in s["original_name"]]
    assert len(samples) == 1


def test_two_files_pair_up_in_a_folder(captures_dir):
    items, skipped = discover([captures_dir / "sbs"])
    names = [it.original_name for it in items]
    assert "Panasonic-DMC-GX8-left.jpg + Panasonic-DMC-GX8-right.jpg" in names
    pair = next(it for it in items if " + " in it.original_name)
    assert [Path(p).name for p in pair.paths] == ["Panasonic-DMC-GX8-left.jpg", "Panasonic-DMC-GX8-right.jpg"]
    assert "GOPR0.left-right.jpg" in names and "calf-left-right.jpg" in names  # one file holding both views
    assert skipped == []


def test_meta_json_is_self_describing(ingested):
    accepted = [o for o in ingested["outcomes"] if o.status == "accepted"]
    assert accepted
    for o in accepted:
        meta = read_meta(ingested["root"], o.sample_id)
        assert meta["source"]["original_name"] == o.original_name
        assert meta["rights"]["consent_id"] in (ALICE.consent_id, BOB.consent_id)
        assert meta["quality"]["accepted"] is True and meta["quality"]["thresholds"]
        assert set(meta["quality"]["scores"]) >= {
            "rectification_residual_px",
            "sharpness",
            "exposure_mean",
            "disparity_density",
            "disparity_span_px",
            "lr_photometric_error",
        }
        assert meta["processing"]["max_side_px"] == ingested["settings"].max_side_px
        assert max(meta["width"], meta["height"]) <= ingested["settings"].max_side_px
        assert meta["lineage"]["parallax_version"] and meta["lineage"]["matcher"]
        assert len(meta["camera"]["K"]) == 3 and meta["camera"]["rectification"]["method"]
        sample = read_sample_dir(ingested["root"] / "samples" / o.sample_id)  # every hash checks out
        assert sample.sample_id == o.sample_id


def test_status_json_counts(ingested, capsys):
    assert main(["corpus", "status", "--json", "--corpus", str(ingested["root"])]) == 0
    status = json.loads(capsys.readouterr().out)
    outcomes = ingested["outcomes"]
    assert status["samples"] == sum(o.status == "accepted" for o in outcomes)
    assert status["rejected"] == sum(o.status == "rejected" for o in outcomes)
    assert status["duplicates"] == sum(o.status == "duplicate" for o in outcomes)
    assert status["withdrawn"] == 0 and status["contributors"] == 2


def test_rerun_is_idempotent(corpus_copy, ingested, captures_dir):
    items, _ = discover([captures_dir / "mpo"])
    outcomes = corpus_copy.add(items, ALICE, ingested["settings"])
    assert [o.status for o in outcomes] == ["skipped"] * len(items)
    assert corpus_copy.catalog.snapshot() == ingested["snapshot"]


def test_broken_file_is_rejected_and_the_batch_goes_on(tmp_path, captures_dir, ingested):
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    shutil.copy(captures_dir / "mpo" / "sugarshack.mpo", folder / "sugarshack.mpo")
    corpus = Corpus.init(tmp_path / "c")
    items, _ = discover([folder])
    outcomes = corpus.add(items, ALICE, ingested["settings"])
    by_name = {o.original_name: o for o in outcomes}
    assert by_name["broken.jpg"].status == "rejected" and "broken.jpg" in by_name["broken.jpg"].reason
    assert by_name["sugarshack.mpo"].status == "accepted"
    assert corpus.status()["rejected"] == 1 and corpus.status()["samples"] == 1
    corpus.close()


def test_cli_add_without_consent_is_refused(tmp_path, captures_dir, capsys):
    assert main(["corpus", "init", str(tmp_path / "c")]) == 0
    code = main(["corpus", "add", str(captures_dir / "mpo" / "sugarshack.mpo"), "--corpus", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code == ParameterError.exit_code and "no consent given" in err and "--consent" in err
    assert list((tmp_path / "c" / "samples").iterdir()) == []


def test_consent_files_are_checked(tmp_path):
    bad = tmp_path / "consent.json"
    bad.write_text(
        json.dumps({"contributor": "eve", "license": "CC-BY-4.0", "allow_training": False, "date": "2026-01-01"})
    )
    with pytest.raises(ParameterError, match="allow_training"):
        load_consent(bad)
    bad.write_text(json.dumps({"contributor": "eve", "license": "CC-BY-4.0"}))
    with pytest.raises(InputFileError, match="allow_training, date"):
        load_consent(bad)
    bad.write_text("{not json")
    with pytest.raises(InputFileError, match="not readable JSON"):
        load_consent(bad)
    with pytest.raises(InputFileError, match="does not exist"):
        load_consent(tmp_path / "missing.json")
    with pytest.raises(ParameterError, match="SPDX"):
        Consent(contributor="eve", license="any licence you like", allow_training=True, date="2026-01-01")
    good = Consent(contributor="eve", license="CC0-1.0", allow_training=True, date="2026-01-01")
    assert good.consent_id == Consent(**good.to_dict()).consent_id and good.consent_id.startswith("c-")


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["corpus", "status", "--corpus", str(tmp_path / "none")]) == InputFileError.exit_code
    err = capsys.readouterr().err
    assert "parallax corpus init" in err and "Traceback" not in err
    assert main(["corpus", "init", str(tmp_path / "c")]) == 0
    assert main(["corpus", "init", str(tmp_path / "c")]) == OutputError.exit_code
    assert "already holds a corpus" in capsys.readouterr().err
    assert main(["corpus", "withdraw", "--corpus", str(tmp_path / "c")]) == ParameterError.exit_code
    assert "exactly one of" in capsys.readouterr().err
    assert main(["corpus", "withdraw", "--contributor", "nobody", "--corpus", str(tmp_path / "c")]) == (
        ParameterError.exit_code
    )
    assert "no active sample" in capsys.readouterr().err


def test_a_pair_that_cannot_be_rectified_is_rejected_with_the_reason(tmp_path, stereo_gt_dir):
    import cv2
    import numpy as np
    from PIL import Image

    from parallax.corpus.ingest import IngestSettings

    folder = tmp_path / "batch"
    folder.mkdir()
    scene = stereo_gt_dir / "middlebury2014-motorcycle-q"
    left = np.asarray(Image.open(scene / "motorcycle_left.png").convert("RGB"))
    right = np.asarray(Image.open(scene / "motorcycle_right.png").convert("RGB"))
    h, w = right.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    # rows bent up and down every 24 columns: no rectification can line them up
    wavy = cv2.remap(
        right, xs, ys + 4.0 * np.sin(2 * np.pi * xs / 24.0), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    Image.fromarray(left).save(folder / "wavy-left.png")
    Image.fromarray(wavy).save(folder / "wavy-right.png")
    corpus = Corpus.init(tmp_path / "c")
    items, _ = discover([folder])
    (outcome,) = corpus.add(items, ALICE, IngestSettings(max_side_px=640))
    assert outcome.status == "rejected" and "not rectified" in outcome.reason and "rows do not match" in outcome.reason
    corpus.close()
