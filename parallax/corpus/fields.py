"""Checks of the fields a still :class:`~parallax.corpus.sample.Sample` and a clip frame share.

Each check raises :class:`~parallax.errors.ParameterError` naming the field
(``owner.name``), what it got and what it needs, and returns the value in its
stored form (read-only arrays of the documented dtype).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from parallax.capture.types import _readonly, check_image
from parallax.errors import ParameterError

__all__ = [
    "ID_RE",
    "EXTRA_RE",
    "RESERVED_NAMES",
    "check_id",
    "check_views",
    "check_map",
    "check_valid_and_confidence",
    "check_K",
    "check_baseline",
    "check_text",
    "check_extras",
]

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
EXTRA_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
#: Names an extra map may not take: the core files of a sample folder.
RESERVED_NAMES = frozenset({"left", "right", "disparity", "depth", "confidence", "valid", "meta"})


def check_id(owner: str, value: Any) -> str:
    """A sample id: ``[A-Za-z0-9][A-Za-z0-9._-]*``, at most 128 characters (also a folder name)."""
    if not isinstance(value, str) or not ID_RE.match(value):
        raise ParameterError(
            f"{owner}.sample_id {value!r} is not a valid id; use letters, digits, '.', '_' or '-' (1-128 chars)"
        )
    return value


def check_views(owner: str, left: Any, right: Any) -> tuple[np.ndarray, np.ndarray]:
    """Two ``HxWx3`` uint8 RGB views of one size, read-only."""
    left = check_image(f"{owner}.left", left)
    right = check_image(f"{owner}.right", right)
    if right.shape != left.shape:
        raise ParameterError(f"{owner}: left {left.shape} and right {right.shape} views differ in size")
    return left, right


def check_map(owner: str, name: str, value: Any, shape: tuple[int, int], *, optional: bool) -> np.ndarray | None:
    """An ``HxW`` float map of the views' size as read-only float32 (NaN = no value), or None if optional."""
    if value is None:
        if optional:
            return None
        raise ParameterError(f"{owner}.{name} is required; give an HxW float32 array (NaN = no value)")
    if not isinstance(value, np.ndarray) or value.shape != shape:
        got = getattr(value, "shape", type(value).__name__)
        raise ParameterError(f"{owner}.{name} must be an array of shape {shape} (the views' HxW), got {got}")
    return _readonly(value.astype(np.float32, copy=False))


def check_valid_and_confidence(
    owner: str, valid: Any, confidence: np.ndarray | None, disparity: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """The valid mask (default: finite disparity) and confidence (default: 1 where valid) in stored form."""
    if disparity is None:  # pragma: no cover - check_map(optional=False) never returns None
        raise ParameterError(f"{owner}.disparity_px is required")
    shape = disparity.shape
    if valid is None:
        valid = np.isfinite(disparity)
    elif not isinstance(valid, np.ndarray) or valid.shape != shape:
        raise ParameterError(
            f"{owner}.valid must be a bool array of shape {shape}, got {getattr(valid, 'shape', valid)}"
        )
    valid = _readonly(valid.astype(bool, copy=False))
    if confidence is None:
        confidence = _readonly(valid.astype(np.float32))
    elif np.any(np.isfinite(confidence) & ((confidence < 0) | (confidence > 1))):
        raise ParameterError(f"{owner}: confidence must lie in [0, 1]")
    return valid, confidence


def check_K(owner: str, value: Any) -> np.ndarray:
    """A finite 3x3 camera matrix with positive focal lengths, as read-only float64."""
    k = np.asarray(value, dtype=np.float64)
    if k.shape != (3, 3) or not np.all(np.isfinite(k)) or k[0, 0] <= 0 or k[1, 1] <= 0:
        raise ParameterError(
            f"{owner}.K must be a finite 3x3 camera matrix with positive focal lengths, got {k.tolist()}"
        )
    return _readonly(k)


def check_baseline(owner: str, value: Any) -> None:
    """A baseline: a positive number of metres, or None (unknown)."""
    if value is not None and not (
        isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    ):
        raise ParameterError(f"{owner}.baseline_m must be a positive number of metres or None, got {value!r}")


def check_text(owner: str, names: tuple[str, ...], values: Mapping[str, Any]) -> None:
    """Each named field is a non-empty string."""
    for name in names:
        value = values[name]
        if not isinstance(value, str) or not value.strip():
            raise ParameterError(f"{owner}.{name} must be a non-empty string, got {value!r}")


def check_extras(owner: str, extras: Mapping[str, Any], shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """Extra ground-truth maps: lower-case names that are not core files, ``HxW`` or ``HxWxC`` arrays, read-only."""
    out: dict[str, np.ndarray] = {}
    for name, arr in dict(extras).items():
        if not isinstance(name, str) or not EXTRA_RE.match(name):
            raise ParameterError(f"{owner}.extras name {name!r} must be lower-case letters, digits and '_'")
        if name in RESERVED_NAMES:
            raise ParameterError(
                f"{owner}.extras name {name!r} is a core file of the sample; choose another (e.g. 'gt_{name}')"
            )
        if not isinstance(arr, np.ndarray) or arr.shape[:2] != shape or arr.ndim not in (2, 3):
            raise ParameterError(f"{owner}.extras[{name!r}] must be an HxW or HxWxC array with HxW = {shape}")
        out[name] = _readonly(arr)
    return out
