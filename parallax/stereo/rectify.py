"""Stereo rectification: make matching rows of the two views the same scan line.

Three ways, tried in this order by :func:`rectify`:

1. **none** -- the pair is already rectified: the median absolute vertical
   offset of matched features is below :data:`RECTIFIED_THRESHOLD_PX`.
2. **calibrated** -- the :class:`~parallax.capture.types.Capture` gives the
   intrinsics of both views and the rotation of the right camera:
   :func:`cv2.stereoRectify` with that rotation and a baseline along x.
3. **uncalibrated** -- from feature matches alone (quasi-Euclidean, after
   Fusiello & Irsara 2011): each view is rotated about its own optical centre,
   ``H = K R K^-1`` with a shared pinhole ``K``; the rotations (and the focal
   length of ``K``) are fitted to make the matched rows equal. Because every
   homography is a camera rotation there is no projective shear to correct and
   the homographies cannot run wild; the left view is kept as close to
   unchanged as possible (its rotation is penalised, and a translation common
   to both views keeps its centre in place), the image size is kept,
   and a horizontal shift of the right view keeps the median disparity
   of the matches what it was. Finally a rectified pair is cropped to the
   columns both cameras see, moving the far plane to zero disparity (the
   offset is kept in ``Rectification.disparity_offset_px``); converged rigs
   (Nintendo 3DS: negative disparities) then have mostly positive ones.

Every candidate is checked: its vertical error after rectification must be
lower than before, else a pure vertical shift of the right view is tried, else
the identity is kept.

Conventions (``docs/conventions.md``): homographies map original pixels to
rectified pixels, ``x_rect ~ H @ [x, y, 1]``; their inverses map results back.
Pixel ``(0, 0)`` is the centre of the top-left pixel. Pixels of a rectified
view with no source pixel are black (0, 0, 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from parallax.capture.types import Capture, check_image
from parallax.errors import NotStereoError, ParameterError
from parallax.stereo.features import FeatureMatches, match_features
from parallax.stereo.types import Rectification

__all__ = ["RECTIFIED_THRESHOLD_PX", "RectifiedPair", "measure_rectification", "rectify", "warp_view"]

#: A pair whose median absolute vertical feature offset is below this (pixels) counts as rectified.
RECTIFIED_THRESHOLD_PX = 0.75
_MIN_MATCHES = 12
_Force = Literal["none", "calibrated", "uncalibrated"]


@dataclass(frozen=True, kw_only=True)
class RectifiedPair:
    """A rectified stereo pair and how it was made.

    Parameters
    ----------
    left, right : numpy.ndarray
        Rectified views, ``HxWx3`` uint8 RGB, the original height; the original
        width unless cropped to the common view (see :func:`rectify`); pixels
        with no source pixel are black.
    rectification : Rectification
        Homographies from original to rectified pixels, and the vertical error
        (pixels) before and after.
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
    matches = match_features(left, right)
    if len(matches) < 8:
        return matches
    _, mask = cv2.findFundamentalMat(
        matches.left_xy, matches.right_xy, cv2.FM_RANSAC, ransacReprojThreshold=1.0, confidence=0.999, maxIters=5000
    )
    if mask is None:
        return matches.subset(np.zeros(len(matches), dtype=bool))
    return matches.subset(mask.ravel().astype(bool))


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
    """
    matches = _inlier_matches(check_image("left", left), check_image("right", right))
    return _vertical_error(matches), len(matches)


def _apply(h: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Apply a 3x3 homography to ``Nx2`` points."""
    if len(xy) == 0:
        return xy.reshape(0, 2)
    return cv2.perspectiveTransform(xy.reshape(-1, 1, 2).astype(np.float64), h).reshape(-1, 2)


def _transformed(matches: FeatureMatches, h_left: np.ndarray, h_right: np.ndarray) -> FeatureMatches:
    return FeatureMatches(left_xy=_apply(h_left, matches.left_xy), right_xy=_apply(h_right, matches.right_xy))


def warp_view(image: np.ndarray, h: np.ndarray, width: int, height: int) -> np.ndarray:
    """Warp ``image`` by homography ``h`` (original -> output pixels) into ``width`` x ``height``.

    Bilinear; output pixels with no source are black.
    """
    if np.allclose(h, np.eye(3)) and image.shape[:2] == (height, width):
        return image
    return cv2.warpPerspective(
        np.ascontiguousarray(image),
        h,
        (int(width), int(height)),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )


def _rotation(rx: float, ry: float, rz: float) -> np.ndarray:
    return cv2.Rodrigues(np.array([rx, ry, rz], dtype=np.float64))[0]


def _pinhole(focal: float, width: int, height: int) -> np.ndarray:
    return np.array([[focal, 0.0, (width - 1) / 2.0], [0.0, focal, (height - 1) / 2.0], [0.0, 0.0, 1.0]])


def _keep_disparity(matches: FeatureMatches, h_left: np.ndarray, h_right: np.ndarray) -> np.ndarray:
    """Shift ``h_right`` horizontally so the matches' median disparity is unchanged."""
    after = _transformed(matches, h_left, h_right)
    shift = float(np.median(after.disparity_px) - np.median(matches.disparity_px))
    return np.array([[1.0, 0.0, shift], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) @ h_right


def _recentre(h_left: np.ndarray, h_right: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Translate both views alike so the left view's centre stays put (less black border).

    A common translation changes neither the vertical alignment nor the disparity.
    """
    centre = np.array([[(width - 1) / 2.0, (height - 1) / 2.0]])
    tx, ty = (centre - _apply(h_left, centre))[0]
    t = np.array([[1.0, 0.0, tx], [0.0, 1.0, ty], [0.0, 0.0, 1.0]])
    return t @ h_left, t @ h_right


def _uncalibrated(
    matches: FeatureMatches, width: int, height: int, focal_px: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Quasi-Euclidean rectification homographies fitted to ``matches``."""
    from scipy.optimize import least_squares

    # focal length of the shared pinhole: the file's, else a ~45 degree field of view;
    # it is refined (log-scale parameter p[0]) with a weak pull towards f0
    f0 = float(focal_px) if focal_px else float(max(width, height)) * 1.2
    pl = matches.left_xy
    pr = matches.right_xy
    root_n = np.sqrt(len(pl))
    # penalty on the left view's rotation: 0.05 px per px of motion at distance f0, per match,
    # so the left view moves only when that clearly lowers the vertical error
    reg_weight = 0.05

    def homographies(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = _pinhole(f0 * np.exp(p[0]), width, height)
        k_inv = np.linalg.inv(k)
        h_l = k @ _rotation(0.0, p[1], p[2]) @ k_inv
        h_r = k @ _rotation(p[3], p[4], p[5]) @ k_inv
        return h_l, h_r

    def residuals(p: np.ndarray) -> np.ndarray:
        h_l, h_r = homographies(p)
        yl = _apply(h_l, pl)[:, 1]
        yr = _apply(h_r, pr)[:, 1]
        reg = reg_weight * f0 * np.array([p[1], p[2]]) * root_n
        focal_pull = 0.005 * max(width, height) * p[0] * root_n
        return np.concatenate([yl - yr, reg, [focal_pull]])

    bound = np.radians(20.0)
    lower = np.array([-1.0, -bound, -bound, -bound, -bound, -bound])
    upper = -lower
    fit = least_squares(residuals, np.zeros(6), bounds=(lower, upper), loss="soft_l1", f_scale=1.0, x_scale="jac")
    return homographies(fit.x)


def _calibrated(capture: Capture, transpose: bool) -> tuple[np.ndarray, np.ndarray] | None:
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
    return h_l / h_l[2, 2], h_r / h_r[2, 2]


#: Percentile of the matches' disparities taken as the far plane when cropping to the common view.
_FAR_PERCENTILE = 2.0


def _crop_to_common_view(
    rectified: FeatureMatches, h_left: np.ndarray, h_right: np.ndarray, width: int
) -> tuple[np.ndarray, np.ndarray, int, float]:
    """Crop a freshly rectified pair to the columns both cameras see.

    A converged rig (3DS) or a wide parallel rig leaves a band of the left view
    that the right camera never saw (right edge for negative far disparities,
    left edge for positive ones); no disparity can explain it. The far plane's
    disparity ``s`` (a low percentile of the matches) is moved to zero by
    cropping ``|s|`` columns: the left view's right band when ``s < 0``, its left
    band when ``s > 0`` (and the matching band of the right view). Disparity in
    the cropped pair is then ``d - s``; the returned offset ``s`` restores it.

    Returns ``(H_left, H_right, width, disparity_offset_px)``.
    """
    if len(rectified) < _MIN_MATCHES:
        return h_left, h_right, width, 0.0
    s = float(np.round(np.percentile(rectified.disparity_px, _FAR_PERCENTILE)))
    if abs(s) < 1.0 or abs(s) > 0.5 * width:
        return h_left, h_right, width, 0.0

    def shift(tx: float) -> np.ndarray:
        return np.array([[1.0, 0.0, tx], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])

    if s > 0:  # the left view's left band is unseen by the right camera
        h_left = shift(-s) @ h_left
    else:  # the left view's right band is unseen: shift the right view left
        h_right = shift(s) @ h_right
    return h_left, h_right, width - int(abs(s)), s


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


def rectify(
    capture_or_left: Capture | np.ndarray,
    right: np.ndarray | None = None,
    *,
    force: _Force | None = None,
    matches: FeatureMatches | None = None,
) -> RectifiedPair:
    """Rectify a stereo pair so that corresponding points share a row.

    Parameters
    ----------
    capture_or_left : Capture or numpy.ndarray
        A stereo :class:`~parallax.capture.types.Capture`, or the left view
        (``HxWx3`` uint8 RGB) with ``right`` given.
    right : numpy.ndarray, optional
        The right view when ``capture_or_left`` is an image.
    force : {"none", "calibrated", "uncalibrated"}, optional
        Skip the decision and use this method (``"calibrated"`` needs a Capture
        with both intrinsics and ``right_rotation``). The after-error check is
        still made; a forced method that makes things worse is kept anyway.
    matches : FeatureMatches, optional
        Outlier-free feature matches to decide and fit with, in pixels of these
        views (e.g. matches pooled over many frames of a clip by
        :mod:`parallax.stereo.clip_rectify`); default: SIFT matches of the two
        views filtered by a RANSAC fundamental matrix.

    Returns
    -------
    RectifiedPair
        Rectified views with the homographies and the median absolute vertical
        error of matched features before and after, in pixels. A pair that is
        already rectified keeps its size. A pair that needed rectification is
        also cropped to the columns both cameras see (see
        :func:`_crop_to_common_view`): it is narrower by ``|disparity_offset_px|``
        and its disparities are ``d - disparity_offset_px``, i.e. the far plane
        sits near zero (``x_right = x_left - d`` as always).

    Raises
    ------
    NotStereoError
        If the capture has no right view.
    ParameterError
        If the views differ in size, or ``force`` is unknown or impossible.
    """
    if force not in (None, "none", "calibrated", "uncalibrated"):
        raise ParameterError(f"rectify: force={force!r} is not one of none, calibrated, uncalibrated")
    left, right_view, capture = _split(capture_or_left, right)
    height, width = left.shape[:2]
    if matches is None:
        matches = _inlier_matches(left, right_view)
    before = _vertical_error(matches)
    eye = np.eye(3)

    def result(method: _Force, h_l: np.ndarray, h_r: np.ndarray, after: float | None) -> RectifiedPair:
        out_w, offset = width, 0.0
        if method != "none":
            h_l, h_r, out_w, offset = _crop_to_common_view(_transformed(matches, h_l, h_r), h_l, h_r, width)
        rect = Rectification(
            method=method,
            H_left=h_l,
            H_right=h_r,
            width=out_w,
            height=height,
            vertical_error_before_px=before,
            vertical_error_after_px=after,
            matches=len(matches),
            disparity_offset_px=offset,
        )
        return RectifiedPair(
            left=warp_view(left, h_l, out_w, height),
            right=warp_view(right_view, h_r, out_w, height),
            rectification=rect,
        )

    if force == "none" or (force is None and (before is None or before < RECTIFIED_THRESHOLD_PX)):
        return result("none", eye, eye, before)

    candidates: list[tuple[_Force, np.ndarray, np.ndarray]] = []
    if force in (None, "calibrated") and capture is not None:
        for transpose in (False, True):
            hs = _calibrated(capture, transpose)
            if hs is not None:
                candidates.append(("calibrated", *hs))
        if force == "calibrated" and not candidates:
            raise ParameterError(
                f"rectify: force='calibrated' needs both cameras' intrinsics and right_rotation, "
                f"which {capture.source} does not give; use force='uncalibrated'"
            )
    elif force == "calibrated":
        raise ParameterError("rectify: force='calibrated' needs a Capture with camera facts, not two images")
    if force in (None, "uncalibrated") and len(matches) >= _MIN_MATCHES:
        focal = None
        if capture is not None and capture.left_camera is not None:
            focal = capture.left_camera.focal_px * width / capture.left_camera.width
        h_l, h_r = _recentre(*_uncalibrated(matches, width, height, focal), width, height)
        candidates.append(("uncalibrated", h_l, _keep_disparity(matches, h_l, h_r)))
    if not candidates:
        raise ParameterError(
            f"rectify: only {len(matches)} feature matches; at least {_MIN_MATCHES} are needed for "
            "uncalibrated rectification"
        )

    # the best candidate, compared with a pure vertical shift of the right view
    shift = float(np.median(matches.vertical_px))
    h_shift = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, -shift], [0.0, 0.0, 1.0]])
    tried: list[tuple[float | None, _Force, np.ndarray, np.ndarray]] = [
        (_vertical_error(_transformed(matches, h_l, h_r)), m, h_l, h_r) for m, h_l, h_r in candidates
    ]
    tried.append((_vertical_error(_transformed(matches, eye, h_shift)), "uncalibrated", eye, h_shift))
    scored = [(err, m, h_l, h_r) for err, m, h_l, h_r in tried if err is not None]
    if force is not None:
        scored = [s for s in scored if s[1] == force] or scored
    best = min(scored, key=lambda s: s[0])
    calibrated = [s for s in scored if s[1] == "calibrated" and s[0] < RECTIFIED_THRESHOLD_PX]
    if calibrated:  # calibrated keeps metric intrinsics exact; take it when it is good enough
        best = min(calibrated, key=lambda s: s[0])
    if force is None and before is not None and best[0] >= before:  # (before is None returned above)
        return result("none", eye, eye, before)
    return result(best[1], best[2], best[3], best[0])
