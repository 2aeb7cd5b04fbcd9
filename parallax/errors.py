"""The one error family of Parallax.

Every error a user can cause derives from :class:`ParallaxError`. Messages are
one line and say what went wrong, where (file or parameter, and the value), and
what to do about it. The command line prints ``error: <message>`` and exits
with a non-zero status; it never shows a traceback for these.

Never use ``assert`` to check input: raise one of these instead.
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

    ``exit_code`` is what the command line exits with.
    """

    exit_code: int = 2


class InputFileError(ParallaxError, ValueError):
    """An input file is missing, unreadable, truncated, corrupt or too large."""


class UnsupportedFormatError(InputFileError):
    """An input file is readable but of a format Parallax does not read."""


class NotStereoError(InputFileError):
    """An input file holds a single view (and no depth) where a stereo pair is needed."""


class ParameterError(ParallaxError, ValueError):
    """A parameter has a value Parallax cannot work with."""


class OutputError(ParallaxError, OSError):
    """An output could not be written (unwritable path, unknown extension, ...)."""


class MissingDependencyError(ParallaxError, ImportError):
    """An optional dependency is not installed; the message names the extra."""

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
