"""Reading clip sample folders: the whole clip, or any window of frames without reading the rest.

See :mod:`parallax.corpus.clip_folder` for the layout (and the writers); the
names here are also importable from there.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from parallax.corpus import encoding as enc
from parallax.corpus.clip_sample import (
    CLIP_FORMAT,
    CLIP_FORMAT_VERSION,
    CORE_STREAMS,
    ClipFrame,
    ClipInfo,
    ClipSample,
    file_key,
)
from parallax.corpus.folder import decode_extra, folder_reader, load_manifest, read_verified
from parallax.errors import InputFileError, ParameterError
from parallax.stereo.types import Rectification

__all__ = ["ClipSampleReader", "open_clip_sample_dir", "read_clip_sample_dir"]


def _info_from_manifest(m: Mapping[str, Any]) -> ClipInfo:
    cam, src, rights = m["camera"], m["source"], m["rights"]
    rect = cam.get("rectification")
    poses = cam.get("poses") or {}
    core = set(CORE_STREAMS)
    extras_info = {
        name: {k: v for k, v in s.items() if k not in ("path", "shape", "encoding", "dtype")}
        for name, s in m.get("streams", {}).items()
        if name not in core
    }
    return ClipInfo(
        sample_id=m["sample_id"],
        fps=float(m["fps"]),
        baseline_m=cam.get("baseline_m"),
        doffs_px=float(cam.get("doffs_px", 0.0)),
        depth_is_metric=bool(cam.get("depth_is_metric", False)),
        poses_are_metric=bool(poses.get("metric", False)),
        world_frame=poses.get("world_frame", "the first frame's left camera"),
        rectification=Rectification.from_dict(rect) if rect else None,
        source_kind=src["kind"],
        source_format=src["format"],
        layout=src.get("layout"),
        device=src.get("device"),
        original_name=src["original_name"],
        license=rights["license"],
        consent_id=rights["consent_id"],
        contributor=rights["contributor"],
        quality=m.get("quality", {}),
        lineage=m.get("lineage", {}),
        camera_facts=cam.get("facts", {}),
        processing=m.get("processing", {}),
        privacy=m.get("privacy", {}),
        content_sha256=src.get("content_sha256"),
        extras_info=extras_info,
    )


class ClipSampleReader:
    """Random access to the frames of a clip sample folder: reads ``meta.json`` now, frame files on demand.

    Parameters
    ----------
    directory : path-like or str
        The clip folder (local path or fsspec URL).
    verify : bool
        Check each file read against its SHA-256 in ``meta.json`` (default True).

    Attributes
    ----------
    info : ClipInfo
        The clip's facts (validated).
    manifest : dict
        The parsed ``meta.json``.

    Raises
    ------
    InputFileError
        If the folder is missing, is not a clip sample, or its ``meta.json`` is corrupt.
    """

    def __init__(self, directory: str | os.PathLike[str], *, verify: bool = True) -> None:
        self._read, self.where = folder_reader(directory, what="write_clip_sample_dir")
        self.verify = verify
        self.manifest = load_manifest(self._read, where=self.where, fmt=CLIP_FORMAT, version=CLIP_FORMAT_VERSION)
        try:
            self.info = _info_from_manifest(self.manifest)
            self._frames: list[dict[str, Any]] = list(self.manifest["frames"])
            self.streams: dict[str, dict[str, Any]] = dict(self.manifest["streams"])
            if [r["index"] for r in self._frames] != list(range(len(self._frames))) or not self._frames:
                raise ValueError("frames are not numbered 0..F-1")
        except (KeyError, TypeError, ValueError) as exc:
            raise InputFileError(
                f"{self.where}/meta.json is not a complete clip manifest ({exc}); the sample is corrupt, re-create it"
            ) from exc
        self.extra_names = tuple(sorted(n for n in self.streams if n not in CORE_STREAMS))

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def frame_count(self) -> int:
        """Number of frames."""
        return len(self._frames)

    @property
    def width(self) -> int:
        """Width of the views in pixels."""
        return int(self.manifest["width"])

    @property
    def height(self) -> int:
        """Height of the views in pixels."""
        return int(self.manifest["height"])

    @property
    def timestamps_s(self) -> np.ndarray:
        """``(F,)`` float64 timestamps in seconds (from ``meta.json``; no frame file is read)."""
        return np.array([r["timestamp_s"] for r in self._frames], dtype=np.float64)

    @property
    def poses(self) -> np.ndarray:
        """``(F, 4, 4)`` float64 camera-to-world poses, all NaN where unknown (from ``meta.json``)."""
        return np.stack(
            [np.full((4, 4), np.nan) if r["pose"] is None else np.array(r["pose"], float) for r in self._frames]
        )

    @property
    def intrinsics(self) -> np.ndarray:
        """``(F, 3, 3)`` float64 intrinsics of each frame (from ``meta.json``)."""
        return np.stack([np.array(r["K"], dtype=np.float64) for r in self._frames])

    def _blob(self, stream: str, index: int) -> tuple[bytes, dict[str, Any], str]:
        key = file_key(stream, index)
        info = self.manifest["files"].get(key)
        if info is None:
            raise InputFileError(f"{self.where}/meta.json lists no file {key}; the sample is corrupt, re-create it")
        data = read_verified(self._read, info, where=self.where, verify=self.verify)
        return data, info, f"{self.where}/{info['path']}"

    def read_stream(self, stream: str, index: int) -> np.ndarray:
        """One decoded map of one frame, without reading the frame's other files.

        ``stream`` is a core stream (``left``, ``right``: ``HxWx3`` uint8; ``disparity``,
        ``depth``, ``confidence``: ``HxW`` float32, NaN = no value; ``valid``: bool) or an
        extra (as stored: bool/uint8 PNG or NPY).
        """
        n = len(self._frames)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < n:
            raise ParameterError(f"frame index {index!r} is outside the clip's {n} frames (0..{n - 1})")
        if stream not in self.streams:
            raise ParameterError(f"{self.where}: the clip has no stream {stream!r}; it has {sorted(self.streams)}")
        data, info, name = self._blob(stream, int(index))
        if stream in ("left", "right"):
            return enc.decode_rgb_png(data, name=name)
        if stream == "valid":
            return enc.decode_mask_png(data, name=name, as_bool=True)
        if stream in CORE_STREAMS:
            return enc.decode_map16(data, info, name=name)
        return decode_extra(data, info, name=name)

    def read_frame(self, index: int, *, extras: bool | Sequence[str] = True) -> ClipFrame:
        """Read frame ``index`` (0-based; negative counts from the end).

        Parameters
        ----------
        extras : bool or sequence of str
            Which extra maps to read: all (True), none (False), or these names.
        """
        n = len(self._frames)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not -n <= index < n:
            raise ParameterError(f"frame index {index!r} is outside the clip's {n} frames (0..{n - 1})")
        index = int(index) % n
        names = self.extra_names if extras is True else () if extras is False else tuple(extras)
        unknown = sorted(set(names) - set(self.extra_names))
        if unknown:
            raise ParameterError(f"{self.where}: the clip has no extra maps {unknown}; it has {list(self.extra_names)}")
        rec = self._frames[index]

        def rgb(stream: str) -> np.ndarray:
            data, _, name = self._blob(stream, index)
            return enc.decode_rgb_png(data, name=name)

        def map16(stream: str) -> np.ndarray:
            data, info, name = self._blob(stream, index)
            return enc.decode_map16(data, info, name=name)

        data, _, name = self._blob("valid", index)
        valid = enc.decode_mask_png(data, name=name, as_bool=True)
        extra_maps = {}
        for extra in names:
            blob, info, name = self._blob(extra, index)
            extra_maps[extra] = decode_extra(blob, info, name=name)
        try:
            return ClipFrame(
                timestamp_s=rec["timestamp_s"],
                left=rgb("left"),
                right=rgb("right"),
                disparity_px=map16("disparity"),
                depth=map16("depth") if "depth" in self.streams else None,
                confidence=map16("confidence"),
                valid=valid,
                K=np.array(rec["K"], dtype=np.float64),
                pose=None if rec["pose"] is None else np.array(rec["pose"], dtype=np.float64),
                source_index=rec.get("source_index"),
                extras=extra_maps,
            )
        except ParameterError as exc:
            raise InputFileError(f"{self.where}: frame {index} does not decode to a valid frame ({exc})") from exc

    def read_frames(
        self, start: int = 0, stop: int | None = None, *, extras: bool | Sequence[str] = True
    ) -> list[ClipFrame]:
        """Read frames ``start .. stop - 1`` (a window; ``stop=None``: to the end). Only their files are read.

        Raises
        ------
        ParameterError
            If the window is empty or reaches outside the clip.
        """
        n = len(self._frames)
        stop = n if stop is None else stop
        if not (0 <= start < stop <= n):
            raise ParameterError(f"frame window [{start}, {stop}) is not inside the clip's {n} frames")
        return [self.read_frame(i, extras=extras) for i in range(start, stop)]

    def __getitem__(self, key: int | slice) -> ClipFrame | list[ClipFrame]:
        if isinstance(key, slice):
            return [self.read_frame(i) for i in range(*key.indices(len(self._frames)))]
        return self.read_frame(key)

    def read_clip(self, *, extras: bool | Sequence[str] = True) -> ClipSample:
        """The whole clip as a :class:`ClipSample`."""
        frames = self.read_frames(extras=extras)
        info = self.info
        if extras is not True:
            kept = {n: d for n, d in info.extras_info.items() if n in set(frames[0].extras)}
            info = dataclasses.replace(info, extras_info=kept)
        return ClipSample(info=info, frames=tuple(frames))

    def iter_frames(self, *, extras: bool | Sequence[str] = True) -> Iterable[ClipFrame]:
        """Yield the frames one at a time, in order (memory stays flat with clip length)."""
        for i in range(len(self._frames)):
            yield self.read_frame(i, extras=extras)


def open_clip_sample_dir(directory: str | os.PathLike[str], *, verify: bool = True) -> ClipSampleReader:
    """Open a clip sample folder for reading frames on demand (see :class:`ClipSampleReader`)."""
    return ClipSampleReader(directory, verify=verify)


def read_clip_sample_dir(directory: str | os.PathLike[str], *, verify: bool = True) -> ClipSample:
    """Read a whole clip sample folder written by :func:`write_clip_sample_dir` (every hash checked).

    Raises
    ------
    InputFileError
        If the folder is missing, incomplete, corrupt or not a clip sample.
    """
    return ClipSampleReader(directory, verify=verify).read_clip()
