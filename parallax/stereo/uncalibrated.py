"""Uncalibrated rectification fitted to feature matches (quasi-Euclidean, with an optional lens model).

After Fusiello & Irsara (2011): every rectifying homography is a camera
rotation ``H = K R K^-1`` with a shared pinhole ``K``, so there is no
projective shear and the warps stay tame. Each view is rotated about its own
optical centre; the rotations (and the focal length of ``K``) are fitted to
make matched rows equal, and the left view is kept as close to unchanged as
possible (its rotation is penalised).

With ``distortion=True`` a one-parameter division model of radial lens
distortion shared by both cameras
(:class:`~parallax.stereo.distortion.LensDistortion`, centred, radii
normalised by the half diagonal) is fitted with the rotations: the matches are
undistorted before the homographies, and row differences are scaled back to
original pixels (so shrinking the image cannot fake a better fit). A weak
prior pulls the coefficient to 0 when the matches do not ask for it.

Focal length and lens model are poorly determined by matches of a nearly
parallel pair (a classic degeneracy), which is why the caller chooses between
models by their row error on held-out matches, not by the fit's own cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from parallax.stereo.distortion import LensDistortion
from parallax.stereo.features import FeatureMatches

__all__ = ["Model", "fit_rotation", "apply_model", "row_errors", "K1_BOUNDS"]

#: Bounds of the division coefficient when estimated (radii normalised by the half diagonal).
K1_BOUNDS = (-0.6, 0.0)


@dataclass(frozen=True)
class Model:
    """A fitted rectification: ``x_rect ~ H @ [undistort(p), 1]`` for each view."""

    name: str
    h_left: np.ndarray
    h_right: np.ndarray
    distortion: LensDistortion | None = None
    focal_px: float | None = None


def _apply_h(h: np.ndarray, xy: np.ndarray) -> np.ndarray:
    if len(xy) == 0:
        return xy.reshape(0, 2)
    return cv2.perspectiveTransform(xy.reshape(-1, 1, 2).astype(np.float64), h).reshape(-1, 2)


def apply_model(model: Model, matches: FeatureMatches) -> FeatureMatches:
    """The matches in rectified pixels of ``model``."""
    pl, pr = matches.left_xy, matches.right_xy
    if model.distortion is not None:
        pl, pr = model.distortion.undistort_points(pl), model.distortion.undistort_points(pr)
    return FeatureMatches(left_xy=_apply_h(model.h_left, pl), right_xy=_apply_h(model.h_right, pr))


def row_errors(model: Model, matches: FeatureMatches) -> np.ndarray:
    """``|y_right - y_left|`` of the matches after rectification by ``model`` (rectified pixels)."""
    if len(matches) == 0:
        return np.zeros(0)
    return np.abs(apply_model(model, matches).vertical_px)


def _rotation(rx: float, ry: float, rz: float) -> np.ndarray:
    return cv2.Rodrigues(np.array([rx, ry, rz], dtype=np.float64))[0]


def _pinhole(focal: float, width: int, height: int) -> np.ndarray:
    return np.array([[focal, 0.0, (width - 1) / 2.0], [0.0, focal, (height - 1) / 2.0], [0.0, 0.0, 1.0]])


def fit_rotation(
    matches: FeatureMatches, width: int, height: int, focal_px: float | None, *, distortion: bool = False
) -> Model:
    """Quasi-Euclidean rectification homographies (and a shared division lens model), see the module docstring.

    Parameters
    ----------
    matches : FeatureMatches
        Matches in original pixels.
    width, height : int
        Size of both views.
    focal_px : float or None
        Focal length of the views (pixels) when known; else about 45 degrees
        of horizontal field of view. Refined with a weak pull to it.
    distortion : bool
        Fit a shared division coefficient too.
    """
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

    def lens(p: np.ndarray) -> LensDistortion | None:
        return LensDistortion.for_image(float(p[6]), width, height) if distortion else None

    def homographies(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = _pinhole(f0 * np.exp(p[0]), width, height)
        k_inv = np.linalg.inv(k)
        h_l = k @ _rotation(0.0, p[1], p[2]) @ k_inv
        h_r = k @ _rotation(p[3], p[4], p[5]) @ k_inv
        return h_l, h_r

    def residuals(p: np.ndarray) -> np.ndarray:
        h_l, h_r = homographies(p)
        model = lens(p)
        ul, ur, scale = pl, pr, 1.0
        if model is not None:
            ul, ur = model.undistort_points(pl), model.undistort_points(pr)
            scale = 0.5 * (model.scale_factor(pl) + model.scale_factor(pr))
        yl = _apply_h(h_l, ul)[:, 1]
        yr = _apply_h(h_r, ur)[:, 1]
        reg = reg_weight * f0 * np.array([p[1], p[2]]) * root_n
        focal_pull = 0.005 * max(width, height) * p[0] * root_n
        prior = [0.5 * root_n * p[6]] if distortion else []
        return np.concatenate([(yl - yr) * scale, reg, [focal_pull], prior])

    bound = np.radians(20.0)
    lower = [-1.0, -bound, -bound, -bound, -bound, -bound]
    upper = [1.0, bound, bound, bound, bound, bound]
    if distortion:
        lower.append(K1_BOUNDS[0])
        upper.append(K1_BOUNDS[1])
    p0 = np.zeros(len(lower))
    if distortion:  # start inside the bounds, a little barrel
        p0[6] = 0.5 * (K1_BOUNDS[0] + K1_BOUNDS[1]) if K1_BOUNDS[1] <= 0.0 else 0.0
    fit = least_squares(
        residuals, p0, bounds=(np.array(lower), np.array(upper)), loss="soft_l1", f_scale=1.0, x_scale="jac"
    )
    h_l, h_r = homographies(fit.x)
    return Model(
        name="rotation+division" if distortion else "rotation",
        h_left=h_l,
        h_right=h_r,
        distortion=lens(fit.x),
        focal_px=f0 * float(np.exp(fit.x[0])),
    )
