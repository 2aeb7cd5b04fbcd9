"""The int16 SIMD intrinsics against numpy, for every vector width the kernels use."""

from __future__ import annotations

import numba as nb
import numpy as np
import pytest

from parallax.stereo.matchers.simd import (
    vadd,
    vfirst_eq,
    vhmin,
    vhminu,
    viota,
    vlanes,
    vload,
    vmin,
    vminu,
    vpointer,
    vselect_ltu,
    vsplat,
    vstore,
    vsub,
    vzero,
)


@nb.njit
def _lane_ops(lanes_like, a, b, out, x):
    """Every element-wise operation on ``a[:lanes]`` and ``b[:lanes]`` (int16), stored in rows of ``out``."""
    va, vb = vload(a, 0, lanes_like), vload(b, 0, lanes_like)
    vstore(out[0], 0, vadd(va, vb))
    vstore(out[1], 0, vsub(va, vb))
    vstore(out[2], 0, vmin(va, vb))
    vstore(out[3], 0, vminu(va, vb))
    vstore(out[4], 0, vselect_ltu(va, vb, vsplat(x, va), viota(va)))
    vstore(out[5], 0, vsplat(x, va))
    return vhmin(va), vhminu(va), vlanes(va), vfirst_eq(va, x)


def _width(lanes):
    return {1: _ones, 8: _eights, 16: _sixteens}[lanes]


@nb.njit
def _ones(a, b, out, x):
    return _lane_ops(vzero(1), a, b, out, x)


@nb.njit
def _eights(a, b, out, x):
    return _lane_ops(vzero(8), a, b, out, x)


@nb.njit
def _sixteens(a, b, out, x):
    return _lane_ops(vzero(16), a, b, out, x)


@pytest.mark.parametrize("lanes", [1, 8, 16])
def test_lane_operations_match_numpy(lanes):
    rng = np.random.default_rng(lanes)
    a = rng.integers(-32768, 32768, lanes).astype(np.int16)
    b = rng.integers(-32768, 32768, lanes).astype(np.int16)
    b[0] = a[0]  # an equal pair
    out = np.zeros((6, lanes), np.int16)
    x = int(a[lanes // 2])
    hmin, hminu, width, first = _width(lanes)(a, b, out, x)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(out[0], a + b)  # wrapping, as int16 arithmetic
        np.testing.assert_array_equal(out[1], a - b)
    np.testing.assert_array_equal(out[2], np.minimum(a, b))
    ua, ub = a.view(np.uint16), b.view(np.uint16)
    np.testing.assert_array_equal(out[3].view(np.uint16), np.minimum(ua, ub))
    np.testing.assert_array_equal(out[4], np.where(ua < ub, np.int16(x), np.arange(lanes, dtype=np.int16)))
    np.testing.assert_array_equal(out[5], np.full(lanes, x, np.int16))
    assert hmin == a.min() and hminu == ua.min() and width == lanes
    assert first == int(np.flatnonzero(a == x)[0])


@nb.njit
def _absent(a):
    return vfirst_eq(vload(a, 0, vzero(16)), 7)


def test_first_equal_lane_is_the_width_when_absent():
    a = np.arange(16, dtype=np.int16) * 2  # even numbers only
    assert _absent(a) == 16
    a[3] = a[9] = 7
    assert _absent(a) == 3


@nb.njit
def _widen_and_point(small, big, out):
    v = vload(small, 2, vzero(8))  # uint8 widened to 16 bits
    w = vload(vpointer(big), 1, vzero(8))  # a raw pointer reads the same memory
    vstore(vpointer(out), 0, vadd(v, w))


def test_loads_widen_uint8_and_read_through_pointers():
    small = np.arange(250, 240, -1, dtype=np.uint8)
    big = np.arange(100, 110, dtype=np.uint16) * 300
    out = np.zeros(8, np.uint16)
    _widen_and_point(small, big, out)
    np.testing.assert_array_equal(out, small[2:10].astype(np.uint16) + big[1:9])


@nb.njit
def _three_lanes():
    return vhmin(vzero(3))


def test_lane_counts_must_be_powers_of_two():
    with pytest.raises(nb.core.errors.TypingError):
        _three_lanes()
