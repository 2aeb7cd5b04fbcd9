"""Equirectangular -> pinhole reprojection on synthetic equirectangular images with blobs at known directions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from parallax.capture.equirect import (
    EquirectCrop,
    EquirectReprojector,
    VirtualCamera,
    camera_rotation,
    default_view_width,
)
from parallax.errors import InputFileError, ParameterError

from .conftest import blob_centroids, equirect_blob_image


def _direction(lon_deg: float, lat_deg: float) -> np.ndarray:
    lon, lat = math.radians(lon_deg), math.radians(lat_deg)
    return np.array([math.cos(lat) * math.sin(lon), -math.sin(lat), math.cos(lat) * math.cos(lon)])


def _predicted(reprojector: EquirectReprojector, lon: float, lat: float) -> np.ndarray:
    camera_ray = reprojector.rotation.T @ _direction(lon, lat)
    pixel = reprojector.intrinsics.K @ camera_ray
    return pixel[:2] / pixel[2]


@pytest.mark.parametrize(
    ("camera", "points"),
    [
        (VirtualCamera(), [(-30.0, 10.0), (0.0, 0.0), (25.0, -20.0)]),
        (VirtualCamera(hfov_deg=60.0, yaw_deg=40.0, pitch_deg=15.0, width=300), [(35.0, 20.0), (55.0, 5.0)]),
        (VirtualCamera(yaw_deg=180.0), [(170.0, 0.0), (-165.0, 12.0)]),  # across the 360 degree seam
    ],
)
def test_a_point_lands_where_the_intrinsics_say(camera, points):
    image = equirect_blob_image(1024, 512, points)
    reprojector = EquirectReprojector(eye_width=1024, eye_height=512, crop=EquirectCrop(), camera=camera)
    found = blob_centroids(reprojector(image))
    expected = sorted(tuple(_predicted(reprojector, lon, lat)) for lon, lat in points)
    assert len(found) == len(points)
    np.testing.assert_allclose(np.array(found), np.array(expected), atol=0.25)


def test_vr180_crop_is_honoured():
    crop = EquirectCrop(left=0.25, right=0.25)  # 180 degrees wide, the frame holds longitudes -90..90
    points = [(-60.0, 0.0), (40.0, 10.0)]
    image = equirect_blob_image(512, 512, points, lon_range=(-90.0, 90.0))
    reprojector = EquirectReprojector(
        eye_width=512, eye_height=512, crop=crop, camera=VirtualCamera(hfov_deg=150.0, width=400)
    )
    found = blob_centroids(reprojector(image))
    expected = sorted(tuple(_predicted(reprojector, lon, lat)) for lon, lat in points)
    np.testing.assert_allclose(np.array(found), np.array(expected), atol=0.3)
    assert reprojector.coverage == pytest.approx(1.0)
    side = EquirectReprojector(eye_width=512, eye_height=512, crop=crop, camera=VirtualCamera(yaw_deg=90.0, width=200))
    assert 0.4 < side.coverage < 0.6  # half the view looks past the edge of a 180 degree frame: black there
    view = side(np.full((512, 512, 3), 200, np.uint8))
    assert view[:, -20:].max() == 0 and view[:, :20].min() == 200


def test_both_eyes_through_one_camera_are_rectified():
    """A point at infinity sits at the same direction for both eyes: zero disparity, zero vertical offset."""
    points = [(-20.0, 8.0), (5.0, -12.0), (30.0, 3.0)]
    left = equirect_blob_image(960, 480, points)
    right = equirect_blob_image(960, 480, points)
    reprojector = EquirectReprojector(
        eye_width=960, eye_height=480, crop=EquirectCrop(), camera=VirtualCamera(yaw_deg=10, pitch_deg=-5)
    )
    a, b = np.array(blob_centroids(reprojector(left))), np.array(blob_centroids(reprojector(right)))
    assert a.shape == (3, 2)
    np.testing.assert_allclose(a - b, 0.0, atol=1e-6)
    # a nearer point seen from a right eye 6.5 cm to the right: positive disparity, no vertical offset at the centre row
    near = np.array([0.3, 0.0, 2.0])
    lon_l = math.degrees(math.atan2(near[0], near[2]))
    lon_r = math.degrees(math.atan2(near[0] - 0.065, near[2]))
    centred = EquirectReprojector(eye_width=960, eye_height=480, crop=EquirectCrop(), camera=VirtualCamera())
    (xl, yl), (xr, yr) = (
        blob_centroids(centred(equirect_blob_image(960, 480, [(lon, 0.0)])))[0] for lon in (lon_l, lon_r)
    )
    assert xl - xr == pytest.approx(centred.intrinsics.focal_px * 0.065 / 2.0, rel=0.05)
    assert abs(yl - yr) < 0.05


def test_intrinsics_and_default_width():
    camera = VirtualCamera(hfov_deg=90.0)
    reprojector = EquirectReprojector(eye_width=1080, eye_height=540, crop=EquirectCrop(), camera=camera)
    k = reprojector.intrinsics
    assert k.width == k.height == default_view_width(1080, EquirectCrop(), 90.0) == 344
    assert k.focal_px == pytest.approx(k.width / 2.0) and k.cx_px == pytest.approx((k.width - 1) / 2.0)
    facts = reprojector.describe()
    assert facts["hfov_deg"] == 90.0 and facts["vfov_deg"] == pytest.approx(90.0) and facts["rectified"]
    np.testing.assert_allclose(camera_rotation(0.0, 0.0), np.eye(3))
    # yaw 90 looks along +x, pitch 90 looks up (-y in OpenCV axes)
    np.testing.assert_allclose(camera_rotation(90.0, 0.0) @ [0, 0, 1], [1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(camera_rotation(0.0, 90.0) @ [0, 0, 1], [0, -1, 0], atol=1e-12)


def test_bad_camera_and_crop_values():
    with pytest.raises(ParameterError, match="hfov_deg"):
        VirtualCamera(hfov_deg=179.0)
    with pytest.raises(ParameterError, match="yaw_deg"):
        VirtualCamera(yaw_deg=200.0)
    with pytest.raises(ParameterError, match="view width"):
        VirtualCamera(width=8)
    with pytest.raises(InputFileError, match="leave no image"):
        EquirectCrop(left=0.6, right=0.5)
    reprojector = EquirectReprojector(eye_width=64, eye_height=32, crop=EquirectCrop(), camera=VirtualCamera(width=64))
    with pytest.raises(InputFileError, match="does not match"):
        reprojector(np.zeros((30, 64, 3), np.uint8))
