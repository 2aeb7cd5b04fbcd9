"""Lens distortion: the division model, its estimation from a seeded synthetic pair, and the row correction."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from parallax.capture import read_capture
from parallax.errors import ParameterError
from parallax.stereo.distortion import LensDistortion
from parallax.stereo.rectify import rectify
from parallax.stereo.residual import measure_row_residual
from parallax.stereo.row_correction import RowCorrection, fit_row_correction
from parallax.stereo.types import Rectification

SCENE = "middlebury2014-motorcycle-q"


def test_division_model_round_trips_and_composes_with_resizing():
    lens = LensDistortion.for_image(-0.3, 800, 600, centre_px=(410.0, 290.0))
    pts = np.random.default_rng(0).uniform([0, 0], [799, 599], (500, 2))
    und = lens.undistort_points(pts)
    assert np.allclose(lens.distort_points(und), pts, atol=1e-9)
    # barrel: undistortion moves points away from the centre, the centre stays put
    r_d = np.hypot(pts[:, 0] - 410, pts[:, 1] - 290)
    r_u = np.hypot(und[:, 0] - 410, und[:, 1] - 290)
    assert np.all(r_u >= r_d - 1e-9)
    assert np.allclose(lens.undistort_points(np.array([[410.0, 290.0]])), [[410.0, 290.0]])
    # resizing by (sx, sy) with pixel centres: undistort'(A p) = A undistort(p)
    sx, sy = 0.5, 0.5
    small = lens.transformed(sx, sy, 0.5 * sx - 0.5, 0.5 * sy - 0.5)
    a = np.c_[pts[:, 0] * sx + 0.5 * sx - 0.5, pts[:, 1] * sy + 0.5 * sy - 0.5]
    expect = np.c_[und[:, 0] * sx + 0.5 * sx - 0.5, und[:, 1] * sy + 0.5 * sy - 0.5]
    assert np.allclose(small.undistort_points(a), expect, atol=1e-9)
    assert LensDistortion.from_dict(lens.to_dict()) == lens


def test_division_model_rejects_bad_values():
    with pytest.raises(ParameterError, match="scale"):
        LensDistortion(k1=0.1, centre_x_px=0, centre_y_px=0, scale_x_px=0, scale_y_px=1)
    with pytest.raises(ParameterError, match="k1"):
        LensDistortion(k1=float("nan"), centre_x_px=0, centre_y_px=0, scale_x_px=1, scale_y_px=1)
    with pytest.raises(ParameterError, match="model"):
        LensDistortion(k1=0.1, centre_x_px=0, centre_y_px=0, scale_x_px=1, scale_y_px=1, model="fisheye")


@pytest.fixture(scope="module")
def motorcycle(stereo_gt_dir):
    folder = stereo_gt_dir / SCENE
    capture = read_capture(folder / "motorcycle_left.png", folder / "motorcycle_right.png", eyes="left-right")
    return capture.left, capture.right


def _distort_pair(left: np.ndarray, right: np.ndarray, k1: float) -> tuple[np.ndarray, np.ndarray, LensDistortion]:
    """Both views seen through one barrel lens (division model ``k1``); the right one also rolled 0.4 deg, 2 px down."""
    h, w = left.shape[:2]
    lens = LensDistortion.for_image(k1, w, h)
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    source = lens.undistort_points(np.stack([xs, ys], axis=-1)).astype(np.float32)
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), 0.4, 1.0)
    m[1, 2] += 2.0
    moved = cv2.warpAffine(right, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)

    def through_lens(img: np.ndarray) -> np.ndarray:
        return cv2.remap(img, source[..., 0], source[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)

    return through_lens(left), through_lens(moved), lens


@pytest.mark.parametrize("k1", [-0.25, -0.15])
def test_division_coefficient_is_recovered_from_the_matches(motorcycle, k1):
    left, right, lens = _distort_pair(*motorcycle, k1)
    pair = rectify(left, right, correct_rows=False)
    rect = pair.rectification
    assert rect.model == "rotation+division"
    assert rect.distortion_left is not None and rect.distortion_left == rect.distortion_right
    assert rect.distortion_left.k1 == pytest.approx(k1, abs=0.05)
    # checked anew on the rectified views
    assert rect.rectified and rect.residual_median_px < 0.5 and rect.residual_p90_px < 0.75
    fresh = measure_row_residual(pair.left, pair.right)
    assert fresh.median_px < 0.5
    # the mapping goes both ways: original -> rectified -> original
    pts = np.random.default_rng(1).uniform([50, 50], [left.shape[1] - 50, left.shape[0] - 50], (200, 2))
    for view in ("left", "right"):
        back = rect.to_original(rect.to_rectified(pts, view), view)
        assert np.allclose(back, pts, atol=1e-6)
    assert lens.k1 == k1


def test_a_given_lens_model_is_used(motorcycle):
    left, right, lens = _distort_pair(*motorcycle, -0.25)
    pair = rectify(left, right, distortion=lens, correct_rows=False)
    rect = pair.rectification
    assert rect.distortion_left == lens and rect.model == "rotation+lens"
    assert rect.rectified and rect.residual_median_px < 0.5
    with pytest.raises(ParameterError, match="LensDistortion"):
        rectify(left, right, distortion=-0.25)


def test_row_correction_fits_a_smooth_field_and_inverts():
    rng = np.random.default_rng(2)
    w, h = 640, 480
    x, y = rng.uniform(0, w - 1, 4000), rng.uniform(0, h - 1, 4000)

    def field(x, y):
        return 3.0 * np.sin(x / w * np.pi) * (y / h - 0.5) + 0.5

    offset = field(x, y) + rng.normal(0, 0.1, x.size)
    offset[:200] += 25.0  # outliers
    rows = fit_row_correction(x, y, offset, width=w, height=h, cells=(12, 9))
    xt, yt = rng.uniform(0, w - 1, 500), rng.uniform(0, h - 1, 500)
    assert np.median(np.abs(rows.offset(xt, yt) - field(xt, yt))) < 0.1
    pts = np.c_[xt, yt]
    assert np.allclose(rows.before(rows.after(pts)), pts, atol=1e-3)
    shifted = rows.shifted(-10.0, -5.0)  # the frame cropped by 10 columns and 5 rows
    assert np.allclose(shifted.offset(xt - 10, yt - 5), rows.offset(xt, yt))
    assert RowCorrection.from_dict(rows.to_dict()).offset(xt, yt) == pytest.approx(rows.offset(xt, yt))
    with pytest.raises(ParameterError, match="grid"):
        RowCorrection(values_px=np.zeros((1, 3)), span_x_px=1, span_y_px=1)


def test_rectification_with_lens_and_rows_round_trips_through_json():
    lens = LensDistortion.for_image(-0.2, 320, 240)
    rows = RowCorrection(values_px=np.arange(12.0).reshape(3, 4) / 10, span_x_px=299, span_y_px=219, origin_x_px=3)
    rect = Rectification(
        method="uncalibrated",
        H_left=np.eye(3),
        H_right=np.array([[1.0, 0.01, 2.0], [0.0, 1.0, -1.0], [0.0, 0.0, 1.0]]),
        width=300,
        height=220,
        distortion_left=lens,
        distortion_right=lens,
        row_correction_right=rows,
        principal_shift_px=(-3.0, -2.0),
        rectified=False,
        reason="rows do not match",
        residual_median_px=1.4,
        residual_p90_px=3.0,
        model="rotation+division+rows",
    )
    back = Rectification.from_dict(rect.to_dict())
    pts = np.array([[10.0, 20.0], [160.0, 120.0], [300.0, 200.0]])
    for view in ("left", "right"):
        assert np.allclose(back.to_rectified(pts, view), rect.to_rectified(pts, view))
        assert np.allclose(rect.to_original(rect.to_rectified(pts, view), view), pts, atol=1e-3)
    assert back.rectified is False and back.reason == "rows do not match" and back.principal_shift_px == (-3.0, -2.0)
    # a dict written before these fields existed still reads, as a homography-only rectification
    old = {k: v for k, v in rect.to_dict().items() if k in ("method", "width", "height", "H_left", "H_right")}
    assert Rectification.from_dict(old).is_homography and Rectification.from_dict(old).rectified
    with pytest.raises(ParameterError, match="reason"):
        Rectification.identity(10, 10, rectified=False)
