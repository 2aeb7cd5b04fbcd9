"""Frame-packed stereo video (side-by-side, over-under, and their half-size variants) as a :class:`StereoClip`.

Any MP4/MOV, Matroska/WebM or MPEG-TS video whose frames hold both views.
This is also the generic video reader: a video no more specific reader claims
comes here, and a mono video is refused here.

How the views are packed, in this order:

1. ``layout`` given by the caller (``sbs``, ``sbs-cross``, ``over-under``,
   ``under-over``: full-size views; ``sbs-half``, ``ou-half``: squeezed views,
   left first);
2. the file's metadata (:func:`~parallax.capture.video_clip.metadata_packing`:
   Spherical V2 ``st3d`` > Spherical V1 ``StereoMode`` > Matroska
   ``StereoMode``);
3. the content: up to three frames from the first seconds (at about 0, 1 and
   2 s, skipping flat ones such as a black fade-in) go through the still-image
   decision of :func:`parallax.capture.layout.decide_layout` (file-name
   convention, then sparse matches between the halves: arrangement and eye
   order); the majority wins and every frame's evidence is kept. If no frame's
   halves match as a stereo pair the video is mono:
   :class:`~parallax.errors.NotStereoError`.

Half-size views (a 1920x1080 side-by-side frame holding two 960x1080 views
meant to be shown at 16:9) are stretched back to full size along the packing
axis (bilinear); the metadata says so (``squeeze``). Whether views are
squeezed comes from ``layout`` (``sbs-half`` / ``ou-half`` vs. the full
ones), else a name tag (``hsbs``, ``half-sbs``, ``sbs-half``, ``hou``,
``half-ou``, ``htab`` ...; ``fsbs`` / ``full-sbs`` say full), else the display
aspect: a view whose display aspect (with the sample aspect ratio) is narrower
than square in side-by-side, or wider than 2.5:1 in over-under, and becomes a
common aspect (4:3, 3:2, 16:10, 16:9, 1.85, 2:1, 2.35, 2.39) when doubled is
squeezed. Non-square pixels (sample aspect ratio) are resampled to square.

``eyes`` forces which half is the left eye. A 180° display rotation turns the
whole frame before it is split (so the eyes swap, as they did on the upside-down
rig); 90° / 270° are recorded, not applied.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from parallax.capture.clip import FramePair, StereoClip
from parallax.capture.clip_registry import VIDEO_EXTENSIONS, ClipReaderSpec, ClipReadOptions, register_clip_reader
from parallax.capture.layout import LayoutDecision, decide_layout, split_halves
from parallax.capture.registry import FileProbe
from parallax.capture.video_clip import VideoSource, container_kind, metadata_packing, open_source, stream_pairs
from parallax.capture.video_io import (
    DecodedFrame,
    colour_tags,
    decode_frames,
    first_video_packet,
    frame_to_rgb,
    hevc_layer_ids,
)
from parallax.errors import InputFileError, NotStereoError

__all__ = ["STANDARD_ASPECTS", "PackingDecision", "decide_packing", "read_packed_video"]

#: Display aspect ratios a squeezed view is stretched back to.
STANDARD_ASPECTS = (4 / 3, 3 / 2, 16 / 10, 16 / 9, 1.85, 2.0, 2.35, 2.39)
_ASPECT_TOLERANCE = 0.04
_SAMPLE_TIMES_S = (0.0, 1.0, 2.0)
_SAMPLE_MAX_FRAMES = 150
_FLAT_STD = 6.0
_OPTION_LAYOUTS = {  # layout option -> (arrangement, first half is the left eye, squeezed)
    "sbs": ("side-by-side", True, False),
    "sbs-half": ("side-by-side", True, True),
    "sbs-cross": ("side-by-side", False, False),
    "over-under": ("over-under", True, False),
    "ou-half": ("over-under", True, True),
    "under-over": ("over-under", False, False),
}
_HALF = re.compile(
    r"(^|[-_. ])(h-?sbs|half[-_ ]?sbs|sbs[-_ ]?half|h-?ou|h-?tab|half[-_ ]?(ou|tab|tb|over[-_ ]?under)|"
    r"(ou|tab|tb)[-_ ]?half)([-_. ]|$)",
    re.IGNORECASE,
)
_FULL = re.compile(
    r"(^|[-_. ])(f-?sbs|full[-_ ]?sbs|sbs[-_ ]?full|f-?ou|f-?tab|full[-_ ]?(ou|tab|tb)|(ou|tab|tb)[-_ ]?full)([-_. ]|$)",
    re.IGNORECASE,
)


@dataclass(frozen=True, kw_only=True)
class PackingDecision:
    """How a frame-packed video's frames become two views, and why."""

    arrangement: str
    first_is_left: bool
    squeezed: bool
    layout_source: str
    squeeze_reason: str
    evidence: list[dict[str, Any]] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)


def _sniff(path: Path, probe: FileProbe | None) -> bool:
    if probe is None:
        return False
    return container_kind(probe) is not None or path.suffix.lower() in VIDEO_EXTENSIONS


def _textured(rgb: np.ndarray) -> bool:
    small = rgb[:: max(1, rgb.shape[0] // 90), :: max(1, rgb.shape[1] // 160)]
    return float(small.std()) >= _FLAT_STD


def _sample_frames(src: VideoSource, rotate: bool) -> list[tuple[float, np.ndarray]]:
    """Up to three textured frames near 0, 1 and 2 s (decoded in order from the start; at most 150 frames)."""
    picked: list[tuple[float, np.ndarray]] = []
    targets = list(_SAMPLE_TIMES_S)
    frames = decode_frames(src.path, name=src.name)
    try:
        for i, item in enumerate(frames):
            if i >= _SAMPLE_MAX_FRAMES or not targets:
                break
            if item.timestamp_s + 1e-6 < targets[0]:
                continue
            rgb = frame_to_rgb(item.frame, name=src.name)
            if rotate:
                rgb = np.ascontiguousarray(rgb[::-1, ::-1])
            if not _textured(rgb):
                continue
            picked.append((item.timestamp_s, rgb))
            while targets and targets[0] <= item.timestamp_s + 1e-6:
                targets.pop(0)
    finally:
        frames.close()
    return picked


def _content_packing(src: VideoSource, rotate: bool) -> tuple[str, bool, str, list[dict[str, Any]]]:
    samples = _sample_frames(src, rotate)
    if not samples:
        raise NotStereoError(
            f"{src.name}: its first seconds show no picture to tell the views apart (flat frames) and it states no "
            "stereo packing; force it with --layout sbs or --layout over-under"
        )
    decisions: list[LayoutDecision] = []
    evidence: list[dict[str, Any]] = []
    best_inliers = 0
    for t, rgb in samples:
        try:
            decision = decide_layout(rgb, src.path)
        except NotStereoError:
            evidence.append({"time_s": round(t, 3), "stereo": False})
            continue
        decisions.append(decision)
        ev = decision.evidence
        best_inliers = max(best_inliers, ev.inliers if ev is not None else 0)
        evidence.append({"time_s": round(t, 3), "stereo": True, **decision.to_dict()})
    if not decisions:
        times = ", ".join(f"{t:.1f}" for t, _ in samples)
        raise NotStereoError(
            f"{src.name} is a mono video: it states no stereo packing and the halves of its frames at {times} s "
            "do not match as a stereo pair; give a stereo video, or force the packing with --layout sbs or "
            "--layout over-under"
        )
    votes = Counter(d.layout for d in decisions)
    winner = votes.most_common(1)[0][0]  # ties: the earliest frame's layout
    chosen = next(d for d in decisions if d.layout == winner)
    why = f"content: {votes[winner]} of {len(samples)} sampled frames ({chosen.reason})"
    return chosen.arrangement, chosen.first_is_left, why, evidence


def _standard(aspect: float) -> bool:
    return any(abs(aspect / s - 1.0) <= _ASPECT_TOLERANCE for s in STANDARD_ASPECTS)


def _squeeze(src: VideoSource, arrangement: str, option_half: bool | None) -> tuple[bool, str]:
    if option_half is not None:
        return option_half, "given by the caller (layout)"
    stem = src.path.stem
    if _HALF.search(stem):
        return True, f"file name tag ({src.path.name})"
    if _FULL.search(stem):
        return False, f"file name tag ({src.path.name})"
    w, h, sar = src.facts.width, src.facts.height, src.facts.sample_aspect
    if arrangement == "side-by-side":
        aspect = (w // 2) * sar / h
        if aspect < 1.0 and _standard(2.0 * aspect):
            return True, f"display aspect: a view is {aspect:.3f}:1, {2 * aspect:.3f}:1 when stretched"
    else:
        aspect = w * sar / (h // 2)
        if aspect > 2.5 and _standard(aspect / 2.0):
            return True, f"display aspect: a view is {aspect:.3f}:1, {aspect / 2:.3f}:1 when stretched"
    return False, f"display aspect: a view is {aspect:.3f}:1 (full size)"


def decide_packing(src: VideoSource, options: ClipReadOptions) -> PackingDecision:
    """Decide the arrangement, eye order and squeeze of a frame-packed video (see the module docstring).

    Raises
    ------
    NotStereoError
        Mono by its metadata, or no sampled frame's halves match.
    """
    rotate = src.rotation_deg == 180
    option_half: bool | None = None
    evidence: list[dict[str, Any]] = []
    notes: dict[str, Any] = {}
    if options.layout != "auto":
        arrangement, first_is_left, option_half = _OPTION_LAYOUTS[options.layout]
        source = f"given by the caller (layout={options.layout})"
    else:
        packing, notes = metadata_packing(src)
        if packing is not None:
            arrangement, first_is_left, source = packing.arrangement, packing.first_is_left, packing.source
            source += " (spec: left eye on the left / top)" if first_is_left else ""
        else:
            arrangement, first_is_left, source, evidence = _content_packing(src, rotate)
    squeezed, squeeze_reason = _squeeze(src, arrangement, option_half)
    return PackingDecision(
        arrangement=arrangement,
        first_is_left=first_is_left,
        squeezed=squeezed,
        layout_source=source,
        squeeze_reason=squeeze_reason,
        evidence=evidence,
        notes=notes,
    )


def _check_second_layer(src: VideoSource) -> None:
    """An HEVC stream carrying layer-1 NAL units without ``lhvC`` is a spatial video that lost its second eye."""
    if src.facts.codec != "hevc":
        return
    entry = src.track.sample_entry if src.track is not None else None
    data = first_video_packet(src.path, name=src.name)
    if any(layer > 0 for layer in hevc_layer_ids(data, entry.nal_length_size if entry else 4)):
        raise InputFileError(
            f"{src.name} is an MV-HEVC spatial video whose second eye cannot be decoded: the stream carries a "
            "second layer but not the 'lhvC' box with its parameter sets (remuxing with FFmpeg drops it); "
            "use the original file from the camera"
        )


def read_packed_video(path: Path, options: ClipReadOptions) -> StereoClip:
    """Open a side-by-side or over-under stereo video (see the module docstring).

    Raises
    ------
    NotStereoError
        A mono video.
    InputFileError
        Truncated, corrupt or audio-only file; an MV-HEVC file that lost its second eye.
    UnsupportedFormatError
        A Matroska stereo mode Parallax does not unpack.
    """
    src = open_source(path, max_pixels=options.max_pixels)
    _check_second_layer(src)
    decision = decide_packing(src, options)
    first_is_left = decision.first_is_left if options.eyes == "auto" else options.eyes == "left-right"
    rotation = src.rotation_deg
    w, h, sar = src.facts.width, src.facts.height, src.facts.sample_aspect
    side = decision.arrangement == "side-by-side"
    eye_w, eye_h = (w // 2, h) if side else (w, h // 2)
    scale_x = (sar if sar > 1.0 else 1.0) * (2.0 if decision.squeezed and side else 1.0)
    scale_y = (1.0 / sar if sar < 1.0 else 1.0) * (2.0 if decision.squeezed and not side else 1.0)
    out_w, out_h = round(eye_w * scale_x), round(eye_h * scale_y)
    resize = (out_w, out_h) != (eye_w, eye_h)

    def make_views(item: DecodedFrame) -> tuple[np.ndarray, np.ndarray]:
        rgb = frame_to_rgb(item.frame, name=src.name)
        if rgb.shape[:2] != (h, w):
            raise InputFileError(
                f"{src.name}: the frame size changes at {item.timestamp_s:.2f} s ({rgb.shape[1]}x{rgb.shape[0]}, "
                f"was {w}x{h}); Parallax reads clips of one frame size"
            )
        if rotation == 180:
            rgb = rgb[::-1, ::-1]
        first, second, _ = split_halves(rgb, decision.arrangement)  # type: ignore[arg-type]
        left, right = (first, second) if first_is_left else (second, first)
        if resize:
            left = cv2.resize(left, (out_w, out_h), interpolation=cv2.INTER_LINEAR)
            right = cv2.resize(right, (out_w, out_h), interpolation=cv2.INTER_LINEAR)
        return np.ascontiguousarray(left), np.ascontiguousarray(right)

    fps = src.facts.fps

    def open_frames(start_s: float | None) -> Iterator[FramePair]:
        return stream_pairs(src, start_s=start_s, fps=fps, make_views=make_views)

    first_frames = decode_frames(src.path, name=src.name)
    try:
        first = next(first_frames, None)
        tags = colour_tags(first.frame) if first is not None else None
    finally:
        first_frames.close()
    if first is None:
        raise InputFileError(f"{src.name} holds no decodable frame; the file is truncated or corrupt")
    half_name = "side-by-side" if side else "over-under"
    first_half = "left" if side else "top"
    forced = " (forced)" if options.eyes != "auto" else ""
    eyes: dict[str, Any] = {
        "decision": f"{first_half} half = {'left' if first_is_left else 'right'} eye{forced}",
        "source": decision.layout_source if options.eyes == "auto" else "eyes option",
        "evidence": decision.evidence or None,
    }
    if rotation == 180:
        eyes["decision"] += "; frame turned 180° for the container's display rotation before splitting"
    metadata: dict[str, Any] = {
        **src.base_metadata(),
        **decision.notes,
        "packing": {"arrangement": decision.arrangement, "source": decision.layout_source},
        "squeeze": {
            "squeezed": decision.squeezed,
            "reason": decision.squeeze_reason,
            "stretch_x": scale_x,
            "stretch_y": scale_y,
            "note": f"views stretched from {eye_w}x{eye_h} to {out_w}x{out_h} (bilinear)" if resize else None,
        },
        "colour": tags,
        "rotation_applied": rotation in (0, 180),
    }
    return StereoClip(
        source=src.name,
        format="sbs-video" if side else "ou-video",
        layout=half_name + ("-half" if decision.squeezed else ""),
        projection="rectilinear",
        width=out_w,
        height=out_h,
        fps=fps,
        frame_count=src.facts.frame_count,
        duration_s=src.facts.duration_s,
        open_frames=open_frames,
        rotation_deg=rotation,
        has_audio=src.facts.has_audio,
        eyes=eyes,
        metadata=metadata,
    )


register_clip_reader(
    ClipReaderSpec(
        name="packed-video",
        description="side-by-side / over-under stereo video",
        sniff=_sniff,
        extensions=VIDEO_EXTENSIONS,
        read=read_packed_video,
    )
)
