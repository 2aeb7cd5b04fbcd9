"""Stereo videos in the server's worker processes: check an upload, then stream its 3D in segments.

Like :mod:`parallax.server.worker` for photos, each function here runs in a worker
process (never in the event loop), reports progress through the queue of
:func:`~parallax.server.worker.init_worker` and raises
:class:`~parallax.errors.ParallaxError` subclasses for what the user caused.

A clip is processed once, in order, by :class:`~parallax.stereo.clip_depth.ClipDepth`
(rectification, matching at ``video_side_px``, temporal filter, odometry): the first
``video_max_s`` seconds, at most ``video_max_fps`` frames a second. The rectification
is fitted on frames spread through the first segment, so the first 3D frames come
quickly; the whole clip uses it (a rig does not change during a clip). Frames are cut
into *segments*: the first ``video_first_s`` seconds (announced by the
``first-seconds`` event as soon as they are written), then ``video_segment_s``
seconds each (announced by ``progress`` events, which also count frames done).

Files of a clip (``<capture>/clip/``), what the viewer loads:

``seg-NNN.mp4``
    H.264 (``yuv420p``, BT.709 limited range, tagged) of the segment's frames: the
    rectified left view on the left half, the rectified right view on the right half
    (one decoder keeps the eyes in step). Frame times start at 0 in each segment;
    the segment's ``times_s`` lists them.
``seg-NNN.depth``
    gzip of depth grids, one per frame in order, each ``grid_width x grid_height``
    values, row-major, top row first, along the optical axis (metres when metric,
    else relative with one scale for the clip): float16 rounded to 8 significant bits,
    NaN where the frame's depth is not ``valid`` (the viewer draws nothing there),
    stored row-differenced (:func:`~parallax.server.clip_segments.encode_depth_grid`).
    Served with ``Content-Encoding: gzip``.
``view.json``
    The clip's viewer facts (sizes, grid intrinsics, depth units and range, frame
    rate, frames in all) and the segments written so far.
``run.json``
    The rectification, frame selection and settings: downloads run the same
    processing again (:mod:`parallax.server.clip_export`) and get the same frames and depth.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from parallax.errors import OutputError, ParallaxError
from parallax.io.atomic import atomic_output
from parallax.server.clip_segments import SegmentWriter, clip_view, scaled_size
from parallax.server.config import ServerConfig
from parallax.server.worker import emit

__all__ = [
    "CLIP_DIR",
    "ClipCheck",
    "ClipJob",
    "upload_kind",
    "clip_plan",
    "open_clip",
    "check_clip",
    "run_clip",
    "warm_up_video",
]

#: Sub-folder of a capture that holds a clip's viewer files.
CLIP_DIR = "clip"
#: Seconds between two progress events that bring no new segment.
_PROGRESS_EVERY_S = 1.0


class _Cancelled(Exception):
    """The capture was deleted meanwhile: the job ends quietly."""


@dataclass(frozen=True, kw_only=True)
class ClipCheck:
    """Open an uploaded video and decode its first frame pair (the answer to the upload)."""

    source: Path
    display_name: str
    max_pixels: int
    max_s: float
    max_fps: float


@dataclass(frozen=True, kw_only=True)
class ClipJob:
    """Process one uploaded video for the viewer (see the module docstring); sizes in pixels, times in seconds."""

    capture_id: str
    folder: Path
    source: Path
    display_name: str
    max_pixels: int
    max_s: float
    max_fps: float
    first_s: float
    segment_s: float
    side_px: int
    matcher: str
    view_side_px: int
    grid_side_px: int

    @classmethod
    def from_config(
        cls, config: ServerConfig, *, capture_id: str, folder: Path, source: Path, display_name: str
    ) -> ClipJob:
        """The job for an upload, with the server's video settings."""
        return cls(
            capture_id=capture_id,
            folder=folder,
            source=source,
            display_name=display_name,
            max_pixels=config.max_pixels,
            max_s=config.video_max_s,
            max_fps=config.video_max_fps,
            first_s=config.video_first_s,
            segment_s=config.video_segment_s,
            side_px=config.video_side_px,
            matcher=config.video_matcher,
            view_side_px=config.video_view_side_px,
            grid_side_px=config.video_grid_side_px,
        )


def upload_kind(path: Path) -> str:
    """``"clip"`` or ``"photo"``: what an uploaded file is, by its content.

    A file a still reader recognises by its bytes is a photo; else a file a clip reader
    recognises (by its container's bytes, or failing that by its video extension) is a
    clip; else a photo (whose reader then says what is wrong with it).
    """
    from parallax.capture.clip_registry import is_clip_path
    from parallax.capture.registry import find_reader, probe_file
    from parallax.errors import UnsupportedFormatError

    try:
        probe = probe_file(path)
    except OSError:
        return "photo"
    try:
        find_reader(probe)
        return "photo"
    except UnsupportedFormatError:
        pass
    return "clip" if is_clip_path(path) else "photo"


def clip_plan(clip: Any, max_s: float, max_fps: float) -> dict[str, Any]:
    """Which frames of ``clip`` are processed: the first ``max_s`` seconds, at most ``max_fps`` a second.

    Returns ``end_s`` (``None``: to the end), ``step``, ``max_frames``, ``fps`` (of the
    processed frames), ``frames`` (expected count), ``duration_s`` and ``cut`` (the
    clip is longer than what is processed).
    """
    from parallax.capture.clip import FrameSelection
    from parallax.stereo.clip_rectify import expected_frame_count

    step = max(1, math.ceil(float(clip.fps) / max_fps - 1e-6))
    cut = float(clip.duration_s) > max_s + 1e-6
    end_s = float(max_s) if cut else None
    max_frames = max(1, math.ceil(max_s * min(max_fps, float(clip.fps) / step)) + 1)
    selection = FrameSelection(end_s=end_s, step=step, max_frames=max_frames)
    frames = expected_frame_count(clip, selection)
    fps = float(clip.fps) / step
    return {
        "end_s": end_s,
        "step": step,
        "max_frames": max_frames,
        "fps": fps,
        "frames": frames,
        "duration_s": frames / fps,
        "cut": cut,
    }


def open_clip(source: Path, display_name: str, max_pixels: int) -> Any:
    """``read_clip`` of an upload, its errors naming the file as the user called it."""
    from parallax.capture.clip_registry import read_clip
    from parallax.errors import require

    require("av", "video", "stereo videos")
    try:
        return read_clip(source, max_pixels=max_pixels)
    except ParallaxError as exc:
        raise _renamed(exc, source, display_name) from None


def _renamed(exc: ParallaxError, source: Path, display_name: str) -> ParallaxError:
    """The error with the server's path of the upload replaced by the name the user gave."""
    message = str(exc).replace(str(source), display_name).replace(source.name, display_name)
    return type(exc)(message)


def check_clip(job: ClipCheck) -> dict[str, Any]:
    """Open the video and decode its first stereo frame; return what the ``read`` event tells.

    Raises
    ------
    ParallaxError
        The reader's error (truncated, mono, audio only, a mesh projection, ...), naming
        the file as the user called it.
    """
    t0 = time.perf_counter()
    clip = open_clip(job.source, job.display_name, job.max_pixels)
    try:
        clip.first_frame()
    except ParallaxError as exc:
        raise _renamed(exc, job.source, job.display_name) from None
    plan = clip_plan(clip, job.max_s, job.max_fps)
    return {
        "kind": "clip",
        "format": clip.format,
        "layout": clip.layout,
        "projection": clip.projection,
        "width": int(clip.width),
        "height": int(clip.height),
        "fps": float(clip.fps),
        "frame_count": int(clip.frame_count),
        "duration_s": float(clip.duration_s),
        "has_audio": bool(clip.has_audio),
        "processing": {k: plan[k] for k in ("fps", "frames", "duration_s", "cut", "step")},
        "seconds": round(time.perf_counter() - t0, 3),
    }


def _check_alive(folder: Path) -> None:
    if not (folder / "meta.json").is_file():
        raise _Cancelled()


def run_clip(job: ClipJob) -> dict[str, Any]:
    """Process the clip for the viewer, segment by segment (see the module docstring).

    Emits ``processing``, ``first-seconds`` (with ``view``: the clip's ``view.json`` with
    its first segment) and ``progress`` (``frames_done``, ``frames_total``, and
    ``segment`` when one was written); returns the run's summary, with the segment events
    under ``"published"`` (the server records any the queue has not delivered yet, so a
    result that overtakes its last events loses none of them). Stops quietly, with
    ``{"cancelled": True, "frames": <frames done>}``, when the capture is deleted meanwhile
    (checked every frame).
    """
    started = time.perf_counter()
    writer: SegmentWriter | None = None
    done = 0
    try:
        _check_alive(job.folder)
        clip = open_clip(job.source, job.display_name, job.max_pixels)
        plan = clip_plan(clip, job.max_s, job.max_fps)
        emit(job.capture_id, "processing", frames_total=plan["frames"], fps=plan["fps"], duration_s=plan["duration_s"])
        run = _prepare(job, clip, plan)
        t_rect = time.perf_counter() - started
        rect = run.rectification.rectification
        writer = SegmentWriter(
            job.folder / CLIP_DIR,
            fps=plan["fps"],
            view_size=scaled_size(rect.width, rect.height, job.view_side_px, even=True),
            grid_size=scaled_size(rect.width, rect.height, job.grid_side_px),
        )
        sizes = (max(1, round(job.first_s * plan["fps"])), max(1, round(job.segment_s * plan["fps"])))
        view: dict[str, Any] = {}
        t0, first, last_note = 0.0, None, time.perf_counter()
        for frame in run:
            _check_alive(job.folder)
            if done == 0:
                first, t0 = frame.result, frame.timestamp_s
            writer.add(frame, done, frame.timestamp_s - t0)
            done += 1
            if writer.frames >= sizes[1 if writer.done else 0]:
                if not writer.done:  # the first segment's depths set the viewer's camera distance
                    view, first = clip_view(first, clip, rect, plan, writer), None
                _publish(job, writer, view, plan, done, started, t_rect)
                last_note = time.perf_counter()
            elif time.perf_counter() - last_note >= _PROGRESS_EVERY_S:
                emit(job.capture_id, "progress", frames_done=done, frames_total=plan["frames"])
                last_note = time.perf_counter()
        if writer.frames:
            if not writer.done:
                view = clip_view(first, clip, rect, plan, writer)
            _publish(job, writer, view, plan, done, started, t_rect)
    except (_Cancelled, OSError, OutputError) as exc:
        if writer is not None:
            writer.abort()
        if isinstance(exc, _Cancelled) or not (job.folder / "meta.json").is_file():
            return {"cancelled": True, "frames": done}
        raise
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    seconds = time.perf_counter() - started
    summary = run.summary()
    return {
        "published": writer.published,
        "frames": done,
        "segments": len(writer.done),
        "seconds": round(seconds, 3),
        "frames_per_s": round(done / max(seconds, 1e-6), 3),
        "depth_is_metric": summary.get("depth_is_metric"),
        "trajectory": summary.get("trajectory"),
    }


def _prepare(job: ClipJob, clip: Any, plan: dict[str, Any]) -> Any:
    """The clip's rectification (fitted on its first segment) and run; ``run.json`` written for downloads."""
    from parallax.stereo.clip_depth import ClipDepth
    from parallax.stereo.clip_rectify import estimate_clip_rectification
    from parallax.stereo.clip_types import ClipDepthSettings

    first_n = max(1, round(job.first_s * plan["fps"]))
    rect = estimate_clip_rectification(
        clip, end_s=plan["end_s"], step=plan["step"], max_frames=first_n, fit_frames=3, check_frames=0
    )
    _check_alive(job.folder)
    out = job.folder / CLIP_DIR
    out.mkdir(exist_ok=True)
    selection = {"end_s": plan["end_s"], "step": plan["step"], "max_frames": plan["max_frames"]}
    record = {"rectification": rect.to_dict(), "selection": selection, "matcher": job.matcher, "side_px": job.side_px}
    with atomic_output(out / "run.json") as tmp:
        tmp.write_text(json.dumps(record), encoding="utf-8")
    settings = ClipDepthSettings(matcher=job.matcher, max_side_px=job.side_px)
    return ClipDepth(clip, **selection, settings=settings, rectification=rect)


def _publish(
    job: ClipJob, writer: SegmentWriter, view: dict[str, Any], plan: dict[str, Any], done: int, t0: float, t_rect: float
) -> None:
    """Close the segment being written, update ``view.json`` and announce the segment."""
    segment = writer.close()
    if segment["index"] == 0:
        view["seconds"] = {"rectification": round(t_rect, 3), "first": round(time.perf_counter() - t0, 3)}
    with atomic_output(job.folder / CLIP_DIR / "view.json") as tmp:
        tmp.write_text(json.dumps({**view, "segments": writer.done}), encoding="utf-8")
    counts = {"frames_done": done, "frames_total": plan["frames"]}
    if segment["index"] == 0:
        event = {"event": "first-seconds", **counts, "view": {**view, "segments": [segment]}}
    else:
        event = {"event": "progress", **counts, "segment": segment}
    writer.published.append(event)
    emit(job.capture_id, **event)


def warm_up_video(matcher: str) -> int:
    """Warm a video worker: the photo warm-up for ``matcher``, then a tiny clip through the clip stage
    (imports, JIT of the temporal filter and upsampling); return the worker's pid."""
    from parallax.capture.clip import FramePair, StereoClip
    from parallax.server.worker import warm_up
    from parallax.stereo.clip_depth import ClipDepth
    from parallax.stereo.clip_types import ClipDepthSettings

    pid = warm_up((matcher,))
    rng = np.random.default_rng(1)
    import cv2

    texture = cv2.GaussianBlur(rng.integers(0, 255, (120, 176, 3), dtype=np.uint8), (3, 3), 0)

    def frames(start_s: float | None) -> Iterator[FramePair]:
        for i in range(3):
            shifted = np.roll(texture, i, axis=1)
            yield FramePair(
                index=i,
                timestamp_s=i / 10,
                left=np.ascontiguousarray(shifted[:, 8:]),
                right=np.ascontiguousarray(shifted[:, :-8]),
            )

    clip = StereoClip(
        source="warm-up", format="frames", layout="separate", projection="rectilinear", width=168, height=120,
        fps=10.0, frame_count=3, duration_s=0.3, open_frames=frames,
    )  # fmt: skip
    try:
        for _ in ClipDepth(clip, settings=ClipDepthSettings(matcher=matcher, max_side_px=168)):
            pass
    except ParallaxError:
        pass  # e.g. too few features on noise: the imports and JIT happened anyway
    try:
        import av  # noqa: F401  (the video extra; its absence is reported when a video arrives)
    except ImportError:
        pass
    return pid
