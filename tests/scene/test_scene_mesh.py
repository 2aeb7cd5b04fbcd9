"""Depth meshes stay closed over smooth surfaces and break only at real depth edges."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from parallax.bench.geometry import boundary_edges_per_1000_faces, depth_reach
from parallax.capture.types import CameraIntrinsics
from parallax.errors import ParameterError
from parallax.outputs.registry import write_output
from parallax.scene.mesh import depth_mesh, write_glb

CAM = CameraIntrinsics.from_hfov(hfov_deg=70, width=160, height=120)


def _grid_border_edges(gh: int, gw: int) -> int:
    return 2 * (gh - 1) + 2 * (gw - 1)


def test_steep_slanted_plane_stays_closed():
    # a floor seen at a grazing angle: inverse depth linear in y, depth changing by up to 50 % per pixel
    y = np.arange(120, dtype=np.float64)[:, None] * np.ones((1, 160))
    depth = (1.0 / (0.002 + 0.0015 * y)).astype(np.float32)
    mesh = depth_mesh(depth, CAM, max_depth_ratio=None)  # the edge test alone
    # not one triangle dropped but at two corners, where a diagonal has no neighbour to judge its slope by
    assert len(mesh.faces) >= 2 * 119 * 159 - 2
    per_1000 = boundary_edges_per_1000_faces(mesh.faces)
    assert per_1000 <= (_grid_border_edges(120, 160) + 4) * 1000 / len(mesh.faces)
    # the old criterion (relative jump alone) shredded it: many triangles across > 5 % jumps
    assert np.mean(np.abs(np.diff(np.log(depth), axis=0)) > 0.05) > 0.15
    # by default the far end (up to 90 times the near end) is cut at 4 x the 95th percentile
    limited = depth_mesh(depth, CAM)
    assert depth_reach(limited.vertices[:, 2]) <= 4.0 + 1e-6 and len(limited.faces) > 0.9 * len(mesh.faces)


def test_depth_step_breaks_the_mesh_along_the_step_only():
    depth = np.full((120, 160), 4.0, np.float32)
    depth[30:90, 50:110] = 1.5  # a box in front of a wall
    mesh = depth_mesh(depth, CAM)
    z = mesh.vertices[mesh.faces][:, :, 2]
    assert np.all(z.max(axis=1) / z.min(axis=1) < 1.01)  # no skin stretched across the step
    # two closed pieces: the wall with a hole and the box; boundaries = the outer border, the hole, the box
    hole = 2 * (60 + 60)
    assert boundary_edges_per_1000_faces(mesh.faces) <= (_grid_border_edges(120, 160) + 2 * hole + 8) * 1000 / len(
        mesh.faces
    )


def test_noisy_surface_smoothed_is_closed_but_noise_shreds():
    rng = np.random.default_rng(2)
    smooth = np.full((120, 160), 2.0, np.float32)
    noisy = (smooth * np.exp(rng.normal(0, 0.08, smooth.shape))).astype(np.float32)
    closed = boundary_edges_per_1000_faces(depth_mesh(smooth, CAM).faces)
    shredded = boundary_edges_per_1000_faces(depth_mesh(noisy, CAM).faces)
    assert closed < 20 and shredded > 3 * closed


def test_invalid_pixels_leave_holes_and_reach_is_bounded():
    depth = np.full((120, 160), 2.0, np.float32)
    depth[:, :20] = np.nan  # not valid
    depth[60, 80] = 400.0  # a far outlier the pipeline's far clip would have removed
    mesh = depth_mesh(depth, CAM)
    assert mesh.vertices[:, 2].max() == pytest.approx(2.0)  # an isolated jump is cut off entirely
    assert depth_reach(mesh.vertices[:, 2]) == pytest.approx(1.0)
    assert np.all(mesh.uv[:, 0] > 20 / 160)
    with pytest.raises(ParameterError, match="edge_slope_ratio"):
        depth_mesh(depth, CAM, edge_slope_ratio=0.5)


def _glb_json(path) -> dict:
    data = path.read_bytes()
    magic, version, total = struct.unpack_from("<III", data)
    assert (magic, version, total) == (0x46546C67, 2, len(data))
    length, kind = struct.unpack_from("<II", data, 12)
    assert kind == 0x4E4F534A
    return json.loads(data[20 : 20 + length])


def test_glb_of_a_metric_capture_in_trimesh(tmp_path, motorcycle_result):
    trimesh = pytest.importorskip("trimesh")
    out = write_output(motorcycle_result, tmp_path / "moto.glb")
    scene = trimesh.load(out)
    (mesh,) = scene.geometry.values()
    assert len(mesh.faces) > 50_000
    # photo texture with per-vertex UVs
    assert mesh.visual.uv.shape == (len(mesh.vertices), 2)
    tex = mesh.visual.material.baseColorTexture
    assert tex.size == (motorcycle_result.image.shape[1], motorcycle_result.image.shape[0])
    # glTF axes: the scene is in front of the camera (-z), metres: Middlebury's motorcycle is 1.5..6 m away
    z = -mesh.vertices[:, 2]
    assert z.min() > 1.0 and np.median(z) == pytest.approx(np.nanmedian(motorcycle_result.depth), rel=0.05)
    # image top (y = 0) is up (+y) in glTF; trimesh turns glTF's v (down) into OpenGL's (up): top = largest v
    top = mesh.vertices[np.argmax(mesh.visual.uv[:, 1])]
    bottom = mesh.vertices[np.argmin(mesh.visual.uv[:, 1])]
    assert top[1] > bottom[1]
    doc = _glb_json(out)
    assert doc["asset"]["extras"]["units"] == "m"
    cam = doc["cameras"][0]["perspective"]
    h = motorcycle_result.image.shape[0]
    assert cam["yfov"] == pytest.approx(2 * np.arctan(h / 2 / motorcycle_result.camera.fy_px))
    cam_node = [n for n in doc["nodes"] if "camera" in n][0]
    assert cam_node["translation"] == [0.0, 0.0, 0.0] and "rotation" not in cam_node
    assert scene.camera is not None


def test_mesh_drops_triangles_across_depth_edges():
    depth = np.full((20, 20), 2.0, np.float32)
    depth[:, 10:] = 1.0  # a step: a skin across x = 9..10 would be stretched
    depth[0, 0] = np.nan
    cam = CameraIntrinsics.from_hfov(hfov_deg=60, width=20, height=20)
    mesh = depth_mesh(depth, cam)
    z = mesh.vertices[mesh.faces][:, :, 2]
    assert np.all(z.max(axis=1) / z.min(axis=1) < 1.01)
    # everything else is kept: 19 x 19 quads minus the step column minus the corner's two triangles... roughly
    assert len(mesh.faces) == 2 * 19 * 19 - 2 * 19 - 1
    big = depth_mesh(np.ones((300, 400), np.float32), cam.scaled(20), max_vertices=10_000)
    assert len(big.vertices) <= 10_000 and big.step == 4
    with pytest.raises(ParameterError, match="no triangle"):
        write_glb(depth_mesh(np.full((4, 4), np.nan, np.float32), cam), np.zeros((4, 4, 3), np.uint8), "x.glb")
