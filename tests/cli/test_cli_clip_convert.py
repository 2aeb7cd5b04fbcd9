"""``parallax convert CLIP``: outputs, frame selection, JSON summary, bad input (parallax.cli.clip_convert)."""

from __future__ import annotations

import json

import pytest

from parallax.cli.main import main
from parallax.errors import InputFileError, OutputError, ParameterError

av = pytest.importorskip("av")


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory):
    from parallax.bench.synthetic_clip import render_clip

    return render_clip(tmp_path_factory.mktemp("cli-clip"), kind="pan", frames=6, width=160, height=120).folder


def _frame_count(path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err
    return err


def test_depth_video_with_a_text_summary(clip_folder, tmp_path, capsys):
    out = tmp_path / "clip.depth.mp4"
    assert main(["convert", str(clip_folder), "-o", str(out), "--max-size", "96"]) == 0
    text = capsys.readouterr().out
    assert "6 frames at" in text and "rectification (none)" in text and "depth is RELATIVE" in text
    assert "camera path in baselines" in text and f"wrote {out}" in text
    assert _frame_count(out) == 6


def test_frames_folder_with_selection_and_json(clip_folder, tmp_path, capsys):
    out = tmp_path / "frames"
    argv = ["convert", str(clip_folder), "-o", f"{out}/", "--format", "frames", "--json", "--start", "0.03"]
    argv += ["--end", "0.2", "--step", "2", "--max-frames", "2", "--focal-px", "137.1", "--baseline-mm", "200"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)  # --json prints JSON only
    assert summary["frames"] == 2 and summary["format"] == "frames" and summary["depth_is_metric"] is True
    assert summary["trajectory"]["units"] == "m"
    assert sorted(p.name for p in (out / "left").iterdir()) == ["000001.png", "000003.png"]
    transforms = json.loads((out / "transforms.json").read_text())
    assert len(transforms["frames"]) == 4 and transforms["parallax"]["units"] == "m"
    assert len(json.loads((out / "poses.json").read_text())["frames"]) == 2


@pytest.mark.parametrize(("suffix", "expected"), [(".sbs.mp4", (120, 320)), (".anaglyph.mp4", (120, 160))])
def test_stereo_videos(clip_folder, tmp_path, suffix, expected):
    out = tmp_path / f"clip{suffix}"
    assert main(["convert", str(clip_folder), "-o", str(out), "--max-frames", "3", "--no-temporal", "--json"]) == 0
    with av.open(str(out)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 3 and frames[0].shape[:2] == expected


@pytest.mark.parametrize(
    ("extra", "error", "word"),
    [
        (["-o", "{tmp}/clip.mp4"], OutputError, ".sbs.mp4"),  # a still format's extension
        (["-o", "{tmp}/clip.ply"], OutputError, "folder with --format frames"),
        (["-o", "{tmp}/clip.sbs.mp4", "--format", "mesh"], ParameterError, "not a clip output"),
        (["-o", "{tmp}/clip.sbs.mp4", "--step", "0"], ParameterError, "step"),
        (["-o", "{tmp}/clip.sbs.mp4", "--start", "2", "--end", "1"], ParameterError, "end_s"),
        (["-o", "{tmp}/clip.sbs.mp4", "--max-frames", "0"], ParameterError, "max_frames"),
        (["-o", "{tmp}/clip.sbs.mp4", "--max-size", "4"], ParameterError, "max_side_px"),
        (["-o", "{tmp}/clip.sbs.mp4", "--start", "99"], InputFileError, "no frame"),
        (["-o", "{tmp}/missing/clip.sbs.mp4"], OutputError, "does not exist"),
        (["-o", "{tmp}/clip.depth.mp4", "--option", "layout=3d"], ParameterError, "layout"),
        (["-o", "{tmp}/clip.sbs.mp4", "--option", "layout=rgbd"], ParameterError, "crf, preset"),
        (["-o", "{tmp}/f", "--format", "frames", "--option", "crf=3"], ParameterError, "no options"),
    ],
)
def test_bad_options_get_one_line_and_no_output(clip_folder, tmp_path, capsys, extra, error, word):
    argv = ["convert", str(clip_folder)] + [a.format(tmp=tmp_path) for a in extra]
    assert main(argv) == error.exit_code != 0
    assert word in _one_line_error(capsys)
    assert list(tmp_path.iterdir()) == []


def test_clip_options_on_a_still_are_refused(tmp_path, capsys):
    from pathlib import Path

    mpo = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "captures" / "mpo"
    first = sorted(mpo.glob("*.mpo"))[0]
    assert main(["convert", str(first), "-o", str(tmp_path / "x.sbs.png"), "--start", "1"]) == ParameterError.exit_code
    assert "--start apply to stereo videos" in _one_line_error(capsys)
    assert list(tmp_path.iterdir()) == []


def test_a_broken_clip_leaves_no_partial_output(clip_folder, tmp_path, capsys):
    broken = tmp_path / "broken"
    for eye in ("left", "right"):
        (broken / eye).mkdir(parents=True)
        for src in sorted((clip_folder / eye).glob("*.png")):
            (broken / eye / src.name).write_bytes(src.read_bytes())
    (broken / "left" / "000005.png").write_bytes(b"not a png at all")
    out = tmp_path / "out"
    out.mkdir()
    assert main(["convert", str(broken), "-o", str(out / "clip.sbs.mp4")]) == InputFileError.exit_code
    assert "000005.png" in _one_line_error(capsys)
    assert list(out.iterdir()) == []
    (broken / "right" / "000005.png").unlink()
    assert main(["convert", str(broken), "-o", str(out / "frames"), "--format", "frames"]) == InputFileError.exit_code
    assert "left/ holds 6 frames and right/ 5" in _one_line_error(capsys)
    assert list(out.iterdir()) == []
