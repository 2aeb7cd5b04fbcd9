"""Every real stereo sample opens with both views at their true size and the camera facts it holds."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image

from parallax.capture import detect_format

# (file, right file or None, format, view width, view height)
SAMPLES = [
    ("mpo/sugarshack.mpo", None, "mpo", 640, 480),
    ("mpo/frozenpond.mpo", None, "mpo", 640, 480),
    ("mpo/Panasonic-DMC-GX8.mpo", None, "mpo", 1824, 1368),
    ("sbs/Panasonic-DMC-GX8.jpg", None, "sbs", 1824, 1368),
    ("sbs/Panasonic-DMC-GX8-left.jpg", "sbs/Panasonic-DMC-GX8-right.jpg", "pair", 1824, 1367),
    ("sbs/GOPR0.left-right.jpg", None, "sbs", 4000, 3000),
    ("sbs/calf-left-right.jpg", None, "sbs", 1920, 1080),
    ("sbs/02-super-mario.jps", None, "sbs-cross", 522, 720),
    ("heic/vision-pro.HEIC", None, "heic-spatial", 2560, 2560),
    ("heic/spatial_photo.heic", None, "heic-spatial", 2560, 2560),
    ("lif/Cactus.jpg", None, "lif", 1280, 720),
]


@pytest.mark.parametrize(("name", "right", "fmt", "width", "height"), SAMPLES, ids=[s[0] for s in SAMPLES])
def test_sample_opens_with_both_views(read_sample, name, right, fmt, width, height):
    capture = read_sample(name, right)
    assert capture.format == fmt
    assert capture.is_stereo
    for view in (capture.left, capture.right):
        assert view.shape == (height, width, 3)
        assert view.dtype == np.uint8
        assert not view.flags.writeable
        assert view.flags.c_contiguous
    # the two views are different photographs of one scene, not one image twice
    diff = np.abs(capture.left.astype(np.int16) - capture.right.astype(np.int16)).mean()
    assert 1.0 < diff < 80.0
    json.dumps(capture.to_dict())  # the description is JSON-ready


def test_magic_bytes_win_over_the_extension(captures_dir):
    assert detect_format(captures_dir / "lif/Cactus.jpg") == "lif"  # a LIF named .jpg
    assert detect_format(captures_dir / "mpo/sugarshack.mpo") == "mpo"
    assert detect_format(captures_dir / "sbs/calf-left-right.jpg") == "image"
    assert detect_format(captures_dir / "heic/pug.heic") == "heic"


def test_gx8_mpo_facts_from_mp_attributes(read_sample):
    capture = read_sample("mpo/Panasonic-DMC-GX8.mpo")
    assert capture.baseline_m == pytest.approx(0.01)
    assert capture.convergence_deg == 0.0
    assert (capture.make, capture.model) == ("Panasonic", "DMC-GX8")
    left = capture.metadata["left"]["attributes"]
    assert (
        left["individual_image_number"] == 1 and capture.metadata["right"]["attributes"]["individual_image_number"] == 2
    )
    assert left["raw_rationals"]["baseline_length_m"] == [10000, 1000000]
    # EXIF: FocalLengthIn35mmFilm 68 on a 1824x1368 frame -> f = 68 / 43.2666 * 2280 px
    expected = 68.0 / math.hypot(36, 24) * math.hypot(1824, 1368)
    assert capture.left_camera.focal_px == pytest.approx(expected, rel=1e-6)
    assert capture.left_camera.cx_px == pytest.approx((1824 - 1) / 2)


@pytest.mark.parametrize("name", ["mpo/sugarshack.mpo", "mpo/frozenpond.mpo"])
def test_3ds_placeholders_are_kept_but_not_trusted(read_sample, name):
    capture = read_sample(name)
    assert capture.baseline_m is None and capture.convergence_deg is None
    assert capture.model == "Nintendo 3DS"
    raw = capture.metadata["left"]["attributes"]["raw_rationals"]
    # DC-007 "unknown" markers, which read naively as 1 m / 1 degree
    assert raw["baseline_length_m"] == [0xFFFFFFFF, 0xFFFFFFFF]
    assert raw["convergence_angle_deg"] == [-1, -1]
    assert "placeholder" in capture.metadata["untrusted"]


def test_mpo_left_is_the_first_frame(read_sample, captures_dir):
    capture = read_sample("mpo/sugarshack.mpo")
    with Image.open(captures_dir / "mpo/sugarshack.mpo") as im:
        first = np.asarray(im.convert("RGB"))
    np.testing.assert_array_equal(capture.left, first)


def test_vision_pro_intrinsics_and_baseline(read_sample):
    capture = read_sample("heic/vision-pro.HEIC")
    for cam in (capture.left_camera, capture.right_camera):
        assert cam.focal_px == pytest.approx(1525.44, abs=0.01)
        assert (cam.cx_px, cam.cy_px) == (1280.0, 1280.0)
    assert capture.baseline_m == pytest.approx(0.063774)  # cmex positions (0, 0, 0) and (63774 um, 0, 0)
    np.testing.assert_allclose(capture.right_rotation, np.eye(3))
    assert capture.metadata["ster_group"]["images"] == [0, 1]
    assert capture.model == "Apple Vision Pro"


def test_pug_heic_opens_as_rgbd(read_sample):
    capture = read_sample("heic/pug.heic")
    assert capture.format == "heic-depth"
    assert capture.right is None and not capture.is_stereo
    assert capture.left.shape == (3024, 4032, 3)
    (depth,) = capture.maps
    assert depth.data.shape == (576, 768)
    assert depth.kind == "inverse-depth" and depth.units == "1/m"
    finite = depth.data[np.isfinite(depth.data)]
    assert finite.min() == pytest.approx(1.498046875, abs=1e-6)  # d_min
    assert finite.max() == pytest.approx(4.3828125, abs=1e-6)  # d_max
    assert depth.metadata["representation_type"] == 1
    # EXIF FocalLengthIn35mmFilm 26 on 4032x3024
    assert capture.left_camera.focal_px == pytest.approx(26 / math.hypot(36, 24) * 5040, rel=1e-6)


def test_cactus_lif_views_and_disparity(read_sample, captures_dir):
    capture = read_sample("lif/Cactus.jpg")
    assert capture.metadata["host_size"] == [2560, 1440]
    assert capture.metadata["lif"]["disparitySource"] == "LEIA_STEREO"
    assert [m.view for m in capture.maps] == ["left", "right"]
    for m in capture.maps:
        assert m.kind == "normalized-disparity" and m.data.shape == (720, 1280)
        assert 0.0 <= float(np.nanmin(m.data)) < float(np.nanmax(m.data)) <= 1.0
    # the left view is the host JPEG, downscaled to the right view's size
    with Image.open(captures_dir / "lif/Cactus.jpg") as im:
        host = np.asarray(im.convert("RGB").resize((1280, 720), Image.Resampling.BOX)).astype(np.float32)
    assert np.abs(host - capture.left).mean() < 2.0


def test_single_views_of_a_pair_are_not_stereo(captures_dir):
    from parallax.capture import read_capture
    from parallax.errors import NotStereoError

    with pytest.raises(NotStereoError, match="holds one view"):
        read_capture(captures_dir / "sbs/Panasonic-DMC-GX8-left.jpg")


def test_gx8_sbs_halves_equal_the_mpo_views(read_sample):
    sbs = read_sample("sbs/Panasonic-DMC-GX8.jpg")
    mpo = read_sample("mpo/Panasonic-DMC-GX8.mpo")
    # same shot stored two ways: the detected left view is the MPO's left view
    assert np.abs(sbs.left.astype(np.float32) - mpo.left).mean() < 2.0
    assert np.abs(sbs.right.astype(np.float32) - mpo.right).mean() < 2.0
