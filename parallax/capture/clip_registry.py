"""The clip-reader registry: stereo videos and frame folders -> :class:`~parallax.capture.clip.StereoClip`.

It mirrors the still-capture registry (:mod:`parallax.capture.registry`): one
reader per format, found by content first (magic bytes of the container and
its boxes, or a folder's layout), extension second. :func:`read_clip` is the
entry point; :func:`is_clip_path` tells the command line whether a path is a
clip or a still. The readers, in the order they are tried:
:mod:`.spatial_video` (MV-HEVC: an HEVC track with ``lhvC`` or ``vexu``),
:mod:`.equirect_video` (MP4/MOV with Spherical V1/V2 projection metadata),
:mod:`.packed_video` (any other MP4/MOV, Matroska/WebM or MPEG-TS video, or a
file with a video extension) and :mod:`.frames` (folders).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from parallax.capture.clip import StereoClip
from parallax.capture.equirect import VirtualCamera
from parallax.capture.eyes import GivenBy
from parallax.capture.image_io import DEFAULT_MAX_PIXELS
from parallax.capture.registry import FileProbe, probe_file
from parallax.errors import InputFileError, ParameterError, UnsupportedFormatError

__all__ = [
    "CLIP_LAYOUTS",
    "EYE_ORDERS",
    "VIDEO_EXTENSIONS",
    "ClipReadOptions",
    "ClipReaderSpec",
    "register_clip_reader",
    "clip_readers",
    "find_clip_reader",
    "is_clip_path",
    "read_clip",
    "orient_clip_eyes",
]

#: Accepted ``layout`` values for clips: ``auto`` decides from the file's metadata, then its content.
CLIP_LAYOUTS = ("auto", "sbs", "sbs-half", "sbs-cross", "over-under", "ou-half", "under-over")
#: Accepted ``eyes`` values: ``auto`` decides (and records why), the others force the order.
EYE_ORDERS = ("auto", "left-right", "right-left")
#: Container extensions a stereo video may have (for messages and the extension fallback).
VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".ts", ".m2ts", ".mts")


@dataclass(frozen=True, kw_only=True)
class ClipReadOptions:
    """Options every clip reader receives.

    Parameters
    ----------
    layout : str
        One of :data:`CLIP_LAYOUTS`: how the views are packed in a frame-packed
        or equirectangular video. ``auto`` reads the file's metadata, then its
        content; ``sbs`` / ``over-under`` are full-size views (left first),
        ``sbs-cross`` / ``under-over`` right first, ``sbs-half`` / ``ou-half``
        squeezed views stretched back to full size. MV-HEVC and frame folders
        take only ``auto``.
    eyes : str
        One of :data:`EYE_ORDERS`. ``left-right`` forces the first view as
        stored (left or top half, view 0, ``left/``) to be the left eye,
        ``right-left`` the right eye; ``auto`` decides and records why.
    max_pixels : int
        Largest ``width * height`` of a decoded frame.
    fps : float, optional
        Frame rate for sources that do not state one (frame folders); ``None``
        assumes 30 and says so in the clip's metadata.
    hfov_deg, yaw_deg, pitch_deg : float
        The virtual pinhole camera an equirectangular source is reprojected into:
        field of view (horizontal = vertical, the view is square) and viewing
        direction in degrees (yaw positive to the right, pitch positive up).
    view_width : int, optional
        Width (= height) of a reprojected view in pixels (``None``: the
        source's angular resolution at the view centre).
    """

    layout: str = "auto"
    eyes: str = "auto"
    max_pixels: int = DEFAULT_MAX_PIXELS
    fps: float | None = None
    hfov_deg: float = 90.0
    yaw_deg: float = 0.0
    pitch_deg: float = 0.0
    view_width: int | None = None

    def __post_init__(self) -> None:
        if self.layout not in CLIP_LAYOUTS:
            raise ParameterError(f"layout must be one of {', '.join(CLIP_LAYOUTS)}; got {self.layout!r}")
        if self.eyes not in EYE_ORDERS:
            raise ParameterError(f"eyes must be one of {', '.join(EYE_ORDERS)}; got {self.eyes!r}")
        if not isinstance(self.max_pixels, int) or self.max_pixels < 1:
            raise ParameterError(f"max_pixels must be a positive integer, got {self.max_pixels!r}")
        if self.fps is not None and not (isinstance(self.fps, (int, float)) and 0 < self.fps < 10000):
            raise ParameterError(f"fps must be a positive frame rate, got {self.fps!r}")
        _ = self.virtual_camera  # validates hfov_deg, yaw_deg, pitch_deg and view_width

    @property
    def virtual_camera(self) -> VirtualCamera:
        """The virtual pinhole camera for equirectangular sources."""
        return VirtualCamera(
            hfov_deg=self.hfov_deg, yaw_deg=self.yaw_deg, pitch_deg=self.pitch_deg, width=self.view_width
        )


@dataclass(frozen=True, kw_only=True)
class ClipReaderSpec:
    """One clip format's reader.

    Parameters
    ----------
    name : str
        Short name (``"mv-hevc"``, ``"frames"``, ...).
    description : str
        For messages and ``parallax info``.
    sniff : callable
        ``sniff(path, probe) -> bool``; ``probe`` is ``None`` for a folder.
    extensions : tuple of str
        Lower-case extensions with the dot, for messages and the extension fallback.
    read : callable
        ``read(path, options) -> StereoClip``.
    """

    name: str
    description: str
    sniff: Callable[[Path, FileProbe | None], bool]
    extensions: tuple[str, ...]
    read: Callable[[Path, ClipReadOptions], StereoClip]


_READERS: list[ClipReaderSpec] = []


def register_clip_reader(spec: ClipReaderSpec) -> ClipReaderSpec:
    """Add a clip reader (replacing one of the same name, keeping its place)."""
    for i, existing in enumerate(_READERS):
        if existing.name == spec.name:
            _READERS[i] = spec
            return spec
    _READERS.append(spec)
    return spec


def clip_readers() -> tuple[ClipReaderSpec, ...]:
    """The registered clip readers, in the order they are tried."""
    _load_readers()
    return tuple(_READERS)


def _load_readers() -> None:
    # Readers register themselves on import, most specific first; importing them here keeps
    # `import parallax.capture` cheap (none of them imports PyAV before a video is read).
    from parallax.capture import spatial_video as _spatial  # noqa: F401  (isort: skip)
    from parallax.capture import equirect_video as _equirect  # noqa: F401  (isort: skip)
    from parallax.capture import packed_video as _packed  # noqa: F401  (isort: skip)
    from parallax.capture import frames as _frames  # noqa: F401  (isort: skip)


def find_clip_reader(path: Path) -> ClipReaderSpec | None:
    """The first clip reader that recognises ``path`` by content, else by extension, else ``None``."""
    _load_readers()
    probe = None if path.is_dir() else probe_file(path)
    for spec in _READERS:
        if spec.sniff(path, probe):
            return spec
    return None


def is_clip_path(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a folder of stereo frames or a file a clip reader recognises.

    An empty file counts as a clip when its extension is a video's (so the
    clip readers, not the image readers, say what is wrong with it).
    """
    p = Path(path)
    if not p.exists():
        return False
    if p.is_file() and p.stat().st_size == 0:
        return p.suffix.lower() in VIDEO_EXTENSIONS
    return find_clip_reader(p) is not None


def _check_clip_file(path: Path) -> Path:
    if not os.access(path, os.R_OK):
        raise InputFileError(f"{path} is not readable; check its permissions")
    if path.stat().st_size == 0:
        raise InputFileError(f"{path} is empty (0 bytes); give a complete video file")
    return path


def read_clip(
    path: str | os.PathLike[str],
    *,
    layout: str = "auto",
    eyes: str = "auto",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    fps: float | None = None,
    hfov_deg: float = 90.0,
    yaw_deg: float = 0.0,
    pitch_deg: float = 0.0,
    view_width: int | None = None,
) -> StereoClip:
    """Open a stereo video, or a folder of stereo frames, as a :class:`StereoClip`.

    Parameters
    ----------
    path : path-like
        A video file (MV-HEVC spatial video, side-by-side / over-under video,
        equirectangular VR180 / 360 stereo video) or a folder of frames
        (``left/*.png`` + ``right/*.png``, or ``*_left.*`` / ``*_right.*`` files).
    layout, eyes, max_pixels, fps, hfov_deg, yaw_deg, pitch_deg, view_width
        See :class:`ClipReadOptions`.

    Returns
    -------
    StereoClip
        The clip's facts; frames are decoded only when iterated.

    Raises
    ------
    ParameterError
        An option out of range, or a layout the source does not take.
    InputFileError
        Missing, empty, unreadable, truncated or corrupt input; no video stream
        (audio only); a video with one view missing (MV-HEVC without ``lhvC``).
        Also raised while iterating frames, when decoding fails or the stream
        ends early.
    NotStereoError
        A mono video (no stereo metadata and halves that are not a stereo pair,
        or metadata that says mono).
    UnsupportedFormatError
        Bytes no clip reader recognises, a codec FFmpeg cannot decode, or a
        projection Parallax does not read (mesh, cube map).
    MissingDependencyError
        PyAV is not installed (``pip install 'parallax[video]'``).
    """
    options = ClipReadOptions(
        layout=layout,
        eyes=eyes,
        max_pixels=max_pixels,
        fps=fps,
        hfov_deg=hfov_deg,
        yaw_deg=yaw_deg,
        pitch_deg=pitch_deg,
        view_width=view_width,
    )
    p = Path(path)
    if not p.exists():
        raise InputFileError(f"{p} does not exist; check the path")
    if not p.is_dir():
        p = _check_clip_file(p)
    spec = find_clip_reader(p)
    if spec is None:
        if p.is_dir():
            raise InputFileError(
                f"{p} is a folder but not one of stereo frames; give left/*.png + right/*.png, "
                "or files named *_left.png and *_right.png"
            )
        known = sorted({e for s in _READERS for e in s.extensions})
        raise UnsupportedFormatError(
            f"{p} is not a stereo video Parallax reads; give one of {', '.join(known)} or a folder of frames"
        )
    clip = spec.read(p, options)
    return orient_clip_eyes(clip) if options.eyes == "auto" else clip


#: Where frames are sampled for the eye-order evidence: fractions of the clip's first :data:`_EYE_SPAN_S`
#: seconds (seeking further into a long video costs more decoding than the check is worth).
_EYE_SAMPLES = (0.1, 0.5, 0.9)
_EYE_SPAN_S = 3.0


def _given_by(clip: StereoClip) -> GivenBy | None:
    """How firmly a clip's reader stated its eye order, or ``None`` when the reader decided it from the content."""
    source = str(clip.eyes.get("source", ""))
    if source.startswith("content"):
        return None  # frame-packed video without metadata: the layout decision already weighed the evidence
    return "name" if clip.format == "frames" else "format"


def orient_clip_eyes(clip: StereoClip) -> StereoClip:
    """Check a clip's eye order from the stereo geometry of a few frames; swap the views when the evidence says so.

    The evidence (:func:`parallax.capture.eyes.evidence_from_points`) is pooled over
    frames at 10 %, 50 % and 90 % of the clip's first 3 seconds and judged by
    :func:`~parallax.capture.eyes.decide_eye_order`: an order a file format states
    (MV-HEVC ``stri``, Spherical metadata, a ``layout`` the caller gave) is kept
    unless the evidence is overwhelming; an order that only file or folder names
    imply (frame folders) is swapped on clear evidence. The decision and its
    numbers go into ``clip.eyes`` (``check``), with a warning when it is not clear.
    """
    import dataclasses

    import numpy as np

    from parallax.capture.clip import FramePair
    from parallax.capture.eyes import consistent_matches, decide_eye_order, evidence_from_points

    given_by = _given_by(clip)
    if given_by is None:
        return clip
    first_xy: list[np.ndarray] = []
    second_xy: list[np.ndarray] = []
    seen: set[int] = set()
    for fraction in _EYE_SAMPLES:
        start = fraction * min(clip.duration_s, _EYE_SPAN_S) if clip.duration_s > 0 else None
        for frame in clip.frames(start_s=start, max_frames=1):
            if frame.index in seen:
                continue
            seen.add(frame.index)
            pa, pb = consistent_matches(frame.left, frame.right)
            first_xy.append(pa)
            second_xy.append(pb)
    evidence = evidence_from_points(
        np.concatenate(first_xy) if first_xy else np.zeros((0, 2)),
        np.concatenate(second_xy) if second_xy else np.zeros((0, 2)),
    )
    decision = decide_eye_order(evidence, given_by=given_by)
    eyes = {**dict(clip.eyes), "check": {**decision.to_dict(), "frames": sorted(seen)}}
    if decision.warning:
        eyes["warning"] = decision.warning
    if not decision.swapped:
        return dataclasses.replace(clip, eyes=eyes)
    eyes["decision"] = f"{eyes.get('decision', '')}; views swapped: {decision.reason}".lstrip("; ")
    inner = clip.open_frames

    def swapped(start_s: float | None) -> Iterator[FramePair]:
        for f in inner(start_s):
            yield FramePair(index=f.index, timestamp_s=f.timestamp_s, left=f.right, right=f.left)

    return dataclasses.replace(
        clip, open_frames=swapped, eyes=eyes, left_camera=clip.right_camera, right_camera=clip.left_camera
    )
