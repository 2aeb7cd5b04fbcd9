"""Gaussian splats (3DGS .ply) and SPZ, read back with plyfile and an SPZ reader."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from parallax.capture.types import CameraIntrinsics
from parallax.errors import InputFileError, ParameterError
from parallax.outputs.registry import OutputOptions, write_output
from parallax.scene.splats import PLY_PROPERTIES, PLY_PROPERTIES_SH0, SH_C0, Splats, splats_from_depth
from parallax.scene.spz import SPZ_MAGIC, read_spz, write_spz


def test_splat_ply_has_exactly_the_3dgs_properties(tmp_path, cones_result):
    plyfile = pytest.importorskip("plyfile")
    out = write_output(
        cones_result, tmp_path / "cones.ply", format="splat", options=OutputOptions(extra={"merge_levels": "0"})
    )
    ply = plyfile.PlyData.read(str(out))
    vertex = ply["vertex"]
    # SH degree 0 by default: no f_rest coefficients
    assert [p.name for p in vertex.properties] == list(PLY_PROPERTIES_SH0)
    assert all(p.val_dtype in ("f4", "float32", "float") for p in vertex.properties)
    assert len(PLY_PROPERTIES_SH0) == 17 and len(PLY_PROPERTIES) == 62
    n = int(cones_result.valid.sum())
    assert vertex.count == n
    assert any(c.startswith("units relative") for c in ply.comments)
    assert any("camera fx" in c for c in ply.comments)
    data = vertex.data
    rgb = 0.5 + SH_C0 * np.stack([data["f_dc_0"], data["f_dc_1"], data["f_dc_2"]], axis=1)
    first = cones_result.image[cones_result.valid][0] / 255.0
    np.testing.assert_allclose(rgb[0], first, atol=1e-5)
    q = np.stack([data[f"rot_{i}"] for i in range(4)], axis=1)
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-5)
    assert np.all(data["opacity"] == pytest.approx(np.log(0.95 / 0.05)))
    assert np.all(data["scale_2"] < data["scale_0"])  # flat along the view ray


def test_splat_ply_full_layout_and_merged_flat_regions(tmp_path, cones_result):
    plyfile = pytest.importorskip("plyfile")
    full = write_output(
        cones_result, tmp_path / "full.ply", format="splat", options=OutputOptions(extra={"sh_degree": "3"})
    )
    vertex = plyfile.PlyData.read(str(full))["vertex"]
    assert [p.name for p in vertex.properties] == list(PLY_PROPERTIES)
    assert not any(np.any(vertex.data[f"f_rest_{i}"]) for i in range(45))
    default = write_output(cones_result, tmp_path / "sh0.ply", format="splat")
    merged = plyfile.PlyData.read(str(default))["vertex"]
    # flat regions merged: fewer splats than valid pixels, and 17 instead of 62 floats each
    assert merged.count == vertex.count < int(cones_result.valid.sum())
    assert default.stat().st_size < 0.3 * full.stat().st_size
    with pytest.raises(ParameterError, match="sh_degree"):
        write_output(
            cones_result, tmp_path / "bad.ply", format="splat", options=OutputOptions(extra={"sh_degree": "4"})
        )
    assert not (tmp_path / "bad.ply").exists()


def test_merged_splat_covers_its_block_on_the_plane():
    cam = CameraIntrinsics.from_hfov(hfov_deg=60, width=32, height=32)
    image = np.full((32, 32, 3), 90, np.uint8)
    y, x = np.mgrid[0:32, 0:32].astype(np.float64)
    inv = 0.5 + 0.002 * x + 0.001 * y  # a slanted plane: inverse depth linear in the pixels
    depth = (1.0 / inv).astype(np.float32)
    s = splats_from_depth(image, depth, cam, merge_levels=3)
    assert len(s) == 16  # 32 x 32 pixels in 8 x 8 blocks
    # every centre lies on the plane
    u = s.positions[:, 0] / s.positions[:, 2] * cam.focal_px + cam.cx_px
    v = s.positions[:, 1] / s.positions[:, 2] * cam.fy_px + cam.cy_px
    np.testing.assert_allclose(1.0 / s.positions[:, 2], 0.5 + 0.002 * u + 0.001 * v, rtol=1e-4)
    np.testing.assert_allclose(np.sort(u), np.sort(np.repeat([3.5, 11.5, 19.5, 27.5], 4)), atol=0.05)
    # in-plane sigmas: half of the 8-pixel footprint; the third is thin
    sizes = np.sort(np.exp(s.log_scales), axis=1)
    footprint = 8 * s.positions[:, 2] / cam.focal_px
    np.testing.assert_allclose(sizes[:, 1:].mean(axis=1), 0.5 * footprint, rtol=0.05)
    assert np.all(sizes[:, 0] < 0.1 * sizes[:, 1])
    np.testing.assert_allclose(np.linalg.norm(s.rotations, axis=1), 1.0, atol=1e-6)
    # a block with two colours is not merged
    image[0:8, 0:4] = 200
    assert len(splats_from_depth(image, depth, cam, merge_levels=3)) == 15 + 4  # four 4 x 4 blocks instead


def test_splat_geometry_faces_the_camera():
    cam = CameraIntrinsics.from_hfov(hfov_deg=90, width=8, height=6)
    depth = np.full((6, 8), 2.0, np.float32)
    image = np.full((6, 8, 3), 128, np.uint8)
    s = splats_from_depth(image, depth, cam, sigma_fraction=0.5, thin_fraction=0.05)
    w, x, y, z = s.rotations.T
    # third local axis (R e_z) is the view ray
    axis_z = np.stack([2 * (x * z + w * y), 2 * (y * z - w * x), 1 - 2 * (x * x + y * y)], axis=1)
    ray = s.positions / np.linalg.norm(s.positions, axis=1, keepdims=True)
    np.testing.assert_allclose(axis_z, ray, atol=1e-5)
    # in-plane sigma = half the pixel footprint at depth 2: 0.5 * 2 / f
    np.testing.assert_allclose(np.exp(s.log_scales[:, 0]), 0.5 * 2.0 / cam.focal_px, rtol=1e-5)


@pytest.mark.parametrize("version", [2, 3])
def test_spz_round_trip_within_quantisation(tmp_path, cactus_result, version):
    from parallax.scene.splats import splats_from_result

    splats, _, _ = splats_from_result(cactus_result)
    path = tmp_path / f"c{version}.spz"
    write_spz(splats, path, version=version)
    raw = gzip.decompress(path.read_bytes())
    magic, ver, n, sh, frac, flags, _ = struct.unpack_from("<IIIBBBB", raw)
    assert (magic, ver, n, sh, frac, flags) == (SPZ_MAGIC, version, len(splats), 0, 12, 0)
    assert raw[:4] == b"NGSP"
    back = read_spz(path)
    np.testing.assert_allclose(back.positions, splats.positions, atol=0.5 / 4096 + 1e-6)
    np.testing.assert_allclose(back.log_scales, np.clip(splats.log_scales, -10, 5.9375), atol=1 / 32 + 1e-6)
    np.testing.assert_allclose(back.f_dc, splats.f_dc, atol=0.5 / (0.15 * 255) + 1e-5)
    np.testing.assert_allclose(1 / (1 + np.exp(-back.opacity_logits)), 0.95, atol=0.5 / 255 + 1e-6)
    dots = np.abs(np.sum(back.rotations * splats.rotations, axis=1))
    assert dots.min() > (0.999 if version == 3 else 0.99)


def test_spz_write_via_registry_and_bad_files(tmp_path, cactus_result):
    out = write_output(cactus_result, tmp_path / "c.spz", options=OutputOptions(extra={"merge_levels": "0"}))
    assert len(read_spz(out)) == int(cactus_result.valid.sum())
    bad = tmp_path / "bad.spz"
    bad.write_bytes(b"not gzip")
    with pytest.raises(InputFileError, match="not a gzip"):
        read_spz(bad)
    bad.write_bytes(gzip.compress(struct.pack("<IIIBBBB", 0x12345678, 2, 0, 0, 12, 0, 0)))
    with pytest.raises(InputFileError, match="magic"):
        read_spz(bad)
    bad.write_bytes(gzip.compress(struct.pack("<IIIBBBB", SPZ_MAGIC, 2, 10, 0, 12, 0, 0)))
    with pytest.raises(InputFileError, match="truncated"):
        read_spz(bad)
    bad.write_bytes(gzip.compress(struct.pack("<IIIBBBB", SPZ_MAGIC, 9, 0, 0, 12, 0, 0)))
    with pytest.raises(InputFileError, match="version 9"):
        read_spz(bad)


def test_spz_reduces_fractional_bits_for_far_points(tmp_path):
    s = Splats(
        positions=np.array([[0.0, 0.0, 5000.0]]),
        log_scales=np.zeros((1, 3)),
        rotations=np.array([[1.0, 0, 0, 0]]),
        opacity_logits=np.zeros(1),
        f_dc=np.zeros((1, 3)),
    )
    write_spz(s, tmp_path / "far.spz")
    assert read_spz(tmp_path / "far.spz").positions[0, 2] == pytest.approx(5000.0, abs=0.01)
    with pytest.raises(ParameterError, match="version"):
        write_spz(s, tmp_path / "x.spz", version=1)


def test_splats_reject_bad_shapes_and_options():
    with pytest.raises(ParameterError, match="rotations"):
        Splats(
            positions=np.zeros((2, 3)),
            log_scales=np.zeros((2, 3)),
            rotations=np.zeros((2, 3)),
            opacity_logits=np.zeros(2),
            f_dc=np.zeros((2, 3)),
        )
    cam = CameraIntrinsics.from_hfov(hfov_deg=60, width=4, height=4)
    with pytest.raises(ParameterError, match="opacity"):
        splats_from_depth(np.zeros((4, 4, 3), np.uint8), np.ones((4, 4), np.float32), cam, opacity=1.0)


def test_writers_leave_nothing_on_failure(tmp_path, cones_result):
    target = tmp_path / "keep.glb"
    target.write_bytes(b"old")
    with pytest.raises(ParameterError):
        write_output(cones_result, target, options=OutputOptions(extra={"max_vertices": "2"}))
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]
