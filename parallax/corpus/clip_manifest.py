"""The ``meta.json`` and catalog row of a clip cut from a video (used by :mod:`parallax.corpus.clip_commit`).

What a video clip's ``meta.json`` says beyond the clip sample format's fields
(``docs/corpus.md``):

* ``source``: ``kind`` ``video``, the reader's ``format`` and ``layout``, the original
  name with the cut's source frame range, and the content hash (SHA-256 over the
  decoded source pixels of the stored frames);
* ``camera.facts``: only the camera facts 3D needs (:func:`~parallax.corpus.clip_privacy.clip_camera_facts`);
* ``processing``: source and stored size, sampling step and rate, the cut (source
  frames and seconds, why it starts there), a trim (frames removed as stored
  elsewhere), the chunks, where ``K`` comes from and what ``valid`` means;
* ``privacy``: the face detector, tracking window, boxes blurred per frame (and
  how many came from tracking), that audio was dropped, and the *names* of the
  container's metadata tags that were removed (never their values);
* ``quality``: the clip-level decision, scores and notes (a static camera), the
  frames dropped with their reasons, and every stored frame's scores;
* ``lineage``: Parallax version, matcher settings, the rectification with its
  fit and check frames, residuals and drift flag, the depth decision, the
  odometry's counts and the temporal filter's shares.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from parallax.corpus.clip_process import PRIVACY_WINDOW, ChunkResult, CutSetup, FrameRecord

if TYPE_CHECKING:  # pragma: no cover
    from parallax.corpus.clip_cut import ClipCut, ClipPlan
    from parallax.corpus.clip_dedup import FrameOverlap
    from parallax.corpus.clip_quality import ClipQualityReport
    from parallax.corpus.consent import Consent
    from parallax.corpus.ingest import IngestSettings

__all__ = ["build_clip_manifest", "CLIP_ID_PREFIX"]

#: Sample ids of clips cut from videos: ``v-`` and 16 hex digits of the content hash.
CLIP_ID_PREFIX = "v-"


def _privacy(plan: ClipPlan, chunks: Sequence[ChunkResult], kept: Sequence[tuple[ChunkResult, FrameRecord]]) -> dict:
    per_frame = []
    for g, (chunk, rec) in enumerate(kept):
        p = chunk.privacy.get("per_frame", {}).get(rec.source_index, {})
        per_frame.append(
            {
                "index": g,
                "source_index": rec.source_index,
                "boxes_left": int(p.get("boxes_left", 0)),
                "boxes_right": int(p.get("boxes_right", 0)),
                "from_tracking": int(p.get("from_tracking", 0)),
            }
        )
    boxes = [f["boxes_left"] + f["boxes_right"] for f in per_frame]
    audio = (
        "the source's audio stream was dropped (frames are stored as images)"
        if plan.has_audio
        else "the source has no audio; frames are stored as images"
    )
    return {
        "face_detector": chunks[0].privacy.get("detector"),
        "tracking_window_frames": PRIVACY_WINDOW,
        "frames": len(per_frame),
        "frames_with_faces": sum(b > 0 for b in boxes),
        "boxes_blurred": sum(boxes),
        "boxes_from_tracking": sum(f["from_tracking"] for f in per_frame),
        "per_frame": per_frame,
        "method": "pixelate (~6 cells across) + Gaussian blur, box grown 35 %, in both views; faces missed in a "
        f"frame but seen within {PRIVACY_WINDOW} frames before or after are blurred there too",
        "order": "faces are blurred in the decoded, downsized frames before rectification, matching and storage",
        "audio": audio,
        "metadata": "stored files carry no metadata; only camera facts are kept (camera.facts)",
        "metadata_keys_removed": list(plan.metadata_keys_removed),
    }


def _trajectory(kept: Sequence[tuple[ChunkResult, FrameRecord]], poses_known: int) -> dict[str, Any]:
    status = [r.pose_status for _, r in kept]
    return {
        "frames": len(status),
        "tracked": sum(s == "tracked" for s in status),
        "lost": sum(s == "lost" for s in status),
        "first": sum(s == "first" for s in status),
        "poses_known": poses_known,
    }


def build_clip_manifest(
    *,
    plan: ClipPlan,
    cut: ClipCut,
    consent: Consent,
    settings: IngestSettings,
    setup: CutSetup,
    chunks: Sequence[ChunkResult],
    kept: Sequence[tuple[ChunkResult, FrameRecord]],
    entries: dict[str, dict[str, Any]],
    frames: list[dict[str, Any]],
    world_frame: str,
    quality: ClipQualityReport,
    content: str,
    trimmed: tuple[int, int, FrameOverlap] | None,
    warmup: int,
) -> tuple[dict[str, Any], bytes]:
    """The catalog row and ``meta.json`` bytes of a clip whose files are ``entries`` (module docstring)."""
    from parallax import __version__
    from parallax.corpus.clip_folder import ClipEncoder
    from parallax.corpus.clip_sample import ClipInfo
    from parallax.corpus.folder import manifest_bytes

    depth = next(c.depth for c in chunks if c.depth)
    shaped = next(c for c in chunks if c.shape is not None)
    metric = bool(depth["depth_is_metric"])
    planned = {f.source_index: f for f in cut.frames}
    first, last = kept[0][1], kept[-1][1]
    sample_id = CLIP_ID_PREFIX + content[:16]
    trim = None
    if trimmed is not None:
        lo, hi, overlap = trimmed
        holders = sorted({h for h in overlap.held_by if h is not None})
        trim = {
            "kept_source_frames": [lo, hi],
            "why": f"the other frames of the cut are already stored (in {', '.join(holders)})",
        }
    processing = {
        "source_width": plan.source_size[0],
        "source_height": plan.source_size[1],
        "max_side_px": settings.max_side_px,
        "scale": round(plan.scale, 6),
        "source_fps": round(plan.fps * plan.step, 6),
        "frame_step": plan.step,
        "fps": plan.fps,
        "fps_assumed": plan.fps_assumed,
        "cut": {
            "number": cut.number,
            "of": len(plan.cuts),
            "source_frames": [cut.frames[0].source_index, cut.frames[-1].source_index],
            "start_s": cut.frames[0].timestamp_s,
            "end_s": cut.frames[-1].timestamp_s,
            "starts_at": cut.starts_at,
            "settings": {
                "clip_max_s": settings.clip_max_s,
                "clip_fps": settings.clip_fps,
                "clip_min_frames": settings.clip_min_frames,
                "scene_cut": settings.scene_cut,
            },
        },
        "stored_source_frames": [first.source_index, last.source_index],
        "trimmed": trim,
        "chunks": {"count": len(chunks), "max_frames": settings.clip_chunk_frames or None, "warmup_frames": warmup},
        "K": depth.get("K"),
        "valid": "the depth result's valid mask (pixels to use; disparity and depth have no value elsewhere)",
        "trusted_for_quality": f"valid with confidence >= {settings.min_confidence}",
    }
    shares = [c.depth.get("temporal_shares") or {} for c in chunks]
    lineage = {
        "parallax_version": __version__,
        "matcher": depth.get("matcher", {}),
        "matcher_requested": settings.matcher,
        "rectification": setup.rectification.to_dict(),
        "drift": bool(setup.rectification.drift),
        "depth_mode": {k: v for k, v in setup.depth_mode.items() if isinstance(v, (bool, int, float, str, type(None)))},
        "odometry": _trajectory(kept, sum(f["pose"] is not None for f in frames)),
        "temporal_shares": {
            k: round(float(np.mean([s.get(k, 0.0) for s in shares])), 4) for k in ("new", "median", "blended")
        },
    }
    info = ClipInfo(
        sample_id=sample_id,
        fps=plan.fps,
        baseline_m=depth.get("baseline_m") if metric else None,
        doffs_px=float(depth.get("doffs_px") or 0.0),
        depth_is_metric=metric,
        poses_are_metric=metric,
        world_frame=world_frame,
        rectification=setup.rectification.rectification,
        source_kind="video",
        source_format=plan.source_format,
        layout=plan.layout,
        device=plan.device,
        original_name=cut.original_name,
        license=consent.license,
        consent_id=consent.consent_id,
        contributor=consent.contributor,
        quality=quality.to_dict(frames=[r.quality for _, r in kept if r.quality is not None]),
        lineage=lineage,
        camera_facts=plan.clip_facts,
        processing=processing,
        privacy=_privacy(plan, chunks, kept),
        content_sha256=content,
    )
    manifest = ClipEncoder.from_parts(
        info, shape=shaped.shape or (0, 0), streams=shaped.streams, frames=frames, entries=entries
    ).manifest()
    meta = manifest_bytes(manifest)
    phash = planned[first.source_index].phash
    summary = quality.to_dict()
    summary.pop("dropped_frames", None)
    row = {
        "sample_id": sample_id,
        "content_sha256": content,
        "phash_left": phash[0],
        "phash_right": phash[1],
        "contributor": consent.contributor,
        "consent_id": consent.consent_id,
        "license": consent.license,
        "source_kind": "video",
        "source_format": plan.source_format,
        "device": plan.device,
        "original_name": cut.original_name,
        "width": int(shaped.shape[1]) if shaped.shape else 0,
        "height": int(shaped.shape[0]) if shaped.shape else 0,
        "manifest_sha256": hashlib.sha256(meta).hexdigest(),
        "bytes": sum(int(e["bytes"]) for e in entries.values()) + len(meta),
        "quality": {**summary, "dropped_frames": len(quality.dropped_frames)},
    }
    return row, meta
