"""Summaries over seeds and held-out scenes, and the bootstrap confidence interval of the difference.

Per arm and metric: the mean over the held-out scenes for each seed, then the
mean and the standard deviation (``ddof = 1``) of those over the seeds.

The difference (``synthetic+real - synthetic``) is paired: the same seed and
the same scene in both arms. Its confidence interval comes from a two-level
(hierarchical) percentile bootstrap that resamples seeds and scenes with
replacement, so both the training noise and the choice of scenes widen it.
The bootstrap is seeded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from parallax.errors import ParameterError

__all__ = ["metric_matrix", "arm_summary", "paired_difference"]

#: Per run (seed) a mapping scene -> metric -> value.
RunScores = Mapping[str, Mapping[str, float]]


def metric_matrix(runs: Sequence[RunScores], metric: str, scenes: Sequence[str]) -> np.ndarray:
    """``seeds x scenes`` values of ``metric`` (NaN where a scene has none)."""
    return np.array(
        [[float(run.get(s, {}).get(metric, math.nan)) for s in scenes] for run in runs], dtype=np.float64
    ).reshape(len(runs), len(scenes))


def _defined_columns(*matrices: np.ndarray) -> np.ndarray:
    keep = np.ones(matrices[0].shape[1], dtype=bool)
    for m in matrices:
        keep &= np.isfinite(m).all(axis=0)
    return keep


def arm_summary(runs: Sequence[RunScores], metric: str, scenes: Sequence[str]) -> dict[str, Any]:
    """Mean over scenes per seed, then mean, standard deviation, min and max over seeds.

    Scenes where the metric is undefined in some run are left out (``scenes`` lists the ones used).
    """
    m = metric_matrix(runs, metric, scenes)
    keep = _defined_columns(m)
    used = [s for s, k in zip(scenes, keep, strict=True) if k]
    if not used:
        return {"mean": None, "std": None, "min": None, "max": None, "per_seed": [], "scenes": []}
    per_seed = m[:, keep].mean(axis=1)
    return {
        "mean": float(per_seed.mean()),
        "std": float(per_seed.std(ddof=1)) if len(per_seed) > 1 else 0.0,
        "min": float(per_seed.min()),
        "max": float(per_seed.max()),
        "per_seed": [float(v) for v in per_seed],
        "scenes": used,
    }


def paired_difference(
    runs_a: Sequence[RunScores],
    runs_b: Sequence[RunScores],
    metric: str,
    scenes: Sequence[str],
    *,
    resamples: int = 10000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Mean of ``b - a`` over paired seeds and scenes, with a hierarchical bootstrap interval.

    Parameters
    ----------
    runs_a, runs_b : sequence of per-seed scores
        The same seeds, in the same order, for both arms.
    resamples : int
        Bootstrap resamples.
    confidence : float
        Interval level (percentile interval).
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    dict
        ``mean``, ``ci_low``, ``ci_high``, ``confidence``, ``resamples``, ``scenes``
        (the ones where the metric is defined in every run), ``per_seed``.
    """
    if len(runs_a) != len(runs_b) or not runs_a:
        raise ParameterError(
            f"paired_difference needs the same seeds in both arms, got {len(runs_a)} and {len(runs_b)}"
        )
    a = metric_matrix(runs_a, metric, scenes)
    b = metric_matrix(runs_b, metric, scenes)
    keep = _defined_columns(a, b)
    used = [s for s, k in zip(scenes, keep, strict=True) if k]
    if not used:
        return {"mean": None, "ci_low": None, "ci_high": None, "confidence": confidence, "resamples": 0, "scenes": []}
    diff = (b - a)[:, keep]
    n_seeds, n_scenes = diff.shape
    rng = np.random.default_rng([seed, 2718])
    si = rng.integers(0, n_seeds, size=(resamples, n_seeds))
    ci = rng.integers(0, n_scenes, size=(resamples, n_scenes))
    # mean over the resampled seeds x resampled scenes grid, per resample
    boot = diff[si[:, :, None], ci[:, None, :]].mean(axis=(1, 2))
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(boot, [alpha, 1.0 - alpha])
    return {
        "mean": float(diff.mean()),
        "ci_low": float(low),
        "ci_high": float(high),
        "confidence": confidence,
        "resamples": int(resamples),
        "scenes": used,
        "per_seed": [float(v) for v in diff.mean(axis=1)],
    }
