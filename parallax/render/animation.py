"""Parallax ("wiggle") animations: a smooth camera sweep as GIF or H.264 MP4.

The camera moves along the baseline with a looping cosine sweep
(:func:`parallax.render.synthesis.sweep_positions`, default -0.25 .. 1.25 and
back), re-converged on the median disparity so the subject stays put and the
scene pivots around it. Frames are downscaled so the longer side is at most
``max_size`` pixels (default 720) and, for MP4, cropped to even sizes (H.264 in
``yuv420p`` needs them).

GIFs are written with Pillow (looping forever); MP4 with PyAV (``libx264``,
``yuv420p``), from the optional extra ``video``: ``pip install 'parallax[video]'``.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from parallax.errors import ParameterError, require
from parallax.outputs.registry import OutputOptions
from parallax.render.options import option_float, option_int
from parallax.stereo.types import DepthResult

__all__ = ["render_sweep", "write_gif", "write_mp4", "write_gif_output", "write_mp4_output"]


def _frame_size(width: int, height: int, max_size: int, *, even: bool) -> tuple[int, int]:
    scale = min(1.0, max_size / max(width, height))
    w = max(2 if even else 1, int(round(width * scale)))
    h = max(2 if even else 1, int(round(height * scale)))
    if even:
        w -= w % 2
        h -= h % 2
    return w, h


def render_sweep(
    result: DepthResult,
    *,
    frames: int = 30,
    start: float = -0.25,
    stop: float = 1.25,
    max_size: int = 720,
    even: bool = False,
    source: str = "both",
) -> np.ndarray:
    """Frames of a looping camera sweep: ``frames x H x W x 3`` uint8.

    Parameters
    ----------
    result : DepthResult
        Views and disparity.
    frames : int
        Number of frames in one loop (>= 2).
    start, stop : float
        Extreme camera positions (0 = left camera, 1 = right camera).
    max_size : int
        Longest side of a frame in pixels.
    even : bool
        Make both sides even (for H.264).
    source : {"both", "left"}
        Warp both views or the left one only.
    """
    from parallax.render.synthesis import sweep_positions
    from parallax.render.views import prepare_views

    if not isinstance(max_size, (int, np.integer)) or max_size < 2:
        raise ParameterError(f"max_size must be an integer >= 2 pixels, got {max_size!r}")
    positions = sweep_positions(frames, start=start, stop=stop, kind="cosine")
    height, width = result.image.shape[:2]
    size = _frame_size(width, height, max_size, even=even)
    aspect = size[0] / size[1] if even else None
    return prepare_views(result, size=size, aspect=aspect, source=source, focus="median").render(positions)  # type: ignore[arg-type]


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[3] != 3 or frames.dtype != np.uint8 or frames.shape[0] < 1:
        raise ParameterError(f"frames must be N x H x W x 3 uint8 with N >= 1, got {frames.shape} {frames.dtype}")
    return frames


def write_gif(frames: np.ndarray, path: str | Path, *, fps: float = 25.0) -> None:
    """Write an endlessly looping GIF (Pillow, adaptive palette per frame)."""
    frames = _check_frames(frames)
    if not fps > 0:
        raise ParameterError(f"fps must be positive, got {fps!r}")
    images = [Image.fromarray(f) for f in frames]
    duration_ms = int(round(1000.0 / fps))
    images[0].save(
        path,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        loop=0,
        duration=duration_ms,
        disposal=1,
        optimize=False,
    )


def write_mp4(frames: np.ndarray, path: str | Path, *, fps: int = 30, crf: int = 18, loops: int = 2) -> None:
    """Write an H.264 MP4 (``yuv420p``, even sizes required) with PyAV.

    Parameters
    ----------
    frames : numpy.ndarray
        ``N x H x W x 3`` uint8 RGB frames of one loop.
    fps : int
        Frame rate.
    crf : int
        x264 constant rate factor (0 = lossless .. 51; 18 is visually lossless).
    loops : int
        How many times the loop is repeated in the file (players rarely loop MP4).
    """
    av = require("av", "video", "MP4 output")
    frames = _check_frames(frames)
    h, w = frames.shape[1:3]
    if w % 2 or h % 2:
        raise ParameterError(f"H.264 yuv420p needs even frame sizes, got {w}x{h}; crop or resize to even sizes")
    if not (isinstance(loops, int) and loops >= 1):
        raise ParameterError(f"loops must be an integer >= 1, got {loops!r}")
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(int(fps), 1))
        stream.width = w
        stream.height = h
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(int(crf)), "preset": "medium"}
        for _ in range(loops):
            for frame in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def write_gif_output(result: DepthResult, path: Path, options: OutputOptions) -> None:
    """Registry writer: looping wiggle GIF (``options.extra``: ``frames`` (30), ``max_size`` (720), ``fps`` (25))."""
    frames = render_sweep(
        result,
        frames=option_int(options.extra, "frames", 30, minimum=2),
        max_size=option_int(options.extra, "max_size", 720, minimum=2),
        source=options.extra.get("source", "both"),
    )
    write_gif(frames, path, fps=option_float(options.extra, "fps", 25.0))


def write_mp4_output(result: DepthResult, path: Path, options: OutputOptions) -> None:
    """Registry writer: H.264 MP4 camera sweep (``options.extra``: ``frames`` (60), ``max_size`` (1280), ``fps`` (30))."""
    require("av", "video", "MP4 output")
    frames = render_sweep(
        result,
        frames=option_int(options.extra, "frames", 60, minimum=2),
        max_size=option_int(options.extra, "max_size", 1280, minimum=2),
        even=True,
        source=options.extra.get("source", "both"),
    )
    write_mp4(frames, path, fps=option_int(options.extra, "fps", 30), loops=option_int(options.extra, "loops", 2))
