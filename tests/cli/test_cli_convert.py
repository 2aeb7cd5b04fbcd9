"""``parallax convert``: formats that show the views need no depth run; outputs stay the same."""

from __future__ import annotations

import pytest

import parallax.capture
import parallax.stereo.disparity
import parallax.stereo.pipeline
from parallax.capture import read_capture
from parallax.cli.main import main
from parallax.outputs import find_format, write_output
from parallax.stereo.pipeline import compute_depth

SIZE = 320
#: The formats whose writers declare they need only the rectified views, with a file name that picks each.
VIEW_FORMATS = {
    "anaglyph": "out.anaglyph.png",
    "sbs": "out.sbs.png",
    "sbs-cross": "out.cross.jpg",
    "over-under": "out.ou.png",
    "jps": "out.jps",
}


def _matcher_must_not_run(*args, **kwargs):
    raise AssertionError("the matcher ran for an output that needs only the rectified views")


@pytest.fixture(scope="module")
def reference(captures_dir, tmp_path_factory) -> dict[str, bytes]:
    """The files the full pipeline writes (a DepthResult through write_output), per view format."""
    result = compute_depth(read_capture(captures_dir / "mpo/sugarshack.mpo"), matcher="sgbm", max_side_px=SIZE)
    folder = tmp_path_factory.mktemp("reference")
    return {name: write_output(result, folder / file).read_bytes() for name, file in VIEW_FORMATS.items()}


def test_view_formats_are_the_ones_that_declare_it():
    assert {name for name, file in VIEW_FORMATS.items() if not find_format(file).needs_depth} == set(VIEW_FORMATS)
    for needs_depth in ("x.ply", "x.glb", "x.pfm", "x.lif.jpg", "x_qs8x6a0.75.png", "x.gif", "x.mp4", "x.spz"):
        assert find_format(needs_depth).needs_depth, needs_depth


@pytest.mark.parametrize("name", list(VIEW_FORMATS))
def test_view_formats_skip_disparity_and_depth_and_write_the_same_file(
    monkeypatch, tmp_path, captures_dir, capsys, reference, name
):
    monkeypatch.setattr(parallax.stereo.disparity, "match", _matcher_must_not_run)
    monkeypatch.setattr(parallax.stereo.pipeline, "compute_depth", _matcher_must_not_run)
    out = tmp_path / VIEW_FORMATS[name]
    argv = ["convert", str(captures_dir / "mpo/sugarshack.mpo"), "-o", str(out), "--max-size", str(SIZE)]
    assert main(argv) == 0
    assert out.read_bytes() == reference[name]
    assert "no depth needed" in capsys.readouterr().out


def test_depth_formats_still_run_the_matcher_once(monkeypatch, tmp_path, captures_dir):
    calls = []
    real = parallax.stereo.disparity.match

    def counting(*args, **kwargs):
        calls.append(kwargs.get("matcher"))
        return real(*args, **kwargs)

    monkeypatch.setattr(parallax.stereo.disparity, "match", counting)
    out = tmp_path / "cloud.ply"
    argv = ["convert", str(captures_dir / "mpo/sugarshack.mpo"), "-o", str(out), "--max-size", "160"]
    assert main([*argv, "--matcher", "sgbm"]) == 0
    assert calls == ["sgbm"] and out.stat().st_size > 0


def test_an_rgbd_photo_is_read_once_and_gets_its_synthesised_right_view(monkeypatch, tmp_path, captures_dir):
    pug = captures_dir / "heic/pug.heic"
    expected = write_output(compute_depth(read_capture(pug), max_side_px=256), tmp_path / "ref.anaglyph.png")
    reads = []
    real = parallax.capture.read_capture

    def counting(*args, **kwargs):
        reads.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(parallax.capture, "read_capture", counting)
    monkeypatch.setattr(parallax.stereo.disparity, "match", _matcher_must_not_run)  # depth is in the file
    out = tmp_path / "pug.anaglyph.png"
    assert main(["convert", str(pug), "-o", str(out), "--max-size", "256"]) == 0
    assert len(reads) == 1
    assert out.read_bytes() == expected.read_bytes()
