"""The fast global smoother against a dense solve of its row and column systems."""

from __future__ import annotations

import numpy as np
import pytest

from parallax.stereo.smoothing import edge_weights, smooth_guided


def _solve_lines_ref(f: np.ndarray, w: np.ndarray, lam: float) -> np.ndarray:
    """Solve ``(I + lam * L_w) u = f`` along axis 0 of ``f`` (``N x M``), each column densely."""
    n = f.shape[0]
    out = np.empty_like(f, dtype=np.float64)
    for x in range(f.shape[1]):
        a = np.eye(n)
        for i in range(n - 1):
            c = lam * float(w[i, x])
            a[i, i] += c
            a[i + 1, i + 1] += c
            a[i, i + 1] -= c
            a[i + 1, i] -= c
        out[:, x] = np.linalg.solve(a, f[:, x].astype(np.float64))
    return out


@pytest.mark.parametrize("shape", [(12, 300), (300, 12), (9, 9)])
def test_smoother_solves_the_row_then_column_systems(shape):
    # one round (lambda / 2 for iterations=1): rows, then columns; wider than a strip of lines
    rng = np.random.default_rng(4)
    image = rng.integers(0, 255, (*shape, 3)).astype(np.uint8)
    values = rng.normal(0.0, 1.0, shape)
    lam = 30.0
    wh, wv = edge_weights(image, 8.0)
    expected = _solve_lines_ref(values.T, wh.T, lam / 2).T  # rows
    expected = _solve_lines_ref(expected, wv, lam / 2)  # then columns
    for threads in (1, 2, 3):
        out = smooth_guided([values, 2 * values], image, lam=lam, sigma_color=8.0, iterations=1, threads=threads)
        np.testing.assert_allclose(out[0], expected, atol=1e-4)
        np.testing.assert_allclose(out[1], 2 * expected, atol=2e-4)


def test_edge_weights_are_thread_independent():
    image = np.random.default_rng(5).integers(0, 255, (45, 31, 3)).astype(np.uint8)
    one = edge_weights(image, 8.0)
    for threads in (2, 3):
        for a, b in zip(one, edge_weights(image, 8.0, threads=threads), strict=True):
            np.testing.assert_array_equal(a, b)
