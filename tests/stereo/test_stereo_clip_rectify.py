"""Per-clip rectification: pooled fit, held-out check, drift (parallax.stereo.clip_rectify)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from parallax.capture.clip import FrameSelection
from parallax.errors import ParameterError
from parallax.stereo.clip_rectify import (
    DRIFT_THRESHOLD_PX,
    estimate_clip_rectification,
    expected_frame_count,
    frame_residual,
    rectify_frame,
    sample_positions,
)


def _rotation_homography(width: int, height: int, roll_deg: float, pitch_deg: float) -> np.ndarray:
    f = 1.1 * width
    k = np.array([[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1.0]])
    r = cv2.Rodrigues(np.radians([pitch_deg, 0.0, roll_deg]))[0]
    return k @ r @ np.linalg.inv(k)


def _misaligned_folder(src, dst, h_of_frame):
    """Copy a frame folder, warping each right view by ``h_of_frame(i)`` (a rig out of alignment)."""
    (dst / "left").mkdir(parents=True)
    (dst / "right").mkdir(parents=True)
    for i, path in enumerate(sorted((src / "left").glob("*.png"))):
        left = cv2.imread(str(path))
        right = cv2.imread(str(src / "right" / path.name))
        h, w = right.shape[:2]
        cv2.imwrite(str(dst / "left" / path.name), left)
        cv2.imwrite(str(dst / "right" / path.name), cv2.warpPerspective(right, h_of_frame(i), (w, h)))
    return dst


def test_sample_positions_spread_and_held_out():
    fit, check = sample_positions(100, 5, 3)
    assert fit == [10, 30, 50, 70, 90]
    assert len(check) == 3 and not set(check) & set(fit)
    assert check == sorted(check) and check[0] < 35 < check[1] < 70 < check[2]
    fit, check = sample_positions(4, 5, 3)  # shorter than fit + check: check frames repeat fit frames
    assert set(fit) <= set(range(4)) and set(check) <= set(range(4))


def test_expected_frame_count_follows_the_selection(still_clip, open_synthetic):
    clip = open_synthetic(still_clip)
    assert expected_frame_count(clip, FrameSelection()) == 8
    assert expected_frame_count(clip, FrameSelection(step=3)) == 3
    assert expected_frame_count(clip, FrameSelection(start_s=2 / 30, end_s=6 / 30)) == 4
    assert expected_frame_count(clip, FrameSelection(max_frames=2)) == 2
    assert len(list(clip.frames(start_s=2 / 30, end_s=6 / 30))) == 4


def test_misaligned_rig_is_rectified_and_checked_on_held_out_frames(still_clip, tmp_path, open_synthetic):
    w, h = still_clip.camera.width, still_clip.camera.height
    bad = _rotation_homography(w, h, roll_deg=0.6, pitch_deg=0.4)
    folder = _misaligned_folder(still_clip.folder, tmp_path / "rig", lambda i: bad)
    from parallax.capture.clip_registry import read_clip

    clip = read_clip(folder, fps=30)
    result = estimate_clip_rectification(clip, fit_frames=4, check_frames=3)
    rect = result.rectification
    assert rect.method == "uncalibrated"
    assert rect.vertical_error_before_px > 1.0
    assert result.held_out and len(result.check_frames) == 3
    assert all(r is not None and r < 0.5 for r in result.residual_px), result.residual_px
    assert not result.drift
    first = next(iter(clip.frames()))
    left, right = rectify_frame(rect, first.left, first.right)
    assert left.shape == (rect.height, rect.width, 3) == right.shape
    doc = result.to_dict()
    assert doc["max_residual_px"] == max(result.residual_px) and doc["drift"] is False


def test_a_rig_that_moves_during_the_clip_reports_drift(still_clip, tmp_path):
    shift = np.array([[1, 0, 0], [0, 1, 4.0], [0, 0, 1]])
    folder = _misaligned_folder(still_clip.folder, tmp_path / "knocked", lambda i: shift if i >= 4 else np.eye(3))
    from parallax.capture.clip_registry import read_clip

    result = estimate_clip_rectification(read_clip(folder, fps=30), fit_frames=3, check_frames=4)
    assert result.drift
    assert result.max_residual_px > DRIFT_THRESHOLD_PX
    assert min(r for r in result.residual_px if r is not None) < 1.0  # frames of the fitted geometry still fit


def test_rectified_clip_needs_nothing(bidavideo_clip):
    result = estimate_clip_rectification(bidavideo_clip, fit_frames=3, check_frames=2)
    assert result.rectification.method == "none"
    assert result.held_out
    assert all(r is not None and r < 0.5 for r in result.residual_px)
    assert not result.drift


def test_frame_residual_sees_a_vertical_offset(still_clip, open_synthetic):
    from parallax.stereo.types import Rectification

    frame = next(iter(open_synthetic(still_clip).frames()))
    w, h = still_clip.camera.width, still_clip.camera.height
    ident = Rectification.identity(w, h)
    assert frame_residual(ident, frame.left, frame.right) < 0.5
    moved = Rectification(
        method="uncalibrated",
        H_left=np.eye(3),
        H_right=np.array([[1, 0, 0], [0, 1, 2.5], [0, 0, 1.0]]),
        width=w,
        height=h,
    )
    assert math.isclose(frame_residual(moved, frame.left, frame.right), 2.5, abs_tol=0.5)


@pytest.mark.parametrize(
    ("kwargs", "word"), [({"fit_frames": 0}, "fit_frames"), ({"check_frames": -1}, "check_frames")]
)
def test_bad_counts_are_refused(still_clip, open_synthetic, kwargs, word):
    with pytest.raises(ParameterError, match=word):
        estimate_clip_rectification(open_synthetic(still_clip), **kwargs)


def test_an_empty_selection_is_one_clear_error(still_clip, open_synthetic):
    from parallax.errors import InputFileError

    with pytest.raises(InputFileError, match="no frame"):
        estimate_clip_rectification(open_synthetic(still_clip), start_s=100.0)
