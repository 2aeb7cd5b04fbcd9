"""Processing one clip cut: privacy -> rectification -> depth and pose -> per-frame quality -> frame files.

A cut (:class:`~parallax.corpus.clip_cut.ClipCut`) is processed in two steps, each
a pure function of picklable arguments that the embedded engine runs in this
process and the Ray engine on its workers:

1. :func:`prepare_cut` -- one rectification for the whole cut
   (:func:`~parallax.stereo.clip_rectify.estimate_clip_rectification` on the
   downsized frames; only its homographies are kept, so it runs before blurring)
   and the depth decision (metric, or relative with one offset and scale) from
   the cut's first frame, blurred.
2. :func:`process_chunk` -- the frames of one chunk (:func:`chunk_tasks` splits a
   cut into equal chunks of at most ``clip_chunk_frames``, each starting
   :data:`WARMUP_FRAMES` frames early so the temporal filter and the odometry are
   warmed up on frames the previous chunk outputs; faces are tracked over
   :data:`PRIVACY_WINDOW` frames past its end too, so every frame is blurred
   exactly as in one unbroken pass). Per frame: decode, downsize to the stored
   size, blur faces in both views with tracking across detector misses
   (:func:`~parallax.corpus.clip_privacy.anonymise_frames`) -- *before* anything
   else sees the pixels -- then rectify, match, filter over time and track the camera
   (:class:`~parallax.stereo.clip_depth.ClipDepth`, sharing the cut's
   rectification and depth decision), score the frame (:func:`~parallax.corpus.clip_quality.assess_frame`)
   and write an accepted frame's files (the clip sample encodings) into the chunk's
   staging folder, fsynced. Memory holds a few frames, whatever the clip's length.

Each step returns small records (no pixels); :mod:`parallax.corpus.clip_commit`
joins the chunks into one clip sample folder at commit time.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from parallax.corpus.clip_cut import ClipCut, PlannedFrame, downsize_views, open_source, split_scene
from parallax.corpus.clip_quality import FrameQuality, assess_frame
from parallax.errors import InputFileError, ParallaxError

if TYPE_CHECKING:  # pragma: no cover
    from parallax.capture.clip import FramePair, StereoClip
    from parallax.corpus.discovery import CaptureItem
    from parallax.corpus.ingest import IngestSettings
    from parallax.corpus.privacy import Detector
    from parallax.stereo.clip_rectify import ClipRectification

__all__ = [
    "WARMUP_FRAMES",
    "PRIVACY_WINDOW",
    "CutSetup",
    "ChunkTask",
    "FrameRecord",
    "ChunkResult",
    "prepare_cut",
    "chunk_tasks",
    "process_chunk",
]

#: Frames a chunk starts before its first output frame (the temporal filter's history, and >= PRIVACY_WINDOW).
WARMUP_FRAMES = 4
#: Frames before and after a frame whose face detections also blur it (tracking across detector misses).
PRIVACY_WINDOW = 2
#: Frames the rectification is fitted on and checked on (spread over the cut).
_FIT_FRAMES, _CHECK_FRAMES = 5, 3


@dataclass(frozen=True, kw_only=True)
class CutSetup:
    """What every chunk of a cut shares: its rectification and depth decision."""

    rectification: ClipRectification
    depth_mode: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class ChunkTask:
    """One chunk of a cut to process (picklable)."""

    item: CaptureItem
    settings: IngestSettings
    chunk: int
    frames: tuple[PlannedFrame, ...]
    warmup: int
    lookahead: tuple[PlannedFrame, ...]
    fps: float
    setup: CutSetup
    folder: str


@dataclass(frozen=True, kw_only=True)
class FrameRecord:
    """One processed frame of a chunk: its pose (in the chunk's world) and quality; where its files are."""

    source_index: int
    timestamp_s: float
    warmup: bool
    pose: np.ndarray | None
    pose_status: str | None
    quality: FrameQuality | None = None
    local_index: int | None = None  # its number in the chunk folder, when stored


@dataclass(frozen=True, kw_only=True)
class ChunkResult:
    """What :func:`process_chunk` made of one chunk: records and where its files are, or an error."""

    chunk: int
    folder: str
    frames: tuple[FrameRecord, ...] = ()
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    streams: dict[str, dict[str, Any]] = field(default_factory=dict)
    shape: tuple[int, int] | None = None
    K: list[list[float]] | None = None
    depth: dict[str, Any] = field(default_factory=dict)
    privacy: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def _face_detector(settings: IngestSettings) -> Detector:
    from parallax.corpus.ingest import _detector

    return _detector(settings.face_detector, "face")


def _decode(clip: StereoClip, frames: Sequence[PlannedFrame], max_side_px: int) -> Iterator[tuple[np.ndarray, ...]]:
    """The planned frames again, decoded and downsized; checked against the plan's pixel hashes."""
    from parallax.corpus.encoding import pixel_sha256

    if not frames:
        return
    want = iter(frames)
    target: PlannedFrame | None = next(want)
    hint = max(0.0, frames[0].timestamp_s - 0.5 / float(clip.fps))
    for pair in clip.frames(start_s=hint if hint > 0 else None):
        if target is None:
            return
        if pair.index < target.source_index:
            continue
        if pair.index > target.source_index or pixel_sha256(pair.left, pair.right) != target.pixel_sha256:
            raise InputFileError(
                f"{clip.source}: frame {target.source_index} does not decode to the same pixels twice; "
                "the file changed during the ingest or its decoding is not repeatable"
            )
        left, right, _ = downsize_views(pair.left, pair.right, max_side_px)
        yield left, right
        target = next(want, None)
    if target is not None:
        raise InputFileError(f"{clip.source}: the video ended before frame {target.source_index}; it is truncated")


def _cut_clip(
    clip: StereoClip,
    frames: Sequence[PlannedFrame],
    *,
    fps: float,
    settings: IngestSettings,
    stop: int | None = None,
    detector: Detector | None = None,
    report: Any = None,
) -> StereoClip:
    """``clip`` reduced to ``frames[:stop]`` at the stored size, faces blurred when ``detector`` is given
    (tracked over all of ``frames``, so the look-ahead frames past ``stop`` count too)."""
    from parallax.capture.clip import FramePair
    from parallax.corpus.clip_privacy import anonymise_frames

    count = len(frames) if stop is None else min(stop, len(frames))
    scale = min(1.0, settings.max_side_px / max(clip.width, clip.height))
    w, h = clip.width, clip.height
    if scale < 1.0:  # the size downsize_views gives
        w, h = max(1, round(clip.width * scale)), max(1, round(clip.height * scale))

    def open_frames(_start_s: float | None) -> Iterator[FramePair]:
        views: Iterator[tuple[np.ndarray, ...]] = _decode(clip, frames, settings.max_side_px)
        if detector is not None:
            pairs = ((v[0], v[1]) for v in views)
            views = anonymise_frames(pairs, detector, window=PRIVACY_WINDOW, report=report)
        for pos, (left, right) in enumerate(views):
            if pos >= count:
                return
            f = frames[pos]
            yield FramePair(index=f.source_index, timestamp_s=f.timestamp_s, left=left, right=right)

    return dataclasses.replace(
        clip, width=w, height=h, fps=fps, frame_count=count, duration_s=count / fps, open_frames=open_frames
    )


def _depth_settings(settings: IngestSettings, *, first_only: bool = False) -> Any:
    from parallax.stereo.clip_types import ClipDepthSettings

    return ClipDepthSettings(
        matcher=settings.matcher,
        fit_frames=_FIT_FRAMES,
        check_frames=_CHECK_FRAMES,
        temporal=not first_only,
        odometry=not first_only,
    )


def prepare_cut(item: CaptureItem, cut: ClipCut, settings: IngestSettings, fps: float) -> CutSetup:
    """The rectification and depth decision a cut's chunks share (module docstring, step 1).

    Raises
    ------
    ParallaxError
        The source cannot be read again, or its frames changed.
    """
    from parallax.stereo.clip_depth import ClipDepth
    from parallax.stereo.clip_rectify import estimate_clip_rectification

    clip = open_source(item, settings)
    plain = _cut_clip(clip, cut.frames, fps=fps, settings=settings)
    rect = estimate_clip_rectification(plain, fit_frames=_FIT_FRAMES, check_frames=_CHECK_FRAMES)
    first = _cut_clip(clip, cut.frames, fps=fps, settings=settings, stop=1, detector=_face_detector(settings))
    run = ClipDepth(first, settings=_depth_settings(settings, first_only=True), rectification=rect)
    for _ in run:
        break
    if run.depth_mode is None:  # pragma: no cover - a cut has at least one frame
        raise InputFileError(f"{cut.original_name}: no frame to decide the depth units on")
    return CutSetup(rectification=rect, depth_mode=dict(run.depth_mode))


def chunk_tasks(
    item: CaptureItem, cut: ClipCut, setup: CutSetup, settings: IngestSettings, fps: float, folder: str | Path
) -> list[ChunkTask]:
    """Split a cut into chunks of at most ``settings.clip_chunk_frames`` output frames (module docstring)."""
    n = len(cut.frames)
    size = settings.clip_chunk_frames or n
    tasks = []
    for k, (a, b) in enumerate(split_scene(n, size)):
        warm = min(WARMUP_FRAMES, a)
        tasks.append(
            ChunkTask(
                item=item,
                settings=settings,
                chunk=k,
                frames=cut.frames[a - warm : b],
                warmup=warm,
                lookahead=cut.frames[b : b + PRIVACY_WINDOW],
                fps=fps,
                setup=setup,
                folder=os.path.join(os.fspath(folder), f"chunk-{k:03d}"),
            )
        )
    return tasks


def _write(folder: Path, name: str, data: bytes) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _K(result: Any) -> tuple[np.ndarray, str]:
    from parallax.capture.types import ASSUMED_HFOV_DEG, CameraIntrinsics

    if result.camera is not None:
        return result.camera.K, "from the clip's camera facts"
    h, w = result.image.shape[:2]
    camera = CameraIntrinsics.from_hfov(hfov_deg=ASSUMED_HFOV_DEG, width=w, height=h)
    return camera.K, f"assumed: {ASSUMED_HFOV_DEG:g} degree horizontal field of view (the clip states no focal length)"


def process_chunk(task: ChunkTask) -> ChunkResult:
    """Process one chunk (module docstring, step 2); errors of the input come back in ``error``."""
    try:
        return _process_chunk(task)
    except (ParallaxError, cv2.error, np.linalg.LinAlgError, OSError) as exc:
        return ChunkResult(chunk=task.chunk, folder=task.folder, error=" ".join(f"processing failed: {exc}".split()))


def _process_chunk(task: ChunkTask) -> ChunkResult:
    from parallax.corpus.clip_folder import ClipEncoder
    from parallax.corpus.clip_privacy import ClipPrivacyReport
    from parallax.corpus.clip_sample import ClipFrame, ClipInfo
    from parallax.stereo.clip_depth import ClipDepth

    s = task.settings
    folder = Path(task.folder)
    folder.mkdir(parents=True, exist_ok=False)
    detector = _face_detector(s)
    report = ClipPrivacyReport(detector=detector.name, window=PRIVACY_WINDOW)
    clip = open_source(task.item, s)
    frames = task.frames + task.lookahead
    view = _cut_clip(clip, frames, fps=task.fps, settings=s, stop=len(task.frames), detector=detector, report=report)
    run = ClipDepth(view, settings=_depth_settings(s), rectification=task.setup.rectification,
                    depth_mode=task.setup.depth_mode)  # fmt: skip
    encoder: ClipEncoder | None = None
    records: list[FrameRecord] = []
    K: np.ndarray | None = None
    k_note = ""
    depth: dict[str, Any] = {}
    for pos, fd in enumerate(run):
        planned = task.frames[pos]
        pose = fd.pose
        status = None if pose is None else str(pose.status)
        matrix = None if pose is None or pose.status == "lost" else np.array(pose.camera_to_world)
        if pos < task.warmup:
            records.append(FrameRecord(source_index=planned.source_index, timestamp_s=planned.timestamp_s,
                                       warmup=True, pose=matrix, pose_status=status))  # fmt: skip
            continue
        r = fd.result
        if r.right_image is None:  # pragma: no cover - clip depth always has both views
            raise InputFileError(f"{task.item.original_name}: frame {planned.source_index} lost its right view")
        if K is None:
            K, k_note = _K(r)
            depth = {
                "depth_is_metric": bool(r.depth_is_metric and r.baseline_m is not None),
                "baseline_m": r.baseline_m,
                "doffs_px": float(r.doffs_px),
                "matcher": {k: v for k, v in dict(r.settings).items() if k != "frame_index"},
                "K": k_note,
            }
        disparity = np.asarray(r.disparity_px, dtype=np.float32)
        valid = np.asarray(r.valid, dtype=bool) & np.isfinite(disparity)  # the depth result's own mask (stored)
        trusted = valid & (r.confidence >= s.min_confidence)  # what the quality gates count, as for stills
        quality = assess_frame(
            r.image, r.right_image, disparity, valid=trusted, source_index=planned.source_index,
            timestamp_s=planned.timestamp_s, thresholds=s.thresholds,
        )  # fmt: skip
        local = None
        if quality.accepted:
            if encoder is None:
                metric = depth["depth_is_metric"]
                encoder = ClipEncoder(
                    ClipInfo(sample_id="chunk", fps=task.fps, baseline_m=r.baseline_m if metric else None,
                             depth_is_metric=metric, source_format="chunk", original_name="chunk",
                             license="-", consent_id="-", contributor="-")
                )  # fmt: skip
            frame = ClipFrame(
                timestamp_s=planned.timestamp_s, left=r.image, right=r.right_image, disparity_px=disparity,
                depth=r.depth, confidence=r.confidence, valid=valid, K=K, source_index=planned.source_index,
            )  # fmt: skip
            local = encoder.rules.count
            for name, data in encoder.add(frame):
                _write(folder, name, data)
        records.append(
            FrameRecord(source_index=planned.source_index, timestamp_s=planned.timestamp_s, warmup=False,
                        pose=matrix, pose_status=status, quality=quality, local_index=local)
        )  # fmt: skip
    if len(records) != len(task.frames):
        raise InputFileError(f"{task.item.original_name}: {len(records)} of {len(task.frames)} frames came back")
    by_pos = {p["index"]: p for p in report.per_frame}
    privacy = {
        "detector": report.detector,
        "per_frame": {f.source_index: by_pos.get(i, {}) for i, f in enumerate(task.frames) if i >= task.warmup},
    }
    depth["temporal_shares"] = run.summary().get("temporal_shares")
    return ChunkResult(
        chunk=task.chunk,
        folder=task.folder,
        frames=tuple(records),
        entries=dict(encoder.entries) if encoder else {},
        streams=dict(encoder.streams) if encoder else {},
        shape=encoder.rules.shape if encoder else None,
        K=None if K is None else np.asarray(K).tolist(),
        depth=depth,
        privacy=privacy,
    )
