"""Stereo rectification: make matching rows of the two views the same scan line, and check that it worked.

First a quick check: corners tracked by pyramidal Lucas-Kanade
(:mod:`parallax.capture.tracks`, a few milliseconds) that cover the view and
agree on rows to 0.5 px (median) and 1 px (90th percentile) show that the pair
is already rectified, and nothing is estimated
(:func:`~parallax.stereo.residual.already_rectified`).
Otherwise feature matches (SIFT on a downscaled copy, each re-measured at full
resolution with sub-pixel cross-correlation, RANSAC-filtered) are split into
a *fit* set and a *held-out* set. Then, in this order:

1. **none** -- the pair is already rectified: the median absolute vertical
   offset of the matches is below :data:`RECTIFIED_THRESHOLD_PX` (and their
   90th percentile below 2 px).
2. Candidate rectifications are fitted on the fit set and scored on the
   held-out set (median plus a quarter of the 90th percentile of ``|dy|``); a
   more complex candidate must be clearly better to win:

   * **calibrated** -- the :class:`~parallax.capture.types.Capture` gives the
     intrinsics of both views and the rotation of the right camera:
     :func:`cv2.stereoRectify` with that rotation and a baseline along x
     (preferred whenever it is good enough, since it keeps metric intrinsics);
   * a pure vertical shift of the right view;
   * **rotation** -- quasi-Euclidean homographies (each view rotated about its
     optical centre, :mod:`parallax.stereo.uncalibrated`);
   * **rotation+division** -- the same with a shared one-parameter division
     model of lens distortion (wide-angle and action cameras), tried when the
     rotation alone leaves rows apart; or a lens model given by the caller.

   Uncalibrated results keep the left view's centre in place and the matches'
   median disparity unchanged (a horizontal shift of the right view).
3. **Row correction** -- when rows still disagree on the held-out matches, a
   smooth vertical correction of the right view
   (:mod:`parallax.stereo.row_correction`) is measured from dense optical flow
   between the rectified views and kept if the held-out matches agree.
4. **Crops** -- a rectified pair is cropped to the columns both cameras see,
   moving the far plane to zero disparity (the offset is kept in
   ``Rectification.disparity_offset_px``; converged rigs such as the Nintendo
   3DS then have mostly positive disparities), and then to the largest
   rectangle both warped views cover, so no black border remains. Both crops
   translate the views; ``principal_shift_px`` says how the left view's
   principal point moved.
5. **Check** -- the residual is measured again on the rectified views with
   fresh matches (:func:`~parallax.stereo.residual.measure_row_residual`). A pair
   whose median ``|dy|`` exceeds 1 px or whose 90th percentile exceeds 2 px is
   reported as *not rectified* (``Rectification.rectified`` False, with a
   reason): it is still returned, but must not be presented as rectified.

Conventions (``docs/conventions.md``): a view maps original -> rectified by its
lens model (if any), then its homography ``x_rect ~ H @ [x, y, 1]``, then (the
right view) its row correction; :meth:`Rectification.to_original` maps back.
Pixel ``(0, 0)`` is the centre of the top-left pixel. Pixels of a rectified
view with no source pixel are black (0, 0, 0); the border crop removes them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from parallax.capture.types import Capture, check_image
from parallax.errors import NotStereoError, ParameterError
from parallax.stereo.distortion import LensDistortion
from parallax.stereo.features import FeatureMatches, grey, match_features, refine_matches
from parallax.stereo.residual import MIN_MATCHES, RowResidual, already_rectified, measure_row_residual, ransac_inliers
from parallax.stereo.row_correction import fit_row_correction, measure_row_offsets
from parallax.stereo.types import RECTIFIED_P90_PX, Rectification
from parallax.stereo.uncalibrated import Model, fit_rotation
from parallax.stereo.warp import common_rectangle, warp_view

__all__ = ["RECTIFIED_THRESHOLD_PX", "RectifiedPair", "measure_rectification", "rectify"]

#: A pair whose median absolute vertical feature offset is below this (pixels) counts as rectified.
RECTIFIED_THRESHOLD_PX = 0.75
_MIN_MATCHES = MIN_MATCHES
_Force = Literal["none", "calibrated", "uncalibrated"]
#: A more complex candidate must lower the held-out score by this factor (and 0.02 px) to be chosen.
_BETTER = 0.9
#: A row correction is tried when the held-out 90th percentile |dy| exceeds this (pixels).
_ROWS_TRY_P90_PX = 0.75
#: Largest side of the views the dense row measurement runs on.
_ROWS_MAX_SIDE_PX = 1280
#: Percentile of the matches' disparities taken as the far plane when cropping to the common view.
_FAR_PERCENTILE = 2.0


@dataclass(frozen=True, kw_only=True)
class RectifiedPair:
    """A rectified stereo pair and how it was made.

    Parameters
    ----------
    left, right : numpy.ndarray
        Rectified views, ``HxWx3`` uint8 RGB; the original size when the pair
        needed no rectification, else cropped to what both views cover (see
        :func:`rectify`).
    rectification : Rectification
        How original pixels map to rectified ones, and how well rows match
        (``rectification.rectified``).
    """

    left: np.ndarray
    right: np.ndarray
    rectification: Rectification

    def __post_init__(self) -> None:
        left = check_image("left", self.left)
        right = check_image("right", self.right)
        if left.shape != right.shape:
            raise ParameterError(f"RectifiedPair views differ in size: {left.shape} vs {right.shape}")
        object.__setattr__(self, "left", left)
        object.__setattr__(self, "right", right)


def _inlier_matches(left: np.ndarray, right: np.ndarray) -> FeatureMatches:
    """Feature matches filtered by a RANSAC fundamental matrix (1 px threshold)."""
    return ransac_inliers(match_features(left, right), 1.0)


def _vertical_error(matches: FeatureMatches) -> float | None:
    if len(matches) < _MIN_MATCHES:
        return None
    return float(np.median(np.abs(matches.vertical_px)))


def measure_rectification(left: np.ndarray, right: np.ndarray) -> tuple[float | None, int]:
    """Measure how far a pair is from rectified.

    Parameters
    ----------
    left, right : numpy.ndarray
        ``HxWx3`` uint8 RGB views.

    Returns
    -------
    vertical_error_px : float or None
        Median absolute vertical offset ``|y_right - y_left|`` of the
        RANSAC-filtered feature matches, in pixels; ``None`` when fewer than 12
        matches survive (too few to tell).
    n_matches : int
        Number of matches the median used.

    See Also
    --------
    parallax.stereo.residual.measure_row_residual : median and 90th percentile of sub-pixel refined matches.
    """
    matches = _inlier_matches(check_image("left", left), check_image("right", right))
    return _vertical_error(matches), len(matches)


def _shift(tx: float, ty: float = 0.0) -> np.ndarray:
    return np.array([[1.0, 0.0, tx], [0.0, 1.0, ty], [0.0, 0.0, 1.0]])


def _in_rect(rect: Rectification, matches: FeatureMatches) -> FeatureMatches:
    return FeatureMatches(
        left_xy=rect.to_rectified(matches.left_xy, "left"), right_xy=rect.to_rectified(matches.right_xy, "right")
    )


def _residual(rect: Rectification, matches: FeatureMatches) -> RowResidual:
    return RowResidual.from_offsets(_in_rect(rect, matches).vertical_px)


def _score(res: RowResidual) -> float:
    if res.median_px is None or res.p90_px is None:
        return np.inf
    return res.median_px + 0.25 * res.p90_px


def _calibrated(capture: Capture, transpose: bool) -> Model | None:
    """Rectification from the capture's intrinsics and right-camera rotation, or ``None``."""
    lc, rc, rot = capture.left_camera, capture.right_camera, capture.right_rotation
    if lc is None or rc is None or rot is None:
        return None
    k1 = lc.scaled(capture.width / lc.width, capture.height / lc.height).K
    k2 = rc.scaled(capture.width / rc.width, capture.height / rc.height).K
    r = np.asarray(rot, dtype=np.float64)
    r = r.T if transpose else r
    baseline = capture.baseline_m or 1.0
    # OpenCV: X_right = R X_left + T; the right camera sits at +x of the left one
    t = np.array([[-baseline], [0.0], [0.0]])
    r1, r2, *_ = cv2.stereoRectify(
        k1,
        np.zeros(5),
        k2,
        np.zeros(5),
        (capture.width, capture.height),
        r,
        t,
        flags=cv2.CALIB_ZERO_DISPARITY,
        alpha=-1,
    )
    # keep the left view's focal length and principal point for both rectified views
    h_l = k1 @ r1 @ np.linalg.inv(k1)
    h_r = k1 @ r2 @ np.linalg.inv(k2)
    return Model(name="calibrated", h_left=h_l / h_l[2, 2], h_right=h_r / h_r[2, 2])


def _split(
    capture_or_left: Capture | np.ndarray, right: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, Capture | None]:
    if isinstance(capture_or_left, Capture):
        if right is not None:
            raise ParameterError("rectify: give either a Capture or two views, not a Capture and a right view")
        if capture_or_left.right is None:
            raise NotStereoError(
                f"{capture_or_left.source} holds a single view (RGB-D); rectification needs a stereo pair"
            )
        return capture_or_left.left, capture_or_left.right, capture_or_left
    if right is None:
        raise ParameterError("rectify: a right view is needed when the first argument is an image, not a Capture")
    left = check_image("left", capture_or_left)
    right = check_image("right", right)
    if left.shape != right.shape:
        raise ParameterError(
            f"rectify: the views differ in size ({left.shape[1]}x{left.shape[0]} vs "
            f"{right.shape[1]}x{right.shape[0]}); give two views of the same size"
        )
    return left, right, None


def _matches(left: np.ndarray, right: np.ndarray) -> tuple[FeatureMatches, FeatureMatches]:
    """(tight, pool): RANSAC inliers at 1 px of the raw matches, and at a looser threshold of the refined ones.

    The loose pool keeps the periphery of wide-angle pairs, which one
    fundamental matrix cannot fit to a pixel; the models decide what fits.
    """
    raw = match_features(left, right)
    tight = ransac_inliers(raw, 1.0)
    refined = refine_matches(left, right, raw)
    if len(refined) < max(_MIN_MATCHES, len(raw) // 3):
        refined = raw
    factor = max(1.0, max(left.shape[:2]) / 1280.0)
    return tight, ransac_inliers(refined, 3.0 * factor)


def _halves(matches: FeatureMatches) -> tuple[FeatureMatches, FeatureMatches]:
    """A seeded split into fit (two thirds) and held-out (one third) matches; both all of them when few."""
    n = len(matches)
    if n < 3 * _MIN_MATCHES:
        return matches, matches
    order = np.random.default_rng(0).permutation(n)
    fit = np.zeros(n, dtype=bool)
    fit[order[: (2 * n) // 3]] = True
    return matches.subset(fit), matches.subset(~fit)


def _keep_disparity(rect: Rectification, matches: FeatureMatches) -> Rectification:
    """Shift the right view horizontally so the matches' median disparity is unchanged."""
    after = _in_rect(rect, matches)
    shift = float(np.median(after.disparity_px) - np.median(matches.disparity_px))
    return dataclasses.replace(rect, H_right=_shift(shift) @ rect.H_right)


def _translate(rect: Rectification, tx: float, ty: float) -> Rectification:
    """Translate both rectified views by ``(tx, ty)`` (rows and disparities unchanged)."""
    t = _shift(tx, ty)
    rows = rect.row_correction_right.shifted(tx, ty) if rect.row_correction_right is not None else None
    dx, dy = rect.principal_shift_px
    return dataclasses.replace(
        rect,
        H_left=t @ rect.H_left,
        H_right=t @ rect.H_right,
        row_correction_right=rows,
        principal_shift_px=(dx + tx, dy + ty),
    )


def _recentre(rect: Rectification, width: int, height: int) -> Rectification:
    """Translate both views alike so the left view's centre stays put (less black border)."""
    centre = np.array([[(width - 1) / 2.0, (height - 1) / 2.0]])
    tx, ty = (centre - rect.to_rectified(centre, "left"))[0]
    return _translate(rect, float(tx), float(ty))


def _crop_far_plane(rect: Rectification, matches: FeatureMatches) -> Rectification:
    """Crop a freshly rectified pair to the columns both cameras see.

    A converged rig (3DS) or a wide parallel rig leaves a band of the left view
    that the right camera never saw (right edge for negative far disparities,
    left edge for positive ones); no disparity can explain it. The far plane's
    disparity ``s`` (a low percentile of the matches) is moved to zero by
    cropping ``|s|`` columns: the left view's right band when ``s < 0``, its left
    band when ``s > 0`` (and the matching band of the right view). Disparity in
    the cropped pair is then ``d - s``; ``disparity_offset_px = s`` restores it.
    """
    if len(matches) < _MIN_MATCHES:
        return rect
    s = float(np.round(np.percentile(_in_rect(rect, matches).disparity_px, _FAR_PERCENTILE)))
    if abs(s) < 1.0 or abs(s) > 0.5 * rect.width:
        return rect
    width = rect.width - int(abs(s))
    if s > 0:  # the left view's left band is unseen by the right camera
        dx, dy = rect.principal_shift_px
        out = dataclasses.replace(rect, H_left=_shift(-s) @ rect.H_left, principal_shift_px=(dx - s, dy))
    else:  # the left view's right band is unseen: shift the right view left
        rows = rect.row_correction_right.shifted(s, 0.0) if rect.row_correction_right is not None else None
        out = dataclasses.replace(rect, H_right=_shift(s) @ rect.H_right, row_correction_right=rows)
    return dataclasses.replace(out, width=width, disparity_offset_px=s)


def _crop_border(rect: Rectification, width: int, height: int) -> Rectification:
    """Crop both views to the largest rectangle both of them cover (no black border)."""
    x0, y0, w, h = common_rectangle(rect, width, height)
    if (x0, y0, w, h) == (0, 0, rect.width, rect.height):
        return rect
    return dataclasses.replace(_translate(rect, -float(x0), -float(y0)), width=w, height=h)


def _correct_rows(rect: Rectification, left: np.ndarray, right: np.ndarray, held: FeatureMatches) -> Rectification:
    """Add a dense row correction of the right view when it lowers the held-out score (two rounds at most)."""
    best, best_score = rect, _score(_residual(rect, held))
    scale = min(1.0, _ROWS_MAX_SIDE_PX / max(rect.width, rect.height))
    gl = grey(warp_view(left, rect, "left", scale=scale))
    current = rect
    for _ in range(2):
        gr = grey(warp_view(right, current, "right", scale=scale))
        xr, y, offset, weight = measure_row_offsets(gl, gr)
        if len(offset) < 200:
            break
        # to full-resolution rectified pixels; the existing correction is refined, not replaced
        xr, y, offset = (xr + 0.5) / scale - 0.5, (y + 0.5) / scale - 0.5, offset / scale
        if current.row_correction_right is not None:
            offset = offset + current.row_correction_right.offset(xr, y)
        rows = fit_row_correction(xr, y, offset, width=rect.width, height=rect.height, weights=weight)
        current = dataclasses.replace(rect, row_correction_right=rows, model=rect.model + "+rows")
        score = _score(_residual(current, held))
        if score < _BETTER * best_score - 0.02:
            best, best_score = current, score
        else:
            break
    return best


def _choose(candidates: list[tuple[Model, RowResidual]], force: _Force | None) -> tuple[Model, RowResidual]:
    """The simplest candidate within reach of the best held-out score (candidates come simplest first)."""
    usable = [c for c in candidates if c[1].measured]
    if force is not None:
        usable = [c for c in usable if (c[0].name == "calibrated") == (force == "calibrated")] or usable
    if not usable:
        return candidates[0]
    calibrated = [
        c for c in usable if c[0].name == "calibrated" and (c[1].median_px or np.inf) < RECTIFIED_THRESHOLD_PX
    ]
    if calibrated:  # calibrated keeps metric intrinsics exact; take it when it is good enough
        return min(calibrated, key=lambda c: _score(c[1]))
    best = usable[0]
    for cand in usable[1:]:
        if _score(cand[1]) < _BETTER * _score(best[1]) - 0.02:
            best = cand
    return best


def _rectification(
    method: str, model: Model, width: int, height: int, before: float | None, n_matches: int
) -> Rectification:
    return Rectification(
        method=method,  # type: ignore[arg-type]
        H_left=model.h_left,
        H_right=model.h_right,
        width=width,
        height=height,
        vertical_error_before_px=before,
        matches=n_matches,
        distortion_left=model.distortion,
        distortion_right=model.distortion,
        model=model.name,
    )


def rectify(
    capture_or_left: Capture | np.ndarray,
    right: np.ndarray | None = None,
    *,
    force: _Force | None = None,
    distortion: LensDistortion | None = None,
    correct_rows: bool = True,
    matches: FeatureMatches | None = None,
) -> RectifiedPair:
    """Rectify a stereo pair so that corresponding points share a row, and check the result.

    Parameters
    ----------
    capture_or_left : Capture or numpy.ndarray
        A stereo :class:`~parallax.capture.types.Capture`, or the left view
        (``HxWx3`` uint8 RGB) with ``right`` given.
    right : numpy.ndarray, optional
        The right view when ``capture_or_left`` is an image.
    force : {"none", "calibrated", "uncalibrated"}, optional
        Skip the decision and use this method (``"calibrated"`` needs a Capture
        with both intrinsics and ``right_rotation``). The result is still
        checked; a forced method that makes things worse is kept anyway.
    distortion : LensDistortion, optional
        A known lens model of both views (from a calibration or the file), in
        pixels of these views; the rotations are then fitted to the undistorted
        matches instead of estimating a lens model.
    correct_rows : bool
        Allow the dense row correction of the right view (step 3 of the module docstring).
    matches : FeatureMatches, optional
        Feature matches to decide and fit with, in pixels of these views (e.g.
        matches pooled over many frames of a clip by
        :mod:`parallax.stereo.clip_rectify`); default: sub-pixel SIFT matches of
        the two views (see :func:`_matches`).

    Returns
    -------
    RectifiedPair
        Rectified views with their :class:`Rectification`: how pixels map, the
        median vertical error before and after (after = measured anew on the
        rectified views), the 90th percentile after, and ``rectified`` (False,
        with a ``reason``, when rows still disagree by more than 1 px median or
        2 px at the 90th percentile, or cannot be checked). A pair that was
        already rectified keeps its size. A pair that needed rectification is
        cropped to the columns both cameras see and to the rectangle both warped
        views cover: its disparities are ``d - disparity_offset_px``
        (``x_right = x_left - d`` as always).

    Raises
    ------
    NotStereoError
        If the capture has no right view.
    ParameterError
        If the views differ in size, or ``force`` is unknown or impossible.
    """
    if force not in (None, "none", "calibrated", "uncalibrated"):
        raise ParameterError(f"rectify: force={force!r} is not one of none, calibrated, uncalibrated")
    if distortion is not None and not isinstance(distortion, LensDistortion):
        raise ParameterError(f"rectify: distortion must be a LensDistortion, got {type(distortion).__name__}")
    left, right_view, capture = _split(capture_or_left, right)
    height, width = left.shape[:2]
    eye = np.eye(3)
    identity = Model(name="identity", h_left=eye, h_right=eye)
    if matches is None and distortion is None and force in (None, "none"):
        quick = already_rectified(left, right_view)
        if quick is not None:  # tracked corners show rows that already match: nothing to estimate
            tracks, res = quick
            rect = _rectification("none", identity, width, height, res.median_px, len(tracks))
            return _finish(rect, left, right_view, res)
    if matches is None:
        tight, pool = _matches(left, right_view)
    else:  # given (e.g. pooled over a clip's frames): the tight set for the decision, RANSAC-filtered
        tight, pool = ransac_inliers(matches, 1.0), matches
    before = _vertical_error(tight)
    before_pool = RowResidual.from_offsets(ransac_inliers(pool, 1.5).vertical_px)
    already = before is not None and before < RECTIFIED_THRESHOLD_PX and (before_pool.p90_px or 0.0) <= RECTIFIED_P90_PX
    if force == "none" or (force is None and distortion is None and (before is None or already)):
        # nothing was estimated, so every match is held out
        rect = _rectification("none", identity, width, height, before, len(tight))
        return _finish(rect, left, right_view, before_pool)

    fit, held = _halves(pool)
    candidates: list[tuple[Model, RowResidual]] = []

    def add(model: Model) -> None:
        rect = _rectification("none", model, width, height, before, len(pool))
        candidates.append((model, _residual(rect, held)))

    if force is None and distortion is None:
        add(identity)
    if force in (None, "calibrated") and capture is not None:
        for transpose in (False, True):
            model = _calibrated(capture, transpose)
            if model is not None:
                add(model)
        if force == "calibrated" and not any(c[0].name == "calibrated" for c in candidates):
            raise ParameterError(
                f"rectify: force='calibrated' needs both cameras' intrinsics and right_rotation, "
                f"which {capture.source} does not give; use force='uncalibrated'"
            )
    elif force == "calibrated":
        raise ParameterError("rectify: force='calibrated' needs a Capture with camera facts, not two images")
    if force in (None, "uncalibrated"):
        if len(pool) < _MIN_MATCHES:
            if not candidates or force == "uncalibrated":
                raise ParameterError(
                    f"rectify: only {len(pool)} feature matches; at least {_MIN_MATCHES} are needed for "
                    "uncalibrated rectification"
                )
        else:
            shift = float(np.median(pool.vertical_px))
            add(Model(name="vertical-shift", h_left=eye, h_right=_shift(0.0, -shift), distortion=distortion))
            focal = None
            if capture is not None and capture.left_camera is not None:
                focal = capture.left_camera.focal_px * width / capture.left_camera.width
            if distortion is not None:
                rotated = fit_rotation(_undistorted(fit, distortion), width, height, focal)
                add(dataclasses.replace(rotated, name="rotation+lens", distortion=distortion))
            else:
                add(fit_rotation(fit, width, height, focal))
                rot_res = candidates[-1][1]
                if rot_res.p90_px is not None and rot_res.p90_px > _ROWS_TRY_P90_PX:  # rows apart: try a lens model
                    add(fit_rotation(fit, width, height, focal, distortion=True))
    model, res = _choose(candidates, force)
    if model.name == "identity" and force is None:
        rect = _rectification("none", identity, width, height, before, len(tight))
        return _finish(rect, left, right_view, before_pool)

    method = "calibrated" if model.name == "calibrated" else "uncalibrated"
    rect = _rectification(method, model, width, height, before, len(pool))
    if method == "uncalibrated":
        rect = _keep_disparity(_recentre(rect, width, height), pool)
    if correct_rows and res.p90_px is not None and res.p90_px > _ROWS_TRY_P90_PX:
        rect = _correct_rows(rect, left, right_view, held)
    rect = _crop_far_plane(rect, pool)
    rect = _crop_border(rect, width, height)
    out_left = warp_view(left, rect, "left")
    out_right = warp_view(right_view, rect, "right")
    return _finish(rect, out_left, out_right, measure_row_residual(out_left, out_right))


def _finish(rect: Rectification, out_left: np.ndarray, out_right: np.ndarray, res: RowResidual) -> RectifiedPair:
    """The rectified pair, its rectification carrying the residual ``res`` measured on the output."""
    rect = dataclasses.replace(
        rect,
        vertical_error_after_px=res.median_px,
        residual_median_px=res.median_px,
        residual_p90_px=res.p90_px,
        residual_matches=res.matches,
        rectified=res.rectified,
        reason=res.reason(),
    )
    return RectifiedPair(left=out_left, right=out_right, rectification=rect)


def _undistorted(matches: FeatureMatches, lens: LensDistortion) -> FeatureMatches:
    return FeatureMatches(
        left_xy=lens.undistort_points(matches.left_xy), right_xy=lens.undistort_points(matches.right_xy)
    )
