"""The numba kernels against plain reference implementations on tiny inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from parallax.errors import ParameterError
from parallax.stereo.matchers.cost import census_transform, cost_volume
from parallax.stereo.matchers.refine import MISMATCH, OCCLUDED, OUTSIDE, VALID, fill_occlusion_aware, winner_take_all
from parallax.stereo.matchers.sgm import aggregate_sgm, edge_penalties


def _census_ref(gray, rx, ry):
    h, w = gray.shape
    out = np.zeros((h, w), np.uint64)
    for y in range(h):
        for x in range(w):
            bits = 0
            for dy in range(-ry, ry + 1):
                for dx in range(-rx, rx + 1):
                    if dx == 0 and dy == 0:
                        continue
                    v = gray[min(max(y + dy, 0), h - 1), min(max(x + dx, 0), w - 1)]
                    bits = (bits << 1) | int(v < gray[y, x])
            out[y, x] = bits
    return out


def test_census_matches_reference():
    gray = np.random.default_rng(0).integers(0, 255, (9, 11)).astype(np.float32)
    np.testing.assert_array_equal(census_transform(gray, 4, 3), _census_ref(gray, 4, 3))
    np.testing.assert_array_equal(census_transform(gray, 1, 2), _census_ref(gray, 1, 2))
    with pytest.raises(ParameterError, match="64 bits"):
        census_transform(gray, 5, 4)
    tall = np.random.default_rng(1).integers(0, 255, (40, 13)).astype(np.float32)
    for threads in (1, 2, 3):  # row bands give the same strings
        np.testing.assert_array_equal(census_transform(tall, 4, 3, threads=threads), _census_ref(tall, 4, 3))
    # a uint8 image takes the byte-wise path: the same strings, ties and every window size included
    flat = tall.astype(np.uint8)
    flat[10:20] = 7
    for rx, ry in ((4, 3), (1, 2), (3, 3), (0, 1)):
        for threads in (1, 2):
            got = census_transform(flat, rx, ry, threads=threads)
            np.testing.assert_array_equal(got, _census_ref(flat.astype(np.float32), rx, ry))


def test_cost_volume_matches_reference():
    rng = np.random.default_rng(1)
    left = rng.integers(0, 255, (6, 20, 3)).astype(np.uint8)
    right = rng.integers(0, 255, (6, 20, 3)).astype(np.uint8)
    cl = census_transform(left.mean(axis=2).astype(np.float32))
    cr = census_transform(right.mean(axis=2).astype(np.float32))
    dmin, nd = -3, 9
    cost = cost_volume(
        cl, cr, left, right, dmin, nd, census_weight=2.0, ad_weight=0.5, ad_truncation=20.0, border_cost=40
    )
    assert cost.shape == (6, 20, 16) and cost.dtype == np.uint8
    assert np.all(cost[:, :, nd:] == 255)
    for y, x, k in [(0, 0, 0), (3, 10, 4), (5, 19, 8), (2, 1, 6), (4, 18, 0)]:
        xr = x - dmin - k
        if not 0 <= xr < 20:
            assert cost[y, x, k] == 40
            continue
        ham = bin(int(cl[y, x]) ^ int(cr[y, xr])).count("1")
        ad = np.minimum(np.abs(left[y, x].astype(float) - right[y, xr]), 20.0).mean()
        assert cost[y, x, k] == min(255, math.floor(2.0 * ham + 0.5 * ad + 0.5))


def test_cost_volume_over_per_pixel_bands():
    rng = np.random.default_rng(6)
    left = rng.integers(0, 255, (5, 24, 3)).astype(np.uint8)
    right = rng.integers(0, 255, (5, 24, 3)).astype(np.uint8)
    cl = census_transform(left.mean(axis=2).astype(np.float32))
    cr = census_transform(right.mean(axis=2).astype(np.float32))
    full = cost_volume(cl, cr, left, right, -4, 30, census_weight=2.0, ad_weight=0.5, border_cost=40, pad_to=1)
    offsets = rng.integers(-6, 26, (5, 24)).astype(np.int32)
    band = cost_volume(
        cl, cr, left, right, -4, 30, census_weight=2.0, ad_weight=0.5, border_cost=40, offsets=offsets, labels=8
    )
    assert band.shape == (5, 24, 8)
    for y in range(5):
        for x in range(24):
            for k in range(8):
                d = offsets[y, x] + k
                expect = full[y, x, d + 4] if -4 <= d <= 25 else 255  # outside the range: never wins
                assert band[y, x, k] == expect, (y, x, k)
    with pytest.raises(ParameterError, match="offsets"):
        cost_volume(cl, cr, left, right, -4, 30, offsets=offsets[:-1], labels=8)


def test_winner_take_all_over_bands_matches_the_full_volume():
    rng = np.random.default_rng(7)
    full = rng.integers(0, 500, (4, 30, 24)).astype(np.uint16)
    offsets = np.full((4, 30), 0, np.int32)
    offsets[:, 10:] = 8  # labels 8..23 only, holding the same costs
    band = np.stack([full[y, x, offsets[y, x] : offsets[y, x] + 16] for y in range(4) for x in range(30)]).reshape(
        4, 30, 16
    )
    fd, fs, _ = winner_take_all(np.ascontiguousarray(full[:, :10, :16]), 0)
    bd, bs, bu = winner_take_all(band, 0, num_disparities=24, offsets=offsets)
    np.testing.assert_array_equal(bd[:, :10], fd)  # the constant part is the ordinary winner search
    winners = np.where(offsets == 0, full[:, :, :16].argmin(axis=2), 8 + full[:, :, 8:].argmin(axis=2))
    np.testing.assert_array_equal(np.floor(bd + 0.5).astype(int), winners)
    assert np.all((bu >= 0) & (bu <= 1))
    assert set(np.unique(bs)) <= {VALID, OCCLUDED, MISMATCH, OUTSIDE}
    with pytest.raises(ParameterError, match="offsets"):
        winner_take_all(band, 0, offsets=offsets[:, :-1])


_EIGHT = [(0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1)]
_FOUR = [(0, 1), (1, 0), (0, -1), (-1, 0)]


def _sgm_ref(cost, guide, p1, p2, gamma, offsets=None, dirs=_EIGHT):
    """Plain SGM over the paths ``dirs``, one path at a time, straight from the recurrence; label ``k`` of
    pixel ``p`` is disparity ``offsets[p] + k`` (a neighbour without that disparity
    counts as infinite there)."""
    h, w, nd = cost.shape
    off = np.zeros((h, w), int) if offsets is None else offsets
    c = cost.astype(np.float64)
    total = np.zeros((h, w, nd))
    for dy, dx in dirs:
        lr = np.zeros((h, w, nd))
        ys = range(h) if dy >= 0 else range(h - 1, -1, -1)
        xs = list(range(w)) if dx >= 0 else list(range(w - 1, -1, -1))
        for y in ys:
            for x in xs:
                py, px = y - dy, x - dx
                if not (0 <= py < h and 0 <= px < w):
                    lr[y, x] = c[y, x]
                    continue
                shift = off[y, x] - off[py, px]  # this pixel's label k is the neighbour's k + shift
                prev = np.full(nd + 2, np.inf)  # the neighbour's values at labels -1 .. nd
                for j in range(-1, nd + 1):
                    if 0 <= j + shift < nd:
                        prev[j + 1] = lr[py, px, j + shift]
                pen2 = p2 if gamma <= 0 else max(p1, math.floor(p2 / (1 + abs(guide[y, x] - guide[py, px]) / gamma)))
                m = lr[py, px].min()
                for k in range(nd):
                    best = min(prev[k + 1], m + pen2, prev[k] + p1, prev[k + 2] + p1)
                    lr[y, x, k] = c[y, x, k] + best - m
        total += lr
    return total


@pytest.mark.parametrize("gamma", [0.0, 10.0])
@pytest.mark.parametrize("threads", [1, 2])
def test_sgm_matches_the_recurrence(gamma, threads):
    rng = np.random.default_rng(2)
    cost = rng.integers(0, 60, (5, 7, 16)).astype(np.uint8)
    guide = rng.integers(0, 255, (5, 7)).astype(np.float32)
    got = aggregate_sgm(cost, guide, p1=8, p2=40, p2_gamma=gamma, threads=threads)
    assert got.dtype == np.uint16
    np.testing.assert_array_equal(got, _sgm_ref(cost, guide, 8, 40, gamma))
    four = aggregate_sgm(cost, guide, p1=8, p2=40, p2_gamma=gamma, paths=4, threads=threads)
    np.testing.assert_array_equal(four, _sgm_ref(cost, guide, 8, 40, gamma, dirs=_FOUR))
    with pytest.raises(ParameterError, match="paths"):
        aggregate_sgm(cost, guide, p1=8, p2=40, paths=6)


@pytest.mark.parametrize("threads", [1, 2])
def test_sgm_over_per_pixel_bands_matches_the_recurrence(threads):
    rng = np.random.default_rng(5)
    cost = rng.integers(0, 60, (6, 8, 8)).astype(np.uint8)
    guide = rng.integers(0, 255, (6, 8)).astype(np.float32)
    offsets = rng.integers(-3, 12, (6, 8)).astype(np.int32)  # jumps beyond the band width too
    got = aggregate_sgm(cost, guide, p1=8, p2=40, p2_gamma=10.0, offsets=offsets, threads=threads)
    np.testing.assert_array_equal(got, _sgm_ref(cost, guide, 8, 40, 10.0, offsets))
    four = aggregate_sgm(cost, guide, p1=8, p2=40, p2_gamma=10.0, offsets=offsets, paths=4, threads=threads)
    np.testing.assert_array_equal(four, _sgm_ref(cost, guide, 8, 40, 10.0, offsets, dirs=_FOUR))
    # a constant band is the ordinary volume
    flat = aggregate_sgm(cost, guide, p1=8, p2=40, offsets=np.full((6, 8), 7, np.int32))
    np.testing.assert_array_equal(flat, aggregate_sgm(cost, guide, p1=8, p2=40))
    with pytest.raises(ParameterError, match="offsets"):
        aggregate_sgm(cost, guide, p1=8, p2=40, offsets=offsets[:, :-1])


def test_edge_penalties_follow_the_formula_on_every_edge():
    rng = np.random.default_rng(8)
    guide = rng.integers(0, 255, (6, 9)).astype(np.float32)
    pen = edge_penalties(guide, 8, 480, 10.0)
    assert pen.shape == (4, 6, 9) and pen.dtype == np.int16

    def p2(a: float, b: float) -> int:
        return max(8, math.floor(480 / (1 + abs(a - b) / 10.0)))

    for y in range(6):
        for x in range(9):
            if x + 1 < 9:
                assert pen[0, y, x] == p2(guide[y, x], guide[y, x + 1])
            if y + 1 < 6:
                assert pen[1, y, x] == p2(guide[y, x], guide[y + 1, x])
            if x + 1 < 9 and y + 1 < 6:
                assert pen[2, y, x] == p2(guide[y, x], guide[y + 1, x + 1])
                assert pen[3, y, x] == p2(guide[y, x + 1], guide[y + 1, x])
    # a difference of exactly gamma halves P2 exactly (no approximate division)
    two = np.array([[100.0, 110.0]], np.float32)
    assert edge_penalties(two, 8, 480, 10.0)[0, 0, 0] == 240
    assert np.all(edge_penalties(guide, 8, 480, 0.0) == 480)
    # non-integer guides: the float32 formula (numpy's IEEE arithmetic), for any number of threads
    smooth = (rng.random((40, 9)) * 255).astype(np.float32)
    g, one, gam = smooth, np.float32(1.0), np.float32(3.3)

    def formula(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.maximum(np.floor(np.float32(480) / (one + np.abs(a - b) / gam)), np.float32(8)).astype(np.int16)

    for threads in (1, 2, 3):
        pen = edge_penalties(smooth, 8, 480, 3.3, threads=threads)
        np.testing.assert_array_equal(pen[0, :, :-1], formula(g[:, :-1], g[:, 1:]))
        np.testing.assert_array_equal(pen[1, :-1], formula(g[:-1], g[1:]))
        np.testing.assert_array_equal(pen[2, :-1, :-1], formula(g[:-1, :-1], g[1:, 1:]))
        np.testing.assert_array_equal(pen[3, :-1, :-1], formula(g[:-1, 1:], g[1:, :-1]))
        assert np.all(pen[0, :, -1] == 480) and np.all(pen[1, -1] == 480)  # past the border


@pytest.mark.parametrize("labels", [1, 7, 24, 41])
def test_sgm_matches_the_recurrence_for_every_label_width(labels):
    # the kernel runs labels in 16- and 8-lane vectors, then one by one
    rng = np.random.default_rng(labels)
    cost = rng.integers(0, 90, (4, 6, labels)).astype(np.uint8)
    guide = rng.integers(0, 255, (4, 6)).astype(np.float32)
    got = aggregate_sgm(cost, guide, p1=7, p2=50, p2_gamma=10.0, threads=2)
    np.testing.assert_array_equal(got, _sgm_ref(cost, guide, 7, 50, 10.0))
    offsets = rng.integers(0, 5, (4, 6)).astype(np.int32)
    got = aggregate_sgm(cost, guide, p1=7, p2=50, p2_gamma=10.0, offsets=offsets, paths=4)
    np.testing.assert_array_equal(got, _sgm_ref(cost, guide, 7, 50, 10.0, offsets, dirs=_FOUR))


def test_sgm_pads_odd_disparity_counts_and_checks_penalties():
    rng = np.random.default_rng(3)
    cost = rng.integers(0, 60, (4, 5, 11)).astype(np.uint8)
    guide = np.zeros((4, 5), np.float32)
    got = aggregate_sgm(cost, guide, p1=5, p2=30)
    assert got.shape == (4, 5, 11)
    np.testing.assert_array_equal(got, _sgm_ref(cost, guide, 5, 30, 0.0))
    with pytest.raises(ParameterError, match="penalties"):
        aggregate_sgm(cost, guide, p1=30, p2=5)
    with pytest.raises(ParameterError, match="penalties"):
        aggregate_sgm(cost, guide, p1=5, p2=9000)


def _wta_ref(agg, dlo, nd, offsets, lr_tol, uniqueness):
    """Winner-take-all straight from its definition, one pixel at a time."""
    h, w, nl = agg.shape
    dhi = dlo + nd - 1
    disp = np.zeros((h, w), np.float32)
    state = np.zeros((h, w), np.uint8)
    unique = np.zeros((h, w), np.float32)
    for y in range(h):
        right = {}  # x_right -> (cost, d): the smallest cost, ties to the smaller d
        best = {}
        for x in range(w):
            d0 = int(offsets[y, x])
            ks = [k for k in range(nl) if dlo <= d0 + k <= dhi]
            if not ks:
                disp[y, x] = min(max(d0, dlo), dhi)
                best[x] = None
                continue
            costs = [int(agg[y, x, k]) for k in ks]
            bv = min(costs)
            bk = ks[costs.index(bv)]
            best[x] = d0 + bk
            others = [int(agg[y, x, k]) for k in ks if abs(k - bk) > 1]
            sv = min(others) if others else None
            unique[y, x] = np.float32(sv - bv) / np.float32(sv) if sv else np.float32(1.0)
            for k in ks:
                xr, d, c = x - d0 - k, d0 + k, int(agg[y, x, k])
                if 0 <= xr < w and (xr not in right or (c, d) < right[xr]):
                    right[xr] = (c, d)
            off = np.float32(0.0)
            if ks[0] < bk < ks[-1]:
                a, c = np.float32(agg[y, x, bk - 1]), np.float32(agg[y, x, bk + 1])
                den = a + c - np.float32(2.0) * np.float32(bv)
                if den > 0:
                    off = np.float32(0.5) * (a - c) / den
            disp[y, x] = d0 + bk + off
        for x in range(w):
            if best[x] is None:
                state[y, x] = MISMATCH
            elif not 0 <= x - best[x] < w:
                state[y, x] = OUTSIDE
            elif uniqueness > 0 and unique[y, x] < uniqueness:
                state[y, x] = MISMATCH
            elif abs(right[x - best[x]][1] - best[x]) > lr_tol:
                state[y, x] = OCCLUDED if right[x - best[x]][1] > best[x] else MISMATCH
    return disp, state, unique


@pytest.mark.parametrize("labels", [1, 5, 8, 13, 16, 21, 40])
def test_winner_take_all_matches_its_definition(labels):
    # every label count the SIMD kernel splits differently (16- and 8-lane vectors, single
    # labels, an overlapping last vector), with many ties (few distinct costs)
    rng = np.random.default_rng(labels)
    for top in (4, 300, 16000):
        agg = rng.integers(0, top, (3, 30, labels)).astype(np.uint16)
        for dlo, nd, tol, uniq in ((-4, labels, 1, 0.0), (2, max(1, labels - 3), 0, 0.2)):
            offsets = np.full((3, 30), dlo, np.int32)
            got = winner_take_all(agg, dlo, num_disparities=nd, lr_tolerance=tol, uniqueness=uniq)
            for a, b in zip(got, _wta_ref(agg, dlo, nd, offsets, tol, uniq), strict=True):
                np.testing.assert_array_equal(a, b)
        offsets = rng.integers(-6, 6, (3, 30)).astype(np.int32)  # per-pixel bands, partly outside the range
        got = winner_take_all(agg, -3, num_disparities=labels + 2, offsets=offsets)
        for a, b in zip(got, _wta_ref(agg, -3, labels + 2, offsets, 1, 0.0), strict=True):
            np.testing.assert_array_equal(a, b)


def test_winner_take_all_states_and_subpixel():
    # one row, 6 pixels, 4 disparities d = 1 + k
    agg = np.full((1, 6, 4), 100, np.uint16)
    agg[0, 0, :] = [50, 10, 30, 60]  # winner d=2 -> x_r = -2: outside the right view
    agg[0, 3, :] = [90, 20, 20, 90]  # tie: the smaller k wins, the parabola moves it half way
    agg[0, 4, :] = [90, 40, 10, 40]  # winner d=3, symmetric: offset 0
    agg[0, 5, :] = [90, 30, 10, 20]  # winner d=3, offset toward k=3
    disp, state, unique = winner_take_all(agg, 1)
    assert state[0, 0] == OUTSIDE
    assert disp[0, 3] == pytest.approx(2.5)
    assert disp[0, 4] == pytest.approx(3.0)
    assert disp[0, 5] == pytest.approx(3 + 0.5 * (30 - 20) / (30 + 20 - 20))
    assert 0 <= unique.min() and unique.max() <= 1
    assert set(np.unique(state)) <= {VALID, OCCLUDED, MISMATCH, OUTSIDE}
    with pytest.raises(ParameterError, match="uint16"):
        winner_take_all(agg.astype(np.float32), 0)


def test_fill_uses_background_for_occlusions_and_median_for_mismatches():
    disp = np.array([[5, 5, 0, 20, 20], [5, 5, 0, 20, 20], [5, 5, 0, 20, 20]], np.float32)
    state = np.zeros(disp.shape, np.uint8)
    state[:, 2] = OCCLUDED
    out = fill_occlusion_aware(disp, state)
    assert np.all(out[:, 2] == 5)  # background side
    state[:, 2] = MISMATCH
    out = fill_occlusion_aware(disp, state)
    assert np.all((out[:, 2] == 5) | (out[:, 2] == 20))
    assert np.all(out[:, [0, 1, 3, 4]] == disp[:, [0, 1, 3, 4]])


def _fill_ref(disp, state, image, sigma):
    """Plain-Python colour-guided fill (16 directions, outside pixels continued inward)."""
    from parallax.stereo.matchers.refine import _DIRS

    h, w = disp.shape
    out = disp.copy()
    for y in range(h):
        for x in range(w):
            st = state[y, x]
            if st == VALID:
                continue
            if st == OUTSIDE:
                step = 1 if x - disp[y, x] < 0 else -1
                xs = [xx for xx in range(x + step, w if step == 1 else -1, step) if state[y, xx] == VALID]
                if xs:
                    out[y, x] = disp[y, xs[0]]
                    continue
            cands = []
            for dy, dx in _DIRS:
                yy, xx = y + dy, x + dx
                while 0 <= yy < h and 0 <= xx < w and state[yy, xx] != VALID:
                    yy, xx = yy + dy, xx + dx
                if 0 <= yy < h and 0 <= xx < w:
                    dc = np.abs(image[yy, xx].astype(np.float64) - image[y, x]).sum()
                    cands.append((disp[yy, xx], math.exp(-dc / (3 * sigma))))
            if not cands:
                out[y, x] = np.nan
                continue
            cands.sort(key=lambda c: c[0])  # stable, as the kernel's insertion sort
            if st != MISMATCH:
                out[y, x] = cands[min(1, len(cands) - 1)][0]
                continue
            total, acc = sum(c[1] for c in cands), 0.0
            for value, weight in cands:
                acc += weight
                if acc >= 0.5 * total - 1e-6 * total:
                    out[y, x] = value
                    break
    return out


def test_colour_guided_fill_matches_reference_and_follows_colour_edges():
    rng = np.random.default_rng(3)
    disp = rng.uniform(-5, 30, (12, 15)).astype(np.float32)
    state = rng.choice([VALID, OCCLUDED, MISMATCH, OUTSIDE], size=disp.shape, p=[0.55, 0.15, 0.2, 0.1]).astype(np.uint8)
    image = rng.integers(0, 255, (12, 15, 3)).astype(np.uint8)
    out = fill_occlusion_aware(disp, state, image=image, sigma_color=20.0)
    np.testing.assert_allclose(out, _fill_ref(disp, state, image, 20.0), rtol=0, atol=0)
    # a mismatched pixel on a dark object takes the dark object's disparity, not the majority's
    disp = np.full((9, 9), 4.0, np.float32)
    disp[:, 4] = 25.0  # a thin dark object in column 4; the mismatch in column 3 is dark too
    image = np.full((9, 9, 3), 200, np.uint8)
    image[:, 3:5] = 10
    state = np.zeros(disp.shape, np.uint8)
    state[:, 3] = MISMATCH
    assert np.all(fill_occlusion_aware(disp, state)[:, 3] == 4.0)  # plain median: the majority
    assert np.all(fill_occlusion_aware(disp, state, image=image, sigma_color=5.0)[:, 3] == 25.0)
    with pytest.raises(ParameterError, match="sigma_color"):
        fill_occlusion_aware(disp, state, sigma_color=5.0)


@pytest.mark.parametrize("threads", [2, 3, 7])
def test_row_split_threads_give_identical_kernels(threads):
    rng = np.random.default_rng(4)
    left = rng.integers(0, 255, (40, 30, 3)).astype(np.uint8)
    right = rng.integers(0, 255, (40, 30, 3)).astype(np.uint8)
    cl = census_transform(left[:, :, 0].astype(np.float32))
    cr = census_transform(right[:, :, 0].astype(np.float32))
    one = cost_volume(cl, cr, left, right, -2, 12, census_weight=2.0, ad_weight=0.5, border_cost=30, threads=1)
    many = cost_volume(cl, cr, left, right, -2, 12, census_weight=2.0, ad_weight=0.5, border_cost=30, threads=threads)
    np.testing.assert_array_equal(one, many)
    guide = left[:, :, 1].astype(np.float32)
    agg = aggregate_sgm(one, guide, p1=8, p2=60)
    np.testing.assert_array_equal(agg, aggregate_sgm(one, guide, p1=8, p2=60, threads=threads))
    for a, b in zip(winner_take_all(agg, -2, threads=1), winner_take_all(agg, -2, threads=threads), strict=True):
        np.testing.assert_array_equal(a, b)
    disp, state, _ = winner_take_all(agg, -2, threads=1)
    np.testing.assert_array_equal(
        fill_occlusion_aware(disp, state, image=left, sigma_color=5.0, threads=1),
        fill_occlusion_aware(disp, state, image=left, sigma_color=5.0, threads=threads),
    )


def test_thread_helpers_split_rows_into_bands():
    from parallax.stereo.matchers.threads import available_cores, resolve_threads, run_rows

    assert available_cores() >= 1
    assert resolve_threads(None) == resolve_threads(0) == available_cores() and resolve_threads(3) == 3
    seen: list[tuple[int, int]] = []
    run_rows(lambda y0, y1: seen.append((y0, y1)), 50, 4)
    assert sorted(seen) == [(0, 12), (12, 25), (25, 37), (37, 50)]
    seen.clear()
    run_rows(lambda y0, y1: seen.append((y0, y1)), 10, 4)  # too few rows to split
    assert seen == [(0, 10)]


def test_workspace_reuses_and_releases_buffers():
    from parallax.stereo.matchers import workspace

    a = workspace.scratch("t", (4, 5), np.uint16)
    b = workspace.scratch("t", (2, 3), np.uint8)
    assert a.shape == (4, 5) and b.shape == (2, 3) and np.shares_memory(a, b)
    workspace.release()
    c = workspace.scratch("t", (4, 5), np.uint16)
    assert not np.shares_memory(a, c)


def test_run_jobs_keeps_order_and_finishes_beside_a_busy_pool():
    import threading

    from parallax.stereo.matchers.threads import run_jobs, start_job

    release = threading.Event()
    # every worker busy with a job that waits: run_jobs' caller must do all the work itself
    blockers = [start_job(lambda: release.wait(30)) for _ in range(4)]
    try:
        assert run_jobs([lambda i=i: i * i for i in range(7)]) == [i * i for i in range(7)]
    finally:
        release.set()
    assert all(b.result() for b in blockers)
    # jobs may start jobs
    assert run_jobs([lambda: run_jobs([lambda: 1, lambda: 2]), lambda: [3]]) == [[1, 2], [3]]


def test_run_jobs_raises_the_first_failing_jobs_error_after_the_others_stop():
    from parallax.stereo.matchers.threads import run_jobs

    def boom(n: int) -> int:
        raise ValueError(f"job {n}")

    with pytest.raises(ValueError, match="job 1"):
        run_jobs([lambda: 0, lambda: boom(1), lambda: boom(2)])
    with pytest.raises(KeyError):
        run_jobs([lambda: {}["missing"], lambda: 5])
