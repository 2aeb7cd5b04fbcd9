"""StereoClip -> a stream of :class:`FrameDepth`: rectify, match, stabilise, locate, frame by frame.

:class:`ClipDepth` is the video counterpart of
:func:`parallax.stereo.pipeline.compute_depth`. Per clip it estimates one
rectification (:mod:`parallax.stereo.clip_rectify`) and decides once whether
depth is metric; per frame it

1. rectifies both views with the clip's homographies;
2. matches them at a reduced working size (``max_side_px``, 640 by default:
   video at 1280x720 per eye then runs at a few frames per second on two
   cores; ``None`` matches at full size) with the named matcher;
3. fuses the match with the motion-compensated past
   (:class:`~parallax.stereo.temporal.TemporalFilter`) so static surfaces do not
   flicker while moving objects keep their own match;
4. tracks the camera (:class:`~parallax.stereo.odometry.StereoOdometry`),
   whose frame-to-frame motion also moves the carried disparities;
5. upsamples the disparity to the rectified views' size, edge-aware
   (:func:`~parallax.stereo.upsample.upsample_disparity`), and turns it into depth.

Frames are decoded, processed and handed on one at a time: memory does not
grow with the clip's length (only the poses, a few hundred bytes a frame, are
kept for :meth:`ClipDepth.summary`).

Depth is metric (metres) when a focal length and a baseline are known (from the
clip or the arguments), else relative: ``1 / (d + offset)`` with *one* scale
for the whole clip (the first frame's median is 1), so depth does not flicker
with the content. Poses are in metres when depth is metric, else in
baselines (and then with a 60 degree field of view assumed when the focal
length is unknown). Conventions: ``docs/conventions.md``.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import cv2
import numpy as np

from parallax.capture.clip import FramePair, FrameSelection, StereoClip
from parallax.capture.types import ASSUMED_HFOV_DEG, CameraIntrinsics
from parallax.errors import InputFileError, ParameterError
from parallax.stereo.clip_rectify import (
    ClipRectification,
    estimate_clip_rectification,
    expected_frame_count,
    rectify_frame,
)
from parallax.stereo.clip_types import DEFAULT_CLIP_MAX_SIDE_PX, ClipDepthSettings, FrameDepth
from parallax.stereo.depth import disparity_to_depth, relative_offset
from parallax.stereo.disparity import EXTRAPOLATED_CONFIDENCE, disparity_of_pair, outside_right_view
from parallax.stereo.odometry import PoseEstimate, StereoOdometry, trajectory_quality
from parallax.stereo.temporal import TemporalFilter
from parallax.stereo.types import DepthResult
from parallax.stereo.upsample import upsample_disparity, upsample_nearest
from parallax.stereo.warp import covered_mask

__all__ = ["DEFAULT_CLIP_MAX_SIDE_PX", "ClipDepthSettings", "FrameDepth", "ClipDepth", "clip_depth"]

#: Disparities the depth decision uses need this matcher confidence (hole-filled pixels have less).
_MIN_DECISION_CONFIDENCE = 0.1
#: File-given focal length and baseline are not used for metric depth when more than this
#: share of the first frame's disparities is <= 0 (as for stills).
_MAX_NONPOSITIVE_SHARE = 0.05


_DONE = object()


def _prefetch(frames: Iterator[FramePair]) -> Iterator[FramePair]:
    """Decode the next frame on a worker thread while this one is processed (at most one frame ahead).

    Decoders (PyAV, Pillow) release the GIL, so decoding overlaps the single-threaded parts of the
    per-frame work. Errors of the source are re-raised here, in order; closing this generator stops the worker.
    """
    box: queue.Queue[Any] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for frame in frames:
                if not put(frame):
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(exc)
            return
        put(_DONE)

    worker = threading.Thread(target=work, name="parallax-clip-decode", daemon=True)
    worker.start()
    try:
        while True:
            item = box.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=5.0)


class ClipDepth:
    """Per-frame depth and pose of a clip, streamed (see the module docstring).

    Iterate it for :class:`FrameDepth` objects; afterwards :meth:`summary` and
    :attr:`poses` describe the run. Each iteration decodes the clip again.

    Parameters
    ----------
    clip : StereoClip
        The clip.
    start_s, end_s, step, max_frames
        Which frames (as for :meth:`StereoClip.frames`).
    settings : ClipDepthSettings, optional
    rectification : ClipRectification, optional
        A rectification to reuse; estimated from the selected frames when ``None``.
    depth_mode : Mapping, optional
        A depth decision to reuse (:attr:`depth_mode` of an earlier run over the
        same clip, e.g. its first chunk), so that runs over parts of one clip
        share metric-or-relative, offset and scale; decided from the first
        processed frame when ``None``.
    """

    def __init__(
        self,
        clip: StereoClip,
        *,
        start_s: float | None = None,
        end_s: float | None = None,
        step: int = 1,
        max_frames: int | None = None,
        settings: ClipDepthSettings | None = None,
        rectification: ClipRectification | None = None,
        depth_mode: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(clip, StereoClip):
            raise ParameterError(f"ClipDepth needs a StereoClip, got {type(clip).__name__}; use parallax.read_clip")
        self.clip = clip
        self.selection = FrameSelection(start_s=start_s, end_s=end_s, step=step, max_frames=max_frames)
        self.settings = settings or ClipDepthSettings()
        self._rectification = rectification
        if depth_mode is not None and not {"metric", "baseline", "doffs_px"} <= set(depth_mode):
            raise ParameterError(
                "depth_mode must be the depth_mode of an earlier ClipDepth run (metric, baseline, doffs_px)"
            )
        self._depth_mode_given = dict(depth_mode) if depth_mode is not None else None
        self.depth_mode: dict[str, Any] | None = self._depth_mode_given
        self.poses: list[tuple[int, float, PoseEstimate]] = []
        self._stats: dict[str, Any] = {}

    # -- clip-level facts ------------------------------------------------------------------
    @property
    def expected_frames(self) -> int:
        """How many frames the selection should deliver (from the clip's facts)."""
        return expected_frame_count(self.clip, self.selection)

    @property
    def rectification(self) -> ClipRectification:
        """The clip's rectification (estimated on first use: one pass over the selected frames)."""
        if self._rectification is None:
            sel = self.selection
            self._rectification = estimate_clip_rectification(
                self.clip,
                start_s=sel.start_s,
                end_s=sel.end_s,
                step=sel.step,
                max_frames=sel.max_frames,
                fit_frames=self.settings.fit_frames,
                check_frames=self.settings.check_frames,
            )
        return self._rectification

    def camera(self) -> CameraIntrinsics | None:
        """Intrinsics of the rectified left view at full size, when the focal length is known
        (the clip's intrinsics, else its field of view, else ``focal_px``)."""
        clip, s = self.clip, self.settings
        rect = self.rectification.rectification
        base = clip.left_camera
        if base is not None:
            base = base.scaled(clip.width / base.width, clip.height / base.height)
        elif clip.hfov_deg is not None and clip.hfov_deg < 180.0:
            base = CameraIntrinsics.from_hfov(hfov_deg=clip.hfov_deg, width=clip.width, height=clip.height)
        if s.focal_px is not None:
            if base is None:
                base = CameraIntrinsics(
                    focal_px=s.focal_px, cx_px=(clip.width - 1) / 2.0, cy_px=(clip.height - 1) / 2.0,
                    width=clip.width, height=clip.height,
                )  # fmt: skip
            else:
                ratio = base.fy_px / base.focal_px
                base = dataclasses.replace(base, focal_px=s.focal_px, focal_y_px=s.focal_px * ratio)
        if base is None:
            return None
        # translated and cropped to what both views cover: the principal point moved with the crop (as for stills)
        dx, dy = rect.principal_shift_px
        return dataclasses.replace(
            base, cx_px=base.cx_px + dx, cy_px=base.cy_px + dy, width=rect.width, height=rect.height
        )

    # -- the stream ------------------------------------------------------------------------
    def __iter__(self) -> Iterator[FrameDepth]:
        return self._run()

    def _run(self) -> Iterator[FrameDepth]:
        s, clip = self.settings, self.clip
        crect = self.rectification
        rect = crect.rectification
        width, height = rect.width, rect.height
        scale = 1.0 if s.max_side_px is None else min(1.0, s.max_side_px / max(width, height))
        small = (max(16, round(width * scale)), max(16, round(height * scale)))
        sx, sy = small[0] / width, small[1] / height
        camera = self.camera()
        focal_known = camera is not None
        baseline = s.baseline_m if s.baseline_m is not None else clip.baseline_m
        offset = float(rect.disparity_offset_px)
        vo_camera = (
            camera or CameraIntrinsics.from_hfov(hfov_deg=ASSUMED_HFOV_DEG, width=width, height=height)
        ).scaled(sx, sy)
        lo = None if s.min_disparity is None else (s.min_disparity - offset) * sx
        hi = None if s.max_disparity is None else (s.max_disparity - offset) * sx
        covered_small = covered_mask(rect, "left", clip.width, clip.height)
        covered_full = covered_small
        if small != (width, height):
            covered_small = cv2.resize(covered_full.astype(np.uint8), small, interpolation=cv2.INTER_NEAREST) > 0
        temporal = TemporalFilter(s.temporal_settings) if s.temporal else None
        odometry: StereoOdometry | None = None
        depth_mode: dict[str, Any] | None = self._depth_mode_given
        vo_baseline, doffs_full = 1.0, 0.0
        self.poses = []
        shares_sum = {"new": 0.0, "median": 0.0, "blended": 0.0}
        count = 0
        started = time.perf_counter()
        sel = self.selection
        frames = _prefetch(clip.frames(start_s=sel.start_s, end_s=sel.end_s, step=sel.step, max_frames=sel.max_frames))
        for frame in frames:
            left_full, right_full = rectify_frame(rect, frame.left, frame.right)
            if small != (width, height):
                left_s = cv2.resize(left_full, small, interpolation=cv2.INTER_AREA)
                right_s = cv2.resize(right_full, small, interpolation=cv2.INTER_AREA)
            else:
                left_s, right_s = left_full, right_full
            # the same matching and post-processing as a still pair (plain surfaces, dense or strict)
            estimate = disparity_of_pair(
                left_s,
                right_s,
                matcher=s.matcher,
                min_disparity=lo,
                max_disparity=hi,
                strict=s.strict,
                plain_surfaces=s.plain_surfaces,
                covered=covered_small,
                options=s.matcher_options,
            )
            d_raw = np.array(estimate.disparity_px, dtype=np.float32)
            c_raw = np.array(estimate.confidence, dtype=np.float32)
            if depth_mode is None:  # decided on the first frame, unless given
                depth_mode = self._depth_mode(
                    np.where(c_raw >= _MIN_DECISION_CONFIDENCE, d_raw / sx, np.nan), camera, baseline, offset
                )
                self.depth_mode = depth_mode
            if count == 0:
                vo_baseline = depth_mode["baseline"] if depth_mode["metric"] else 1.0
                doffs_full = depth_mode["doffs_px"]
                if s.odometry:
                    odometry = StereoOdometry(
                        vo_camera, baseline=vo_baseline, doffs_px=doffs_full * sx, settings=s.odometry_settings
                    )
            pose = None
            motion = None
            if odometry is not None:
                previous = odometry.pose
                pose = odometry.track(left_s)
                if pose.status == "tracked":
                    motion = odometry.relative_motion(previous)
            shares = {"new": 1.0, "median": 0.0, "blended": 0.0}
            d_s, c_s = d_raw, c_raw
            if temporal is not None:
                update = temporal.update(
                    left_s,
                    right_s,
                    d_raw,
                    c_raw,
                    motion=motion,
                    camera=vo_camera,
                    baseline=vo_baseline,
                    doffs_px=doffs_full * sx,
                )
                d_s, c_s, shares = update.disparity_px.copy(), update.confidence, dict(update.shares)
                d_s[~covered_small] = np.nan
                if s.strict:  # only what this frame measured
                    d_s[~estimate.measured] = np.nan
                outside = outside_right_view(d_s)  # seen by one camera only: extrapolated, low confidence
                c_s = np.where(outside, np.minimum(c_s, EXTRAPOLATED_CONFIDENCE), c_s).astype(np.float32)
            if odometry is not None:
                odometry.commit(d_s, c_s)
            d_full = upsample_disparity(d_s, left_s, left_full)
            d_full[~covered_full] = np.nan
            if s.strict:
                d_full[outside_right_view(d_full)] = np.nan
            c_full = np.where(np.isfinite(d_full), upsample_nearest(c_s, width, height), 0.0).astype(np.float32)
            result = self._result(frame.index, left_full, right_full, d_full, c_full, camera, depth_mode, scale)
            if pose is not None:
                self.poses.append((frame.index, frame.timestamp_s, pose))
            for key in shares_sum:
                shares_sum[key] += float(shares.get(key, 0.0))
            count += 1
            self._stats = {
                "frames": count,
                "seconds": time.perf_counter() - started,
                "temporal_shares": {k: v / count for k, v in shares_sum.items()},
                "depth_is_metric": depth_mode["metric"],
                "focal_known": focal_known,
            }
            yield FrameDepth(
                index=frame.index, timestamp_s=frame.timestamp_s, result=result, pose=pose, temporal=shares
            )
        if count == 0:
            raise InputFileError(f"{clip.source}: the selected range holds no frame; widen --start/--end")

    def _depth_mode(
        self, d_first: np.ndarray, camera: CameraIntrinsics | None, baseline: float | None, offset: float
    ) -> dict[str, Any]:
        """Decide once per clip, from the first frame's confident disparities (full-size pixels, NaN elsewhere):
        metric or relative depth, and the offset and scale."""
        s = self.settings
        finite = d_first[np.isfinite(d_first)]
        metric = camera is not None and baseline is not None
        refused = None
        if metric and s.focal_px is None and s.baseline_m is None and s.doffs_px is None:
            behind = float(np.mean(finite + offset <= 0)) if finite.size else 1.0
            if behind > _MAX_NONPOSITIVE_SHARE:
                metric = False
                refused = (
                    f"{behind:.0%} of the first frame's disparities are <= 0, so the zero-disparity offset is "
                    "unknown; pass --doffs for metric depth"
                )
        if metric:
            return {"metric": True, "baseline": baseline, "doffs_px": (s.doffs_px or 0.0) + offset, "refused": None}
        if s.doffs_px is not None:
            rel_offset = s.doffs_px + offset
        else:
            rel_offset = relative_offset(d_first + offset) + offset if finite.size else offset
        shifted = finite + rel_offset
        inv = 1.0 / shifted[shifted > 0]
        scale = float(np.median(inv)) if inv.size else 1.0
        missing = " and ".join(n for n, v in (("focal length", camera), ("baseline", baseline)) if v is None)
        return {
            "metric": False,
            "baseline": None,
            "doffs_px": rel_offset,
            "scale": scale,
            "refused": refused or f"{missing} unknown",
        }

    def _result(
        self,
        index: int,
        left: np.ndarray,
        right: np.ndarray,
        disparity: np.ndarray,
        confidence: np.ndarray,
        camera: CameraIntrinsics | None,
        mode: Mapping[str, Any],
        scale: float,
    ) -> DepthResult:
        s = self.settings
        doffs = float(mode["doffs_px"])
        if mode["metric"] and camera is not None:
            depth = disparity_to_depth(disparity, focal_px=camera.focal_px, baseline_m=mode["baseline"], doffs_px=doffs)
            how = "metric: Z = focal_px * baseline_m / (d + doffs_px)"
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                shifted = disparity + np.float32(doffs)
                depth = np.where(shifted > 0, 1.0 / (shifted * np.float32(mode["scale"])), np.nan).astype(np.float32)
            how = (
                f"relative (larger = farther; one scale for the clip, its first frame's median is 1): "
                f"{mode['refused']}; disparity offset {doffs:.3f} px"
            )
        settings = {
            "matcher": s.matcher,
            "max_side_px": s.max_side_px,
            "scale": scale,
            "temporal": s.temporal,
            "rectification": self.rectification.rectification.method,
            "frame_index": index,
            "depth": how,
        }
        if not mode["metric"]:
            settings["relative_depth_scale"] = float(mode["scale"])  # depth = 1 / ((d + doffs) * scale)
        return DepthResult(
            image=left,
            right_image=right,
            disparity_px=disparity,
            confidence=confidence,
            depth=depth,
            depth_is_metric=bool(mode["metric"]),
            camera=camera,
            baseline_m=mode["baseline"] if mode["metric"] else None,
            doffs_px=doffs,
            rectification=self.rectification.rectification,
            source=self.clip.source,
            settings=settings,
        )

    # -- after the run ---------------------------------------------------------------------
    @property
    def pose_units(self) -> str:
        """``"m"`` when poses are metric, else ``"baseline"``."""
        return "m" if self._stats.get("depth_is_metric") else "baseline"

    def summary(self) -> dict[str, Any]:
        """What the last run did: frames, speed, rectification and its drift, trajectory quality, depth units."""
        stats = dict(self._stats)
        seconds = stats.get("seconds") or 0.0
        frames = stats.get("frames", 0)
        trajectory = trajectory_quality([p for _, _, p in self.poses]) if self.poses else None
        if trajectory is not None:
            trajectory["units"] = self.pose_units
            if not stats.get("focal_known"):
                trajectory["assumed_hfov_deg"] = ASSUMED_HFOV_DEG
        return {
            "source": self.clip.source,
            "frames": frames,
            "seconds": seconds,
            "frames_per_s": frames / seconds if seconds > 0 else None,
            "depth_is_metric": stats.get("depth_is_metric"),
            "temporal": self.settings.temporal,
            "temporal_shares": stats.get("temporal_shares"),
            "max_side_px": self.settings.max_side_px,
            "rectification": self.rectification.to_dict(),
            "trajectory": trajectory,
        }


def clip_depth(
    clip: StereoClip,
    *,
    start_s: float | None = None,
    end_s: float | None = None,
    step: int = 1,
    max_frames: int | None = None,
    **settings: Any,
) -> ClipDepth:
    """Depth and camera pose of every selected frame of a clip, streamed.

    Parameters
    ----------
    clip : StereoClip
        From :func:`parallax.capture.read_clip`.
    start_s, end_s, step, max_frames
        Which frames (as for :meth:`StereoClip.frames`).
    **settings
        Fields of :class:`ClipDepthSettings` (``matcher``, ``max_side_px``, ``temporal`` ...).

    Returns
    -------
    ClipDepth
        Iterate it for one :class:`FrameDepth` per frame, in order.

    Raises
    ------
    ParameterError
        An unknown setting or a bad value.
    """
    unknown = sorted(set(settings) - set(ClipDepthSettings.__dataclass_fields__))
    if unknown:
        raise ParameterError(
            f"clip_depth does not take {unknown}; known settings: {sorted(ClipDepthSettings.__dataclass_fields__)}"
        )
    return ClipDepth(
        clip,
        start_s=start_s,
        end_s=end_s,
        step=step,
        max_frames=max_frames,
        settings=ClipDepthSettings(**settings),
    )
