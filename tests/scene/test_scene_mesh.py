"""Depth meshes stay closed over smooth surfaces and break only at real depth edges."""

from __future__ import annotations

import numpy as np
import pytest

from parallax.bench.geometry import boundary_edges_per_1000_faces, depth_reach
from parallax.capture.types import CameraIntrinsics
from parallax.errors import ParameterError
from parallax.scene.mesh import depth_mesh

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
