"""Temporal metrics (TEPE) and the sequence evaluation, on seeded synthetic sequences with known motion."""

from __future__ import annotations

import math

import numpy as np
import pytest

from parallax.bench.metrics import sample_bilinear, temporal_metrics
from parallax.bench.sequence import SequenceFrameTruth, StereoSequence
from parallax.bench.temporal import PerFrameMatcher, evaluate_sequences
from parallax.errors import ParameterError
from parallax.stereo.matchers.base import MatchResult

H, W = 40, 64
SHIFT = 2  # the scene slides this many pixels left per frame: flow = (-SHIFT, 0)


def _sequence(frames: int = 4, name: str = "plane") -> StereoSequence:
    """A textured fronto-parallel plane coming nearer: disparity 4 + t px, image sliding left by SHIFT px a frame.

    Frame t: ``left_t(x) = T(x + SHIFT t)``, ``right_t(x) = left_t(x + d_t)`` (``x_right = x_left - d``).
    The point at left pixel x is at x - SHIFT in frame t + 1, with disparity one pixel larger.
    """
    rng = np.random.default_rng(5)
    texture = rng.integers(0, 256, (H, W + 64, 3), dtype=np.uint8)

    def read(t: int) -> SequenceFrameTruth:
        d = 4 + t
        left = np.ascontiguousarray(texture[:, SHIFT * t : SHIFT * t + W])
        right = np.ascontiguousarray(texture[:, SHIFT * t + d : SHIFT * t + d + W])
        gt = np.full((H, W), float(d), np.float32)
        gt[:, :d] = np.nan  # x - d falls outside the right view
        flow = np.zeros((H, W, 2), np.float32)
        flow[..., 0] = -SHIFT
        last = t == frames - 1
        return SequenceFrameTruth(
            index=t,
            timestamp_s=t / 10.0,
            left=left,
            right=right,
            gt_disparity_px=gt,
            nonocc=np.isfinite(gt),
            flow_px=np.full((H, W, 2), np.nan, np.float32) if last else flow,
            flow_visible=np.zeros((H, W), bool) if last else np.ones((H, W), bool),
            disparity_change_px=np.full((H, W), np.nan if last else 1.0, np.float32),
        )

    return StereoSequence(
        name=name,
        frame_count=frames,
        width=W,
        height=H,
        fps=10.0,
        min_disparity=0.0,
        max_disparity=16.0,
        dataset="test",
        source="memory",
        read_frame=read,
    )


def test_tepe_follows_the_flow_and_sees_flicker():
    gt0 = np.full((H, W), 4.0, np.float32)
    gt1 = np.full((H, W), 5.0, np.float32)
    flow = np.zeros((H, W, 2), np.float32)
    flow[..., 0] = -2.5
    change = np.ones((H, W), np.float32)
    exact = temporal_metrics(gt0, gt1, gt0, flow, change)
    assert exact.tepe_px == 0.0 and exact.n_pixels == H * (W - 3)  # x - 2.5 must stay inside the frame
    flicker = temporal_metrics(gt0, gt1 + 0.5, gt0, flow, change)
    assert flicker.tepe_px == pytest.approx(0.5) and flicker.tepe_rms_px == pytest.approx(0.5)
    static = temporal_metrics(gt0, gt0, gt0, flow, change)  # a matcher that does not see the plane come nearer
    assert static.tepe_px == pytest.approx(1.0)
    # the next prediction is read where the flow points: a disparity ramp moving with the image
    ramp0 = (10 + 0.1 * np.arange(W))[None, :].repeat(H, 0).astype(np.float32)
    ramp1 = (
        ramp0 + 0.25
    )  # the point at x is at x - 2.5 in t+1, where the ramp reads ramp0(x) - 0.25 + 0.25 ... + change
    ramp1 = (10 + 0.1 * (np.arange(W) + 2.5) + 1.0)[None, :].repeat(H, 0).astype(np.float32)
    assert temporal_metrics(ramp0, ramp1, ramp0, flow, change).tepe_px == pytest.approx(0.0, abs=1e-5)
    mask = np.zeros((H, W), bool)
    assert temporal_metrics(gt0, gt1, gt0, flow, change, mask=mask) is None
    with pytest.raises(ParameterError, match="shape"):
        temporal_metrics(gt0, gt1, gt0, flow[..., 0], change)
    with pytest.raises(ParameterError, match="bool array"):
        temporal_metrics(gt0, gt1, gt0, flow, change, mask=mask.astype(np.uint8))


def test_bilinear_sampling_is_exact_on_planes_and_nan_outside():
    yy, xx = np.mgrid[0:5, 0:7].astype(np.float64)
    plane = 2.0 + 0.5 * xx - 0.25 * yy
    x = np.array([0.0, 3.3, 6.0, 6.01, -0.1, 2.5])
    y = np.array([0.0, 1.7, 4.0, 1.0, 1.0, np.nan])
    out = sample_bilinear(plane, x, y)
    assert np.allclose(out[:3], 2.0 + 0.5 * x[:3] - 0.25 * y[:3])
    assert np.isnan(out[3:]).all()
    holed = plane.copy()
    holed[2, 3] = np.nan
    assert math.isnan(sample_bilinear(holed, np.array([3.5]), np.array([2.5]))[0])


class _Truthful:
    """A temporal matcher that knows the plane: d_t = 4 + t, optionally flickering by +-0.5 px."""

    def __init__(self, name: str, flicker: float) -> None:
        self.name, self.flicker = name, flicker

    def match_frames(self, frames, *, min_disparity=None, max_disparity=None):
        for f in frames:
            d = np.full((H, W), 4.0 + f.index + (self.flicker if f.index % 2 else -self.flicker), np.float32)
            yield MatchResult(disparity_px=d, confidence=np.ones((H, W), np.float32), min_disparity=0, max_disparity=16)


def test_sequence_evaluation_scores_every_frame_in_order():
    seen: list[tuple[str, int]] = []
    report = evaluate_sequences(
        [_sequence(4, "a"), _sequence(3, "b")],
        ["sgbm", _Truthful("steady", 0.0), _Truthful("flicker", 0.5)],
        timing=False,
        on_result=lambda r: seen.append((r.matcher, r.frame)),
    )
    assert report.matchers == ("sgbm", "steady", "flicker")
    assert [s["frames"] for s in report.sequences] == [4, 3]
    assert len(report.results) == 3 * (4 + 3) and seen[:4] == [("sgbm", 0), ("sgbm", 1), ("sgbm", 2), ("sgbm", 3)]
    for r in report.results:  # the last frame of a sequence has no next frame
        last = r.frame == (3 if r.sequence == "a" else 2)
        assert (r.temporal is None) == last
    steady, flicker, sgbm = report.mean("steady"), report.mean("flicker"), report.mean("sgbm")
    assert steady["tepe_px"] == 0.0 and steady["bad_2_pct"] == 0.0 and steady["frame_pairs"] == 5
    assert flicker["tepe_px"] == pytest.approx(1.0)  # +-0.5 px flicker: the change is off by 1 px
    assert flicker["bad_2_pct"] == 0.0  # ... while every frame on its own is within 0.5 px
    assert sgbm["bad_2_pct"] < 5.0 and sgbm["tepe_px"] < 0.5  # a textured plane is easy for SGBM
    d = report.to_dict(timing=False)
    assert d["kind"] == "sequences" and "timing" not in d
    assert d["mean"]["flicker"]["per_sequence"]["b"]["tepe_px"] == pytest.approx(1.0)


def test_timing_and_matcher_errors():
    report = evaluate_sequences([_sequence(2)], [PerFrameMatcher(_FixedMatcher())], timing=True)
    assert report.timed and report.ms_per_mp("fixed") >= 0 and "timing" in report.to_dict()

    class Short:
        name = "short"

        def match_frames(self, frames, *, min_disparity=None, max_disparity=None):
            for f in list(frames)[:-1]:
                yield _FixedMatcher().match(f.left, f.right)

    with pytest.raises(ParameterError, match="one per frame"):
        evaluate_sequences([_sequence(3)], [Short()], timing=False)
    with pytest.raises(ParameterError, match="twice"):
        evaluate_sequences([_sequence(2)], ["sgbm", "sgbm"], timing=False)
    with pytest.raises(ParameterError, match="no sequence"):
        evaluate_sequences([], ["sgbm"], timing=False)

    class Nameless:
        name = "nameless"

    with pytest.raises(ParameterError, match="neither"):
        evaluate_sequences([_sequence(2)], [Nameless()], timing=False)


class _FixedMatcher:
    name = "fixed"

    def match(self, left, right, *, min_disparity=None, max_disparity=None):
        d = np.full(left.shape[:2], 5.0, np.float32)
        return MatchResult(disparity_px=d, confidence=np.ones_like(d), min_disparity=0, max_disparity=16)
