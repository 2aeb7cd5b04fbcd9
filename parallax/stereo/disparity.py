"""Disparity of a rectified stereo pair: the public entry points, and the one depth path.

:func:`disparity_of_pair` is the single function every user of Parallax goes
through for the disparity of a rectified pair: the CLI (``parallax disparity``,
``depth``, ``convert``), the Python API (:func:`estimate_disparity`,
:func:`parallax.compute_depth`), the web app and the corpus. So the same pair
with the same settings gives the same disparity everywhere. It runs the matcher
(:func:`match`), then:

* **Pixels seen by one camera only** (occlusions, and left pixels whose match
  ``x - d`` falls outside the right view) keep the value the matcher
  extrapolated from the background side, with a low confidence (dense output,
  the default); ``strict=True`` leaves every pixel that was not measured by a
  left-right consistent match without a value.
* **Plain surfaces** (untextured regions) become smooth surfaces propagated from
  measured pixels, or no value where nothing supports them
  (:mod:`parallax.stereo.surfaces`).
* ``valid`` marks the pixels with a value; confidence is 0 elsewhere.

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

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from parallax.capture.types import _readonly
from parallax.errors import ParameterError
from parallax.stereo.matchers.base import MatchResult
from parallax.stereo.matchers.registry import get_matcher, matcher_names

__all__ = [
    "PairDisparity",
    "disparity_of_pair",
    "estimate_disparity",
    "match",
    "get_matcher",
    "matcher_names",
    "outside_right_view",
    "EXTRAPOLATED_CONFIDENCE",
]

#: Matchers (their ``settings["matcher"]``) whose plain regions are left as they are by default.
LEARNED_MATCHERS = frozenset({"onnx"})

#: Highest confidence of a pixel whose value was extrapolated (seen by one camera only).
EXTRAPOLATED_CONFIDENCE = 0.05


@dataclass(frozen=True, kw_only=True)
class PairDisparity:
    """Disparity of the left view of a rectified pair, as :func:`disparity_of_pair` makes it.

    Parameters
    ----------
    disparity_px : numpy.ndarray
        ``HxW`` float32 pixels, ``x_right = x_left - d``; NaN = no value.
    confidence : numpy.ndarray
        ``HxW`` float32 in [0, 1]; 0 where there is no value.
    valid : numpy.ndarray
        ``HxW`` bool, the pixels with a value.
    measured : numpy.ndarray
        ``HxW`` bool, the pixels measured by a left-right consistent match.
    min_disparity, max_disparity : float
        The search range used, pixels.
    settings : Mapping
        Matcher settings, ``strict``, and what the post-processing did (shares of pixels).
    """

    disparity_px: np.ndarray
    confidence: np.ndarray
    valid: np.ndarray
    measured: np.ndarray
    min_disparity: float
    max_disparity: float
    settings: Mapping[str, Any] = field(default_factory=dict)


def outside_right_view(disparity_px: np.ndarray) -> np.ndarray:
    """``HxW`` bool: left pixels whose match ``x - d`` falls outside the right view (seen by the left camera only)."""
    width = disparity_px.shape[1]
    x = np.arange(width, dtype=np.float32)[None, :]
    with np.errstate(invalid="ignore"):
        target = x - disparity_px
        return (target < -0.5) | (target > width - 0.5)


def disparity_of_pair(
    left: np.ndarray,
    right: np.ndarray,
    *,
    matcher: str = "default",
    min_disparity: float | None = None,
    max_disparity: float | None = None,
    strict: bool = False,
    plain_surfaces: bool | None = None,
    covered: np.ndarray | None = None,
    options: Mapping[str, Any] | None = None,
) -> PairDisparity:
    """Disparity of a rectified pair: match, then the one post-processing (module docstring).

    Parameters
    ----------
    left, right : numpy.ndarray
        Rectified ``HxWx3`` uint8 RGB views of the same size.
    matcher : str
        Registered matcher name.
    min_disparity, max_disparity : float, optional
        Search range in pixels; ``None`` lets the matcher find it.
    strict : bool
        Leave every pixel that no left-right consistent match measured without a
        value (default: dense, extrapolated pixels get a low confidence).
    plain_surfaces : bool or None
        Turn untextured regions into smooth surfaces or no value rather than keeping
        the matcher's values there. ``None`` (default): on for the matchers that
        search correspondences (``default``, ``sgbm``), off for learned models
        (``onnx``), which fill untextured regions from what they learned.
    covered : numpy.ndarray, optional
        ``HxW`` bool, the left pixels that show the scene (rectification leaves
        black borders without a source pixel); the others get no value.
    options : Mapping, optional
        Matcher options (e.g. ``{"model": "m.onnx"}``).

    Returns
    -------
    PairDisparity
    """
    if not isinstance(strict, bool) or not (plain_surfaces is None or isinstance(plain_surfaces, bool)):
        raise ParameterError(f"strict and plain_surfaces must be True or False, got {strict!r}, {plain_surfaces!r}")
    from parallax.stereo.matchers.threads import available_cores, start_job
    from parallax.stereo.surfaces import smooth_plain_surfaces, surface_guides

    # what the plain-surface step takes from the image alone is computed while the matcher runs
    guides = None
    if plain_surfaces is not False and matcher not in LEARNED_MATCHERS and np.shape(left)[:2] == np.shape(right)[:2]:
        guides = start_job(lambda: surface_guides(np.asarray(left)))
    try:
        result = match(
            left,
            right,
            matcher=matcher,
            min_disparity=min_disparity,
            max_disparity=max_disparity,
            **dict(options or {}),
        )
    except BaseException:
        if guides is not None:
            guides.cancel()  # (one that already runs finishes on its own; nothing uses it)
        raise
    disparity = np.array(result.disparity_px, dtype=np.float32)
    confidence = np.array(result.confidence, dtype=np.float32)
    measured = np.array(result.measured_mask, dtype=bool)
    if covered is not None:
        covered = np.asarray(covered, dtype=bool)
        if covered.shape != disparity.shape:
            raise ParameterError(f"covered has shape {covered.shape}, expected {disparity.shape}")
        disparity[~covered] = np.nan
    outside = outside_right_view(disparity)
    measured &= ~outside
    confidence = np.where(outside, np.minimum(confidence, EXTRAPOLATED_CONFIDENCE), confidence)
    settings: dict[str, Any] = {"matcher_settings": dict(result.settings), "strict": strict}
    settings["outside_right_view_share"] = round(float(outside.mean()), 6)
    if plain_surfaces is None:
        plain_surfaces = result.settings.get("matcher") not in LEARNED_MATCHERS
    if plain_surfaces:
        surfaces = smooth_plain_surfaces(
            np.asarray(left),
            disparity,
            confidence,
            measured,
            threads=available_cores(),
            guides=None if guides is None else guides.result(),
        )
        disparity, confidence = np.array(surfaces.disparity_px), np.array(surfaces.confidence)
        measured &= ~surfaces.unsupported
        settings["plain_surfaces"] = {
            "plain_share": round(float(surfaces.plain.mean()), 6),
            "smoothed_share": round(float((surfaces.treated & ~surfaces.unsupported).mean()), 6),
            "no_value_share": round(float(surfaces.unsupported.mean()), 6),
        }
        if covered is not None:
            disparity[~covered] = np.nan
        outside |= outside_right_view(disparity)  # the smoothed values' matches, too
        measured &= ~outside
        confidence = np.where(outside, np.minimum(confidence, EXTRAPOLATED_CONFIDENCE), confidence)
    if strict:
        disparity[~measured] = np.nan
    valid = np.isfinite(disparity)
    measured &= valid
    confidence = np.where(valid, confidence, 0.0).astype(np.float32)
    settings["valid_share"] = round(float(valid.mean()), 6)
    return PairDisparity(
        disparity_px=_readonly(disparity),
        confidence=_readonly(confidence),
        valid=_readonly(valid),
        measured=_readonly(measured),
        min_disparity=float(result.min_disparity),
        max_disparity=float(result.max_disparity),
        settings=settings,
    )


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
    *,
    strict: bool = False,
    matcher: str = "default",
) -> np.ndarray:
    """Disparity of the left view of a rectified pair (what ``parallax disparity LEFT RIGHT`` writes).

    Parameters
    ----------
    left, right : numpy.ndarray
        Rectified ``HxWx3`` uint8 RGB views of the same size.
    min_disparity, max_disparity : float, optional
        Search range in pixels; ``None`` = found automatically.
    strict : bool
        Only pixels measured by a left-right consistent match get a value.
    matcher : str
        Registered matcher name.

    Returns
    -------
    numpy.ndarray
        ``HxW`` float32 disparity in pixels, ``x_right = x_left - d``; NaN = no
        value. Dense by default: pixels seen by one camera only are extrapolated
        from the background side; NaN remains only where a plain (untextured)
        region has no measured pixel to support a surface. See :func:`disparity_of_pair`.
    """
    result = disparity_of_pair(
        left, right, matcher=matcher, min_disparity=min_disparity, max_disparity=max_disparity, strict=strict
    )
    return np.array(result.disparity_px, dtype=np.float32)
