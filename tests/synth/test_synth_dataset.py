"""Synth datasets on disk: determinism, the corpus sample format, readers, errors, the CLI, Ray, difficulty."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from parallax.cli.main import main
from parallax.errors import InputFileError, OutputError, ParameterError
from parallax.synth.dataset import INDEX_NAME, generate_dataset
from parallax.synth.reader import (
    is_synth_dataset_dir,
    is_synth_sample_dir,
    list_synth_scenes,
    load_synth_scene,
    synth_sample_dirs,
)

TINY = dict(size_range=((96, 64), (96, 64)), spp=4, object_count_range=(2, 4), thin_count_range=(1, 2))


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory, make_config) -> Path:
    out = tmp_path_factory.mktemp("synth") / "set"
    generate_dataset(make_config(**TINY, phone_effects=True), count=2, out=out, seed=4)
    return out


def test_synth_same_seed_gives_byte_identical_output(tiny_dataset, tmp_path, make_config):
    again = tmp_path / "again"
    generate_dataset(make_config(**TINY, phone_effects=True), count=2, out=again, seed=4)
    first, second = _files(tiny_dataset), _files(again)
    assert first.keys() == second.keys()
    gt = [k for k in first if not k.endswith(("left.png", "right.png", "synth.json"))]
    assert len(gt) >= 2 * 14
    for name in first:  # ground truth and the views alike
        assert first[name] == second[name], f"{name} differs between two runs with one seed"
    other = tmp_path / "other"
    generate_dataset(make_config(**TINY, phone_effects=True), count=1, out=other, seed=5)
    a = np.load(tiny_dataset / "synth-4-000000" / "depth_exact.npy")
    b = np.load(other / "synth-5-000000" / "depth_exact.npy")
    assert not np.array_equal(a, b, equal_nan=True)


def test_synth_samples_are_corpus_samples(tiny_dataset):
    from parallax.corpus.sample import read_sample_dir

    assert is_synth_dataset_dir(tiny_dataset) and not is_synth_sample_dir(tiny_dataset)
    index = json.loads((tiny_dataset / INDEX_NAME).read_text())
    assert index["samples"] == ["synth-4-000000", "synth-4-000001"] and index["seed"] == 4
    folder = tiny_dataset / "synth-4-000000"
    assert is_synth_sample_dir(folder) and not is_synth_dataset_dir(folder)
    s = read_sample_dir(folder)
    assert s.source_kind == "synthetic" and s.license == "CC0-1.0" and s.depth_is_metric
    lineage = s.lineage
    assert lineage["seed"] == 4 and lineage["index"] == 0
    assert lineage["generator"]["settings"]["spp"] == 4 and lineage["generator"]["renderer"].startswith("mitsuba")
    rig = lineage["rig"]
    assert np.allclose(rig["K"], s.K) and rig["baseline_m"] == s.baseline_m and len(rig["pose_right"]) == 4
    assert {
        "occlusion",
        "reflection_mask",
        "normals",
        "mixed_pixels",
        "disparity_exact",
        "depth_exact",
        "right_disparity",
        "right_depth",
        "right_occlusion",
        "right_reflection_mask",
        "right_normals",
        "material_kind",
    } <= set(s.extras)
    d = s.extras["disparity_exact"]
    z = s.extras["depth_exact"]
    ok = np.isfinite(z)
    assert ok.mean() > 0.3
    assert np.allclose(d[ok], s.K[0, 0] * s.baseline_m / z[ok], rtol=1e-5)  # d = f B / Z
    assert np.nanmax(np.abs(s.disparity_px - d)) <= 0.5 / 64 + 1e-6  # the PNG holds it to 1/64 px
    assert np.nanmax(np.abs(s.depth - z)) <= 0.0005 + 1e-6  # and depth to the millimetre
    n = s.extras["normals"]
    assert n.shape == (*z.shape, 3) and np.allclose(np.linalg.norm(n[ok], axis=-1), 1.0, atol=1e-4)
    assert s.extras["occlusion"].dtype == np.bool_ and s.extras["reflection_mask"].dtype == np.bool_
    # the issue names the file: reflection_mask.* beside the views
    assert (folder / "reflection_mask.png").is_file() and (folder / "occlusion.png").is_file()
    # the right view's own ground truth is consistent with the left's: same depth where both see a point
    zr = s.extras["right_depth"]
    assert np.isfinite(zr).mean() > 0.3


def test_synth_reader_lists_benchmark_scenes(tiny_dataset, tmp_path):
    scenes = list_synth_scenes(tiny_dataset)
    assert [s.name for s in scenes] == ["synth-4-000000", "synth-4-000001"]
    s = scenes[0]
    assert s.left.shape == s.right.shape == (64, 96, 3) and s.gt_disparity.dtype == np.float32
    assert s.nonocc.dtype == np.bool_ and not s.nonocc[~np.isfinite(s.gt_disparity)].any()
    one = load_synth_scene(tiny_dataset / "synth-4-000001")
    assert one.name == "synth-4-000001" and synth_sample_dirs(one.path) == [one.path]
    with pytest.raises(InputFileError, match="not a folder"):
        synth_sample_dirs(tmp_path / "nothing")
    with pytest.raises(InputFileError, match="holds no synthetic samples"):
        synth_sample_dirs(tmp_path)
    with pytest.raises(InputFileError, match="not a sample folder written by parallax synth"):
        load_synth_scene(tmp_path)


def test_synth_reader_rejects_a_sample_without_baseline(tiny_dataset, tmp_path):
    import shutil

    folder = tmp_path / "synth-4-000000"
    shutil.copytree(tiny_dataset / "synth-4-000000", folder)
    meta = json.loads((folder / "meta.json").read_text())
    meta["camera"]["baseline_m"] = None
    meta["camera"]["depth_is_metric"] = False
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(InputFileError, match="gives no baseline_m"):
        load_synth_scene(folder, verify=False)


def test_synth_dataset_errors_leave_nothing_behind(tiny_dataset, tmp_path, make_config):
    cfg = make_config(**TINY)
    before = _files(tiny_dataset)
    with pytest.raises(OutputError, match="already holds synth-4-000000"):
        generate_dataset(cfg, count=1, out=tiny_dataset, seed=4)
    assert _files(tiny_dataset) == before
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        generate_dataset(cfg, count=1, out=a_file, seed=4)
    with pytest.raises(ParameterError, match="count"):
        generate_dataset(cfg, count=0, out=tmp_path / "a", seed=4)
    with pytest.raises(ParameterError, match="engine"):
        generate_dataset(cfg, count=1, out=tmp_path / "a", seed=4, engine="spark")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="seed"):
        generate_dataset(cfg, count=1, out=tmp_path / "a", seed=-1)
    with pytest.raises(InputFileError, match="texture folder"):
        generate_dataset(make_config(**TINY, textures_dir=str(tmp_path / "none")), count=1, out=tmp_path / "a", seed=4)
    assert not (tmp_path / "a").exists()


def test_synth_cli_end_to_end(tmp_path, capsys, texture_folder):
    out = tmp_path / "cli"
    code = main(
        [
            "synth",
            "--count",
            "1",
            "--size",
            "96x64",
            "--spp",
            "4",
            "--out",
            str(out),
            "--seed",
            "3",
            "--baseline-range",
            "0.05,0.06",
            "--focal-range",
            "30,30",
            "--rect-error",
            "0.5",
            "--no-effects",
            "--textures",
            str(texture_folder),
            "--scenes",
            "room",
        ]
    )
    assert code == 0
    assert "wrote 1 synthetic pairs" in capsys.readouterr().out
    scene = load_synth_scene(out / "synth-3-000000")
    assert 0.05 <= scene.baseline_m <= 0.06 and scene.focal_px == pytest.approx(30 / 36 * 96)
    meta = json.loads((out / "synth-3-000000" / "meta.json").read_text())
    assert meta["lineage"]["generator"]["scene"]["kind"] == "room"
    assert 0 < meta["lineage"]["rig"]["rect_error_deg"] <= 0.5
    assert meta["lineage"]["generator"]["settings"]["textures_dir"] == str(texture_folder)
    # parallax eval reads the synth folder like any other benchmark
    code = main(["eval", "--dataset", str(out), "--matcher", "sgbm", "--json", "--no-timing"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["scenes"][0]["layout"] == "synth" and report["scenes"][0]["has_nonocc_mask"]
    assert 0.0 <= report["results"][0]["nonocc"]["bad_2_pct"] <= 100.0


@pytest.mark.parametrize(
    "args, message, error",
    [
        (["--count", "0"], "--count must be at least 1", ParameterError),
        (["--count", "1", "--size", "64"], "--size '64' is not WxH", ParameterError),
        (["--count", "1", "--size", "20x20"], "out of range", ParameterError),
        (["--count", "1", "--spp", "0"], "--spp", ParameterError),
        (["--count", "1", "--baseline-range", "0.1,0.01"], "--baseline-range", ParameterError),
        (["--count", "1", "--focal-range", "wide"], "--focal-range", ParameterError),
        (["--count", "1", "--engine", "spark"], "--engine 'spark'", ParameterError),
        (["--count", "1", "--scenes", "moon"], "--scenes", ParameterError),
        (["--count", "1", "--seed", "-3"], "--seed", ParameterError),
        (["--count", "1", "--rect-error", "30"], "--rect-error", ParameterError),
        (
            ["--count", "1", "--textures", "/nonexistent/folder"],
            "texture folder /nonexistent/folder does not exist",
            InputFileError,
        ),
        (["--count", "1", "--frames", "0"], "--frames must be at least 1", ParameterError),
        (["--count", "1", "--moving-objects"], "need a sequence; add --frames N", ParameterError),
        (["--count", "1", "--frames", "4", "--paths", "fly"], "--paths must be a non-empty subset", ParameterError),
        (["--count", "1", "--frames", "4", "--fps", "0"], "--fps must be 0.5..240", ParameterError),
        (
            ["--count", "1", "--frames", "4", "--moving-prob", "2"],
            "--moving-prob must be a probability",
            ParameterError,
        ),
        (["--count", "1", "--frames", "4", "--motion-scale", "9"], "--motion-scale must be 0.1..5", ParameterError),
    ],
)
def test_synth_cli_bad_arguments(tmp_path, capsys, args, message, error):
    out = tmp_path / "o"
    code = main(["synth", "--out", str(out), *args])
    err = capsys.readouterr().err
    assert code == error.exit_code
    assert message in " ".join(err.split()) and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("module, extra, engine", [("mitsuba", "synth", "local"), ("ray", "ray", "ray")])
def test_synth_missing_dependency_names_the_extra(monkeypatch, tmp_path, make_config, module, extra, engine):
    import sys

    from parallax.errors import MissingDependencyError

    monkeypatch.setitem(sys.modules, module, None)  # makes "import <module>" fail
    with pytest.raises(MissingDependencyError, match=rf"pip install 'parallax\[{extra}\]'"):
        generate_dataset(make_config(**TINY), count=1, out=tmp_path / "m", seed=0, engine=engine)
    assert not (tmp_path / "m").exists()


@pytest.mark.slow
def test_synth_ray_engine_matches_local(tiny_dataset, tmp_path, make_config):
    pytest.importorskip("ray")
    out = tmp_path / "ray"
    seen = []
    folders = generate_dataset(
        make_config(**TINY, phone_effects=True),
        count=2,
        out=out,
        seed=4,
        engine="ray",
        workers=1,
        progress=lambda i, f: seen.append(i),
    )
    assert sorted(seen) == [0, 1] and [f.name for f in folders] == ["synth-4-000000", "synth-4-000001"]
    assert _files(out) == _files(tiny_dataset)


@pytest.mark.slow
def test_synth_scenes_are_not_trivial_for_sgbm(tmp_path, capsys, make_config):
    """OpenCV SGBM's bad-2 on synthetic pairs lies in the range of real scenes (not trivially easy).

    On the real scenes in ../shared/data/stereo-gt, SGBM scores bad-2 from about
    4 % (Tsukuba, ETH3D) to 17 % (Teddy), 10 % on average. The synthetic pairs
    (320x240, phone effects on) must score an average between 3 % and 40 %:
    harder than trivial, and not broken.
    """
    out = tmp_path / "sgbm"
    generate_dataset(
        make_config(
            size_range=((320, 240), (320, 240)),
            spp=16,
            phone_effects=True,
            mirror_probability=0.5,
            glass_probability=0.5,
            object_count_range=(6, 14),
            thin_count_range=(2, 6),
        ),
        count=4,
        out=out,
        seed=1,
    )
    assert main(["eval", "--dataset", str(out), "--matcher", "sgbm", "--json", "--no-timing"]) == 0
    report = json.loads(capsys.readouterr().out)
    bad2 = [r["all"]["bad_2_pct"] for r in report["results"]]
    assert len(bad2) == 4
    assert 3.0 <= float(np.mean(bad2)) <= 40.0, bad2


def test_synth_folder_goes_into_the_corpus_with_consent(tiny_dataset, tmp_path, capsys):
    from parallax.corpus.sample import read_sample_dir
    from parallax.corpus.store import Corpus

    corpus = tmp_path / "corpus"
    cc0 = tmp_path / "cc0.json"
    cc0.write_text(
        json.dumps({"contributor": "lab", "license": "CC0-1.0", "allow_training": True, "date": "2026-11-22"})
    )
    ccby = tmp_path / "ccby.json"
    ccby.write_text(
        json.dumps({"contributor": "lab", "license": "CC-BY-4.0", "allow_training": True, "date": "2026-11-22"})
    )
    assert main(["corpus", "init", str(corpus)]) == 0

    # no consent, no sample, for synthetic samples too
    assert main(["corpus", "add", str(tiny_dataset), "--corpus", str(corpus)]) == ParameterError.exit_code
    assert "no consent given" in capsys.readouterr().err

    # a licence that differs from the samples' own is refused with the reason, the batch goes on
    assert main(["corpus", "add", str(tiny_dataset), "--corpus", str(corpus), "--consent", str(ccby), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["counts"]["rejected"] == 2 and all("CC0-1.0" in o["reason"] for o in out["outcomes"])

    assert main(["corpus", "add", str(tiny_dataset), "--corpus", str(corpus), "--consent", str(cc0), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["counts"]["accepted"] == 2
    c = Corpus.open(corpus)
    try:
        status = c.status()
        assert status["samples"] == 2
        ids = [o["sample_id"] for o in out["outcomes"]]
        stored = [read_sample_dir(c.storage.path(sid)) for sid in ids]
    finally:
        c.close()
    for s in stored:
        assert s.source_kind == "synthetic" and s.license == "CC0-1.0" and s.contributor == "lab"
        assert s.extras["reflection_mask"].dtype == np.bool_

    # adding the same folder again stores nothing new
    assert main(["corpus", "add", str(tiny_dataset), "--corpus", str(corpus), "--consent", str(cc0), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["counts"]["accepted"] == 0
