"""Sparse corner tracks between two views: known shifts recovered, the kept result, error paths."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from parallax.capture import read_capture
from parallax.capture.tracks import forget_tracks, track_points, tracks_cover
from parallax.errors import ParameterError


@pytest.fixture(scope="module")
def motorcycle_left(stereo_gt_dir):
    folder = stereo_gt_dir / "middlebury2014-motorcycle-q"
    return read_capture(folder / "motorcycle_left.png", folder / "motorcycle_right.png", eyes="left-right").left


def _shifted(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``image`` moved by ``(dx, dy)`` pixels (content at x lands at x + dx)."""
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(image, m, image.shape[1::-1], flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


@pytest.mark.parametrize("dx,dy", [(-12.25, 0.0), (5.5, 0.75)])
def test_a_known_shift_is_recovered_to_a_tenth_of_a_pixel(motorcycle_left, dx, dy):
    forget_tracks()
    moved = _shifted(motorcycle_left, dx, dy)
    first, second = track_points(motorcycle_left, moved)
    assert len(first) >= 100 and first.shape == second.shape == (len(first), 2)
    inside = (first[:, 0] > 20) & (first[:, 0] < motorcycle_left.shape[1] - 20)
    shift = second[inside] - first[inside]
    assert np.median(shift[:, 0]) == pytest.approx(dx, abs=0.1)
    assert np.median(shift[:, 1]) == pytest.approx(dy, abs=0.1)
    assert tracks_cover(first, motorcycle_left.shape[1], motorcycle_left.shape[0]) >= 0.75


def test_downscaled_tracking_reports_full_resolution_pixels(motorcycle_left):
    moved = _shifted(motorcycle_left, -8.0, 0.0)
    first, second = track_points(motorcycle_left, moved, max_side_px=370)  # half size
    assert first[:, 0].max() > 0.9 * motorcycle_left.shape[1]
    assert np.median(second[:, 0] - first[:, 0]) == pytest.approx(-8.0, abs=0.25)


def test_the_last_result_is_kept_by_content_and_handed_out_as_copies(motorcycle_left):
    forget_tracks()
    moved = _shifted(motorcycle_left, 3.0, 0.0)
    a1, b1 = track_points(motorcycle_left, moved)
    a1[:] = -1.0  # the caller's copy, not the kept one
    a2, b2 = track_points(motorcycle_left.copy(), moved.copy())  # same content, other arrays
    assert np.all(a2 >= 0) and np.array_equal(b1, b2)
    forget_tracks()
    a3, _ = track_points(motorcycle_left, moved)
    np.testing.assert_array_equal(a2, a3)  # recomputed after forgetting: the same (deterministic)
    other = _shifted(motorcycle_left, 4.0, 0.0)
    a4, b4 = track_points(motorcycle_left, other)  # other content: tracked anew, not the kept result
    assert np.median(b4[:, 0] - a4[:, 0]) == pytest.approx(4.0, abs=0.1)


def test_a_plain_view_has_no_tracks_and_bad_input_is_refused():
    flat = np.full((60, 80, 3), 128, np.uint8)
    first, second = track_points(flat, flat)
    assert first.shape == second.shape == (0, 2)
    assert tracks_cover(first, 80, 60) == 0.0
    with pytest.raises(ParameterError, match="one size"):
        track_points(flat, flat[:50])
    with pytest.raises(ParameterError, match="uint8"):
        track_points(flat.astype(np.float32), flat)


def test_cover_counts_grid_cells():
    pts = np.array([[1.0, 1.0], [99.0, 99.0], [2.0, 3.0]])
    assert tracks_cover(pts, 100, 100) == pytest.approx(2 / 16)
    assert tracks_cover(pts, 100, 100, cells=1) == 1.0
