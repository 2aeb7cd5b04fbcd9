"""``parallax bench value --quick``: both arms train and evaluate end to end (who wins is not asserted).

The quick preset renders 3 tiny synthetic pairs, ingests 2 real training scenes
and 2 held-out ones (one with ground truth) through the corpus, trains both arms
for 12 steps with 2 seeds and writes the results. The test checks that every run
trained and scored every held-out scene, that the files hold the data lists and
the held-out check, that a rerun from the cache gives identical scores, and the
error paths of the command.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from parallax.cli.main import main
from parallax.errors import InputFileError, OutputError, ParallaxError, ParameterError

pytest.importorskip("torch")
pytest.importorskip("mitsuba")

#: The quick run renders, ingests and trains (about half a minute on 2 busy cores).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> dict:
    root = tmp_path_factory.mktemp("value")
    args = ["bench", "value", "--quick", "--data", str(data_dir), "--cache", str(root / "cache"), "--threads", "1"]
    code = main([*args, "--out", str(root / "out")])
    assert code == 0
    return {"root": root, "args": args}


def test_quick_run_trains_and_evaluates_both_arms(quick_run: dict) -> None:
    out = quick_run["root"] / "out"
    results = json.loads((out / "results.json").read_text())
    settings = results["settings"]
    assert settings["preset"] == "quick" and settings["seeds"] == [0, 1]
    runs = results["runs"]
    assert sorted((r["arm"], r["seed"]) for r in runs) == [
        ("synthetic", 0),
        ("synthetic", 1),
        ("synthetic+real", 0),
        ("synthetic+real", 1),
    ]
    scenes = {"middlebury2003-cones", "3ds-sugarshack"}
    for run in runs:
        assert set(run["scores"]) == scenes
        assert run["loss_curve"][-1][0] == settings["steps"] and math.isfinite(run["loss_curve"][-1][1])
        for scene, scores in run["scores"].items():
            assert 5.0 < scores["psnr_db"] < 60.0 and -1.0 < scores["ssim"] <= 1.0
            if scene == "middlebury2003-cones":  # ground truth: the model's disparity is scored
                assert scores["disparity_epe_px"] >= 0.0
            else:
                assert math.isnan(scores["disparity_epe_px"])
        sources = set(run["draws"])
        assert sources == ({"synthetic"} if run["arm"] == "synthetic" else {"synthetic", "real"})
    summary = results["summary"]
    for metric in ("psnr_db", "ssim", "edge_grad_err"):
        for arm in ("synthetic", "synthetic+real"):
            assert summary[metric][arm]["mean"] is not None and len(summary[metric][arm]["per_seed"]) == 2
        diff = summary[metric]["difference"]
        assert diff["ci_low"] <= diff["mean"] <= diff["ci_high"]
    assert summary["disparity_epe_px"]["difference"]["scenes"] == ["middlebury2003-cones"]
    assert results["held_out_check"]["shared"] == 0
    assert results["command"].startswith("parallax bench value") and "--quick" in results["command"]


def test_quick_run_writes_the_data_lists_and_previews(quick_run: dict) -> None:
    out = quick_run["root"] / "out"
    data = json.loads((out / "data.json").read_text())
    real = data["exports"]["real_train"]
    assert {s["contributor"] for s in real["samples"]} == {"middlebury2001-tsukuba", "3ds-frozenpond"}
    assert all(o["status"] == "accepted" for o in real["inputs"])
    assert {s["kind"] for s in data["exports"]["synthetic"]["samples"]} == {"synthetic"}
    held = {h["scene_id"]: h for h in data["held_out"]}
    assert set(held) == {"middlebury2003-cones", "3ds-sugarshack"}
    assert held["middlebury2003-cones"]["ground_truth"] and not held["3ds-sugarshack"]["ground_truth"]
    assert any(f.endswith("sugarshack.mpo") for f in held["3ds-sugarshack"]["files"])
    mixed = data["training"]["synthetic+real"]
    assert mixed["weights"] == {"synthetic": 0.7, "real": 0.3}
    drawn = mixed["draws_per_seed"]["0"]
    assert set(drawn) == {"synthetic", "real"} and sum(drawn["real"].values()) > 0
    assert json.loads((out / "settings.json").read_text())["size"] == [64, 48]
    md = (out / "results.md").read_text()
    assert "| PSNR (dB) ↑ |" in md and "synthetic + real (30% real draws)" in md
    previews = sorted(p.name for p in (out / "previews").iterdir())
    assert previews == ["00-middlebury2003-cones.png", "01-3ds-sugarshack.png"]
    assert not list(out.glob(".staging-*"))


def test_rerun_from_cache_gives_the_same_scores(quick_run: dict) -> None:
    root = quick_run["root"]
    assert main([*quick_run["args"], "--out", str(root / "again")]) == 0
    first = json.loads((root / "out" / "results.json").read_text())
    again = json.loads((root / "again" / "results.json").read_text())
    assert all(e["from_cache"] for e in json.loads((root / "again" / "data.json").read_text())["exports"].values())
    assert [r["scores"] for r in again["runs"]] == [r["scores"] for r in first["runs"]]


def test_existing_results_are_kept(quick_run: dict, capsys: pytest.CaptureFixture[str]) -> None:
    out = quick_run["root"] / "out"
    before = (out / "results.json").read_bytes()
    assert main([*quick_run["args"], "--out", str(out)]) == OutputError.exit_code
    assert "--force" in capsys.readouterr().err
    assert (out / "results.json").read_bytes() == before


@pytest.mark.parametrize(
    ("extra", "message", "error"),
    [
        (["--device", "cuda:7"], "--device", ParameterError),
        (["--size", "100x48"], "--size", ParameterError),
        (["--real-weight", "1.5"], "--real-weight", ParameterError),
        (["--eval-scenes", "no-such-scene"], "unknown eval scene", ParameterError),
        (["--train-scenes", "3ds-sugarshack"], "never trained on", ParameterError),
        (["--data", "/nonexistent"], "--data", InputFileError),
        (["--corpus", "/nonexistent"], "neither a corpus", InputFileError),
    ],
)
def test_bad_options_give_one_line(
    tmp_path: Path,
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
    error: type[ParallaxError],
) -> None:
    args = ["bench", "value", "--quick", "--data", str(data_dir), "--out", str(tmp_path / "out")]
    args += ["--cache", str(tmp_path / "cache")]
    assert main([*args, *extra]) == error.exit_code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_a_users_corpus_is_exported_and_reused(quick_run: dict) -> None:
    """``--corpus DIR`` with a corpus folder: exported once into the cache (split by contributor), then reused."""
    from parallax.bench.value.data import export_metas, prepare_corpus_arg
    from parallax.errors import InputFileError

    cache = quick_run["root"] / "cache"
    (corpus_dir,) = cache.glob("real-train-*/corpus")
    first = prepare_corpus_arg(corpus_dir, cache, split="train", log=lambda _: None)
    again = prepare_corpus_arg(corpus_dir, cache, split="train", log=lambda _: None)
    assert not first.cached and again.cached and again.export == first.export
    metas = export_metas(first.export, None)
    assert {m["rights"]["contributor"] for m in metas} == {"middlebury2001-tsukuba", "3ds-frozenpond"}
    as_export = prepare_corpus_arg(first.export, cache, split="test", log=lambda _: None)
    assert as_export.export == first.export and as_export.split == "test"
    with pytest.raises(InputFileError, match="neither a corpus"):
        prepare_corpus_arg(cache, cache, split="train", log=lambda _: None)


def test_a_training_source_without_train_samples_is_refused(quick_run: dict) -> None:
    from parallax.bench.value.stream import TrainStream
    from parallax.errors import InputFileError

    (held_out_export,) = (quick_run["root"] / "cache").glob("real-test-*/export")  # every sample in the test split
    with pytest.raises(InputFileError, match="no sample in its train split"):
        TrainStream({"real": held_out_export}, {"real": 1.0}, seed=0, crop=(32, 32), batch_size=2)


def test_the_same_shot_in_another_format_is_caught(tmp_path: Path, captures_dir: Path) -> None:
    """The GX8 shot as an MPO in training and as a side-by-side JPEG held out: different files, contributors and
    pixel hashes, but the perceptual hashes match, and the run refuses to start."""
    from parallax.bench.value.data import prepare_real
    from parallax.bench.value.evaluate import load_export_scenes
    from parallax.bench.value.heldout import HeldOutLeakError, check_held_out, train_records
    from parallax.bench.value.scenes import RealScene
    from parallax.bench.value.settings import quick_settings

    settings = quick_settings()
    mpo = RealScene(scene_id="gx8-as-mpo", kind="capture", captures=((captures_dir / "mpo/Panasonic-DMC-GX8.mpo",),))
    sbs = RealScene(scene_id="gx8-as-sbs", kind="capture", captures=((captures_dir / "sbs/Panasonic-DMC-GX8.jpg",),))
    quiet = {"log": lambda _: None}
    train = prepare_real([mpo], settings, tmp_path, split="train", **quiet)
    held = prepare_real([sbs], settings, tmp_path, split="test", **quiet)
    scenes = load_export_scenes(held, width=64)
    records = train_records(train.export, "train")
    assert [s.scene_id for s in scenes] == ["gx8-as-sbs"] and [r.contributor for r in records] == ["gx8-as-mpo"]
    assert scenes[0].content_sha256 != records[0].content_sha256
    with pytest.raises(HeldOutLeakError, match="near-duplicate of gx8-as-sbs"):
        check_held_out(records, scenes)
