"""Matcher registry and the public entry points of parallax.stereo.disparity."""

from __future__ import annotations

import numpy as np
import pytest

from parallax.errors import ParameterError
from parallax.stereo.disparity import estimate_disparity, match
from parallax.stereo.matchers import Matcher, MatchResult
from parallax.stereo.matchers.registry import MATCHERS, get_matcher, matcher_names


def test_registry_names_and_aliases():
    assert {"default", "parallax", "sgbm", "sgbm-raw"} <= set(matcher_names())
    assert MATCHERS["default"] == MATCHERS["parallax"]
    for name in ("default", "parallax", "sgbm", "sgbm-raw"):
        m = get_matcher(name)
        assert isinstance(m, Matcher)
    assert get_matcher("sgbm-raw").name == "sgbm-raw"
    assert get_matcher("default", p2=500).settings.p2 == 500


def test_registry_errors_name_the_choices():
    with pytest.raises(ParameterError, match="unknown matcher 'nope'.*sgbm"):
        get_matcher("nope")
    with pytest.raises(ParameterError, match="cannot be built"):
        get_matcher("sgbm-raw", fill=True)
    with pytest.raises(ParameterError, match="does not take"):
        get_matcher("default", windows=3)


def test_match_returns_a_checked_result(fg_bg_pair):
    left, right, _ = fg_bg_pair
    result = match(left, right, matcher="parallax", min_disparity=0, max_disparity=32)
    assert isinstance(result, MatchResult)
    assert (result.min_disparity, result.max_disparity) == (0.0, 32.0)
    assert not result.disparity_px.flags.writeable
    disp = estimate_disparity(left, right, 0, 32)
    np.testing.assert_array_equal(disp, result.disparity_px)
    assert disp.flags.writeable  # a fresh array for the caller
