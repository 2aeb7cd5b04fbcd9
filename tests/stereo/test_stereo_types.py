"""DepthResult.valid: an explicit "use this pixel" mask, with depth and confidence kept consistent."""

from __future__ import annotations

import numpy as np
import pytest

from parallax.errors import ParameterError
from parallax.stereo.types import DepthResult


def _result(**kwargs):
    h, w = 4, 5
    base = {
        "image": np.zeros((h, w, 3), np.uint8),
        "right_image": None,
        "disparity_px": np.full((h, w), 3.0, np.float32),
        "confidence": np.full((h, w), 0.8, np.float32),
        "depth": np.full((h, w), 2.0, np.float32),
        "depth_is_metric": False,
    }
    base.update(kwargs)
    return DepthResult(**base)


def test_valid_defaults_to_finite_depth():
    depth = np.full((4, 5), 2.0, np.float32)
    depth[0, 0] = np.nan
    r = _result(depth=depth)
    assert r.valid.dtype == bool and not r.valid[0, 0] and r.valid.sum() == 19
    assert r.confidence[0, 0] == 0 and not r.valid.flags.writeable


def test_explicit_valid_clears_depth_and_confidence_outside_it():
    valid = np.ones((4, 5), bool)
    valid[1, :] = False  # e.g. clipped as too far: disparity kept, depth and confidence cleared
    r = _result(valid=valid, source="/home/ann/Holiday/x.mpo")
    assert np.isnan(r.depth[1]).all() and (r.confidence[1] == 0).all() and np.isfinite(r.disparity_px[1]).all()
    assert np.isnan(r.valid_disparity()[1]).all() and (r.valid_disparity()[0] == 3.0).all()
    assert r.source == "x.mpo"
    # valid never claims a pixel without depth
    depth = np.full((4, 5), 2.0, np.float32)
    depth[2, 2] = np.nan
    assert not _result(depth=depth, valid=np.ones((4, 5), bool)).valid[2, 2]


def test_valid_errors():
    with pytest.raises(ParameterError, match="valid"):
        _result(valid=np.ones((4, 4), bool))
    with pytest.raises(ParameterError, match="valid"):
        _result(valid=np.ones((4, 5), np.uint8))
    with pytest.raises(ParameterError, match="no disparity"):
        _result(disparity_px=None).valid_disparity()
