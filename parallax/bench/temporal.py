"""Score matchers on stereo *sequences*: per-frame accuracy and temporal consistency (TEPE).

What ``parallax eval`` does when the dataset holds synthetic sequences
(``parallax synth --frames N``). Every matcher sees every frame of every
sequence, in time order:

* per frame: the still metrics (bad-N, EPE, ... over all GT pixels and the
  non-occluded ones; :func:`~parallax.bench.metrics.disparity_metrics`);
* per pair of consecutive frames: the temporal end-point error (TEPE) of the
  predicted disparity change along the GT flow against the true change
  (:func:`~parallax.bench.metrics.temporal_metrics`), over pixels visible in both.

The matcher interface for sequences is :class:`TemporalMatcher`: an object with a
``name`` and ``match_frames(frames, *, min_disparity, max_disparity)`` that
consumes :class:`~parallax.capture.clip.FramePair` s in time order and yields one
:class:`~parallax.stereo.matchers.base.MatchResult` per frame, in the same order.
It may keep state between frames (a temporal filter, a recurrent network, a
video depth model) and may read ahead a few frames before yielding (the frames
are produced lazily, so memory stays bounded by its look-ahead). A per-frame
:class:`~parallax.stereo.matchers.base.Matcher` (``default``, ``sgbm``, ``onnx``)
is wrapped in :class:`PerFrameMatcher`, which matches each frame on its own.

Timing is warm, as for stills: one untimed call on the first frame first; then
the wall time of producing each frame's result, minus the time spent reading
frames from disk, per megapixel.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from parallax.bench.metrics import DisparityMetrics, TemporalMetrics, disparity_metrics, temporal_metrics
from parallax.bench.sequence import SequenceFrameTruth, StereoSequence
from parallax.capture.clip import FramePair
from parallax.errors import ParameterError
from parallax.stereo.matchers.base import Matcher, MatchResult

__all__ = [
    "TemporalMatcher",
    "PerFrameMatcher",
    "FrameResult",
    "SequenceReport",
    "evaluate_sequences",
    "as_temporal_matcher",
]

METRIC_DIGITS = 4


@runtime_checkable
class TemporalMatcher(Protocol):
    """A matcher that consumes a sequence's frames in order and yields one disparity per frame.

    Implementations must be deterministic, yield exactly one result per frame in
    frame order, and may keep state across frames. ``min_disparity`` /
    ``max_disparity`` bound the whole sequence (``None``: find it yourself).
    """

    name: str

    def match_frames(
        self,
        frames: Iterable[FramePair],
        *,
        min_disparity: float | None = None,
        max_disparity: float | None = None,
    ) -> Iterator[MatchResult]:
        """Disparity of each frame's left view against its right view (both HxWx3 uint8 RGB)."""
        ...


class PerFrameMatcher:
    """A :class:`TemporalMatcher` that runs a per-frame :class:`Matcher` on each frame independently."""

    def __init__(self, matcher: Matcher) -> None:
        if not isinstance(matcher, Matcher):
            raise ParameterError(f"PerFrameMatcher needs a Matcher (name and match()), got {type(matcher).__name__}")
        self.matcher = matcher
        self.name = str(matcher.name)

    def match_frames(
        self,
        frames: Iterable[FramePair],
        *,
        min_disparity: float | None = None,
        max_disparity: float | None = None,
    ) -> Iterator[MatchResult]:
        for frame in frames:
            yield self.matcher.match(frame.left, frame.right, min_disparity=min_disparity, max_disparity=max_disparity)


def as_temporal_matcher(matcher: str | Matcher | TemporalMatcher, options: Mapping[str, Any] | None = None) -> Any:
    """A :class:`TemporalMatcher` for a matcher name, a per-frame :class:`Matcher` or a temporal matcher."""
    if isinstance(matcher, str):
        from parallax.stereo.disparity import get_matcher

        return PerFrameMatcher(get_matcher(matcher.strip(), **dict(options or {})))
    if callable(getattr(matcher, "match_frames", None)) and isinstance(getattr(matcher, "name", None), str):
        return matcher
    if isinstance(matcher, Matcher):
        return PerFrameMatcher(matcher)
    raise ParameterError(
        f"matcher {matcher!r} is neither a name, a Matcher (match) nor a TemporalMatcher (match_frames)"
    )


@dataclass(frozen=True, kw_only=True)
class FrameResult:
    """One matcher on one frame of one sequence.

    Parameters
    ----------
    sequence, matcher : str
        Names.
    frame : int
        Frame index.
    width, height : int
        Size of the views.
    all, nonocc : DisparityMetrics, DisparityMetrics or None
        Per-frame accuracy over all GT pixels and over non-occluded ones.
    temporal : TemporalMetrics or None
        TEPE from this frame to the next (``None`` for the last frame or without temporal GT).
    elapsed_ms : float or None
        Warm time to produce this frame's result (frame reading excluded); ``None`` without timing.
    """

    sequence: str
    matcher: str
    frame: int
    width: int
    height: int
    all: DisparityMetrics
    nonocc: DisparityMetrics | None
    temporal: TemporalMetrics | None
    elapsed_ms: float | None


def _rounded(d: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {k: (round(v, METRIC_DIGITS) if isinstance(v, float) else v) for k, v in d.items()}


@dataclass(frozen=True, kw_only=True)
class SequenceReport:
    """All results of one temporal evaluation run (frame-major within each sequence and matcher)."""

    dataset: str
    sequences: tuple[Mapping[str, Any], ...]
    matchers: tuple[str, ...]
    results: tuple[FrameResult, ...]
    use_scene_range: bool
    timed: bool

    def rows(self, matcher: str, sequence: str | None = None) -> list[FrameResult]:
        """Results of one matcher (on one sequence, or all), in order."""
        return [r for r in self.results if r.matcher == matcher and (sequence is None or r.sequence == sequence)]

    def mean(self, matcher: str, sequence: str | None = None) -> dict[str, float] | None:
        """Means over frames: ``bad_2_pct``, ``bad_2_nonocc_pct``, ``epe_px``, ``density_pct``; over frame pairs:
        ``tepe_px``, ``tepe_rms_px`` (NaN-free: keys are left out when there is nothing to average)."""
        rows = self.rows(matcher, sequence)
        if not rows:
            return None
        out: dict[str, float] = {"frames": len(rows)}
        for key in ("bad_2_pct", "bad_1_pct", "epe_px", "density_pct"):
            out[key] = sum(getattr(r.all, key) for r in rows) / len(rows)
        noc = [r.nonocc for r in rows if r.nonocc is not None]
        if noc:
            out["bad_2_nonocc_pct"] = sum(m.bad_2_pct for m in noc) / len(noc)
        tem = [r.temporal for r in rows if r.temporal is not None]
        if tem:
            out["frame_pairs"] = len(tem)
            out["tepe_px"] = sum(t.tepe_px for t in tem) / len(tem)
            out["tepe_rms_px"] = sum(t.tepe_rms_px for t in tem) / len(tem)
        return out

    def ms_per_mp(self, matcher: str) -> float | None:
        """Total warm time over total megapixels of ``matcher`` (``None`` without timing)."""
        rows = self.rows(matcher)
        if not self.timed or not rows:
            return None
        return sum(r.elapsed_ms or 0.0 for r in rows) / sum(r.width * r.height / 1e6 for r in rows)

    def to_dict(self, *, timing: bool = True) -> dict[str, Any]:
        """JSON-ready dict; accuracy rounded to 4 decimals; ``"timing"`` only when timed and asked for."""
        out: dict[str, Any] = {
            "dataset": self.dataset,
            "kind": "sequences",
            "search_range": "sequence" if self.use_scene_range else "auto",
            "temporal_metric": (
                "TEPE: mean |(d_{t+1}(x + flow) - d_t(x)) - true disparity change| over pixels with ground truth "
                "visible in both frames (parallax.bench.metrics.temporal_metrics)"
            ),
            "sequences": [dict(s) for s in self.sequences],
            "matchers": list(self.matchers),
            "results": [
                {
                    "sequence": r.sequence,
                    "matcher": r.matcher,
                    "frame": r.frame,
                    "all": r.all.to_dict(digits=METRIC_DIGITS),
                    "nonocc": None if r.nonocc is None else r.nonocc.to_dict(digits=METRIC_DIGITS),
                    "temporal": None if r.temporal is None else r.temporal.to_dict(digits=METRIC_DIGITS),
                }
                for r in self.results
            ],
            "mean": {
                m: {
                    "all_sequences": _rounded(self.mean(m)),
                    "per_sequence": {s["name"]: _rounded(self.mean(m, s["name"])) for s in self.sequences},
                }
                for m in self.matchers
            },
        }
        if timing and self.timed:
            out["timing"] = {
                "unit": "milliseconds per megapixel, warm, frame reading excluded",
                "mean_ms_per_mp": {m: round(self.ms_per_mp(m) or 0.0, 3) for m in self.matchers},
            }
        return out


class _Feed:
    """Frames for a matcher, read lazily; keeps each frame's truth until its result arrives."""

    def __init__(self, sequence: StereoSequence) -> None:
        self.sequence = sequence
        self.truth: dict[int, SequenceFrameTruth] = {}
        self.read_s = 0.0

    def __iter__(self) -> Iterator[FramePair]:
        for i in range(self.sequence.frame_count):
            t0 = time.perf_counter()
            f = self.sequence.read_frame(i)
            self.read_s += time.perf_counter() - t0
            self.truth[i] = f
            yield FramePair(index=i, timestamp_s=f.timestamp_s, left=f.left, right=f.right)


def _score_sequence(
    sequence: StereoSequence, name: str, matcher: Any, *, lo: float | None, hi: float | None, timing: bool
) -> Iterator[FrameResult]:
    feed = _Feed(sequence)
    results = matcher.match_frames(iter(feed), min_disparity=lo, max_disparity=hi)
    prev: tuple[SequenceFrameTruth, MatchResult, float | None] | None = None

    def finish(truth: SequenceFrameTruth, out: MatchResult, ms: float | None, nxt: MatchResult | None) -> FrameResult:
        gt = truth.gt_disparity_px
        noc = None
        if truth.nonocc is not None and bool((truth.nonocc & (gt == gt)).any()):
            noc = disparity_metrics(out.disparity_px, gt, mask=truth.nonocc)
        tem = None
        if nxt is not None and truth.flow_px is not None and truth.disparity_change_px is not None:
            tem = temporal_metrics(
                out.disparity_px,
                nxt.disparity_px,
                gt,
                truth.flow_px,
                truth.disparity_change_px,
                mask=truth.flow_visible,
            )
        return FrameResult(
            sequence=sequence.name,
            matcher=name,
            frame=truth.index,
            width=sequence.width,
            height=sequence.height,
            all=disparity_metrics(out.disparity_px, gt),
            nonocc=noc,
            temporal=tem,
            elapsed_ms=ms,
        )

    produced = 0
    while True:
        read_before = feed.read_s
        t0 = time.perf_counter()
        try:
            out = next(results)
        except StopIteration:
            break
        ms = ((time.perf_counter() - t0) - (feed.read_s - read_before)) * 1000.0 if timing else None
        truth = feed.truth.pop(produced, None)
        if truth is None:
            raise ParameterError(f"matcher {name} yielded a result for frame {produced} before reading it")
        if prev is not None:
            yield finish(*prev, out)
        prev = (truth, out, ms)
        produced += 1
    if produced != sequence.frame_count:
        raise ParameterError(
            f"matcher {name} yielded {produced} results for the {sequence.frame_count} frames of {sequence.name}; "
            "a temporal matcher must yield one per frame"
        )
    if prev is not None:
        yield finish(*prev, None)


def evaluate_sequences(
    sequences: Iterable[StereoSequence],
    matchers: Sequence[str | Matcher | TemporalMatcher],
    *,
    matcher_options: Mapping[str, Mapping[str, Any]] | None = None,
    timing: bool = True,
    use_scene_range: bool = True,
    dataset: str = "",
    on_result: Callable[[FrameResult], None] | None = None,
) -> SequenceReport:
    """Run every matcher over every frame of every sequence, in order, and score it.

    Parameters
    ----------
    sequences : iterable of StereoSequence
        Read lazily, one sequence (and within it one frame) at a time.
    matchers : sequence of str, Matcher or TemporalMatcher
        Names for :func:`parallax.stereo.disparity.get_matcher` (run frame by frame),
        per-frame matcher objects, or temporal matchers (``match_frames``).
    matcher_options : mapping, optional
        Matcher name -> constructor options (for names).
    timing : bool
        Measure warm time per frame (one untimed warm-up frame per matcher first).
    use_scene_range : bool
        Pass each sequence's search range (from its ground truth); ``False`` passes ``None``.
    dataset : str
        Label for the report.
    on_result : callable, optional
        Called with each :class:`FrameResult` as it is ready.

    Raises
    ------
    ParameterError
        For an empty or repeated matcher list, no sequence, or a temporal matcher
        that does not yield one result per frame.
    """
    names = [m.strip() if isinstance(m, str) else str(getattr(m, "name", "")) for m in matchers]
    if not names or any(not n for n in names):
        raise ParameterError(f"matchers {names!r}: give at least one matcher name, e.g. sgbm,default")
    if len(set(names)) != len(names):
        raise ParameterError(f"matchers {names!r} name one matcher twice; list each once")
    options = dict(matcher_options or {})
    built = {n: as_temporal_matcher(m, options.get(n)) for n, m in zip(names, matchers, strict=True)}
    results: list[FrameResult] = []
    info: list[dict[str, Any]] = []
    warmed = False
    for seq in sequences:
        lo, hi = (seq.min_disparity, seq.max_disparity) if use_scene_range else (None, None)
        if timing and not warmed:
            first = seq.read_frame(0)
            pair = FramePair(index=0, timestamp_s=first.timestamp_s, left=first.left, right=first.right)
            for m in built.values():
                for _ in m.match_frames(iter([pair]), min_disparity=lo, max_disparity=hi):
                    pass
            warmed = True
        info.append(
            {
                "name": seq.name,
                "layout": seq.dataset,
                "frames": seq.frame_count,
                "fps": seq.fps,
                "width": seq.width,
                "height": seq.height,
                "min_disparity": seq.min_disparity,
                "max_disparity": seq.max_disparity,
            }
        )
        for name, matcher in built.items():
            for result in _score_sequence(seq, name, matcher, lo=lo, hi=hi, timing=timing):
                results.append(result)
                if on_result is not None:
                    on_result(result)
    if not info:
        raise ParameterError("no sequence to evaluate; check --dataset and --scene")
    return SequenceReport(
        dataset=dataset,
        sequences=tuple(info),
        matchers=tuple(names),
        results=tuple(results),
        use_scene_range=use_scene_range,
        timed=timing,
    )
