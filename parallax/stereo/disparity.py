"""Disparity of a rectified stereo pair: the public entry points.

Conventions (see ``docs/conventions.md``): images ``HxWx3`` uint8 RGB; disparity
in pixels of the left view with ``x_right = x_left - d`` (positive in front of a
parallel rig, negative values valid for converged rigs such as the 3DS); NaN =
no value; confidence in [0, 1], 0 where there is no value.

Matchers are found by name in :mod:`parallax.stereo.matchers.registry`:
``"default"`` (alias ``"parallax"``, census + 8-path SGM, see
:mod:`parallax.stereo.matchers.default`), ``"sgbm"`` (OpenCV baseline with hole
fill), ``"sgbm-raw"`` (no fill) and ``"onnx"`` (a learned model, optional extra).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from parallax.stereo.matchers.base import MatchResult
from parallax.stereo.matchers.registry import get_matcher, matcher_names

__all__ = ["estimate_disparity", "match", "get_matcher", "matcher_names"]


def match(
    left: np.ndarray,
    right: np.ndarray,
    *,
    matcher: str = "default",
    min_disparity: float | None = None,
    max_disparity: float | None = None,
    **options: Any,
) -> MatchResult:
    """Match an already rectified pair with the named matcher.

    Parameters
    ----------
    left, right : numpy.ndarray
        Rectified ``HxWx3`` uint8 RGB views of the same size.
    matcher : str
        Registered matcher name (``"default"``, ``"parallax"``, ``"sgbm"``, ``"sgbm-raw"``, ``"onnx"``).
    min_disparity, max_disparity : float, optional
        Search range in pixels; ``None`` lets the matcher find it.
    **options
        Matcher options (e.g. ``p2=120`` for the default matcher).

    Returns
    -------
    MatchResult
        Disparity (float32 pixels, NaN = no value) and confidence in [0, 1].

    Raises
    ------
    ParameterError
        Unknown matcher or option, views of the wrong type or size, bad range.
    """
    return get_matcher(matcher, **options).match(left, right, min_disparity=min_disparity, max_disparity=max_disparity)


def estimate_disparity(
    left: np.ndarray,
    right: np.ndarray,
    min_disparity: float | None = None,
    max_disparity: float | None = None,
) -> np.ndarray:
    """Dense disparity of the left view of a rectified pair, with the default matcher.

    Parameters
    ----------
    left, right : numpy.ndarray
        Rectified ``HxWx3`` uint8 RGB views of the same size.
    min_disparity, max_disparity : float, optional
        Search range in pixels; ``None`` = found automatically.

    Returns
    -------
    numpy.ndarray
        ``HxW`` float32 disparity in pixels, ``x_right = x_left - d``. NaN marks
        pixels without a value; the default matcher fills occlusions and
        mismatches, so NaN only appears where no consistent pixel exists at all
        (e.g. a blank pair).
    """
    result = match(left, right, min_disparity=min_disparity, max_disparity=max_disparity)
    return np.array(result.disparity_px, dtype=np.float32)
