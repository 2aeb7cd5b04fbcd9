"""Stereo and depth video: side-by-side, over-under and anaglyph MP4s of a clip, and a depth-preview MP4.

Frames arrive one at a time (:class:`~parallax.stereo.clip_depth.FrameDepth`)
and are encoded at once, so memory stays flat with the clip's length:

* :class:`StereoVideoWriter` -- the rectified views as a parallel
  side-by-side (left view on the left, ``"sbs"``), over-under (left view on
  top, ``"ou"``) or red-cyan Dubois anaglyph (``"anaglyph"``) video;
* :class:`DepthVideoWriter` -- the turbo-coloured disparity of the rectified
  left view (near = red, far = blue, no value = black; inverse depth, so it
  reads like depth), optionally beside the view (``layout="rgbd"``). The
  colour range is the clip's, not the frame's: it starts at the first
  frame's 2nd-98th percentile and follows later frames slowly (a 10 % step per
  frame), so the colours do not flicker with the content.

Video is H.264 (``libx264``, ``yuv420p``, BT.709 limited range: converted with that matrix and tagged) in MP4 through PyAV,
from the optional extra ``video``. H.264 in ``yuv420p`` needs even sizes: an
odd last row or column is dropped. Frame times follow the source's
timestamps (so ``--step`` keeps real time). :class:`AudioCopy` copies the
source's first audio stream for the chosen time range, interleaved as the
video is written (re-encoded to AAC where MP4 cannot hold the codec).
"""

from __future__ import annotations

import contextlib
import math
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from parallax.errors import InputFileError, ParameterError, require
from parallax.render.stereo_formats import anaglyph, over_under, side_by_side
from parallax.stereo.clip_depth import FrameDepth

__all__ = ["AudioCopy", "VideoEncoder", "StereoVideoWriter", "DepthVideoWriter", "DepthColouriser"]

#: FFmpeg's default layout names by channel count (AAC takes these; more channels are mixed to stereo).
_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}
#: Audio codecs an MP4 holds as they are; others are re-encoded to AAC.
_MP4_AUDIO = {"aac", "mp3", "ac3", "eac3", "opus", "flac", "alac"}


def _rate(fps: float) -> Fraction:
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise ParameterError(f"fps must be a positive frame rate, got {fps!r}")
    return Fraction(fps).limit_denominator(1001)


class AudioCopy:
    """The first audio stream of ``source`` from ``start_s`` on, muxed into an output container as video goes.

    Parameters
    ----------
    source : path
        The clip's container.
    start_s : float
        Source time that becomes time 0 of the output.
    """

    def __init__(self, source: str | Path, *, start_s: float = 0.0) -> None:
        self._av = require("av", "video", "audio copying")
        self.source = Path(source)
        self.start_s = float(start_s)
        try:
            self._input = self._av.open(str(self.source))
        except (OSError, self._av.FFmpegError) as exc:
            raise InputFileError(f"cannot read the audio of {self.source.name}: {exc}") from exc
        streams = [s for s in self._input.streams if s.type == "audio"]
        if not streams:
            self._input.close()
            raise InputFileError(f"{self.source.name} holds no audio stream to copy")
        self._in = streams[0]
        self._packets = self._input.demux(self._in)
        self._out: Any = None
        self._pending: Any = None
        self._transcode = self._in.codec_context.name not in _MP4_AUDIO
        self._done = False

    def attach(self, container: Any) -> None:
        """Add the audio stream to an output container (before anything is muxed)."""
        if self._transcode:
            self._out = container.add_stream("aac", rate=self._in.codec_context.sample_rate)
            channels = self._in.codec_context.layout.nb_channels
            # a named layout: AAC refuses "N channels" of unspecified order (e.g. PCM from Matroska)
            self._out.layout = _LAYOUTS.get(channels, "stereo")
            self._out.format = "fltp"  # what FFmpeg's AAC encoder takes; PyAV resamples into it
        else:
            self._out = container.add_stream_from_template(self._in)

    def mux_until(self, container: Any, until_s: float | None) -> None:
        """Mux the audio before output time ``until_s`` (seconds; ``None`` = to the end of the source)."""
        if self._out is None:
            return
        tb = self._in.time_base
        while True:
            if self._pending is None:
                packet = None if self._done else next(self._packets, None)
                if packet is None:
                    self._done = True
                    return
                if packet.dts is None or packet.pts is None:
                    continue
                self._pending = packet
            t = float(self._pending.pts * tb) - self.start_s
            if t < 0:
                self._pending = None
                continue
            if until_s is not None and t >= until_s:
                return
            self._write(container, self._pending)
            self._pending = None

    def _write(self, container: Any, packet: Any) -> None:
        shift = int(round(self.start_s / float(self._in.time_base)))
        if self._transcode:
            for frame in packet.decode():
                frame.pts = None if frame.pts is None else frame.pts - int(round(self.start_s / float(frame.time_base)))
                for out in self._out.encode(frame):
                    container.mux(out)
            return
        packet.pts -= shift
        packet.dts -= shift
        packet.stream = self._out
        container.mux(packet)

    def finish(self, container: Any, end_s: float) -> None:
        """Mux the rest up to ``end_s`` (the video's end), flush an encoder, close the source."""
        self.mux_until(container, end_s)
        if self._transcode and self._out is not None:
            for out in self._out.encode(None):
                container.mux(out)
        self.close()

    def close(self) -> None:
        """Close the source container."""
        self._input.close()


class VideoEncoder:
    """An H.264 MP4 written frame by frame (RGB frames of one size; odd sizes lose their last row/column).

    Parameters
    ----------
    path : path
        Output file (written directly; callers make it atomic).
    fps : float
        Frame rate; frame ``i`` gets time ``i / fps`` unless :meth:`add` is given a time.
    crf : int
        x264 constant rate factor (18 = visually lossless .. 28 = small).
    preset : str
        x264 preset (speed against size).
    audio : AudioCopy, optional
        Audio to interleave.
    """

    def __init__(
        self, path: str | Path, *, fps: float, crf: int = 20, preset: str = "veryfast", audio: AudioCopy | None = None
    ) -> None:
        self._av = require("av", "video", "MP4 output")
        if not (isinstance(crf, int) and 0 <= crf <= 51):
            raise ParameterError(f"crf must be an integer in 0..51, got {crf!r}")
        self.rate = _rate(fps)
        self.crf, self.preset = crf, preset
        self.container = self._av.open(str(path), mode="w", format="mp4")
        self.audio = audio
        self._stream: Any = None
        self._size: tuple[int, int] | None = None
        self.frames = 0
        self._last_t = 0.0

    def _open(self, width: int, height: int) -> None:
        stream = self.container.add_stream("libx264", rate=self.rate)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(self.crf), "preset": self.preset}
        cc = stream.codec_context
        cc.color_primaries = 1  # BT.709
        cc.color_trc = 1
        cc.colorspace = 1
        cc.color_range = 1  # limited ("tv") range
        self._stream = stream
        self._size = (width, height)
        if self.audio is not None:
            self.audio.attach(self.container)

    def add(self, rgb: np.ndarray, time_s: float | None = None) -> None:
        """Encode one ``HxWx3`` uint8 RGB frame (shown at ``time_s`` seconds; default the next frame time)."""
        h, w = rgb.shape[:2]
        w2, h2 = max(2, w - w % 2), max(2, h - h % 2)
        if self._stream is None:
            self._open(w2, h2)
        if self._size != (w2, h2):
            raise ParameterError(f"video frames must keep one size: {self._size} then {(w2, h2)}")
        frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[:h2, :w2]), format="rgb24")
        # Convert with the matrix and range the stream is tagged with (swscale's default is BT.601,
        # which a player decoding by the BT.709 tag would show with shifted colours).
        frame = frame.reformat(format="yuv420p", dst_colorspace="itu709", dst_color_range="MPEG")
        pts = self.frames if time_s is None else max(int(round(time_s * self.rate)), self._next_pts())
        frame.pts = pts
        frame.time_base = Fraction(1, 1) / self.rate
        for packet in self._stream.encode(frame):
            self.container.mux(packet)
        self._last_pts = pts
        self.frames += 1
        self._last_t = float(pts / self.rate)
        if self.audio is not None:
            self.audio.mux_until(self.container, self._last_t)

    def _next_pts(self) -> int:
        return getattr(self, "_last_pts", -1) + 1

    def abort(self) -> None:
        """Close the file without flushing (after an error; the caller discards it)."""
        if self.audio is not None:
            self.audio.close()
        with contextlib.suppress(self._av.FFmpegError, OSError, ValueError):
            self.container.close()

    def close(self) -> None:
        """Flush the encoder, finish the audio and close the file."""
        try:
            if self._stream is not None:
                for packet in self._stream.encode():
                    self.container.mux(packet)
            if self.audio is not None and self._stream is not None:
                self.audio.finish(self.container, self._last_t + float(1 / self.rate))
        finally:
            if self.audio is not None:
                self.audio.close()
            self.container.close()


class StereoVideoWriter:
    """Rectified views of each frame as a side-by-side, over-under or anaglyph video.

    Parameters
    ----------
    path : path
        Output MP4.
    layout : {"sbs", "ou", "anaglyph"}
        Parallel side-by-side (left view on the left), over-under (left on top), Dubois red-cyan.
    fps : float
        Frame rate of the output.
    start_s : float
        Source time of the output's time 0 (frame times are ``timestamp_s - start_s``).
    audio : AudioCopy, optional
    crf, preset
        See :class:`VideoEncoder`.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        layout: Literal["sbs", "ou", "anaglyph"],
        fps: float,
        start_s: float = 0.0,
        audio: AudioCopy | None = None,
        crf: int = 20,
        preset: str = "veryfast",
    ) -> None:
        if layout not in ("sbs", "ou", "anaglyph"):
            raise ParameterError(f"layout must be sbs, ou or anaglyph, got {layout!r}")
        self.layout = layout
        self.start_s = float(start_s)
        self.encoder = VideoEncoder(path, fps=fps, crf=crf, preset=preset, audio=audio)

    def write(self, frame: FrameDepth) -> None:
        """Encode one frame."""
        left, right = frame.result.image, frame.result.right_image
        if right is None:
            raise ParameterError(f"frame {frame.index} has no right view; stereo video needs both")
        if self.layout == "sbs":
            image = side_by_side(left, right, order="parallel")
        elif self.layout == "ou":
            image = over_under(left, right)
        else:
            image = anaglyph(left, right)
        self.encoder.add(image, frame.timestamp_s - self.start_s)

    def close(self) -> None:
        """Finish the file."""
        self.encoder.close()

    def abort(self) -> None:
        """Release the file after an error."""
        self.encoder.abort()


class DepthColouriser:
    """Turbo colours for disparity with a range that belongs to the clip (see the module docstring).

    Parameters
    ----------
    follow : float
        Share of the way the range moves towards each new frame's 2nd-98th percentile (0..1).
    """

    def __init__(self, *, follow: float = 0.1) -> None:
        if not 0.0 <= follow <= 1.0:
            raise ParameterError(f"follow must be in [0, 1], got {follow!r}")
        self.follow = follow
        self.range: tuple[float, float] | None = None
        lut = cv2.applyColorMap(np.arange(256, dtype=np.uint8).reshape(-1, 1), cv2.COLORMAP_TURBO)
        self._lut = lut.reshape(256, 3)[:, ::-1].copy()  # RGB

    def __call__(self, disparity: np.ndarray) -> np.ndarray:
        """``HxWx3`` uint8 RGB: near (large disparity) red, far blue, no value black."""
        d = np.asarray(disparity, dtype=np.float32)
        valid = np.isfinite(d)
        sample = d[::4, ::4]  # percentiles of a 1/16 sample: the same range, a tenth of the time
        sample = sample[np.isfinite(sample)]
        if sample.size:
            lo, hi = (float(v) for v in np.percentile(sample, [2.0, 98.0]))
            if self.range is None:
                self.range = (lo, hi)
            else:
                a = self.follow
                self.range = (self.range[0] + a * (lo - self.range[0]), self.range[1] + a * (hi - self.range[1]))
        lo, hi = self.range or (0.0, 1.0)
        scaled = (np.where(valid, d, lo) - lo) * (255.0 / max(hi - lo, 1e-6))
        index = np.clip(scaled, 0, 255).astype(np.uint8)
        out = self._lut[index]
        out[~valid] = 0
        return out


class DepthVideoWriter:
    """Colourised disparity (depth preview) of each frame as a video.

    Parameters
    ----------
    path : path
        Output MP4.
    fps : float
        Frame rate.
    start_s : float
        Source time of the output's time 0.
    layout : {"depth", "rgbd"}
        The preview alone, or the rectified left view on the left and the preview on the right.
    crf, preset
        See :class:`VideoEncoder`.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        fps: float,
        start_s: float = 0.0,
        layout: Literal["depth", "rgbd"] = "depth",
        crf: int = 20,
        preset: str = "veryfast",
    ) -> None:
        if layout not in ("depth", "rgbd"):
            raise ParameterError(f"layout must be depth or rgbd, got {layout!r}")
        self.layout = layout
        self.start_s = float(start_s)
        self.colour = DepthColouriser()
        self.encoder = VideoEncoder(path, fps=fps, crf=crf, preset=preset)

    def write(self, frame: FrameDepth) -> None:
        """Encode one frame."""
        result = frame.result
        if result.disparity_px is not None:
            preview = self.colour(result.disparity_px)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                preview = self.colour(np.where(result.depth > 0, 1.0 / result.depth, np.nan))
        image = preview if self.layout == "depth" else np.concatenate([result.image, preview], axis=1)
        self.encoder.add(image, frame.timestamp_s - self.start_s)

    def close(self) -> None:
        """Finish the file."""
        self.encoder.close()

    def abort(self) -> None:
        """Release the file after an error."""
        self.encoder.abort()
