"""Quality scores of a rectified stereo pair and its disparity, and the accept/reject decision.

Scores (all measured on the stored, rectified views):

* ``rectification_residual_px`` -- median absolute vertical offset of matched
  features after rectification (pixels); ``None`` when too few features match.
  ``rectification_residual_p90_px`` -- their 90th percentile. The stereo stage
  measures both anew on the rectified views and says whether the pair counts as
  rectified (``Rectification.rectified``); a pair it could not rectify is
  rejected with its reason.
* ``sharpness`` -- variance of the Laplacian of the grey left view (grey levels^2).
* ``exposure_mean`` -- mean grey level (0..255); ``clipped_fraction`` -- share of
  pixels at <= 2 or >= 253 in either view.
* ``disparity_density`` -- share of left-view pixels with a trusted disparity
  (valid, with confidence at least ``IngestSettings.min_confidence``).
* ``disparity_p2_px``, ``disparity_p98_px``, ``disparity_span_px`` -- the robust
  disparity range (pixels, ``x_right = x_left - d``).
* ``lr_photometric_error`` -- median absolute grey-level difference between the
  left view and the right view sampled at ``x - d`` over valid pixels, divided by
  the grey-level standard deviation of those left pixels (plus 1): a left-right
  consistency check of the disparity against the images (0 = perfect, about 1
  for unrelated views).

Each score is compared with a :class:`QualityThresholds` value; every failed
check adds a reason (naming the score, its value and the limit) and the capture
is rejected.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from parallax.errors import ParameterError

__all__ = ["QualityThresholds", "QualityReport", "assess_quality"]


@dataclass(frozen=True, kw_only=True)
class QualityThresholds:
    """Limits a sample must meet (units as in the module docstring)."""

    max_rectification_residual_px: float = 1.5
    min_feature_matches: int = 12
    min_sharpness: float = 10.0
    min_exposure_mean: float = 20.0
    max_exposure_mean: float = 235.0
    max_clipped_fraction: float = 0.35
    min_disparity_density: float = 0.25
    min_disparity_span_px: float = 0.5
    max_abs_disparity_fraction: float = 0.45
    max_lr_photometric_error: float = 0.5

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ParameterError(f"QualityThresholds.{name} must be a finite number >= 0, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class QualityReport:
    """Scores, thresholds and the decision."""

    accepted: bool
    reasons: tuple[str, ...]
    scores: dict[str, Any]
    thresholds: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "accepted": self.accepted,
            "reasons": list(self.reasons),
            "scores": self.scores,
            "thresholds": self.thresholds,
        }


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def assess_quality(
    left: np.ndarray,
    right: np.ndarray,
    disparity_px: np.ndarray,
    *,
    rectification_residual_px: float | None,
    feature_matches: int,
    valid: np.ndarray | None = None,
    thresholds: QualityThresholds = QualityThresholds(),
    rectification_p90_px: float | None = None,
    rectified: bool = True,
    rectification_reason: str = "",
) -> QualityReport:
    """Score a rectified pair and its left-view disparity (NaN = no value) against ``thresholds``.

    ``valid`` (``HxW`` bool) marks the trusted disparities (default: the finite ones);
    density, range and the photometric check use only those. ``rectified=False``
    (the stereo stage could not bring the rows together) rejects the pair with
    ``rectification_reason``.
    """
    t = thresholds
    grey_l = cv2.cvtColor(left, cv2.COLOR_RGB2GRAY)
    grey_r = cv2.cvtColor(right, cv2.COLOR_RGB2GRAY)
    h, w = grey_l.shape
    sharpness = float(cv2.Laplacian(grey_l, cv2.CV_64F).var())
    exposure = float(grey_l.mean())
    clipped = float(max(np.mean((grey_l <= 2) | (grey_l >= 253)), np.mean((grey_r <= 2) | (grey_r >= 253))))
    valid = np.isfinite(disparity_px) if valid is None else (valid & np.isfinite(disparity_px))
    density = float(valid.mean())
    d = disparity_px[valid]
    p2, p98 = (float(np.percentile(d, 2)), float(np.percentile(d, 98))) if d.size else (math.nan, math.nan)
    photometric = math.nan
    if d.size:
        ys, xs = np.nonzero(valid)
        xr = xs - disparity_px[ys, xs]
        inside = (xr >= 0) & (xr <= w - 1)
        if inside.any():
            xi, yi = xr[inside], ys[inside]
            x0 = np.floor(xi).astype(np.int64)
            x1 = np.minimum(x0 + 1, w - 1)
            frac = (xi - x0).astype(np.float32)
            row = grey_r.astype(np.float32)
            sampled = row[yi, x0] * (1 - frac) + row[yi, x1] * frac
            ref = grey_l[ys[inside], xs[inside]].astype(np.float32)
            photometric = float(np.median(np.abs(ref - sampled)) / (float(ref.std()) + 1.0))
    scores = {
        "rectification_residual_px": _r(rectification_residual_px),
        "rectification_residual_p90_px": _r(rectification_p90_px),
        "rectified": bool(rectified),
        "feature_matches": int(feature_matches),
        "sharpness": _r(sharpness, 2),
        "exposure_mean": _r(exposure, 2),
        "clipped_fraction": _r(clipped),
        "disparity_density": _r(density),
        "disparity_p2_px": _r(p2, 3),
        "disparity_p98_px": _r(p98, 3),
        "disparity_span_px": _r(p98 - p2, 3),
        "lr_photometric_error": _r(photometric, 3),
    }
    reasons: list[str] = []
    if not rectified:
        reasons.append(f"not rectified: {rectification_reason or 'rows of the two views do not match'}")
    if feature_matches < t.min_feature_matches:
        reasons.append(f"too few feature matches to check rectification ({feature_matches} < {t.min_feature_matches})")
    elif rectification_residual_px is None or rectification_residual_px > t.max_rectification_residual_px:
        reasons.append(
            f"rectification residual {scores['rectification_residual_px']} px > {t.max_rectification_residual_px} px"
        )
    if sharpness < t.min_sharpness:
        reasons.append(f"too blurry: sharpness {scores['sharpness']} < {t.min_sharpness}")
    if not (t.min_exposure_mean <= exposure <= t.max_exposure_mean):
        reasons.append(
            f"badly exposed: mean grey {scores['exposure_mean']} outside [{t.min_exposure_mean}, {t.max_exposure_mean}]"
        )
    if clipped > t.max_clipped_fraction:
        reasons.append(f"clipped: {scores['clipped_fraction']} of pixels black or white > {t.max_clipped_fraction}")
    if density < t.min_disparity_density:
        reasons.append(f"sparse disparity: density {scores['disparity_density']} < {t.min_disparity_density}")
    if d.size:
        if p98 - p2 < t.min_disparity_span_px:
            reasons.append(f"flat disparity: span {scores['disparity_span_px']} px < {t.min_disparity_span_px} px")
        if max(abs(p2), abs(p98)) > t.max_abs_disparity_fraction * w:
            reasons.append(
                f"implausible disparity range [{scores['disparity_p2_px']}, {scores['disparity_p98_px']}] px for width {w}"
            )
    if not math.isfinite(photometric) or photometric > t.max_lr_photometric_error:
        reasons.append(
            f"left-right inconsistent: photometric error {scores['lr_photometric_error']} > {t.max_lr_photometric_error}"
        )
    return QualityReport(accepted=not reasons, reasons=tuple(reasons), scores=scores, thresholds=asdict(t))
