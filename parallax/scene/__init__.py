"""Scene geometry from a DepthResult: point clouds (more representations join here).

OpenCV camera axes (x right, y down, z forward); metres when depth is metric.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from parallax._lazy import lazy_getattr

__all__ = ["PointCloud", "pointcloud_from_depth", "write_ply", "read_ply"]

_LAZY = {name: "parallax.scene.pointcloud" for name in __all__}

# Meshes (.glb) and Gaussian splats (3DGS PLY, SPZ): parallax.scene.mesh, .splats, .spz
_LAZY.update({n: "parallax.scene.mesh" for n in ("DepthMesh", "depth_mesh", "write_glb")})
_LAZY.update({n: "parallax.scene.splats" for n in ("Splats", "splats_from_depth", "write_splat_ply")})
_LAZY.update({n: "parallax.scene.spz" for n in ("read_spz", "write_spz")})
__all__ += [
    "DepthMesh",
    "depth_mesh",
    "write_glb",
    "Splats",
    "splats_from_depth",
    "write_splat_ply",
    "read_spz",
    "write_spz",
]

if TYPE_CHECKING:  # pragma: no cover
    from parallax.scene.pointcloud import PointCloud, pointcloud_from_depth, read_ply, write_ply


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
