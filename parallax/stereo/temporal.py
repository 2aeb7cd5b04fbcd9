"""Temporally stable disparity: fuse each frame's match with the motion-compensated past.

Matching every frame of a video on its own makes depth *flicker*: where the
pair is ambiguous (plain walls, dark panels, occlusion fills) the winner flips
between frames. :class:`TemporalFilter` carries the recent past along with the
camera and the scene, and fuses it with each new match, per pixel:

1. **Carry.** DIS optical flow from the current left view to the previous one
   carries the last ``history_frames`` matches and the previous output
   (nearest neighbour, never blended across an edge) to the current pixels.
   When the camera motion between the frames is known (stereo odometry),
   each carried value is moved along: the point is back-projected in the
   previous camera, moved, and projected again, so a static surface the
   camera approaches gets the disparity it has *now*.
2. **Gate.** The past counts only where the flow stays inside the previous
   view and the motion-compensated colour changed by less than
   ``colour_threshold`` in every channel. Moving objects the flow does not
   follow, disocclusions and flow failures fail this: there the history is
   dropped and the frame's own match is taken, so they stay sharp.
3. **Median.** Each pixel takes the median of its carried matches and the
   new one (a temporal median: a match that flips for one frame is
   outvoted, and no value can stick, since old matches leave the window).
4. **Smooth.** Where the median agrees with the carried previous output
   within ``agree_px``, the two are averaged recursively (the median weighs
   1, the history its carried weight, capped at ``max_weight``: an average
   over about that many frames); where it does not, the median is taken as
   it is (a real change is followed at once).

Confidence is the mean of the matcher's confidence and the share of the
carried matches that agree with the result within ``agree_px`` (the
matcher's own where there is no history). Everything runs at the working size
of the matcher.

Conventions (``docs/conventions.md``): disparity in pixels of the rectified
left view, ``x_right = x_left - d``; NaN = no value; motions are 4x4 rigid
transforms in OpenCV camera axes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numba as nb
import numpy as np

from parallax.capture.types import CameraIntrinsics, check_image
from parallax.errors import ParameterError
from parallax.stereo.matchers.threads import run_rows

__all__ = ["HELD_CONFIDENCE", "TemporalSettings", "TemporalUpdate", "TemporalFilter", "predict_disparity"]

#: Confidence of a pixel that holds its previous value because the new frame gave it none.
HELD_CONFIDENCE = 0.1

#: Carried values are interpolated bilinearly unless the bilinear and the nearest value differ by more (px).
_EDGE_PX = 0.5

_FLOW_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


@dataclass(frozen=True, kw_only=True)
class TemporalSettings:
    """Parameters of :class:`TemporalFilter` (pixels of the working size; colours in 0..255 levels).

    Parameters
    ----------
    history_frames : int
        Past matches carried along; the median is over these and the new match.
    colour_threshold : float
        Largest motion-compensated colour change (max over RGB) of a pixel whose past counts.
    agree_px : float
        The median and the carried previous output within this many pixels are averaged.
    max_weight : float
        Cap of the history's weight in that average (the median weighs 1): about the number of
        frames averaged.
    flow_preset : {"ultrafast", "fast", "medium"}
        DIS optical flow preset.
    """

    history_frames: int = 4
    colour_threshold: float = 12.0
    agree_px: float = 1.0
    max_weight: float = 4.0
    flow_preset: str = "fast"

    def __post_init__(self) -> None:
        if not (isinstance(self.history_frames, int) and 0 <= self.history_frames <= 16):
            raise ParameterError(f"history_frames must be an integer in 0..16, got {self.history_frames!r}")
        for name in ("colour_threshold", "agree_px"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ParameterError(f"{name} must be a finite number >= 0, got {value!r}")
        if not (isinstance(self.max_weight, (int, float)) and 1.0 <= self.max_weight <= 1000):
            raise ParameterError(f"max_weight must be in [1, 1000], got {self.max_weight!r}")
        if self.flow_preset not in _FLOW_PRESETS:
            raise ParameterError(f"flow_preset must be one of {sorted(_FLOW_PRESETS)}, got {self.flow_preset!r}")


@dataclass(frozen=True, kw_only=True)
class TemporalUpdate:
    """What :meth:`TemporalFilter.update` returns for one frame.

    Parameters
    ----------
    disparity_px : numpy.ndarray
        ``HxW`` float32 fused disparity (NaN = no value).
    confidence : numpy.ndarray
        ``HxW`` float32 in [0, 1]; 0 where there is no value.
    shares : Mapping
        Share of the pixels with a value that took the frame's own match
        (``"new"``: no usable past), the temporal median (``"median"``), and
        the median averaged with the previous output (``"blended"``).
    """

    disparity_px: np.ndarray
    confidence: np.ndarray
    shares: Mapping[str, float]


def predict_disparity(
    disparity: np.ndarray,
    source_xy: np.ndarray,
    motion: np.ndarray,
    camera: CameraIntrinsics,
    *,
    baseline: float,
    doffs_px: float,
) -> np.ndarray:
    """Disparity a static point has after the camera moved.

    Parameters
    ----------
    disparity : numpy.ndarray
        ``HxW`` previous disparity already carried to the current pixels, or a
        ``KxHxW`` stack of such maps (NaN = no value).
    source_xy : numpy.ndarray
        ``HxWx2`` pixel of the previous view each value came from.
    motion : numpy.ndarray
        4x4 rigid transform from previous camera coordinates to current camera coordinates.
    camera : CameraIntrinsics
        Intrinsics of the (rectified, working-size) left view.
    baseline : float
        Baseline in the unit of ``motion``'s translation (metres, or 1 when the motion is in baselines).
    doffs_px : float
        Disparity offset: ``Z = f * B / (d + doffs)``.

    Returns
    -------
    numpy.ndarray
        Float32 predicted disparity, the shape of ``disparity``; NaN where the
        point is at or beyond infinity before, or behind the camera after.

    Notes
    -----
    With ``Z = f B / (d + doffs)`` and the ray ``((x - cx) / f, (y - cy) / f_y, 1)``,
    the new depth is ``Z' = a Z + t_z`` where ``a`` is the third row of the
    rotation applied to the ray, so ``d' = f B (d + doffs) / (f B a + t_z (d + doffs)) - doffs``.
    """
    f, fy, cx, cy = camera.focal_px, camera.fy_px, camera.cx_px, camera.cy_px
    m = np.asarray(motion, dtype=np.float64)
    a = (m[2, 0] * (source_xy[..., 0] - cx) / f + m[2, 1] * (source_xy[..., 1] - cy) / fy + m[2, 2]).astype(np.float32)
    fb = np.float32(f * baseline)
    tz = np.float32(m[2, 3])
    with np.errstate(divide="ignore", invalid="ignore"):
        shifted = np.asarray(disparity, dtype=np.float32) + np.float32(doffs_px)
        denominator = fb * a + tz * shifted
        out = fb * shifted / denominator - np.float32(doffs_px)
        out[~((shifted > 1e-3) & (denominator > 1e-6))] = np.nan
    return out.astype(np.float32, copy=False)


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _fuse(
    stack, previous, prev_weight, agree_px, max_weight, fused, weight, agreement, kind, y0, y1
):  # pragma: no cover
    """Per pixel: median of the finite values of ``stack`` (the last is the new match), then a
    recursive average with ``previous`` where they agree; where the new match has no value, the
    previous output is held. ``kind``: 0 new, 1 median, 2 blended, 3 held."""
    k, h, w = stack.shape
    values = np.empty(k, dtype=np.float32)
    for y in range(y0, y1):
        for x in range(w):
            new = stack[k - 1, y, x]
            weight[y, x] = np.float32(0.0)
            agreement[y, x] = np.float32(0.0)
            kind[y, x] = 0
            if not np.isfinite(new):
                # no value in this frame (e.g. a plain region nothing supported this time): a static
                # pixel keeps the value it had, so a surface does not blink in and out
                p = previous[y, x]
                fused[y, x] = p
                if np.isfinite(p):
                    weight[y, x] = max(np.float32(0.5) * prev_weight[y, x], np.float32(0.5))
                    kind[y, x] = 3
                continue
            n = 0
            for i in range(k):
                v = stack[i, y, x]
                if np.isfinite(v):
                    j = n
                    while j > 0 and values[j - 1] > v:
                        values[j] = values[j - 1]
                        j -= 1
                    values[j] = v
                    n += 1
            out = new
            if n >= 2:
                out = np.float32(0.5) * (values[(n - 1) // 2] + values[n // 2])
                kind[y, x] = 1
            wt = np.float32(1.0)
            p = previous[y, x]
            if n >= 2 and np.isfinite(p) and abs(out - p) <= agree_px:
                pw = prev_weight[y, x]
                out = (out + pw * p) / (np.float32(1.0) + pw)
                wt = min(np.float32(1.0) + pw, max_weight)
                kind[y, x] = 2
            fused[y, x] = out
            weight[y, x] = wt
            good = 0
            for i in range(n):
                if abs(values[i] - out) <= agree_px:
                    good += 1
            agreement[y, x] = np.float32(good) / np.float32(n)


class TemporalFilter:
    """Running fusion of per-frame disparity with the motion-compensated past (see the module docstring).

    Memory: ``history_frames + 2`` maps and one previous view at the working size.

    Parameters
    ----------
    settings : TemporalSettings, optional
        Parameters; defaults when ``None``.
    """

    def __init__(self, settings: TemporalSettings | None = None) -> None:
        self.settings = settings or TemporalSettings()
        self._flow = cv2.DISOpticalFlow.create(_FLOW_PRESETS[self.settings.flow_preset])
        self.reset()

    def reset(self) -> None:
        """Forget the past (the next frame is taken as it is)."""
        self._prev_left: np.ndarray | None = None
        self._prev_grey: np.ndarray | None = None
        self._history: list[np.ndarray] = []
        self._output: np.ndarray | None = None
        self._weight: np.ndarray | None = None

    def _remember(
        self, left: np.ndarray, grey: np.ndarray, history: list[np.ndarray], out: np.ndarray, weight: np.ndarray
    ) -> None:
        self._prev_left, self._prev_grey = left, grey
        k = self.settings.history_frames
        self._history = history[-k:] if k else []
        self._output, self._weight = out, weight

    def update(
        self,
        left: np.ndarray,
        right: np.ndarray,
        disparity_px: np.ndarray,
        confidence: np.ndarray,
        *,
        motion: np.ndarray | None = None,
        camera: CameraIntrinsics | None = None,
        baseline: float = 1.0,
        doffs_px: float = 0.0,
    ) -> TemporalUpdate:
        """Fuse one frame's match with the past and remember the result.

        Parameters
        ----------
        left, right : numpy.ndarray
            The frame's rectified views at the working size, ``HxWx3`` uint8 RGB
            (the right view is only checked for its size).
        disparity_px, confidence : numpy.ndarray
            The frame's own match (``HxW``; NaN = no value; confidence in [0, 1]).
        motion : numpy.ndarray, optional
            4x4 transform from the previous camera's coordinates to this one's
            (from odometry); ``None`` carries disparities unchanged.
        camera : CameraIntrinsics, optional
            Working-size intrinsics; needed with ``motion``.
        baseline : float
            Baseline in the unit of the motion's translation (metres, or 1 for baselines).
        doffs_px : float
            Disparity offset of the rectified pair (``Z = f B / (d + doffs)``).

        Returns
        -------
        TemporalUpdate
        """
        s = self.settings
        left = check_image("left", left)
        right = check_image("right", right)
        d = np.asarray(disparity_px, dtype=np.float32)
        c = np.asarray(confidence, dtype=np.float32)
        if d.shape != left.shape[:2] or c.shape != d.shape or right.shape != left.shape:
            raise ParameterError(
                f"TemporalFilter.update: views {left.shape}/{right.shape}, disparity {d.shape} and "
                f"confidence {c.shape} must share one size"
            )
        if motion is not None and camera is None:
            raise ParameterError("TemporalFilter.update: a camera is needed to move disparities by a motion")
        grey = cv2.cvtColor(left, cv2.COLOR_RGB2GRAY)
        prev_left, prev_grey, output, weight = self._prev_left, self._prev_grey, self._output, self._weight
        have = np.isfinite(d)
        if prev_left is None or prev_grey is None or output is None or weight is None or prev_grey.shape != grey.shape:
            conf = np.where(have, c, 0.0).astype(np.float32)
            self._remember(left, grey, [d], d, have.astype(np.float32))
            return TemporalUpdate(disparity_px=d, confidence=conf, shares={"new": 1.0, "median": 0.0, "blended": 0.0})
        h, w = d.shape
        flow = np.asarray(self._flow.calc(grey, prev_grey, np.zeros((h, w, 2), np.float32)))
        gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        mx, my = gx + flow[..., 0], gy + flow[..., 1]
        inside = (mx >= -0.5) & (mx <= w - 0.5) & (my >= -0.5) & (my <= h - 0.5)
        prev_warped = cv2.remap(prev_left, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        usable = inside & (cv2.absdiff(left, prev_warped).max(axis=2) < s.colour_threshold)

        def carry(data: np.ndarray, border: float) -> np.ndarray:
            nearest = cv2.remap(data, mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=border)
            linear = cv2.remap(data, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=border)
            with np.errstate(invalid="ignore"):
                smooth = np.abs(linear - nearest) <= _EDGE_PX  # False at NaN: across an edge or a hole
            out = np.where(smooth, linear, nearest)
            out[~usable] = border
            return out

        carried = [carry(m, float("nan")) for m in self._history]
        stack = np.stack([*carried, carry(output, float("nan"))])
        if motion is not None and camera is not None:
            source = np.stack([mx, my], axis=-1)
            stack = predict_disparity(stack, source, motion, camera, baseline=baseline, doffs_px=doffs_px)
        carried, previous = list(stack[:-1]), stack[-1]
        stack = np.stack([*carried, d])
        prev_weight = carry(weight, 0.0)
        fused = np.empty((h, w), dtype=np.float32)
        new_weight = np.empty((h, w), dtype=np.float32)
        agreement = np.empty((h, w), dtype=np.float32)
        kind = np.empty((h, w), dtype=np.uint8)
        run_rows(
            lambda y0, y1: _fuse(
                stack,
                previous,
                prev_weight,
                np.float32(s.agree_px),
                np.float32(s.max_weight),
                fused,
                new_weight,
                agreement,
                kind,
                y0,
                y1,
            ),
            h,
            2,
        )
        conf = np.where(kind > 0, 0.5 * c + 0.5 * agreement, c)
        conf = np.where(kind == 3, HELD_CONFIDENCE, conf)
        conf = np.where(np.isfinite(fused), np.clip(conf, 0.0, 1.0), 0.0).astype(np.float32)
        self._remember(left, grey, [*carried, d], fused, new_weight)
        n = max(int(np.isfinite(fused).sum()), 1)
        n_median, n_blend = int((kind == 1).sum()), int((kind == 2).sum())  # held pixels count as new
        shares = {"new": max(0.0, 1.0 - (n_median + n_blend) / n), "median": n_median / n, "blended": n_blend / n}
        return TemporalUpdate(disparity_px=fused, confidence=conf, shares=shares)
