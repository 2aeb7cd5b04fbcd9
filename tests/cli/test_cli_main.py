"""The command-line frame: exit codes, one-line errors, version."""

from __future__ import annotations

import typer

from parallax import __version__
from parallax.cli import main as cli_main


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
    assert cli_main.main(["info", str(missing)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err
    assert "nope [1].jpg" in err  # rich markup in file names is printed literally
