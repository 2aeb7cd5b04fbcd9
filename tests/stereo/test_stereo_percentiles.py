"""Radix-selected percentiles and medians against numpy's, on seeded maps with ties, gaps and non-finite values."""

from __future__ import annotations

import numpy as np
import pytest

from parallax.errors import ParameterError
from parallax.stereo.percentiles import median, percentile


def _maps():
    rng = np.random.default_rng(11)
    for n in (1, 2, 3, 8, 101, 2000, 30001):
        yield rng.random(n).astype(np.float32)  # one binade: many values share a bin
        yield rng.integers(-4, 5, n).astype(np.float32)  # ties, zeros, negatives
        yield np.exp(rng.standard_normal(n) * 6).astype(np.float32)  # many binades
        holes = (rng.standard_normal(n) * 100).astype(np.float32)
        holes[rng.random(n) < 0.3] = np.nan
        holes[rng.random(n) < 0.05] = np.inf
        holes[rng.random(n) < 0.05] = -np.inf
        yield holes


@pytest.mark.parametrize("masked", [False, True])
def test_percentiles_and_medians_equal_numpys(masked):
    rng = np.random.default_rng(3)
    checked = 0
    for values in _maps():
        where = rng.random(values.shape) < 0.6 if masked else None
        chosen = values[np.isfinite(values) & (where if masked else True)]
        if chosen.size == 0:
            continue
        for q in (0.0, 1.0, 37.3, 50.0, 95.0, 99.0, 100.0):
            got, want = percentile(values, q, where=where), np.percentile(chosen, q)
            assert type(got) is type(want) and got == want
        got, want = percentile(values, [1.0, 99.0], where=where), np.percentile(chosen, [1.0, 99.0])
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
        got, want = median(values, where=where), np.median(chosen)
        assert type(got) is type(want) and got == want
        checked += 1
    assert checked >= 25


def test_maps_of_any_shape_and_errors():
    values = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert median(values) == np.float32(5.5)
    assert percentile(values, 100.0, where=values < 7) == np.float32(6.0)
    with pytest.raises(ParameterError, match="no finite values"):
        median(np.full(4, np.nan, np.float32))
    with pytest.raises(ParameterError, match="no finite values"):
        percentile(values, 50.0, where=np.zeros(values.shape, bool))
    with pytest.raises(ParameterError, match="one per value"):
        median(values, where=np.ones(5, bool))
    with pytest.raises(ParameterError, match=r"\[0, 100\]"):
        percentile(values, 101.0)
