"""No output file carries the folder names of its input: every registry format, rectification.json,
corpus sample files and the web app's stage files are grepped for them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from parallax.capture import read_capture
from parallax.capture.types import base_names
from parallax.outputs.registry import OutputOptions, list_formats, write_output
from parallax.stereo.pipeline import compute_depth

SECRET = "Users-ann-Private-Holiday-7q3x"

#: A file name per format (quilts are recognised by their name) and small options so the test stays quick.
NAMES = {"quilt": "x_qs8x6a0.75.png", "disparity": "x.pfm", "depth": "x.npy", "preview": "x.png", "splat": "x.ply"}
OPTIONS = {"wiggle": {"frames": "4"}, "video": {"frames": "4"}}


def _leaks(folder: Path, secret_dir: Path) -> list[str]:
    needles = [SECRET.encode(), str(secret_dir).encode(), SECRET.encode("utf-16-le")]
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if any(n in data for n in needles):
            found.append(path.name)
    return found


def test_capture_and_results_keep_base_names_only():
    assert base_names("/home/ann/x-left.png + /home/ann/x-right.png") == "x-left.png + x-right.png"
    assert base_names("C:\\Users\\ann\\photo.mpo") == "photo.mpo"
    assert base_names("photo.mpo") == "photo.mpo"


@pytest.mark.slow
def test_no_output_file_holds_the_input_folder(tmp_path, captures_dir):
    secret_dir = tmp_path / SECRET
    secret_dir.mkdir()
    src = secret_dir / "sugarshack.mpo"
    shutil.copy(captures_dir / "mpo" / "sugarshack.mpo", src)
    capture = read_capture(src)
    assert capture.source == "sugarshack.mpo"
    result = compute_depth(capture, max_side_px=160)
    assert result.source == "sugarshack.mpo"
    out = tmp_path / "out"
    out.mkdir()
    written = []
    for fmt in list_formats():
        if fmt.name == "video":
            pytest.importorskip("av")
        name = NAMES.get(fmt.name, "x" + fmt.extensions[0])
        path = out / fmt.name / name
        path.parent.mkdir()
        write_output(result, path, format=fmt.name, options=OutputOptions(extra=OPTIONS.get(fmt.name, {})))
        written.append(fmt.name)
    assert len(written) == len(list_formats())

    # the CLI: rectify (rectification.json) and convert
    from parallax.cli.main import main

    assert main(["rectify", str(src), "-o", str(out / "rect"), "--max-size", "160"]) == 0
    assert json.loads((out / "rect" / "rectification.json").read_text())["source"] == "sugarshack.mpo"
    assert main(["convert", str(src), "-o", str(out / "cli.glb"), "--max-size", "160"]) == 0

    # a corpus sample: every file of it
    from parallax.corpus.consent import Consent
    from parallax.corpus.ingest import CaptureItem, IngestSettings, process_capture

    consent = Consent(contributor="ann", license="CC-BY-4.0", allow_training=True, date="2026-03-01")
    item = CaptureItem(paths=(str(src),), original_name=src.name, input_key="k")
    processed = process_capture(item, consent, IngestSettings(max_side_px=160))
    assert processed.status == "ok", processed.reason
    (out / "sample").mkdir()
    for name, data in processed.files.items():
        (out / "sample" / name).write_bytes(data)
    (out / "sample" / "row.json").write_text(json.dumps(dict(processed.row), default=str))

    # the web app's stage files (viewer files, view.json, the saved result)
    from parallax.server.worker import save_result, viewer_files

    stage = out / "stage"
    stage.mkdir()
    view = viewer_files(result, stage, mesh_side_px=64)
    (stage / "view.json").write_text(json.dumps(view))
    save_result(result, stage / "result.npz")

    assert _leaks(out, secret_dir) == []
    # and the check would have caught a leak
    (out / "leak.txt").write_text(str(src))
    assert _leaks(out, secret_dir) == ["leak.txt"]
