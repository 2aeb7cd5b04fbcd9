"""Stereo visual odometry: the camera's pose in every frame of a clip.

Keyframe-based, PnP on tracked corners (the classic stereo VO of Nistér et
al. 2004 and its descendants):

1. **Keyframe.** Shi-Tomasi corners of the left view where the frame's
   (fused) disparity is confident are lifted to 3D with that disparity,
   ``Z = f B / (d + doffs)``, in the keyframe's camera coordinates.
2. **Track.** Each new frame tracks the corners from the previous frame with
   pyramidal Lucas-Kanade; a track survives only if tracking back lands
   within ``fb_max_px`` of where it started.
3. **Pose.** PnP-RANSAC (``ransac_px``) between the keyframe's 3D points and
   the tracked 2D positions gives the motion from the keyframe, refined with
   Levenberg-Marquardt on the inliers; points on moving objects fail RANSAC and
   are dropped from the tracks. The pose is the keyframe's pose composed
   with that motion, so a still camera stays exactly where it was.
4. **New keyframe** when fewer than ``keyframe_ratio`` of the keyframe's
   points, or fewer than ``keyframe_min_tracks``, are still inliers; after a
   failure (too few inliers) the pose is held and the frame becomes the next
   keyframe (``status="lost"``).

Poses are 4x4 camera-to-world matrices in OpenCV camera axes (x right, y
down, z forward); the world is the first frame's camera. Translations are in
the unit of ``baseline`` (metres when it is the metric baseline; 1 gives
translations in baselines). The quality figures are the RANSAC inliers and
their RMS reprojection error in pixels of the views given.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np

from parallax.capture.types import CameraIntrinsics, check_image
from parallax.errors import ParameterError

__all__ = [
    "OdometrySettings",
    "PoseEstimate",
    "StereoOdometry",
    "rotation_angle_deg",
    "rotation_to_quaternion",
    "trajectory_quality",
]

PoseStatus = Literal["first", "tracked", "lost"]


@dataclass(frozen=True, kw_only=True)
class OdometrySettings:
    """Parameters of :class:`StereoOdometry` (pixels of the views it is given).

    Parameters
    ----------
    max_corners : int
        Corners detected per keyframe.
    min_distance_px : float
        Smallest distance between corners.
    quality_level : float
        Shi-Tomasi quality relative to the best corner.
    min_confidence : float
        Disparity confidence a corner needs to be lifted to 3D.
    min_disparity_px : float
        Smallest ``d + doffs`` of a lifted corner (farther points constrain translation poorly).
    fb_max_px : float
        Largest forward-backward tracking error of a kept track.
    ransac_px : float
        PnP-RANSAC inlier threshold (reprojection error).
    min_inliers : int
        Fewer inliers than this and the frame is ``"lost"``.
    keyframe_ratio : float
        A new keyframe is made when fewer than this share of the keyframe's points remain inliers.
    keyframe_min_tracks : int
        ... or fewer than this many.
    """

    max_corners: int = 800
    min_distance_px: float = 7.0
    quality_level: float = 0.005
    min_confidence: float = 0.1
    min_disparity_px: float = 0.5
    fb_max_px: float = 1.0
    ransac_px: float = 1.5
    min_inliers: int = 12
    keyframe_ratio: float = 0.6
    keyframe_min_tracks: int = 120

    def __post_init__(self) -> None:
        if not (isinstance(self.max_corners, int) and self.max_corners >= 8):
            raise ParameterError(f"max_corners must be an integer >= 8, got {self.max_corners!r}")
        if not (isinstance(self.min_inliers, int) and 4 <= self.min_inliers <= self.max_corners):
            raise ParameterError(f"min_inliers must be an integer in 4..max_corners, got {self.min_inliers!r}")
        if not (isinstance(self.keyframe_min_tracks, int) and self.keyframe_min_tracks >= 0):
            raise ParameterError(f"keyframe_min_tracks must be an integer >= 0, got {self.keyframe_min_tracks!r}")
        for name in (
            "min_distance_px",
            "quality_level",
            "min_confidence",
            "min_disparity_px",
            "fb_max_px",
            "ransac_px",
        ):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ParameterError(f"{name} must be a finite number >= 0, got {value!r}")
        if not (0.0 <= self.keyframe_ratio <= 1.0):
            raise ParameterError(f"keyframe_ratio must be in [0, 1], got {self.keyframe_ratio!r}")


@dataclass(frozen=True, kw_only=True)
class PoseEstimate:
    """The camera pose of one frame and how well it was measured.

    Parameters
    ----------
    camera_to_world : numpy.ndarray
        4x4 float64 rigid transform, OpenCV camera axes; the world is the first frame's camera.
    status : {"first", "tracked", "lost"}
        ``"lost"``: too few inliers, the previous pose was kept.
    keyframe : bool
        Whether this frame became a keyframe.
    tracked : int
        Tracks that reached this frame.
    inliers : int
        PnP-RANSAC inliers among them.
    reprojection_error_px : float or None
        RMS reprojection error of the inliers (pixels of the processed views); ``None`` if not measured.
    """

    camera_to_world: np.ndarray
    status: PoseStatus
    keyframe: bool = False
    tracked: int = 0
    inliers: int = 0
    reprojection_error_px: float | None = None

    def __post_init__(self) -> None:
        m = np.array(self.camera_to_world, dtype=np.float64)
        if m.shape != (4, 4) or not np.all(np.isfinite(m)):
            raise ParameterError(f"camera_to_world must be a finite 4x4 matrix, got shape {m.shape}")
        m.setflags(write=False)
        object.__setattr__(self, "camera_to_world", m)
        if self.status not in ("first", "tracked", "lost"):
            raise ParameterError(f"status must be first, tracked or lost, got {self.status!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``poses.json`` entries add the frame index and timestamp)."""
        return {
            "camera_to_world": self.camera_to_world.tolist(),
            "status": self.status,
            "keyframe": bool(self.keyframe),
            "tracked": int(self.tracked),
            "inliers": int(self.inliers),
            "reprojection_error_px": self.reprojection_error_px,
        }


def rotation_angle_deg(rotation: np.ndarray) -> float:
    """Angle of a 3x3 rotation matrix, degrees."""
    c = (float(np.trace(np.asarray(rotation)[:3, :3])) - 1.0) / 2.0
    return math.degrees(math.acos(min(1.0, max(-1.0, c))))


def rotation_to_quaternion(rotation: np.ndarray) -> tuple[float, float, float, float]:
    """Unit quaternion ``(w, x, y, z)`` (w first, ``docs/conventions.md``) of a 3x3 rotation, ``w >= 0``."""
    r = np.asarray(rotation, dtype=np.float64)[:3, :3]
    t = np.trace(r)
    if t > 0:
        s = math.sqrt(t + 1.0) * 2.0
        q = (0.25 * s, (r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s)
    elif r[0, 0] > r[1, 1] and r[0, 0] > r[2, 2]:
        s = math.sqrt(1.0 + r[0, 0] - r[1, 1] - r[2, 2]) * 2.0
        q = ((r[2, 1] - r[1, 2]) / s, 0.25 * s, (r[0, 1] + r[1, 0]) / s, (r[0, 2] + r[2, 0]) / s)
    elif r[1, 1] > r[2, 2]:
        s = math.sqrt(1.0 + r[1, 1] - r[0, 0] - r[2, 2]) * 2.0
        q = ((r[0, 2] - r[2, 0]) / s, (r[0, 1] + r[1, 0]) / s, 0.25 * s, (r[1, 2] + r[2, 1]) / s)
    else:
        s = math.sqrt(1.0 + r[2, 2] - r[0, 0] - r[1, 1]) * 2.0
        q = ((r[1, 0] - r[0, 1]) / s, (r[0, 2] + r[2, 0]) / s, (r[1, 2] + r[2, 1]) / s, 0.25 * s)
    arr = np.array(q) / np.linalg.norm(q)
    if arr[0] < 0:
        arr = -arr
    return float(arr[0]), float(arr[1]), float(arr[2]), float(arr[3])


def trajectory_quality(poses: Sequence[PoseEstimate]) -> dict[str, Any]:
    """Clip-level quality of a trajectory: frames tracked, lost, keyframes, inliers and errors (medians)."""
    tracked = [p for p in poses if p.status == "tracked"]
    errors = [p.reprojection_error_px for p in tracked if p.reprojection_error_px is not None]
    return {
        "frames": len(poses),
        "tracked": len(tracked),
        "lost": sum(p.status == "lost" for p in poses),
        "keyframes": sum(bool(p.keyframe) for p in poses),
        "median_inliers": float(np.median([p.inliers for p in tracked])) if tracked else None,
        "min_inliers": int(min(p.inliers for p in tracked)) if tracked else None,
        "median_reprojection_error_px": float(np.median(errors)) if errors else None,
        "max_reprojection_error_px": float(max(errors)) if errors else None,
    }


def _lk(first: np.ndarray, second: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pyramidal Lucas-Kanade: positions of ``points`` (``Nx1x2`` float32) in ``second`` and a status per point."""
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01)
    moved, status, _ = cv2.calcOpticalFlowPyrLK(
        first, second, points, np.empty_like(points), winSize=(21, 21), maxLevel=3, criteria=criteria
    )
    return np.asarray(moved, dtype=np.float32), np.asarray(status)


def _invert(m: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    r, t = m[:3, :3], m[:3, 3]
    out[:3, :3] = r.T
    out[:3, 3] = -r.T @ t
    return out


def _rigid(rvec: np.ndarray, tvec: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = cv2.Rodrigues(rvec)[0]
    out[:3, 3] = np.asarray(tvec, dtype=np.float64).ravel()
    return out


class StereoOdometry:
    """Frame-by-frame stereo visual odometry (see the module docstring).

    Call :meth:`track` with each new left view (it returns the pose), then
    :meth:`commit` with the frame's disparity once it is known (it makes
    keyframes). Memory is bounded: one keyframe and the previous frame.

    Parameters
    ----------
    camera : CameraIntrinsics
        Intrinsics of the rectified left view at the size the views are given.
    baseline : float
        Baseline, in the unit translations should have (metres; 1 for baselines).
    doffs_px : float
        Disparity offset of the rectified pair (``Z = f B / (d + doffs)``), pixels.
    settings : OdometrySettings, optional
    """

    def __init__(
        self,
        camera: CameraIntrinsics,
        *,
        baseline: float = 1.0,
        doffs_px: float = 0.0,
        settings: OdometrySettings | None = None,
    ) -> None:
        if not (isinstance(baseline, (int, float)) and math.isfinite(baseline) and baseline > 0):
            raise ParameterError(f"baseline must be a positive number, got {baseline!r}")
        if not math.isfinite(doffs_px):
            raise ParameterError(f"doffs_px must be finite, got {doffs_px!r}")
        self.camera = camera
        self.baseline = float(baseline)
        self.doffs_px = float(doffs_px)
        self.settings = settings or OdometrySettings()
        self._K = camera.K
        self._prev_grey: np.ndarray | None = None
        self._pose = np.eye(4)
        self._kf_pose = np.eye(4)
        self._kf_points = np.zeros((0, 3))
        self._kf_count = 0
        self._tracks = np.zeros((0, 2), dtype=np.float32)
        self._motion = np.eye(4)  # keyframe camera -> current camera
        self._need_keyframe = True

    @property
    def pose(self) -> np.ndarray:
        """The latest camera-to-world pose (4x4)."""
        return self._pose.copy()

    def _lift(self, xy: np.ndarray, disparity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """3D points (camera coordinates) of pixels ``xy`` from ``disparity``; and which were liftable."""
        cam = self.camera
        h, w = disparity.shape
        xi = np.clip(np.round(xy[:, 0]).astype(int), 0, w - 1)
        yi = np.clip(np.round(xy[:, 1]).astype(int), 0, h - 1)
        d = disparity[yi, xi].astype(np.float64) + self.doffs_px
        ok = np.isfinite(d) & (d >= max(self.settings.min_disparity_px, 1e-6))
        z = np.where(ok, cam.focal_px * self.baseline / np.where(ok, d, 1.0), np.nan)
        x = (xy[:, 0] - cam.cx_px) * z / cam.focal_px
        y = (xy[:, 1] - cam.cy_px) * z / cam.fy_px
        return np.stack([x, y, z], axis=1), ok

    def track(self, left: np.ndarray) -> PoseEstimate:
        """Estimate the pose of a new frame from its rectified left view (``HxWx3`` uint8 RGB)."""
        s = self.settings
        grey = cv2.cvtColor(check_image("left", left), cv2.COLOR_RGB2GRAY)
        prev = self._prev_grey
        self._prev_grey = grey
        if prev is None or prev.shape != grey.shape:
            self._pose = np.eye(4) if prev is None else self._pose
            self._need_keyframe = True
            return PoseEstimate(camera_to_world=self._pose, status="first", keyframe=True)
        tracked, inliers, error = 0, 0, None
        if len(self._tracks) >= s.min_inliers:
            p0 = self._tracks.reshape(-1, 1, 2)
            p1, st1 = _lk(prev, grey, p0)
            back, st2 = _lk(grey, prev, p1)
            fb = np.linalg.norm((back - p0).reshape(-1, 2), axis=1)
            h, w = grey.shape
            p1 = p1.reshape(-1, 2)
            good = (
                (st1.ravel() == 1)
                & (st2.ravel() == 1)
                & (fb <= s.fb_max_px)
                & (p1[:, 0] >= 0)
                & (p1[:, 0] <= w - 1)
                & (p1[:, 1] >= 0)
                & (p1[:, 1] <= h - 1)
            )
            tracked = int(good.sum())
            self._tracks, self._kf_points = p1[good].astype(np.float32), self._kf_points[good]
        if tracked >= s.min_inliers:
            rvec = np.asarray(cv2.Rodrigues(self._motion[:3, :3])[0])
            tvec = self._motion[:3, 3].reshape(3, 1).copy()
            ok, rvec_found, tvec_found, idx = cv2.solvePnPRansac(
                self._kf_points,
                self._tracks.astype(np.float64),
                self._K,
                None,
                rvec=rvec,
                tvec=tvec,
                useExtrinsicGuess=True,
                iterationsCount=200,
                reprojectionError=s.ransac_px,
                confidence=0.999,
                flags=cv2.SOLVEPNP_ITERATIVE,
            )
            if ok and idx is not None and len(idx) >= s.min_inliers:
                idx = idx.ravel()
                obj, img = self._kf_points[idx], self._tracks[idx].astype(np.float64)
                refined = cv2.solvePnPRefineLM(
                    obj, img, self._K, None, np.asarray(rvec_found).copy(), np.asarray(tvec_found).copy()
                )
                rvec, tvec = np.asarray(refined[0]), np.asarray(refined[1])
                proj = cv2.projectPoints(obj, rvec, tvec, self._K, None)[0].reshape(-1, 2)
                error = float(np.sqrt(np.mean(np.sum((proj - img) ** 2, axis=1))))
                inliers = len(idx)
                self._tracks, self._kf_points = self._tracks[idx], self._kf_points[idx]
                self._motion = _rigid(rvec, tvec)
        if inliers < s.min_inliers:
            self._need_keyframe = True
            return PoseEstimate(
                camera_to_world=self._pose, status="lost", keyframe=True, tracked=tracked, inliers=inliers
            )
        self._pose = self._kf_pose @ _invert(self._motion)
        self._need_keyframe = inliers < s.keyframe_ratio * self._kf_count or inliers < s.keyframe_min_tracks
        return PoseEstimate(
            camera_to_world=self._pose,
            status="tracked",
            keyframe=self._need_keyframe,
            tracked=tracked,
            inliers=inliers,
            reprojection_error_px=error,
        )

    def commit(self, disparity_px: np.ndarray, confidence: np.ndarray | None = None) -> None:
        """Give the disparity of the frame last tracked; makes it a keyframe when one is due.

        Parameters
        ----------
        disparity_px : numpy.ndarray
            ``HxW`` disparity of the frame's left view (NaN = no value), same size as the views.
        confidence : numpy.ndarray, optional
            ``HxW`` confidence in [0, 1]; corners need ``min_confidence``.
        """
        grey = self._prev_grey
        if grey is None:
            raise ParameterError("StereoOdometry.commit: call track() with the frame first")
        d = np.asarray(disparity_px, dtype=np.float32)
        if d.shape != grey.shape:
            raise ParameterError(f"disparity {d.shape} must have the size of the views {grey.shape}")
        if not self._need_keyframe:
            return
        s = self.settings
        usable = np.isfinite(d) & (d + self.doffs_px >= s.min_disparity_px)
        if confidence is not None:
            usable &= np.asarray(confidence) >= s.min_confidence
        mask = usable.astype(np.uint8) * 255
        corners = cv2.goodFeaturesToTrack(
            grey,
            maxCorners=s.max_corners,
            qualityLevel=s.quality_level,
            minDistance=s.min_distance_px,
            mask=mask,
            blockSize=5,
        )
        xy = np.zeros((0, 2), dtype=np.float32) if corners is None else corners.reshape(-1, 2).astype(np.float32)
        points, ok = self._lift(xy, d)
        self._tracks, self._kf_points = xy[ok], points[ok]
        self._kf_count = int(ok.sum())
        self._kf_pose = self._pose.copy()
        self._motion = np.eye(4)
        self._need_keyframe = False

    def relative_motion(self, previous_pose: np.ndarray) -> np.ndarray:
        """4x4 transform from the camera coordinates of ``previous_pose`` to the latest pose's."""
        return _invert(self._pose) @ np.asarray(previous_pose, dtype=np.float64)
