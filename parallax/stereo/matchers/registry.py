"""Matcher registry: names to ``"module:Class"`` strings, imported lazily.

To add a matcher, add one line to :data:`MATCHERS` (its class takes keyword
options and implements :class:`~parallax.stereo.matchers.base.Matcher`); heavy
dependencies stay unimported until the matcher is asked for.
"""

from __future__ import annotations

import importlib
from typing import Any

from parallax.errors import ParameterError
from parallax.stereo.matchers.base import Matcher

__all__ = ["MATCHERS", "get_matcher", "matcher_names"]

MATCHERS: dict[str, str] = {
    "default": "parallax.stereo.matchers.default:ParallaxMatcher",
    "parallax": "parallax.stereo.matchers.default:ParallaxMatcher",
    "sgbm": "parallax.stereo.matchers.sgbm:SgbmMatcher",
    "sgbm-raw": "parallax.stereo.matchers.sgbm:SgbmRawMatcher",
    "onnx": "parallax.stereo.matchers.onnx:OnnxMatcher",
}


def matcher_names() -> list[str]:
    """The registered matcher names, sorted."""
    return sorted(MATCHERS)


def get_matcher(name: str, **options: Any) -> Matcher:
    """Build the matcher registered as ``name`` with keyword ``options``.

    Raises
    ------
    ParameterError
        For an unknown name or an option the matcher does not take.
    MissingDependencyError
        When the matcher needs an optional package that is not installed.
    """
    target = MATCHERS.get(name) if isinstance(name, str) else None
    if target is None:
        raise ParameterError(f"unknown matcher {name!r}; choose one of: {', '.join(matcher_names())}")
    module_name, _, class_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    try:
        return cls(**options)
    except TypeError as exc:  # an unexpected or a missing keyword
        raise ParameterError(f"matcher {name!r} cannot be built with options {sorted(options)}: {exc}") from exc
