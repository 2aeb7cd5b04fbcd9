"""Quality of a clip: per-frame gates (as for stills) and clip-level ones, with stored reasons.

Per frame (:func:`assess_frame`): the still gates of :mod:`parallax.corpus.quality`
on the stored, rectified views and their disparity -- sharpness (blur), exposure,
clipping, disparity density and range, left-right photometric consistency. A
frame that fails one is dropped from the clip; its source frame number,
timestamp and reasons go into ``meta.json`` ``quality.dropped_frames``. The
rectification gates are not per frame: a clip has one rectification, judged
once below.

Per clip (:func:`assess_clip`), on the frames kept:

* **rectification** -- the pooled fit's residual vertical error and match count
  (the still limits), and a pair the stereo stage could not rectify;
* **drift** -- the largest residual on the frames the rectification was checked on
  (:class:`~parallax.stereo.clip_rectify.ClipRectification`): above
  ``max_drift_px`` the rig moved during the clip;
* **blur and bad frames** -- more than ``max_dropped_share`` of the frames dropped;
* **exposure changes** -- the mean grey level of consecutive kept frames jumping
  by more than ``max_exposure_jump`` (grey levels of 255);
* **tracking failure** -- stereo odometry lost on more than ``max_lost_share`` of the frames;
* **length** -- fewer than ``min_frames`` frames left;
* **a camera that never moves** -- path shorter than ``static_path_baselines`` baselines
  and rotation under ``static_rotation_deg``: *reported* in ``quality.notes`` and
  ``scores.camera_static``, not rejected (a tripod shot of a moving scene is good data).

Every failed check adds a reason naming the score, its value and the limit.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from parallax.corpus.quality import QualityReport, QualityThresholds, assess_quality
from parallax.errors import ParameterError

__all__ = ["ClipQualityThresholds", "FrameQuality", "ClipQualityReport", "assess_frame", "assess_clip"]


@dataclass(frozen=True, kw_only=True)
class ClipQualityThresholds:
    """Clip-level limits (units in the module docstring)."""

    max_drift_px: float = 1.0
    max_dropped_share: float = 0.5
    max_exposure_jump: float = 40.0
    max_lost_share: float = 0.25
    static_path_baselines: float = 0.5
    static_rotation_deg: float = 1.0

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ParameterError(f"ClipQualityThresholds.{name} must be a finite number >= 0, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class FrameQuality:
    """The per-frame gate's decision for one frame (``source_index`` = its frame number in the source)."""

    source_index: int
    timestamp_s: float
    accepted: bool
    reasons: tuple[str, ...]
    scores: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "source_index": self.source_index,
            "timestamp_s": self.timestamp_s,
            "accepted": self.accepted,
            "reasons": list(self.reasons),
            "scores": dict(self.scores),
        }


@dataclass(frozen=True, kw_only=True)
class ClipQualityReport:
    """Clip-level scores, notes and the decision."""

    accepted: bool
    reasons: tuple[str, ...]
    notes: tuple[str, ...]
    scores: dict[str, Any]
    thresholds: dict[str, Any]
    dropped_frames: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self, *, frames: Sequence[FrameQuality] = ()) -> dict[str, Any]:
        """JSON-ready dict (``frames``: the kept frames' scores, for ``meta.json``)."""
        out: dict[str, Any] = {
            "accepted": self.accepted,
            "reasons": list(self.reasons),
            "notes": list(self.notes),
            "scores": self.scores,
            "thresholds": self.thresholds,
            "dropped_frames": self.dropped_frames,
        }
        if frames:
            out["frames"] = [{"source_index": f.source_index, **f.scores} for f in frames]
        return out


def _frame_limits(thresholds: QualityThresholds) -> QualityThresholds:
    # the rectification is judged once per clip (assess_clip), not on every frame
    return dataclasses.replace(thresholds, min_feature_matches=0, max_rectification_residual_px=1e9)


def assess_frame(
    left: np.ndarray,
    right: np.ndarray,
    disparity_px: np.ndarray,
    *,
    valid: np.ndarray,
    source_index: int,
    timestamp_s: float,
    thresholds: QualityThresholds = QualityThresholds(),
) -> FrameQuality:
    """The still gates on one stored frame (rectified ``HxWx3`` uint8 views, disparity in px, NaN = no value)."""
    report: QualityReport = assess_quality(
        left,
        right,
        disparity_px,
        valid=valid,
        rectification_residual_px=0.0,  # judged per clip: no per-frame reason
        feature_matches=0,
        thresholds=_frame_limits(thresholds),
    )
    scores = {k: v for k, v in report.scores.items() if k not in ("rectification_residual_px", "feature_matches")}
    return FrameQuality(
        source_index=int(source_index),
        timestamp_s=float(timestamp_s),
        accepted=report.accepted,
        reasons=report.reasons,
        scores=scores,
    )


def _rotation_deg(pose: np.ndarray) -> float:
    cos = (float(np.trace(pose[:3, :3])) - 1.0) / 2.0
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def _motion(poses: Sequence[np.ndarray | None], baseline: float) -> tuple[float | None, float | None]:
    """Path length in baselines and the largest rotation from the first known pose (degrees)."""
    known = [p for p in poses if p is not None]
    if len(known) < 2:
        return None, None
    path = sum(float(np.linalg.norm(b[:3, 3] - a[:3, 3])) for a, b in zip(known, known[1:], strict=False))
    first_inv = np.linalg.inv(known[0])
    rotation = max(_rotation_deg(first_inv @ p) for p in known[1:])
    return path / baseline, rotation


def assess_clip(
    *,
    frames: Sequence[FrameQuality],
    kept: Sequence[int],
    rectification: Mapping[str, Any],
    pose_status: Sequence[str | None],
    poses: Sequence[np.ndarray | None],
    pose_unit_baselines: float,
    min_frames: int,
    thresholds: QualityThresholds = QualityThresholds(),
    clip_thresholds: ClipQualityThresholds = ClipQualityThresholds(),
) -> ClipQualityReport:
    """Clip-level gates (module docstring) over a clip's frames.

    Parameters
    ----------
    frames : sequence of FrameQuality
        Every processed frame of the clip, in order (dropped ones included).
    kept : sequence of int
        Positions in ``frames`` of the frames stored (accepted, and not removed as duplicates).
    rectification : Mapping
        :meth:`ClipRectification.to_dict` (``vertical_error_after_px``, ``matches``, ``max_residual_px`` ...).
    pose_status : sequence of str or None
        Odometry status (``first``, ``tracked``, ``lost``) of each kept frame.
    poses : sequence of numpy.ndarray or None
        Camera-to-world pose of each kept frame (None = unknown).
    pose_unit_baselines : float
        How many pose units one baseline is (the baseline in metres for metric poses, else 1).
    min_frames : int
        Fewest frames a clip may keep.
    """
    t, c = thresholds, clip_thresholds
    reasons: list[str] = []
    notes: list[str] = []
    n_all, n_kept = len(frames), len(kept)
    dropped = [f for f in frames if not f.accepted]
    residual = rectification.get("vertical_error_after_px")
    matches = int(rectification.get("pooled_matches") or rectification.get("matches") or 0)
    if rectification.get("rectified") is False:
        reasons.append(f"not rectified: {rectification.get('reason') or 'rows of the two views do not match'}")
    if matches < t.min_feature_matches:
        reasons.append(f"too few feature matches to check rectification ({matches} < {t.min_feature_matches})")
    elif residual is None or residual > t.max_rectification_residual_px:
        shown = None if residual is None else round(float(residual), 4)
        reasons.append(f"rectification residual {shown} px > {t.max_rectification_residual_px} px")
    drift = rectification.get("max_residual_px")
    if drift is not None and drift > c.max_drift_px:
        worst = max(
            zip(rectification.get("check_frames", []), rectification.get("residual_px", []), strict=False),
            key=lambda fr: -1.0 if fr[1] is None else fr[1],
            default=(None, None),
        )
        reasons.append(
            f"rectification drift: residual {drift:.3f} px on frame {worst[0]} > {c.max_drift_px} px "
            "(the rig moved during the clip)"
        )
    if n_all and len(dropped) / n_all > c.max_dropped_share:
        common = Counter(r.split(":")[0] for f in dropped for r in f.reasons).most_common(3)
        why = ", ".join(f"{name} ({k})" for name, k in common)
        reasons.append(
            f"too many frames rejected: {len(dropped)} of {n_all} > {c.max_dropped_share:.0%} (mostly: {why})"
        )
    if n_kept < min_frames:
        reasons.append(f"too short: {n_kept} frames kept < {min_frames}")
    kept_frames = [frames[i] for i in kept]
    means = [float(f.scores.get("exposure_mean") or 0.0) for f in kept_frames]
    jumps = [abs(b - a) for a, b in zip(means, means[1:], strict=False)]
    max_jump = max(jumps) if jumps else 0.0
    if max_jump > c.max_exposure_jump:
        at = int(np.argmax(jumps))
        reasons.append(
            f"exposure change: mean grey jumps by {max_jump:.1f} between source frames "
            f"{kept_frames[at].source_index} and {kept_frames[at + 1].source_index} > {c.max_exposure_jump}"
        )
    statuses = [s for s in pose_status if s is not None]
    lost = sum(s == "lost" for s in statuses)
    if statuses and lost / len(statuses) > c.max_lost_share:
        reasons.append(f"camera tracking failed: lost on {lost} of {len(statuses)} frames > {c.max_lost_share:.0%}")
    path, rotation = _motion(poses, pose_unit_baselines) if statuses else (None, None)
    static = False
    if path is not None and rotation is not None:
        static = path < c.static_path_baselines and rotation < c.static_rotation_deg
    if static:
        notes.append(
            f"the camera never moves: path {path:.3f} baselines < {c.static_path_baselines}, "
            f"rotation {rotation:.2f} deg < {c.static_rotation_deg} (reported, not rejected)"
        )
    sharp = [float(f.scores["sharpness"]) for f in kept_frames if f.scores.get("sharpness") is not None]

    def r(v: float | None, digits: int = 4) -> float | None:
        return None if v is None or not math.isfinite(v) else round(float(v), digits)

    scores = {
        "frames_processed": n_all,
        "frames_kept": n_kept,
        "frames_dropped": len(dropped),
        "rectification_residual_px": r(residual),
        "rectification_matches": matches,
        "drift_max_residual_px": r(drift),
        "sharpness_median": r(float(np.median(sharp)) if sharp else None, 2),
        "sharpness_min": r(min(sharp) if sharp else None, 2),
        "exposure_max_jump": r(max_jump, 2),
        "tracking_lost_frames": lost,
        "camera_path_baselines": r(path),
        "camera_rotation_deg": r(rotation, 3),
        "camera_static": bool(static),
    }
    return ClipQualityReport(
        accepted=not reasons,
        reasons=tuple(reasons),
        notes=tuple(notes),
        scores=scores,
        thresholds={**asdict(t), **{f"clip_{k}": v for k, v in asdict(c).items()}, "min_frames": min_frames},
        dropped_frames=[
            {"source_index": f.source_index, "timestamp_s": f.timestamp_s, "reasons": list(f.reasons)} for f in dropped
        ],
    )
