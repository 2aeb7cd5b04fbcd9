"""CLI: parallax rectify / disparity / depth / convert, outputs read back, error paths."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from parallax.cli.main import main
from parallax.errors import InputFileError, OutputError, ParameterError
from parallax.io.maps import read_map
from parallax.stereo.types import Rectification

MOTO = "middlebury2014-motorcycle-q"


@pytest.fixture()
def moto(stereo_gt_dir):
    folder = stereo_gt_dir / MOTO
    return str(folder / "motorcycle_left.png"), str(folder / "motorcycle_right.png")


@pytest.fixture()
def readonly_dir(tmp_path) -> Path:
    """A folder nobody may create files in (as root, chmod does not stop us: use sysfs)."""
    if os.geteuid() == 0:
        return Path("/sys")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err
    return err


def test_rectify_writes_views_and_json(tmp_path, captures_dir, capsys):
    from PIL import Image

    out = tmp_path / "rect"
    assert main(["rectify", str(captures_dir / "mpo/frozenpond.mpo"), "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["left.png", "rectification.json", "right.png"]
    rect = Rectification.from_dict(json.loads((out / "rectification.json").read_text()))
    assert rect.method == "uncalibrated" and rect.vertical_error_after_px < 0.5
    with Image.open(out / "left.png") as left, Image.open(out / "right.png") as right:
        assert left.size == right.size == (rect.width, rect.height)
    # a converged 3DS pair is cropped to the columns both cameras see: its far plane
    # (about -100 px at 640 px width) moves to zero disparity
    assert -130 < rect.disparity_offset_px < -50
    # ... and to the rectangle both warped views cover (a few rows and columns at most here)
    assert 640 - round(abs(rect.disparity_offset_px)) - 4 <= rect.width <= 640 - round(abs(rect.disparity_offset_px))
    assert 472 <= rect.height <= 480
    assert rect.rectified and rect.residual_p90_px <= 2.0
    with Image.open(out / "right.png") as right:
        black = np.asarray(right).max(axis=2) == 0
    assert not black.all(axis=0).any() and not black.all(axis=1).any()
    assert "uncalibrated" in capsys.readouterr().out


def test_rectify_at_reduced_size_maps_original_pixels(tmp_path, captures_dir):
    out = tmp_path / "rect"
    assert main(["rectify", str(captures_dir / "sbs/calf-left-right.jpg"), "-o", str(out), "--max-size", "480"]) == 0
    data = json.loads((out / "rectification.json").read_text())
    assert 476 <= data["width"] <= 480 and 266 <= data["height"] <= 270  # cropped to what both views cover
    assert data["scale"] == pytest.approx(0.25)
    h = np.array(data["H_left"])
    corner = h @ [1919.5, 1079.5, 1.0]  # far edge of the original view -> far edge of the reduced one
    assert corner[:2] / corner[2] == pytest.approx([479.5, 269.5], abs=3.0)


def test_disparity_has_the_size_of_the_rectified_left_view(tmp_path, moto, capsys):
    out = tmp_path / "d.pfm"
    assert main(["disparity", *moto, "-o", str(out), "--min-disparity", "0", "--max-disparity", "96"]) == 0
    d = read_map(out)
    assert d.shape == (500, 741)
    assert np.isfinite(d).mean() > 0.9 and 0 <= np.nanmedian(d) <= 96
    assert "wrote" in capsys.readouterr().out
    # at a reduced size the disparity shrinks with the views (range given in original pixels)
    small = tmp_path / "d.png"
    argv = ["disparity", *moto, "-o", str(small), "--min-disparity", "0", "--max-disparity", "96", "--max-size", "370"]
    assert main(argv) == 0
    ds = read_map(small)
    assert ds.shape == (250, 370)
    assert np.nanmedian(ds) == pytest.approx(np.nanmedian(d) / 2, rel=0.1)


def test_depth_says_relative_without_calibration(tmp_path, captures_dir, capsys):
    out = tmp_path / "z.npy"
    assert main(["depth", str(captures_dir / "sbs/02-super-mario.jps"), "-o", str(out), "--max-size", "400"]) == 0
    assert "depth is RELATIVE" in capsys.readouterr().out
    z = read_map(out)
    assert max(z.shape) == 400 and np.nanmedian(z) == pytest.approx(1.0, rel=1e-3)


def test_depth_png_is_millimetres_when_metric(tmp_path, moto, scenes, capsys):
    calib = scenes[MOTO]["calib"]
    out = tmp_path / "z.png"
    args = ["--focal-px", str(calib["f"]), "--baseline-mm", str(calib["baseline_mm"]), "--doffs", str(calib["doffs"])]
    assert main(["depth", *moto, "-o", str(out), *args]) == 0
    assert "depth is METRIC" in capsys.readouterr().out
    from parallax.io.maps import read_png16

    z, kind = read_png16(out)
    assert kind == "depth"
    assert 1.0 < np.nanmedian(z) < 10.0  # metres: a motorcycle a few metres away


def test_convert_through_the_registry(tmp_path, captures_dir, capsys):
    pug = str(captures_dir / "heic/pug.heic")
    out = tmp_path / "pug-depth.png"
    assert main(["convert", pug, "-o", str(out), "--format", "depth", "--max-size", "256"]) == 0
    z = read_map(out)
    assert max(z.shape) == 256 and np.isfinite(z).mean() > 0.9
    preview = tmp_path / "pug-preview.png"
    assert main(["convert", pug, "-o", str(preview), "--format", "preview", "--max-size", "256"]) == 0
    from PIL import Image

    with Image.open(preview) as img:
        assert img.mode == "RGB" and max(img.size) == 256
    # an RGB-D photo has no disparity
    assert main(["convert", pug, "-o", str(tmp_path / "d.pfm"), "--max-size", "256"]) == OutputError.exit_code
    assert "no disparity" in _one_error_line(capsys)
    assert not (tmp_path / "d.pfm").exists()


@pytest.mark.parametrize(
    "argv_tail,message,error",
    [
        (["-o", "{tmp}/out.xyz"], "unknown extension", OutputError),
        (["-o", "{tmp}/out.ply", "--format", "nonsense"], "--format", ParameterError),
        (["-o", "{tmp}/out.ply", "--option", "stride"], "KEY=VALUE", ParameterError),
        (["-o", "{tmp}/missing/out.ply"], "does not exist", OutputError),
    ],
)
def test_convert_error_paths(tmp_path, captures_dir, capsys, argv_tail, message, error):
    argv = ["convert", str(captures_dir / "mpo/sugarshack.mpo")] + [a.format(tmp=tmp_path) for a in argv_tail]
    assert main(argv) == error.exit_code
    assert message in _one_error_line(capsys)
    assert [p.name for p in tmp_path.iterdir()] == []


@pytest.mark.parametrize("command", ["disparity", "depth", "convert"])
def test_unwritable_output_folders(tmp_path, captures_dir, readonly_dir, capsys, command):
    mpo = str(captures_dir / "mpo/sugarshack.mpo")
    for target in (tmp_path / "missing" / "out.pfm", readonly_dir / "out.pfm"):
        assert main([command, mpo, "-o", str(target), "--max-size", "160"]) == OutputError.exit_code
        assert str(target.parent) in _one_error_line(capsys)
        assert not target.exists()


def test_rectify_into_unwritable_places(tmp_path, captures_dir, readonly_dir, capsys):
    mpo = str(captures_dir / "mpo/sugarshack.mpo")
    assert main(["rectify", mpo, "-o", str(tmp_path / "a" / "b")]) == OutputError.exit_code
    assert "does not exist" in _one_error_line(capsys)
    assert not (tmp_path / "a").exists()
    assert main(["rectify", mpo, "-o", str(readonly_dir / "rect-out")]) == OutputError.exit_code
    _one_error_line(capsys)
    assert not (readonly_dir / "rect-out").exists()
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert main(["rectify", mpo, "-o", str(a_file)]) == OutputError.exit_code
    assert "not a folder" in _one_error_line(capsys)


def test_different_size_pair_is_refused_and_existing_output_kept(tmp_path, stereo_gt_dir, capsys):
    left = stereo_gt_dir / MOTO / "motorcycle_left.png"
    right = stereo_gt_dir / "eth3d-playground_1l" / "im1.png"
    target = tmp_path / "d.pfm"
    target.write_bytes(b"keep me")
    assert main(["disparity", str(left), str(right), "-o", str(target)]) == InputFileError.exit_code
    err = _one_error_line(capsys)
    assert "size" in err
    assert target.read_bytes() == b"keep me"
    out = tmp_path / "rect"
    assert main(["rectify", str(left), str(right), "-o", str(out)]) == InputFileError.exit_code
    _one_error_line(capsys)
    assert not out.exists()


def test_bad_depth_flags(tmp_path, moto, capsys):
    assert main(["depth", *moto, "-o", str(tmp_path / "z.pfm"), "--baseline-mm", "-5"]) == ParameterError.exit_code
    assert "--baseline-mm" in _one_error_line(capsys)
    assert main(["depth", *moto, "-o", str(tmp_path / "z.pfm"), "--focal-px", "0"]) == ParameterError.exit_code
    assert "--focal-px" in _one_error_line(capsys)
    assert list(tmp_path.iterdir()) == []


def test_rectify_says_loudly_when_a_pair_is_not_rectified(tmp_path, captures_dir, capsys):
    from PIL import Image

    from parallax.capture import read_capture

    a = read_capture(captures_dir / "mpo/sugarshack.mpo").left
    b = read_capture(captures_dir / "mpo/frozenpond.mpo").right
    left, right = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(a).save(left)
    Image.fromarray(b).save(right)
    out = tmp_path / "rect"
    assert main(["rectify", str(left), str(right), "-o", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["rectified"] is False and doc["rectification"]["reason"]
    assert any("NOT rectified" in w for w in doc["warnings"])
    assert "warning: the pair is NOT rectified" in captured.err
    data = json.loads((out / "rectification.json").read_text())
    assert data["rectified"] is False and data["reason"] == doc["rectification"]["reason"]
    assert str(tmp_path) not in (out / "rectification.json").read_text()  # base names only
    # the plain-text report says it too
    assert main(["rectify", str(left), str(right), "-o", str(tmp_path / "rect2")]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("NOT rectified") and "NOT rectified" in captured.err


def test_rectify_json_reports_the_residual_of_a_good_pair(tmp_path, captures_dir, capsys):
    out = tmp_path / "rect"
    assert main(["rectify", str(captures_dir / "mpo/sugarshack.mpo"), "-o", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["rectified"] is True and doc["warnings"] == [] and "warning" not in captured.err
    rect = doc["rectification"]
    assert 0 < rect["residual_median_px"] <= 1.0 and rect["residual_p90_px"] <= 2.0 and rect["residual_matches"] > 100
    assert doc["eyes"]["order"] == "left-right" and doc["eyes"]["given_by"] == "format"


def test_eyes_option_on_the_stereo_commands(tmp_path, moto, capsys):
    left, right = moto
    # given reversed, the pair is put back in order automatically ...
    out = tmp_path / "d.pfm"
    argv = ["disparity", right, left, "-o", str(out), "--min-disparity", "0", "--max-disparity", "96", "--json"]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["eyes"]["swapped"] is True and doc["eyes"]["order"] == "right-left"
    assert np.nanmedian(read_map(out)) > 10  # positive disparities: the motorcycle in front
    # ... unless the order is fixed by hand
    argv = ["rectify", right, left, "-o", str(tmp_path / "rect"), "--eyes", "left-right", "--json"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["eyes"]["strength"] == "given"


@pytest.mark.parametrize("command", ["info", "rectify", "disparity", "depth", "convert"])
def test_bad_eyes_value_is_one_line(tmp_path, captures_dir, capsys, command):
    argv = [command, str(captures_dir / "mpo/sugarshack.mpo"), "--eyes", "sideways"]
    if command == "rectify":
        argv += ["-o", str(tmp_path / "rect")]
    elif command != "info":
        argv += ["-o", str(tmp_path / "out.pfm")]
    assert main(argv) == ParameterError.exit_code
    assert "eyes must be one of auto, left-right, right-left" in _one_error_line(capsys)
    assert list(tmp_path.iterdir()) == []
