"""Sparse feature matches between two views (SIFT + ratio test + mutual check).

Used to measure rectification (vertical offsets), to rectify uncalibrated pairs
and to find the disparity search range. :func:`refine_matches` re-measures
each match at full resolution with sub-pixel normalised cross-correlation,
for the precision that rectification of large views needs (SIFT runs on a
downscaled copy). Deterministic for given inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numba as nb
import numpy as np

from parallax.capture.types import check_image

__all__ = ["FeatureMatches", "match_features", "refine_matches", "grey"]


@dataclass(frozen=True, kw_only=True)
class FeatureMatches:
    """Matched keypoints, in full-resolution pixel coordinates of each view.

    Parameters
    ----------
    left_xy, right_xy : numpy.ndarray
        ``Nx2`` float64 arrays of ``(x, y)`` pixel positions (OpenCV convention).
    """

    left_xy: np.ndarray
    right_xy: np.ndarray

    def __len__(self) -> int:
        return int(self.left_xy.shape[0])

    @property
    def disparity_px(self) -> np.ndarray:
        """Horizontal disparity of each match, ``x_left - x_right`` (pixels)."""
        return self.left_xy[:, 0] - self.right_xy[:, 0]

    @property
    def vertical_px(self) -> np.ndarray:
        """Vertical offset of each match, ``y_right - y_left`` (pixels)."""
        return self.right_xy[:, 1] - self.left_xy[:, 1]

    def subset(self, mask: np.ndarray) -> FeatureMatches:
        """The matches where ``mask`` is true."""
        return FeatureMatches(left_xy=self.left_xy[mask], right_xy=self.right_xy[mask])


def match_features(
    left: np.ndarray,
    right: np.ndarray,
    *,
    max_side_px: int = 1280,
    max_features: int = 4000,
    ratio: float = 0.75,
) -> FeatureMatches:
    """Match SIFT features between two RGB views.

    Parameters
    ----------
    left, right : numpy.ndarray
        ``HxWx3`` uint8 RGB views (sizes may differ).
    max_side_px : int
        Images are downscaled so their longer side is at most this many pixels
        before detection; returned coordinates are in full-resolution pixels.
    max_features : int
        Keypoints kept per view (strongest first).
    ratio : float
        Lowe's ratio-test threshold.

    Returns
    -------
    FeatureMatches
        Mutually-best matches passing the ratio test (may be empty).
    """
    left = check_image("left", left)
    right = check_image("right", right)

    def detect(img: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, float]:
        h, w = img.shape[:2]
        scale = min(1.0, max_side_px / max(h, w))
        gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        if scale < 1.0:
            gray = cv2.resize(gray, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        sift = cv2.SIFT.create(nfeatures=max_features)
        kps, desc = sift.detectAndCompute(gray, None)
        xy = np.array([kp.pt for kp in kps], dtype=np.float64).reshape(-1, 2)
        # map from downscaled pixel centres back to full-resolution pixel centres
        xy = (xy + 0.5) / scale - 0.5
        return xy, desc, scale

    from parallax.stereo.matchers.threads import run_jobs

    # OpenCV releases the GIL: the two views are detected, and matched both ways, at the same time
    (lxy, ldesc, _), (rxy, rdesc, _) = run_jobs([lambda: detect(left), lambda: detect(right)])
    empty = FeatureMatches(left_xy=np.zeros((0, 2)), right_xy=np.zeros((0, 2)))
    if ldesc is None or rdesc is None or len(lxy) < 2 or len(rxy) < 2:
        return empty
    ld, rd = ldesc, rdesc  # narrowed for the closures
    jobs: list[Callable[[], Sequence[Any]]] = [
        lambda: cv2.BFMatcher(cv2.NORM_L2).knnMatch(ld, rd, k=2),
        lambda: cv2.BFMatcher(cv2.NORM_L2).match(rd, ld),
    ]
    fwd, bwd = run_jobs(jobs)
    back = {m.queryIdx: m.trainIdx for m in bwd}
    li, ri = [], []
    for pair in fwd:
        if len(pair) < 2:
            continue
        m, n = pair
        if m.distance < ratio * n.distance and back.get(m.trainIdx) == m.queryIdx:
            li.append(m.queryIdx)
            ri.append(m.trainIdx)
    if not li:
        return empty
    return FeatureMatches(left_xy=lxy[li], right_xy=rxy[ri])


def grey(image: np.ndarray) -> np.ndarray:
    """``HxW`` uint8 grey version of an ``HxWx3`` uint8 RGB image."""
    return cv2.cvtColor(check_image("image", image), cv2.COLOR_RGB2GRAY)


@nb.njit(cache=True, nogil=True)
def _normalise(patch):  # pragma: no cover - compiled
    """``(patch - mean) / (std + 1e-6)``, float64."""
    n = patch.size
    mean = patch.sum() / n
    var = ((patch - mean) ** 2).sum() / n
    return (patch - mean) / (np.sqrt(var) + 1e-6)


@nb.njit(cache=True, nogil=True)
def _sample(image, x, y, hw):  # pragma: no cover - compiled
    """The ``(2 hw + 1)^2`` patch centred at sub-pixel ``(x, y)``, bilinear, edges replicated (``cv2.getRectSubPix``)."""
    h, w = image.shape
    size = 2 * hw + 1
    out = np.empty((size, size), dtype=np.float64)
    x0 = x - hw
    y0 = y - hw
    fx = np.floor(x0)
    fy = np.floor(y0)
    ax = x0 - fx
    ay = y0 - fy
    ix = int(fx)
    iy = int(fy)
    for i in range(size):
        r0 = min(max(iy + i, 0), h - 1)
        r1 = min(max(iy + i + 1, 0), h - 1)
        for j in range(size):
            c0 = min(max(ix + j, 0), w - 1)
            c1 = min(max(ix + j + 1, 0), w - 1)
            top = image[r0, c0] * (1.0 - ax) + image[r0, c1] * ax
            bottom = image[r1, c0] * (1.0 - ax) + image[r1, c1] * ax
            out[i, j] = top * (1.0 - ay) + bottom * ay
    return out


@nb.njit(cache=True, nogil=True)
def _lucas_kanade(template, image, x, y, iterations=8):  # pragma: no cover - compiled
    """Translation-only Lucas-Kanade (inverse compositional): refine where ``template``'s centre sits in ``image``.

    Gain and offset are normalised out of both patches; gradients (3x3 Sobel / 8)
    and the 2x2 system come from the template once. Stops when the update is
    below 0.005 px. Returns the refined position (unchanged if the template has
    no texture).
    """
    hw = template.shape[0] // 2
    tmpl = _normalise(template.astype(np.float64))
    size = tmpl.shape[0]
    m = size - 2
    gx = np.empty((m, m))
    gy = np.empty((m, m))
    for i in range(1, size - 1):
        for j in range(1, size - 1):
            gx[i - 1, j - 1] = (
                (tmpl[i - 1, j + 1] + 2.0 * tmpl[i, j + 1] + tmpl[i + 1, j + 1])
                - (tmpl[i - 1, j - 1] + 2.0 * tmpl[i, j - 1] + tmpl[i + 1, j - 1])
            ) / 8.0
            gy[i - 1, j - 1] = (
                (tmpl[i + 1, j - 1] + 2.0 * tmpl[i + 1, j] + tmpl[i + 1, j + 1])
                - (tmpl[i - 1, j - 1] + 2.0 * tmpl[i - 1, j] + tmpl[i - 1, j + 1])
            ) / 8.0
    sxx = (gx * gx).sum()
    sxy = (gx * gy).sum()
    syy = (gy * gy).sum()
    det = sxx * syy - sxy * sxy
    if det < 1e-6:
        return x, y
    core = tmpl[1:-1, 1:-1]
    for _ in range(iterations):
        patch = _normalise(_sample(image, x, y, hw))
        err = patch[1:-1, 1:-1] - core
        bx = (gx * err).sum()
        by = (gy * err).sum()
        dx = (syy * bx - sxy * by) / det
        dy = (sxx * by - sxy * bx) / det
        x -= dx
        y -= dy
        if abs(dx) < 0.005 and abs(dy) < 0.005:
            break
    return x, y


def refine_matches(
    left: np.ndarray,
    right: np.ndarray,
    matches: FeatureMatches,
    *,
    half_window_px: int | None = None,
    search_px: int | None = None,
    min_correlation: float = 0.8,
) -> FeatureMatches:
    """Re-measure matches at full resolution with sub-pixel normalised cross-correlation.

    Each left point is moved to its nearest pixel centre; a square patch around
    it is searched for in the right view within ``search_px`` of the matched
    position (``cv2.matchTemplate``, ``TM_CCOEFF_NORMED``) and the integer peak
    is refined to sub-pixel precision by translation-only Lucas-Kanade (gain
    and offset normalised; no parabola, which biases towards whole pixels).
    Matches whose peak correlation is below ``min_correlation``, whose peak lies
    on the search border, whose refinement wanders off by more than a pixel, or
    whose patch has (nearly) no texture are dropped.

    Parameters
    ----------
    left, right : numpy.ndarray
        ``HxWx3`` uint8 RGB views (sizes may differ), or ``HxW`` uint8 grey.
    matches : FeatureMatches
        Matches in full-resolution pixels (e.g. from :func:`match_features`).
    half_window_px : int, optional
        Patch half size; default grows with the view size (5 px up to 1280 px,
        then proportionally).
    search_px : int, optional
        Search radius around the matched position; default twice the detection
        downscale factor plus 2.
    min_correlation : float
        Smallest accepted peak correlation.

    Returns
    -------
    FeatureMatches
        The surviving matches, left points on pixel centres and right points
        sub-pixel, in full-resolution pixels.
    """
    gl = left if left.ndim == 2 else grey(left)
    gr = right if right.ndim == 2 else grey(right)
    factor = max(1.0, max(gl.shape) / 1280.0)
    hw = int(half_window_px if half_window_px is not None else max(5, round(3.0 * factor)))
    sr = int(search_px if search_px is not None else int(np.ceil(2.0 * factor)) + 2)
    h_l, w_l = gl.shape
    h_r, w_r = gr.shape
    out_l: list[tuple[float, float]] = []
    out_r: list[tuple[float, float]] = []
    for (xl, yl), (xr, yr) in zip(matches.left_xy, matches.right_xy, strict=True):
        il, jl = int(round(yl)), int(round(xl))
        # the right point moves with the left one onto the pixel grid
        cx, cy = int(round(xr + (jl - xl))), int(round(yr + (il - yl)))
        if not (hw <= il < h_l - hw and hw <= jl < w_l - hw):
            continue
        if not (hw + sr <= cy < h_r - hw - sr and hw + sr <= cx < w_r - hw - sr):
            continue
        patch = gl[il - hw : il + hw + 1, jl - hw : jl + hw + 1]
        if float(patch.std()) < 2.0:
            continue
        region = gr[cy - hw - sr : cy + hw + sr + 1, cx - hw - sr : cx + hw + sr + 1]
        score = cv2.matchTemplate(region, patch, cv2.TM_CCOEFF_NORMED)
        _, peak, _, (px, py) = cv2.minMaxLoc(score)
        if peak < min_correlation or not (0 < px < score.shape[1] - 1 and 0 < py < score.shape[0] - 1):
            continue
        x0, y0 = float(cx - sr + px), float(cy - sr + py)
        x1, y1 = _lucas_kanade(patch, gr, x0, y0)
        if abs(x1 - x0) > 1.0 or abs(y1 - y0) > 1.0:
            continue
        out_l.append((float(jl), float(il)))
        out_r.append((x1, y1))
    if not out_l:
        return FeatureMatches(left_xy=np.zeros((0, 2)), right_xy=np.zeros((0, 2)))
    return FeatureMatches(left_xy=np.asarray(out_l, dtype=np.float64), right_xy=np.asarray(out_r, dtype=np.float64))
