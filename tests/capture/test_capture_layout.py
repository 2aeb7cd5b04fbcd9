"""Layout detection: arrangement and order of the views in single-image stereo files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from parallax.capture import read_capture
from parallax.capture.layout import LayoutDecision, decide_layout, halves_evidence, name_hint, split_halves
from parallax.errors import NotStereoError
from parallax.stereo.features import match_features


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


@pytest.mark.parametrize("name", ["sbs/GOPR0.left-right.jpg", "sbs/calf-left-right.jpg"])
def test_parallel_files_have_positive_median_disparity(read_sample, name):
    capture = read_sample(name)
    assert capture.format == "sbs"
    matches = match_features(capture.left, capture.right, max_side_px=800)
    matches = matches.subset(np.abs(matches.vertical_px - np.median(matches.vertical_px)) < 0.01 * capture.height)
    assert len(matches) > 200
    assert np.median(matches.disparity_px) > 5.0  # x_right = x_left - d, d > 0 for a parallel rig


def test_jps_is_read_right_view_first(read_sample):
    capture = read_sample("sbs/02-super-mario.jps")
    assert capture.format == "sbs-cross"
    assert capture.metadata["layout"]["reason"].startswith("file name convention")
    # the DMC-3D1 is a converged rig (disparities of a few px either sign), so check the
    # order with the ground-plane cue, measured independently: d grows toward the bottom
    m = match_features(capture.left, capture.right, max_side_px=800)
    m = m.subset(np.abs(m.vertical_px) < 3)
    assert len(m) > 200
    assert _spearman(m.disparity_px, m.left_xy[:, 1]) > 0.1
    # and the recorded evidence agrees in sign with the convention (first half = right view)
    assert capture.metadata["layout"]["evidence"]["ground_rho"] < 0


def test_unnamed_converged_sbs_is_ordered_by_evidence(read_sample):
    capture = read_sample("sbs/Panasonic-DMC-GX8.jpg")  # no name hint; converged 3D lens
    layout = capture.metadata["layout"]
    assert layout["name_hint"] is None
    assert layout["layout"] == "sbs"
    assert "ground-plane" in layout["reason"]
    assert layout["evidence"]["fraction_positive"] < 0.5  # the sign rule alone would have swapped the views


def test_swapped_halves_are_detected_as_cross_eyed(read_sample, tmp_path):
    capture = read_sample("mpo/frozenpond.mpo")  # 3DS: converged, all disparities negative
    swapped = np.hstack([capture.right, capture.left])
    path = tmp_path / "stereo.png"
    Image.fromarray(swapped).save(path)
    cross = read_capture(path)
    assert cross.format == "sbs-cross"
    np.testing.assert_array_equal(cross.left, capture.left)
    straight = tmp_path / "stereo2.png"
    Image.fromarray(np.hstack([capture.left, capture.right])).save(straight)
    assert read_capture(straight).format == "sbs"


def test_over_under_is_detected(read_sample, tmp_path):
    capture = read_sample("mpo/sugarshack.mpo")
    path = tmp_path / "stacked.png"
    Image.fromarray(np.vstack([capture.left, capture.right])).save(path)
    result = read_capture(path)
    assert result.format == "over-under"
    np.testing.assert_array_equal(result.left, capture.left)
    assert result.metadata["layout"]["layout"] == "over-under"


def test_odd_width_is_cropped_to_equal_halves(read_sample, tmp_path):
    capture = read_sample("mpo/sugarshack.mpo")
    middle = np.zeros((480, 1, 3), np.uint8)
    path = tmp_path / "odd.png"
    Image.fromarray(np.hstack([capture.left, middle, capture.right])).save(path)
    result = read_capture(path, layout="sbs")
    assert result.left.shape == result.right.shape == (480, 640, 3)
    assert result.metadata["cropped_middle_px"] == 1
    np.testing.assert_array_equal(result.right, capture.right)


def test_explicit_layout_overrides_detection(read_sample, tmp_path):
    capture = read_sample("mpo/sugarshack.mpo")
    path = tmp_path / "pair.png"
    Image.fromarray(np.hstack([capture.left, capture.right])).save(path)
    forced = read_capture(path, layout="sbs-cross")
    assert forced.format == "sbs-cross"
    np.testing.assert_array_equal(forced.left, capture.right)
    assert forced.metadata["layout"]["reason"] == "given by the caller"


def test_a_photo_cut_in_two_is_not_stereo(captures_dir):
    with Image.open(captures_dir / "sbs/Panasonic-DMC-GX8-left.jpg") as im:
        image = np.asarray(im.convert("RGB"))
    for arrangement in ("side-by-side", "over-under"):
        evidence = halves_evidence(image, arrangement)
        assert not evidence.is_stereo and evidence.inliers < 10
    with pytest.raises(NotStereoError, match="holds one view"):
        decide_layout(image, Path("photo.jpg"))


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("x.jps", "sbs-cross"),
        ("GOPR0.left-right.jpg", "sbs"),
        ("calf-left-right.jpg", "sbs"),
        ("shot_LR.png", "sbs"),
        ("shot-rl.jpg", "sbs-cross"),
        ("trip.right-left.jpg", "sbs-cross"),
        ("scene_over-under.png", "over-under"),
        ("photo.jpg", None),
        ("Panasonic-DMC-GX8-left.jpg", None),
        ("world.jpg", None),
    ],
)
def test_name_hints(name, hint):
    assert name_hint(Path(name)) == hint


def test_split_and_decision_helpers():
    image = np.zeros((4, 7, 3), np.uint8)
    first, second, cropped = split_halves(image, "side-by-side")
    assert first.shape == second.shape == (4, 3, 3) and cropped == 1
    decision = LayoutDecision(layout="under-over", reason="test")
    assert decision.arrangement == "over-under" and not decision.first_is_left


@pytest.mark.parametrize(
    ("sample", "expected"),
    [("sbs/02-super-mario.jps", "sbs-cross"), ("sbs/calf-left-right.jpg", "sbs"), ("sbs/GOPR0.left-right.jpg", "sbs")],
)
def test_evidence_alone_orders_the_samples(captures_dir, tmp_path, sample, expected):
    neutral = tmp_path / "image.jpg"  # no name convention to lean on
    neutral.symlink_to(captures_dir / sample)
    capture = read_capture(neutral)
    assert capture.metadata["layout"]["name_hint"] is None
    assert capture.format == expected
