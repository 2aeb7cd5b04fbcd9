"""A clip's viewer files, segment by segment: the views as H.264 video, the depth as float16 grids.

:class:`SegmentWriter` takes the processed frames of a clip in order
(:class:`~parallax.stereo.clip_types.FrameDepth`) and cuts them into segments, each
a pair of files in the clip's folder (:mod:`parallax.server.clip_worker` documents them):
``seg-NNN.mp4`` (left view | right view, H.264) and ``seg-NNN.depth`` (gzip of
float16 depth grids, row-differenced: :func:`encode_depth_grid`). A segment file appears whole or not at all (written under a
temporary name, then renamed). :func:`clip_view` describes the clip for the viewer.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from parallax.errors import InputFileError
from parallax.io.atomic import atomic_output
from parallax.server.worker import viewer_depth

__all__ = ["SegmentWriter", "scaled_size", "clip_view", "encode_depth_grid", "decode_depth_grid"]

#: x264 quality of the viewer's video (x264's default: small files, no visible blocks at this size).
VIEWER_CRF = 23
#: Low mantissa bits of the float16 depth dropped (rounded): 8 significant bits, 0.4 % steps, less noise to store.
DROPPED_BITS = 3
#: The float16 NaN every "not valid" grid cell is stored as.
NAN_BITS = 0x7E00


def encode_depth_grid(grid: np.ndarray) -> bytes:
    """One depth grid as the viewer receives it (``seg-NNN.depth`` holds them in order, gzipped).

    Each value is the float16 of the depth, rounded to 8 significant bits (0.4 % steps; NaN =
    not valid), as its 16-bit pattern; each row holds the first pattern and then the
    difference to the previous one (modulo 2**16), which compresses about twice as well.
    Little-endian uint16, row-major, top row first. :func:`decode_depth_grid` inverts it.
    """
    bits = np.asarray(grid, dtype="<f2").view("<u2").astype(np.int64)
    invalid = ~np.isfinite(np.asarray(grid, dtype=np.float32))
    half = 1 << (DROPPED_BITS - 1)
    bits = np.where(invalid, NAN_BITS, ((bits + half) >> DROPPED_BITS) << DROPPED_BITS)
    deltas = np.diff(bits, axis=-1, prepend=0) & 0xFFFF
    return deltas.astype("<u2").tobytes(order="C")


def decode_depth_grid(data: bytes, width: int, height: int) -> np.ndarray:
    """Inverse of :func:`encode_depth_grid`: ``height x width`` float32 depth (NaN = not valid)."""
    deltas = np.frombuffer(data, "<u2").reshape(height, width).astype(np.int64)
    bits = (np.cumsum(deltas, axis=1) & 0xFFFF).astype("<u2")
    return bits.view("<f2").astype(np.float32)


def scaled_size(width: int, height: int, side_px: int, *, even: bool = False) -> tuple[int, int]:
    """``(width, height)`` shrunk (never grown) so the longer side is at most ``side_px``; ``even`` rounds to even."""
    scale = min(1.0, side_px / max(width, height))
    if even:
        return max(2, 2 * int(width * scale / 2 + 1e-9)), max(2, 2 * int(height * scale / 2 + 1e-9))
    return max(2, round(width * scale)), max(2, round(height * scale))


class SegmentWriter:
    """Cuts a clip's processed frames into segment files and describes each.

    Parameters
    ----------
    out : Path
        The clip's folder (exists).
    fps : float
        Frame rate of the processed frames (the video's rate).
    view_size : tuple of int
        ``(width, height)`` of each view in the video (even numbers).
    grid_size : tuple of int
        ``(width, height)`` of the depth grids.
    """

    def __init__(self, out: Path, *, fps: float, view_size: tuple[int, int], grid_size: tuple[int, int]) -> None:
        self.out = Path(out)
        self.fps = float(fps)
        self.view_size = view_size
        self.grid_size = grid_size
        #: Descriptions of the segments written so far.
        self.done: list[dict[str, Any]] = []
        #: The events that announced the segments (kept by :func:`~parallax.server.clip_worker.run_clip`).
        self.published: list[dict[str, Any]] = []
        #: A sample of the finite grid depths of the first segment (the viewer's camera distance and range).
        self.first_depths: list[np.ndarray] = []
        self._encoder: Any = None
        self._tmp: Path | None = None
        self._grids: list[bytes] = []
        self._times: list[float] = []
        self._start_s = 0.0
        self._first = 0

    @property
    def frames(self) -> int:
        """Frames in the segment being written."""
        return len(self._times)

    def add(self, frame: Any, position: int, time_s: float) -> None:
        """Add one processed frame (``FrameDepth``), the ``position``-th, shown at ``time_s`` seconds of the run."""
        import cv2

        from parallax.render.video_formats import VideoEncoder

        result = frame.result
        if self._encoder is None:
            self._start_s, self._first = time_s, position
            fd, name = tempfile.mkstemp(prefix=f".seg-{len(self.done):03d}.", suffix=".mp4", dir=self.out)
            os.close(fd)
            self._tmp = Path(name)
            self._encoder = VideoEncoder(self._tmp, fps=self.fps, crf=VIEWER_CRF, preset="veryfast")
        left = cv2.resize(result.image, self.view_size, interpolation=cv2.INTER_AREA)
        right = cv2.resize(result.right_image, self.view_size, interpolation=cv2.INTER_AREA)
        t = max(0.0, time_s - self._start_s)
        self._encoder.add(np.concatenate([left, right], axis=1), t)
        self._times.append(round(t, 6))
        try:
            grid = viewer_depth(np.asarray(result.depth, dtype=np.float32), self.grid_size, np.asarray(result.valid))
        except InputFileError:  # nothing valid in this frame: nothing is drawn
            grid = np.full(self.grid_size[::-1], np.nan, np.float32)
        if not self.done:
            finite = grid[np.isfinite(grid)]
            self.first_depths.append(finite[:: max(1, finite.size // 2000)])
        self._grids.append(encode_depth_grid(grid))

    def close(self) -> dict[str, Any]:
        """Finish the segment being written (both files in place); return its description.

        ``times_s`` are the frames' times in the segment's video (seconds from its start),
        ``start_s`` where the segment starts in the run, ``first_frame`` the position of its
        first frame among all processed frames.
        """
        if self._encoder is None or self._tmp is None:
            raise InputFileError("no frame to close a segment with")
        index = len(self.done)
        self._encoder.close()
        video = f"seg-{index:03d}.mp4"
        depth = f"seg-{index:03d}.depth"
        with atomic_output(self.out / depth) as tmp:
            tmp.write_bytes(gzip.compress(b"".join(self._grids), compresslevel=6, mtime=0))
        os.replace(self._tmp, self.out / video)
        segment = {
            "index": index,
            "video": video,
            "depth": depth,
            "first_frame": self._first,
            "frames": len(self._times),
            "start_s": round(self._start_s, 6),
            "duration_s": round(self._times[-1] + 1.0 / self.fps, 6),
            "times_s": self._times,
        }
        self.done.append(segment)
        self._encoder, self._tmp, self._grids, self._times = None, None, [], []
        return segment

    def abort(self) -> None:
        """Drop the segment being written (after an error, or when the capture was deleted)."""
        if self._encoder is not None:
            self._encoder.abort()
            self._encoder = None
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                self._tmp.unlink()
            self._tmp = None


def clip_view(
    result: Any, clip: Any, rectification: Any, plan: dict[str, Any], writer: SegmentWriter
) -> dict[str, Any]:
    """The clip's ``view.json`` fields (without ``segments``): what the viewer needs besides the segments.

    ``result`` is the first frame's ``DepthResult``; grid intrinsics are in grid pixels (a
    60 degree field of view when the clip gives none, ``camera_assumed: true``); the depth
    range and median are those of the first segment (the camera keeps its distance).
    """
    from parallax.capture.types import ASSUMED_HFOV_DEG, CameraIntrinsics

    height, width = result.depth.shape
    grid_w, grid_h = writer.grid_size
    camera, assumed = result.camera, result.camera is None
    if camera is None:
        camera = CameraIntrinsics.from_hfov(hfov_deg=ASSUMED_HFOV_DEG, width=width, height=height)
    grid_cam = camera.scaled(grid_w / camera.width, grid_h / camera.height)
    finite = np.concatenate(writer.first_depths) if writer.first_depths else np.zeros(0, np.float32)
    finite = finite[np.isfinite(finite)]
    lo, mid, hi = (float(v) for v in np.percentile(finite, [0, 50, 100])) if finite.size else (0.5, 1.0, 2.0)
    vw, vh = writer.view_size
    return {
        "kind": "clip",
        "image_width": int(width),
        "image_height": int(height),
        "grid_width": int(grid_w),
        "grid_height": int(grid_h),
        "fx_px": float(grid_cam.focal_px),
        "fy_px": float(grid_cam.fy_px),
        "cx_px": float(grid_cam.cx_px),
        "cy_px": float(grid_cam.cy_px),
        "camera_assumed": assumed,
        "depth_is_metric": bool(result.depth_is_metric),
        "depth_units": "m" if result.depth_is_metric else "relative",
        "depth_min": lo,
        "depth_max": hi,
        "depth_median": mid,
        "has_right": True,
        "fps": plan["fps"],
        "frames_total": plan["frames"],
        "duration_s": plan["duration_s"],
        "cut": plan["cut"],
        "video": {"codec": "h264", "width": 2 * vw, "height": vh, "view_width": vw, "view_height": vh},
        "depth_encoding": "gzip of uint16-le grids, one per frame, row-major; each row the float16 bit pattern "
        "of its first depth, then differences (mod 2**16) to the previous one; NaN = not valid",
        "rectified": bool(rectification.rectified),
        "rectification_warning": rectification.reason,
        "capture": {"format": clip.format, "width": int(clip.width), "height": int(clip.height)},
        "eyes": dict(clip.eyes),
    }
