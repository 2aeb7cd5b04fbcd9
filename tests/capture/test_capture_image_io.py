"""Safe single-image loading, EXIF intrinsics, two-file pairs and RGB-D pairs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from parallax.capture import load_image, read_capture
from parallax.capture.exif import exif_facts, intrinsics_from_exif
from parallax.errors import InputFileError, ParameterError, UnsupportedFormatError


def test_load_image_applies_exif_orientation(tmp_path):
    image = np.zeros((20, 40, 3), np.uint8)
    image[:, :10] = 255  # white stripe on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display = rotate 90 degrees clockwise
    path = tmp_path / "rotated.png"
    Image.fromarray(image).save(path, exif=exif)
    loaded = load_image(path)
    assert loaded.shape == (40, 20, 3) and loaded.dtype == np.uint8
    assert loaded[:10].mean() > 200 and loaded[-10:].mean() < 50  # the stripe is now on top


def test_load_image_modes(tmp_path):
    grey = np.arange(64, dtype=np.uint8).reshape(8, 8) * 4
    Image.fromarray(grey).save(tmp_path / "grey.png")
    np.testing.assert_array_equal(load_image(tmp_path / "grey.png")[:, :, 2], grey)
    deep = np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000
    Image.fromarray(deep).save(tmp_path / "deep.png")
    np.testing.assert_array_equal(load_image(tmp_path / "deep.png")[:, :, 0], np.round(deep / 257.0).astype(np.uint8))
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    assert load_image(tmp_path / "rgba.png").shape == (4, 4, 3)


def test_load_image_heic(captures_dir):
    image = load_image(captures_dir / "heic/spatial_photo.heic")
    assert image.shape == (2560, 2560, 3) and image.dtype == np.uint8


def test_pixel_limit_is_checked_before_decoding(tmp_path):
    Image.fromarray(np.zeros((100, 300, 3), np.uint8)).save(tmp_path / "wide.png")
    with pytest.raises(InputFileError, match=r"claims 300x100 pixels .*more than the limit"):
        load_image(tmp_path / "wide.png", max_pixels=10_000)
    with pytest.raises(InputFileError, match="more than the limit"):
        read_capture(tmp_path / "wide.png", layout="sbs", max_pixels=10_000)
    with pytest.raises(ParameterError, match="max_pixels"):
        read_capture(tmp_path / "wide.png", max_pixels=0)


def test_pillow_bomb_warning_never_escapes(tmp_path):
    # 10000x10000 = 100 MP: above Pillow's warning threshold (89 MP), below its hard limit;
    # pytest turns warnings into errors, so a leaked DecompressionBombWarning would fail here.
    import struct
    import zlib

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)

    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 10000, 10000, 8, 2, 0, 0, 0))
        + chunk(b"IEND", b"")
    )
    (tmp_path / "big.png").write_bytes(png)
    with pytest.raises(InputFileError, match="more than the limit of 50 MP"):
        load_image(tmp_path / "big.png", max_pixels=50_000_000)


def test_load_image_rejects_non_images(tmp_path):
    (tmp_path / "notes.jpg").write_bytes(b"just some text, not a picture")
    with pytest.raises(UnsupportedFormatError, match="not an image"):
        load_image(tmp_path / "notes.jpg")


def test_exif_intrinsics_rules():
    facts = {"focal_length_35mm": 26.0, "pixel_x_dimension": 4032, "pixel_y_dimension": 3024}
    full = intrinsics_from_exif(facts, 4032, 3024)
    assert full.focal_px == pytest.approx(26 / math.hypot(36, 24) * 5040)
    half = intrinsics_from_exif(facts, 2016, 1512)  # a downscaled copy keeps the field of view
    assert half.hfov_deg == pytest.approx(full.hfov_deg)
    assert intrinsics_from_exif(facts, 522, 720) is None  # cropped: the EXIF focal says nothing
    sensor = {"focal_length_mm": 4.0, "focal_plane_x_resolution": 1000.0, "focal_plane_resolution_unit": 4}
    assert intrinsics_from_exif(sensor, 640, 480).focal_px == pytest.approx(4000.0)  # 4 mm at 1000 px/mm
    assert intrinsics_from_exif({}, 640, 480) is None
    assert exif_facts(None) == {}


def test_pair_of_files(stereo_views, tmp_path):
    left, right = stereo_views
    Image.fromarray(left).save(tmp_path / "l.png")
    Image.fromarray(right).save(tmp_path / "r.png")
    capture = read_capture(tmp_path / "l.png", tmp_path / "r.png")
    assert capture.format == "pair"
    np.testing.assert_array_equal(capture.left, left)
    np.testing.assert_array_equal(capture.right, right)
    with pytest.raises(ParameterError, match="not to two files"):
        read_capture(tmp_path / "l.png", tmp_path / "r.png", layout="sbs")
    with pytest.raises(ParameterError, match="needs two files"):
        read_capture(tmp_path / "l.png", layout="pair")


def test_rgbd_pair_png_millimetres_and_npy(stereo_views, tmp_path):
    left = stereo_views[0]
    Image.fromarray(left).save(tmp_path / "color.png")
    depth_mm = np.full((96, 128), 1500, np.uint16)
    depth_mm[0, 0] = 0
    Image.fromarray(depth_mm).save(tmp_path / "depth.png")
    capture = read_capture(tmp_path / "color.png", tmp_path / "depth.png")
    assert capture.format == "rgbd" and capture.right is None
    (depth,) = capture.maps
    assert depth.kind == "depth" and depth.units == "m"
    assert np.isnan(depth.data[0, 0]) and depth.data[1, 1] == pytest.approx(1.5)
    np.save(tmp_path / "depth.npy", np.full((96, 128), 2.25, np.float32))
    capture = read_capture(tmp_path / "color.png", tmp_path / "depth.npy", layout="mono-depth")
    assert capture.maps[0].data[5, 5] == pytest.approx(2.25)
    Image.fromarray(left).save(tmp_path / "not_depth.png")
    with pytest.raises(InputFileError, match="not a 16-bit depth PNG"):
        read_capture(tmp_path / "color.png", tmp_path / "not_depth.png", layout="rgbd")


def test_redwood_rgbd_frame(data_dir):
    color = sorted((data_dir / "rgbd/RGBD/color").glob("*.jpg"))[0]
    depth = sorted((data_dir / "rgbd/RGBD/depth").glob("*.png"))[0]
    capture = read_capture(color, depth)
    assert capture.format == "rgbd" and capture.left.shape == (480, 640, 3)
    valid = capture.maps[0].data[np.isfinite(capture.maps[0].data)]
    assert valid.size > 0.5 * 480 * 640 and 0.2 < np.median(valid) < 10.0  # metres, indoor scene
