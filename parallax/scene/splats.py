"""3D Gaussian splats from a depth map, written as 3DGS PLY (Kerbl et al. 2023 layout).

One splat per pixel of the (rectified) left view, or per pixel of a regular
sub-grid with step ``s`` when the image has more than ``max_splats`` pixels:

* **position**: the pixel unprojected with its depth, OpenCV axes (x right,
  y down, z forward, the "RDF" frame 3DGS/COLMAP scenes use), metres when depth
  is metric, else relative units (median depth 1);
* **shape**: flat, facing the camera: the two in-plane standard deviations are
  ``sigma_fraction * s * Z / f`` (``fx`` across, ``fy`` down), half the pixel
  footprint at that depth by default, the third (along the view ray)
  ``thin_fraction`` of the first;
* **rotation**: the quaternion ``(w, x, y, z)`` of the frame whose third axis is
  the view ray and whose first axis is the image x axis made orthogonal to it;
* **colour**: SH degree 0 only, ``f_dc = (rgb - 0.5) / 0.2820948``, higher
  bands (``f_rest_0..44``) zero;
* **opacity**: ``logit(opacity)`` (default opacity 0.95).

PLY layout (binary little-endian, float32 each): ``x y z nx ny nz f_dc_0..2
f_rest_0..44 opacity scale_0..2 rot_0..3``, the order of the original 3DGS
code; normals are zero. Comment lines state the units, axes and camera.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from parallax.capture.types import ASSUMED_HFOV_DEG, CameraIntrinsics
from parallax.errors import ParameterError
from parallax.outputs.registry import OutputOptions
from parallax.render.options import option_int
from parallax.stereo.types import DepthResult

__all__ = [
    "SH_C0",
    "PLY_PROPERTIES",
    "Splats",
    "camera_comments",
    "rotation_to_quaternion",
    "splats_from_depth",
    "splats_from_result",
    "write_splat_ply",
    "write_splat_output",
]

#: Degree-0 spherical-harmonic constant: colour = 0.5 + SH_C0 * f_dc.
SH_C0 = 0.28209479177387814

#: Vertex properties of a 3DGS PLY, in file order.
PLY_PROPERTIES: tuple[str, ...] = (
    ("x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2")
    + tuple(f"f_rest_{i}" for i in range(45))
    + ("opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3")
)


@dataclass(frozen=True, kw_only=True)
class Splats:
    """A set of 3D Gaussians (SH degree 0) in OpenCV axes.

    Parameters
    ----------
    positions : numpy.ndarray
        ``N x 3`` float32 centres (x right, y down, z forward).
    log_scales : numpy.ndarray
        ``N x 3`` float32 natural logs of the standard deviations along the local axes.
    rotations : numpy.ndarray
        ``N x 4`` float32 unit quaternions ``(w, x, y, z)``, local -> world.
    opacity_logits : numpy.ndarray
        ``N`` float32 opacities before the sigmoid.
    f_dc : numpy.ndarray
        ``N x 3`` float32 SH degree-0 colour coefficients (``rgb = 0.5 + SH_C0 * f_dc``).
    units : str
        ``"m"`` or ``"relative"``.
    """

    positions: np.ndarray
    log_scales: np.ndarray
    rotations: np.ndarray
    opacity_logits: np.ndarray
    f_dc: np.ndarray
    units: str = "relative"

    def __post_init__(self) -> None:
        n = self.positions.shape[0] if getattr(self.positions, "ndim", 0) == 2 else -1
        shapes = {
            "positions": (n, 3),
            "log_scales": (n, 3),
            "rotations": (n, 4),
            "opacity_logits": (n,),
            "f_dc": (n, 3),
        }
        for name, shape in shapes.items():
            value = np.asarray(getattr(self, name), dtype=np.float32)
            if n < 0 or value.shape != shape:
                raise ParameterError(f"Splats.{name} must have shape {shape}, got {value.shape}")
            object.__setattr__(self, name, value)

    def __len__(self) -> int:
        return int(self.positions.shape[0])

    @property
    def colors(self) -> np.ndarray:
        """``N x 3`` float32 RGB in [0, 1] (clipped)."""
        return np.clip(0.5 + SH_C0 * self.f_dc, 0.0, 1.0)


def rotation_to_quaternion(rotations: np.ndarray) -> np.ndarray:
    """Unit quaternions ``(w, x, y, z)`` of ``N x 3 x 3`` rotation matrices (Shepperd's method)."""
    r = np.asarray(rotations, dtype=np.float64)
    m00, m11, m22 = r[:, 0, 0], r[:, 1, 1], r[:, 2, 2]
    trace = m00 + m11 + m22
    q = np.empty((r.shape[0], 4), dtype=np.float64)
    cases = np.argmax(np.stack([trace, m00, m11, m22], axis=1), axis=1)
    for case in range(4):
        sel = cases == case
        if not sel.any():
            continue
        m = r[sel]
        if case == 0:
            s = 2.0 * np.sqrt(1.0 + trace[sel])
            q[sel] = np.stack(
                [0.25 * s, (m[:, 2, 1] - m[:, 1, 2]) / s, (m[:, 0, 2] - m[:, 2, 0]) / s, (m[:, 1, 0] - m[:, 0, 1]) / s],
                axis=1,
            )
        elif case == 1:
            s = 2.0 * np.sqrt(1.0 + m[:, 0, 0] - m[:, 1, 1] - m[:, 2, 2])
            q[sel] = np.stack(
                [(m[:, 2, 1] - m[:, 1, 2]) / s, 0.25 * s, (m[:, 0, 1] + m[:, 1, 0]) / s, (m[:, 0, 2] + m[:, 2, 0]) / s],
                axis=1,
            )
        elif case == 2:
            s = 2.0 * np.sqrt(1.0 + m[:, 1, 1] - m[:, 0, 0] - m[:, 2, 2])
            q[sel] = np.stack(
                [(m[:, 0, 2] - m[:, 2, 0]) / s, (m[:, 0, 1] + m[:, 1, 0]) / s, 0.25 * s, (m[:, 1, 2] + m[:, 2, 1]) / s],
                axis=1,
            )
        else:
            s = 2.0 * np.sqrt(1.0 + m[:, 2, 2] - m[:, 0, 0] - m[:, 1, 1])
            q[sel] = np.stack(
                [(m[:, 1, 0] - m[:, 0, 1]) / s, (m[:, 0, 2] + m[:, 2, 0]) / s, (m[:, 1, 2] + m[:, 2, 1]) / s, 0.25 * s],
                axis=1,
            )
    q *= np.where(q[:, :1] < 0, -1.0, 1.0)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def splats_from_depth(
    image: np.ndarray,
    depth: np.ndarray,
    camera: CameraIntrinsics,
    *,
    max_splats: int = 1_000_000,
    opacity: float = 0.95,
    sigma_fraction: float = 0.5,
    thin_fraction: float = 0.05,
    units: str = "relative",
) -> Splats:
    """One flat, camera-facing Gaussian per (sub-sampled) pixel with depth (module docstring).

    Parameters
    ----------
    image : numpy.ndarray
        ``HxWx3`` uint8 RGB colours.
    depth : numpy.ndarray
        ``HxW`` depth along the optical axis; NaN/inf/<= 0 = no value (no splat).
    camera : CameraIntrinsics
        Intrinsics in pixels of ``depth``.
    max_splats : int
        Upper bound on splats; the pixel grid step grows until it fits.
    opacity : float
        Opacity in (0, 1).
    sigma_fraction, thin_fraction : float
        In-plane sigma as a fraction of the pixel footprint; sigma along the ray
        as a fraction of the in-plane sigma.
    units : str
        ``"m"`` or ``"relative"``.
    """
    image = np.asarray(image)
    depth = np.asarray(depth, dtype=np.float32)
    if image.shape[:2] != depth.shape or image.ndim != 3:
        raise ParameterError(f"image {image.shape} and depth {depth.shape} must be HxWx3 and HxW of one size")
    if not (0.0 < opacity < 1.0):
        raise ParameterError(f"opacity must be in (0, 1), got {opacity!r}")
    if not (sigma_fraction > 0 and thin_fraction > 0):
        raise ParameterError(
            f"sigma_fraction and thin_fraction must be positive, got {sigma_fraction!r}, {thin_fraction!r}"
        )
    if not isinstance(max_splats, (int, np.integer)) or max_splats < 1:
        raise ParameterError(f"max_splats must be an integer >= 1, got {max_splats!r}")
    h, w = depth.shape
    step = max(1, math.ceil(math.sqrt(h * w / max_splats)))
    while math.ceil(h / step) * math.ceil(w / step) > max_splats:
        step += 1
    ys = np.arange(0, h, step)
    xs = np.arange(0, w, step)
    z = depth[np.ix_(ys, xs)]
    valid = np.isfinite(z) & (z > 0)
    gx, gy = np.meshgrid(xs.astype(np.float64), ys.astype(np.float64))
    z = z[valid].astype(np.float64)
    px, py = gx[valid], gy[valid]
    pos = np.stack([(px - camera.cx_px) * z / camera.focal_px, (py - camera.cy_px) * z / camera.fy_px, z], axis=1)
    ray = pos / np.linalg.norm(pos, axis=1, keepdims=True)
    e1 = np.array([1.0, 0.0, 0.0]) - ray[:, :1] * ray
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(ray, e1)
    rot = np.stack([e1, e2, ray], axis=2)  # columns: local x, y, z axes in camera coordinates
    sx = sigma_fraction * step * z / camera.focal_px
    sy = sigma_fraction * step * z / camera.fy_px
    scales = np.stack([sx, sy, thin_fraction * sx], axis=1)
    rgb = image[np.ix_(ys, xs)][valid].astype(np.float64) / 255.0
    return Splats(
        positions=pos,
        log_scales=np.log(scales),
        rotations=rotation_to_quaternion(rot),
        opacity_logits=np.full(pos.shape[0], math.log(opacity / (1.0 - opacity))),
        f_dc=(rgb - 0.5) / SH_C0,
        units=units,
    )


def splats_from_result(result: DepthResult, *, max_splats: int = 1_000_000) -> tuple[Splats, CameraIntrinsics, bool]:
    """Splats of ``result``'s left view; also the intrinsics used and whether they were assumed."""
    from parallax.scene.mesh import result_camera

    camera, assumed = result_camera(result)
    splats = splats_from_depth(result.image, result.depth, camera, max_splats=max_splats, units=result.depth_units)
    if len(splats) == 0:
        raise ParameterError(f"{result.source or 'the result'} has no pixel with depth; nothing to write as splats")
    return splats, camera, assumed


def write_splat_ply(splats: Splats, path: str | Path, *, comments: tuple[str, ...] = ()) -> None:
    """Write ``splats`` as a binary little-endian 3DGS PLY (layout in the module docstring)."""
    n = len(splats)
    data = np.zeros((n, len(PLY_PROPERTIES)), dtype="<f4")
    data[:, 0:3] = splats.positions
    data[:, 6:9] = splats.f_dc
    data[:, 54] = splats.opacity_logits
    data[:, 55:58] = splats.log_scales
    data[:, 58:62] = splats.rotations
    header = ["ply", "format binary_little_endian 1.0"]
    header += [f"comment {' '.join(c.split())}" for c in comments]
    header += [f"element vertex {n}"] + [f"property float {p}" for p in PLY_PROPERTIES] + ["end_header"]
    with open(path, "wb") as f:
        f.write(("\n".join(header) + "\n").encode("ascii"))
        f.write(data.tobytes())


def camera_comments(camera: CameraIntrinsics, units: str, assumed: bool, source: str) -> tuple[str, ...]:
    """PLY comment lines: units, axes and the camera (so viewers/readers can face the scene)."""
    return (
        "generator parallax",
        f"units {units}",
        "axes OpenCV: x right, y down, z forward; camera at the origin looking down +z",
        f"camera fx {camera.focal_px:.6g} fy {camera.fy_px:.6g} cx {camera.cx_px:.6g} cy {camera.cy_px:.6g} "
        f"width {camera.width} height {camera.height}"
        + (f" (assumed {ASSUMED_HFOV_DEG:g} deg hfov)" if assumed else ""),
        f"source {source}" if source else "source unknown",
    )


def write_splat_output(result: DepthResult, path: Path, options: OutputOptions) -> None:
    """Registry writer: 3DGS PLY (``--format splat``; ``options.extra``: ``max_splats``, default 1 000 000)."""
    splats, camera, assumed = splats_from_result(result, max_splats=option_int(options.extra, "max_splats", 1_000_000))
    write_splat_ply(splats, path, comments=camera_comments(camera, result.depth_units, assumed, result.source))
