"""Equirectangular stereo video (360° top-bottom, VR180 side-by-side) as a rectified pinhole :class:`StereoClip`.

Recognised by its spherical metadata (MP4/MOV): Spherical Video V2
(``st3d`` + ``sv3d > proj > equi``, inside the video sample entry) or V1 (the
``uuid`` XML under ``trak`` with ``GSpherical:ProjectionType``). Where both are
present and disagree, **V2 wins** (the newer specification); the metadata
records what each said. Packing: V2 ``st3d`` (1 top-bottom, 2 left-right),
else V1 ``StereoMode``; ``layout`` overrides it (``sbs`` / ``over-under`` and
their variants; equirectangular views are never "squeezed": the reprojection
uses the angles the crop gives). In both specifications the left eye is on top
/ on the left; ``eyes`` forces the order. The crop: V2 ``equi`` bounds, else V1
``CroppedArea*`` / ``FullPano*``, else the full sphere (VR180 is 180° wide).

Each eye is reprojected through the same virtual pinhole camera
(:mod:`parallax.capture.equirect`: ``hfov_deg``, ``yaw_deg``, ``pitch_deg``,
``view_width`` from the options; by default a forward 90° square view), so the
delivered pair is rectified. The tables are built once per clip; each frame
costs two ``cv2.remap``. ``StereoClip.virtual_camera`` and
``left_camera`` / ``right_camera`` state the camera. The file states no
baseline: depth from it is relative.

Not read: mesh projections (V2 ``mshp``) and cube maps (``cbmp``) give an
:class:`~parallax.errors.UnsupportedFormatError`; a mono 360° video a
:class:`~parallax.errors.NotStereoError`. The V2 projection pose (``prhd``) is
recorded, not applied.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from parallax.capture.bmff import read_movie
from parallax.capture.clip import FramePair, StereoClip
from parallax.capture.clip_registry import ClipReaderSpec, ClipReadOptions, register_clip_reader
from parallax.capture.equirect import EquirectCrop, EquirectReprojector
from parallax.capture.layout import split_halves
from parallax.capture.registry import FileProbe
from parallax.capture.video_clip import VideoSource, container_kind, metadata_packing, open_source, stream_pairs
from parallax.capture.video_io import DecodedFrame, colour_tags, decode_frames, frame_to_rgb
from parallax.errors import InputFileError, NotStereoError, UnsupportedFormatError

__all__ = ["read_equirect_video", "spherical_projection"]

_ARRANGEMENTS = {  # layout option -> (arrangement, first half is the left eye)
    "sbs": ("side-by-side", True),
    "sbs-half": ("side-by-side", True),
    "sbs-cross": ("side-by-side", False),
    "over-under": ("over-under", True),
    "ou-half": ("over-under", True),
    "under-over": ("over-under", False),
}


def _sniff(path: Path, probe: FileProbe | None) -> bool:
    if container_kind(probe) != "iso-bmff":
        return False
    try:
        track = read_movie(path).video_track
    except InputFileError:
        return False
    if track is None:
        return False
    v2 = track.sample_entry.spherical if track.sample_entry is not None else None
    v1 = track.spherical_v1
    return (v2 is not None and v2.projection is not None) or (v1 is not None and v1.projection_type is not None)


def spherical_projection(src: VideoSource) -> tuple[str, EquirectCrop, dict[str, Any]]:
    """The source projection, the crop and what V1 / V2 said (V2 wins where they disagree).

    Raises
    ------
    UnsupportedFormatError
        A mesh or cube-map projection, or a V1 projection other than equirectangular.
    """
    entry = src.track.sample_entry if src.track is not None else None
    v2 = entry.spherical if entry is not None else None
    v1 = src.track.spherical_v1 if src.track is not None else None
    notes: dict[str, Any] = {
        "spherical_v2": v2.to_dict() if v2 is not None else None,
        "spherical_v1": v1.to_dict() if v1 is not None else None,
    }
    v2_projection = v2.projection if v2 is not None else None
    v1_projection = v1.projection_type if v1 is not None else None
    if v2_projection and v1_projection and v2_projection != v1_projection:
        notes["projection_conflict"] = f"V2 says {v2_projection}, V1 says {v1_projection}; V2 wins"
    projection = v2_projection or v1_projection
    if projection == "mesh":
        raise UnsupportedFormatError(
            f"{src.name} uses a mesh projection (Spherical V2 'mshp': a lens-specific mesh, common for fisheye "
            "VR180 cameras), which Parallax does not read; export it as equirectangular VR180 / 360 with the "
            "camera's software"
        )
    if projection != "equirectangular":
        raise UnsupportedFormatError(
            f"{src.name} uses the {projection!r} projection, which Parallax does not read; export it as "
            "equirectangular VR180 / 360 with the camera's software"
        )
    if v2_projection == "equirectangular" and v2 is not None and v2.crop is not None:
        top, bottom, left, right = v2.crop
        crop, source = EquirectCrop(top=top, bottom=bottom, left=left, right=right), "Spherical V2 equi bounds"
    elif v1 is not None and v1.crop is not None:
        top, bottom, left, right = v1.crop
        crop, source = EquirectCrop(top=top, bottom=bottom, left=left, right=right), "Spherical V1 CroppedArea"
    else:
        crop, source = EquirectCrop(), "full sphere (no crop stated)"
    notes["crop_source"] = source
    if v2 is not None and v2.pose_deg and any(abs(a) > 1e-6 for a in v2.pose_deg):
        notes["pose_note"] = "the V2 projection pose (prhd) is recorded, not applied"
    return projection, crop, notes


def read_equirect_video(path: Path, options: ClipReadOptions) -> StereoClip:
    """Open an equirectangular stereo video (see the module docstring).

    Raises
    ------
    UnsupportedFormatError
        Mesh or cube-map projection.
    NotStereoError
        A mono 360° / 180° video.
    InputFileError
        Truncated or corrupt file.
    """
    src = open_source(path, max_pixels=options.max_pixels)
    projection, crop, notes = spherical_projection(src)
    if options.layout != "auto":
        arrangement, first_is_left = _ARRANGEMENTS[options.layout]
        packing_source = f"given by the caller (layout={options.layout})"
    else:
        packing, packing_notes = metadata_packing(src)
        notes.update(packing_notes)
        if packing is None:
            raise NotStereoError(
                f"{src.name} is a mono {projection} video (its spherical metadata states no stereo mode); give a "
                "stereo 360° / VR180 video, or force the packing with --layout over-under or --layout sbs"
            )
        arrangement, first_is_left = packing.arrangement, packing.first_is_left
        packing_source = packing.source + " (spec: left eye on top / on the left)"
    if options.eyes != "auto":
        first_is_left = options.eyes == "left-right"
    w, h = src.facts.width, src.facts.height
    side = arrangement == "side-by-side"
    eye_w, eye_h = (w // 2, h) if side else (w, h // 2)
    reprojector = EquirectReprojector(eye_width=eye_w, eye_height=eye_h, crop=crop, camera=options.virtual_camera)
    view_w, view_h = reprojector.size

    def make_views(item: DecodedFrame) -> tuple[np.ndarray, np.ndarray]:
        rgb = frame_to_rgb(item.frame, name=src.name)
        if rgb.shape[:2] != (h, w):
            raise InputFileError(
                f"{src.name}: the frame size changes at {item.timestamp_s:.2f} s ({rgb.shape[1]}x{rgb.shape[0]}, "
                f"was {w}x{h}); Parallax reads clips of one frame size"
            )
        first, second, _ = split_halves(rgb, arrangement)  # type: ignore[arg-type]
        left, right = (first, second) if first_is_left else (second, first)
        return reprojector(left), reprojector(right)

    fps = src.facts.fps

    def open_frames(start_s: float | None) -> Iterator[FramePair]:
        return stream_pairs(src, start_s=start_s, fps=fps, make_views=make_views)

    frames = decode_frames(src.path, name=src.name)
    try:
        first = next(frames, None)
        tags = colour_tags(first.frame) if first is not None else None
    finally:
        frames.close()
    if first is None:
        raise InputFileError(f"{src.name} holds no decodable frame; the file is truncated or corrupt")
    virtual = reprojector.describe()
    half = "left" if side else "top"
    forced = " (forced)" if options.eyes != "auto" else ""
    return StereoClip(
        source=src.name,
        format="equirect-video",
        layout=arrangement,
        projection=projection,
        width=view_w,
        height=view_h,
        fps=fps,
        frame_count=src.facts.frame_count,
        duration_s=src.facts.duration_s,
        open_frames=open_frames,
        left_camera=reprojector.intrinsics,
        right_camera=reprojector.intrinsics,
        hfov_deg=float(options.virtual_camera.hfov_deg),
        rotation_deg=src.rotation_deg,
        has_audio=src.facts.has_audio,
        virtual_camera=virtual,
        eyes={
            "decision": f"{half} half = {'left' if first_is_left else 'right'} eye{forced}",
            "source": packing_source if options.eyes == "auto" else "eyes option",
            "evidence": None,
        },
        metadata={
            **src.base_metadata(),
            **notes,
            "packing": {"arrangement": arrangement, "source": packing_source},
            "eye_size": [eye_w, eye_h],
            "colour": tags,
            "rotation_applied": False if src.rotation_deg else None,
        },
    )


register_clip_reader(
    ClipReaderSpec(
        name="equirect-video",
        description="equirectangular stereo video (360° / VR180, Spherical Video V1 / V2)",
        sniff=_sniff,
        extensions=(".mp4", ".mov"),
        read=read_equirect_video,
    )
)
