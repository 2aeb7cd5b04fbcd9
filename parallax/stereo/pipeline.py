"""Capture -> DepthResult: rectify, match, depth (or depth from an embedded map).

Camera facts come from the capture; explicit arguments (the CLI flags) override
them. Depth is metric only when both a focal length and a baseline are known;
otherwise it is relative (median 1, larger = farther) and the result says so
(``DepthResult.depth_is_metric``). When both come from the file alone (no
arguments), they are also refused if more than 5 % of the disparities are
<= 0: converged rigs and 3D lenses put zero disparity at a distance the file
does not state (``settings["metric_refused"]`` says so). See :mod:`parallax.stereo.depth` for the formulas.

Approximation: after *uncalibrated* rectification the rectified left view keeps
the original focal length and principal point. The homography is a small
rotation about the optical centre (a few tenths of a degree on real captures),
which changes the effective focal length by well under 1 %.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from parallax.capture.types import CameraIntrinsics, Capture, EmbeddedMap
from parallax.errors import NotStereoError, ParameterError
from parallax.stereo.depth import depth_from_map, disparity_to_depth, far_clip, relative_depth
from parallax.stereo.matchers.base import MatchResult
from parallax.stereo.percentiles import median as fast_median
from parallax.stereo.rectify import RectifiedPair, rectify
from parallax.stereo.types import DepthResult, Rectification

__all__ = ["DEFAULT_FAR_CLIP", "compute_depth", "downscale_capture", "rectify_capture", "run_matcher"]

_DEPTH_KINDS = ("depth", "inverse-depth", "normalized-disparity")
#: Default of ``compute_depth(far_clip_factor=...)``: depth beyond this many times its 95th percentile is not valid.
DEFAULT_FAR_CLIP = 4.0
#: File-given focal length and baseline are not used for metric depth when more than
#: this share of disparities is <= 0 (a converged rig or 3D lens with unknown offset).
_MAX_NONPOSITIVE_SHARE = 0.05


def _check_optional_positive(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ParameterError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def downscale_capture(capture: Capture, max_side_px: int | None) -> tuple[Capture, float]:
    """Shrink a capture so its longer side is at most ``max_side_px``; scale its intrinsics.

    Returns the (possibly unchanged) capture and the scale factor applied
    (``<= 1``; new pixels per original pixel). Views are resized with area
    averaging; embedded maps are left in their own size.
    """
    if max_side_px is None:
        return capture, 1.0
    if not isinstance(max_side_px, int) or max_side_px < 16:
        raise ParameterError(f"max_side_px must be an integer >= 16, got {max_side_px!r}")
    h, w = capture.height, capture.width
    scale = min(1.0, max_side_px / max(h, w))
    if scale >= 1.0:
        return capture, 1.0
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    sx, sy = size[0] / w, size[1] / h

    def shrink(img: np.ndarray) -> np.ndarray:
        return cv2.resize(img, size, interpolation=cv2.INTER_AREA)

    def cam(c: CameraIntrinsics | None) -> CameraIntrinsics | None:
        # intrinsics may refer to another size than the view (e.g. a half-size right view)
        return None if c is None else c.scaled(size[0] / c.width, size[1] / c.height)

    small = dataclasses.replace(
        capture,
        left=shrink(capture.left),
        right=None if capture.right is None else shrink(capture.right),
        left_camera=cam(capture.left_camera),
        right_camera=cam(capture.right_camera),
    )
    return small, math.sqrt(sx * sy)


def _from_original_pixels(rect: Rectification, original: Capture, small: Capture) -> Rectification:
    """Compose the rectification with the downscale, so ``H`` maps original-file pixels to rectified pixels."""
    if small.width == original.width and small.height == original.height:
        return rect
    sx, sy = small.width / original.width, small.height / original.height
    # pixel centres: x_small = (x + 0.5) * sx - 0.5
    s = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])

    def lens(model: Any) -> Any:  # the lens model in original pixels: undistort_small(S p) = S undistort_orig(p)
        return None if model is None else model.transformed(1 / sx, 1 / sy, 0.5 / sx - 0.5, 0.5 / sy - 0.5)

    return dataclasses.replace(
        rect,
        H_left=rect.H_left @ s,
        H_right=rect.H_right @ s,
        distortion_left=lens(rect.distortion_left),
        distortion_right=lens(rect.distortion_right),
    )


def rectify_capture(capture: Capture, *, max_side_px: int | None = None) -> tuple[RectifiedPair, float]:
    """Rectify a stereo capture, optionally at a reduced size (what :func:`compute_depth` does first).

    Returns
    -------
    pair : RectifiedPair
        The rectified views (reduced when ``max_side_px`` is given); its
        ``rectification`` maps pixels of the *original* views to rectified pixels.
    scale : float
        Rectified pixels per original pixel (1 unless reduced).
    """
    small, scale = downscale_capture(capture, max_side_px)
    if small.right is None:
        raise NotStereoError(f"{capture.source} holds a single view (RGB-D); rectification needs a stereo pair")
    pair = rectify(small)
    rect = _from_original_pixels(pair.rectification, capture, small)
    return dataclasses.replace(pair, rectification=rect), scale


def _covered(rect: Rectification, source_width: int, source_height: int) -> np.ndarray:
    """Boolean HxW mask of rectified left pixels whose source lies inside the original left view."""
    from parallax.stereo.warp import covered_mask

    return covered_mask(rect, "left", source_width, source_height)


def run_matcher(
    left: np.ndarray,
    right: np.ndarray,
    *,
    matcher: str = "default",
    min_disparity: float | None = None,
    max_disparity: float | None = None,
    options: Mapping[str, Any] | None = None,
) -> MatchResult:
    """Match a rectified pair with :func:`parallax.stereo.disparity.match`."""
    import parallax.stereo.disparity as disparity

    return disparity.match(
        left, right, matcher=matcher, min_disparity=min_disparity, max_disparity=max_disparity, **dict(options or {})
    )


def _rectified_camera(capture: Capture, focal_px: float | None) -> CameraIntrinsics | None:
    """Intrinsics of the rectified left view (original focal kept; see the module docstring)."""
    base = capture.left_camera
    if base is not None:
        base = base.scaled(capture.width / base.width, capture.height / base.height)
    if focal_px is not None:
        if base is None:
            return CameraIntrinsics(
                focal_px=focal_px,
                cx_px=(capture.width - 1) / 2.0,
                cy_px=(capture.height - 1) / 2.0,
                width=capture.width,
                height=capture.height,
            )
        ratio = base.fy_px / base.focal_px
        return dataclasses.replace(base, focal_px=focal_px, focal_y_px=focal_px * ratio)
    return base


def _pick_map(capture: Capture) -> EmbeddedMap:
    for kind in _DEPTH_KINDS:
        for m in capture.maps:
            if m.kind == kind and m.view == "left":
                return m
    for m in capture.maps:
        if m.view == "left":
            return m
    raise NotStereoError(f"{capture.source} holds a single view and no depth map of the left view; give a stereo pair")


def _resize_map(data: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bilinear resize that keeps NaN holes (a pixel is NaN if its nearest source is)."""
    if data.shape == (height, width):
        return data
    valid = np.isfinite(data)
    filled = np.where(valid, data, 0.0).astype(np.float32)
    out = cv2.resize(filled, (width, height), interpolation=cv2.INTER_LINEAR)
    weight = cv2.resize(valid.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    nearest = cv2.resize(valid.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST).astype(bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = out / weight
    out[~nearest | (weight <= 0)] = np.nan
    return out.astype(np.float32)


def _from_embedded_map(capture: Capture, scale: float, settings: dict[str, Any]) -> DepthResult:
    embedded = _pick_map(capture)
    depth, metric = depth_from_map(embedded)
    depth = _resize_map(depth, capture.width, capture.height)
    if not metric:  # resampling moves the median a little; keep the documented median of 1
        finite = depth[np.isfinite(depth)]
        if finite.size:
            depth = depth / np.float32(np.median(finite))
    valid = np.isfinite(depth)
    camera = _rectified_camera(capture, None)
    settings.update({"depth_source": f"embedded {embedded.kind} map ({embedded.units})", "scale": scale})
    return DepthResult(
        image=capture.left,
        right_image=None,
        disparity_px=None,
        confidence=valid.astype(np.float32),
        depth=depth.astype(np.float32),
        depth_is_metric=metric,
        camera=camera,
        baseline_m=None,
        rectification=None,
        source=capture.source,
        settings=settings,
    )


def compute_depth(
    capture: Capture,
    *,
    matcher: str = "default",
    min_disparity: float | None = None,
    max_disparity: float | None = None,
    focal_px: float | None = None,
    baseline_m: float | None = None,
    doffs_px: float | None = None,
    max_side_px: int | None = None,
    matcher_options: Mapping[str, Any] | None = None,
    strict: bool = False,
    far_clip_factor: float | None = DEFAULT_FAR_CLIP,
    plain_surfaces: bool | None = None,
    eyes: str | None = None,
) -> DepthResult:
    """Rectify a capture, estimate disparity and turn it into depth.

    Parameters
    ----------
    capture : Capture
        A stereo capture, or an RGB-D one (no right view, an embedded depth map).
    matcher : str
        Matcher name for :func:`parallax.stereo.disparity.match`.
    min_disparity, max_disparity : float, optional
        Disparity search range in pixels of the *original* views
        (``x_right = x_left - d``; negative allowed); scaled with ``max_side_px``.
        ``None``: the matcher finds the range itself.
    focal_px : float, optional
        Focal length of the left view in original pixels; overrides the file's.
    baseline_m : float, optional
        Baseline in metres; overrides the file's.
    doffs_px : float, optional
        x-difference of the principal points in original pixels (Middlebury
        ``doffs``); default 0 for metric depth. Without focal length and
        baseline it is used as the offset of relative depth.
    max_side_px : int, optional
        Process at a reduced size: views are shrunk so their longer side is at
        most this; intrinsics, disparity range and ``doffs`` are scaled along.
        The result then has the reduced size.
    matcher_options : Mapping, optional
        Extra keyword arguments for the matcher (e.g. a model path).
    strict : bool
        Only pixels measured by a left-right consistent match get a value
        (default: dense, see :func:`parallax.stereo.disparity.disparity_of_pair`).
    far_clip_factor : float or None
        Pixels deeper than this many times the 95th percentile of the depth are
        not valid (noise near zero disparity would put them hundreds of times
        farther than the scene); ``settings["far_clip"]`` says how many were
        clipped and where. ``None`` keeps them.
    plain_surfaces : bool or None
        Make untextured regions smooth surfaces or no value; ``None`` (default): on
        for correspondence matchers, off for learned models (see
        :func:`parallax.stereo.disparity.disparity_of_pair`).
    eyes : {"auto", "left-right", "right-left"}, optional
        Check (``auto``) or fix the eye order first
        (:func:`parallax.capture.eyes.orient_eyes`); ``None`` (default) takes
        the capture as it is (:func:`parallax.read_capture` already checked it).

    Returns
    -------
    DepthResult
        Maps of the rectified left view. ``depth_is_metric`` is True (depth in
        metres) only when both a focal length and a baseline are known (see
        the module docstring for file-given facts); otherwise depth is relative
        (median 1, larger = farther).
        Pixels of the rectified left view with no source pixel have no value;
        pixels seen by one camera only have an extrapolated value with a low
        confidence unless ``strict``. ``valid`` marks the pixels to use: those
        with a disparity and a depth that was not clipped as too far.
        ``settings`` records the matcher, the range, the scale, where the
        camera facts came from, the eye-order decision (``"eyes"``) and whether
        the pair could be rectified (``"rectified"``, and
        ``"rectification_warning"`` when not: disparity and depth of such a
        pair are unreliable). ``rectification`` maps pixels of the original
        (full-size) views to pixels of the rectified, possibly reduced, views;
        its vertical errors are in pixels of the processed size.
    """
    if not isinstance(capture, Capture):
        raise ParameterError(f"compute_depth needs a Capture, got {type(capture).__name__}; use parallax.read_capture")
    focal_px = _check_optional_positive("focal_px", focal_px)
    baseline_m = _check_optional_positive("baseline_m", baseline_m)
    if doffs_px is not None and not math.isfinite(doffs_px):
        raise ParameterError(f"doffs_px must be finite, got {doffs_px!r}")
    if far_clip_factor is not None and not (
        isinstance(far_clip_factor, (int, float)) and math.isfinite(far_clip_factor) and far_clip_factor > 1
    ):
        raise ParameterError(f"far_clip_factor must be a number > 1 or None (no clipping), got {far_clip_factor!r}")
    if min_disparity is not None and max_disparity is not None and not min_disparity < max_disparity:
        raise ParameterError(
            f"min_disparity ({min_disparity}) must be below max_disparity ({max_disparity}); swap or widen them"
        )
    if eyes is not None:
        from parallax.capture.eyes import orient_eyes

        capture = orient_eyes(capture, eyes)
    small, scale = downscale_capture(capture, max_side_px)
    settings: dict[str, Any] = {"matcher": matcher, "max_side_px": max_side_px, "scale": scale}
    if capture.metadata.get("eyes") is not None:
        settings["eyes"] = capture.metadata["eyes"]
    if small.right is None:
        return _from_embedded_map(small, scale, settings)

    pair = rectify(small)
    rectification = _from_original_pixels(pair.rectification, capture, small)
    lo = None if min_disparity is None else min_disparity * scale
    hi = None if max_disparity is None else max_disparity * scale
    rect_w, rect_h = pair.rectification.width, pair.rectification.height
    offset = float(pair.rectification.disparity_offset_px)  # d_uncropped = d + offset
    from parallax.stereo.disparity import disparity_of_pair  # loads the matchers: only when matching

    estimate = disparity_of_pair(
        pair.left,
        pair.right,
        matcher=matcher,
        min_disparity=lo,
        max_disparity=hi,
        strict=strict,
        plain_surfaces=plain_surfaces,
        covered=_covered(pair.rectification, small.width, small.height),
        options=matcher_options,
    )
    disparity = np.array(estimate.disparity_px, dtype=np.float32)
    confidence = np.array(estimate.confidence, dtype=np.float32)
    settings.update({k: v for k, v in estimate.settings.items() if k != "matcher_settings"})

    focal = focal_px * scale if focal_px is not None else None
    if focal is None and small.left_camera is not None:
        focal = small.left_camera.focal_px * small.width / small.left_camera.width
    baseline = baseline_m if baseline_m is not None else small.baseline_m
    method = pair.rectification.method
    camera = _rectified_camera(small, focal)
    if camera is not None and (rect_w, rect_h, *pair.rectification.principal_shift_px) != (
        camera.width,
        camera.height,
        0.0,
        0.0,
    ):
        # translated and cropped to what both views cover: the principal point moved with the crop
        dx, dy = pair.rectification.principal_shift_px
        camera = dataclasses.replace(
            camera, cx_px=camera.cx_px + dx, cy_px=camera.cy_px + dy, width=rect_w, height=rect_h
        )
    settings.update(
        {
            "min_disparity": estimate.min_disparity,
            "max_disparity": estimate.max_disparity,
            "matcher_settings": dict(estimate.settings["matcher_settings"]),
            "rectification": method,
            "rectified": pair.rectification.rectified,
            "rectification_residual_px": {
                "median": pair.rectification.residual_median_px,
                "p90": pair.rectification.residual_p90_px,
            },
            "focal_source": "argument" if focal_px is not None else ("file" if focal is not None else None),
            "baseline_source": "argument" if baseline_m is not None else ("file" if baseline is not None else None),
        }
    )
    if not pair.rectification.rectified:
        settings["rectification_warning"] = pair.rectification.reason
    metric = focal is not None and baseline is not None
    if metric and focal_px is None and baseline_m is None and doffs_px is None:
        # Facts from the file only: trust them only if the disparities are consistent with
        # a parallel rig (d > 0). Converged rigs and 3D lenses put zero disparity at an
        # unknown distance, which the file does not state.
        finite = disparity[np.isfinite(disparity)]
        behind = float(np.mean(finite + offset <= 0)) if finite.size else 1.0
        if behind > _MAX_NONPOSITIVE_SHARE:
            metric = False
            settings["metric_refused"] = (
                f"{behind:.0%} of disparities are <= 0, so the zero-disparity offset is unknown; "
                "pass --doffs (the x-difference of the principal points) for metric depth"
            )
    if metric and focal is not None and baseline is not None:  # (metric means both are known)
        doffs = (doffs_px or 0.0) * scale + offset
        depth = disparity_to_depth(disparity, focal_px=focal, baseline_m=baseline, doffs_px=doffs)
        settings["depth"] = "metric: Z = focal_px * baseline_m / (d + doffs_px)"
    else:
        depth, doffs = relative_depth(disparity, offset_px=None if doffs_px is None else doffs_px * scale + offset)
        metric, baseline = False, None
        missing = " and ".join(n for n, v in (("focal length", focal), ("baseline", baseline)) if v is None)
        why = settings.get("metric_refused") or f"{missing} unknown"
        settings["depth"] = f"relative (median 1, larger = farther): {why}; disparity offset {doffs:.3f} px"
        settings["depth_reason"] = f"{why}; disparity offset {doffs:.3f} px"
    valid = np.isfinite(depth) & estimate.valid
    if far_clip_factor is not None:
        far, limit = far_clip(depth, valid, factor=far_clip_factor)
        valid &= ~far
        if not metric and far.any():  # keep the documented median of 1 over the valid pixels
            median = np.float32(fast_median(depth, where=valid))
            depth = np.divide(depth, median, dtype=np.float32)
            limit = None if limit is None else limit / float(median)
        settings["far_clip"] = {
            "factor": float(far_clip_factor),
            "max_depth": None if limit is None else round(float(limit), 6),
            "clipped_share": round(float(far.mean()), 6),
            "units": "m" if metric else "relative",
        }
    return DepthResult(
        image=pair.left,
        right_image=pair.right,
        disparity_px=disparity,
        confidence=confidence,
        depth=depth,
        valid=valid,
        depth_is_metric=metric,
        camera=camera,
        baseline_m=baseline,
        doffs_px=float(doffs),
        rectification=rectification,
        source=capture.source,
        settings=settings,
    )
