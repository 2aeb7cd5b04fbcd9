"""The synthetic stereo rig: intrinsics, poses, and an optional rectification error.

World frame: right-handed, metres, **y up** (the scene generator's frame).
Camera frames: OpenCV (x right, y down, z forward). Poses are 4x4
camera-to-world matrices. The rig is parallel: the rectified right camera sits
``baseline_m`` along the left camera's +x axis with the same orientation, so a
point at depth ``Z`` has disparity ``d = focal_px * baseline_m / Z`` and
``x_right = x_left - d`` (``doffs = 0``).

A rectification error rotates the *delivered* right camera by a small
``rect_error_rotation`` ``R_err`` about its centre (camera-to-camera, applied in
the right camera's frame). The residual homography ``H = K R_err K^-1`` maps
pixels of the delivered right view to the rectified right view; the ground truth
refers to the rectified rig.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from parallax.errors import ParameterError

__all__ = ["StereoRig", "look_rotation", "axis_angle_matrix", "pixel_rays"]

View = Literal["left", "right", "right_delivered"]


def axis_angle_matrix(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    """Rotation matrix (3x3 float64) of ``angle_rad`` about ``axis`` (right-hand rule)."""
    axis = np.asarray(axis, dtype=np.float64)
    norm = np.linalg.norm(axis)
    if norm == 0:
        return np.eye(3)
    x, y, z = axis / norm
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    C = 1 - c
    return np.array(
        [
            [c + x * x * C, x * y * C - z * s, x * z * C + y * s],
            [y * x * C + z * s, c + y * y * C, y * z * C - x * s],
            [z * x * C - y * s, z * y * C + x * s, c + z * z * C],
        ]
    )


def look_rotation(
    forward: np.ndarray, *, up: tuple[float, float, float] = (0.0, 1.0, 0.0), roll_rad: float = 0.0
) -> np.ndarray:
    """Camera-to-world rotation (3x3, OpenCV camera axes as columns) looking along ``forward``.

    ``up`` is the world's up direction (y up); the camera's y axis points down
    in the image. ``roll_rad`` turns the camera about its optical axis.
    """
    f = np.asarray(forward, dtype=np.float64)
    f = f / np.linalg.norm(f)
    right = np.cross(f, np.asarray(up, dtype=np.float64))
    if np.linalg.norm(right) < 1e-9:
        raise ParameterError(f"camera forward direction {forward!r} is parallel to up; tilt it")
    right /= np.linalg.norm(right)
    down = np.cross(f, right)
    R = np.stack([right, down, f], axis=1)
    return R @ axis_angle_matrix(np.array([0.0, 0.0, 1.0]), roll_rad)


def _pose(R: np.ndarray, c: np.ndarray) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = c
    return T


@dataclass(frozen=True, kw_only=True)
class StereoRig:
    """A parallel stereo rig with square pixels and centred principal points.

    Parameters
    ----------
    width, height : int
        View size in pixels.
    focal_px : float
        Focal length in pixels (``fx = fy``).
    baseline_m : float
        Distance between the camera centres in metres (> 0).
    left_to_world : numpy.ndarray
        4x4 pose of the left camera (OpenCV axes) in the world frame (y up).
    rect_error_rotation : numpy.ndarray
        3x3 rotation of the delivered right camera relative to the rectified one
        (identity: no error).
    """

    width: int
    height: int
    focal_px: float
    baseline_m: float
    left_to_world: np.ndarray
    rect_error_rotation: np.ndarray

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1:
            raise ParameterError(f"rig size must be positive, got {self.width}x{self.height}")
        if not (math.isfinite(self.focal_px) and self.focal_px > 0):
            raise ParameterError(f"rig focal_px must be positive, got {self.focal_px!r}")
        if not (math.isfinite(self.baseline_m) and self.baseline_m > 0):
            raise ParameterError(f"rig baseline_m must be positive, got {self.baseline_m!r}")
        pose = np.asarray(self.left_to_world, dtype=np.float64)
        R = np.asarray(self.rect_error_rotation, dtype=np.float64)
        if pose.shape != (4, 4) or not np.allclose(pose[:3, :3] @ pose[:3, :3].T, np.eye(3), atol=1e-6):
            raise ParameterError("rig left_to_world must be a 4x4 rigid transform")
        if R.shape != (3, 3) or not np.allclose(R @ R.T, np.eye(3), atol=1e-6):
            raise ParameterError("rig rect_error_rotation must be a 3x3 rotation matrix")
        object.__setattr__(self, "left_to_world", pose)
        object.__setattr__(self, "rect_error_rotation", R)

    @property
    def cx_px(self) -> float:
        """Principal point x (OpenCV: the centre of the top-left pixel is 0)."""
        return (self.width - 1) / 2.0

    @property
    def cy_px(self) -> float:
        """Principal point y."""
        return (self.height - 1) / 2.0

    @property
    def K(self) -> np.ndarray:
        """3x3 camera matrix of both (rectified) views."""
        return np.array([[self.focal_px, 0, self.cx_px], [0, self.focal_px, self.cy_px], [0, 0, 1.0]])

    @property
    def hfov_deg(self) -> float:
        """Horizontal field of view in degrees."""
        return math.degrees(2 * math.atan(self.width / (2 * self.focal_px)))

    @property
    def rect_error_deg(self) -> float:
        """Angle of the rectification error rotation in degrees."""
        return math.degrees(math.acos(float(np.clip((np.trace(self.rect_error_rotation) - 1) / 2, -1, 1))))

    def pose(self, view: View) -> np.ndarray:
        """4x4 camera-to-world pose of ``view``: ``"left"``, ``"right"`` (rectified) or ``"right_delivered"``."""
        R = self.left_to_world[:3, :3]
        c = self.left_to_world[:3, 3]
        if view == "left":
            return self.left_to_world.copy()
        right_c = c + self.baseline_m * R[:, 0]
        if view == "right":
            return _pose(R, right_c)
        if view == "right_delivered":
            return _pose(R @ self.rect_error_rotation, right_c)
        raise ParameterError(f"unknown view {view!r}; use left, right or right_delivered")

    @property
    def H_right_residual(self) -> np.ndarray:
        """Homography from delivered right-view pixels to rectified right-view pixels (``K R_err K^-1``)."""
        K = self.K
        return K @ self.rect_error_rotation @ np.linalg.inv(K)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (for ``meta.json`` ``lineage.rig``)."""
        return {
            "world_frame": "right-handed, metres, y up",
            "camera_axes": "opencv: x right, y down, z forward; poses are camera-to-world 4x4",
            "width": int(self.width),
            "height": int(self.height),
            "K": self.K.tolist(),
            "focal_px": float(self.focal_px),
            "hfov_deg": self.hfov_deg,
            "baseline_m": float(self.baseline_m),
            "doffs_px": 0.0,
            "pose_left": self.pose("left").tolist(),
            "pose_right": self.pose("right").tolist(),
            "pose_right_delivered": self.pose("right_delivered").tolist(),
            "rect_error_deg": self.rect_error_deg,
            "rect_error_rotation": self.rect_error_rotation.tolist(),
            "H_right_residual": self.H_right_residual.tolist(),
            "H_right_residual_meaning": "maps delivered right-view pixels to rectified right-view pixels; GT is for the rectified rig",
        }


def pixel_rays(
    rig: StereoRig, view: View, *, offset_px: tuple[float, float] = (0.0, 0.0)
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rays through the pixel centres of ``view`` (shifted by ``offset_px = (dx, dy)`` pixels, to sample inside pixels).

    Returns
    -------
    origin : numpy.ndarray
        ``(3,)`` camera centre in world coordinates (metres).
    dirs_world : numpy.ndarray
        ``HxWx3`` float64 unit directions in world coordinates.
    dirs_cam : numpy.ndarray
        ``HxWx3`` float64 unit directions in the camera frame (OpenCV axes); ``Z = t * dirs_cam[..., 2]``
        for a hit at distance ``t``.
    """
    pose = rig.pose(view)
    ys, xs = np.mgrid[0 : rig.height, 0 : rig.width].astype(np.float64)
    xs += float(offset_px[0])
    ys += float(offset_px[1])
    d = np.stack([(xs - rig.cx_px) / rig.focal_px, (ys - rig.cy_px) / rig.focal_px, np.ones_like(xs)], axis=-1)
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    return pose[:3, 3].copy(), d @ pose[:3, :3].T, d
