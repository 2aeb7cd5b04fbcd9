"""The ``parallax`` command: one Typer app, commands registered by one module per area.

Each ``parallax.cli.<area>`` module has ``register(app)``. Errors of the
:class:`~parallax.errors.ParallaxError` family print one line and exit with
their class's ``exit_code``, with no traceback: 64 parameter, 65 input file,
69 missing optional dependency, 73 output, 1 other (the table is in
:mod:`parallax.errors`); usage errors of the parser exit 2, Ctrl+C 130, out of
memory 3.
"""

from __future__ import annotations

import importlib
import sys

import typer

from parallax.errors import ParallaxError

__all__ = ["app", "main"]

# Areas, in pipeline order. Each module defines register(app: typer.Typer).
COMMAND_MODULES = (
    "parallax.cli.capture_cmds",  # info
    "parallax.cli.stereo_cmds",  # rectify, disparity, depth
    "parallax.cli.convert_cmd",  # convert
    "parallax.cli.render_cmds",  # synthesize
    "parallax.cli.eval_cmd",  # eval
    "parallax.cli.corpus_cmds",  # corpus ...
    "parallax.cli.synth_cmd",  # synth
    "parallax.cli.bench_cmds",  # bench value
    "parallax.cli.serve_cmds",  # serve, view
)

app = typer.Typer(
    name="parallax",
    help="Turn ordinary stereo captures into 3D, and grow a consented corpus of real 3D data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from parallax import __version__

        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", is_eager=True, callback=_print_version
    ),
) -> None:
    """Parallax: stereo captures to 3D."""


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status (used by the console script)."""
    try:
        # with standalone_mode=False click returns the code of a typer.Exit instead of raising it
        code = app(args=argv, standalone_mode=False)
    except ParallaxError as exc:
        _error(str(exc))
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        _error("aborted")
        return 130
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except MemoryError:
        _error("out of memory; try a smaller image or --max-size")
        return 3
    except typer.TyperException as exc:  # usage errors (unknown command, bad option) carry their own exit code
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            _error(exc.format_message())
        return int(getattr(exc, "exit_code", 2))
    return code if isinstance(code, int) else 0


def _error(message: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    one_line = " ".join(message.split())
    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]error:[/] {escape(one_line)}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
