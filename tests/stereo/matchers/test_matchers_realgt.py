"""On real ground truth (Middlebury, read in place): the default matcher, finding
its own range, beats OpenCV SGBM with hole fill given the true range (bad-2.0)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from parallax.stereo.disparity import match

# scene -> (divisor of the 8-bit ground-truth PNG)
SCENES = {"middlebury2001-tsukuba": 16.0, "middlebury2003-cones": 4.0}


def _load(stereo_gt_dir, name):
    meta = json.loads((stereo_gt_dir / "scenes.json").read_text())["scenes"][name]
    folder = stereo_gt_dir / name
    left = np.array(Image.open(folder / meta["left"]).convert("RGB"))
    right = np.array(Image.open(folder / meta["right"]).convert("RGB"))
    gt = np.array(Image.open(folder / meta["gt"]).convert("L")).astype(np.float32) / SCENES[name]
    gt[gt == 0] = np.nan  # 0 = no ground truth
    return left, right, gt


def _bad2(disp, gt):
    valid = np.isfinite(gt)
    err = np.abs(disp[valid] - gt[valid])
    return float(np.mean(~(err <= 2.0)))  # a pixel without a value (NaN) counts as wrong


@pytest.mark.parametrize("name", sorted(SCENES))
def test_default_beats_sgbm_with_fill_on_real_ground_truth(stereo_gt_dir, name):
    left, right, gt = _load(stereo_gt_dir, name)
    ours = match(left, right)  # finds its own range
    assert np.isfinite(ours.disparity_px).mean() > 0.99
    assert ours.min_disparity <= np.nanpercentile(gt, 1) and ours.max_disparity >= np.nanpercentile(gt, 99)
    sgbm = match(left, right, matcher="sgbm", min_disparity=float(np.nanmin(gt)), max_disparity=float(np.nanmax(gt)))
    bad_ours, bad_sgbm = _bad2(ours.disparity_px, gt), _bad2(sgbm.disparity_px, gt)
    assert bad_ours < 0.9 * bad_sgbm, f"{name}: default bad-2 {bad_ours:.4f} vs sgbm {bad_sgbm:.4f}"
    # the confidence ranks errors: confident pixels are right more often
    valid = np.isfinite(gt)
    wrong = np.abs(ours.disparity_px - gt) > 2
    assert ours.confidence[valid & wrong].mean() < ours.confidence[valid & ~wrong].mean()
