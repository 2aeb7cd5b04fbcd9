"""Atomic output: a file appears whole or not at all, and what was there before survives a failure."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from parallax.errors import OutputError

__all__ = ["atomic_output", "check_writable_dir"]


def check_writable_dir(path: str | os.PathLike[str]) -> Path:
    """Check that the folder that will hold ``path`` exists and is writable.

    Raises
    ------
    OutputError
        Naming the folder and what to do.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"cannot write {path}: folder {parent} does not exist; create it or choose another path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: folder {parent} is not writable; choose another path")
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder; give a file name")
    return path


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it over ``path``.

    On any exception the temporary file is removed and ``path`` is left as it
    was (absent, or holding its previous content).

    Parameters
    ----------
    path : path-like
        Final destination.
    suffix : str, optional
        Suffix for the temporary file (some libraries pick the format by it);
        defaults to the suffix(es) of ``path``.

    Raises
    ------
    OutputError
        If the destination folder is missing or unwritable.
    """
    final = check_writable_dir(path)
    suffix = suffix if suffix is not None else "".join(final.suffixes) or ".tmp"
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=suffix, dir=final.parent)
    except OSError as exc:
        raise OutputError(f"cannot write {final}: {exc.strerror}; choose another path") from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        try:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            os.replace(tmp, final)
        except OSError as exc:
            raise OutputError(f"cannot write {final}: {exc.strerror}; choose another path") from exc
    finally:
        if tmp.exists():
            tmp.unlink()
