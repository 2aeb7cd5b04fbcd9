"""Eye order: evidence, decision rules, and every input path (two files, side-by-side, MPO, HEIC, LIF) both ways."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from parallax.capture import read_capture
from parallax.capture.eyes import (
    EyeEvidence,
    decide_eye_order,
    eye_evidence,
    flipped,
    orient_eyes,
    swap_views,
)
from parallax.capture.types import CameraIntrinsics, Capture, EmbeddedMap
from parallax.errors import ParameterError

# real captures whose files state or imply the correct order
STATED = [
    "mpo/sugarshack.mpo",
    "mpo/frozenpond.mpo",
    "mpo/Panasonic-DMC-GX8.mpo",
    "heic/vision-pro.HEIC",
    "heic/spatial_photo.heic",
    "lif/Cactus.jpg",
    "sbs/GOPR0.left-right.jpg",
    "sbs/calf-left-right.jpg",
    "sbs/02-super-mario.jps",
    "sbs/Panasonic-DMC-GX8.jpg",
]


def _ev(rho: float | None, frac: float | None, n: int = 300) -> EyeEvidence:
    return EyeEvidence(matches=n, fraction_positive=frac, median_disparity_px=None, ground_rho=rho)


@pytest.mark.parametrize(
    ("rho", "frac", "given_by", "swapped", "strength", "warns"),
    [
        (0.7, 1.0, "user", False, "overwhelming", False),
        (-0.7, 0.0, "user", True, "overwhelming", False),
        (-0.7, 0.0, "format", True, "overwhelming", False),
        (0.66, 0.0, "user", False, "converged", False),  # a 3DS pair in order: all disparities negative
        (-0.66, 1.0, "user", True, "converged", False),  # ... and reversed
        (-0.66, 1.0, "format", False, "converged", True),  # a file that states its order keeps it, with a warning
        (-0.5, 0.5, "name", True, "clear", False),
        (-0.5, 0.5, "format", False, "clear", True),
        (0.02, 0.0, "user", True, "clear", False),  # parallel rig, no floor (Middlebury Baby1 reversed)
        (0.15, 0.5, "user", False, "weak", True),  # not clear: kept as given, with a warning
        (-0.15, 0.5, "user", False, "weak", True),
        (-0.15, 0.5, "default", True, "weak", True),  # nothing states an order: a weak cue decides
        (-0.15, 1.0, "user", False, "weak", True),  # sign and a weak floor cue disagree
        (None, None, "user", False, "none", True),
        (None, None, "format", False, "none", False),
    ],
)
def test_decision_rules(rho, frac, given_by, swapped, strength, warns):
    n = 300 if rho is not None else 3
    decision = decide_eye_order(_ev(rho, frac, n), given_by=given_by)
    assert decision.swapped == swapped and decision.strength == strength, decision.reason
    assert bool(decision.warning) == warns, decision.warning
    assert json.loads(json.dumps(decision.to_dict()))["swapped"] == swapped


def test_flipped_evidence_negates_disparity():
    ev = _ev(0.4, 0.8)
    back = flipped(flipped(ev))
    assert flipped(ev).ground_rho == -0.4 and flipped(ev).fraction_positive == pytest.approx(0.2)
    assert back.ground_rho == ev.ground_rho and back.fraction_positive == pytest.approx(ev.fraction_positive)
    with pytest.raises(ParameterError, match="given_by"):
        decide_eye_order(ev, given_by="guess")


@pytest.mark.parametrize("name", STATED)
def test_every_real_capture_keeps_its_order(read_sample, name):
    capture = read_sample(name)
    eyes = capture.metadata["eyes"]
    assert eyes["order"] == ("right-left" if name.endswith(".jps") else "left-right"), eyes
    assert not eyes["swapped"]
    if not name.endswith(".jps"):  # the game frame has no usable cue either way
        # measured again on the views as read: the first view is the left one
        ev = eye_evidence(capture.left, capture.right)
        assert decide_eye_order(ev, given_by="user").swapped is False


def test_two_files_keep_their_order_and_reversed_files_are_swapped_back(captures_dir):
    left, right = captures_dir / "sbs/Panasonic-DMC-GX8-left.jpg", captures_dir / "sbs/Panasonic-DMC-GX8-right.jpg"
    straight = read_capture(left, right)
    reversed_ = read_capture(right, left)
    assert straight.metadata["eyes"]["swapped"] is False
    assert reversed_.metadata["eyes"]["swapped"] is True and reversed_.metadata["eyes"]["order"] == "right-left"
    np.testing.assert_array_equal(reversed_.left, straight.left)
    np.testing.assert_array_equal(reversed_.right, straight.right)


@pytest.mark.parametrize(
    "scene",
    [
        "middlebury2014-motorcycle-q",
        "middlebury2003-cones",
        "middlebury2003-teddy",
        "middlebury2006-aloe-t",
        "middlebury2006-baby1-t",
        "middlebury2001-tsukuba",
        "eth3d-playground_1l",
    ],
)
def test_reversed_stereo_gt_pairs_are_swapped_back(stereo_gt_dir, scene):
    info = json.loads((stereo_gt_dir / "scenes.json").read_text())["scenes"][scene]
    left, right = stereo_gt_dir / scene / info["left"], stereo_gt_dir / scene / info["right"]
    assert read_capture(left, right).metadata["eyes"]["swapped"] is False
    reversed_ = read_capture(right, left)
    assert reversed_.metadata["eyes"]["swapped"] is True
    with Image.open(left) as im:
        np.testing.assert_array_equal(reversed_.left, np.asarray(im.convert("RGB")))


@pytest.mark.parametrize("frame", [0, 7])
def test_reversed_video_frames_are_swapped_back(data_dir, frame):
    folder = data_dir / "video" / "bidavideo-demo"
    left, right = folder / "left" / f"left{frame:06d}.png", folder / "right" / f"right{frame:06d}.png"
    assert read_capture(left, right).metadata["eyes"]["swapped"] is False
    assert read_capture(right, left).metadata["eyes"]["swapped"] is True


@pytest.mark.parametrize("name", ["sbs/GOPR0.left-right.jpg", "sbs/calf-left-right.jpg"])
def test_swapped_halves_of_real_side_by_side_files_are_put_back(read_sample, tmp_path, name):
    capture = read_sample(name)
    small = [
        np.asarray(Image.fromarray(v).resize((v.shape[1] // 2, v.shape[0] // 2))) for v in (capture.left, capture.right)
    ]
    path = tmp_path / "halves.png"  # no name convention to lean on
    Image.fromarray(np.hstack([small[1], small[0]])).save(path)
    swapped = read_capture(path)
    assert swapped.format == "sbs-cross"
    np.testing.assert_array_equal(swapped.left, small[0])
    # the same swapped image under a name that claims left-right: clear evidence overrides a naming habit
    named = tmp_path / "halves.left-right.png"
    Image.fromarray(np.hstack([small[1], small[0]])).save(named)
    fixed = read_capture(named)
    assert fixed.format == "sbs-cross" and fixed.metadata["eyes"]["swapped"] is True
    assert "swapped" in fixed.metadata["layout"]["reason"]


def test_eyes_option_fixes_the_order_on_every_path(captures_dir, read_sample, tmp_path):
    mpo = read_sample("mpo/sugarshack.mpo")
    flipped_mpo = read_capture(captures_dir / "mpo/sugarshack.mpo", eyes="right-left")
    np.testing.assert_array_equal(flipped_mpo.left, mpo.right)
    assert flipped_mpo.metadata["eyes"]["strength"] == "given"
    kept = read_capture(captures_dir / "mpo/sugarshack.mpo", eyes="left-right")
    np.testing.assert_array_equal(kept.left, mpo.left)
    # two files given reversed but declared left-right: taken as given, no swap
    left, right = captures_dir / "sbs/Panasonic-DMC-GX8-left.jpg", captures_dir / "sbs/Panasonic-DMC-GX8-right.jpg"
    assert read_capture(right, left, eyes="left-right").metadata["eyes"]["swapped"] is False
    # side by side: right-left means the first half is the right eye, whatever the name says
    gopro = read_capture(captures_dir / "sbs/GOPR0.left-right.jpg", eyes="right-left")
    assert gopro.format == "sbs-cross"
    np.testing.assert_array_equal(gopro.left, read_sample("sbs/GOPR0.left-right.jpg").right)
    for name in ("heic/vision-pro.HEIC", "lif/Cactus.jpg"):
        assert read_capture(captures_dir / name, eyes="right-left").metadata["eyes"]["swapped"] is True


def test_swap_views_swaps_everything_per_view():
    rng = np.random.default_rng(0)
    left = rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)
    right = rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)
    cam_l = CameraIntrinsics(focal_px=50, cx_px=30, cy_px=20, width=60, height=40)
    cam_r = CameraIntrinsics(focal_px=55, cx_px=31, cy_px=20, width=60, height=40)
    rot = np.array([[np.cos(0.1), 0, np.sin(0.1)], [0, 1, 0], [-np.sin(0.1), 0, np.cos(0.1)]])
    disparity = EmbeddedMap(data=np.ones((40, 60), np.float32), kind="disparity", units="px", view="left")
    capture = Capture(
        left=left,
        right=right,
        format="pair",
        source="synthetic",
        left_camera=cam_l,
        right_camera=cam_r,
        right_rotation=rot,
        maps=(disparity,),
        baseline_m=0.06,
    )
    swapped = swap_views(capture)
    assert swapped.left is capture.right and swapped.left_camera == cam_r and swapped.right_camera == cam_l
    np.testing.assert_allclose(swapped.right_rotation, rot.T)
    assert swapped.maps[0].view == "right" and swapped.baseline_m == 0.06
    oriented = orient_eyes(capture, "right-left")
    assert oriented.metadata["eyes"]["swapped"] is True and oriented.left_camera == cam_r
    with pytest.raises(ParameterError, match="eyes"):
        orient_eyes(capture, "backwards")


def test_bad_eyes_value_is_refused(captures_dir):
    with pytest.raises(ParameterError, match="eyes must be one of auto, left-right, right-left"):
        read_capture(captures_dir / "mpo/sugarshack.mpo", eyes="sideways")


def test_rgbd_capture_has_no_eye_order(read_sample):
    pug = read_sample("heic/pug.heic")
    assert pug.right is None and "eyes" not in pug.metadata


def test_tracked_corners_decide_a_clear_order_and_a_swap_needs_sift(stereo_gt_dir):
    from parallax.capture.eyes import MIN_TRACKS, _epipolar_inliers, evidence_from_points, eye_evidence
    from parallax.capture.tracks import track_points

    folder = stereo_gt_dir / "middlebury2014-motorcycle-q"
    capture = read_capture(folder / "motorcycle_left.png", folder / "motorcycle_right.png", eyes="left-right")
    left, right = capture.left, capture.right
    tracked = evidence_from_points(*_epipolar_inliers(*track_points(left, right), left.shape))
    assert tracked.matches >= MIN_TRACKS
    assert eye_evidence(left, right) == tracked  # the order given is clear from the tracks alone
    swapped = eye_evidence(right, left)
    assert swapped.fraction_positive is not None and swapped.fraction_positive < 0.1
    reversed_tracks = evidence_from_points(*_epipolar_inliers(*track_points(right, left), left.shape))
    if reversed_tracks.ground_rho is None or abs(reversed_tracks.ground_rho) < 0.3:
        assert swapped != reversed_tracks  # a swap on less than overwhelming evidence: SIFT decided
