"""Sparse feature matches between two views (SIFT + ratio test + mutual check).

Used to measure rectification (vertical offsets), to rectify uncalibrated pairs
and to find the disparity search range. Deterministic for given inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from parallax.capture.types import check_image

__all__ = ["FeatureMatches", "match_features"]


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

    lxy, ldesc, _ = detect(left)
    rxy, rdesc, _ = detect(right)
    empty = FeatureMatches(left_xy=np.zeros((0, 2)), right_xy=np.zeros((0, 2)))
    if ldesc is None or rdesc is None or len(lxy) < 2 or len(rxy) < 2:
        return empty
    matcher = cv2.BFMatcher(cv2.NORM_L2)
    fwd = matcher.knnMatch(ldesc, rdesc, k=2)
    bwd = matcher.match(rdesc, ldesc)
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
