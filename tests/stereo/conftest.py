"""Fixtures and helpers for the stereo tests.

``photometric_check`` is the issue's "the disparity explains the rectified pair"
measurement. ``sgbm_match`` is an OpenCV SGBM stand-in for
:func:`parallax.stereo.disparity.match`, used only while that module is absent.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import cv2
import numpy as np
import pytest

from parallax.stereo.features import match_features
from parallax.stereo.matchers.base import MatchResult


def sgbm_match(
    left: np.ndarray,
    right: np.ndarray,
    *,
    matcher: str = "default",
    min_disparity: float | None = None,
    max_disparity: float | None = None,
    **options: Any,
) -> MatchResult:
    """SGBM with a left-right check and background hole filling (test stand-in)."""
    if min_disparity is None or max_disparity is None:
        m = match_features(left, right)
        d = m.disparity_px
        lo, hi = np.percentile(d, [1, 99]) if len(d) >= 8 else (0.0, left.shape[1] / 8)
        margin = 0.15 * (hi - lo) + 4
        min_disparity = lo - margin if min_disparity is None else min_disparity
        max_disparity = hi + margin if max_disparity is None else max_disparity
    lo = int(np.floor(min_disparity))
    num = int(np.ceil((max_disparity - lo) / 16.0)) * 16
    gl = cv2.cvtColor(left, cv2.COLOR_RGB2GRAY)
    gr = cv2.cvtColor(right, cv2.COLOR_RGB2GRAY)
    sgbm = cv2.StereoSGBM_create(
        minDisparity=lo, numDisparities=num, blockSize=5, P1=8 * 25, P2=32 * 25, uniquenessRatio=5,
        disp12MaxDiff=1, speckleWindowSize=100, speckleRange=2, mode=cv2.STEREO_SGBM_MODE_SGBM_3WAY,
    )
    raw = sgbm.compute(gl, gr).astype(np.float32) / 16.0
    disp = np.where(raw >= lo, raw, np.nan).astype(np.float32)
    conf = np.isfinite(disp).astype(np.float32)
    # fill holes with the farther (smaller) of the nearest valid neighbours on the row
    filled = disp.copy()
    for row in filled:
        ok = np.isfinite(row)
        if ok.sum() < 2:
            continue
        idx = np.arange(row.size)
        left_idx = np.maximum.accumulate(np.where(ok, idx, 0))
        right_idx = np.minimum.accumulate(np.where(ok, idx, row.size - 1)[::-1])[::-1]
        a = np.where(ok[left_idx], row[left_idx], np.nan)
        b = np.where(ok[right_idx], row[right_idx], np.nan)
        row[~ok] = np.fmin(a, b)[~ok]
    return MatchResult(disparity_px=filled, confidence=conf * 0.9, min_disparity=lo, max_disparity=lo + num,
                       settings={"matcher": "sgbm-test-stand-in"})


@pytest.fixture()
def pipeline_matcher(monkeypatch: pytest.MonkeyPatch) -> str:
    """Use the real matcher when :mod:`parallax.stereo.disparity` exists, else the SGBM stand-in."""
    if importlib.util.find_spec("parallax.stereo.disparity") is not None:
        return "parallax"
    import parallax.stereo.pipeline as pipeline

    def run(left, right, *, matcher="default", min_disparity=None, max_disparity=None, options=None):
        return sgbm_match(left, right, min_disparity=min_disparity, max_disparity=max_disparity)

    monkeypatch.setattr(pipeline, "run_matcher", run)
    return "sgbm"


def photometric_check(left: np.ndarray, right: np.ndarray, disparity: np.ndarray) -> dict[str, float]:
    """How well ``disparity`` explains a rectified pair.

    Returns the share of left pixels with a value, the mean absolute RGB error
    of the right view warped into the left (``x - d``) over those pixels, and the
    same error for the best single global horizontal shift (searched over the
    integer range of the disparities).
    """
    h, w = disparity.shape
    valid = np.isfinite(disparity)
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    lf = left.astype(np.float32)
    d = np.where(valid, disparity, 0).astype(np.float32)
    warped = cv2.remap(right, xs - d, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    err_d = float(np.abs(lf - warped).mean(axis=2)[valid].mean())
    lo, hi = np.floor(np.nanpercentile(disparity, 0.5)), np.ceil(np.nanpercentile(disparity, 99.5))
    best = np.inf
    for s in range(int(lo), int(hi) + 1):
        shifted = cv2.remap(right, xs - s, ys, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        best = min(best, float(np.abs(lf - shifted).mean(axis=2)[valid].mean()))
    return {"coverage": float(valid.mean()), "error": err_d, "shift_error": best, "ratio": err_d / best}



@pytest.fixture()
def photometric():
    """The :func:`photometric_check` measurement, as a fixture (test modules cannot import conftest)."""
    return photometric_check


@pytest.fixture(scope="session")
def scenes(stereo_gt_dir):
    """``stereo-gt/scenes.json`` as a dict of scene name -> description."""
    import json

    return json.loads((stereo_gt_dir / "scenes.json").read_text())["scenes"]
