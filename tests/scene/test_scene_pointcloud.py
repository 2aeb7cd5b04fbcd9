"""Point clouds: unprojection geometry, the PLY writer read back by trimesh and Open3D, pug.heic end to end."""

from __future__ import annotations

import numpy as np
import pytest

from parallax.capture.types import CameraIntrinsics
from parallax.errors import InputFileError, ParameterError
from parallax.scene.pointcloud import pointcloud_from_depth, read_ply, write_ply
from parallax.stereo.types import DepthResult


def _result(depth: np.ndarray, camera: CameraIntrinsics | None, metric: bool = True) -> DepthResult:
    h, w = depth.shape
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    return DepthResult(
        image=image,
        right_image=None,
        disparity_px=None,
        confidence=np.isfinite(depth).astype(np.float32),
        depth=depth.astype(np.float32),
        depth_is_metric=metric,
        camera=camera,
        source="synthetic",
    )


def test_unprojection_follows_opencv_axes():
    h, w = 24, 32
    cam = CameraIntrinsics(focal_px=40.0, cx_px=15.0, cy_px=11.0, width=w, height=h)
    depth = np.full((h, w), 2.0)
    depth[0, 0] = np.nan
    result = _result(depth, cam)
    cloud = pointcloud_from_depth(result)
    assert len(cloud) == h * w - 1 and cloud.metric and not cloud.camera_assumed
    assert np.allclose(cloud.points[:, 2], 2.0)
    # pixel (u=31, v=23) is right of and below the principal point: +x, +y
    last = cloud.points[-1]
    assert last == pytest.approx([(31 - 15) * 2 / 40, (23 - 11) * 2 / 40, 2.0])
    assert np.array_equal(cloud.colors[-1], result.image[23, 31])
    assert len(pointcloud_from_depth(result, stride=2)) == (h // 2) * (w // 2) - 1
    with pytest.raises(ParameterError, match="stride"):
        pointcloud_from_depth(result, stride=0)


def test_ply_reads_back_in_trimesh_and_open3d(tmp_path):
    import open3d as o3d
    import trimesh

    rng = np.random.default_rng(9)
    depth = rng.uniform(1.0, 5.0, size=(30, 40))
    depth[rng.random(depth.shape) < 0.2] = np.nan
    result = _result(depth, None, metric=False)
    cloud = pointcloud_from_depth(result)
    path = write_ply(tmp_path / "c.ply", cloud, source="/some/where/x.mpo")
    points, colors, comments = read_ply(path)
    assert np.array_equal(points, cloud.points) and np.array_equal(colors, cloud.colors)
    assert any("60 degree horizontal field of view" in c for c in comments)
    assert any("relative" in c for c in comments) and any("x.mpo" in c for c in comments)

    mesh = trimesh.load(path, process=False)
    assert len(mesh.vertices) == len(cloud) == int(np.isfinite(depth).sum())
    assert np.allclose(mesh.vertices, cloud.points, atol=1e-6)
    assert np.array_equal(np.asarray(mesh.colors)[:, :3], cloud.colors)

    pcd = o3d.io.read_point_cloud(str(path))
    assert len(pcd.points) == len(cloud)
    assert np.allclose(np.asarray(pcd.points), cloud.points, atol=1e-6)
    assert np.allclose(np.asarray(pcd.colors) * 255, cloud.colors, atol=0.5)


def test_pug_convert_to_point_cloud(tmp_path, captures_dir):
    import open3d as o3d

    from parallax.capture import read_capture
    from parallax.cli.main import main
    from parallax.stereo.pipeline import compute_depth

    out = tmp_path / "pug.ply"
    assert main(["convert", str(captures_dir / "heic/pug.heic"), "-o", str(out), "--max-size", "256"]) == 0
    expected = compute_depth(read_capture(captures_dir / "heic/pug.heic"), max_side_px=256)
    valid = np.isfinite(expected.depth)
    pcd = o3d.io.read_point_cloud(str(out))
    assert len(pcd.points) == int(valid.sum()) > 0.9 * valid.size
    assert np.allclose(np.asarray(pcd.colors) * 255, expected.image[valid], atol=0.5)
    points, _, comments = read_ply(out)
    assert np.allclose(points[:, 2], expected.depth[valid], rtol=1e-6)
    assert ("comment units: metres" in comments) == expected.depth_is_metric
    # a person-and-dog portrait: depths of a metre or two, in front of the camera
    assert 0.2 < np.median(points[:, 2]) < 10.0
    thin = tmp_path / "thin.ply"
    argv = [
        "convert",
        str(captures_dir / "heic/pug.heic"),
        "-o",
        str(thin),
        "--max-size",
        "256",
        "--option",
        "stride=4",
    ]
    assert main(argv) == 0
    assert len(read_ply(thin)[0]) == int(valid[::4, ::4].sum())
    bad = ["convert", str(captures_dir / "heic/pug.heic"), "-o", str(tmp_path / "bad.ply"), "--option", "stride=x"]
    assert main(bad) == ParameterError.exit_code
    assert not (tmp_path / "bad.ply").exists()


def test_read_ply_error_paths(tmp_path):
    bad = tmp_path / "bad.ply"
    bad.write_bytes(b"not a ply")
    with pytest.raises(InputFileError, match="not a PLY"):
        read_ply(bad)
    short = tmp_path / "short.ply"
    short.write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 10\nend_header\n\x00\x00")
    with pytest.raises(InputFileError, match="truncated"):
        read_ply(short)
    with pytest.raises(InputFileError, match="cannot read"):
        read_ply(tmp_path / "none.ply")
