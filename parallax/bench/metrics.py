"""Disparity accuracy metrics of the Middlebury, ETH3D and KITTI benchmarks.

Which pixels count: every pixel with ground truth (``all``), and those of them
the dataset marks non-occluded (``nonocc``) where it gives a mask.

Missing predictions (NaN or inf in the prediction) -- the one rule, applied the
same way to every matcher:

* **bad-N, D1**: a GT pixel without a prediction counts as wrong (the
  Middlebury/ETH3D/KITTI protocol).
* **EPE, RMS**: the prediction is first made dense with :func:`fill_missing`
  (each hole in a row takes the *smaller* -- background -- of the nearest
  predicted disparities to its left and right, as MiddEval3 fills sparse
  results; a row with no prediction at all gets 0), then the error is taken on
  every GT pixel. So a hole costs what a background guess would.
* **density**: the share of GT pixels that had a prediction before filling.

All percentages are of the GT pixels of the region, 0..100.

Temporal metrics (sequences with ground-truth optical flow,
:func:`temporal_metrics`): the **temporal end-point error** (TEPE) is the error
of the predicted disparity *change* of each surface point between consecutive
frames against its true change. The GT forward flow associates each pixel ``x``
of frame ``t`` with ``x + flow(x)`` in frame ``t + 1`` (so camera and object
motion do not count as change), and the true change is the scene's own
``d_{t+1}(point) - d_t(x)`` (the scene-flow datasets' "disparity change"):

    TEPE = mean | (d̂_{t+1}(x + flow) - d̂_t(x)) - Δd*(x) |

over pixels with ground truth in both frames (finite GT disparity and
disparity change, visible in frame ``t + 1``). ``d̂_{t+1}`` is read at the
sub-pixel position bilinearly; predictions are made dense first with
:func:`fill_missing`, as for EPE. A matcher whose depth is right in every frame
has TEPE near 0; one that flickers has a large TEPE even if each frame's EPE is
moderate.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np

from parallax.errors import ParameterError

if TYPE_CHECKING:
    from parallax.bench.scene import StereoScene

__all__ = [
    "DisparityMetrics",
    "THRESHOLDS_PX",
    "D1_ABS_PX",
    "D1_REL",
    "fill_missing",
    "disparity_metrics",
    "scene_metrics",
    "TemporalMetrics",
    "temporal_metrics",
    "sample_bilinear",
]

#: The bad-N thresholds, pixels (an error counts when strictly larger).
THRESHOLDS_PX = (0.5, 1.0, 2.0, 4.0)
#: KITTI D1: an outlier has an error > 3 px AND > 5 % of the true disparity.
D1_ABS_PX = 3.0
D1_REL = 0.05


@dataclass(frozen=True, kw_only=True)
class DisparityMetrics:
    """Accuracy of one disparity map against ground truth over one region.

    Parameters
    ----------
    n_pixels : int
        GT pixels in the region.
    density_pct : float
        Share of them with a prediction, percent.
    bad_0_5_pct, bad_1_pct, bad_2_pct, bad_4_pct : float
        Share with ``|d - d_gt| > N`` px or no prediction, percent.
    d1_pct : float
        KITTI D1: share with ``|d - d_gt| > 3`` px and ``> 5 %`` of ``d_gt``, or
        no prediction, percent.
    epe_px : float
        Mean ``|d - d_gt|`` (Middlebury "avgerr"), pixels, holes filled (module doc).
    rms_px : float
        Root mean square of ``d - d_gt``, pixels, holes filled.
    """

    n_pixels: int
    density_pct: float
    bad_0_5_pct: float
    bad_1_pct: float
    bad_2_pct: float
    bad_4_pct: float
    d1_pct: float
    epe_px: float
    rms_px: float

    def __post_init__(self) -> None:
        if self.n_pixels < 1:
            raise ParameterError(f"DisparityMetrics.n_pixels must be >= 1, got {self.n_pixels}")
        for name, value in asdict(self).items():
            if not math.isfinite(value):
                raise ParameterError(f"DisparityMetrics.{name} must be finite, got {value}")

    def to_dict(self, *, digits: int | None = None) -> dict[str, Any]:
        """Plain dict; floats rounded to ``digits`` decimals when given."""
        out = asdict(self)
        if digits is not None:
            out = {k: (round(v, digits) if isinstance(v, float) else v) for k, v in out.items()}
        return out


def fill_missing(disparity_px: np.ndarray) -> np.ndarray:
    """Fill holes (non-finite values) along each row with the background neighbour.

    Parameters
    ----------
    disparity_px : numpy.ndarray
        ``HxW`` disparity, NaN/inf = no value.

    Returns
    -------
    numpy.ndarray
        ``HxW`` float32 without holes: each hole takes the minimum of the nearest
        finite values to its left and right in its row (the one that exists when
        only one does); rows with no finite value become 0.
    """
    d = np.asarray(disparity_px, dtype=np.float32)
    if d.ndim != 2:
        raise ParameterError(f"disparity must be a 2-D array, got shape {d.shape}")
    valid = np.isfinite(d)
    if valid.all():
        return d.copy()
    h, w = d.shape
    cols = np.broadcast_to(np.arange(w), (h, w))
    rows = np.arange(h)[:, None]
    left_idx = np.maximum.accumulate(np.where(valid, cols, -1), axis=1)
    right_idx = np.minimum.accumulate(np.where(valid, cols, w)[:, ::-1], axis=1)[:, ::-1]
    safe = np.where(valid, d, 0.0)
    left_val = np.where(left_idx >= 0, safe[rows, np.clip(left_idx, 0, w - 1)], np.inf)
    right_val = np.where(right_idx < w, safe[rows, np.clip(right_idx, 0, w - 1)], np.inf)
    fill = np.minimum(left_val, right_val)
    fill[~np.isfinite(fill)] = 0.0
    return np.where(valid, d, fill).astype(np.float32)


def disparity_metrics(
    prediction_px: np.ndarray, gt_px: np.ndarray, *, mask: np.ndarray | None = None
) -> DisparityMetrics:
    """Score a disparity map against ground truth.

    Parameters
    ----------
    prediction_px : numpy.ndarray
        ``HxW`` predicted disparity, pixels, ``x_right = x_left - d``; NaN/inf =
        no prediction.
    gt_px : numpy.ndarray
        ``HxW`` ground truth, pixels; NaN/inf = no ground truth (not scored).
    mask : numpy.ndarray, optional
        ``HxW`` bool: score only GT pixels where True (e.g. non-occluded).

    Returns
    -------
    DisparityMetrics
        See the module doc for how missing predictions count.

    Raises
    ------
    ParameterError
        If shapes differ or the region holds no GT pixel.
    """
    pred = np.asarray(prediction_px, dtype=np.float32)
    gt = np.asarray(gt_px, dtype=np.float32)
    if pred.shape != gt.shape or pred.ndim != 2:
        raise ParameterError(
            f"prediction {pred.shape} and ground truth {gt.shape} must be 2-D maps of one size; "
            "compute the prediction at the ground truth's resolution"
        )
    region = np.isfinite(gt)
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != gt.shape or mask.dtype != np.bool_:
            raise ParameterError(f"mask must be a bool array of shape {gt.shape}, got {mask.dtype} {mask.shape}")
        region &= mask
    n = int(region.sum())
    if n == 0:
        raise ParameterError("the region holds no ground-truth pixel; nothing to score")
    g = gt[region].astype(np.float64)
    p = pred[region].astype(np.float64)
    has = np.isfinite(p)
    err = np.abs(np.where(has, p, 0.0) - g)

    def bad(outlier: np.ndarray) -> float:
        return 100.0 * float(np.count_nonzero(outlier | ~has)) / n

    filled = fill_missing(pred)[region].astype(np.float64)
    ferr = filled - g
    return DisparityMetrics(
        n_pixels=n,
        density_pct=100.0 * float(np.count_nonzero(has)) / n,
        bad_0_5_pct=bad(err > THRESHOLDS_PX[0]),
        bad_1_pct=bad(err > THRESHOLDS_PX[1]),
        bad_2_pct=bad(err > THRESHOLDS_PX[2]),
        bad_4_pct=bad(err > THRESHOLDS_PX[3]),
        d1_pct=bad((err > D1_ABS_PX) & (err > D1_REL * np.abs(g))),
        epe_px=float(np.mean(np.abs(ferr))),
        rms_px=float(np.sqrt(np.mean(ferr * ferr))),
    )


class SceneScores(TypedDict):
    """What :func:`scene_metrics` returns: metrics over every GT pixel, and over the non-occluded ones."""

    all: DisparityMetrics
    nonocc: DisparityMetrics | None


def scene_metrics(prediction_px: np.ndarray, scene: StereoScene) -> SceneScores:
    """Metrics of a prediction for a :class:`~parallax.bench.scene.StereoScene`.

    Returns
    -------
    dict
        ``{"all": DisparityMetrics, "nonocc": DisparityMetrics or None}``
        (``None`` when the scene has no non-occluded mask, or it holds no GT pixel).
    """
    everywhere = disparity_metrics(prediction_px, scene.gt_disparity_px)
    nonocc = None
    if scene.nonocc is not None and bool((scene.nonocc & scene.gt_valid).any()):
        nonocc = disparity_metrics(prediction_px, scene.gt_disparity_px, mask=scene.nonocc)
    return {"all": everywhere, "nonocc": nonocc}


@dataclass(frozen=True, kw_only=True)
class TemporalMetrics:
    """Temporal consistency of two consecutive disparity maps against ground truth (see the module doc).

    Parameters
    ----------
    n_pixels : int
        Pixels with ground truth in both frames (visible in the next frame).
    tepe_px : float
        Temporal end-point error: mean ``|Δd̂ - Δd*|``, pixels.
    tepe_rms_px : float
        Root mean square of ``Δd̂ - Δd*``, pixels.
    """

    n_pixels: int
    tepe_px: float
    tepe_rms_px: float

    def __post_init__(self) -> None:
        if self.n_pixels < 1:
            raise ParameterError(f"TemporalMetrics.n_pixels must be >= 1, got {self.n_pixels}")
        for name in ("tepe_px", "tepe_rms_px"):
            value = getattr(self, name)
            if not math.isfinite(value):
                raise ParameterError(f"TemporalMetrics.{name} must be finite, got {value}")

    def to_dict(self, *, digits: int | None = None) -> dict[str, Any]:
        """Plain dict; floats rounded to ``digits`` decimals when given."""
        out = asdict(self)
        if digits is not None:
            out = {k: (round(v, digits) if isinstance(v, float) else v) for k, v in out.items()}
        return out


def sample_bilinear(values: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear samples of an ``HxW`` map at pixel positions ``(x, y)`` (``(0, 0)`` = centre of the top-left pixel).

    Positions outside ``[0, W-1] x [0, H-1]`` or touching a NaN neighbour give NaN.
    """
    v = np.asarray(values, dtype=np.float64)
    h, w = v.shape
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        inside = np.isfinite(x) & np.isfinite(y) & (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
    xs, ys = np.where(inside, x, 0.0), np.where(inside, y, 0.0)
    x0 = np.clip(np.floor(xs).astype(int), 0, max(w - 2, 0))
    y0 = np.clip(np.floor(ys).astype(int), 0, max(h - 2, 0))
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = xs - x0, ys - y0
    out = v[y0, x0] * (1 - fx) * (1 - fy) + v[y0, x1] * fx * (1 - fy) + v[y1, x0] * (1 - fx) * fy + v[y1, x1] * fx * fy
    return np.where(inside, out, np.nan)


def temporal_metrics(
    prediction_px: np.ndarray,
    next_prediction_px: np.ndarray,
    gt_px: np.ndarray,
    gt_flow_px: np.ndarray,
    gt_disparity_change_px: np.ndarray,
    *,
    mask: np.ndarray | None = None,
) -> TemporalMetrics | None:
    """Temporal end-point error of the predictions of frames ``t`` and ``t + 1`` (see the module doc).

    Parameters
    ----------
    prediction_px, next_prediction_px : numpy.ndarray
        ``HxW`` predicted disparity of frames ``t`` and ``t + 1`` (pixels, ``x_right = x_left - d``);
        NaN/inf = no prediction (filled with :func:`fill_missing` first).
    gt_px : numpy.ndarray
        ``HxW`` GT disparity of frame ``t``; NaN = no ground truth.
    gt_flow_px : numpy.ndarray
        ``HxWx2`` GT forward flow of the left view from ``t`` to ``t + 1``, ``(dx, dy)`` pixels
        (``x_{t+1} = x_t + flow``); NaN = none.
    gt_disparity_change_px : numpy.ndarray
        ``HxW`` GT ``d_{t+1}(point) - d_t(x)``, pixels; NaN = none.
    mask : numpy.ndarray, optional
        ``HxW`` bool: score only these pixels (e.g. visible in frame ``t + 1`` and non-occluded).

    Returns
    -------
    TemporalMetrics or None
        ``None`` when no pixel has ground truth in both frames.

    Raises
    ------
    ParameterError
        If the shapes disagree.
    """
    pred = np.asarray(prediction_px, dtype=np.float32)
    nxt = np.asarray(next_prediction_px, dtype=np.float32)
    gt = np.asarray(gt_px, dtype=np.float32)
    flow = np.asarray(gt_flow_px, dtype=np.float64)
    change = np.asarray(gt_disparity_change_px, dtype=np.float64)
    shape = gt.shape
    if pred.shape != shape or nxt.shape != shape or change.shape != shape or flow.shape != (*shape, 2):
        raise ParameterError(
            f"temporal metrics need two predictions, GT disparity and disparity change of shape {shape} "
            f"and flow of shape {(*shape, 2)}; got {pred.shape}, {nxt.shape}, {change.shape}, {flow.shape}"
        )
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    region = np.isfinite(gt) & np.isfinite(change) & np.isfinite(flow[..., 0]) & np.isfinite(flow[..., 1])
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != shape or mask.dtype != np.bool_:
            raise ParameterError(f"mask must be a bool array of shape {shape}, got {mask.dtype} {mask.shape}")
        region &= mask
    x1, y1 = xs + np.nan_to_num(flow[..., 0]), ys + np.nan_to_num(flow[..., 1])
    region &= (x1 >= 0) & (x1 <= w - 1) & (y1 >= 0) & (y1 <= h - 1)
    n = int(region.sum())
    if n == 0:
        return None
    now = fill_missing(pred).astype(np.float64)
    later = sample_bilinear(fill_missing(nxt), x1[region], y1[region])
    err = (later - now[region]) - change[region]
    return TemporalMetrics(
        n_pixels=n, tepe_px=float(np.mean(np.abs(err))), tepe_rms_px=float(np.sqrt(np.mean(err * err)))
    )
