"""3D Gaussian splats from a depth map, written as 3DGS PLY (Kerbl et al. 2023 layout).

One splat per valid pixel of the (rectified) left view, or per pixel of a regular
sub-grid with step ``s`` when the image has more than ``max_splats`` pixels;
flat regions are merged into fewer, larger splats (below):

* **position**: the pixel unprojected with its depth, OpenCV axes (x right,
  y down, z forward, the "RDF" frame 3DGS/COLMAP scenes use), metres when depth
  is metric, else relative units (median depth 1);
* **shape**: flat, facing the camera: the two in-plane standard deviations are
  ``sigma_fraction * s * Z / f`` (``fx`` across, ``fy`` down), half the pixel
  footprint at that depth by default, the third (along the view ray)
  ``thin_fraction`` of the first;
* **rotation**: the quaternion ``(w, x, y, z)`` of the frame whose third axis is
  the view ray and whose first axis is the image x axis made orthogonal to it;
* **colour**: SH degree 0, ``f_dc = (rgb - 0.5) / 0.2820948``;
* **opacity**: ``logit(opacity)`` (default opacity 0.95).

**Flat regions** (``merge_levels > 0``): a quadtree over the sub-grid merges a
block of ``2^k x 2^k`` samples (k up to ``merge_levels``) into one splat when all
are valid, their colours lie within ``merge_color`` of each other (0..1 per
channel) and their inverse depth fits a plane (a plane's inverse depth is linear
in the pixel coordinates) within ``merge_plane`` of its mean. The merged splat
lies on that plane at the block's centre; its in-plane axes span the block's
footprint on the plane (with the same ``sigma_fraction``), its colour is the
block's mean.

PLY layout (binary little-endian, float32 each): ``x y z nx ny nz f_dc_0..2
opacity scale_0..2 rot_0..3`` (SH degree 0, the default), or with
``sh_degree=3`` the full layout of the original 3DGS code with ``f_rest_0..44``
(all zero: a photo gives no view-dependent colour) between ``f_dc_2`` and
``opacity``, for tools that expect it. Normals are zero. Comment lines state
the units, axes and camera.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from parallax.capture.types import ASSUMED_HFOV_DEG, CameraIntrinsics, base_names
from parallax.errors import ParameterError
from parallax.outputs.registry import OutputOptions
from parallax.render.options import option_int
from parallax.stereo.types import DepthResult

__all__ = [
    "SH_C0",
    "PLY_PROPERTIES",
    "PLY_PROPERTIES_SH0",
    "ply_properties",
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

_HEAD = ("x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2")
_TAIL = ("opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3")

#: Vertex properties of the full 3DGS PLY (SH degree 3), in file order.
PLY_PROPERTIES: tuple[str, ...] = _HEAD + tuple(f"f_rest_{i}" for i in range(45)) + _TAIL

#: Vertex properties of an SH degree 0 3DGS PLY (what is written by default), in file order.
PLY_PROPERTIES_SH0: tuple[str, ...] = _HEAD + _TAIL


def ply_properties(sh_degree: int) -> tuple[str, ...]:
    """The vertex properties of a 3DGS PLY of SH degree ``sh_degree`` (0 to 3), in file order."""
    if sh_degree not in (0, 1, 2, 3):
        raise ParameterError(f"sh_degree must be 0, 1, 2 or 3, got {sh_degree!r}")
    rest = 3 * ((sh_degree + 1) ** 2 - 1)
    return _HEAD + tuple(f"f_rest_{i}" for i in range(rest)) + _TAIL


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


def _blocks(a: np.ndarray, size: int) -> np.ndarray:
    """``a`` (``gh x gw [x c]``) cut into aligned ``size x size`` blocks: ``nby x nbx x size*size [x c]``."""
    nby, nbx = a.shape[0] // size, a.shape[1] // size
    b = a[: nby * size, : nbx * size].reshape((nby, size, nbx, size) + a.shape[2:])
    b = np.moveaxis(b, 2, 1)
    return b.reshape((nby, nbx, size * size) + a.shape[2:])


def _blocks_any(mask: np.ndarray, size: int) -> np.ndarray:
    return np.asarray(_blocks(mask, size).any(axis=2), dtype=bool)


def _plane_basis(size: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Design matrix ``A`` (``size^2 x 3``: u, v, 1 in pixels about the block centre) and its pseudo-inverse."""
    j = (np.arange(size) - (size - 1) / 2.0) * step
    v, u = np.meshgrid(j, j, indexing="ij")
    a = np.stack([u.ravel(), v.ravel(), np.ones(size * size)], axis=1)
    return a, np.linalg.pinv(a)


def _flat_blocks(inv: np.ndarray, rgb: np.ndarray, size: int, color_tol: float, plane_tol: float) -> np.ndarray:
    """``nby x nbx`` bool: aligned blocks whose samples are all valid, of one colour and on one plane."""
    w = _blocks(inv, size)
    c = _blocks(rgb, size)
    ok = np.isfinite(w).all(axis=2)
    ok &= (c.max(axis=2) - c.min(axis=2) <= color_tol).all(axis=2)
    if not ok.any():
        return ok
    a, pinv = _plane_basis(size, 1)
    wf = np.where(np.isfinite(w), w, 0.0)
    coef = wf @ pinv.T
    resid = np.abs(wf - coef @ a.T).max(axis=2)
    with np.errstate(invalid="ignore"):
        flat = resid <= plane_tol * np.abs(coef[..., 2])
    return np.asarray(ok & flat, dtype=bool)


def _block_splats(
    blocks: np.ndarray,
    size: int,
    inv: np.ndarray,
    rgb: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
    step: int,
    camera: CameraIntrinsics,
    sigma_fraction: float,
    thin_fraction: float,
) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """One splat per selected block, lying on the block's plane; also the blocks actually used."""
    a, pinv = _plane_basis(size, step)
    by, bx = np.nonzero(blocks)
    coef = _blocks(inv, size)[by, bx] @ pinv.T  # inverse depth = cu * u + cv * v + c0, u/v in pixels
    colors = _blocks(rgb, size)[by, bx].mean(axis=1)
    cx = xs[bx * size] + (size - 1) / 2.0 * step
    cy = ys[by * size] + (size - 1) / 2.0 * step
    half = size * step / 2.0

    def point(du: float, dv: float) -> np.ndarray:
        wv = coef[:, 0] * du + coef[:, 1] * dv + coef[:, 2]
        z = 1.0 / np.where(wv > 0, wv, np.nan)
        return np.stack(
            [(cx + du - camera.cx_px) * z / camera.focal_px, (cy + dv - camera.cy_px) * z / camera.fy_px, z], axis=1
        )

    centre = point(0.0, 0.0)
    h1 = (point(half, 0.0) - point(-half, 0.0)) / 2.0
    h2 = (point(0.0, half) - point(0.0, -half)) / 2.0
    ok = np.isfinite(centre).all(axis=1) & np.isfinite(h1).all(axis=1) & np.isfinite(h2).all(axis=1)
    centre, h1, h2, colors = centre[ok], h1[ok], h2[ok], colors[ok]
    normal = np.cross(h1, h2)
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    k = 2.0 * sigma_fraction  # sigma = sigma_fraction * footprint = 2 * sigma_fraction * half footprint
    thin = thin_fraction * k * np.sqrt(np.linalg.norm(h1, axis=1) * np.linalg.norm(h2, axis=1))
    cov = k * k * (h1[:, :, None] * h1[:, None, :] + h2[:, :, None] * h2[:, None, :])
    cov += (thin**2)[:, None, None] * normal[:, :, None] * normal[:, None, :]
    values, vectors = np.linalg.eigh(cov)
    vectors[np.linalg.det(vectors) < 0, :, 0] *= -1.0  # a proper rotation
    scales = np.sqrt(np.maximum(values, 1e-30))
    used = np.zeros(blocks.shape, dtype=bool)
    used[by[ok], bx[ok]] = True
    return (centre, np.log(scales), rotation_to_quaternion(vectors), colors), used


def splats_from_depth(
    image: np.ndarray,
    depth: np.ndarray,
    camera: CameraIntrinsics,
    *,
    max_splats: int = 1_000_000,
    opacity: float = 0.95,
    sigma_fraction: float = 0.5,
    thin_fraction: float = 0.05,
    merge_levels: int = 0,
    merge_color: float = 0.04,
    merge_plane: float = 0.004,
    units: str = "relative",
) -> Splats:
    """One flat Gaussian per (sub-sampled) pixel with depth, flat regions merged (module docstring).

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
        (or the plane's normal) as a fraction of the in-plane sigma.
    merge_levels : int
        Largest merged block is ``2^merge_levels`` samples across (0 = no merging).
    merge_color : float
        Largest colour difference (0..1 per channel) within a merged block.
    merge_plane : float
        Largest deviation of inverse depth from the block's plane, relative to its mean.
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
    if not (isinstance(merge_levels, (int, np.integer)) and 0 <= merge_levels <= 8):
        raise ParameterError(f"merge_levels must be an integer in 0..8, got {merge_levels!r}")
    if not (merge_color >= 0 and merge_plane >= 0):
        raise ParameterError(f"merge_color and merge_plane must be >= 0, got {merge_color!r}, {merge_plane!r}")
    h, w = depth.shape
    step = max(1, math.ceil(math.sqrt(h * w / max_splats)))
    while math.ceil(h / step) * math.ceil(w / step) > max_splats:
        step += 1
    ys = np.arange(0, h, step)
    xs = np.arange(0, w, step)
    z = depth[np.ix_(ys, xs)]
    valid = np.isfinite(z) & (z > 0)
    rgb_grid = image[np.ix_(ys, xs)].astype(np.float64) / 255.0
    inv = np.where(valid, 1.0 / np.where(valid, z, 1.0), np.nan)
    covered = np.zeros(valid.shape, dtype=bool)
    parts: list[tuple[np.ndarray, ...]] = []
    for level in range(int(merge_levels), 0, -1):  # largest blocks first
        size = 2**level
        fresh = _flat_blocks(inv, rgb_grid, size, merge_color, merge_plane) & ~_blocks_any(covered, size)
        if fresh.any():
            made, used = _block_splats(fresh, size, inv, rgb_grid, xs, ys, step, camera, sigma_fraction, thin_fraction)
            parts.append(made)
            mark = np.repeat(np.repeat(used, size, axis=0), size, axis=1)
            covered[: mark.shape[0], : mark.shape[1]] |= mark
    single = valid & ~covered
    gx, gy = np.meshgrid(xs.astype(np.float64), ys.astype(np.float64))
    zs = z[single].astype(np.float64)
    px, py = gx[single], gy[single]
    pos = np.stack([(px - camera.cx_px) * zs / camera.focal_px, (py - camera.cy_px) * zs / camera.fy_px, zs], axis=1)
    ray = pos / np.linalg.norm(pos, axis=1, keepdims=True)
    e1 = np.array([1.0, 0.0, 0.0]) - ray[:, :1] * ray
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(ray, e1)
    rot = np.stack([e1, e2, ray], axis=2)  # columns: local x, y, z axes in camera coordinates
    sx = sigma_fraction * step * zs / camera.focal_px
    sy = sigma_fraction * step * zs / camera.fy_px
    scales = np.stack([sx, sy, thin_fraction * sx], axis=1)
    parts.insert(0, (pos, np.log(scales), rotation_to_quaternion(rot), rgb_grid[single]))
    positions = np.concatenate([p[0] for p in parts], axis=0)
    return Splats(
        positions=positions,
        log_scales=np.concatenate([p[1] for p in parts], axis=0),
        rotations=np.concatenate([p[2] for p in parts], axis=0),
        opacity_logits=np.full(positions.shape[0], math.log(opacity / (1.0 - opacity))),
        f_dc=(np.concatenate([p[3] for p in parts], axis=0) - 0.5) / SH_C0,
        units=units,
    )


def splats_from_result(
    result: DepthResult, *, max_splats: int = 1_000_000, merge_levels: int = 3
) -> tuple[Splats, CameraIntrinsics, bool]:
    """Splats of ``result``'s left view (its valid pixels); also the intrinsics used and whether they were assumed."""
    from parallax.scene.mesh import result_camera

    camera, assumed = result_camera(result)
    splats = splats_from_depth(
        result.image,
        result.depth,
        camera,
        max_splats=max_splats,
        merge_levels=merge_levels,
        units=result.depth_units,
    )
    if len(splats) == 0:
        raise ParameterError(f"{result.source or 'the result'} has no pixel with depth; nothing to write as splats")
    return splats, camera, assumed


def write_splat_ply(splats: Splats, path: str | Path, *, comments: tuple[str, ...] = (), sh_degree: int = 0) -> None:
    """Write ``splats`` as a binary little-endian 3DGS PLY (layout in the module docstring).

    ``sh_degree`` 0 (default) writes no ``f_rest`` properties; 1 to 3 write the
    ``3 * ((degree + 1)^2 - 1)`` higher-band coefficients (zero) for tools that need them.
    """
    names = ply_properties(sh_degree)
    n = len(splats)
    data = np.zeros((n, len(names)), dtype="<f4")
    col = {name: i for i, name in enumerate(names)}
    data[:, col["x"] : col["x"] + 3] = splats.positions
    data[:, col["f_dc_0"] : col["f_dc_0"] + 3] = splats.f_dc
    data[:, col["opacity"]] = splats.opacity_logits
    data[:, col["scale_0"] : col["scale_0"] + 3] = splats.log_scales
    data[:, col["rot_0"] : col["rot_0"] + 4] = splats.rotations
    header = ["ply", "format binary_little_endian 1.0"]
    header += [f"comment {' '.join(c.split())}" for c in comments]
    header += [f"element vertex {n}"] + [f"property float {p}" for p in names] + ["end_header"]
    with open(path, "wb") as f:
        f.write(("\n".join(header) + "\n").encode("ascii", errors="replace"))
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
        f"source {base_names(source)}" if source else "source unknown",
    )


def write_splat_output(result: DepthResult, path: Path, options: OutputOptions) -> None:
    """Registry writer: 3DGS PLY (``--format splat``).

    ``options.extra``: ``max_splats`` (default 1 000 000), ``sh_degree`` (0, the
    default, or 3 for the full 3DGS layout with zero ``f_rest``), ``merge_levels``
    (default 3: flat regions merged into splats of up to 8 x 8 samples; 0 = one splat per sample).
    """
    splats, camera, assumed = splats_from_result(
        result,
        max_splats=option_int(options.extra, "max_splats", 1_000_000),
        merge_levels=option_int(options.extra, "merge_levels", 3, minimum=0),
    )
    sh_degree = option_int(options.extra, "sh_degree", 0, minimum=0)
    write_splat_ply(
        splats,
        path,
        comments=camera_comments(camera, result.depth_units, assumed, result.source),
        sh_degree=sh_degree,
    )
