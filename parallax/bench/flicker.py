"""Video disparity metrics: flicker between frames, photometric error within a frame.

These measure the issue-11 targets on real clips, where no ground truth exists.

* **Flicker** of a disparity sequence: the mean absolute change of disparity
  between consecutive frames after compensating motion, on pixels whose colour
  did not change. Motion is OpenCV's DIS optical flow (preset medium) from the
  current left view to the previous one, so pixel ``x`` of frame ``t`` was at
  ``x + flow(x)`` in frame ``t - 1``. A pixel is *static* when the previous left
  view, warped by that flow (bilinear), differs from the current one by less
  than ``colour_threshold`` (3 levels) in every RGB channel, and the flow
  stays inside the previous view. The previous disparity is warped with the
  same flow (nearest neighbour, so values are never blended across an edge).
  Flicker of frame ``t`` = mean ``|d_t(x) - d_{t-1}(x + flow(x))|`` over the
  static pixels where every compared method has a value in both frames (one
  pixel set shared by all methods, see :func:`flicker_comparison`).
* **Photometric error** of a disparity map: mean over pixels and channels of
  ``|I_left(x, y) - I_right(x - d, y)|`` (grey levels 0..255, the right view
  sampled bilinearly). *Moving* pixels are the non-static ones of the flicker
  definition (their colour changed after motion compensation: moving objects,
  disocclusions).
* **Global-shift baseline**: the best photometric error any single constant
  disparity reaches on the same pixels; a disparity map that "explains the
  pair" beats it clearly.

Disparity follows ``docs/conventions.md``: pixels of the left view,
``x_right = x_left - d``, NaN (or +inf) = no value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from parallax.errors import ParameterError

__all__ = [
    "COLOUR_THRESHOLD",
    "FlickerReport",
    "dis_flow",
    "warp_by_flow",
    "static_mask",
    "photometric_error_map",
    "global_shift_error",
    "flicker_comparison",
]

#: A pixel is static when its motion-compensated colour changed by less than this in every channel (0..255).
COLOUR_THRESHOLD = 3.0


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)


def dis_flow(
    current: np.ndarray, previous: np.ndarray, *, preset: int = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
) -> np.ndarray:
    """Dense optical flow from ``current`` to ``previous`` (both ``HxWx3`` uint8 RGB), OpenCV DIS.

    Returns
    -------
    numpy.ndarray
        ``HxWx2`` float32 ``(dx, dy)`` in pixels: pixel ``x`` of ``current`` sits
        at ``x + flow(x)`` in ``previous``.
    """
    if current.shape != previous.shape:
        raise ParameterError(f"frames differ in size: {current.shape} vs {previous.shape}")
    dis = cv2.DISOpticalFlow.create(preset)
    h, w = current.shape[:2]
    return np.asarray(dis.calc(_grey(current), _grey(previous), np.zeros((h, w, 2), np.float32)))


def warp_by_flow(data: np.ndarray, flow: np.ndarray, *, nearest: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``data`` (a previous frame or map) at ``x + flow(x)``.

    Returns
    -------
    warped : numpy.ndarray
        Same dtype as ``data``, the current frame's geometry; float maps get NaN outside.
    inside : numpy.ndarray
        Boolean ``HxW``: where ``x + flow(x)`` lies inside ``data``.
    """
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx, my = gx + flow[..., 0], gy + flow[..., 1]
    inside = (mx >= -0.5) & (mx <= w - 0.5) & (my >= -0.5) & (my <= h - 0.5)
    interp = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    if np.issubdtype(data.dtype, np.floating):
        src = np.where(np.isfinite(data), data, np.nan).astype(np.float32)
        warped = cv2.remap(src, mx, my, interp, borderMode=cv2.BORDER_CONSTANT, borderValue=float("nan"))
    else:
        warped = cv2.remap(data, mx, my, interp, borderMode=cv2.BORDER_REPLICATE)
    return warped, inside


def static_mask(
    current: np.ndarray, previous: np.ndarray, flow: np.ndarray, *, colour_threshold: float = COLOUR_THRESHOLD
) -> np.ndarray:
    """Pixels whose colour did not change after motion compensation (see the module docstring)."""
    warped, inside = warp_by_flow(previous, flow)
    change = np.abs(current.astype(np.int16) - warped.astype(np.int16)).max(axis=2)
    return inside & (change < colour_threshold)


def _finite(d: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(d), d, np.nan).astype(np.float32)


def photometric_error_map(left: np.ndarray, right: np.ndarray, disparity: np.ndarray) -> np.ndarray:
    """Per-pixel ``mean_c |left(x, y) - right(x - d, y)|`` (0..255); NaN where ``d`` has no value or leaves the view."""
    h, w = disparity.shape
    d = _finite(disparity)
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx = gx - d
    warped = cv2.remap(right, np.nan_to_num(mx, nan=-1e4), gy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    err = np.abs(left.astype(np.float32) - warped.astype(np.float32)).mean(axis=2)
    err[~np.isfinite(d) | (mx < -0.5) | (mx > w - 0.5)] = np.nan
    return err


def global_shift_error(
    left: np.ndarray, right: np.ndarray, mask: np.ndarray, *, shifts: Sequence[int] | None = None
) -> tuple[float, int]:
    """Lowest mean photometric error over ``mask`` of any single integer disparity.

    Parameters
    ----------
    mask : numpy.ndarray
        Boolean ``HxW``: the pixels to score (pixels whose match leaves the right
        view are dropped for that shift, so every shift is scored on its own
        in-view pixels of ``mask``).
    shifts : sequence of int, optional
        Disparities to try; default ``-W/4 .. W/4``.

    Returns
    -------
    error, shift : float, int
    """
    h, w = mask.shape
    if shifts is None:
        shifts = range(-(w // 4), w // 4 + 1)
    lf = left.astype(np.float32)
    rf = right.astype(np.float32)
    best = (float("inf"), 0)
    for s in shifts:
        # left x pairs with right x - s
        if s >= 0:
            diff = np.abs(lf[:, s:] - rf[:, : w - s]).mean(axis=2)
            m = mask[:, s:]
        else:
            diff = np.abs(lf[:, : w + s] - rf[:, -s:]).mean(axis=2)
            m = mask[:, : w + s]
        if m.sum() < 0.5 * mask.sum():
            continue
        err = float(diff[m].mean())
        if err < best[0]:
            best = (err, int(s))
    return best


@dataclass(frozen=True, kw_only=True)
class FlickerReport:
    """Flicker and photometric error of several disparity sequences of one clip.

    Parameters
    ----------
    flicker_px : Mapping
        Method -> mean over frame pairs of the mean absolute motion-compensated
        disparity change on the shared static pixels (pixels).
    photometric : Mapping
        Method -> mean photometric error (grey levels) over all frames, on the pixels
        where every method has a value.
    photometric_moving : Mapping
        Method -> the same on moving (non-static) pixels, frames 1.. only.
    static_share : float
        Mean share of pixels in the shared static set.
    frames : int
        Frames compared.
    """

    flicker_px: Mapping[str, float]
    photometric: Mapping[str, float]
    photometric_moving: Mapping[str, float]
    static_share: float
    frames: int

    def ratios(self, method: str, baseline: str) -> dict[str, float]:
        """``method`` over ``baseline`` for flicker, photometric error overall and on moving pixels."""
        return {
            "flicker": self.flicker_px[method] / max(self.flicker_px[baseline], 1e-12),
            "photometric": self.photometric[method] / max(self.photometric[baseline], 1e-12),
            "photometric_moving": self.photometric_moving[method] / max(self.photometric_moving[baseline], 1e-12),
        }


def flicker_comparison(
    lefts: Sequence[np.ndarray],
    rights: Sequence[np.ndarray],
    disparities: Mapping[str, Sequence[np.ndarray]],
    *,
    colour_threshold: float = COLOUR_THRESHOLD,
) -> FlickerReport:
    """Flicker and photometric error of each method's disparity sequence (see the module docstring).

    Parameters
    ----------
    lefts, rights : sequence of numpy.ndarray
        The rectified views of consecutive frames, ``HxWx3`` uint8 RGB.
    disparities : Mapping
        Method name -> one ``HxW`` disparity map per frame (NaN/inf = no value).

    Raises
    ------
    ParameterError
        Fewer than two frames, or sequences of different lengths or sizes.
    """
    n = len(lefts)
    if n < 2 or len(rights) != n or any(len(seq) != n for seq in disparities.values()) or not disparities:
        raise ParameterError("flicker_comparison needs >= 2 frames and one disparity map per frame for every method")
    flicker: dict[str, list[float]] = {m: [] for m in disparities}
    photo_sum = {m: 0.0 for m in disparities}
    photo_n = 0
    moving_sum = {m: 0.0 for m in disparities}
    moving_n = 0
    static_shares = []
    for t in range(n):
        errs = {m: photometric_error_map(lefts[t], rights[t], seq[t]) for m, seq in disparities.items()}
        common = np.logical_and.reduce([np.isfinite(e) for e in errs.values()])
        for m, e in errs.items():
            photo_sum[m] += float(e[common].sum())
        photo_n += int(common.sum())
        if t == 0:
            continue
        flow = dis_flow(lefts[t], lefts[t - 1])
        static = static_mask(lefts[t], lefts[t - 1], flow, colour_threshold=colour_threshold)
        changes = {}
        shared = static.copy()
        for m, seq in disparities.items():
            prev, _ = warp_by_flow(_finite(seq[t - 1]), flow, nearest=True)
            change = np.abs(_finite(seq[t]) - prev)
            changes[m] = change
            shared &= np.isfinite(change)
        static_shares.append(float(shared.mean()))
        for m, change in changes.items():
            flicker[m].append(float(change[shared].mean()) if shared.any() else 0.0)
        moving = common & ~static
        for m, e in errs.items():
            moving_sum[m] += float(e[moving].sum())
        moving_n += int(moving.sum())
    return FlickerReport(
        flicker_px={m: float(np.mean(v)) for m, v in flicker.items()},
        photometric={m: photo_sum[m] / max(photo_n, 1) for m in disparities},
        photometric_moving={m: moving_sum[m] / max(moving_n, 1) for m in disparities},
        static_share=float(np.mean(static_shares)),
        frames=n,
    )
