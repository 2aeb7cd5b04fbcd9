"""Capture: any consumer stereo file (or pair of files) -> one :class:`Capture`.

Public API
----------
``read_capture(path, right_path=None, *, layout="auto", eyes="auto", max_pixels=..., virtual_camera=None)``
    Open a stereo capture. One file: the reader is found by magic bytes first,
    extension second (MPO, HEIC spatial/depth photo, Leia LIF, Google VR
    photo, side-by-side / over-under JPEG/PNG incl. ``.jps``). Two files: left
    and right views, or an image and its depth map. The eye order is checked (:mod:`.eyes`).
``orient_eyes(capture, eyes="auto")``
    Put the left eye first (a capture built by hand, a frame pair of a clip).
``load_image(path, *, max_pixels=...)``
    One image as ``HxWx3`` uint8 RGB, EXIF orientation applied, safe for
    untrusted files.
``read_clip(path, *, layout=, eyes=, fps=, hfov_deg=, yaw_deg=, pitch_deg=, view_width=)``
    Open a stereo video or a folder of stereo frames as a ``StereoClip``
    (per-clip facts; ``clip.frames(...)`` streams ``FramePair`` objects).

Formats live one per module: :mod:`.mpo`, :mod:`.heic` (+ :mod:`.heif_boxes`),
:mod:`.lif`, :mod:`.vr_photo` (+ :mod:`.equirect`), :mod:`.sbs` (+
:mod:`.layout`), :mod:`.pair`; decoding rules in :mod:`.image_io`; EXIF
camera facts in :mod:`.exif`; the registry in :mod:`.registry`. Stereo video
(``read_clip`` -> ``StereoClip``) lives in :mod:`.clip_registry` and its
readers. Conventions: ``docs/conventions.md``.
"""

from __future__ import annotations

import os
from pathlib import Path

from parallax.capture.clip import FramePair, StereoClip
from parallax.capture.clip_registry import is_clip_path, read_clip
from parallax.capture.equirect import VirtualCamera
from parallax.capture.eyes import EYES, orient_eyes
from parallax.capture.image_io import DEFAULT_MAX_PIXELS, check_input_file, load_image
from parallax.capture.registry import ReaderSpec, ReadOptions, find_reader, probe_file, readers, register_reader
from parallax.capture.types import CameraIntrinsics, Capture, CaptureFormat, EmbeddedMap, check_image

# Readers register themselves on import, most specific first (a LIF and an MPO are JPEGs too).
from parallax.capture import lif as _lif  # noqa: F401  (isort: skip)
from parallax.capture import mpo as _mpo  # noqa: F401  (isort: skip)
from parallax.capture import heic as _heic  # noqa: F401  (isort: skip)
from parallax.capture import vr_photo as _vr_photo  # noqa: F401  (isort: skip)
from parallax.capture import sbs as _sbs  # noqa: F401  (isort: skip)
from parallax.errors import ParameterError

__all__ = [
    "LAYOUTS",
    "EYES",
    "orient_eyes",
    "DEFAULT_MAX_PIXELS",
    "read_capture",
    "load_image",
    "detect_format",
    "readers",
    "register_reader",
    "ReaderSpec",
    "ReadOptions",
    "Capture",
    "CaptureFormat",
    "CameraIntrinsics",
    "EmbeddedMap",
    "VirtualCamera",
    "check_image",
    "read_clip",
    "is_clip_path",
    "StereoClip",
    "FramePair",
]

#: Accepted values of ``layout``. ``auto`` decides from the file; ``sbs`` = side
#: by side, left view on the left; ``sbs-cross`` = right view on the left (.jps);
#: ``over-under`` = left view on top; ``under-over`` = left view at the bottom;
#: ``pair`` = two files, two views; ``rgbd`` (alias ``mono-depth``) = an image
#: file plus a depth-map file.
LAYOUTS = ("auto", "sbs", "sbs-cross", "over-under", "under-over", "pair", "rgbd", "mono-depth")


def detect_format(path: str | os.PathLike[str]) -> str:
    """Name of the reader that would open ``path`` (``mpo``, ``heic``, ``lif``, ``image``).

    Raises
    ------
    InputFileError, UnsupportedFormatError
        Missing/unreadable file, or bytes no reader recognises.
    """
    return find_reader(probe_file(check_input_file(path))).name


def read_capture(
    path: str | os.PathLike[str],
    right_path: str | os.PathLike[str] | None = None,
    *,
    layout: str = "auto",
    eyes: str = "auto",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    virtual_camera: VirtualCamera | None = None,
) -> Capture:
    """Open a stereo (or RGB-D) capture as a :class:`Capture`.

    Parameters
    ----------
    path : path-like
        The capture file, or the left view when ``right_path`` is given.
    right_path : path-like, optional
        The right view (same size as the left), or a depth map (16-bit PNG in
        millimetres or ``.npy`` in metres) for an RGB-D capture.
    layout : str
        One of :data:`LAYOUTS`. ``auto`` reads the layout from the file (format,
        name convention, then sparse-match evidence; see
        :mod:`parallax.capture.layout`).
    eyes : str
        One of :data:`EYES`. ``auto`` checks the eye order from the stereo
        geometry (:mod:`parallax.capture.eyes`): a file that states its order
        (MPO, HEIC, LIF, ``.jps``) keeps it unless the evidence is
        overwhelming; two files, and side-by-side files named by habit, are
        swapped when the evidence is clear. ``left-right`` / ``right-left``:
        the views (files, halves) are given left first / right first.
        The decision is in ``metadata["eyes"]``.
    max_pixels : int
        Largest ``width * height`` decoded for any image in the file(s);
        larger images are refused before decoding.
    virtual_camera : VirtualCamera, optional
        For 360° / VR captures (Google VR photo): the pinhole view both eyes
        are reprojected into (field of view, yaw, pitch, width); ``None`` = a
        forward 90° view.

    Returns
    -------
    Capture
        Views are ``HxWx3`` uint8 RGB, EXIF orientation applied; camera facts
        as found (see each reader's docstring).

    Raises
    ------
    ParameterError
        Unknown ``layout`` or ``max_pixels``.
    InputFileError
        Missing, folder, empty, truncated, corrupt or too large files; views of different sizes.
    UnsupportedFormatError
        Bytes no reader recognises.
    NotStereoError
        The file holds one view and no depth.
    """
    if layout not in LAYOUTS:
        raise ParameterError(f"layout must be one of {', '.join(LAYOUTS)}; got {layout!r}")
    if eyes not in EYES:
        raise ParameterError(f"eyes must be one of {', '.join(EYES)}; got {eyes!r}")
    layout = "rgbd" if layout == "mono-depth" else layout
    options = ReadOptions(layout=layout, max_pixels=max_pixels, eyes=eyes, virtual_camera=virtual_camera)
    if right_path is not None:
        from parallax.capture.pair import read_pair

        return orient_eyes(read_pair(Path(path), Path(right_path), options), eyes)
    if layout in ("pair", "rgbd"):
        raise ParameterError(
            f"layout={layout!r} needs two files; give the second one (the right view or the depth map)"
        )
    file = check_input_file(path)
    spec = find_reader(probe_file(file))
    capture = spec.read(file, options)
    if capture.right is None or capture.metadata.get("eyes") is not None:  # RGB-D, or the reader decided
        return capture
    return orient_eyes(capture, eyes)
