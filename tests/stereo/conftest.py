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
        into the left with ``cv2.remap`` at ``x - d`` (bilinear, black outside
        the right view), over every pixel with a value. ``shift_error``: the same for the best single global
        integer horizontal shift (searched over the 0.5-99.5 percentile range of
        the disparities), over the same pixels. ``ratio`` = error / shift_error.
    """
    h, w = disparity.shape
    valid = np.isfinite(disparity)
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    lf = left.astype(np.float32)
    d = np.where(valid, disparity, 0).astype(np.float32)
    inside = valid & (xs - d >= -0.5) & (xs - d <= w - 0.5)
    compared = valid
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


def independent_row_residual(left: np.ndarray, right: np.ndarray, max_side_px: int = 2400) -> tuple[float, float, int]:
    """Median and 90th percentile ``|dy|`` (pixels of the views) of matches *independent* of Parallax's own.

    SIFT with other settings than :mod:`parallax.stereo.features` (4 octave
    layers, contrast threshold 0.02, edge threshold 15, sigma 1.4, up to 8000
    features, on copies of at most ``max_side_px``), ratio test 0.8, RANSAC
    fundamental matrix at 3 px of the detection scale; no sub-pixel refinement.
    """
    h, w = left.shape[:2]
    s = min(1.0, max_side_px / max(h, w))

    def grey(img: np.ndarray) -> np.ndarray:
        g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        return cv2.resize(g, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA) if s < 1 else g

    sift = cv2.SIFT.create(nfeatures=8000, nOctaveLayers=4, contrastThreshold=0.02, edgeThreshold=15, sigma=1.4)
    kl, dl = sift.detectAndCompute(grey(left), None)
    kr, dr = sift.detectAndCompute(grey(right), None)
    pairs = [p for p in cv2.BFMatcher(cv2.NORM_L2).knnMatch(dl, dr, k=2) if len(p) == 2]
    good = [a for a, b in pairs if a.distance < 0.8 * b.distance]
    pl = (np.array([kl[g.queryIdx].pt for g in good]) + 0.5) / s - 0.5
    pr = (np.array([kr[g.trainIdx].pt for g in good]) + 0.5) / s - 0.5
    _, mask = cv2.findFundamentalMat(pl, pr, cv2.FM_RANSAC, 3.0 / s, 0.999, 10000)
    keep = mask.ravel().astype(bool)
    dy = np.abs(pr[keep, 1] - pl[keep, 1])
    return float(np.median(dy)), float(np.percentile(dy, 90)), int(keep.sum())


@pytest.fixture()
def independent_residual():
    """The :func:`independent_row_residual` measurement, as a fixture."""
    return independent_row_residual
