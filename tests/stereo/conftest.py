"""Fixtures and helpers for the stereo tests.

``photometric_check`` is the issue's "the disparity explains the rectified pair"
measurement.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest


def photometric_check(left: np.ndarray, right: np.ndarray, disparity: np.ndarray) -> dict[str, float]:
    """How well ``disparity`` explains a rectified pair.

    Returns
    -------
    dict
        ``coverage``: share of left pixels with a value (finite disparity).
        ``inside``: share of left pixels with a value whose match ``x - d``
        lies inside the right view (informational).
        ``error``: mean absolute RGB error (0..255) of the right view warped
        into the left with ``cv2.remap`` at ``x - d`` (bilinear), over every
        pixel with a value whose match lies inside the right view (pixels seen
        by the left camera only have an extrapolated value that no image can check). ``shift_error``: the same for the best single global
        integer horizontal shift (searched over the 0.5-99.5 percentile range of
        the disparities), over the same pixels. ``ratio`` = error / shift_error.
    """
    h, w = disparity.shape
    valid = np.isfinite(disparity)
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    lf = left.astype(np.float32)
    d = np.where(valid, disparity, 0).astype(np.float32)
    inside = valid & (xs - d >= -0.5) & (xs - d <= w - 0.5)
    compared = inside
    warped = cv2.remap(right, xs - d, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT).astype(np.float32)
    err_d = float(np.abs(lf - warped).mean(axis=2)[compared].mean())
    lo, hi = np.floor(np.nanpercentile(disparity, 0.5)), np.ceil(np.nanpercentile(disparity, 99.5))
    best = np.inf
    for s in range(int(lo), int(hi) + 1):
        shifted = cv2.remap(right, xs - s, ys, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT).astype(np.float32)
        best = min(best, float(np.abs(lf - shifted).mean(axis=2)[compared].mean()))
    return {
        "coverage": float(valid.mean()),
        "inside": float(inside.mean()),
        "error": err_d,
        "shift_error": best,
        "ratio": err_d / best,
    }


@pytest.fixture()
def photometric():
    """The :func:`photometric_check` measurement, as a fixture (test modules cannot import conftest)."""
    return photometric_check


@pytest.fixture(scope="session")
def scenes(stereo_gt_dir):
    """``stereo-gt/scenes.json`` as a dict of scene name -> description."""
    import json

    return json.loads((stereo_gt_dir / "scenes.json").read_text())["scenes"]
