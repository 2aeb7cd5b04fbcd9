"""Cheap sparse correspondences between two views: corners tracked by pyramidal Lucas-Kanade.

:func:`track_points` finds well-spread corners in the first view (Shi-Tomasi,
:func:`cv2.goodFeaturesToTrack`, on a half-size copy unless the view is small),
tracks them into the second view with pyramidal Lucas-Kanade
(:func:`cv2.calcOpticalFlowPyrLK`, to 0.03 px or 10 iterations) and back again, and
keeps the tracks that return within ``max_return_px`` of where they started
(the forward-backward check). A few milliseconds per megapixel, against a few
hundred for SIFT detection and matching, so it answers the common question
first -- *is this pair already rectified, and which view is the left eye?* --
and callers fall back to SIFT when the tracks cannot tell (too few, too
little of the image covered, or displacements beyond the pyramid's reach,
about ``2 ** levels * window / 2`` pixels of the working copy).

Positions are sub-pixel, in full-resolution pixel coordinates of each view
(OpenCV convention: ``(0, 0)`` is the centre of the top-left pixel).
Deterministic for given inputs. The last result is kept, keyed by the views'
working copies' content (SHA-256, under a millisecond) and the settings, so the
eye-order check and the rectification check of one pair track it once.
"""

from __future__ import annotations

import hashlib
import threading

import cv2
import numpy as np

from parallax.errors import ParameterError

__all__ = ["forget_tracks", "track_points", "tracks_cover"]

_MEMO_LOCK = threading.Lock()
_MEMO: dict[tuple[object, ...], tuple[np.ndarray, np.ndarray]] = {}


#: Working copies whose shorter side is at least twice this (pixels) find their corners at half size.
_MIN_CORNER_SIDE_PX = 128


def forget_tracks() -> None:
    """Drop the kept result (benchmarks time a fresh start with it)."""
    with _MEMO_LOCK:
        _MEMO.clear()


def _digest(image: np.ndarray) -> bytes:
    return hashlib.sha256(np.ascontiguousarray(image).tobytes()).digest()


def _grey(image: np.ndarray, scale: float) -> np.ndarray:
    g = image if image.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    if scale < 1.0:
        size = (max(8, round(g.shape[1] * scale)), max(8, round(g.shape[0] * scale)))
        g = cv2.resize(g, size, interpolation=cv2.INTER_AREA)
    return g


def track_points(
    first: np.ndarray,
    second: np.ndarray,
    *,
    max_side_px: int = 1024,
    max_corners: int = 300,
    window_px: int = 15,
    levels: int = 4,
    max_return_px: float = 0.3,
) -> tuple[np.ndarray, np.ndarray]:
    """Corners of ``first`` and where they are in ``second``, forward-backward checked.

    Parameters
    ----------
    first, second : numpy.ndarray
        ``HxWx3`` uint8 RGB (or ``HxW`` uint8 grey) views of one size.
    max_side_px : int
        Both views are tracked on copies downscaled so their longer side is at most this.
    max_corners : int
        Corners detected in ``first`` (strongest first, at least ``side / 64`` pixels apart).
    window_px : int
        Lucas-Kanade window side (pixels of the working copy).
    levels : int
        Pyramid levels above the working copy.
    max_return_px : float
        Largest distance (pixels of the working copy) between a corner and where its
        track, followed back from ``second``, lands.

    Returns
    -------
    tuple of numpy.ndarray
        Two ``Nx2`` float64 arrays of ``(x, y)``: the kept corners in ``first`` and
        their positions in ``second``, in full-resolution pixels (N may be 0).

    Raises
    ------
    ParameterError
        If the views differ in size or are not images.
    """
    a, b = np.asarray(first), np.asarray(second)
    if a.shape[:2] != b.shape[:2] or a.ndim not in (2, 3) or a.dtype != np.uint8 or b.dtype != np.uint8:
        raise ParameterError(
            f"track_points needs two uint8 views of one size, got {a.shape} {a.dtype} and {b.shape} {b.dtype}"
        )
    h, w = a.shape[:2]
    scale = min(1.0, max_side_px / max(h, w))
    ga, gb = _grey(a, scale), _grey(b, scale)
    key = ((h, w), max_corners, window_px, levels, max_return_px, _digest(ga), _digest(gb))
    with _MEMO_LOCK:
        known = _MEMO.get(key)
    if known is None:
        known = _track(ga, gb, (h, w), max_corners, window_px, levels, max_return_px)
        with _MEMO_LOCK:
            _MEMO.clear()  # the last pair only
            _MEMO[key] = known
    return known[0].copy(), known[1].copy()


def _track(
    ga: np.ndarray,
    gb: np.ndarray,
    size: tuple[int, int],
    max_corners: int,
    window_px: int,
    levels: int,
    max_return_px: float,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`track_points` on the grey working copies; positions in pixels of the ``size`` (h, w) views."""
    h, w = size
    empty = np.zeros((0, 2))
    spacing = max(3.0, max(ga.shape) / 64.0)
    if min(ga.shape) >= 2 * _MIN_CORNER_SIDE_PX:
        # corners of a half-size copy (a third of the work): strong corners stay strong
        half = cv2.resize(ga, (ga.shape[1] // 2, ga.shape[0] // 2), interpolation=cv2.INTER_AREA)
        corners = cv2.goodFeaturesToTrack(
            half, maxCorners=max_corners, qualityLevel=0.01, minDistance=spacing / 2, blockSize=5
        )
        corners = None if corners is None else (corners + 0.5) * 2.0 - 0.5  # half-size -> working-copy pixel centres
    else:
        corners = cv2.goodFeaturesToTrack(
            ga, maxCorners=max_corners, qualityLevel=0.01, minDistance=spacing, blockSize=7
        )
    if corners is None or len(corners) == 0:
        return empty, empty
    start = corners.reshape(-1, 1, 2).astype(np.float32)
    # 0.03 px is far below what any caller resolves (residuals are judged at 0.5 px and more)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 10, 0.03)
    win = (window_px, window_px)
    ahead, ok_ahead, _ = cv2.calcOpticalFlowPyrLK(ga, gb, start, None, winSize=win, maxLevel=levels, criteria=criteria)
    back, ok_back, _ = cv2.calcOpticalFlowPyrLK(gb, ga, ahead, None, winSize=win, maxLevel=levels, criteria=criteria)
    ret = np.linalg.norm((back - start).reshape(-1, 2), axis=1)
    pa, pb = start.reshape(-1, 2).astype(np.float64), ahead.reshape(-1, 2).astype(np.float64)
    inside = (pb[:, 0] >= 0) & (pb[:, 0] <= ga.shape[1] - 1) & (pb[:, 1] >= 0) & (pb[:, 1] <= ga.shape[0] - 1)
    keep = ok_ahead.ravel().astype(bool) & ok_back.ravel().astype(bool) & (ret <= max_return_px) & inside
    # working-copy pixel centres -> full-resolution pixel centres
    sx, sy = ga.shape[1] / w, ga.shape[0] / h
    to_full = np.array([1.0 / sx, 1.0 / sy])
    return (pa[keep] + 0.5) * to_full - 0.5, (pb[keep] + 0.5) * to_full - 0.5


def tracks_cover(points_xy: np.ndarray, width: int, height: int, *, cells: int = 4) -> float:
    """Share of a ``cells x cells`` grid over the ``width x height`` view that holds at least one point."""
    pts = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
    if len(pts) == 0:
        return 0.0
    cx = np.clip((pts[:, 0] / width * cells).astype(int), 0, cells - 1)
    cy = np.clip((pts[:, 1] / height * cells).astype(int), 0, cells - 1)
    return float(len(np.unique(cy * cells + cx))) / (cells * cells)
