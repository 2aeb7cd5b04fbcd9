"""The per-capture ingest step: find captures, then privacy -> depth -> quality -> dedup keys -> encoded sample.

Finding captures (:func:`discover`, :class:`CaptureItem`) lives in
:mod:`parallax.corpus.discovery` and is re-exported here; it also finds stereo
videos and frame folders, items of kind ``"clip"`` that
:mod:`parallax.corpus.clip_ingest` cuts into clips and ingests frame by frame.

:func:`process_capture` is a pure function of one :class:`CaptureItem` and the
:class:`IngestSettings`: it reads the capture, downsizes it to
``max_side_px``, blurs faces in both views, rectifies and estimates disparity,
depth and confidence, scores quality, computes the dedup keys and encodes the
sample's files. It writes nothing; the embedded engine and the Ray engine both
run it and hand the :class:`Processed` result to
:meth:`parallax.corpus.store.Corpus.commit`, so both give the same catalog.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from parallax.corpus import (
    DEFAULT_CLIP_CHUNK_FRAMES,
    DEFAULT_CLIP_FPS,
    DEFAULT_CLIP_MAX_S,
    DEFAULT_CLIP_MIN_FRAMES,
    DEFAULT_MAX_SIDE_PX,
    DEFAULT_SCENE_CUT,
    dedup,
)
from parallax.corpus.clip_quality import ClipQualityThresholds
from parallax.corpus.consent import Consent
from parallax.corpus.discovery import CAPTURE_EXTENSIONS, CaptureItem, discover
from parallax.corpus.encoding import pixel_sha256
from parallax.corpus.privacy import anonymise_pair, camera_facts, load_detector
from parallax.corpus.quality import QualityThresholds, assess_quality
from parallax.corpus.sample import Sample, encode_sample, manifest_bytes
from parallax.errors import InputFileError, ParallaxError, ParameterError

__all__ = [
    "CaptureItem",
    "IngestSettings",
    "Processed",
    "discover",
    "process_capture",
    "package_sample",
    "package_clip_sample",
    "CAPTURE_EXTENSIONS",
]


@dataclass(frozen=True, kw_only=True)
class IngestSettings:
    """How captures become samples.

    Parameters
    ----------
    max_side_px : int
        Longest side of the stored views, pixels (captures are downsized, never upsized);
        default :data:`parallax.corpus.DEFAULT_MAX_SIDE_PX`.
    matcher : str
        Matcher name passed to ``compute_depth``.
    face_detector : str or None
        ``None`` (MTCNN from ``mtcnn-runtime``), or a local ``.xml``/``.onnx`` path.
    plate_detector : str or None
        Local cascade ``.xml`` path for licence plates, or None.
    thresholds : QualityThresholds
        Accept/reject limits.
    near_duplicate_bits : int
        Hamming distance (of 64 bits) for near-duplicates.
    min_confidence : float
        Disparities with a lower confidence do not count as trusted for the quality
        check's disparity density. The stored ``valid`` mask is the result's own
        (:attr:`parallax.stereo.types.DepthResult.valid`), with the confidence stored beside it.
    eyes : str
        Eye order of the captures: ``auto`` (checked from the stereo geometry,
        :mod:`parallax.capture.eyes`), ``left-right`` or ``right-left``.
    clip_max_s : float
        Longest clip cut from a video, seconds (a longer scene is split into equal parts).
    clip_fps : float or None
        Frame rate clips are sampled at (every ``round(source_fps / clip_fps)``-th frame; never
        more than the source's); ``None`` keeps every frame.
    clip_min_frames : int
        Shortest clip stored, frames: shorter cuts (and clips left shorter after
        frames were dropped or deduplicated) are rejected with the reason.
    scene_cut : float
        A scene cut is where consecutive sampled frames' colour histograms differ
        by more than this (Bhattacharyya distance, 0 = same, 1 = disjoint); 1 = never cut.
    clip_chunk_frames : int
        Frames of a clip are processed in chunks of this many (with a warm-up
        overlap), in parallel under the Ray engine; 0 = one chunk per clip.
    frames_fps : float or None
        Frame rate of frame folders (which state none); ``None``: assumed 30 and
        every frame kept (no resampling of an unknown rate).
    clip_thresholds : ClipQualityThresholds
        Clip-level accept/reject limits (:mod:`parallax.corpus.clip_quality`).
    """

    max_side_px: int = DEFAULT_MAX_SIDE_PX
    matcher: str = "default"
    face_detector: str | None = None
    plate_detector: str | None = None
    thresholds: QualityThresholds = field(default_factory=QualityThresholds)
    near_duplicate_bits: int = dedup.NEAR_DUPLICATE_BITS
    min_confidence: float = 0.5
    eyes: str = "auto"
    clip_max_s: float = DEFAULT_CLIP_MAX_S
    clip_fps: float | None = DEFAULT_CLIP_FPS
    clip_min_frames: int = DEFAULT_CLIP_MIN_FRAMES
    scene_cut: float = DEFAULT_SCENE_CUT
    clip_chunk_frames: int = DEFAULT_CLIP_CHUNK_FRAMES
    frames_fps: float | None = None
    clip_thresholds: ClipQualityThresholds = field(default_factory=ClipQualityThresholds)

    def __post_init__(self) -> None:
        from parallax.capture.eyes import check_eyes

        check_eyes(self.eyes)
        if not (0.0 <= float(self.min_confidence) <= 1.0):
            raise ParameterError(f"min_confidence must be in [0, 1], got {self.min_confidence!r}")
        if not (isinstance(self.max_side_px, int) and 64 <= self.max_side_px <= 16384):
            raise ParameterError(f"max_side_px must be an integer in [64, 16384], got {self.max_side_px!r}")
        if not (0 <= int(self.near_duplicate_bits) <= 32):
            raise ParameterError(f"near_duplicate_bits must be in [0, 32], got {self.near_duplicate_bits!r}")
        from parallax.corpus.clip_cut import check_clip_settings

        check_clip_settings(self)


@dataclass(frozen=True, kw_only=True)
class Processed:
    """What :func:`process_capture` made of one item: an encoded sample, or a rejection reason."""

    item: CaptureItem
    consent_id: str
    status: str  # "ok" or "rejected"
    reason: str | None = None
    sample_id: str | None = None
    content_sha256: str | None = None
    phash: tuple[int, int] | None = None
    files: Mapping[str, bytes] = field(default_factory=dict)
    row: Mapping[str, Any] = field(default_factory=dict)


_DETECTORS: dict[tuple[str | None, str], Any] = {}


def _detector(spec: str | None, kind: str) -> Any:
    key = (spec, kind)
    if key not in _DETECTORS:
        _DETECTORS[key] = load_detector(spec, kind=kind)
    return _DETECTORS[key]


def _reject(item: CaptureItem, consent: Consent, reason: str) -> Processed:
    return Processed(item=item, consent_id=consent.consent_id, status="rejected", reason=" ".join(reason.split()))


def _compute_depth(capture: Any, matcher: str) -> Any:
    from parallax.stereo.pipeline import compute_depth

    return compute_depth(capture, matcher=matcher)


def _downsize(capture: Any, max_side_px: int) -> tuple[Any, float]:
    from parallax.stereo.pipeline import downscale_capture

    return downscale_capture(capture, max_side_px)


def process_capture(item: CaptureItem, consent: Consent, settings: IngestSettings) -> Processed:
    """Turn one capture into an encoded sample (or a rejection with its reason); writes nothing.

    Broken or unsupported files, single-view captures and captures failing a
    quality threshold come back as ``status="rejected"`` with the reason; only
    programming errors propagate.
    """
    from parallax import __version__
    from parallax.capture import read_capture

    try:
        capture = read_capture(item.paths[0], item.paths[1] if len(item.paths) > 1 else None, eyes=settings.eyes)
    except (ParallaxError, OSError, ValueError) as exc:
        return _reject(item, consent, f"unreadable: {exc}")
    if capture.right is None:
        return _reject(
            item,
            consent,
            f"not a stereo pair: {capture.format} capture with one view (RGB-D); the corpus stores stereo pairs",
        )
    content = pixel_sha256(capture.left, capture.right)
    original = {"original_width": capture.width, "original_height": capture.height}
    try:
        small, scale = _downsize(capture, settings.max_side_px)
        phash = (dedup.phash64(small.left), dedup.phash64(small.right))
        left, right, privacy = anonymise_pair(
            small.left,
            small.right,
            _detector(settings.face_detector, "face"),
            plate_detector=_detector(settings.plate_detector, "plate") if settings.plate_detector else None,
        )
        private = dataclasses.replace(small, left=left, right=right)
        result = _compute_depth(private, settings.matcher)
    except (ParameterError, InputFileError, cv2.error, np.linalg.LinAlgError) as exc:
        return _reject(item, consent, f"processing failed: {exc}")
    if result.disparity_px is None or result.right_image is None:
        return _reject(item, consent, "no disparity: the capture gave depth from an embedded map only")
    rect = result.rectification
    residual = rect.vertical_error_after_px if rect is not None else None
    matches = rect.matches if rect is not None else 0
    valid = np.asarray(result.valid)
    trusted = valid & (result.confidence >= settings.min_confidence)
    quality = assess_quality(
        result.image,
        result.right_image,
        result.disparity_px,
        valid=trusted,
        rectification_residual_px=residual,
        feature_matches=matches,
        thresholds=settings.thresholds,
        rectification_p90_px=None if rect is None else rect.residual_p90_px,
        rectified=True if rect is None else rect.rectified,
        rectification_reason="" if rect is None else rect.reason,
    )
    if not quality.accepted:
        return _reject(item, consent, "quality: " + "; ".join(quality.reasons))
    facts, dropped = camera_facts(capture.to_dict())
    camera = result.camera
    k_note = "from the capture's camera facts"
    if camera is None:
        from parallax.capture.types import ASSUMED_HFOV_DEG, CameraIntrinsics

        h, w = result.image.shape[:2]
        camera = CameraIntrinsics.from_hfov(hfov_deg=ASSUMED_HFOV_DEG, width=w, height=h)
        k_note = f"assumed: {ASSUMED_HFOV_DEG:g} degree horizontal field of view (the capture states no focal length)"
    sample = Sample(
        sample_id="s-" + content[:16],
        left=result.image,
        right=result.right_image,
        disparity_px=result.disparity_px,
        depth=result.depth,
        confidence=result.confidence,
        valid=valid,
        K=camera.K,
        baseline_m=result.baseline_m,
        doffs_px=float(result.doffs_px),
        depth_is_metric=bool(result.depth_is_metric and result.baseline_m is not None),
        rectification=rect,
        source_kind="real",
        source_format=capture.format,
        device=" ".join(x for x in (capture.make, capture.model) if x) or None,
        original_name=item.original_name,
        license=consent.license,
        consent_id=consent.consent_id,
        contributor=consent.contributor,
        quality=quality.to_dict(),
        lineage={
            "parallax_version": __version__,
            "matcher": dict(result.settings),
            "matcher_requested": settings.matcher,
        },
        camera_facts=facts,
        processing={
            **original,
            "max_side_px": settings.max_side_px,
            "scale": round(scale, 6),
            "K": k_note,
            "valid": "the depth result's valid mask (pixels to use; disparity and depth have no value elsewhere)",
            "trusted_for_quality": f"valid with confidence >= {settings.min_confidence}",
        },
        privacy={
            **privacy.to_dict(),
            "exif": "stored files carry no metadata; camera facts kept in meta.json",
            "metadata_keys_removed": dropped,
        },
        content_sha256=content,
    )
    return package_sample(sample, item=item, phash=phash)


def package_sample(sample: Sample, *, item: CaptureItem, phash: tuple[int, int] | None = None) -> Processed:
    """Encode ``sample`` and build its catalog row: a :class:`Processed` ready for ``Corpus.commit``.

    ``phash`` defaults to the perceptual hashes of the sample's own views;
    the dedup key is ``sample.content_sha256`` (default: the SHA-256 of its views' pixels).
    """
    content = sample.content_sha256 or pixel_sha256(sample.left, sample.right)
    phash = phash or (dedup.phash64(sample.left), dedup.phash64(sample.right))
    files, manifest = encode_sample(sample)
    meta = manifest_bytes(manifest)
    files = {**files, "meta.json": meta}
    row = {
        "sample_id": sample.sample_id,
        "content_sha256": content,
        "phash_left": phash[0],
        "phash_right": phash[1],
        "contributor": sample.contributor,
        "consent_id": sample.consent_id,
        "license": sample.license,
        "source_kind": sample.source_kind,
        "source_format": sample.source_format,
        "device": sample.device,
        "original_name": sample.original_name,
        "width": sample.width,
        "height": sample.height,
        "manifest_sha256": hashlib.sha256(meta).hexdigest(),
        "bytes": sum(len(b) for b in files.values()),
        "quality": dict(sample.quality),
    }
    return Processed(
        item=item,
        consent_id=sample.consent_id,
        status="ok",
        sample_id=sample.sample_id,
        content_sha256=content,
        phash=phash,
        files=files,
        row=row,
    )


def package_clip_sample(clip: Any, *, item: CaptureItem, phash: tuple[int, int] | None = None) -> Processed:
    """Encode a :class:`~parallax.corpus.clip_sample.ClipSample` and build its catalog row (see :func:`package_sample`).

    The dedup key is ``clip.info.content_sha256`` (default:
    :func:`~parallax.corpus.clip_sample.clip_content_sha256` of the stored frames);
    the perceptual hashes default to those of the first frame's views (the keyframe).
    Everything is encoded in memory: fine for synthetic clips and short cuts.
    """
    from parallax.corpus.clip_folder import encode_clip_sample
    from parallax.corpus.clip_sample import clip_content_sha256

    info = clip.info
    content = info.content_sha256 or clip_content_sha256((f.left, f.right) for f in clip.frames)
    first = clip.frames[0]
    phash = phash or (dedup.phash64(first.left), dedup.phash64(first.right))
    files, manifest = encode_clip_sample(clip)
    meta = manifest_bytes(manifest)
    files = {**files, "meta.json": meta}
    row = {
        "sample_id": info.sample_id,
        "content_sha256": content,
        "phash_left": phash[0],
        "phash_right": phash[1],
        "contributor": info.contributor,
        "consent_id": info.consent_id,
        "license": info.license,
        "source_kind": info.source_kind,
        "source_format": info.source_format,
        "device": info.device,
        "original_name": info.original_name,
        "width": clip.width,
        "height": clip.height,
        "manifest_sha256": hashlib.sha256(meta).hexdigest(),
        "bytes": sum(len(b) for b in files.values()),
        "quality": dict(info.quality),
    }
    return Processed(
        item=item,
        consent_id=info.consent_id,
        status="ok",
        sample_id=info.sample_id,
        content_sha256=content,
        phash=phash,
        files=files,
        row=row,
    )
