"""Cutting a stereo video (or frame folder) into clips: one streamed pass that plans every cut.

:func:`plan_clip` reads a clip source once, frame by frame (never the whole
video in memory), at the sampling rate, and returns a :class:`ClipPlan`:

1. **Sampling.** Every ``step``-th frame is kept, ``step = round(source_fps / clip_fps)``
   (at least 1: never more frames than the source has); ``clip_fps=None`` keeps
   every frame. A frame folder states no rate: unless ``frames_fps`` gives one,
   every frame is kept and the rate is recorded as assumed.
2. **Per sampled frame** the dedup keys are computed on the views downsized to the
   stored size (:func:`downsize_views`): the 64-bit perceptual hashes of both views
   (:func:`parallax.corpus.dedup.phash64`) and the SHA-256 of the decoded source
   pixels (:func:`parallax.corpus.encoding.pixel_sha256`).
3. **Scene cuts**: where the colour histograms (HSV, 16x8x8 bins, of the left
   view at 128 px) of consecutive sampled frames differ by more than
   ``scene_cut`` (Bhattacharyya distance: 0 = the same, 1 = disjoint; within a
   shot it stays low, between shots it is high: ``docs/corpus.md`` gives the
   measured values behind the default). Fades are not detected as cuts.
4. **Length**: a scene longer than ``clip_max_s`` is split into equal parts of
   at most that length (no short tail); a scene shorter than ``clip_min_frames``
   frames becomes a rejected cut with its reason.

Each cut has its own input key (the source's key, the frame range and the step),
so a rerun skips the cuts already committed, and an original name such as
``walk.mov [frames 30-57]`` (source frame numbers).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from parallax.corpus import dedup
from parallax.corpus.encoding import pixel_sha256
from parallax.errors import ParameterError

if TYPE_CHECKING:  # pragma: no cover
    from parallax.capture.clip import StereoClip
    from parallax.corpus.discovery import CaptureItem
    from parallax.corpus.ingest import IngestSettings

__all__ = [
    "PlannedFrame",
    "ClipCut",
    "ClipPlan",
    "plan_clip",
    "plan_key",
    "open_source",
    "sampling_step",
    "downsize_views",
    "colour_histogram",
    "scene_change",
    "split_scene",
    "check_clip_settings",
]


@dataclass(frozen=True, kw_only=True)
class PlannedFrame:
    """One sampled source frame: its number, time and dedup keys (no pixels)."""

    source_index: int
    timestamp_s: float
    phash: tuple[int, int]
    pixel_sha256: str


@dataclass(frozen=True, kw_only=True)
class ClipCut:
    """One clip to make from a source: its frames and why it starts where it does."""

    number: int
    frames: tuple[PlannedFrame, ...]
    starts_at: str
    input_key: str
    original_name: str
    reason: str | None = None  # set for a cut rejected at planning (too short)

    @property
    def source_indices(self) -> tuple[int, ...]:
        """Source frame numbers of the cut's frames."""
        return tuple(f.source_index for f in self.frames)


@dataclass(frozen=True, kw_only=True)
class ClipPlan:
    """Everything :func:`plan_clip` learnt about a clip source."""

    item: CaptureItem
    cuts: tuple[ClipCut, ...]
    step: int
    fps: float
    fps_assumed: bool
    plan_key: str
    source_format: str
    layout: str
    source_size: tuple[int, int]
    stored_size: tuple[int, int]
    scale: float
    clip_facts: dict[str, Any] = field(default_factory=dict)
    metadata_keys_removed: tuple[str, ...] = ()
    has_audio: bool = False

    @property
    def device(self) -> str | None:
        """Camera make and model, when the container states them."""
        return " ".join(str(self.clip_facts[k]) for k in ("make", "model") if self.clip_facts.get(k)) or None


def check_clip_settings(settings: IngestSettings) -> None:
    """Validate the clip fields of :class:`~parallax.corpus.ingest.IngestSettings` (names the field and the fix)."""
    s = settings
    if not (isinstance(s.clip_max_s, (int, float)) and math.isfinite(s.clip_max_s) and s.clip_max_s > 0):
        raise ParameterError(f"clip_max_s must be a positive number of seconds, got {s.clip_max_s!r}")
    for name in ("clip_fps", "frames_fps"):
        value = getattr(s, name)
        if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value) and 0 < value < 10000):
            raise ParameterError(f"{name} must be a positive frame rate or None, got {value!r}")
    if isinstance(s.clip_min_frames, bool) or not isinstance(s.clip_min_frames, int) or s.clip_min_frames < 2:
        raise ParameterError(f"clip_min_frames must be an integer >= 2, got {s.clip_min_frames!r}")
    if not (isinstance(s.scene_cut, (int, float)) and 0.0 < float(s.scene_cut) <= 1.0):
        raise ParameterError(f"scene_cut must be in (0, 1] (1 = never cut), got {s.scene_cut!r}")
    chunk = s.clip_chunk_frames
    if isinstance(chunk, bool) or not isinstance(chunk, int) or not (chunk == 0 or chunk >= 8):
        raise ParameterError(f"clip_chunk_frames must be 0 (one chunk per clip) or an integer >= 8, got {chunk!r}")


def downsize_views(left: np.ndarray, right: np.ndarray, max_side_px: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Both views with their longer side at most ``max_side_px`` (area interpolation, never upsized), and the scale."""
    h, w = left.shape[:2]
    scale = min(1.0, max_side_px / max(h, w))
    if scale >= 1.0:
        return left, right, 1.0
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return (
        cv2.resize(left, size, interpolation=cv2.INTER_AREA),
        cv2.resize(right, size, interpolation=cv2.INTER_AREA),
        scale,
    )


def colour_histogram(image: np.ndarray) -> np.ndarray:
    """HSV histogram (16x8x8 bins, sums to 1) of an ``HxWx3`` uint8 RGB image at 128 px wide."""
    h, w = image.shape[:2]
    small = cv2.resize(image, (128, max(1, round(128 * h / w))), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, [16, 8, 8], [0, 180, 0, 256, 0, 256])
    hist = np.asarray(hist, dtype=np.float32)
    return hist / max(float(hist.sum()), 1e-12)


def scene_change(previous: np.ndarray, current: np.ndarray) -> float:
    """Bhattacharyya distance between two :func:`colour_histogram` results (0 = the same, 1 = disjoint)."""
    return float(min(1.0, max(0.0, cv2.compareHist(previous, current, cv2.HISTCMP_BHATTACHARYYA))))


def split_scene(count: int, max_frames: int) -> list[tuple[int, int]]:
    """Split ``count`` frames into the fewest equal parts of at most ``max_frames``: ``[(start, stop), ...]``."""
    if count <= 0:
        return []
    parts = math.ceil(count / max(1, max_frames))
    edges = [round(i * count / parts) for i in range(parts + 1)]
    return [(a, b) for a, b in zip(edges, edges[1:], strict=False) if b > a]


def sampling_step(clip: StereoClip, settings: IngestSettings) -> tuple[int, bool]:
    """Frame step for a clip, and whether its frame rate is assumed (a frame folder without ``frames_fps``)."""
    assumed = clip.format == "frames" and settings.frames_fps is None
    if settings.clip_fps is None or assumed:
        return 1, assumed
    return max(1, round(float(clip.fps) / float(settings.clip_fps))), assumed


def open_source(item: CaptureItem, settings: IngestSettings) -> StereoClip:
    """Open a clip source (raises the readers' errors)."""
    from parallax.capture.clip_registry import read_clip

    # eyes: IngestSettings.eyes where the settings have it (the eye-order option of the stills)
    return read_clip(item.paths[0], fps=settings.frames_fps, eyes=getattr(settings, "eyes", "auto"))


def plan_key(settings: IngestSettings) -> str:
    """Hash of the settings a plan depends on (a stored plan is reused only when they are equal)."""
    keys = ("max_side_px", "clip_fps", "clip_max_s", "clip_min_frames", "scene_cut", "frames_fps", "eyes")
    text = json.dumps({k: getattr(settings, k, None) for k in keys}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _cut_key(source_key: str, frames: tuple[PlannedFrame, ...], step: int) -> str:
    text = f"{source_key}|clip|{frames[0].source_index}-{frames[-1].source_index}|step {step}"
    return "clip:" + hashlib.sha256(text.encode()).hexdigest()


def plan_clip(item: CaptureItem, settings: IngestSettings) -> ClipPlan:
    """Read a clip source once (streamed) and plan its cuts (module docstring).

    Raises
    ------
    ParallaxError
        The readers' errors (missing, corrupt, mono, unsupported); a source without frames.
    """
    from parallax.corpus.clip_privacy import clip_camera_facts, container_camera_facts, container_metadata_keys
    from parallax.errors import InputFileError

    clip = open_source(item, settings)
    step, assumed = sampling_step(clip, settings)
    fps = float(clip.fps) / step
    planned: list[PlannedFrame] = []
    changes: list[float] = []
    previous = None
    stored = (clip.width, clip.height)
    scale = 1.0
    for frame in clip.frames(step=step):
        small_l, small_r, scale = downsize_views(frame.left, frame.right, settings.max_side_px)
        stored = (small_l.shape[1], small_l.shape[0])
        hist = colour_histogram(small_l)
        changes.append(0.0 if previous is None else scene_change(previous, hist))
        previous = hist
        planned.append(
            PlannedFrame(
                source_index=frame.index,
                timestamp_s=float(frame.timestamp_s),
                phash=(dedup.phash64(small_l), dedup.phash64(small_r)),
                pixel_sha256=pixel_sha256(frame.left, frame.right),
            )
        )
    if not planned:
        raise InputFileError(f"{item.original_name} holds no decodable stereo frame; the file is empty or corrupt")
    starts = [0] + [i for i in range(1, len(planned)) if changes[i] > settings.scene_cut]
    max_frames = max(1, math.floor(settings.clip_max_s * fps + 1e-9))
    cuts: list[ClipCut] = []
    for s_i, start in enumerate(starts):
        stop = starts[s_i + 1] if s_i + 1 < len(starts) else len(planned)
        why = "the start of the source" if start == 0 else f"a scene cut (colour change {changes[start]:.2f})"
        for p_i, (a, b) in enumerate(split_scene(stop - start, max_frames)):
            frames = tuple(planned[start + a : start + b])
            first, last = frames[0].source_index, frames[-1].source_index
            short = None
            if len(frames) < settings.clip_min_frames:
                short = (
                    f"too short: {len(frames)} frames between scene cuts (at {fps:.3g} frames/s) "
                    f"< {settings.clip_min_frames}"
                )
            cuts.append(
                ClipCut(
                    number=len(cuts),
                    frames=frames,
                    starts_at=why if p_i == 0 else f"the length limit ({settings.clip_max_s:g} s)",
                    input_key=_cut_key(item.input_key, frames, step),
                    original_name=f"{item.original_name} [frames {first}-{last}]",
                    reason=short,
                )
            )
    facts, dropped = clip_camera_facts(clip.to_dict())
    container = container_metadata_keys(Path(item.paths[0]))
    facts.update(container_camera_facts(Path(item.paths[0])))
    return ClipPlan(
        item=item,
        cuts=tuple(cuts),
        step=step,
        fps=fps,
        fps_assumed=assumed,
        plan_key=plan_key(settings),
        source_format=clip.format,
        layout=clip.layout,
        source_size=(clip.width, clip.height),
        stored_size=stored,
        scale=scale,
        clip_facts=facts,
        metadata_keys_removed=tuple(sorted(set(dropped) | set(container))),
        has_audio=bool(clip.has_audio),
    )
