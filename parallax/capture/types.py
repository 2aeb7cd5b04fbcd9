"""The :class:`Capture` type every reader returns, and the camera facts it holds.

Conventions (written down once, see ``docs/conventions.md``):

* Images are ``HxWx3`` ``uint8`` RGB, EXIF orientation already applied.
* Camera axes are OpenCV's: x right, y down, z forward; pixel (0, 0) is the
  centre of the top-left pixel.
* Disparity is in pixels of the left view and positive when ``x_right = x_left - d``.
  Converged cameras (Nintendo 3DS, most 3D compacts) give negative disparities
  for far objects; that is valid, not an error.
* Lengths carry their unit in the name: ``baseline_m``, ``focal_px``.
* In memory, "no value" in a float map is NaN. Files use their format's own
  marker (PFM: +inf, 16-bit PNG: 0).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from parallax.errors import ParameterError

__all__ = [
    "ASSUMED_HFOV_DEG",
    "CameraIntrinsics",
    "EmbeddedMap",
    "Capture",
    "CaptureFormat",
    "check_image",
    "base_names",
]

#: Horizontal field of view, degrees, assumed for a view whose file states no focal length. The one
#: definition: every consumer that needs intrinsics and has none (point clouds, meshes, splats, the viewer,
#: corpus samples) builds ``CameraIntrinsics.from_hfov(hfov_deg=ASSUMED_HFOV_DEG, ...)`` and says so.
ASSUMED_HFOV_DEG = 60.0

CaptureFormat = Literal[
    "mpo",  # CIPA DC-007 multi-picture object
    "heic-spatial",  # Apple spatial photo (HEIC with a 'ster' entity group)
    "heic-depth",  # HEIC with an auxiliary depth image (iPhone portrait): RGB-D
    "lif",  # Leia Image Format
    "sbs",  # side-by-side, parallel (left view on the left)
    "sbs-cross",  # side-by-side, cross-eyed (right view on the left), incl. .jps
    "over-under",  # left view on top
    "pair",  # two separate image files
    "rgbd",  # an image plus a separate depth map
    "vr-photo",  # Google VR photo: 360° stereo panorama, reprojected to a pinhole pair
    "synthetic",  # rendered by parallax.synth
]


def check_image(name: str, image: Any) -> np.ndarray:
    """Check that ``image`` is an ``HxWx3`` ``uint8`` RGB array; return it read-only.

    Raises
    ------
    ParameterError
        If it is not, naming ``name``, the shape and dtype found, and the fix.
    """
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        found = f"{type(image).__name__}"
        if isinstance(image, np.ndarray):
            found = f"array of shape {image.shape} and dtype {image.dtype}"
        raise ParameterError(
            f"{name} must be an HxWx3 uint8 RGB array, got {found}; "
            "convert with numpy (e.g. np.dstack for grey images, .astype(np.uint8))"
        )
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ParameterError(f"{name} is empty (shape {image.shape}); give a non-empty image")
    return _readonly(image)


def base_names(source: str) -> str:
    """``source`` with every file path cut to its base name: ``"/home/ann/x-left.png + /home/ann/x-right.png"``
    becomes ``"x-left.png + x-right.png"``.

    A user's folder names are private: :class:`Capture` and the results made from
    it keep only base names, so no output file carries them.
    """
    parts = str(source).split(" + ")
    return " + ".join(part.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or part for part in parts)


def _readonly(array: np.ndarray) -> np.ndarray:
    if array.flags.writeable:
        array = array.view()
        array.flags.writeable = False
    return array


def _positive_or_none(name: str, value: float | None) -> None:
    if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ParameterError(f"{name} must be a positive finite number or None, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class CameraIntrinsics:
    """Pinhole intrinsics of one view, in pixels of that view as stored in the Capture.

    Parameters
    ----------
    focal_px : float
        Horizontal focal length ``fx`` in pixels.
    cx_px, cy_px : float
        Principal point in pixels (OpenCV: centre of the top-left pixel is (0, 0)).
    width, height : int
        Size of the view the intrinsics refer to, in pixels.
    focal_y_px : float, optional
        Vertical focal length ``fy``; ``None`` means square pixels (``fy = fx``).
    """

    focal_px: float
    cx_px: float
    cy_px: float
    width: int
    height: int
    focal_y_px: float | None = None

    def __post_init__(self) -> None:
        _positive_or_none("focal_px", self.focal_px)
        _positive_or_none("focal_y_px", self.focal_y_px)
        if int(self.width) < 1 or int(self.height) < 1:
            raise ParameterError(f"width and height must be >= 1, got {self.width}x{self.height}")

    @property
    def fy_px(self) -> float:
        """Vertical focal length in pixels."""
        return float(self.focal_y_px if self.focal_y_px is not None else self.focal_px)

    @property
    def K(self) -> np.ndarray:
        """The 3x3 float64 camera matrix ``[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]``."""
        return np.array(
            [[self.focal_px, 0.0, self.cx_px], [0.0, self.fy_px, self.cy_px], [0.0, 0.0, 1.0]], dtype=np.float64
        )

    @property
    def hfov_deg(self) -> float:
        """Horizontal field of view in degrees."""
        return math.degrees(2.0 * math.atan(self.width / (2.0 * self.focal_px)))

    @classmethod
    def from_hfov(cls, *, hfov_deg: float, width: int, height: int) -> CameraIntrinsics:
        """Intrinsics of a centred pinhole camera with horizontal field of view ``hfov_deg``."""
        if not (0.0 < hfov_deg < 180.0):
            raise ParameterError(f"hfov_deg must be in (0, 180) degrees, got {hfov_deg!r}")
        focal = width / (2.0 * math.tan(math.radians(hfov_deg) / 2.0))
        return cls(focal_px=focal, cx_px=(width - 1) / 2.0, cy_px=(height - 1) / 2.0, width=width, height=height)

    def scaled(self, sx: float, sy: float | None = None) -> CameraIntrinsics:
        """The intrinsics after resizing the view by ``sx`` horizontally and ``sy`` vertically."""
        sy = sx if sy is None else sy
        return CameraIntrinsics(
            focal_px=self.focal_px * sx,
            focal_y_px=self.fy_px * sy,
            cx_px=(self.cx_px + 0.5) * sx - 0.5,
            cy_px=(self.cy_px + 0.5) * sy - 0.5,
            width=max(1, round(self.width * sx)),
            height=max(1, round(self.height * sy)),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, including ``K`` as nested lists."""
        return {
            "focal_px": self.focal_px,
            "focal_y_px": self.fy_px,
            "cx_px": self.cx_px,
            "cy_px": self.cy_px,
            "width": int(self.width),
            "height": int(self.height),
            "hfov_deg": self.hfov_deg,
            "K": self.K.tolist(),
        }


@dataclass(frozen=True, kw_only=True)
class EmbeddedMap:
    """A depth-like map a file carries (LIF disparity, HEIC depth, MPO disparity image).

    Parameters
    ----------
    data : numpy.ndarray
        ``HxW`` float32, in the file's own size (which may differ from the view's).
        NaN = no value.
    kind : {"disparity", "depth", "inverse-depth", "normalized-disparity"}
        What ``data`` holds. ``"disparity"`` is in pixels of ``data``'s own width
        unless ``units`` says otherwise; ``"normalized-disparity"`` is the file's
        stored value scaled to [0, 1] with larger = nearer, scale unknown.
    units : str
        ``"px"``, ``"m"``, ``"1/m"`` or ``"relative"``.
    view : {"left", "right"}
        Which view the map belongs to.
    metadata : Mapping
        The format's own description of the map (ranges, representation, ...).
    """

    data: np.ndarray
    kind: Literal["disparity", "depth", "inverse-depth", "normalized-disparity"]
    units: str
    view: Literal["left", "right"] = "left"
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.data, np.ndarray) or self.data.ndim != 2:
            raise ParameterError("EmbeddedMap.data must be a 2-D array (HxW)")
        data = self.data if self.data.dtype == np.float32 else self.data.astype(np.float32)
        object.__setattr__(self, "data", _readonly(data))
        if self.kind not in ("disparity", "depth", "inverse-depth", "normalized-disparity"):
            raise ParameterError(
                f"EmbeddedMap.kind {self.kind!r} is not one of disparity, depth, inverse-depth, normalized-disparity"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (size and value range, not the pixels)."""
        finite = self.data[np.isfinite(self.data)]
        return {
            "kind": self.kind,
            "units": self.units,
            "view": self.view,
            "width": int(self.data.shape[1]),
            "height": int(self.data.shape[0]),
            "min": float(finite.min()) if finite.size else None,
            "max": float(finite.max()) if finite.size else None,
            "metadata": dict(self.metadata),
        }


@dataclass(frozen=True, kw_only=True)
class Capture:
    """One stereo (or RGB-D) capture: the views and every camera fact the file holds.

    Parameters
    ----------
    left : numpy.ndarray
        Left view, ``HxWx3`` uint8 RGB, EXIF orientation applied. Read-only.
    right : numpy.ndarray or None
        Right view, same conventions; ``None`` for an RGB-D capture (one view plus depth).
    format : str
        One of :data:`CaptureFormat`.
    source : str
        File name(s) the capture came from (for messages and provenance); paths
        are cut to their base names (``"a.mpo"``, ``"x-left.png + x-right.png"``),
        so no output made from the capture carries the user's folder names.
    left_camera, right_camera : CameraIntrinsics, optional
        Intrinsics of each view where the file gives them (or they follow from
        its focal length / field of view).
    baseline_m : float, optional
        Distance between the camera centres in metres, when the file states it and
        it is trustworthy.
    convergence_deg : float, optional
        Convergence (toe-in) angle between the two optical axes in degrees.
    right_rotation : numpy.ndarray, optional
        3x3 rotation of the right camera relative to the left (OpenCV axes), if given.
    make, model : str, optional
        Camera maker and model from the file.
    maps : tuple of EmbeddedMap
        Depth or disparity maps embedded in the file.
    metadata : Mapping
        The format's own metadata (JSON-serialisable), e.g. MP attributes, LIF JSON.
    """

    left: np.ndarray
    right: np.ndarray | None
    format: str
    source: str
    left_camera: CameraIntrinsics | None = None
    right_camera: CameraIntrinsics | None = None
    baseline_m: float | None = None
    convergence_deg: float | None = None
    right_rotation: np.ndarray | None = None
    make: str | None = None
    model: str | None = None
    maps: tuple[EmbeddedMap, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", base_names(self.source))
        object.__setattr__(self, "left", check_image("left", self.left))
        if self.right is not None:
            right = check_image("right", self.right)
            if right.shape != self.left.shape:
                raise ParameterError(
                    f"the two views of {self.source} differ in size "
                    f"({self.left.shape[1]}x{self.left.shape[0]} vs {right.shape[1]}x{right.shape[0]}); "
                    "give two views of the same size"
                )
            object.__setattr__(self, "right", right)
        elif not self.maps:
            raise ParameterError(f"{self.source}: a Capture needs a right view or an embedded depth map")
        _positive_or_none("baseline_m", self.baseline_m)
        if self.convergence_deg is not None and not math.isfinite(self.convergence_deg):
            raise ParameterError(f"convergence_deg must be finite, got {self.convergence_deg!r}")
        if self.right_rotation is not None:
            rot = np.asarray(self.right_rotation, dtype=np.float64)
            if rot.shape != (3, 3):
                raise ParameterError(f"right_rotation must be 3x3, got shape {rot.shape}")
            object.__setattr__(self, "right_rotation", _readonly(rot))
        object.__setattr__(self, "maps", tuple(self.maps))

    @property
    def is_stereo(self) -> bool:
        """True when both views are present."""
        return self.right is not None

    @property
    def width(self) -> int:
        """Width of one view in pixels."""
        return int(self.left.shape[1])

    @property
    def height(self) -> int:
        """Height of one view in pixels."""
        return int(self.left.shape[0])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (what ``parallax info --json`` prints); no pixels."""
        views = [{"name": "left", "width": self.width, "height": self.height}]
        if self.right is not None:
            views.append({"name": "right", "width": self.width, "height": self.height})
        return {
            "source": self.source,
            "format": self.format,
            "stereo": self.is_stereo,
            "views": views,
            "camera": {
                "make": self.make,
                "model": self.model,
                "baseline_m": self.baseline_m,
                "convergence_deg": self.convergence_deg,
                "left": self.left_camera.to_dict() if self.left_camera else None,
                "right": self.right_camera.to_dict() if self.right_camera else None,
                "right_rotation": self.right_rotation.tolist() if self.right_rotation is not None else None,
            },
            "maps": [m.to_dict() for m in self.maps],
            "metadata": dict(self.metadata),
        }
