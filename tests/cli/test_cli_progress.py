"""Progress of long commands: drawn on a terminal's stderr, silent with --json and when stderr is not a terminal."""

from __future__ import annotations

import io
import json
import time

import pytest
from rich.console import Console

from parallax.cli import progress
from parallax.cli.main import main

TSUKUBA = "middlebury2001-tsukuba"


@pytest.fixture()
def terminal(monkeypatch) -> io.StringIO:
    """Make stderr look like a terminal to the progress helpers; returns what they draw."""
    screen = io.StringIO()
    monkeypatch.setattr(
        progress, "stderr_console", lambda: Console(file=screen, force_terminal=True, width=120, color_system=None)
    )
    return screen


def test_spinner_and_bar_draw_on_a_terminal(terminal):
    assert progress.showing() and not progress.showing(quiet=True)
    with progress.spinner("matching left.png"):
        time.sleep(0.3)
    with progress.bar("ingest", 2) as advance:
        advance("a.mpo: accepted")
        advance("b.mpo: rejected")
    drawn = terminal.getvalue()
    assert "matching left.png" in drawn
    assert "ingest" in drawn and "2/2" in drawn and "b.mpo: rejected" in drawn


def test_spinner_and_bar_are_silent_when_quiet(terminal):
    with progress.spinner("matching", quiet=True):
        time.sleep(0.2)
    with progress.bar("ingest", 1, quiet=True) as advance:
        advance("a.mpo")
    assert terminal.getvalue() == ""


def test_nothing_is_drawn_when_stderr_is_not_a_terminal(capsys):
    assert not progress.showing()  # pytest captures stderr: not a terminal
    with progress.spinner("matching"):
        time.sleep(0.2)
    with progress.bar("synth", 1) as advance:
        advance("synth-0-000000")
    assert capsys.readouterr().err == ""


def _eval(stereo_gt_dir, *extra: str) -> list[str]:
    return ["eval", "-d", str(stereo_gt_dir / "scenes.json"), "-s", TSUKUBA, "-m", "sgbm", "--no-timing", *extra]


def test_eval_shows_a_bar_on_a_terminal(terminal, stereo_gt_dir, capsys):
    assert main(_eval(stereo_gt_dir)) == 0
    assert "eval" in terminal.getvalue() and "1/1" in terminal.getvalue()
    assert TSUKUBA in capsys.readouterr().out  # the table


def test_eval_json_is_quiet_even_on_a_terminal(terminal, stereo_gt_dir, capsys):
    assert main(_eval(stereo_gt_dir, "--json")) == 0
    assert terminal.getvalue() == ""
    out = capsys.readouterr()
    assert json.loads(out.out)["results"][0]["scene"] == TSUKUBA and out.err == ""


def test_convert_shows_its_steps_on_a_terminal_and_nothing_in_a_log(terminal, tmp_path, captures_dir, capsys):
    argv = ["convert", str(captures_dir / "mpo/sugarshack.mpo"), "-o", str(tmp_path / "x.sbs.png"), "--max-size", "160"]
    assert main(argv) == 0
    drawn = terminal.getvalue()
    assert "reading sugarshack.mpo" in drawn and "rectifying sugarshack.mpo" in drawn
    assert capsys.readouterr().err == ""


def test_corpus_verify_json_is_quiet_on_a_terminal(terminal, tmp_path, capsys):
    assert main(["corpus", "init", str(tmp_path / "c")]) == 0
    capsys.readouterr()
    assert main(["corpus", "verify", "--corpus", str(tmp_path / "c"), "--json"]) == 0
    assert terminal.getvalue() == ""
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert main(["corpus", "verify", "--corpus", str(tmp_path / "c")]) == 0
    assert "verifying" in terminal.getvalue()
