"""Lazy public names for package ``__init__`` modules (keeps ``import parallax.x`` cheap).

Usage in a package ``__init__``::

    _LAZY = {"compute_depth": "parallax.stereo.pipeline", ...}
    __getattr__ = lazy_getattr(__name__, _LAZY, globals())
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(package: str, table: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``table[name]`` on first use and caches the value.

    Parameters
    ----------
    package : str
        The package's ``__name__`` (for the error message).
    table : Mapping of str to str
        Public name -> module that defines it.
    namespace : dict
        The package's ``globals()``, where the value is cached.
    """

    def __getattr__(name: str) -> Any:
        if name in table:
            value = getattr(importlib.import_module(table[name]), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
