"""``parallax synthesize`` end to end on a real stereo-gt pair (with its GT disparity written as PFM)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from parallax.cli.main import main
from parallax.errors import InputFileError, OutputError, ParameterError
from parallax.io.maps import write_pfm
from parallax.render.synthesis import synthesize_view


@pytest.fixture(scope="module")
def cones_files(tmp_path_factory, gt_scene, stereo_gt_dir):
    left, right, disp, spec = gt_scene("middlebury2003-cones")
    folder = tmp_path_factory.mktemp("cones")
    write_pfm(folder / "disp.pfm", disp)
    return stereo_gt_dir / "middlebury2003-cones", spec, folder, left, right, disp


def test_synthesize_with_disparity(cones_files, capsys):
    src, spec, folder, left, right, disp = cones_files
    out = folder / "mid.png"
    rc = main(
        [
            "synthesize",
            str(src / spec["left"]),
            str(src / spec["right"]),
            "--position",
            "0.5",
            "--disparity",
            str(folder / "disp.pfm"),
            "-o",
            str(out),
        ]
    )
    assert rc == 0
    assert "wrote" in capsys.readouterr().out
    got = np.asarray(Image.open(out))
    np.testing.assert_array_equal(got, synthesize_view(left, disp, 0.5, right_image=right))


def test_synthesize_left_only(cones_files):
    src, spec, folder, left, right, disp = cones_files
    out = folder / "r.png"
    rc = main(
        [
            "synthesize",
            str(src / spec["left"]),
            str(src / spec["right"]),
            "-p",
            "1",
            "--source",
            "left",
            "--disparity",
            str(folder / "disp.pfm"),
            "-o",
            str(out),
        ]
    )
    assert rc == 0
    np.testing.assert_array_equal(np.asarray(Image.open(out)), synthesize_view(left, disp, 1.0))


@pytest.mark.parametrize(
    "args, message, error",
    [
        (["--disparity", "missing.pfm"], "missing.pfm", InputFileError),
        (["--source", "middle"], "--source must be", ParameterError),
        (["-o", "view.xyz"], "unknown image extension", ParameterError),
    ],
)
def test_synthesize_errors_are_one_line(cones_files, capsys, args, message, error):
    src, spec, folder, *_ = cones_files
    base = {"--disparity": str(folder / "disp.pfm"), "-o": str(folder / "e.png"), "--source": "both"}
    for k, v in zip(args[::2], args[1::2], strict=True):
        base[k] = v if k != "--disparity" or v.endswith("disp.pfm") else str(folder / v)
    argv = ["synthesize", str(src / spec["left"]), str(src / spec["right"]), "--position", "1"]
    for k, v in base.items():
        argv += [k, v]
    assert main(argv) == error.exit_code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (folder / "e.png").exists()


def test_synthesize_rejects_a_disparity_of_another_size(cones_files, capsys):
    src, spec, folder, *_ = cones_files
    write_pfm(folder / "small.pfm", np.ones((10, 10), np.float32))
    argv = [
        "synthesize",
        str(src / spec["left"]),
        str(src / spec["right"]),
        "--position",
        "1",
        "--disparity",
        str(folder / "small.pfm"),
        "-o",
        str(folder / "s.png"),
    ]
    assert main(argv) == ParameterError.exit_code
    assert "10x10" in capsys.readouterr().err


def test_quilt_is_picked_by_its_looking_glass_name(cones_files, tmp_path):
    from parallax.outputs import find_format
    from parallax.render.quilt import QUILT_PRESETS, preset_for_path

    assert find_format(tmp_path / "scene_qs8x6a0.75.png").name == "quilt"
    assert find_format(tmp_path / "scene.png", "quilt").name == "quilt"
    assert preset_for_path("scene_qs5x9a1.77778.png") is QUILT_PRESETS["16-gen2"]
    assert preset_for_path("scene.png") is None

    src, spec, *_ = cones_files
    out = tmp_path / "cones_qs5x9a1.77778.png"
    rc = main(["convert", str(src / spec["left"]), str(src / spec["right"]), "-o", str(out), "--max-size", "200"])
    assert rc == 0
    with Image.open(out) as quilt:
        assert quilt.size == (QUILT_PRESETS["16-gen2"].width, QUILT_PRESETS["16-gen2"].height)


def test_quilt_name_without_a_preset_is_refused(cones_files, tmp_path, capsys):
    src, spec, *_ = cones_files
    out = tmp_path / "cones_qs3x3a1.png"
    rc = main(["convert", str(src / spec["left"]), str(src / spec["right"]), "-o", str(out), "--max-size", "200"])
    assert rc == OutputError.exit_code
    err = capsys.readouterr().err
    assert "no quilt preset is qs3x3a1" in err and not out.exists()
