"""The one error family of Parallax.

Every error a user can cause derives from :class:`ParallaxError`. Messages are
one line and say what went wrong, where (file or parameter, and the value), and
what to do about it. The command line prints ``error: <message>`` and exits
with the class's ``exit_code``; it never shows a traceback for these.

Exit statuses of the ``parallax`` command (the numbers of BSD ``sysexits.h``,
clear of click's 2 for usage errors and of 130 for Ctrl+C):

====  ==========================================================================
code  meaning
====  ==========================================================================
0     success
1     a check found problems (``parallax corpus verify``), or another
      :class:`ParallaxError`
2     usage error found by the command-line parser (unknown command or option,
      missing argument, a value of the wrong type)
3     out of memory (try ``--max-size``)
64    :class:`ParameterError`: a parameter or option value Parallax cannot work
      with (``EX_USAGE``)
65    :class:`InputFileError` and its subclasses (:class:`UnsupportedFormatError`,
      :class:`NotStereoError`): an input file is missing, unreadable, corrupt,
      too large, of an unknown format or not stereo (``EX_DATAERR``)
69    :class:`MissingDependencyError`: an optional package is not installed; the
      message names the extra (``EX_UNAVAILABLE``)
73    :class:`OutputError`: an output cannot be created (``EX_CANTCREAT``)
130   interrupted (Ctrl+C)
====  ==========================================================================

A subclass inherits its parent's code. Never use ``assert`` to check input:
raise one of these instead.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ParallaxError",
    "InputFileError",
    "UnsupportedFormatError",
    "NotStereoError",
    "ParameterError",
    "OutputError",
    "MissingDependencyError",
]


class ParallaxError(Exception):
    """Base of every error Parallax raises on purpose.

    ``exit_code`` is what the command line exits with (the table in this module's docstring).
    """

    exit_code: int = 1


class InputFileError(ParallaxError, ValueError):
    """An input file is missing, unreadable, truncated, corrupt or too large (exit status 65)."""

    exit_code = 65


class UnsupportedFormatError(InputFileError):
    """An input file is readable but of a format Parallax does not read."""


class NotStereoError(InputFileError):
    """An input file holds a single view (and no depth) where a stereo pair is needed."""


class ParameterError(ParallaxError, ValueError):
    """A parameter has a value Parallax cannot work with (exit status 64)."""

    exit_code = 64


class OutputError(ParallaxError, OSError):
    """An output could not be written (unwritable path, unknown extension, ...) (exit status 73)."""

    exit_code = 73


class MissingDependencyError(ParallaxError, ImportError):
    """An optional dependency is not installed; the message names the extra (exit status 69)."""

    exit_code = 69

    @classmethod
    def for_extra(cls, module: str, extra: str, feature: str) -> MissingDependencyError:
        """Build the standard message: which feature needs which module from which extra."""
        return cls(
            f"{feature} needs the Python package {module!r}, which is not installed; "
            f"install it with: pip install 'parallax[{extra}]'"
        )


def require(module: str, extra: str, feature: str) -> Any:
    """Import an optional dependency lazily, or raise :class:`MissingDependencyError`.

    Parameters
    ----------
    module : str
        Importable module name, e.g. ``"onnxruntime"``.
    extra : str
        The ``pip install 'parallax[extra]'`` extra that provides it.
    feature : str
        What the user asked for, for the message (e.g. ``"the ONNX matcher"``).

    Returns
    -------
    module
        The imported module, typed ``Any``: its attributes are used dynamically.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # only the import failure itself
        raise MissingDependencyError.for_extra(module, extra, feature) from exc
