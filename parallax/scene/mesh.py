"""Textured depth meshes as binary glTF 2.0 (``.glb``), written with numpy alone.

The mesh is the pixel grid of the (rectified) left view, decimated to at most
``max_vertices`` vertices, each vertex unprojected with its depth:
``X = (x - cx) Z / fx``, ``Y = (y - cy) Z / fy``, ``Z`` (OpenCV axes, metres
when the depth is metric, else relative units with median depth 1). Only
valid pixels (``DepthResult.valid``: NaN depth elsewhere) become vertices.

The mesh breaks only at real depth edges. A grid edge between vertices ``a``
and ``b`` is a depth edge when the jump of inverse depth ``w = 1 / Z`` across it
is both large, ``|w_a - w_b| > edge_log_ratio * min(w_a, w_b)`` (default
``max(0.05, 0.02 * step)``, i.e. about ``|ln Z_a - ln Z_b|``), and much larger than
the surface's own slope there: more than ``edge_slope_ratio`` times the smaller
of the two neighbouring jumps on the same grid line that go the same way (``w``
of a plane is linear in the pixel coordinates, so a slanted floor or wall has
equal jumps in one direction and stays closed; noise, whose jumps alternate,
does not). Triangles with a depth edge, or a corner without depth, are dropped:
they would be skins stretched across discontinuities. No triangle reaches
farther than ``max_depth_ratio`` (4) times the 95th percentile of the mesh's depth.

glTF axes: glTF is right-handed, +Y up, and a camera looks down -Z. OpenCV
points ``(x, y, z)`` are written as ``(x, -y, -z)``. The scene holds the mesh
and a perspective camera node at the origin with no rotation, i.e. exactly the
capture camera (vertical field of view from ``fy``), so viewers that honour
scene cameras open facing the scene. The photo is the base-colour texture
(JPEG inside the GLB, ``KHR_materials_unlit``: a photo carries its own lighting);
texture coordinates are ``u = (x + 0.5) / W``, ``v = (y + 0.5) / H`` (glTF's UV
origin is the top-left of the image).

Without intrinsics the horizontal field of view
:data:`~parallax.capture.types.ASSUMED_HFOV_DEG` is assumed (and the
``asset.extras`` say so).
"""

from __future__ import annotations

import io
import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from parallax.capture.types import ASSUMED_HFOV_DEG, CameraIntrinsics
from parallax.errors import ParameterError
from parallax.outputs.registry import OutputOptions
from parallax.render.options import option_int
from parallax.stereo.types import DepthResult

__all__ = ["DepthMesh", "depth_mesh", "result_camera", "write_glb", "write_mesh_output"]

_GLB_MAGIC = 0x46546C67  # "glTF"
_CHUNK_JSON = 0x4E4F534A
_CHUNK_BIN = 0x004E4942


@dataclass(frozen=True, kw_only=True)
class DepthMesh:
    """A triangle mesh of a depth map, in OpenCV camera axes.

    Parameters
    ----------
    vertices : numpy.ndarray
        ``N x 3`` float32 points, OpenCV axes (x right, y down, z forward).
    uv : numpy.ndarray
        ``N x 2`` float32 texture coordinates in [0, 1], origin top-left of the image.
    faces : numpy.ndarray
        ``M x 3`` uint32 vertex indices, counter-clockwise seen from the camera
        after the glTF axis flip.
    step : int
        Grid step in pixels.
    units : str
        ``"m"`` or ``"relative"``.
    """

    vertices: np.ndarray
    uv: np.ndarray
    faces: np.ndarray
    step: int
    units: str

    def __post_init__(self) -> None:
        if self.vertices.ndim != 2 or self.vertices.shape[1] != 3:
            raise ParameterError(f"vertices must be N x 3, got {self.vertices.shape}")
        if self.uv.shape != (self.vertices.shape[0], 2):
            raise ParameterError(f"uv must be N x 2 with N = {self.vertices.shape[0]}, got {self.uv.shape}")
        if self.faces.ndim != 2 or self.faces.shape[1] != 3:
            raise ParameterError(f"faces must be M x 3, got {self.faces.shape}")


def result_camera(result: DepthResult) -> tuple[CameraIntrinsics, bool]:
    """Intrinsics of ``result``'s left view, and whether they were assumed (:data:`ASSUMED_HFOV_DEG` hfov)."""
    h, w = result.depth.shape
    if result.camera is not None:
        cam = result.camera
        if (cam.width, cam.height) != (w, h):
            cam = cam.scaled(w / cam.width, h / cam.height)
        return cam, False
    return CameraIntrinsics.from_hfov(hfov_deg=ASSUMED_HFOV_DEG, width=w, height=h), True


def _shifted(a: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``out[y, x] = a[y + dy, x + dx]``, NaN outside."""
    out = np.full(a.shape, np.nan, dtype=a.dtype)
    h, w = a.shape
    ys, yd = slice(max(dy, 0), h + min(dy, 0)), slice(max(-dy, 0), h + min(-dy, 0))
    xs, xd = slice(max(dx, 0), w + min(dx, 0)), slice(max(-dx, 0), w + min(-dx, 0))
    out[yd, xd] = a[ys, xs]
    return out


def _connected(inv: np.ndarray, dy: int, dx: int, log_ratio: float, slope_ratio: float) -> np.ndarray:
    """``HxW`` bool: the grid edge from ``(y, x)`` to ``(y + dy, x + dx)`` joins two
    vertices with depth and is not a depth edge (module docstring); False at the border."""
    nxt = _shifted(inv, dy, dx)
    prev = _shifted(inv, -dy, -dx)
    after = _shifted(inv, 2 * dy, 2 * dx)
    with np.errstate(invalid="ignore"):
        step = nxt - inv
        jump = np.abs(step)
        before, after_step = inv - prev, after - nxt
        # a neighbouring jump counts as slope only when it goes the same way (a ramp); noise alternates
        before_jump = np.where(np.isnan(before), np.nan, np.where(before * step > 0, np.abs(before), 0.0))
        after_jump = np.where(np.isnan(after_step), np.nan, np.where(after_step * step > 0, np.abs(after_step), 0.0))
        slope = np.fmin(before_jump, after_jump)  # NaN only where neither neighbour has depth
        slope = np.where(np.isfinite(slope), slope, 0.0)
        large = jump > log_ratio * np.fmin(inv, nxt)
        edge = large & (jump > slope_ratio * slope)
        return np.isfinite(jump) & ~edge


def depth_mesh(
    depth: np.ndarray,
    camera: CameraIntrinsics,
    *,
    max_vertices: int = 500_000,
    edge_log_ratio: float | None = None,
    edge_slope_ratio: float = 3.0,
    max_depth_ratio: float | None = 4.0,
    units: str = "relative",
) -> DepthMesh:
    """Triangulate a depth map on its pixel grid (see the module docstring).

    Parameters
    ----------
    depth : numpy.ndarray
        ``HxW`` depth along the optical axis; NaN/inf/<= 0 = no value.
    camera : CameraIntrinsics
        Intrinsics of the depth map's view (pixels of ``depth``).
    max_vertices : int
        Upper bound on grid vertices; the grid step grows until it fits.
    edge_log_ratio : float, optional
        Relative jump of inverse depth (about ``|ln Z_a - ln Z_b|``) above which a
        grid edge may be a depth edge.
    edge_slope_ratio : float
        A large jump is a depth edge only when it is more than this many times the
        smaller neighbouring jump on the same grid line (the local slope).
    max_depth_ratio : float or None
        No triangle reaches farther than this many times the 95th percentile of the
        mesh's depth (``None``: no limit; the pipeline's far clip usually removed such
        outliers already, this guards what remains isolated after the edge cuts).
    units : str
        ``"m"`` or ``"relative"``, recorded in the mesh.
    """
    depth = np.asarray(depth, dtype=np.float32)
    if depth.ndim != 2:
        raise ParameterError(f"depth must be HxW, got shape {depth.shape}")
    if not isinstance(max_vertices, (int, np.integer)) or max_vertices < 4:
        raise ParameterError(f"max_vertices must be an integer >= 4, got {max_vertices!r}")
    h, w = depth.shape
    step = max(1, math.ceil(math.sqrt(h * w / max_vertices)))
    while math.ceil(h / step) * math.ceil(w / step) > max_vertices:
        step += 1
    if edge_log_ratio is None:
        edge_log_ratio = max(0.05, 0.02 * step)
    if not (math.isfinite(edge_log_ratio) and edge_log_ratio > 0):
        raise ParameterError(f"edge_log_ratio must be positive, got {edge_log_ratio!r}")
    if max_depth_ratio is not None and not (math.isfinite(max_depth_ratio) and max_depth_ratio > 1):
        raise ParameterError(f"max_depth_ratio must be above 1 or None, got {max_depth_ratio!r}")
    if not (math.isfinite(edge_slope_ratio) and edge_slope_ratio >= 1):
        raise ParameterError(f"edge_slope_ratio must be >= 1, got {edge_slope_ratio!r}")
    ys = np.arange(0, h, step)
    xs = np.arange(0, w, step)
    z = depth[np.ix_(ys, xs)]
    valid = np.isfinite(z) & (z > 0)
    gh, gw = z.shape
    inv = np.where(valid, 1.0 / np.where(valid, z, 1.0), np.nan)
    gx, gy = np.meshgrid(xs.astype(np.float32), ys.astype(np.float32))
    zz = np.where(valid, z, 0.0).astype(np.float32)
    verts = np.stack(
        [(gx - camera.cx_px) * zz / camera.focal_px, (gy - camera.cy_px) * zz / camera.fy_px, zz], axis=-1
    ).reshape(-1, 3)
    uv = np.stack([(gx + 0.5) / w, (gy + 0.5) / h], axis=-1).reshape(-1, 2).astype(np.float32)
    idx = np.arange(gh * gw, dtype=np.int64).reshape(gh, gw)
    a, b = idx[:-1, :-1], idx[:-1, 1:]
    c, d = idx[1:, :-1], idx[1:, 1:]
    # connected[k]: the grid edge from each vertex to its neighbour in direction k is not a depth edge
    right = _connected(inv, 0, 1, edge_log_ratio, edge_slope_ratio)  # (y, x) - (y, x + 1)
    down = _connected(inv, 1, 0, edge_log_ratio, edge_slope_ratio)  # (y, x) - (y + 1, x)
    diag = _connected(inv, 1, -1, edge_log_ratio, edge_slope_ratio)  # (y, x) - (y + 1, x - 1)
    # Winding a-c-b / b-c-d: after the flip to glTF axes (x, -y, -z) these turn
    # counter-clockwise as seen from the camera, i.e. they face it (glTF front faces).
    # Triangle a-c-b has edges a-c (down at a), c-b (diagonal at b), a-b (right at a);
    # b-c-d has b-c (diagonal at b), c-d (right at c), b-d (down at b).
    k1 = down[:-1, :-1] & diag[:-1, 1:] & right[:-1, :-1]
    k2 = diag[:-1, 1:] & right[1:, :-1] & down[:-1, 1:]
    tri1 = np.stack([a[k1], c[k1], b[k1]], axis=-1)
    tri2 = np.stack([b[k2], c[k2], d[k2]], axis=-1)
    faces = np.concatenate([tri1, tri2], axis=0)
    if max_depth_ratio is not None:
        # isolated far surfaces: no triangle reaches beyond max_depth_ratio x the 95th percentile of
        # the mesh's own depth (dropping some lowers the percentile a little: repeat until stable)
        for _ in range(8):
            if len(faces) == 0:
                break
            fz = zz.reshape(-1)[faces]
            limit = max_depth_ratio * np.percentile(zz.reshape(-1)[np.unique(faces)], 95.0)
            keep_far = fz.max(axis=1) <= limit
            if keep_far.all():
                break
            faces = faces[keep_far]
    used = np.zeros(gh * gw, dtype=bool)
    used[faces.reshape(-1)] = True
    remap = np.cumsum(used) - 1
    faces = remap[faces].astype(np.uint32)
    return DepthMesh(vertices=verts[used].astype(np.float32), uv=uv[used], faces=faces, step=step, units=units)


def _pad4(data: bytes, fill: bytes = b"\x00") -> bytes:
    return data + fill * ((-len(data)) % 4)


def write_glb(
    mesh: DepthMesh,
    texture: np.ndarray,
    path: str | Path,
    *,
    camera: CameraIntrinsics | None = None,
    extras: dict[str, Any] | None = None,
    max_texture_size: int = 4096,
    jpeg_quality: int = 90,
) -> None:
    """Write ``mesh`` with ``texture`` (``HxWx3`` uint8 RGB) as a binary glTF 2.0 file.

    Axes are converted from OpenCV to glTF (``(x, -y, -z)``); with ``camera``
    a perspective camera node is added at the origin, looking down -Z.
    """
    if mesh.faces.shape[0] == 0:
        raise ParameterError("the mesh has no triangle (no valid depth, or every triangle crossed a depth edge)")
    pos = (mesh.vertices * np.array([1.0, -1.0, -1.0], dtype=np.float32)).astype(np.float32)
    tex = np.asarray(texture)
    if max(tex.shape[:2]) > max_texture_size:
        s = max_texture_size / max(tex.shape[:2])
        tex = np.asarray(
            Image.fromarray(tex).resize(
                (max(1, round(tex.shape[1] * s)), max(1, round(tex.shape[0] * s))), Image.Resampling.LANCZOS
            )
        )
    buf = io.BytesIO()
    Image.fromarray(tex).save(buf, format="JPEG", quality=jpeg_quality)
    blobs = [
        pos.tobytes(),
        mesh.uv.astype(np.float32).tobytes(),
        mesh.faces.astype(np.uint32).tobytes(),
        buf.getvalue(),
    ]
    views = []
    binary = b""
    for i, blob in enumerate(blobs):
        view: dict[str, Any] = {"buffer": 0, "byteOffset": len(binary), "byteLength": len(blob)}
        if i < 2:
            view["target"] = 34962  # ARRAY_BUFFER
        elif i == 2:
            view["target"] = 34963  # ELEMENT_ARRAY_BUFFER
        views.append(view)
        binary += _pad4(blob)
    nodes: list[dict[str, Any]] = [{"mesh": 0, "name": "depth-mesh"}]
    doc: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": "parallax", "extras": dict(extras or {})},
        "extensionsUsed": ["KHR_materials_unlit"],
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": nodes,
        "meshes": [
            {"primitives": [{"attributes": {"POSITION": 0, "TEXCOORD_0": 1}, "indices": 2, "material": 0, "mode": 4}]}
        ],
        "materials": [
            {
                "name": "photo",
                "pbrMetallicRoughness": {
                    "baseColorTexture": {"index": 0},
                    "metallicFactor": 0.0,
                    "roughnessFactor": 1.0,
                },
                "doubleSided": True,
                "extensions": {"KHR_materials_unlit": {}},
            }
        ],
        "textures": [{"sampler": 0, "source": 0}],
        "samplers": [{"magFilter": 9729, "minFilter": 9987, "wrapS": 33071, "wrapT": 33071}],
        "images": [{"bufferView": 3, "mimeType": "image/jpeg"}],
        "accessors": [
            {
                "bufferView": 0,
                "componentType": 5126,
                "count": int(pos.shape[0]),
                "type": "VEC3",
                "min": pos.min(axis=0).tolist(),
                "max": pos.max(axis=0).tolist(),
            },
            {"bufferView": 1, "componentType": 5126, "count": int(pos.shape[0]), "type": "VEC2"},
            {"bufferView": 2, "componentType": 5125, "count": int(mesh.faces.size), "type": "SCALAR"},
        ],
        "bufferViews": views,
        "buffers": [{"byteLength": len(binary)}],
    }
    if camera is not None:
        znear = max(1e-4, 0.5 * float(np.min(mesh.vertices[:, 2])))
        doc["cameras"] = [
            {
                "type": "perspective",
                "name": "capture-camera",
                "perspective": {
                    "yfov": 2.0 * math.atan(camera.height / (2.0 * camera.fy_px)),
                    "aspectRatio": camera.width / camera.height,
                    "znear": znear,
                },
            }
        ]
        nodes.append({"camera": 0, "name": "capture-camera", "translation": [0.0, 0.0, 0.0]})
        doc["scenes"][0]["nodes"].append(1)
    json_bytes = _pad4(json.dumps(doc, separators=(",", ":")).encode("utf-8"), b" ")
    total = 12 + 8 + len(json_bytes) + 8 + len(binary)
    with open(path, "wb") as f:
        f.write(struct.pack("<III", _GLB_MAGIC, 2, total))
        f.write(struct.pack("<II", len(json_bytes), _CHUNK_JSON))
        f.write(json_bytes)
        f.write(struct.pack("<II", len(binary), _CHUNK_BIN))
        f.write(binary)


def write_mesh_output(result: DepthResult, path: Path, options: OutputOptions) -> None:
    """Registry writer: textured depth mesh ``.glb`` (``options.extra``: ``max_vertices``, default 500 000)."""
    camera, assumed = result_camera(result)
    mesh = depth_mesh(
        result.depth,
        camera,
        max_vertices=option_int(options.extra, "max_vertices", 500_000, minimum=4),
        units=result.depth_units,
    )
    extras = {
        "units": result.depth_units,
        "axes": "glTF: +x right, +y up, camera looks down -z (OpenCV x, -y, -z)",
        "camera": "node 'capture-camera' at the origin is the capture's left camera",
        "intrinsics_assumed_60deg_hfov": assumed,
        "grid_step_px": mesh.step,
        "source": result.source,
    }
    write_glb(mesh, np.asarray(result.image), path, camera=camera, extras=extras)
