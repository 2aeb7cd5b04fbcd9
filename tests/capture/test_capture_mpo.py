"""MPO parsing on synthetic files: Pillow's MPO writer and a from-scratch DC-007 writer."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from parallax.capture import read_capture
from parallax.capture.mpo import MP_TYPES, find_mpf, parse_mp_attributes, parse_mp_index
from parallax.errors import InputFileError, NotStereoError, ParameterError


def test_pillow_written_mpo_is_read(stereo_views, tmp_path):
    left, right = stereo_views
    path = tmp_path / "pillow.mpo"
    Image.fromarray(left).save(path, format="MPO", save_all=True, append_images=[Image.fromarray(right)], quality=95)
    index = parse_mp_index(path.read_bytes())
    assert index is not None and len(index.entries) == 2
    assert [e.type_name for e in index.entries] == ["baseline-primary", "undefined"]
    capture = read_capture(path)
    assert capture.format == "mpo" and capture.left.shape == (96, 128, 3)
    with Image.open(path) as im:  # Pillow reads its own MPO frames by seeking
        frames = []
        for i in range(2):
            im.seek(i)
            frames.append(np.asarray(im.convert("RGB")))
    np.testing.assert_array_equal(capture.left, frames[0])
    np.testing.assert_array_equal(capture.right, frames[1])
    assert "views_assumed" in capture.metadata
    assert capture.baseline_m is None


def _decoded(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def test_dc007_attributes_are_parsed(stereo_views, tmp_path, mpo_builder, jpeg_of):
    left, right = stereo_views
    data = mpo_builder([left, right], baseline=(77, 1000), convergence=(-25, 10))
    path = tmp_path / "camera.jpg"  # MPOs are often named .jpg
    path.write_bytes(data)
    index = parse_mp_index(data)
    assert [e.type_name for e in index.entries] == ["disparity", "disparity"]
    assert index.entries[0].representative and not index.entries[1].representative
    assert index.first_attributes["baseline_length_m"] == pytest.approx(0.077)
    second = data[index.entries[1].offset :]
    attrs = parse_mp_attributes(second)
    assert attrs["individual_image_number"] == 2
    assert attrs["convergence_angle_deg"] == pytest.approx(-2.5)
    capture = read_capture(path)
    assert capture.format == "mpo"
    assert capture.baseline_m == pytest.approx(0.077)
    assert capture.convergence_deg == pytest.approx(-2.5)
    np.testing.assert_array_equal(capture.left, _decoded(jpeg_of(left)))
    np.testing.assert_array_equal(capture.right, _decoded(jpeg_of(right)))


def test_unknown_rationals_become_none(stereo_views, tmp_path, mpo_builder):
    left, right = stereo_views
    data = mpo_builder([left, right], baseline=(0xFFFFFFFF, 0xFFFFFFFF), convergence=(-1, -1))
    path = tmp_path / "unknown.mpo"
    path.write_bytes(data)
    capture = read_capture(path)
    assert capture.baseline_m is None and capture.convergence_deg is None
    assert capture.metadata["left"]["attributes"]["raw_rationals"]["baseline_length_m"] == [0xFFFFFFFF, 0xFFFFFFFF]


def test_views_are_ordered_by_individual_image_number(stereo_views, tmp_path, mpo_builder):
    left, right = stereo_views
    data = mpo_builder([left, right, left], baseline=(50, 1000))
    path = tmp_path / "three.mpo"
    path.write_bytes(data)
    capture = read_capture(path)
    assert len(capture.metadata["images"]) == 3
    assert capture.metadata["left"]["attributes"]["individual_image_number"] == 1
    assert capture.metadata["right"]["attributes"]["individual_image_number"] == 2


def test_mpo_with_one_image_is_not_stereo(stereo_views, tmp_path, mpo_builder):
    path = tmp_path / "single.mpo"
    path.write_bytes(mpo_builder([stereo_views[0]]))
    with pytest.raises(NotStereoError, match=r"single\.mpo is an MPO with only 1 view"):
        read_capture(path)


def test_jpeg_with_mpf_thumbnail_is_a_single_image(read_sample, tmp_path, mpo_builder):
    # many cameras write an MPF index for a primary image plus a large thumbnail
    sbs = read_sample("mpo/sugarshack.mpo")
    primary = np.hstack([sbs.left, sbs.right])
    data = mpo_builder([primary, primary[::4, ::4].copy()], mp_types=[0x030000, 0x010001])
    path = tmp_path / "camera.jpg"
    path.write_bytes(data)
    assert [e.type_name for e in parse_mp_index(data).entries] == ["baseline-primary", "large-thumbnail-vga"]
    capture = read_capture(path)
    assert capture.format == "sbs" and capture.left.shape == (480, 640, 3)
    forced = read_capture(path, layout="sbs-cross")  # a layout applies: it is a single image
    assert forced.format == "sbs-cross"


def test_truncated_mpo(stereo_views, tmp_path, mpo_builder):
    data = mpo_builder(list(stereo_views))
    path = tmp_path / "cut.mpo"
    path.write_bytes(data[: len(data) - 500])
    with pytest.raises(InputFileError, match=r"cut\.mpo is truncated: image 2 of 2"):
        read_capture(path)


def test_damaged_mpf_header(stereo_views, tmp_path, mpo_builder):
    data = bytearray(mpo_builder(list(stereo_views)))
    start = find_mpf(bytes(data))
    data[start : start + 2] = b"XX"
    path = tmp_path / "bad.mpo"
    path.write_bytes(bytes(data))
    with pytest.raises(InputFileError, match="damaged MPF header"):
        read_capture(path)


def test_layout_does_not_apply_to_mpo(captures_dir):
    with pytest.raises(ParameterError, match="drop --layout"):
        read_capture(captures_dir / "mpo/sugarshack.mpo", layout="sbs")


def test_plain_jpeg_has_no_mpf(stereo_views):
    buf = io.BytesIO()
    Image.fromarray(stereo_views[0]).save(buf, format="JPEG")
    assert find_mpf(buf.getvalue()) is None
    assert parse_mp_index(buf.getvalue()) is None
    assert MP_TYPES[0x020002] == "disparity"
