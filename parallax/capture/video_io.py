"""Decoding video with PyAV (the ``video`` extra) for the clip readers: open, stream facts, frames, RGB.

Every clip reader goes through here, so the rules are in one place:

* PyAV is imported lazily (:func:`parallax.errors.require`); a missing extra is
  a :class:`~parallax.errors.MissingDependencyError` naming ``parallax[video]``.
* Files are opened with FFmpeg restricted to local files and to the MP4/MOV,
  Matroska/WebM and MPEG-TS demuxers (an untrusted file cannot make FFmpeg
  open other files or URLs).
* FFmpeg errors (``av.error.FFmpegError``) while opening or decoding become an
  :class:`~parallax.errors.InputFileError` naming the file and the time reached.
* Frames are decoded one at a time (:func:`decode_frames` is a generator that
  closes the file when it is closed); nothing holds more than one frame.
* YUV is converted to RGB with the matrix and range the *frame* is tagged with
  (BT.709, BT.601, BT.2020, SMPTE 240M, FCC; limited or full range). Untagged
  frames get the convention players use: BT.709 from 720 lines up, BT.601
  below, limited range unless the pixel format is a full-range one
  (``yuvj*``). The conversion uses accurate rounding and full horizontal
  chroma interpolation. HDR transfer functions (PQ, HLG) are not tone-mapped:
  the values are converted as they are and :func:`colour_tags` says so.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from parallax.errors import InputFileError, UnsupportedFormatError, require

__all__ = [
    "DecodedFrame",
    "VideoFacts",
    "require_av",
    "probe_video",
    "decode_frames",
    "frame_to_rgb",
    "colour_tags",
    "first_video_packet",
    "hevc_layer_ids",
]

#: Demuxers FFmpeg may use on an input (MP4/MOV family, Matroska/WebM, MPEG-TS).
_DEMUXERS = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,mpegts"
_OPEN_OPTIONS = {"protocol_whitelist": "file", "format_whitelist": _DEMUXERS}
# AVColorSpace values (libavutil/pixfmt.h) -> swscale's colour spaces (names for the metadata)
_MATRICES = {1: "bt709", 4: "fcc", 5: "bt601", 6: "bt601", 7: "smpte240m", 9: "bt2020", 10: "bt2020"}
_RANGES = {1: "limited", 2: "full"}
_TRANSFERS = {16: "pq (smpte2084)", 18: "hlg (arib-std-b67)"}


def require_av(feature: str = "reading stereo video") -> Any:
    """The ``av`` module, or :class:`~parallax.errors.MissingDependencyError` naming the ``video`` extra."""
    return require("av", "video", feature)


@dataclass(frozen=True, kw_only=True)
class VideoFacts:
    """What the container says about its first video stream.

    ``frame_count_exact`` is False when the container states no count
    (Matroska, MPEG-TS) and ``frame_count`` is estimated from duration and rate.
    ``sample_aspect`` is the pixel aspect ratio (width / height of one pixel;
    1.0 when unstated).
    """

    container: str
    codec: str
    width: int
    height: int
    fps: float
    frame_count: int
    frame_count_exact: bool
    duration_s: float
    sample_aspect: float
    pix_fmt: str
    has_audio: bool
    audio_codecs: tuple[str, ...] = ()
    stream_metadata: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "container": self.container,
            "codec": self.codec,
            "frame_size": [self.width, self.height],
            "pix_fmt": self.pix_fmt,
            "sample_aspect": self.sample_aspect,
            "frame_count_exact": self.frame_count_exact,
            "audio_codecs": list(self.audio_codecs),
        }


@dataclass(frozen=True)
class DecodedFrame:
    """One decoded picture: presentation time in seconds from the start of the stream, and the PyAV frame."""

    timestamp_s: float
    frame: Any


def _open(path: Path, name: str) -> Any:
    av = require_av()
    try:
        return av.open(str(path), mode="r", container_options=dict(_OPEN_OPTIONS), metadata_errors="replace")
    except av.error.FFmpegError as exc:
        suffix = path.suffix.lower()
        raise InputFileError(
            f"{name} could not be opened as a video ({_reason(exc)}); the file is damaged, truncated or not a "
            f"video{f' (despite its {suffix} name)' if suffix else ''}"
        ) from exc


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return " ".join(str(text).split())[:160]


def _video_stream(container: Any, name: str) -> Any:
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams})
        held = f"only {', '.join(kinds)} streams" if kinds else "no streams"
        raise InputFileError(f"{name} holds no video stream ({held}); give a stereo video file")
    stream = container.streams.video[0]
    if stream.codec_context is None:  # FFmpeg has no decoder for the stream's codec
        raise UnsupportedFormatError(
            f"{name}: its video uses a codec FFmpeg cannot decode; the file is damaged, or convert it to H.264 or HEVC"
        )
    return stream


def probe_video(path: Path, *, name: str) -> VideoFacts:
    """Open ``path`` and read its first video stream's facts (no frame is decoded).

    Raises
    ------
    InputFileError
        FFmpeg cannot open the file, or it holds no video stream (audio only).
    """
    container = _open(path, name)
    try:
        stream = _video_stream(container, name)
        ctx = stream.codec_context
        width, height = int(ctx.width or 0), int(ctx.height or 0)
        if width < 2 or height < 2:
            raise InputFileError(f"{name}: its video stream states no frame size ({width}x{height}); it is corrupt")
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        if not (math.isfinite(fps) and 0.0 < fps < 10000.0):
            fps = 30.0
        duration_s = 0.0
        if stream.duration is not None and stream.time_base is not None:
            duration_s = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration_s = container.duration / 1_000_000.0
        frames = int(stream.frames or 0)
        exact = frames > 0
        if not exact:
            frames = max(0, round(duration_s * fps))
        if duration_s <= 0.0 and frames > 0:
            duration_s = frames / fps
        sar = stream.sample_aspect_ratio or ctx.sample_aspect_ratio
        sample_aspect = float(sar) if sar and float(sar) > 0 else 1.0
        audio = tuple(s.codec_context.name for s in container.streams.audio)
        return VideoFacts(
            container=str(container.format.name),
            codec=str(ctx.name),
            width=width,
            height=height,
            fps=fps,
            frame_count=frames,
            frame_count_exact=exact,
            duration_s=duration_s,
            sample_aspect=sample_aspect,
            pix_fmt=str(ctx.pix_fmt or ""),
            has_audio=bool(audio),
            audio_codecs=audio,
            stream_metadata={str(k): str(v) for k, v in dict(stream.metadata).items()},
        )
    finally:
        container.close()


def first_video_packet(path: Path, *, name: str, max_packets: int = 64) -> bytes:
    """The bytes of the first non-empty packet of the first video stream (empty if none among ``max_packets``)."""
    av = require_av()
    container = _open(path, name)
    try:
        stream = _video_stream(container, name)
        for i, packet in enumerate(container.demux(stream)):
            if packet.size:
                return bytes(packet)
            if i >= max_packets:
                break
        return b""
    except av.error.FFmpegError as exc:
        raise InputFileError(f"{name} could not be read ({_reason(exc)}); the file is truncated or corrupt") from exc
    finally:
        container.close()


def hevc_layer_ids(data: bytes, nal_length_size: int | None = 4) -> set[int]:
    """The ``nuh_layer_id`` values of the HEVC NAL units in one packet (length-prefixed or Annex B).

    A layer id above 0 means a second layer: in a spatial video, the second eye.
    """
    ids: set[int] = set()
    if data[:3] == b"\x00\x00\x01" or data[:4] == b"\x00\x00\x00\x01":
        pos = 0
        for _ in range(4096):
            pos = data.find(b"\x00\x00\x01", pos)
            if pos < 0 or pos + 5 > len(data):
                break
            ids.add(((data[pos + 3] & 1) << 5) | (data[pos + 4] >> 3))
            pos += 3
        return ids
    n = nal_length_size or 4
    pos = 0
    for _ in range(4096):
        if pos + n + 2 > len(data):
            break
        size = int.from_bytes(data[pos : pos + n], "big")
        ids.add(((data[pos + n] & 1) << 5) | (data[pos + n + 1] >> 3))
        if size < 2:
            break
        pos += n + size
    return ids


def decode_frames(
    path: Path,
    *,
    name: str,
    start_s: float | None = None,
    codec_options: dict[str, str] | None = None,
) -> Generator[DecodedFrame, None, None]:
    """Decode the first video stream of ``path`` one frame at a time, in presentation order.

    Parameters
    ----------
    path : Path
        The video file.
    name : str
        How to call it in messages.
    start_s : float, optional
        Seek hint: start decoding at the key frame at or before this time
        (frames before ``start_s`` may still come; callers filter).
    codec_options : dict, optional
        Decoder options (MV-HEVC: ``{"view_ids": "-1"}`` for both views).

    Yields
    ------
    DecodedFrame
        ``timestamp_s`` counts from the stream's start time.

    Raises
    ------
    InputFileError
        FFmpeg fails while opening, seeking or decoding (truncated or corrupt data).
    """
    av = require_av()
    container = _open(path, name)
    last_s = 0.0
    try:
        stream = _video_stream(container, name)
        if codec_options:
            stream.codec_context.options = dict(codec_options)
        stream.thread_type = "AUTO"
        time_base = stream.time_base
        start_pts = stream.start_time or 0
        rate = stream.average_rate or stream.guessed_rate
        step = 1.0 / float(rate) if rate else 1.0 / 30.0
        if start_s and start_s > 0 and time_base:
            container.seek(start_pts + int(start_s / time_base), stream=stream, backward=True, any_frame=False)
        for packet in container.demux(stream):
            for frame in packet.decode():
                if frame.pts is not None and time_base is not None:
                    t = float((frame.pts - start_pts) * time_base)
                else:
                    t = last_s + step
                last_s = t
                yield DecodedFrame(t, frame)
    except av.error.FFmpegError as exc:
        raise InputFileError(
            f"{name}: decoding failed near {last_s:.2f} s ({_reason(exc)}); the file is truncated or corrupt"
        ) from exc
    finally:
        container.close()


def colour_tags(frame: Any) -> dict[str, Any]:
    """The colour description a frame is converted with: tagged values, and what was assumed for untagged ones."""
    matrix = _MATRICES.get(int(frame.colorspace))
    colour_range = _RANGES.get(int(frame.color_range))
    tags: dict[str, Any] = {
        "matrix": matrix or ("bt709" if frame.height >= 720 else "bt601"),
        "matrix_tagged": matrix is not None,
        "range": colour_range or ("full" if str(frame.format.name).startswith("yuvj") else "limited"),
        "range_tagged": colour_range is not None,
    }
    transfer = _TRANSFERS.get(int(getattr(frame, "color_trc", 0) or 0))
    if transfer:
        tags["transfer"] = transfer
        tags["note"] = "HDR transfer function: values converted without tone mapping"
    return tags


def frame_to_rgb(frame: Any, tags: dict[str, Any] | None = None, *, name: str = "the video") -> np.ndarray:
    """A decoded frame as ``HxWx3`` uint8 RGB, converted with its colour tags (see :func:`colour_tags`).

    Raises
    ------
    InputFileError
        FFmpeg cannot convert the frame's pixel format (``name`` goes in the message).
    """
    av = require_av()
    from av.video.reformatter import ColorRange, Colorspace, Interpolation

    spaces = {
        "bt709": Colorspace.ITU709,
        "bt601": Colorspace.ITU601,
        "smpte240m": Colorspace.SMPTE240M,
        "fcc": Colorspace.FCC,
        "bt2020": Colorspace.BT2020,
    }
    fmt = str(frame.format.name)
    try:
        if fmt.startswith(("gbr", "rgb", "bgr", "argb", "abgr", "rgba", "bgra")):  # RGB formats: no matrix involved
            return np.ascontiguousarray(frame.to_ndarray(format="rgb24"))
        tags = tags or colour_tags(frame)
        array = frame.to_ndarray(
            format="rgb24",
            src_colorspace=spaces[tags["matrix"]],
            src_color_range=ColorRange.JPEG if tags["range"] == "full" else ColorRange.MPEG,
            dst_color_range=ColorRange.JPEG,
            interpolation=Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT,
        )
    except (av.error.FFmpegError, ValueError) as exc:  # PyAV: ValueError for pixel formats it cannot convert
        raise InputFileError(
            f"{name}: a decoded frame ({fmt}, {frame.width}x{frame.height}) could not be converted to RGB "
            f"({_reason(exc)}); the file uses a pixel format Parallax cannot read"
        ) from exc
    return np.ascontiguousarray(array)
