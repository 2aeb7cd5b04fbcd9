"""The command-line frame: exit codes, one-line errors, version."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer

from parallax import __version__
from parallax.cli import main as cli_main
from parallax.errors import (
    InputFileError,
    MissingDependencyError,
    NotStereoError,
    OutputError,
    ParallaxError,
    ParameterError,
    UnsupportedFormatError,
)

#: The documented exit statuses (parallax/errors.py, README, docs/conventions.md).
DOCUMENTED = {
    ParallaxError: 1,
    ParameterError: 64,
    InputFileError: 65,
    UnsupportedFormatError: 65,
    NotStereoError: 65,
    MissingDependencyError: 69,
    OutputError: 73,
}


def test_version_prints_and_exits_zero(capsys):
    assert cli_main.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == __version__


def test_typer_exit_code_is_returned(monkeypatch):
    app = typer.Typer()

    @app.command()
    def fail() -> None:
        raise typer.Exit(code=5)

    @app.command()
    def ok() -> None:
        pass

    monkeypatch.setattr(cli_main, "app", app)
    assert cli_main.main(["fail"]) == 5
    assert cli_main.main(["ok"]) == 0


def test_usage_error_exits_non_zero(capsys):
    assert cli_main.main(["no-such-command"]) == 2
    assert "No such command" in capsys.readouterr().err


def test_parallax_error_is_one_line_without_traceback(tmp_path, capsys):
    missing = tmp_path / "nope [1].jpg"
    assert cli_main.main(["info", str(missing)]) == InputFileError.exit_code
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err
    assert "nope [1].jpg" in err  # rich markup in file names is printed literally


def test_exit_codes_are_the_documented_ones_and_clear_of_click():
    assert {cls: cls.exit_code for cls in DOCUMENTED} == DOCUMENTED
    categories = {ParameterError.exit_code, InputFileError.exit_code, MissingDependencyError.exit_code}
    categories.add(OutputError.exit_code)
    assert len(categories) == 4  # one distinct code per kind of error
    assert not categories & {0, 1, 2, 130}  # success, generic failure, click's usage error, Ctrl+C


@pytest.mark.parametrize("error", list(DOCUMENTED), ids=lambda cls: cls.__name__)
def test_each_error_class_exits_with_its_code_in_one_line(monkeypatch, capsys, error):
    app = typer.Typer()

    @app.command()
    def fail() -> None:
        raise error("something went wrong with [bold]x.jpg[/]; do this instead")

    @app.command()
    def ok() -> None:
        pass

    monkeypatch.setattr(cli_main, "app", app)
    assert cli_main.main(["fail"]) == DOCUMENTED[error]
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "error: something went wrong with [bold]x.jpg[/]; do this instead\n"


def _run(tmp_path, *args: str, block: str | None = None) -> subprocess.CompletedProcess[str]:
    """The real command in a new interpreter; ``block`` makes that module unimportable (a missing extra)."""
    if block is None:
        argv = [sys.executable, "-m", "parallax", *args]
    else:
        code = f"import sys; sys.modules[{block!r}] = None; from parallax.cli.main import main; sys.exit(main())"
        argv = [sys.executable, "-c", code, *args]
    return subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, timeout=300, check=False)


@pytest.mark.parametrize(
    "args, block, error, message",
    [
        (["synth", "--count", "0", "--out", "o"], None, ParameterError, "--count must be at least 1"),
        (["info", "missing.jpg"], None, InputFileError, "missing.jpg does not exist"),
        (["synth", "--count", "1", "--out", "o"], "mitsuba", MissingDependencyError, "parallax[synth]"),
        (["corpus", "init", "a-file"], None, OutputError, "cannot create corpus folder"),
    ],
    ids=["parameter-64", "input-65", "missing-dependency-69", "output-73"],
)
def test_real_commands_exit_with_the_documented_code_and_no_traceback(tmp_path, args, block, error, message):
    (tmp_path / "a-file").write_text("not a folder")
    proc = _run(tmp_path, *args, block=block)
    assert proc.returncode == DOCUMENTED[error], proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # nothing written
