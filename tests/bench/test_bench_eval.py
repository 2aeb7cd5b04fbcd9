"""``parallax eval`` and the evaluation runner, on Tsukuba and Cones (small, fast).

The SGBM numbers are checked against an independent computation written here with
numpy and raw OpenCV from the raw files.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from rich.console import Console

from parallax.bench.datasets import load_scenes
from parallax.bench.evaluate import evaluate
from parallax.bench.report import print_report, ratio
from parallax.cli.main import main
from parallax.errors import InputFileError, ParallaxError, ParameterError
from parallax.stereo.matchers.base import MatchResult

ROOT = Path(__file__).resolve().parents[2]
TSUKUBA, CONES = "middlebury2001-tsukuba", "middlebury2003-cones"


class Constant:
    """A matcher that answers one disparity everywhere except a left strip (no value)."""

    def __init__(self, name: str, value: float, strip: int = 0) -> None:
        self.name, self.value, self.strip = name, value, strip

    def match(self, left, right, *, min_disparity=None, max_disparity=None) -> MatchResult:
        d = np.full(left.shape[:2], self.value, np.float32)
        d[:, : self.strip] = np.nan
        return MatchResult(
            disparity_px=d,
            confidence=np.isfinite(d).astype(np.float32),
            min_disparity=0.0,
            max_disparity=16.0,
            settings={"matcher": self.name},
        )


def _tsukuba_gt(stereo_gt_dir: Path) -> np.ndarray:
    raw = np.asarray(Image.open(stereo_gt_dir / TSUKUBA / "groundtruth.png").convert("L")).astype(np.float64)
    return np.where(raw > 0, raw / 16.0, np.nan)


def test_evaluate_scores_matcher_objects_and_ratios(stereo_gt_dir: Path) -> None:
    scenes = list(load_scenes(stereo_gt_dir / "scenes.json", [TSUKUBA]))
    report = evaluate(scenes, [Constant("nine", 9.0), Constant("holey", 9.0, strip=40)], dataset="t")
    gt = _tsukuba_gt(stereo_gt_dir)
    valid = np.isfinite(gt)
    err = np.abs(9.0 - gt[valid])
    nine = report.for_matcher("nine")[0].all
    assert nine.bad_2_pct == pytest.approx(100 * np.mean(err > 2))
    assert nine.epe_px == pytest.approx(np.mean(err))
    assert nine.rms_px == pytest.approx(math.sqrt(np.mean(err**2)))
    holey = report.for_matcher("holey")[0].all
    in_strip = np.zeros_like(valid)
    in_strip[:, :40] = True
    assert holey.density_pct == pytest.approx(100 * np.mean(~in_strip[valid]))
    assert holey.bad_4_pct == pytest.approx(100 * np.mean((err > 4) | in_strip[valid]))
    assert holey.epe_px == pytest.approx(nine.epe_px)  # holes filled from the row's neighbour (9)
    assert ratio(report, "holey", "nine") == pytest.approx(holey.bad_2_pct / nine.bad_2_pct)
    assert report.ms_per_mp("nine") > 0 and report.results[0].ms_per_mp > 0
    assert ratio(report, "holey", "nine", metric="ms_per_mp") > 0
    for bad in (("nine", "nope", "bad_2_pct"), ("nine", "holey", "speed")):
        with pytest.raises(ParameterError):
            ratio(report, *bad[:2], metric=bad[2])
    out = io.StringIO()
    print_report(report, console=Console(file=out, width=200))
    text = out.getvalue()
    assert "ms/MP" in text and "mean of 1 scene" in text and "holey" in text
    repeated = evaluate(scenes, [Constant("nine", 9.0)], repeat=3)
    assert repeated.repeat == 3 and repeated.to_dict()["timing"]["repeat"] == 3
    assert repeated.for_matcher("nine")[0].all == nine  # the scores do not depend on the repeats
    for bad in (0, 1.5, True):
        with pytest.raises(ParameterError, match="repeat"):
            evaluate(scenes, [Constant("nine", 9.0)], repeat=bad)  # type: ignore[arg-type]
    untimed = evaluate(scenes, [Constant("nine", 9.0)], timing=False)
    assert "timing" not in untimed.to_dict() and untimed.results[0].elapsed_ms is None
    with pytest.raises(ParameterError, match="no timing"):
        ratio(evaluate(scenes, [Constant("a", 1.0), Constant("b", 2.0)], timing=False), "a", "b", metric="ms_per_mp")
    with pytest.raises(ParameterError, match="twice"):
        evaluate(scenes, [Constant("a", 1.0), Constant("a", 2.0)])
    with pytest.raises(ParameterError, match="no scene"):
        evaluate([], [Constant("a", 1.0)])


# --------------------------------------------------- SGBM, computed independently
# OpenCV SGBM as issue 3's recipe (and parallax.stereo.matchers.sgbm) states it: 3-way
# mode, block 5, P1 = 8*3*25, P2 = 32*3*25, uniqueness 10, speckle 100/2,
# disp12MaxDiff 1, numDisparities = (span + 1) rounded up to a multiple of 16.
SGBM_BLOCK = 5


def _independent_sgbm(left_rgb: np.ndarray, right_rgb: np.ndarray, lo: int, hi: int) -> np.ndarray:
    nd = int(math.ceil((hi - lo + 1) / 16.0)) * 16
    sgbm = cv2.StereoSGBM_create(
        minDisparity=lo,
        numDisparities=nd,
        blockSize=SGBM_BLOCK,
        P1=8 * 3 * SGBM_BLOCK**2,
        P2=32 * 3 * SGBM_BLOCK**2,
        disp12MaxDiff=1,
        uniquenessRatio=10,
        speckleWindowSize=100,
        speckleRange=2,
        mode=cv2.STEREO_SGBM_MODE_SGBM_3WAY,
    )
    raw = sgbm.compute(left_rgb, right_rgb).astype(np.float64) / 16.0
    d = np.where(raw < lo, np.nan, raw)
    out = d.copy()
    for y in range(d.shape[0]):  # background-favouring fill, one row at a time
        row = d[y]
        idx = np.flatnonzero(np.isfinite(row))
        if idx.size == 0:
            continue
        for x in np.flatnonzero(~np.isfinite(row)):
            left_i, right_i = idx[idx < x], idx[idx > x]
            cands = ([row[left_i[-1]]] if left_i.size else []) + ([row[right_i[0]]] if right_i.size else [])
            out[y, x] = min(cands)
    return out


def _independent_metrics(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    valid = np.isfinite(gt)
    err = np.abs(pred[valid] - gt[valid])
    return {
        "bad_0_5_pct": 100 * np.mean(err > 0.5),
        "bad_1_pct": 100 * np.mean(err > 1),
        "bad_2_pct": 100 * np.mean(err > 2),
        "bad_4_pct": 100 * np.mean(err > 4),
        "epe_px": float(np.mean(err)),
        "rms_px": float(np.sqrt(np.mean(err**2))),
        "d1_pct": 100 * np.mean((err > 3) & (err > 0.05 * gt[valid])),
        "density_pct": 100 * np.mean(np.isfinite(pred[valid])),
    }


def test_eval_cli_sgbm_matches_independent_computation(stereo_gt_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "eval",
            "--dataset",
            str(stereo_gt_dir / "scenes.json"),
            "--scene",
            f"{TSUKUBA},{CONES}",
            "--matcher",
            "sgbm",
            "--json",
            "--no-timing",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in report["scenes"]] == [TSUKUBA, CONES] and "timing" not in report
    rows = {r["scene"]: r["all"] for r in report["results"]}
    raw_files = {
        TSUKUBA: ("imL.png", "imR.png", _tsukuba_gt(stereo_gt_dir)),
        CONES: ("cones_image_02.png", "cones_image_06.png", None),
    }
    for scene, (lf, rf, gt) in raw_files.items():
        folder = stereo_gt_dir / scene
        if gt is None:
            raw = np.asarray(Image.open(folder / "cones_disp_02.png")).astype(np.float64)
            gt = np.where(raw > 0, raw / 4.0, np.nan)
        hi = 16 * (math.floor(np.nanmax(gt) / 16) + 1)  # the GT-derived range (no ndisp in these files)
        pred = _independent_sgbm(
            np.asarray(Image.open(folder / lf).convert("RGB")),
            np.asarray(Image.open(folder / rf).convert("RGB")),
            0,
            hi,
        )
        expected = _independent_metrics(pred, gt)
        for key, value in expected.items():
            assert rows[scene][key] == pytest.approx(value, abs=2e-3), (scene, key)
        assert rows[scene]["n_pixels"] == int(np.isfinite(gt).sum())
    assert report["mean"]["sgbm"]["all"]["bad_2_pct"] == pytest.approx(
        (rows[TSUKUBA]["bad_2_pct"] + rows[CONES]["bad_2_pct"]) / 2, abs=2e-4
    )


def test_eval_cli_json_is_identical_run_to_run(stereo_gt_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "eval",
        "-d",
        str(stereo_gt_dir / "scenes.json"),
        "-s",
        TSUKUBA,
        "-m",
        "sgbm,sgbm-raw",
        "--json",
        "--no-timing",
    ]
    outs = []
    for _ in range(2):
        assert main(args) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1]
    report = json.loads(outs[0])
    filled, raw = (r["all"] for r in report["results"])  # sgbm, then sgbm-raw
    assert raw["density_pct"] < 100.0 == filled["density_pct"]


def test_eval_cli_table_with_timing(stereo_gt_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "-d", str(stereo_gt_dir / "scenes.json"), "-s", TSUKUBA, "-m", "sgbm,default"]) == 0
    out = capsys.readouterr().out
    assert "ms/MP" in out and "mean of 1 scene" in out and "sgbm" in out and "default" in out
    assert main(["eval", "-d", str(stereo_gt_dir / "scenes.json"), "-s", TSUKUBA, "-m", "sgbm", "--json"]) == 0
    timing = json.loads(capsys.readouterr().out)["timing"]
    assert timing["per_scene"][0]["ms_per_mp"] > 0 and timing["mean_ms_per_mp"]["sgbm"] > 0


def test_eval_cli_default_dataset_and_list(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["eval", "--list"]) == 0
    assert TSUKUBA in capsys.readouterr().out
    monkeypatch.chdir(tmp_path)
    assert main(["eval", "--list"]) == ParameterError.exit_code
    assert "no --dataset given" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message, error",
    [
        (["-m", "onnx"], "needs --model", ParameterError),
        (["-m", "sgbm", "--model", "m.onnx"], "only used by the onnx matcher", ParameterError),
        (["-s", "cones"], "--scene 'cones' is not in the dataset", ParameterError),
        (["-m", "sgbm,sgbm"], "twice", ParameterError),
        (["-m", "onnx", "--model", "missing.onnx"], "missing.onnx not found", InputFileError),
    ],
)
def test_eval_cli_errors(
    args: list[str], message: str, error: type[ParallaxError], stereo_gt_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "-d", str(stereo_gt_dir / "scenes.json"), *args]) == error.exit_code
    err = capsys.readouterr().err
    assert message in " ".join(err.split()) and "Traceback" not in err and err.count("\n") == 1


def test_eval_cli_auto_range_lets_the_matcher_find_it(stereo_gt_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["eval", "-d", str(stereo_gt_dir / "scenes.json"), "-s", TSUKUBA, "-m", "sgbm", "--json", "--no-timing"]
    assert main([*base, "--auto-range"]) == 0
    auto = json.loads(capsys.readouterr().out)
    assert main(base) == 0
    scene = json.loads(capsys.readouterr().out)
    assert (auto["search_range"], scene["search_range"]) == ("auto", "scene")
    assert auto["results"][0]["all"]["n_pixels"] == scene["results"][0]["all"]["n_pixels"]
    assert 0 < auto["results"][0]["all"]["bad_2_pct"] < 50
