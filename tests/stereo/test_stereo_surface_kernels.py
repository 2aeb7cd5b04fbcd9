"""The compiled steps of the plain-surface module against their array definitions, on seeded random maps."""

from __future__ import annotations

import numpy as np
import pytest

from parallax.stereo import surface_kernels as k
from parallax.stereo.texture import _bounded


@pytest.fixture
def maps():
    rng = np.random.default_rng(7)
    h, w = 23, 31
    disp = rng.normal(20, 3, (h, w)).astype(np.float32)
    disp[rng.random((h, w)) < 0.15] = np.nan
    conf = rng.uniform(-0.2, 1.2, (h, w)).astype(np.float32)  # outside [0, 1] too: the kernels clip
    return {
        "disp": disp,
        "conf": conf,
        "measured": rng.random((h, w)) < 0.7,
        "plain": rng.random((h, w)) < 0.4,
        "near": rng.random((h, w)) < 0.5,
        "contrast": rng.uniform(0, 6, (h, w)).astype(np.float32),
        "num": rng.uniform(0, 20, (h, w)).astype(np.float32),
        "den": rng.uniform(0, 1, (h, w)).astype(np.float32),
        "mask": rng.random((h, w)) < 0.5,
    }


def test_support_and_propagation_follow_their_definitions(maps):
    d, c, meas, plain, near = maps["disp"], maps["conf"], maps["measured"], maps["plain"], maps["near"]
    h, w = d.shape
    out = {n: np.empty((h, w), bool) for n in ("reliable", "treated")}
    out.update({n: np.empty((h, w), np.float32) for n in ("weight", "values")})
    sh, sv = np.empty((h, w - 1), np.float32), np.empty((h - 1, w), np.float32)
    k.support(
        d,
        c,
        meas,
        plain,
        near,
        np.float32(0.5),
        np.float32(1.5),
        out["reliable"],
        out["treated"],
        out["weight"],
        out["values"],
        sh,
        sv,
        0,
        h,
    )
    m = meas & np.isfinite(d)
    np.testing.assert_array_equal(out["reliable"], m & ~plain)
    np.testing.assert_array_equal(out["treated"], (plain | near) & ~(m & ~plain))
    weight = np.where(m, np.clip(c, 0, 1), 0).astype(np.float32)
    np.testing.assert_array_equal(out["weight"], np.where(plain, weight * np.float32(0.5), weight))
    np.testing.assert_array_equal(out["values"], np.where(np.isfinite(d), d, 0))
    dm = np.where(m, d, np.nan)
    with np.errstate(invalid="ignore"):
        jh, jv = np.abs(dm[:, 1:] - dm[:, :-1]), np.abs(dm[1:] - dm[:-1])
        np.testing.assert_allclose(sh, np.where(np.isfinite(jh), np.exp(-jh / np.float32(1.5)), 1), rtol=1e-6)
        np.testing.assert_allclose(sv, np.where(np.isfinite(jv), np.exp(-jv / np.float32(1.5)), 1), rtol=1e-6)

    num, den, treated = maps["num"], maps["den"], maps["mask"]
    o, oc, un = np.empty((h, w), np.float32), np.empty((h, w), np.float32), np.empty((h, w), bool)
    k.propagated(d, c, num, den, treated, np.float32(0.3), np.float32(0.5), o, oc, un, 0, h)
    ok = den >= np.float32(0.3)
    np.testing.assert_array_equal(
        o, np.where(treated, np.where(ok, num / np.maximum(den, np.float32(1e-12)), np.nan), d)
    )
    np.testing.assert_array_equal(oc, np.where(treated, np.minimum(den, np.float32(0.5)), c))
    np.testing.assert_array_equal(un, treated & ~ok)


def test_denoise_steps_follow_their_definitions(maps):
    d, c, contrast, treated = maps["disp"], maps["conf"], maps["contrast"], maps["mask"]
    h, w = d.shape
    target, weight, values = np.empty((h, w), bool), np.empty((h, w), np.float32), np.empty((h, w), np.float32)
    k.denoise_inputs(d, c, contrast, np.float32(3.0), treated, target, weight, values, 0, h)
    finite = np.isfinite(d)
    np.testing.assert_array_equal(target, finite & (contrast < 3) & ~treated)
    np.testing.assert_array_equal(weight, np.where(finite, np.clip(c, 0, 1), 0))
    before = weight.copy()
    surface = values + np.float32(1.0)
    k.agreement(values, surface, target, np.float32(2.0), weight, 0, h)
    agree = np.exp(-(((values - surface) / np.float32(2.0)) ** 2))
    np.testing.assert_allclose(weight, np.where(target, before * agree, before), rtol=1e-6)
    out = np.empty((h, w), np.float32)
    k.denoised(d, maps["num"], maps["den"], target, np.float32(0.05), out, 0, h)
    take = target & (maps["den"] > np.float32(0.05))
    np.testing.assert_array_equal(out, np.where(take, maps["num"] / np.maximum(maps["den"], np.float32(1e-12)), d))


def test_rough_steps_and_finish_follow_their_definitions(maps):
    d, c, contrast = maps["disp"], maps["conf"], maps["contrast"]
    h, w = d.shape
    hi, lo = np.empty((h, w), np.float32), np.empty((h, w), np.float32)
    _bounded(d, hi, lo)
    finite = np.isfinite(d)
    np.testing.assert_array_equal(hi, np.where(finite, d, np.float32(-1e9)))
    np.testing.assert_array_equal(lo, np.where(finite, d, np.float32(1e9)))
    lo -= np.float32(2.0)  # some windows span more than 1 px
    seeds = np.empty((h, w), np.float32)
    n = k.rough_seeds(d, c, contrast, hi, lo, np.float32(2.0), np.float32(1.0), np.float32(0.5), seeds, 0, h)
    expected = (contrast < 2) & finite & (hi - lo > 1) & (c < 0.5)
    np.testing.assert_array_equal(seeds, expected.astype(np.float32))
    assert n == expected.sum() > 0
    regions = np.empty((h, w), np.uint8)
    density = maps["den"]
    k.rough_regions(d, contrast, density, np.float32(2.0), np.float32(0.3), regions, 0, h)
    np.testing.assert_array_equal(regions, ((density > np.float32(0.3)) & (contrast < 2) & finite).astype(np.uint8))
    rough = maps["mask"]
    out, oc = np.empty((h, w), np.float32), np.empty((h, w), np.float32)
    k.finish(d, c, rough, out, oc, 0, h)
    np.testing.assert_array_equal(out, np.where(rough, np.nan, d))
    np.testing.assert_array_equal(oc, np.where(np.isfinite(out), np.clip(c, 0, 1), 0))
