"""Typed reading of ``OutputOptions.extra`` for the writers of this issue (values often arrive as CLI strings)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from parallax.errors import ParameterError

__all__ = ["option_float", "option_int"]


def option_int(extra: Mapping[str, Any], key: str, default: int, *, minimum: int = 1) -> int:
    """``extra[key]`` as an integer >= ``minimum`` (``default`` when absent or empty).

    Raises
    ------
    ParameterError
        Naming the option, the value and what to give instead.
    """
    value = extra.get(key)
    if value is None or value == "":
        return default
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ParameterError(f"option {key}={value!r} is not an integer; give e.g. {key}={default}") from None
    if number < minimum:
        raise ParameterError(f"option {key}={number} must be >= {minimum}")
    return number


def option_float(extra: Mapping[str, Any], key: str, default: float) -> float:
    """``extra[key]`` as a finite float (``default`` when absent or empty)."""
    value = extra.get(key)
    if value is None or value == "":
        return default
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ParameterError(f"option {key}={value!r} is not a number; give e.g. {key}={default}") from None
    if not math.isfinite(number):
        raise ParameterError(f"option {key}={value!r} must be finite")
    return number
