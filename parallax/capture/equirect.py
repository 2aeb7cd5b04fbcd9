"""Equirectangular stereo -> rectified pinhole views: the virtual camera and its remap tables.

360° and VR180 stereo media (top-bottom 360 video, side-by-side VR180 video,
Google VR photos) store each eye as an equirectangular image: longitude runs
left to right, latitude top to bottom, at a constant number of pixels per
degree. Stereo matching needs pinhole views, so the readers cut one forward
crop out of each eye (as Stereo4D does), through the *same* virtual camera for
both eyes: same intrinsics, same rotation. The two crops are then a rectified
pair: a point at infinity lands on the same pixel in both (zero disparity, zero
vertical offset), and the rig's horizontal baseline gives horizontal disparity
only near the view centre's row.

Conventions
-----------
* Sphere axes are OpenCV's camera axes at yaw = pitch = 0: x right, y down,
  z forward. Forward (longitude 0, latitude 0) is the centre of the full
  equirectangular frame. Longitude grows to the right (``lon = atan2(x, z)``),
  latitude grows upward (``lat = atan2(-y, hypot(x, z))``).
* A frame may hold only part of the sphere (Spherical V2 ``equi`` bounds,
  V1 / GPano ``CroppedArea*``): :class:`EquirectCrop` gives the fraction cut
  away at each edge of the full 360x180° projection. VR180 is ``left = right
  = 0.25``.
* Pixel ``(x, y)`` of an equirectangular eye image of ``W x H`` has its centre
  at ``lon = lon_min + (x + 0.5) * lon_span / W`` (and likewise for latitude):
  pixel edges, not centres, sit on the crop bounds.
* The virtual camera (:class:`VirtualCamera`) looks along yaw (positive to the
  right) and pitch (positive up), with no roll; its rotation ``R`` maps camera
  rays to sphere directions (``d_sphere = R @ d_camera``), ``R = R_yaw @ R_pitch``.
  Its intrinsics are a centred pinhole with square pixels and a square image:
  ``f = width / (2 tan(hfov / 2))``, ``cx = cy = (width - 1) / 2``.
* The default view width keeps the source's angular resolution at the view
  centre: ``f = W_full / (2 pi)`` pixels per radian, ``W_full`` the width the
  eye image would have over 360°.

Pixels of the view that fall outside the part of the sphere the frame holds
are black; :attr:`EquirectReprojector.coverage` says which fraction is inside.
Tables are computed once (:class:`EquirectReprojector`) and applied per frame
with ``cv2.remap`` (bilinear, 1/32-pixel fixed-point maps).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from parallax.capture.types import CameraIntrinsics
from parallax.errors import InputFileError, ParameterError

__all__ = [
    "VirtualCamera",
    "EquirectCrop",
    "EquirectReprojector",
    "camera_rotation",
    "default_view_width",
    "MIN_VIEW_WIDTH",
    "MAX_VIEW_WIDTH",
]

MIN_VIEW_WIDTH = 64
MAX_VIEW_WIDTH = 4096


@dataclass(frozen=True, kw_only=True)
class VirtualCamera:
    """The pinhole camera an equirectangular source is reprojected into.

    Parameters
    ----------
    hfov_deg : float
        Horizontal (= vertical: the view is square) field of view, degrees, in [10, 170].
    yaw_deg : float
        Viewing direction, degrees to the right of the frame centre, in [-180, 180].
    pitch_deg : float
        Viewing direction, degrees above the horizon, in [-90, 90].
    width : int, optional
        View width (= height) in pixels; ``None`` keeps the source's angular
        resolution at the view centre (see the module docstring).
    """

    hfov_deg: float = 90.0
    yaw_deg: float = 0.0
    pitch_deg: float = 0.0
    width: int | None = None

    def __post_init__(self) -> None:
        for name in ("hfov_deg", "yaw_deg", "pitch_deg"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ParameterError(f"{name} must be a finite number of degrees, got {value!r}")
        if not (10.0 <= self.hfov_deg <= 170.0):
            raise ParameterError(f"hfov_deg must be in [10, 170] degrees for a pinhole view, got {self.hfov_deg!r}")
        if not (-180.0 <= self.yaw_deg <= 180.0) or not (-90.0 <= self.pitch_deg <= 90.0):
            raise ParameterError(
                f"yaw_deg must be in [-180, 180] and pitch_deg in [-90, 90], got {self.yaw_deg!r}, {self.pitch_deg!r}"
            )
        if self.width is not None and (
            not isinstance(self.width, int) or not MIN_VIEW_WIDTH // 4 <= self.width <= MAX_VIEW_WIDTH
        ):
            raise ParameterError(
                f"view width must be an integer in [{MIN_VIEW_WIDTH // 4}, {MAX_VIEW_WIDTH}] pixels or None, "
                f"got {self.width!r}"
            )


@dataclass(frozen=True, kw_only=True)
class EquirectCrop:
    """The part of the full 360x180° equirectangular projection a frame holds: fractions cut at each edge."""

    top: float = 0.0
    bottom: float = 0.0
    left: float = 0.0
    right: float = 0.0

    def __post_init__(self) -> None:
        values = (self.top, self.bottom, self.left, self.right)
        if not all(math.isfinite(v) and 0.0 <= v < 1.0 for v in values) or self.left + self.right >= 0.999:
            raise InputFileError(f"equirectangular crop bounds {values} leave no image; the file's metadata is corrupt")
        if self.top + self.bottom >= 0.999:
            raise InputFileError(f"equirectangular crop bounds {values} leave no image; the file's metadata is corrupt")

    @property
    def lon_range_deg(self) -> tuple[float, float]:
        """Longitudes of the frame's left and right edges, degrees."""
        return -180.0 + 360.0 * self.left, 180.0 - 360.0 * self.right

    @property
    def lat_range_deg(self) -> tuple[float, float]:
        """Latitudes of the frame's top and bottom edges, degrees."""
        return 90.0 - 180.0 * self.top, -90.0 + 180.0 * self.bottom

    @property
    def is_full(self) -> bool:
        """True when the frame wraps all the way round (360° wide)."""
        return self.left + self.right < 1e-6

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (fractions and the angular ranges they give)."""
        return {
            "top": self.top,
            "bottom": self.bottom,
            "left": self.left,
            "right": self.right,
            "lon_range_deg": list(self.lon_range_deg),
            "lat_range_deg": list(self.lat_range_deg),
        }


def camera_rotation(yaw_deg: float, pitch_deg: float) -> np.ndarray:
    """``R = R_yaw @ R_pitch`` (3x3 float64): camera rays to sphere directions (see the module docstring)."""
    yaw, pitch = math.radians(yaw_deg), math.radians(pitch_deg)
    r_yaw = np.array([[math.cos(yaw), 0.0, math.sin(yaw)], [0.0, 1.0, 0.0], [-math.sin(yaw), 0.0, math.cos(yaw)]])
    r_pitch = np.array(
        [[1.0, 0.0, 0.0], [0.0, math.cos(pitch), -math.sin(pitch)], [0.0, math.sin(pitch), math.cos(pitch)]]
    )
    return r_yaw @ r_pitch


def default_view_width(eye_width: int, crop: EquirectCrop, hfov_deg: float) -> int:
    """View width that keeps the source's pixels per radian at the view centre, clamped to [64, 4096]."""
    full_width = eye_width / (1.0 - crop.left - crop.right)
    focal = full_width / (2.0 * math.pi)
    width = round(2.0 * focal * math.tan(math.radians(hfov_deg) / 2.0))
    return int(min(MAX_VIEW_WIDTH, max(MIN_VIEW_WIDTH, width)))


class EquirectReprojector:
    """Remap tables from one equirectangular eye image (``eye_width x eye_height``) to the virtual pinhole view.

    Built once per clip (or photo); :meth:`__call__` reprojects one eye image.
    """

    def __init__(self, *, eye_width: int, eye_height: int, crop: EquirectCrop, camera: VirtualCamera) -> None:
        if eye_width < 2 or eye_height < 2:
            raise InputFileError(f"an equirectangular eye image of {eye_width}x{eye_height} pixels is too small")
        self.eye_width, self.eye_height, self.crop, self.camera = eye_width, eye_height, crop, camera
        width = camera.width or default_view_width(eye_width, crop, camera.hfov_deg)
        self.intrinsics = CameraIntrinsics.from_hfov(hfov_deg=camera.hfov_deg, width=width, height=width)
        self.rotation = camera_rotation(camera.yaw_deg, camera.pitch_deg)
        map_x, map_y, inside = self._maps()
        self.coverage = float(inside.mean())
        self._map1, self._map2 = cv2.convertMaps(map_x, map_y, cv2.CV_16SC2)
        self._border = cv2.BORDER_WRAP if crop.is_full else cv2.BORDER_CONSTANT

    def _maps(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        k = self.intrinsics
        u, v = np.meshgrid(np.arange(k.width, dtype=np.float64), np.arange(k.height, dtype=np.float64))
        rays = np.stack([(u - k.cx_px) / k.focal_px, (v - k.cy_px) / k.fy_px, np.ones_like(u)], axis=-1)
        d = rays @ self.rotation.T
        lon = np.degrees(np.arctan2(d[..., 0], d[..., 2]))
        lat = np.degrees(np.arctan2(-d[..., 1], np.hypot(d[..., 0], d[..., 2])))
        (lon0, lon1), (lat0, lat1) = self.crop.lon_range_deg, self.crop.lat_range_deg
        x = (lon - lon0) / (lon1 - lon0) * self.eye_width - 0.5
        y = (lat0 - lat) / (lat0 - lat1) * self.eye_height - 0.5
        if self.crop.is_full:
            x = np.mod(x + 0.5, self.eye_width) - 0.5
            inside_x = np.ones_like(x, dtype=bool)
        else:
            inside_x = (x >= -0.5) & (x <= self.eye_width - 0.5)
        inside = inside_x & (y >= -0.5) & (y <= self.eye_height - 0.5)
        # samples within half a pixel of an edge read the edge pixel; outside the held part: -1 -> black
        x = np.where(inside, np.clip(x, 0.0, self.eye_width - 1.0) if not self.crop.is_full else x, -1.0)
        y = np.where(inside, np.clip(y, 0.0, self.eye_height - 1.0), -1.0)
        return x.astype(np.float32), y.astype(np.float32), inside

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of a reprojected view."""
        return int(self.intrinsics.width), int(self.intrinsics.height)

    def __call__(self, eye: np.ndarray) -> np.ndarray:
        """Reproject one eye image (``eye_height x eye_width x 3`` uint8) to the pinhole view."""
        if eye.shape[:2] != (self.eye_height, self.eye_width):
            raise InputFileError(
                f"an eye image of {eye.shape[1]}x{eye.shape[0]} pixels does not match the "
                f"{self.eye_width}x{self.eye_height} the reprojection was built for; the frames change size"
            )
        return cv2.remap(eye, self._map1, self._map2, cv2.INTER_LINEAR, borderMode=self._border, borderValue=0)

    def describe(self) -> dict[str, Any]:
        """The virtual camera as JSON-ready facts (``StereoClip.virtual_camera`` / ``Capture.metadata``)."""
        k = self.intrinsics
        return {
            "model": "pinhole",
            "hfov_deg": float(self.camera.hfov_deg),
            "vfov_deg": math.degrees(2.0 * math.atan(k.height / (2.0 * k.fy_px))),
            "yaw_deg": float(self.camera.yaw_deg),
            "pitch_deg": float(self.camera.pitch_deg),
            "roll_deg": 0.0,
            "width": int(k.width),
            "height": int(k.height),
            "focal_px": float(k.focal_px),
            "cx_px": float(k.cx_px),
            "cy_px": float(k.cy_px),
            "rotation": self.rotation.tolist(),
            "rotation_convention": "camera rays to sphere directions; sphere axes x right, y down, z forward",
            "source_eye_size": [int(self.eye_width), int(self.eye_height)],
            "source_crop": self.crop.to_dict(),
            "coverage": self.coverage,
            "rectified": True,
        }
