"""Apple spatial video (MV-HEVC in ``.mov`` / ``.mp4``) as a :class:`~parallax.capture.clip.StereoClip`.

iPhone 15 Pro and later and Apple Vision Pro record the two eyes as two layers
of one HEVC track (MV-HEVC): the base layer (view 0) and layer 1 (view 1),
whose parameter sets are in the ``lhvC`` box. FFmpeg (>= 7.1) decodes both
when the decoder option ``view_ids`` is ``-1``: every access unit then gives
two frames with the same presentation time, view 0 first. They are paired by
decode order and time stamp (PyAV cannot read MV-HEVC frame side data).

The camera facts come from the sample entry's boxes (:mod:`.bmff`):

* eye assignment: ``vexu/eyes/stri`` (0x01 left eye present, 0x02 right eye
  present, 0x08 views reversed: view 0 is the right eye); without ``stri``
  view 0 is taken as the left eye (Apple's order) and the metadata says so;
* ``vexu/eyes/hero``: the primary eye (1 left, 2 right) -> ``hero_eye``;
* ``vexu/eyes/cams/blin``: baseline in micrometres -> ``baseline_m``;
* ``hfov``: horizontal field of view in 1/1000 degree -> ``hfov_deg`` and
  centred pinhole intrinsics ``f = W / (2 tan(hfov / 2))`` for both views;
* ``vexu/eyes/cmfy/dadj``: disparity adjustment in 1/10000 of the width ->
  ``disparity_adjustment`` (a fraction of the width).

A 180° display rotation (``tkhd`` matrix) turns both views and swaps the eyes
(the rig was upside down); a 90° / 270° one is recorded but not applied (it
would make the baseline vertical).

Errors: a file whose second layer cannot be decoded (no ``lhvC``: remuxing
with FFmpeg drops it), or that yields one view for some time stamp, is an
:class:`~parallax.errors.InputFileError` saying the second eye is missing.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from parallax.capture.bmff import AppleStereo, read_movie
from parallax.capture.clip import FramePair, StereoClip
from parallax.capture.clip_registry import ClipReaderSpec, ClipReadOptions, register_clip_reader
from parallax.capture.registry import FileProbe
from parallax.capture.types import CameraIntrinsics
from parallax.capture.video_clip import VideoSource, container_kind, open_source, stream_pairs
from parallax.capture.video_io import DecodedFrame, colour_tags, decode_frames, frame_to_rgb
from parallax.errors import InputFileError, NotStereoError, ParameterError, UnsupportedFormatError

__all__ = ["MV_HEVC_DECODER_OPTIONS", "read_spatial_video"]

#: Decoder options that make FFmpeg output both views of an MV-HEVC stream.
MV_HEVC_DECODER_OPTIONS = {"view_ids": "-1"}
_HEVC_ENTRIES = ("hvc1", "hev1", "dvh1", "dvhe")


def _sniff(path: Path, probe: FileProbe | None) -> bool:
    if container_kind(probe) != "iso-bmff":
        return False
    try:
        movie = read_movie(path)
    except InputFileError:
        return False  # the generic video reader reports what is wrong
    track = movie.video_track
    entry = track.sample_entry if track is not None else None
    return entry is not None and entry.codec in _HEVC_ENTRIES and (entry.has_lhvc or entry.apple is not None)


def _missing_view(name: str, t: float) -> InputFileError:
    return InputFileError(
        f"{name}: only one view decodes at {t:.3f} s; the second eye (MV-HEVC layer 1) is missing or damaged "
        "(needs PyAV with FFmpeg >= 7.1); use the original file from the camera"
    )


def _paired_views(src: VideoSource, start_s: float | None) -> Generator[DecodedFrame, None, None]:
    """Both views of each access unit, as ``DecodedFrame(t, (view0, view1))``."""
    pending: DecodedFrame | None = None
    for item in decode_frames(src.path, name=src.name, start_s=start_s, codec_options=MV_HEVC_DECODER_OPTIONS):
        if pending is None:
            pending = item
            continue
        if item.frame.pts == pending.frame.pts:
            yield DecodedFrame(pending.timestamp_s, (pending.frame, item.frame))
            pending = None
        else:
            raise _missing_view(src.name, pending.timestamp_s)
    if pending is not None:
        raise _missing_view(src.name, pending.timestamp_s)


def _eye_order(apple: AppleStereo | None, options: ClipReadOptions) -> tuple[bool, dict[str, Any]]:
    if options.eyes != "auto":
        view0_left = options.eyes == "left-right"
        return view0_left, {"decision": f"view 0 = {'left' if view0_left else 'right'} eye (forced)", "evidence": None}
    if apple is None or apple.stri_flags is None:
        return True, {"decision": "view 0 = left eye", "evidence": "no vexu/eyes/stri box: Apple's order assumed"}
    flags = apple.stri_flags
    view0_left = not apple.views_reversed
    return view0_left, {
        "decision": f"view 0 = {'left' if view0_left else 'right'} eye",
        "evidence": f"vexu/eyes/stri flags 0x{flags:02X} (0x01 left, 0x02 right present; 0x08 views reversed)",
    }


def read_spatial_video(path: Path, options: ClipReadOptions) -> StereoClip:
    """Open an Apple spatial video (see the module docstring).

    Raises
    ------
    ParameterError
        A ``layout`` other than ``auto`` (the views are layers, not packed).
    NotStereoError
        ``stri`` says the file holds one eye.
    UnsupportedFormatError
        An Apple projection other than rectilinear (immersive / fisheye video).
    InputFileError
        Truncated or corrupt file, or the second eye cannot be decoded.
    """
    if options.layout != "auto":
        raise ParameterError(
            f"layout={options.layout!r} does not apply to {path.name}, an MV-HEVC spatial video (its eyes are "
            "separate layers, not packed in one frame); leave the layout on auto"
        )
    src = open_source(path, max_pixels=options.max_pixels)
    entry = src.track.sample_entry if src.track is not None else None
    apple = entry.apple if entry is not None else None
    name = src.name
    if apple is not None and apple.projection not in (None, "rect"):
        raise UnsupportedFormatError(
            f"{name} is an MV-HEVC video with Apple projection {apple.projection!r} (immersive or fisheye), "
            "which Parallax does not read; give a spatial video with rectilinear views"
        )
    if apple is not None and apple.stri_flags is not None and not (apple.has_left and apple.has_right):
        raise NotStereoError(
            f"{name}: its vexu/eyes/stri box (flags 0x{apple.stri_flags:02X}) says it holds one eye; "
            "give a spatial video with both eyes"
        )
    if entry is None or not entry.has_lhvc:
        raise InputFileError(
            f"{name} lacks the 'lhvC' box with the second eye's parameter sets, so its right view cannot be "
            "decoded (remuxing with FFmpeg drops it); use the original file from the camera"
        )
    view0_left, eyes = _eye_order(apple, options)
    rotation = src.rotation_deg
    if rotation == 180:
        view0_left = not view0_left
        eyes["decision"] += "; views turned 180° and swapped for the container's display rotation"
    swap = not view0_left

    def make_views(item: DecodedFrame) -> tuple[np.ndarray, np.ndarray]:
        frame0, frame1 = item.frame
        v0, v1 = frame_to_rgb(frame0, name=name), frame_to_rgb(frame1, name=name)
        if rotation == 180:
            v0, v1 = np.ascontiguousarray(v0[::-1, ::-1]), np.ascontiguousarray(v1[::-1, ::-1])
        return (v1, v0) if swap else (v0, v1)

    fps = src.facts.fps

    def open_frames(start_s: float | None) -> Iterator[FramePair]:
        return stream_pairs(src, start_s=start_s, fps=fps, make_views=make_views, frames=_paired_views(src, start_s))

    probe = _paired_views(src, None)
    try:
        first = next(probe, None)
    finally:
        probe.close()
    if first is None:
        raise InputFileError(f"{name} holds no decodable frame; the file is truncated or corrupt")
    width, height = int(first.frame[0].width), int(first.frame[0].height)
    hfov = entry.hfov_mdeg / 1000.0 if entry.hfov_mdeg and 0 < entry.hfov_mdeg < 180_000 else None
    camera = CameraIntrinsics.from_hfov(hfov_deg=hfov, width=width, height=height) if hfov else None
    hero = {1: "left", 2: "right"}.get(apple.hero if apple is not None and apple.hero is not None else -1)
    baseline = apple.baseline_um / 1e6 if apple is not None and apple.baseline_um else None
    dadj = apple.disparity_adjustment / 1e4 if apple is not None and apple.disparity_adjustment is not None else None
    metadata: dict[str, Any] = {
        **src.base_metadata(),
        "views_decoded": 2,
        "apple_vexu": apple.to_dict() if apple is not None else None,
        "hfov_mdeg": entry.hfov_mdeg,
        "colour": colour_tags(first.frame[0]),
        "rotation_applied": rotation in (0, 180),
    }
    if rotation in (90, 270):
        metadata["rotation_note"] = (
            "views kept in the coded orientation (turning them would make the baseline vertical)"
        )
    return StereoClip(
        source=name,
        format="mv-hevc",
        layout="multiview",
        projection="rectilinear",
        width=width,
        height=height,
        fps=fps,
        frame_count=src.facts.frame_count,
        duration_s=src.facts.duration_s,
        open_frames=open_frames,
        left_camera=camera,
        right_camera=camera,
        baseline_m=baseline,
        hfov_deg=hfov,
        hero_eye=hero,  # type: ignore[arg-type]
        disparity_adjustment=dadj,
        rotation_deg=rotation,
        has_audio=src.facts.has_audio,
        eyes=eyes,
        metadata=metadata,
    )


register_clip_reader(
    ClipReaderSpec(
        name="mv-hevc",
        description="Apple spatial video (MV-HEVC)",
        sniff=_sniff,
        extensions=(".mov", ".mp4"),
        read=read_spatial_video,
    )
)
