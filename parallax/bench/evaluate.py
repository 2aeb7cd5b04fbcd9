"""Run disparity matchers over benchmark scenes and score them (what ``parallax eval`` does).

Every matcher sees the same scenes in the same run. Timing is warm: before the
first timed call each matcher makes one untimed call on the first scene (numba
compilation, onnxruntime session warm-up), then each scene is timed ``repeat``
times (default once) with :func:`time.perf_counter` around ``matcher.match``
and the fastest call counts (on a shared, noisy machine the minimum is the
stable estimate of what the code costs). Speed is reported in
milliseconds per megapixel of the left view. Accuracy does not depend on
timing, so the accuracy part of :meth:`EvalReport.to_dict` is identical run to
run for deterministic matchers; timing lives in its own ``"timing"`` block.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from parallax.bench.metrics import DisparityMetrics, scene_metrics
from parallax.bench.scene import StereoScene
from parallax.errors import ParameterError
from parallax.stereo.matchers.base import Matcher

__all__ = ["SceneResult", "EvalReport", "evaluate", "METRIC_DIGITS"]

#: Decimals kept for accuracy numbers in reports (well below any meaningful change).
METRIC_DIGITS = 4
_MEAN_FIELDS = ("density_pct", "bad_0_5_pct", "bad_1_pct", "bad_2_pct", "bad_4_pct", "d1_pct", "epe_px", "rms_px")


@dataclass(frozen=True, kw_only=True)
class SceneResult:
    """One matcher on one scene.

    Parameters
    ----------
    scene, matcher : str
        Names.
    width, height : int
        Size of the scene's views, pixels.
    all : DisparityMetrics
        Over every GT pixel.
    nonocc : DisparityMetrics or None
        Over non-occluded GT pixels, where the scene has a mask.
    elapsed_ms : float or None
        Wall time of the timed (warm) ``match`` call, milliseconds; ``None`` when
        timing was off.
    """

    scene: str
    matcher: str
    width: int
    height: int
    all: DisparityMetrics
    nonocc: DisparityMetrics | None
    elapsed_ms: float | None

    @property
    def ms_per_mp(self) -> float | None:
        """Milliseconds per megapixel (``None`` without timing)."""
        if self.elapsed_ms is None:
            return None
        return self.elapsed_ms / (self.width * self.height / 1e6)


@dataclass(frozen=True, kw_only=True)
class EvalReport:
    """All results of one evaluation run.

    Parameters
    ----------
    dataset : str
        What was evaluated (the path given).
    scenes : tuple of dict
        Per scene: name, size, the search range passed and where it came from.
    matchers : tuple of str
        Matcher names, in the order given.
    results : tuple of SceneResult
        Scene-major order.
    use_scene_range : bool
        Whether matchers got the scene's search range (else ``None``: they found
        it themselves).
    timed : bool
        Whether timing was measured.
    repeat : int
        Timed calls per matcher and scene (the fastest counts).
    """

    dataset: str
    scenes: tuple[Mapping[str, Any], ...]
    matchers: tuple[str, ...]
    results: tuple[SceneResult, ...]
    use_scene_range: bool
    timed: bool
    repeat: int = 1

    def for_matcher(self, matcher: str) -> list[SceneResult]:
        """The results of one matcher, in scene order."""
        return [r for r in self.results if r.matcher == matcher]

    def mean(self, matcher: str, region: str = "all") -> dict[str, float] | None:
        """Arithmetic mean over scenes of each metric, for ``region`` ``"all"`` or ``"nonocc"``.

        ``None`` when no scene has that region. ``scenes`` gives how many were averaged.
        """
        rows = [getattr(r, region) for r in self.for_matcher(matcher)]
        rows = [m for m in rows if m is not None]
        if not rows:
            return None
        out: dict[str, float] = {"scenes": len(rows)}
        for name in _MEAN_FIELDS:
            out[name] = sum(getattr(m, name) for m in rows) / len(rows)
        return out

    def ms_per_mp(self, matcher: str) -> float | None:
        """Total warm time over total megapixels of ``matcher`` (``None`` without timing)."""
        rows = self.for_matcher(matcher)
        if not self.timed or not rows:
            return None
        total_ms = sum(r.elapsed_ms or 0.0 for r in rows)
        total_mp = sum(r.width * r.height / 1e6 for r in rows)
        return total_ms / total_mp

    def to_dict(self, *, timing: bool = True) -> dict[str, Any]:
        """JSON-ready dict; accuracy rounded to :data:`METRIC_DIGITS` decimals.

        With ``timing=False`` (or when nothing was timed) there is no ``"timing"``
        key, so the output is identical run to run.
        """

        def rounded(d: Mapping[str, Any] | None) -> dict[str, Any] | None:
            if d is None:
                return None
            return {k: (round(v, METRIC_DIGITS) if isinstance(v, float) else v) for k, v in d.items()}

        out: dict[str, Any] = {
            "dataset": self.dataset,
            "search_range": "scene" if self.use_scene_range else "auto",
            "missing_predictions": (
                "count as wrong for bad-N and D1; EPE/RMS are taken after filling holes per row "
                "with the smaller neighbouring prediction (parallax.bench.metrics)"
            ),
            "scenes": [dict(s) for s in self.scenes],
            "matchers": list(self.matchers),
            "results": [
                {
                    "scene": r.scene,
                    "matcher": r.matcher,
                    "all": r.all.to_dict(digits=METRIC_DIGITS),
                    "nonocc": None if r.nonocc is None else r.nonocc.to_dict(digits=METRIC_DIGITS),
                }
                for r in self.results
            ],
            "mean": {
                m: {"all": rounded(self.mean(m, "all")), "nonocc": rounded(self.mean(m, "nonocc"))}
                for m in self.matchers
            },
        }
        if timing and self.timed:
            out["timing"] = {
                "unit": "milliseconds per megapixel, warm (one untimed call per matcher first)",
                "repeat": self.repeat,
                "per_scene": [
                    {
                        "scene": r.scene,
                        "matcher": r.matcher,
                        "ms": round(r.elapsed_ms or 0.0, 3),
                        "ms_per_mp": round(r.ms_per_mp or 0.0, 3),
                    }
                    for r in self.results
                ],
                "mean_ms_per_mp": {m: round(self.ms_per_mp(m) or 0.0, 3) for m in self.matchers},
            }
        return out


def evaluate(
    scenes: Iterable[StereoScene],
    matchers: Sequence[str | Matcher],
    *,
    matcher_options: Mapping[str, Mapping[str, Any]] | None = None,
    timing: bool = True,
    repeat: int = 1,
    use_scene_range: bool = True,
    dataset: str = "",
    on_result: Callable[[SceneResult], None] | None = None,
) -> EvalReport:
    """Run every matcher on every scene and score it.

    Parameters
    ----------
    scenes : iterable of StereoScene
        Read lazily, one at a time.
    matchers : sequence of str or Matcher
        Names for :func:`parallax.stereo.disparity.get_matcher` (``"sgbm"``,
        ``"default"``, ``"onnx"``, ...) or matcher objects (reported by their
        ``name``).
    matcher_options : mapping, optional
        Matcher name -> keyword options for its constructor (e.g.
        ``{"onnx": {"model_path": "m.onnx"}}``).
    timing : bool
        Measure warm wall time (one untimed warm-up call per matcher first).
    repeat : int
        Timed calls per matcher and scene; the fastest counts (the results of the
        calls are the same for deterministic matchers; the first is scored).
    use_scene_range : bool
        Pass each scene's search range (``StereoScene.min_disparity``/
        ``max_disparity``); ``False`` passes ``None`` so matchers find it.
    dataset : str
        Label for the report.
    on_result : callable, optional
        Called with each :class:`SceneResult` as it is ready (progress).

    Raises
    ------
    ParameterError
        For an empty or repeated matcher list, or no scene.
    """
    names = [m.strip() if isinstance(m, str) else str(getattr(m, "name", "")) for m in matchers]
    if not names or any(not n for n in names):
        raise ParameterError(f"matchers {names!r}: give at least one matcher name, e.g. sgbm,default")
    if len(set(names)) != len(names):
        raise ParameterError(f"matchers {names!r} name one matcher twice; list each once")
    if not (isinstance(repeat, int) and not isinstance(repeat, bool) and repeat >= 1):
        raise ParameterError(f"repeat must be an integer >= 1 (timed calls per scene), got {repeat!r}")
    options = dict(matcher_options or {})
    built: dict[str, Matcher] = {}
    for name, m in zip(names, matchers, strict=True):
        if isinstance(m, str):
            from parallax.stereo.disparity import get_matcher

            m = get_matcher(name, **dict(options.get(name, {})))
        elif not isinstance(m, Matcher):
            raise ParameterError(f"matcher {m!r} is neither a name nor an object with name and match()")
        built[name] = m
    results: list[SceneResult] = []
    scene_info: list[dict[str, Any]] = []
    warmed = False
    for scene in scenes:
        lo, hi = (scene.min_disparity, scene.max_disparity) if use_scene_range else (None, None)
        if timing and not warmed:
            for matcher in built.values():
                matcher.match(scene.left, scene.right, min_disparity=lo, max_disparity=hi)
            warmed = True
        scene_info.append(
            {
                "name": scene.name,
                "layout": scene.dataset,
                "width": scene.width,
                "height": scene.height,
                "min_disparity": scene.min_disparity,
                "max_disparity": scene.max_disparity,
                "range_source": scene.range_source,
                "has_nonocc_mask": scene.nonocc is not None,
            }
        )
        for name, matcher in built.items():
            t0 = time.perf_counter()
            out = matcher.match(scene.left, scene.right, min_disparity=lo, max_disparity=hi)
            elapsed = (time.perf_counter() - t0) * 1000.0
            for _ in range(repeat - 1 if timing else 0):
                t0 = time.perf_counter()
                matcher.match(scene.left, scene.right, min_disparity=lo, max_disparity=hi)
                elapsed = min(elapsed, (time.perf_counter() - t0) * 1000.0)
            scores = scene_metrics(out.disparity_px, scene)
            result = SceneResult(
                scene=scene.name,
                matcher=name,
                width=scene.width,
                height=scene.height,
                all=scores["all"],
                nonocc=scores["nonocc"],
                elapsed_ms=elapsed if timing else None,
            )
            results.append(result)
            if on_result is not None:
                on_result(result)
    if not scene_info:
        raise ParameterError("no scene to evaluate; check --dataset and --scene")
    return EvalReport(
        dataset=dataset,
        scenes=tuple(scene_info),
        matchers=tuple(names),
        results=tuple(results),
        use_scene_range=use_scene_range,
        timed=timing,
        repeat=repeat,
    )
