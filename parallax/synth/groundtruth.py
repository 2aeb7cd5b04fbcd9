"""Ground-truth maps from exact ray hits: depth, disparity, occlusion, normals, reflection mask.

Conventions (``docs/conventions.md``): depth is the distance along the optical
axis (z) in metres; disparity is in pixels with ``x_right = x_left - d`` for the
left view (and ``x_left = x_right + d`` for the right view's own disparity map),
``d = focal_px * baseline_m / Z`` for the parallel rig (``doffs = 0``); normals
are unit vectors in the view's OpenCV camera frame (x right, y down, z forward),
turned to face the camera. NaN = no value (the ray left the scene: sky).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from parallax.errors import ParameterError
from parallax.synth.materials import MATERIAL_KINDS, REFLECTIVE_KINDS

__all__ = [
    "ViewTruth",
    "view_truth",
    "mixed_pixels",
    "disparity_from_depth",
    "occlusion_mask",
    "depth_edges",
    "warp_with_disparity",
    "project_flow",
    "NEAR_Z_M",
]

#: Points nearer to (or behind) a camera than this (metres, along z) do not project: no flow.
NEAR_Z_M = 0.01

_REFLECTIVE_CODES = np.array([k in REFLECTIVE_KINDS for k in MATERIAL_KINDS] + [False])  # last: -1 (no hit)


@dataclass(frozen=True, kw_only=True)
class ViewTruth:
    """Exact ground truth of one (rectified) view.

    Attributes
    ----------
    depth_m : numpy.ndarray
        ``HxW`` float32 z-depth in metres; NaN = no surface (sky).
    disparity_px : numpy.ndarray
        ``HxW`` float32 disparity in pixels (positive); NaN where depth is NaN.
    normals : numpy.ndarray
        ``HxWx3`` float32 unit normals, camera frame (OpenCV), facing the camera; NaN = no surface.
    reflection_mask : numpy.ndarray
        ``HxW`` bool, True where the first hit is a mirror, metal or glass surface
        (its colour comes from reflection or refraction).
    material_kind : numpy.ndarray
        ``HxW`` int8 index into :data:`~parallax.synth.materials.MATERIAL_KINDS`, -1 = no surface.
    mixed_mask : numpy.ndarray
        ``HxW`` bool, True where the pixel's footprint holds more than one surface
        (see :func:`mixed_pixels`): its rendered colour blends them (anti-aliasing),
        and thin structures narrower than a pixel may show in the colour but not in
        the pixel-centre ground truth.
    """

    depth_m: np.ndarray
    disparity_px: np.ndarray
    normals: np.ndarray
    reflection_mask: np.ndarray
    material_kind: np.ndarray
    mixed_mask: np.ndarray


def disparity_from_depth(depth_m: np.ndarray, *, focal_px: float, baseline_m: float) -> np.ndarray:
    """``d = focal_px * baseline_m / Z`` (pixels) for a parallel rig; NaN stays NaN."""
    if not (focal_px > 0 and baseline_m > 0):
        raise ParameterError(f"focal_px and baseline_m must be positive, got {focal_px} and {baseline_m}")
    with np.errstate(divide="ignore", invalid="ignore"):
        return (focal_px * baseline_m / depth_m.astype(np.float64)).astype(np.float32)


def view_truth(
    distance_m: np.ndarray,
    dirs_cam: np.ndarray,
    normal_world: np.ndarray,
    kind: np.ndarray,
    cam_to_world: np.ndarray,
    *,
    focal_px: float,
    baseline_m: float,
    mixed: np.ndarray | None = None,
) -> ViewTruth:
    """Turn ray hits of one view into its ground-truth maps.

    Parameters
    ----------
    distance_m : numpy.ndarray
        ``HxW`` distance from the camera centre to the first hit along each pixel-centre ray; NaN = no hit.
    dirs_cam : numpy.ndarray
        ``HxWx3`` unit ray directions in the camera frame.
    normal_world : numpy.ndarray
        ``HxWx3`` unit surface normals in world coordinates; NaN = no hit.
    kind : numpy.ndarray
        ``HxW`` material-kind codes (-1 = no hit).
    cam_to_world : numpy.ndarray
        4x4 pose of the view (OpenCV axes).
    focal_px, baseline_m : float
        Rig focal length (pixels) and baseline (metres).
    mixed : numpy.ndarray, optional
        ``HxW`` bool mixed-pixel mask (:func:`mixed_pixels`); default: none mixed.
    """
    depth = (distance_m * dirs_cam[..., 2]).astype(np.float32)
    n_cam = normal_world @ cam_to_world[:3, :3]  # R^T n for each pixel
    facing = np.sum(n_cam * dirs_cam, axis=-1, keepdims=True) > 0
    n_cam = np.where(facing, -n_cam, n_cam)
    n_cam /= np.linalg.norm(n_cam, axis=-1, keepdims=True)
    reflective = _REFLECTIVE_CODES[np.where(kind < 0, len(MATERIAL_KINDS), kind)]
    return ViewTruth(
        depth_m=depth,
        disparity_px=disparity_from_depth(depth, focal_px=focal_px, baseline_m=baseline_m),
        normals=n_cam.astype(np.float32),
        reflection_mask=reflective,
        material_kind=kind.astype(np.int8),
        mixed_mask=np.zeros(depth.shape, bool) if mixed is None else np.asarray(mixed, dtype=bool),
    )


def mixed_pixels(depth_centre: np.ndarray, depth_subsamples: list[np.ndarray], *, rel_tol: float = 0.02) -> np.ndarray:
    """Pixels whose footprint holds more than one surface.

    Parameters
    ----------
    depth_centre : numpy.ndarray
        ``HxW`` z-depth at the pixel centres; NaN = no surface.
    depth_subsamples : list of numpy.ndarray
        z-depth maps of rays through other points inside each pixel (e.g. the
        four points ``(+-0.35, +-0.35)`` px from the centre).
    rel_tol : float
        Relative depth difference that counts as another surface. A plane seen at
        a grazing angle changes depth within a pixel too; 2 % stays above that
        for planes tilted less than about 85 degrees at typical resolutions.

    Returns
    -------
    numpy.ndarray
        ``HxW`` bool: a sub-sample hits another surface, or sky where the centre
        hits one (or the other way round).
    """
    mixed = np.zeros(depth_centre.shape, bool)
    c = depth_centre.astype(np.float64)
    for sub in depth_subsamples:
        s = sub.astype(np.float64)
        with np.errstate(invalid="ignore"):
            mixed |= np.isfinite(c) != np.isfinite(s)
            mixed |= np.abs(s - c) > rel_tol * np.fmin(s, c)
    return mixed


def occlusion_mask(
    depth_src: np.ndarray, disparity_src: np.ndarray, depth_dst: np.ndarray, *, sign: int, rel_tol: float = 0.01
) -> np.ndarray:
    """Pixels of the source view whose surface point is not visible in the destination view.

    The point of source pixel ``(x, y)`` lands at ``x' = x + sign * d`` in the
    destination (``sign = -1`` from left to right, ``+1`` from right to left). It is
    visible when ``x'`` is inside the image and the destination depth there
    (linearly interpolated, or at the nearest pixel) matches the source depth
    within ``rel_tol`` (relative). Pixels without a surface (NaN depth) are
    not occluded (they have no ground truth at all).

    Returns
    -------
    numpy.ndarray
        ``HxW`` bool, True = occluded or out of the other view.
    """
    if sign not in (-1, 1):
        raise ParameterError(f"sign must be -1 (left to right) or +1 (right to left), got {sign}")
    h, w = depth_src.shape
    has = np.isfinite(depth_src) & np.isfinite(disparity_src)
    xs = np.arange(w)[None, :] + sign * np.where(has, disparity_src, 0.0).astype(np.float64)
    inside = (xs >= -0.5) & (xs <= w - 0.5)
    x0 = np.clip(np.floor(xs), 0, w - 1).astype(int)
    x1 = np.clip(x0 + 1, 0, w - 1)
    frac = np.clip(xs - x0, 0.0, 1.0)
    rows = np.arange(h)[:, None]
    z0 = depth_dst[rows, x0].astype(np.float64)
    z1 = depth_dst[rows, x1].astype(np.float64)
    zi = z0 * (1 - frac) + z1 * frac
    z = depth_src.astype(np.float64)
    tol = rel_tol * z
    with np.errstate(invalid="ignore"):
        match = (
            (np.abs(zi - z) <= tol)
            | ((frac <= 0.5) & (np.abs(z0 - z) <= tol))
            | ((frac >= 0.5) & (np.abs(z1 - z) <= tol))
        )
    return has & ~(inside & match)


def depth_edges(depth_m: np.ndarray, *, rel_jump: float = 0.05, radius: int = 1) -> np.ndarray:
    """Pixels within ``radius`` of a depth discontinuity (relative jump above ``rel_jump``) or of a no-surface pixel."""
    z = np.where(np.isfinite(depth_m), depth_m, 0).astype(np.float32)
    k = 2 * radius + 1
    zmax = cv2.dilate(z, np.ones((k, k), np.uint8))
    zmin = cv2.erode(np.where(z > 0, z, np.float32(np.inf)), np.ones((k, k), np.uint8))
    with np.errstate(invalid="ignore", divide="ignore"):
        edge = (zmax - zmin) > rel_jump * zmin
    return edge | ~np.isfinite(zmin) | (z == 0)


def warp_with_disparity(image: np.ndarray, disparity_px: np.ndarray, *, sign: int = -1) -> np.ndarray:
    """Resample ``image`` (the other view) at ``x + sign * d`` for every pixel (bilinear).

    With the right view, the left view's disparity and ``sign = -1`` this gives
    the right view seen from the left (``x_right = x_left - d``). NaN disparity
    samples give 0. Returns float32 with the input's channels.
    """
    h, w = disparity_px.shape
    if image.shape[:2] != (h, w):
        raise ParameterError(f"image {image.shape[:2]} and disparity {disparity_px.shape} differ in size")
    map_x = (np.arange(w, dtype=np.float32)[None, :] + sign * np.nan_to_num(disparity_px, nan=-1e6)).astype(np.float32)
    map_y = np.repeat(np.arange(h, dtype=np.float32)[:, None], w, axis=1)
    return cv2.remap(
        image.astype(np.float32),
        map_x,
        map_y,
        interpolation=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


def project_flow(
    points_world: np.ndarray, cam_to_world: np.ndarray, K: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Optical flow of the pixels whose surface points are ``points_world`` once they are seen by another camera.

    Parameters
    ----------
    points_world : numpy.ndarray
        ``HxWx3`` world position (metres), at the *next* frame's time, of the surface
        point seen at each pixel centre of the current frame; NaN = no surface.
    cam_to_world : numpy.ndarray
        4x4 pose of the next frame's camera (OpenCV axes).
    K : numpy.ndarray
        3x3 intrinsics of the next frame's camera (pixels; ``(0, 0)`` = centre of the top-left pixel).

    Returns
    -------
    flow : numpy.ndarray
        ``HxWx2`` float64 ``(dx, dy)`` pixels: pixel ``(x, y)`` moves to ``(x + dx, y + dy)``.
        NaN where there is no point or it is nearer than :data:`NEAR_Z_M` (or behind the camera).
    depth : numpy.ndarray
        ``HxW`` float64 z-depth of each point in the next camera, metres (NaN where the flow is NaN).
    inside : numpy.ndarray
        ``HxW`` bool: the point projects inside the next frame (``-0.5 <= x < W - 0.5``, same for y).
    """
    h, w = points_world.shape[:2]
    R, c = cam_to_world[:3, :3], cam_to_world[:3, 3]
    pc = (points_world.reshape(-1, 3).astype(np.float64) - c) @ R  # R^T (X - c) for each row
    z = pc[:, 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = np.isfinite(z) & (z > NEAR_Z_M)
        u = np.where(ok, K[0, 0] * pc[:, 0] / z + K[0, 1] * pc[:, 1] / z + K[0, 2], np.nan)
        v = np.where(ok, K[1, 1] * pc[:, 1] / z + K[1, 2], np.nan)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    flow = np.stack([u.reshape(h, w) - xs, v.reshape(h, w) - ys], axis=-1)
    depth = np.where(ok, z, np.nan).reshape(h, w)
    uu, vv = u.reshape(h, w), v.reshape(h, w)
    with np.errstate(invalid="ignore"):
        inside = (uu >= -0.5) & (uu < w - 0.5) & (vv >= -0.5) & (vv < h - 0.5)
    return flow, depth, inside
