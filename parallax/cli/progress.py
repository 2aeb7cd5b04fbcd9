"""Progress for long commands: rich, on stderr, only where a person is watching.

A spinner (one step of unknown length) or a bar (N items) is drawn only when
stderr is a terminal and the command was not asked for machine-readable output
(``--json``, passed here as ``quiet``). Otherwise nothing is printed: logs,
pipes and ``2>file`` get no spinner frames and no bar redraws, and stdout is
never touched, so ``--json`` output stays parseable.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["stderr_console", "showing", "spinner", "bar"]


def stderr_console() -> Console:
    """The console progress is drawn on (stderr)."""
    from rich.console import Console

    return Console(stderr=True)


def showing(quiet: bool = False) -> bool:
    """Whether progress is drawn: not ``quiet`` and stderr is a terminal."""
    return not quiet and stderr_console().is_terminal


@contextlib.contextmanager
def spinner(message: str, *, quiet: bool = False) -> Iterator[None]:
    """A spinner with ``message`` while the block runs (cleared when it ends)."""
    console = stderr_console()
    if quiet or not console.is_terminal:
        yield
        return
    with console.status(message, spinner="dots"):
        yield


def _ignore(description: str = "") -> None:
    """``advance`` when no bar is drawn."""


@contextlib.contextmanager
def bar(label: str, total: int | None, *, quiet: bool = False) -> Iterator[Callable[[str], None]]:
    """A progress bar over ``total`` items; yields ``advance(description)`` to call once per item done.

    The bar stays on screen when done (a record of the run), with the last item's description.
    """
    console = stderr_console()
    if quiet or not console.is_terminal:
        yield _ignore
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn(f"[bold]{label}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.description}"),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("", total=total)

        def advance(description: str = "") -> None:
            progress.update(task, advance=1, description=description)

        yield advance
