"""Clip sample folders: write them (whole, or frame by frame), read them (whole, or a window of frames).

Layout and ``meta.json``: see :mod:`parallax.corpus.clip_sample` and ``docs/corpus.md``.
Every file is listed in ``meta.json`` ``files`` under the key ``<stream>/<index:06d>``
(e.g. ``disparity/000003``) with its path, SHA-256 and byte count, and for 16-bit
maps the scale and offset that decode it; ``streams`` says what each stream holds,
in which units and encoding; ``frames`` holds each frame's timestamp, pose and K.

* :func:`write_clip_sample_dir` / :class:`ClipSampleWriter` -- the folder appears
  whole or not at all (staged beside its final name, fsynced, renamed into place;
  on an fsspec URL, ``meta.json`` is written last). The writer takes frames one at
  a time, so a long clip never has to sit in memory.
* :func:`read_clip_sample_dir` -- the whole clip, every file checked against its hash.
* :func:`open_clip_sample_dir` -> :class:`ClipSampleReader` -- reads ``meta.json``
  only; ``reader.read_frames(i, i + T)`` then reads (and hash-checks) just those
  frames' files: what a windowed loader needs. (Reading lives in
  :mod:`parallax.corpus.clip_reader`; its names are re-exported here.)
"""

from __future__ import annotations

import os
from types import TracebackType
from typing import Any

from parallax.corpus import encoding as enc
from parallax.corpus.clip_reader import ClipSampleReader, open_clip_sample_dir, read_clip_sample_dir
from parallax.corpus.clip_sample import (
    CLIP_FORMAT,
    CLIP_FORMAT_VERSION,
    CORE_STREAMS,
    ClipFrame,
    ClipInfo,
    ClipSample,
    FrameRules,
    file_key,
)
from parallax.corpus.folder import StagedFolder, encode_extra, file_entry, jsonable, manifest_bytes
from parallax.errors import OutputError, ParameterError

__all__ = [
    "ClipEncoder",
    "ClipSampleWriter",
    "ClipSampleReader",
    "encode_clip_sample",
    "write_clip_sample_dir",
    "read_clip_sample_dir",
    "open_clip_sample_dir",
    "file_key",
    "CORE_STREAMS",
]

_NODATA = "stored 0 = no value (NaN in memory)"


def _core_streams(info: ClipInfo, has_depth: bool) -> dict[str, dict[str, Any]]:
    pattern = "{stream}/{index:06d}.png"
    out: dict[str, dict[str, Any]] = {
        "left": {"content": "rectified left view", "encoding": "png8-rgb"},
        "right": {"content": "rectified right view", "encoding": "png8-rgb"},
        "disparity": {
            "content": "disparity of the rectified left view, x_right = x_left - d",
            "units": "px",
            "encoding": "png16-affine",
            "decoding": f"value = (stored - offset) / scale, scale and offset in each file's entry; {_NODATA}",
        },
        "confidence": {
            "content": "matcher confidence in [0, 1] (1 where the disparity is exact ground truth)",
            "units": "1",
            "encoding": "png16-affine",
            "decoding": "value = stored / 65535 (0 = no confidence)",
        },
        "valid": {
            "content": "pixels whose disparity is trusted",
            "encoding": "png8-mask",
            "decoding": "255 = valid, 0 = not",
        },
    }
    if has_depth:
        out["depth"] = {
            "content": "depth along the optical axis (z) of the rectified left camera",
            "units": "m" if info.depth_is_metric else "relative (median 1, larger = farther)",
            "encoding": "png16-affine",
            "decoding": f"value = stored / scale, scale in each file's entry; {_NODATA}",
        }
    for name, d in out.items():
        d["path"] = pattern.replace("{stream}", name)
    return out


class ClipEncoder:
    """Encode a clip frame by frame into ``(file name, bytes)`` and build its manifest.

    Parameters
    ----------
    info : ClipInfo
        The clip's facts; its ``extras_info`` must describe the frames' extras.
    """

    def __init__(self, info: ClipInfo) -> None:
        if not isinstance(info, ClipInfo):
            raise ParameterError(f"a clip needs a ClipInfo, got {type(info).__name__}")
        self.info = info
        self.rules = FrameRules(info)
        self.entries: dict[str, dict[str, Any]] = {}
        self.frame_records: list[dict[str, Any]] = []
        self.streams: dict[str, dict[str, Any]] = {}

    @classmethod
    def from_parts(
        cls,
        info: ClipInfo,
        *,
        shape: tuple[int, int],
        streams: dict[str, dict[str, Any]],
        frames: list[dict[str, Any]],
        entries: dict[str, dict[str, Any]],
    ) -> ClipEncoder:
        """An encoder that holds frames encoded elsewhere (e.g. by several encoders, one per chunk of a clip,
        then renumbered): ``frames`` are :meth:`add`'s frame records (index, timestamp_s, source_index, K, pose),
        ``entries`` its ``files`` entries and ``streams`` its stream descriptions; :meth:`manifest` describes them.
        """
        encoder = cls(info)
        encoder.rules.shape = shape
        encoder.rules.count = len(frames)
        encoder.streams = dict(streams)
        encoder.frame_records = list(frames)
        encoder.entries = dict(entries)
        return encoder

    def add(self, frame: ClipFrame) -> list[tuple[str, bytes]]:
        """Check and encode the next frame; return its files as ``(name, bytes)`` pairs."""
        self.rules.check(frame)
        index = self.rules.count - 1
        if index == 0:
            self.streams = _core_streams(self.info, frame.depth is not None)
        out: list[tuple[str, bytes]] = []

        def add(stream: str, ext: str, data: bytes, **info: Any) -> None:
            name = f"{stream}/{index:06d}.{ext}"
            out.append((name, data))
            self.entries[file_key(stream, index)] = file_entry(name, data, **info)

        add("left", "png", enc.encode_rgb_png(frame.left), encoding="png8-rgb")
        add("right", "png", enc.encode_rgb_png(frame.right), encoding="png8-rgb")
        e = enc.choose_encoding("disparity", frame.disparity_px)
        add("disparity", "png", enc.encode_map16(frame.disparity_px, e), units="px", **e)
        if frame.depth is not None:
            e = enc.choose_encoding("depth", frame.depth)
            units = "m" if self.info.depth_is_metric else "relative"
            add("depth", "png", enc.encode_map16(frame.depth, e), units=units, **e)
        confidence, valid = frame.confidence, frame.valid
        if confidence is None or valid is None:  # pragma: no cover - __post_init__ always sets both
            raise ParameterError("confidence and valid are set on construction")
        e = enc.choose_encoding("confidence", confidence)
        add("confidence", "png", enc.encode_map16(confidence, e), units="1", **e)
        add("valid", "png", enc.encode_mask_png(valid), encoding="png8-mask", true_value=255)
        for name in sorted(frame.extras):
            ext, data, info = encode_extra(frame.extras[name])
            add(name, ext, data, **info)
            if index == 0:
                arr = frame.extras[name]
                self.streams[name] = {
                    **jsonable(self.info.extras_info[name]),
                    "path": f"{name}/{{index:06d}}.{ext}",
                    "shape": ["H", "W", *arr.shape[2:]],
                    **info,
                }
        self.frame_records.append(
            {
                "index": index,
                "timestamp_s": frame.timestamp_s,
                "source_index": frame.source_index,
                "K": frame.K.tolist(),
                "pose": None if frame.pose is None else frame.pose.tolist(),
            }
        )
        return out

    def manifest(self) -> dict[str, Any]:
        """The content of ``meta.json`` for the frames added so far (at least one)."""
        if not self.frame_records or self.rules.shape is None:
            raise ParameterError(f"clip {self.info.sample_id} has no frames; add at least one before closing")
        info = self.info
        h, w = self.rules.shape
        times = [r["timestamp_s"] for r in self.frame_records]
        return {
            "format": CLIP_FORMAT,
            "format_version": CLIP_FORMAT_VERSION,
            "sample_id": info.sample_id,
            "width": w,
            "height": h,
            "frame_count": len(self.frame_records),
            "fps": info.fps,
            "duration_s": times[-1] - times[0] + 1.0 / info.fps,
            "camera": {
                "convention": "opencv: x right, y down, z forward; pixel (0,0) = centre of top-left pixel",
                "intrinsics": "per frame: frames[i].K, 3x3, pixels of the stored rectified left view",
                "baseline_m": info.baseline_m,
                "doffs_px": float(info.doffs_px),
                "depth_is_metric": bool(info.depth_is_metric),
                "disparity_convention": "x_right = x_left - d, pixels of the rectified left view",
                "poses": {
                    "convention": "frames[i].pose: 4x4 camera-to-world of the rectified left camera, OpenCV axes; "
                    "the right camera is baseline_m along its x axis; null = unknown",
                    "metric": bool(info.poses_are_metric),
                    "world_frame": info.world_frame,
                },
                "rectification": info.rectification.to_dict() if info.rectification is not None else None,
                "facts": jsonable(info.camera_facts),
            },
            "source": {
                "kind": info.source_kind,
                "format": info.source_format,
                "layout": info.layout,
                "device": info.device,
                "original_name": info.original_name,
                "content_sha256": info.content_sha256,
            },
            "rights": {"license": info.license, "consent_id": info.consent_id, "contributor": info.contributor},
            "processing": jsonable(info.processing),
            "privacy": jsonable(info.privacy),
            "quality": jsonable(info.quality),
            "lineage": jsonable(info.lineage),
            "streams": self.streams,
            "frames": self.frame_records,
            "files": self.entries,
        }


def encode_clip_sample(clip: ClipSample) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Encode ``clip`` in memory: ``({file name: bytes}, manifest)`` (``meta.json`` not in the dict)."""
    if not isinstance(clip, ClipSample):
        raise ParameterError(f"encode_clip_sample needs a ClipSample, got {type(clip).__name__}")
    encoder = ClipEncoder(clip.info)
    files: dict[str, bytes] = {}
    for frame in clip.frames:
        files.update(encoder.add(frame))
    return files, encoder.manifest()


class ClipSampleWriter:
    """Write a clip sample folder frame by frame; it appears whole when the writer closes, or not at all.

    Parameters
    ----------
    directory : path-like or str
        The clip folder to create (it must not exist), or an fsspec URL.
    info : ClipInfo
        The clip's facts.

    Examples
    --------
    >>> with ClipSampleWriter("out/clip-1", info) as writer:  # doctest: +SKIP
    ...     for frame in frames:
    ...         writer.add_frame(frame)
    >>> writer.manifest["frame_count"]  # doctest: +SKIP

    Leaving the ``with`` block normally closes the writer (``meta.json`` written,
    folder renamed into place); leaving it with an exception removes everything.

    Raises
    ------
    OutputError
        If the folder exists or cannot be written.
    ParameterError
        If a frame does not fit the clip (size, extras, timestamps), or no frame was added.
    """

    def __init__(self, directory: str | os.PathLike[str], info: ClipInfo) -> None:
        self.encoder = ClipEncoder(info)
        self.folder = StagedFolder(directory)
        self.manifest: dict[str, Any] | None = None

    def update_info(self, **changes: Any) -> None:
        """Change clip facts known only after the frames (e.g. ``quality``, ``lineage``) before closing.

        ``sample_id`` and ``extras_info`` cannot change once frames are written.
        """
        import dataclasses

        if set(changes) & {"sample_id", "extras_info"} and self.encoder.rules.count:
            raise ParameterError("sample_id and extras_info cannot change after frames were added")
        info = dataclasses.replace(self.encoder.info, **changes)
        self.encoder.info = info
        self.encoder.rules.info = info

    def add_frame(self, frame: ClipFrame) -> None:
        """Encode and write the next frame (removing everything written if it does not fit)."""
        try:
            for name, data in self.encoder.add(frame):
                self.folder.write(name, data)
        except (ParameterError, OutputError):
            self.folder.abort()
            raise

    def close(self) -> dict[str, Any]:
        """Write ``meta.json`` and make the folder appear; return the manifest."""
        if self.manifest is not None:
            return self.manifest
        try:
            manifest = self.encoder.manifest()
        except ParameterError:
            self.folder.abort()
            raise
        self.folder.write("meta.json", manifest_bytes(manifest))
        self.folder.commit()
        self.manifest = manifest
        return manifest

    def abort(self) -> None:
        """Remove everything written so far."""
        self.folder.abort()

    def __enter__(self) -> ClipSampleWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()


def write_clip_sample_dir(clip: ClipSample, directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Write ``clip`` as the self-describing folder ``directory`` (whole or not at all); return the manifest.

    Parameters
    ----------
    clip : ClipSample
        What to write.
    directory : path-like or str
        The folder to create; it must not exist yet. An fsspec URL works too
        (files first, ``meta.json`` last).

    Raises
    ------
    OutputError
        If ``directory`` exists or cannot be written.
    """
    if not isinstance(clip, ClipSample):
        raise ParameterError(f"write_clip_sample_dir needs a ClipSample, got {type(clip).__name__}")
    with ClipSampleWriter(directory, clip.info) as writer:
        for frame in clip.frames:
            writer.add_frame(frame)
    return writer.close()
