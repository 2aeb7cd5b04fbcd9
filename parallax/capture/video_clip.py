"""Pieces the video clip readers share: container sniffing, the opened source, metadata layout, frame streaming.

The readers (:mod:`.spatial_video`, :mod:`.equirect_video`,
:mod:`.packed_video`) differ in how a decoded frame becomes two views; the
rest is here:

* :func:`container_kind` recognises MP4/MOV (ISO-BMFF), Matroska/WebM and
  MPEG-TS by their first bytes.
* :func:`open_source` reads the container's facts once: the ISO-BMFF boxes
  (:mod:`.bmff`, which also finds truncated files), the stream facts from
  PyAV, the frame-size guard.
* :func:`metadata_packing` says how the views are packed when the file states
  it: Spherical V2 ``st3d`` wins over Spherical V1 ``StereoMode``, which wins
  over Matroska ``StereoMode`` (FFmpeg's ``stereo_mode`` tag). In all three,
  top-bottom puts the left eye on top and left-right puts it on the left.
* :func:`stream_pairs` turns a reader's per-frame function into the
  :data:`~parallax.capture.clip.FrameSource` a :class:`StereoClip` streams
  from; it checks that the clip did not end early.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from parallax.capture.bmff import MovieInfo, TrackInfo, is_iso_bmff, read_movie
from parallax.capture.clip import FramePair
from parallax.capture.registry import FileProbe
from parallax.capture.video_io import DecodedFrame, VideoFacts, decode_frames, probe_video
from parallax.errors import InputFileError, NotStereoError, UnsupportedFormatError

__all__ = [
    "VIDEO_CONTAINERS",
    "Packing",
    "VideoSource",
    "container_kind",
    "open_source",
    "metadata_packing",
    "frame_index",
    "stream_pairs",
]

#: What :func:`container_kind` returns.
VIDEO_CONTAINERS = ("iso-bmff", "matroska", "mpeg-ts")
# FFmpeg's Matroska stereo_mode tag -> (arrangement, first half is the left eye)
_MATROSKA = {
    "left_right": ("side-by-side", True),
    "right_left": ("side-by-side", False),
    "top_bottom": ("over-under", True),
    "bottom_top": ("over-under", False),
}


_HANDLERS = {
    "soun": "audio",
    "text": "text",
    "sbtl": "subtitle",
    "subt": "subtitle",
    "meta": "metadata",
    "hint": "hint",
}


def container_kind(probe: FileProbe | None) -> str | None:
    """``iso-bmff``, ``matroska`` or ``mpeg-ts`` from a file's first bytes, else ``None``."""
    if probe is None:
        return None
    head = probe.head
    if is_iso_bmff(head):
        return "iso-bmff"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    for offset, stride in ((0, 188), (4, 192)):  # MPEG-TS, and M2TS with its 4-byte time code
        marks = [offset + stride * i for i in range(4)]
        if len(head) > marks[1] and all(head[m] == 0x47 for m in marks if m < len(head)):
            return "mpeg-ts"
    return None


@dataclass(frozen=True, kw_only=True)
class VideoSource:
    """An opened video: its path and name, container kind, stream facts and (for MP4/MOV) its boxes."""

    path: Path
    name: str
    kind: str | None
    facts: VideoFacts
    movie: MovieInfo | None
    track: TrackInfo | None

    @property
    def rotation_deg(self) -> int:
        """Clockwise display rotation the container asks for (0 when none or not a quarter turn)."""
        if self.track is None:
            return 0
        return self.track.rotation_deg or 0

    def base_metadata(self) -> dict[str, Any]:
        """The container facts every video clip records in ``StereoClip.metadata``."""
        meta: dict[str, Any] = {"container_kind": self.kind, **self.facts.to_dict()}
        if self.track is not None and self.track.rotation_deg is None:
            meta["display_matrix"] = list(self.track.matrix)
            meta["display_matrix_note"] = "not a quarter turn; ignored"
        return meta


def open_source(path: Path, *, max_pixels: int, probe: FileProbe | None = None) -> VideoSource:
    """Read a video's container facts (boxes for MP4/MOV, stream facts from PyAV) and check its frame size.

    Raises
    ------
    InputFileError
        Truncated or malformed container, no video stream (audio only), or
        frames larger than ``max_pixels``.
    """
    name = path.name
    if probe is None:
        from parallax.capture.registry import probe_file

        probe = probe_file(path)
    kind = container_kind(probe)
    movie = read_movie(path) if kind == "iso-bmff" else None
    if movie is not None and movie.video_track is None:
        kinds = sorted({_HANDLERS.get(t.handler, repr(t.handler)) for t in movie.tracks})
        held = f"only {', '.join(kinds)} tracks" if kinds else "no tracks"
        raise InputFileError(f"{name} holds no video track ({held}); give a stereo video file")
    facts = probe_video(path, name=name)
    if facts.width * facts.height > max_pixels:
        raise InputFileError(
            f"{name} has {facts.width}x{facts.height} frames ({facts.width * facts.height / 1e6:.0f} MP), more than "
            f"the limit of {max_pixels / 1e6:.0f} MP; refusing to decode it (raise max_pixels only for a file you trust)"
        )
    return VideoSource(
        path=path,
        name=name,
        kind=kind,
        facts=facts,
        movie=movie,
        track=movie.video_track if movie is not None else None,
    )


@dataclass(frozen=True, kw_only=True)
class Packing:
    """How two views are packed in one frame, and where that was read."""

    arrangement: str  # "side-by-side" or "over-under"
    first_is_left: bool
    source: str


def metadata_packing(src: VideoSource) -> tuple[Packing | None, dict[str, Any]]:
    """The packing the file's metadata states (V2 ``st3d`` > V1 ``StereoMode`` > Matroska), and what each said.

    Returns ``(None, notes)`` when no metadata states one.

    Raises
    ------
    NotStereoError
        The metadata that wins says the video is mono.
    UnsupportedFormatError
        A Matroska stereo mode Parallax does not unpack (checkerboard, row or column interleaved, anaglyph).
    """
    notes: dict[str, Any] = {}
    v2 = src.track.sample_entry.spherical if src.track and src.track.sample_entry else None
    v1 = src.track.spherical_v1 if src.track else None
    v2_mode = v2.stereo_mode if v2 is not None else None
    v1_mode = v1.stereo_mode if v1 is not None else None
    if v2_mode is not None:
        notes["spherical_v2_st3d"] = v2_mode
    if v1_mode is not None:
        notes["spherical_v1_stereo_mode"] = v1_mode
    v2_packing = {1: ("over-under", True), 2: ("side-by-side", True)}.get(v2_mode) if v2_mode is not None else None
    v1_packing = {"top-bottom": ("over-under", True), "left-right": ("side-by-side", True)}.get(v1_mode or "")
    if v2_mode is not None and v1_mode is not None and v2_packing != v1_packing:
        notes["conflict"] = (
            f"Spherical V2 st3d={v2_mode} and V1 StereoMode={v1_mode!r} disagree; V2 wins (the newer specification)"
        )
    if v2_mode is not None:
        if v2_packing is None:
            raise _mono(src, f"its Spherical V2 'st3d' box says mono (stereo_mode {v2_mode})")
        return Packing(arrangement=v2_packing[0], first_is_left=True, source="Spherical V2 st3d"), notes
    if v1_mode is not None:
        if v1_packing is None:
            raise _mono(src, f"its Spherical V1 StereoMode is {v1_mode!r}")
        return Packing(arrangement=v1_packing[0], first_is_left=True, source="Spherical V1 StereoMode"), notes
    mkv = src.facts.stream_metadata.get("stereo_mode")
    if mkv:
        notes["matroska_stereo_mode"] = mkv
        if mkv == "mono":
            raise _mono(src, "its Matroska StereoMode says mono")
        if mkv not in _MATROSKA:
            raise UnsupportedFormatError(
                f"{src.name} packs its views as Matroska StereoMode {mkv!r}, which Parallax does not unpack; "
                "convert it to side-by-side or over-under"
            )
        arrangement, first_is_left = _MATROSKA[mkv]
        return Packing(arrangement=arrangement, first_is_left=first_is_left, source="Matroska StereoMode"), notes
    return None, notes


def _mono(src: VideoSource, why: str) -> NotStereoError:
    return NotStereoError(
        f"{src.name} is a mono video ({why}); give a stereo video, or force the packing with --layout sbs or "
        "--layout over-under if the metadata is wrong"
    )


def frame_index(timestamp_s: float, fps: float) -> int:
    """The frame number of a presentation time (0-based, nearest frame)."""
    return max(0, int(math.floor(timestamp_s * fps + 0.5)))


def stream_pairs(
    src: VideoSource,
    *,
    start_s: float | None,
    fps: float,
    make_views: Callable[[DecodedFrame], tuple[np.ndarray, np.ndarray]],
    codec_options: dict[str, str] | None = None,
    frames: Iterator[DecodedFrame] | None = None,
) -> Iterator[FramePair]:
    """Stream ``FramePair`` objects: decode, hand each frame to ``make_views``, number it by its time.

    ``frames`` replaces the plain decoder (the MV-HEVC reader pairs its views
    first). When decoding from the start of a file whose container states its
    frame count, a stream that ends more than a frame or two early is an error.

    Raises
    ------
    InputFileError
        Decoding fails, or the stream ends early (a truncated file).
    """
    decoded = (
        frames
        if frames is not None
        else decode_frames(src.path, name=src.name, start_s=start_s, codec_options=codec_options)
    )
    previous = -1
    count = 0
    last_s = 0.0
    for item in decoded:
        left, right = make_views(item)
        index = max(frame_index(item.timestamp_s, fps), previous + 1)
        previous, last_s = index, item.timestamp_s
        count += 1
        yield FramePair(index=index, timestamp_s=item.timestamp_s, left=left, right=right)
    facts = src.facts
    if facts.frame_count_exact:
        if not start_s and count < facts.frame_count - max(2, facts.frame_count // 100):
            raise InputFileError(
                f"{src.name} ended after {count} of its {facts.frame_count} frames; the file is truncated or damaged"
            )
    elif facts.duration_s > 0 and last_s + 1.0 / fps < facts.duration_s - max(1.0, 0.02 * facts.duration_s):
        raise InputFileError(
            f"{src.name} ended at {last_s:.2f} s of its {facts.duration_s:.2f} s; the file is truncated or damaged"
        )
