"""The ONNX matcher, on tiny stereo models that the tests build with torch and export.

The model is a fixed-weight block matcher: grey SAD over a 5x5 window for shifts
0..15, arg-min over the shifts -- a real (if simple) stereo network graph.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from parallax.cli.main import main
from parallax.errors import InputFileError, MissingDependencyError, ParameterError
from parallax.stereo.matchers.onnx import OnnxMatcher

MAX_DISP = 16
TSUKUBA = "middlebury2001-tsukuba"


def _export(path: Path, module, *, dynamic: bool, size: tuple[int, int] = (48, 64), inputs: int = 2) -> Path:
    import torch

    example = tuple(torch.zeros(1, 3, *size) for _ in range(inputs))
    names = ["left", "right"][:inputs]
    axes = {n: {2: "height", 3: "width"} for n in names} | {"disparity": {2: "height", 3: "width"}} if dynamic else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter warns that it is legacy
        torch.onnx.export(
            module,
            example,
            str(path),
            dynamo=False,
            input_names=names,
            output_names=["disparity"],
            dynamic_axes=axes,
            opset_version=17,
        )
    return path


def _block_matcher():
    import torch
    import torch.nn.functional as F

    class BlockMatch(torch.nn.Module):
        def forward(self, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
            lg = left.mean(1, keepdim=True)
            rg = right.mean(1, keepdim=True)
            width = lg.shape[3]
            costs = []
            for d in range(MAX_DISP):
                shifted = F.pad(rg, (d, 0, 0, 0), mode="replicate")[..., :width]  # shifted[x] = right[x - d]
                costs.append(F.avg_pool2d((lg - shifted).abs(), 5, stride=1, padding=2, count_include_pad=False))
            return torch.argmin(torch.cat(costs, 1), dim=1, keepdim=True).float()

    return BlockMatch().eval()


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import torch

    folder = tmp_path_factory.mktemp("onnx-models")

    class OneInput(torch.nn.Module):
        def forward(self, left: torch.Tensor) -> torch.Tensor:
            return left[:, :1]

    class HalfSize(torch.nn.Module):
        def forward(self, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
            return (left - right)[:, :1, ::2, ::2]

    bm = _block_matcher()
    return {
        "dynamic": _export(folder / "bm.onnx", bm, dynamic=True),
        "fixed": _export(folder / "bm_fixed.onnx", bm, dynamic=False, size=(48, 64)),
        "one_input": _export(folder / "one.onnx", OneInput(), dynamic=True, inputs=1),
        "half_size": _export(folder / "half.onnx", HalfSize(), dynamic=True),
    }


def _shifted_pair(h: int, w: int, shift: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Random texture; the right view sees every point ``shift`` px further left."""
    rng = np.random.default_rng(seed)
    wide = rng.integers(0, 256, (h, w + shift, 3), dtype=np.uint8)
    return np.ascontiguousarray(wide[:, :w]), np.ascontiguousarray(wide[:, shift : w + shift])


def test_onnx_matcher_recovers_a_known_shift(models: dict[str, Path]) -> None:
    left, right = _shifted_pair(50, 70, 6)  # not multiples of 32: padded, then cropped
    result = OnnxMatcher(models["dynamic"]).match(left, right)
    assert result.disparity_px.shape == (50, 70)
    np.testing.assert_array_equal(result.disparity_px[:, 8:], 6.0)  # x >= shift has a match
    assert result.confidence.min() == 1.0 and result.settings["matcher"] == "onnx"
    assert (result.min_disparity, result.max_disparity) == (float(result.disparity_px.min()), 6.0)
    assert result.settings["input_size"] == [70, 50] and len(result.settings["model_sha256"]) == 64


def test_onnx_matcher_downscales_and_scales_disparity_back(models: dict[str, Path]) -> None:
    left, right = _shifted_pair(96, 128, 8)
    result = OnnxMatcher(models["dynamic"], max_side_px=64).match(left, right, min_disparity=0, max_disparity=16)
    assert result.settings["input_size"] == [64, 48]
    assert result.disparity_px.shape == (96, 128)
    interior = result.disparity_px[4:-4, 16:-4]
    assert np.median(interior) == 8.0  # 4 px at half size, times 2
    assert np.mean(interior == 8.0) > 0.95
    assert (result.min_disparity, result.max_disparity) == (0.0, 16.0)  # the range is echoed, not used


def test_onnx_matcher_fixed_size_model_is_fed_its_size(models: dict[str, Path]) -> None:
    left, right = _shifted_pair(96, 128, 8)
    result = OnnxMatcher(models["fixed"], max_side_px=None).match(left, right)
    assert result.settings["input_size"] == [64, 48]
    assert np.median(result.disparity_px[4:-4, 16:-4]) == 8.0


def test_onnx_matcher_bands_agree_with_whole_image(models: dict[str, Path], stereo_gt_dir: Path) -> None:
    folder = stereo_gt_dir / TSUKUBA
    left = np.asarray(Image.open(folder / "imL.png").convert("RGB"))
    right = np.asarray(Image.open(folder / "imR.png").convert("RGB"))
    whole = OnnxMatcher(models["dynamic"]).match(left, right).disparity_px
    banded = OnnxMatcher(models["dynamic"], tile_height_px=96, tile_overlap_px=16).match(left, right).disparity_px
    assert banded.shape == whole.shape and np.isfinite(banded).all()
    assert np.mean(np.abs(banded - whole) < 0.5) > 0.97  # they differ only near band edges


def test_onnx_matcher_errors(models: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InputFileError, match="nothing.onnx not found; pass --model"):
        OnnxMatcher(tmp_path / "nothing.onnx")
    with pytest.raises(InputFileError, match="nothing.onnx not found"):
        OnnxMatcher(model=tmp_path / "nothing.onnx")  # the spelling of the CLI's --model
    with pytest.raises(ParameterError, match="exactly one model file"):
        OnnxMatcher()
    with pytest.raises(ParameterError, match="exactly one model file"):
        OnnxMatcher(models["dynamic"], model=models["dynamic"])
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(InputFileError, match="cannot be loaded by onnxruntime"):
        OnnxMatcher(bad)
    with pytest.raises(ParameterError, match="1 input"):
        OnnxMatcher(models["one_input"])
    left, right = _shifted_pair(32, 32, 2)
    with pytest.raises(ParameterError, match="expected N x 1 x H x W"):
        OnnxMatcher(models["half_size"]).match(left, right)
    with pytest.raises(ParameterError, match="one size"):
        OnnxMatcher(models["dynamic"]).match(left, right[:, :20].copy())
    for kwargs, message in (
        ({"normalization": "z"}, "normalization"),
        ({"tile_height_px": 8}, "must exceed"),
        ({"output_sign": 2}, "output_sign"),
        ({"max_side_px": 4}, "max_side_px"),
    ):
        with pytest.raises(ParameterError, match=message):
            OnnxMatcher(models["dynamic"], **kwargs)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if the extra were not installed
    with pytest.raises(MissingDependencyError, match=r"parallax\[onnx\]"):
        OnnxMatcher(models["dynamic"])


def test_eval_cli_runs_the_onnx_model(
    models: dict[str, Path], stereo_gt_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "eval",
            "--dataset",
            str(stereo_gt_dir / "scenes.json"),
            "--scene",
            TSUKUBA,
            "--matcher",
            "onnx",
            "--model",
            str(models["dynamic"]),
            "--json",
            "--no-timing",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    (row,) = report["results"]
    # independent: onnxruntime on the raw files, metrics in numpy
    import onnxruntime as ort

    folder = stereo_gt_dir / TSUKUBA
    feed = {
        name: np.asarray(Image.open(folder / f).convert("RGB"), np.float32).transpose(2, 0, 1)[None] / 255.0
        for name, f in (("left", "imL.png"), ("right", "imR.png"))
    }
    disp = ort.InferenceSession(str(models["dynamic"]), providers=["CPUExecutionProvider"]).run(None, feed)[0][0, 0]
    gt = np.asarray(Image.open(folder / "groundtruth.png").convert("L"), np.float32) / 16.0
    valid = gt > 0
    err = np.abs(disp - gt)[valid]
    assert row["all"]["bad_2_pct"] == pytest.approx(100.0 * np.mean(err > 2.0), abs=1e-3)
    assert row["all"]["epe_px"] == pytest.approx(float(np.mean(err)), abs=1e-3)
    assert row["all"]["density_pct"] == 100.0
    assert row["all"]["bad_2_pct"] < 40.0  # a 5x5 SAD block matcher on Tsukuba


def test_disparity_cli_runs_the_onnx_model(
    models: dict[str, Path], stereo_gt_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import onnxruntime as ort

    from parallax.io.maps import read_pfm

    folder = stereo_gt_dir / TSUKUBA
    out = tmp_path / "d.pfm"
    code = main(
        [
            "disparity",
            str(folder / "imL.png"),
            str(folder / "imR.png"),
            "--matcher",
            "onnx",
            "--model",
            str(models["dynamic"]),
            "-o",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    written = read_pfm(out)
    feed = {
        name: np.asarray(Image.open(folder / f).convert("RGB"), np.float32).transpose(2, 0, 1)[None] / 255.0
        for name, f in (("left", "imL.png"), ("right", "imR.png"))
    }
    direct = ort.InferenceSession(str(models["dynamic"]), providers=["CPUExecutionProvider"]).run(None, feed)[0][0, 0]
    # Tsukuba is already rectified: the pipeline feeds the pair to the model unchanged and, dense by
    # default, keeps the model's values (a learned model's untextured regions are left as they are)
    np.testing.assert_array_equal(written, direct)
    # --strict leaves out the left pixels whose match x - d falls outside the right view (one camera saw them)
    strict = tmp_path / "strict.pfm"
    argv = ["disparity", str(folder / "imL.png"), str(folder / "imR.png"), "--matcher", "onnx"]
    assert main([*argv, "--model", str(models["dynamic"]), "-o", str(strict), "--strict"]) == 0
    written = read_pfm(strict)
    x = np.arange(direct.shape[1])[None, :]
    outside = (x - direct < -0.5) | (x - direct > direct.shape[1] - 0.5)
    assert outside.any() and np.all(np.isnan(written[outside]))
    np.testing.assert_array_equal(written[~outside], direct[~outside])
    missing = tmp_path / "none.onnx"
    assert (
        main(
            [
                "disparity",
                str(folder / "imL.png"),
                str(folder / "imR.png"),
                "--matcher",
                "onnx",
                "--model",
                str(missing),
                "-o",
                str(tmp_path / "e.pfm"),
            ]
        )
        == InputFileError.exit_code
    )
    assert "none.onnx not found" in capsys.readouterr().err and not (tmp_path / "e.pfm").exists()
