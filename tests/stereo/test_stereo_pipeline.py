"""Capture -> DepthResult on the real captures: the issue's "done when" measurements."""

from __future__ import annotations

import numpy as np
import pytest

from parallax.capture import read_capture
from parallax.errors import NotStereoError, ParameterError
from parallax.stereo.disparity import EXTRAPOLATED_CONFIDENCE, outside_right_view
from parallax.stereo.pipeline import compute_depth, downscale_capture

# every stereo capture in ../shared/data/captures: (left or single file, right file or None)
STEREO_CAPTURES = [
    ("mpo/sugarshack.mpo", None),
    ("mpo/frozenpond.mpo", None),
    ("mpo/Panasonic-DMC-GX8.mpo", None),
    ("sbs/Panasonic-DMC-GX8.jpg", None),
    ("sbs/Panasonic-DMC-GX8-left.jpg", "sbs/Panasonic-DMC-GX8-right.jpg"),
    ("sbs/GOPR0.left-right.jpg", None),
    ("sbs/calf-left-right.jpg", None),
    ("sbs/02-super-mario.jps", None),
    ("heic/vision-pro.HEIC", None),
    ("heic/spatial_photo.heic", None),
    ("lif/Cactus.jpg", None),
]
MAX_SIDE_PX = 640


@pytest.mark.parametrize("name,right", STEREO_CAPTURES, ids=[n for n, _ in STEREO_CAPTURES])
def test_disparity_explains_rectified_pair(captures_dir, photometric, name, right):
    capture = read_capture(captures_dir / name, None if right is None else captures_dir / right)
    result = compute_depth(capture, max_side_px=MAX_SIDE_PX)
    # reduced to MAX_SIDE_PX, then possibly cropped to the columns both cameras see
    assert result.image.shape[0] <= MAX_SIDE_PX and result.image.shape[1] <= MAX_SIDE_PX
    assert result.image.shape[:2] == (result.rectification.height, result.rectification.width)
    assert result.disparity_px.shape == result.image.shape[:2] == result.right_image.shape[:2]
    check = photometric(result.image, result.right_image, result.disparity_px)
    # untextured regions with nothing to support a surface are left without a value (issue 10)
    assert check["coverage"] >= 0.80, check
    # at least 20 % lower error than the best single global horizontal shift
    assert check["error"] <= 0.8 * check["shift_error"], check
    valid = result.valid
    assert np.all(result.confidence[~valid] == 0)
    assert np.all(np.isnan(result.depth[~valid])) and np.all(np.isfinite(result.depth[valid]))
    # dense by default: pixels seen by the left camera only (match outside the right view)
    # keep an extrapolated value, marked with a low confidence
    outside = outside_right_view(result.disparity_px)
    assert np.all(result.confidence[outside] <= EXTRAPOLATED_CONFIDENCE)
    assert valid.mean() > 0.6
    if not result.depth_is_metric:
        assert np.nanmedian(result.depth) == pytest.approx(1.0, rel=1e-3)
    assert np.nanmin(result.depth) > 0


def _gt_disparity(stereo_gt_dir, scene, info):
    from parallax.io.maps import read_pfm

    path = stereo_gt_dir / scene / info["gt"]
    if path.suffix == ".npz":
        with np.load(path) as z:
            gt = z[z.files[0]].astype(np.float32)
    else:
        gt = read_pfm(path)
    return np.where(np.isfinite(gt) & (gt > 0), gt, np.nan)


@pytest.mark.parametrize("scene", ["middlebury2014-motorcycle-q", "eth3d-playground_1l"])
def test_metric_depth_from_cli_calibration(tmp_path, stereo_gt_dir, scenes, scene):
    from parallax.cli.main import main
    from parallax.io.maps import read_map

    info = scenes[scene]
    calib = info["calib"]
    out = tmp_path / "depth.pfm"
    argv = [
        "depth",
        str(stereo_gt_dir / scene / info["left"]),
        str(stereo_gt_dir / scene / info["right"]),
        "-o",
        str(out),
        "--focal-px",
        str(calib["f"]),
        "--baseline-mm",
        str(calib["baseline_mm"]),
        "--doffs",
        str(calib["doffs"]),
    ]
    assert main(argv) == 0
    depth = read_map(out)
    gt_d = _gt_disparity(stereo_gt_dir, scene, info)
    gt_depth = calib["f"] * calib["baseline_mm"] / 1000.0 / (gt_d + calib["doffs"])
    mask = np.isfinite(gt_depth)
    assert depth.shape == gt_depth.shape
    rel = np.abs(depth[mask] - gt_depth[mask]) / gt_depth[mask]
    rel = np.where(np.isfinite(rel), rel, np.inf)  # a pixel left without depth counts as wrong
    assert np.median(rel) < 0.05


def test_rgbd_capture_gives_metric_depth_from_embedded_map(captures_dir):
    capture = read_capture(captures_dir / "heic/pug.heic")
    embedded = capture.maps[0]
    result = compute_depth(capture, max_side_px=512)
    assert result.disparity_px is None and result.right_image is None
    assert result.image.shape[:2] == result.depth.shape
    assert max(result.depth.shape) == 512
    assert result.depth_is_metric == (embedded.kind == "inverse-depth" and embedded.units == "1/m")
    # the map resized to the view: same depth range as 1 / inverse depth
    finite = embedded.data[np.isfinite(embedded.data) & (embedded.data > 0)]
    lo, hi = 1.0 / finite.max(), 1.0 / finite.min()
    valid = np.isfinite(result.depth)
    assert valid.mean() > 0.9
    assert lo * 0.99 <= np.nanmin(result.depth) and np.nanmax(result.depth) <= hi * 1.01
    assert result.camera is not None and result.camera.width == result.depth.shape[1]


def test_downscale_scales_intrinsics(captures_dir):
    capture = read_capture(captures_dir / "heic/vision-pro.HEIC")
    small, scale = downscale_capture(capture, 640)
    assert small.left.shape[:2] == (640, 640)
    assert scale == pytest.approx(0.25)
    assert small.left_camera.focal_px == pytest.approx(capture.left_camera.focal_px * 0.25)
    assert small.left_camera.width == 640


def test_compute_depth_argument_errors(captures_dir):
    capture = read_capture(captures_dir / "mpo/sugarshack.mpo")
    with pytest.raises(ParameterError, match="focal_px"):
        compute_depth(capture, focal_px=-3.0)
    with pytest.raises(ParameterError, match="min_disparity"):
        compute_depth(capture, min_disparity=10, max_disparity=-10)
    with pytest.raises(ParameterError, match="max_side_px"):
        compute_depth(capture, max_side_px=4)
    with pytest.raises(ParameterError, match="Capture"):
        compute_depth(capture.left)


def test_rgbd_capture_cannot_be_rectified(captures_dir):
    from parallax.stereo.pipeline import rectify_capture

    capture = read_capture(captures_dir / "heic/pug.heic")
    with pytest.raises(NotStereoError, match="pug.heic"):
        rectify_capture(capture, max_side_px=256)


def test_compute_depth_checks_the_eye_order_of_a_capture_built_by_hand(stereo_gt_dir):
    from parallax.capture.types import Capture

    folder = stereo_gt_dir / "middlebury2003-cones"
    ordered = read_capture(folder / "cones_image_02.png", folder / "cones_image_06.png", eyes="left-right")
    reversed_ = Capture(left=ordered.right, right=ordered.left, format="pair", source="cones reversed")
    result = compute_depth(reversed_, eyes="auto", max_side_px=320)
    assert result.settings["eyes"]["swapped"] is True
    assert np.nanmedian(result.disparity_px) > 0  # in front of the cameras, not behind
    kept = compute_depth(reversed_, eyes="left-right", max_side_px=320)
    assert kept.settings["eyes"]["strength"] == "given" and np.nanmedian(kept.disparity_px) < 0
    assert result.settings["rectified"] is True


@pytest.mark.parametrize("scene", ["middlebury2014-motorcycle-q", "middlebury2003-teddy"])
def test_reversed_middlebury_pair_scores_like_the_ordered_one(stereo_gt_dir, scenes, scene):
    from parallax.bench.datasets import find_scenes
    from parallax.bench.metrics import disparity_metrics

    info = scenes[scene]
    left, right = stereo_gt_dir / scene / info["left"], stereo_gt_dir / scene / info["right"]
    (source,) = [s for s in find_scenes(stereo_gt_dir / "scenes.json") if s.name == scene]
    gt = source.load().gt_disparity_px
    scores = []
    for first, second in ((left, right), (right, left)):
        result = compute_depth(read_capture(first, second))
        assert result.disparity_px.shape == gt.shape
        scores.append(disparity_metrics(result.disparity_px, gt).bad_2_pct)
    assert abs(scores[0] - scores[1]) <= 1.0, scores
