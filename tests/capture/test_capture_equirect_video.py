"""Equirectangular stereo video (360° top-bottom with Spherical V1, VR180 side-by-side with V2): facts, geometry on
synthetic videos, V1/V2 disagreement, mesh projection and mono 360."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from parallax.capture.clip_registry import find_clip_reader, read_clip
from parallax.errors import NotStereoError, UnsupportedFormatError

from .conftest import (
    VIDEO_SAMPLE_ENTRY,
    blob_centroids,
    equirect_blob_image,
    full_box,
    insert_box,
    spherical_v1_box,
    spherical_v2_boxes,
    write_video,
)


@pytest.fixture(scope="module")
def video_dir(data_dir: Path) -> Path:
    return data_dir / "video"


def test_360_top_bottom_with_spherical_v1(video_dir):
    path = video_dir / "testRoom1_1080Stereo.mp4"
    assert find_clip_reader(path).name == "equirect-video"
    clip = read_clip(path)
    assert (clip.format, clip.layout, clip.projection) == ("equirect-video", "over-under", "equirectangular")
    assert (clip.fps, clip.frame_count, clip.duration_s) == (30.0, 360, 12.0)
    assert (clip.width, clip.height) == (344, 344)  # 1080 px over 360 degrees, kept at the centre of a 90 degree view
    assert clip.eyes["decision"] == "top half = left eye" and "Spherical V1" in clip.eyes["source"]
    v = clip.virtual_camera
    assert (v["hfov_deg"], v["yaw_deg"], v["pitch_deg"], v["coverage"]) == (90.0, 0.0, 0.0, 1.0)
    assert clip.left_camera == clip.right_camera and clip.left_camera.focal_px == pytest.approx(172.0)
    assert clip.hfov_deg == 90.0 and clip.baseline_m is None
    assert clip.metadata["spherical_v1"]["StereoMode"] == "top-bottom"
    frame = clip.first_frame()
    assert frame.left.shape == (344, 344, 3) and frame.left.std() > 10


def test_vr180_side_by_side_with_spherical_v2(video_dir):
    clip = read_clip(video_dir / "vr180_blender_lr.mp4", hfov_deg=70.0, yaw_deg=-20.0, pitch_deg=10.0, view_width=256)
    assert (clip.layout, clip.frame_count, clip.width, clip.height) == ("side-by-side", 100, 256, 256)
    assert clip.metadata["crop_source"] == "Spherical V2 equi bounds"
    crop = clip.virtual_camera["source_crop"]
    assert crop["lon_range_deg"] == pytest.approx([-90.0, 90.0], abs=1e-5)  # VR180: 180 degrees wide
    assert (clip.virtual_camera["hfov_deg"], clip.virtual_camera["yaw_deg"], clip.virtual_camera["pitch_deg"]) == (
        70.0,
        -20.0,
        10.0,
    )
    assert clip.left_camera.hfov_deg == pytest.approx(70.0)
    assert clip.eyes["decision"] == "left half = left eye"


def test_v2_wins_where_v1_and_v2_disagree(video_dir, tmp_path):
    data = (video_dir / "testRoom1_1080Stereo.mp4").read_bytes()  # V1 XML: top-bottom; moov follows mdat
    path = tmp_path / "both.mp4"
    path.write_bytes(insert_box(data, VIDEO_SAMPLE_ENTRY, full_box(b"st3d", bytes([2]))))  # V2: left-right
    clip = read_clip(path)
    assert clip.layout == "side-by-side" and "V2 wins" in clip.metadata["conflict"]
    assert clip.metadata["spherical_v2"]["st3d"] == 2 and clip.metadata["spherical_v1"]["StereoMode"] == "top-bottom"
    assert clip.metadata["eye_size"] == [540, 1080]


def test_mono_360_is_not_stereo(video_dir, tmp_path):
    data = (video_dir / "testRoom1_1080Stereo.mp4").read_bytes()
    path = tmp_path / "mono360.mp4"
    path.write_bytes(insert_box(data, VIDEO_SAMPLE_ENTRY, full_box(b"st3d", bytes([0]))))
    with pytest.raises(NotStereoError, match=r"mono video .*st3d.* says mono"):
        read_clip(path)
    assert read_clip(path, layout="over-under").layout == "over-under"


def test_mesh_projection_is_unsupported(video_dir, tmp_path):
    data = (video_dir / "vr180_blender_lr.mp4").read_bytes()
    assert data.count(b"equi") == 1
    path = tmp_path / "mesh180.mp4"
    path.write_bytes(data.replace(b"equi", b"mshp"))
    with pytest.raises(
        UnsupportedFormatError, match=r"mesh180\.mp4 uses a mesh projection .* export it as equirectangular"
    ):
        read_clip(path)


def _predicted(clip, lon: float, lat: float) -> tuple[float, float]:
    lon_r, lat_r = np.radians(lon), np.radians(lat)
    d = np.array([np.cos(lat_r) * np.sin(lon_r), -np.sin(lat_r), np.cos(lat_r) * np.cos(lon_r)])
    ray = np.asarray(clip.virtual_camera["rotation"]).T @ d
    p = clip.left_camera.K @ ray
    return float(p[0] / p[2]), float(p[1] / p[2])


def test_synthetic_360_video_geometry(tmp_path):
    """Blobs at known directions, the same for both eyes (points at infinity), in a V1 top-bottom video."""
    points = [(-25.0, 10.0), (15.0, -8.0)]
    eye = equirect_blob_image(512, 256, points, sigma_px=3.0)
    frames = [np.vstack([eye, eye])] * 3
    path = write_video(tmp_path / "synthetic360.mp4", frames)
    data = insert_box(path.read_bytes(), [b"moov", b"trak"], spherical_v1_box("top-bottom"))
    path.write_bytes(data)
    clip = read_clip(path, hfov_deg=80.0, yaw_deg=-5.0, pitch_deg=2.0)
    frame = clip.first_frame()
    left, right = np.array(blob_centroids(frame.left)), np.array(blob_centroids(frame.right))
    expected = np.array(sorted(_predicted(clip, lon, lat) for lon, lat in points))
    np.testing.assert_allclose(left, expected, atol=0.5)
    np.testing.assert_allclose(left - right, 0.0, atol=0.3)  # rectified: no disparity, no vertical offset at infinity


@pytest.mark.parametrize("metadata", ["v2", "v1-crop"])
def test_synthetic_vr180_video_crop(tmp_path, metadata):
    """A 180 degree side-by-side video: the crop (V2 equi bounds or V1 CroppedArea) places the blobs."""
    points = [(-40.0, 5.0), (30.0, -15.0)]
    eye = equirect_blob_image(320, 320, points, lon_range=(-90.0, 90.0), sigma_px=3.0)
    path = write_video(tmp_path / "synthetic180.mp4", [np.hstack([eye, eye])] * 3)
    if metadata == "v2":
        data = insert_box(path.read_bytes(), VIDEO_SAMPLE_ENTRY, spherical_v2_boxes(2, (0, 0, 0x3FFFFFFF, 0x3FFFFFFF)))
    else:
        crop = (
            "<GSpherical:CroppedAreaImageWidthPixels>320</GSpherical:CroppedAreaImageWidthPixels>"
            "<GSpherical:CroppedAreaImageHeightPixels>320</GSpherical:CroppedAreaImageHeightPixels>"
            "<GSpherical:FullPanoWidthPixels>640</GSpherical:FullPanoWidthPixels>"
            "<GSpherical:FullPanoHeightPixels>320</GSpherical:FullPanoHeightPixels>"
            "<GSpherical:CroppedAreaLeftPixels>160</GSpherical:CroppedAreaLeftPixels>"
            "<GSpherical:CroppedAreaTopPixels>0</GSpherical:CroppedAreaTopPixels>"
        )
        data = insert_box(path.read_bytes(), [b"moov", b"trak"], spherical_v1_box("left-right", extra=crop))
    path.write_bytes(data)
    clip = read_clip(path, hfov_deg=120.0)
    assert clip.virtual_camera["source_crop"]["lon_range_deg"] == pytest.approx([-90.0, 90.0], abs=1e-5)
    frame = clip.first_frame()
    expected = np.array(sorted(_predicted(clip, lon, lat) for lon, lat in points))
    np.testing.assert_allclose(np.array(blob_centroids(frame.left)), expected, atol=0.5)
    np.testing.assert_allclose(np.array(blob_centroids(frame.right)), expected, atol=0.5)
