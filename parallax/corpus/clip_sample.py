"""The :class:`ClipSample` type of the corpus: a stereo clip over time, beside the still :class:`Sample`.

A clip sample is one cut of a stereo video (or a rendered synthetic sequence):
per frame the rectified views, disparity, depth, confidence, valid mask, optional
extra ground truth (occlusion, optical flow, ...), the timestamp, the pose and the
intrinsics; per clip the facts (size, frame rate, baseline, source format and
layout), provenance, rights, quality and lineage.

In memory it is three frozen, keyword-only dataclasses validated on construction:

* :class:`ClipInfo` -- everything about the clip as a whole;
* :class:`ClipFrame` -- one frame (views, maps, camera);
* :class:`ClipSample` -- a :class:`ClipInfo` and its frames, checked against each other.

On disk it is one self-describing folder (``docs/corpus.md``; writing in
:mod:`parallax.corpus.clip_folder`, reading in :mod:`parallax.corpus.clip_reader`)::

    <sample_id>/
        left/000000.png ...          rectified left views, 8-bit RGB PNG
        right/000000.png ...         rectified right views
        disparity/000000.png ...     16-bit PNG, stored = round(d * scale) + offset, 0 = no value
        depth/000000.png ...         16-bit PNG, stored = round(z * scale), 0 = no value (optional)
        confidence/000000.png ...    16-bit PNG, stored = round(c * 65535)
        valid/000000.png ...         8-bit PNG, 255 = valid
        <extra>/000000.png|.npy ...  extra per-frame ground truth (bool/uint8 PNG or float32 NPY)
        meta.json                    clip facts, per-frame timestamp/pose/K, what every stream
                                     holds, and each file's SHA-256

Conventions (``docs/conventions.md``): disparity in pixels of the rectified left
view, ``x_right = x_left - d``; depth along the optical axis, metres when
``depth_is_metric``; poses camera-to-world 4x4 of the rectified left camera,
OpenCV axes (x right, y down, z forward), translations in metres when
``poses_are_metric``; timestamps in seconds; NaN = no value in memory.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from parallax._lazy import lazy_getattr
from parallax.capture.types import _readonly
from parallax.corpus import encoding as enc
from parallax.corpus import fields as chk
from parallax.errors import ParameterError
from parallax.stereo.types import Rectification

__all__ = [
    "ClipInfo",
    "ClipFrame",
    "ClipSample",
    "ClipSourceKind",
    "FrameRules",
    "clip_content_sha256",
    "CLIP_FORMAT",
    "CLIP_FORMAT_VERSION",
    "CORE_STREAMS",
    "file_key",
    "write_clip_sample_dir",
    "read_clip_sample_dir",
    "open_clip_sample_dir",
    "ClipSampleWriter",
    "ClipSampleReader",
    "encode_clip_sample",
]

CLIP_FORMAT = "parallax-clip"
CLIP_FORMAT_VERSION = 1
#: The per-frame streams every clip has (``depth`` only when the frames hold depth), in order.
CORE_STREAMS = ("left", "right", "disparity", "depth", "confidence", "valid")


def file_key(stream: str, index: int) -> str:
    """The ``meta.json`` ``files`` key of frame ``index`` of ``stream``: ``"<stream>/<index:06d>"``."""
    return f"{stream}/{index:06d}"


ClipSourceKind = Literal["video", "synthetic"]
#: How far a pose's rotation may be from orthonormal (float32 estimates round).
_ROTATION_TOL = 1e-4


def _check_pose(owner: str, value: Any) -> np.ndarray | None:
    if value is None:
        return None
    pose = np.asarray(value, dtype=np.float64)
    ok = pose.shape == (4, 4) and bool(np.all(np.isfinite(pose)))
    if ok:
        R = pose[:3, :3]
        ok = (
            np.allclose(pose[3], [0.0, 0.0, 0.0, 1.0])
            and np.allclose(R @ R.T, np.eye(3), atol=_ROTATION_TOL)
            and float(np.linalg.det(R)) > 0
        )
    if not ok:
        raise ParameterError(
            f"{owner}.pose must be a finite 4x4 rigid camera-to-world transform (rotation, translation, "
            f"last row 0 0 0 1) or None for unknown, got {pose.tolist() if pose.size <= 16 else pose.shape}"
        )
    return _readonly(pose)


@dataclass(frozen=True, kw_only=True)
class ClipFrame:
    """One frame of a clip sample.

    Parameters
    ----------
    timestamp_s : float
        Presentation time in seconds from the start of the source video (>= 0);
        strictly increasing within a clip.
    left, right : numpy.ndarray
        Rectified views, ``HxWx3`` uint8 RGB, same size.
    disparity_px : numpy.ndarray
        ``HxW`` float32 disparity of the left view in pixels, ``x_right = x_left - d``; NaN = no value.
    depth : numpy.ndarray or None
        ``HxW`` float32 depth along the optical axis (metres when the clip's
        ``depth_is_metric``, else relative); NaN = no value.
    confidence : numpy.ndarray or None
        ``HxW`` float32 in [0, 1]; ``None``: 1 where valid.
    valid : numpy.ndarray or None
        ``HxW`` bool, True where the disparity is trusted; ``None``: finite disparity.
    K : array-like
        3x3 intrinsics of the rectified left view in pixels of the stored size.
    pose : array-like or None
        4x4 camera-to-world pose of the rectified left camera (OpenCV axes); the
        right camera sits ``baseline_m`` along the pose's x axis. ``None``: unknown
        for this frame (e.g. tracking was lost).
    source_index : int or None
        Frame number in the source video (0-based, presentation order), if known.
    extras : Mapping of str to numpy.ndarray
        Extra per-frame ground truth of the views' HxW size (e.g. ``occlusion``
        bool, ``flow`` HxWx2 float32). Every frame of a clip has the same extras,
        and the clip's :attr:`ClipInfo.extras_info` says what each holds.
    """

    timestamp_s: float
    left: np.ndarray
    right: np.ndarray
    disparity_px: np.ndarray
    depth: np.ndarray | None = None
    confidence: np.ndarray | None = None
    valid: np.ndarray | None = None
    K: Any
    pose: Any = None
    source_index: int | None = None
    extras: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        t = self.timestamp_s
        if isinstance(t, bool) or not isinstance(t, (int, float, np.floating)) or not math.isfinite(t) or t < 0:
            raise ParameterError(f"ClipFrame.timestamp_s must be a finite number of seconds >= 0, got {t!r}")
        object.__setattr__(self, "timestamp_s", float(t))
        left, right = chk.check_views("ClipFrame", self.left, self.right)
        object.__setattr__(self, "left", left)
        object.__setattr__(self, "right", right)
        shape = left.shape[:2]
        disparity = chk.check_map("ClipFrame", "disparity_px", self.disparity_px, shape, optional=False)
        object.__setattr__(self, "disparity_px", disparity)
        object.__setattr__(self, "depth", chk.check_map("ClipFrame", "depth", self.depth, shape, optional=True))
        conf = chk.check_map("ClipFrame", "confidence", self.confidence, shape, optional=True)
        valid, conf = chk.check_valid_and_confidence("ClipFrame", self.valid, conf, disparity)
        object.__setattr__(self, "valid", valid)
        object.__setattr__(self, "confidence", conf)
        object.__setattr__(self, "K", chk.check_K("ClipFrame", self.K))
        object.__setattr__(self, "pose", _check_pose("ClipFrame", self.pose))
        s = self.source_index
        if s is not None and (isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0):
            raise ParameterError(f"ClipFrame.source_index must be an integer >= 0 or None, got {s!r}")
        object.__setattr__(self, "source_index", None if s is None else int(s))
        object.__setattr__(self, "extras", chk.check_extras("ClipFrame", self.extras, shape))

    @property
    def width(self) -> int:
        """Width of the views in pixels."""
        return int(self.left.shape[1])

    @property
    def height(self) -> int:
        """Height of the views in pixels."""
        return int(self.left.shape[0])


@dataclass(frozen=True, kw_only=True)
class ClipInfo:
    """Everything about a clip sample as a whole (the per-frame data lives in :class:`ClipFrame`).

    Parameters
    ----------
    sample_id : str
        Stable identifier, ``[A-Za-z0-9][A-Za-z0-9._-]*`` (at most 128 characters); also the folder name.
    fps : float
        Nominal frame rate of the stored frames, frames per second (> 0). The
        timestamps are the truth; this is what the clip was sampled at.
    baseline_m : float or None
        Baseline of the rectified rig in metres (``None`` when unknown).
    doffs_px : float
        Principal-point x offset for ``Z = f * B / (d + doffs)``, pixels.
    depth_is_metric : bool
        Whether the frames' depth is in metres (needs ``baseline_m`` and depth in every frame).
    poses_are_metric : bool
        Whether pose translations are in metres (else in an unknown common scale).
    world_frame : str
        What the poses' world frame is (e.g. ``"the first frame's left camera"``, or
        the synthetic scene's frame).
    rectification : Rectification or None
        Homographies from the original to the rectified views (one for the whole clip).
    source_kind : {"video", "synthetic"}
        A real stereo video (or frame folder), or a rendered sequence.
    source_format : str
        The source format (``"mv-hevc"``, ``"sbs-video"``, ``"ou-video"``, ``"frames"``, ``"synthetic"``).
    layout : str or None
        How the views sat in the source frames (``"multiview"``, ``"side-by-side"``,
        ``"side-by-side-half"``, ``"over-under"``, ``"over-under-half"``, ``"separate"``);
        ``None`` for rendered sequences.
    device : str or None
        Camera make and model (or renderer name).
    original_name : str
        The original file name (and cut), e.g. ``"walk.mov"``.
    license, consent_id, contributor : str
        SPDX licence of the sample, the consent record that allows it, and its owner.
    quality, lineage, camera_facts, processing, privacy : Mapping
        JSON-ready: quality scores and decision; Parallax version and matcher or
        generator settings and seed; the camera facts kept (never GPS, serial
        numbers, owner names); how the stored frames relate to the source (cut
        start/end, frame step, scale); what the privacy step did.
    content_sha256 : str or None
        Dedup key: SHA-256 over the decoded pixels of the source frames (see
        :func:`clip_content_sha256`); ``None``: computed from the stored frames when needed.
    extras_info : Mapping of str to Mapping
        For each extra per-frame map, what it holds: at least ``"content"``
        (a sentence), ideally ``"units"`` and what its no-value marker is.
    """

    sample_id: str
    fps: float
    baseline_m: float | None = None
    doffs_px: float = 0.0
    depth_is_metric: bool = False
    poses_are_metric: bool = False
    world_frame: str = "the first frame's left camera"
    rectification: Rectification | None = None
    source_kind: ClipSourceKind = "video"
    source_format: str
    layout: str | None = None
    device: str | None = None
    original_name: str
    license: str
    consent_id: str
    contributor: str
    quality: Mapping[str, Any] = field(default_factory=dict)
    lineage: Mapping[str, Any] = field(default_factory=dict)
    camera_facts: Mapping[str, Any] = field(default_factory=dict)
    processing: Mapping[str, Any] = field(default_factory=dict)
    privacy: Mapping[str, Any] = field(default_factory=dict)
    content_sha256: str | None = None
    extras_info: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        chk.check_id("ClipInfo", self.sample_id)
        fps = self.fps
        if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not (math.isfinite(fps) and fps > 0):
            raise ParameterError(f"ClipInfo.fps must be a positive number of frames per second, got {fps!r}")
        object.__setattr__(self, "fps", float(fps))
        chk.check_baseline("ClipInfo", self.baseline_m)
        if not (isinstance(self.doffs_px, (int, float)) and math.isfinite(self.doffs_px)):
            raise ParameterError(f"ClipInfo.doffs_px must be a finite number of pixels, got {self.doffs_px!r}")
        if self.depth_is_metric and self.baseline_m is None:
            raise ParameterError(f"clip {self.sample_id}: depth_is_metric needs baseline_m")
        if self.source_kind not in ("video", "synthetic"):
            raise ParameterError(f"ClipInfo.source_kind {self.source_kind!r} is not video or synthetic")
        names = ("source_format", "original_name", "license", "consent_id", "contributor", "world_frame")
        chk.check_text("ClipInfo", names, {n: getattr(self, n) for n in names})
        if self.layout is not None and (not isinstance(self.layout, str) or not self.layout.strip()):
            raise ParameterError(f"ClipInfo.layout must be a layout name or None, got {self.layout!r}")
        if self.rectification is not None and not isinstance(self.rectification, Rectification):
            raise ParameterError("ClipInfo.rectification must be a Rectification or None")
        described: dict[str, dict[str, Any]] = {}
        for name, what in dict(self.extras_info).items():
            if not isinstance(name, str) or not chk.EXTRA_RE.match(name) or name in chk.RESERVED_NAMES:
                raise ParameterError(
                    f"ClipInfo.extras_info name {name!r} must be lower-case letters, digits and '_', "
                    "and not a core stream"
                )
            if not isinstance(what, Mapping) or not isinstance(what.get("content"), str) or not what["content"]:
                raise ParameterError(
                    f"ClipInfo.extras_info[{name!r}] must be a mapping with a 'content' sentence "
                    "(what the map holds, its units and no-value marker)"
                )
            described[name] = dict(what)
        object.__setattr__(self, "extras_info", described)


class FrameRules:
    """Checks that frames fit one clip: the first frame fixes size, depth presence and extras.

    Used by :class:`ClipSample` and by the streaming writer, so a clip written
    frame by frame obeys the same rules as one built whole.
    """

    def __init__(self, info: ClipInfo) -> None:
        self.info = info
        self.count = 0
        self.shape: tuple[int, int] | None = None
        self.has_depth = False
        self.extras: dict[str, tuple[str, tuple[int, ...]]] = {}
        self.last_t = -math.inf

    def check(self, frame: ClipFrame) -> None:
        """Check the next frame; raise :class:`ParameterError` naming the frame and the problem."""
        if not isinstance(frame, ClipFrame):
            raise ParameterError(f"clip {self.info.sample_id}: frame {self.count} is not a ClipFrame")
        where = f"clip {self.info.sample_id} frame {self.count}"
        extras = {n: (a.dtype.str, a.shape) for n, a in frame.extras.items()}
        if self.shape is None:
            self.shape = (frame.height, frame.width)
            self.has_depth = frame.depth is not None
            self.extras = extras
            if set(extras) != set(self.info.extras_info):
                missing = sorted(set(extras) - set(self.info.extras_info))
                unused = sorted(set(self.info.extras_info) - set(extras))
                raise ParameterError(
                    f"{where}: extras {missing} are not described in ClipInfo.extras_info"
                    if missing
                    else f"{where}: ClipInfo.extras_info describes {unused}, which the frames do not hold"
                )
            if self.info.depth_is_metric and not self.has_depth:
                raise ParameterError(f"{where}: depth_is_metric needs a depth map in every frame")
        elif (frame.height, frame.width) != self.shape:
            raise ParameterError(
                f"{where}: size {frame.width}x{frame.height} differs from the clip's {self.shape[1]}x{self.shape[0]}"
            )
        elif (frame.depth is not None) != self.has_depth:
            raise ParameterError(f"{where}: depth must be given in every frame or in none")
        elif extras != self.extras:
            raise ParameterError(
                f"{where}: extras {sorted(extras)} (dtype, shape) differ from the first frame's {sorted(self.extras)}"
            )
        if not frame.timestamp_s > self.last_t:
            raise ParameterError(
                f"{where}: timestamp {frame.timestamp_s} s is not after the previous frame's {self.last_t} s; "
                "timestamps must strictly increase"
            )
        self.last_t = frame.timestamp_s
        self.count += 1


@dataclass(frozen=True, kw_only=True)
class ClipSample:
    """One corpus clip sample: a :class:`ClipInfo` and its :class:`ClipFrame` s, in time order.

    Parameters
    ----------
    info : ClipInfo
        The clip's facts, provenance, rights, quality, lineage.
    frames : sequence of ClipFrame
        At least one frame; one size; strictly increasing timestamps; the same
        extras (as described by ``info.extras_info``) and depth presence in every frame.
    """

    info: ClipInfo
    frames: tuple[ClipFrame, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.info, ClipInfo):
            raise ParameterError(f"ClipSample.info must be a ClipInfo, got {type(self.info).__name__}")
        frames = tuple(self.frames)
        if not frames:
            raise ParameterError(f"clip {self.info.sample_id} has no frames; give at least one ClipFrame")
        rules = FrameRules(self.info)
        for frame in frames:
            rules.check(frame)
        object.__setattr__(self, "frames", frames)

    @property
    def sample_id(self) -> str:
        """The clip's sample id."""
        return self.info.sample_id

    @property
    def frame_count(self) -> int:
        """Number of frames."""
        return len(self.frames)

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def width(self) -> int:
        """Width of the views in pixels."""
        return self.frames[0].width

    @property
    def height(self) -> int:
        """Height of the views in pixels."""
        return self.frames[0].height

    @property
    def timestamps_s(self) -> np.ndarray:
        """``(F,)`` float64 timestamps in seconds."""
        return np.array([f.timestamp_s for f in self.frames], dtype=np.float64)

    @property
    def poses(self) -> np.ndarray:
        """``(F, 4, 4)`` float64 camera-to-world poses; all NaN for frames whose pose is unknown."""
        return np.stack([np.full((4, 4), np.nan) if f.pose is None else f.pose for f in self.frames])

    @property
    def intrinsics(self) -> np.ndarray:
        """``(F, 3, 3)`` float64 intrinsics ``K`` of each frame."""
        return np.stack([f.K for f in self.frames])


def clip_content_sha256(frames: Iterable[tuple[np.ndarray, np.ndarray]]) -> str:
    """Hex SHA-256 over the decoded pixels of a clip's frames: the hash of each frame's
    :func:`~parallax.corpus.encoding.pixel_sha256` of ``(left, right)``, in order."""
    h = hashlib.sha256(b"parallax-clip;")
    for left, right in frames:
        h.update(enc.pixel_sha256(left, right).encode("ascii"))
    return h.hexdigest()


# Reading and writing live in parallax.corpus.clip_folder; they are also reachable from here.
_LAZY = {
    "write_clip_sample_dir": "parallax.corpus.clip_folder",
    "ClipSampleWriter": "parallax.corpus.clip_folder",
    "encode_clip_sample": "parallax.corpus.clip_folder",
    "read_clip_sample_dir": "parallax.corpus.clip_reader",
    "open_clip_sample_dir": "parallax.corpus.clip_reader",
    "ClipSampleReader": "parallax.corpus.clip_reader",
}

if TYPE_CHECKING:  # pragma: no cover
    from parallax.corpus.clip_folder import ClipSampleWriter, encode_clip_sample, write_clip_sample_dir
    from parallax.corpus.clip_reader import ClipSampleReader, open_clip_sample_dir, read_clip_sample_dir

__getattr__ = lazy_getattr(__name__, _LAZY, globals())
