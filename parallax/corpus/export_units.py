"""What an export is made of: one unit per still sample, one per clip (or per stored window of a clip).

A unit knows its sample, its WebDataset key, its frame range (clips) and its
size in bytes (from the ``files`` entries of ``meta.json``, so shards are
planned before any image is read); it does not keep the manifest, so planning a
large corpus stays small. The shard writers (:mod:`parallax.corpus.export_wds`,
:mod:`parallax.corpus.export_parquet`) get one unit at a time with its manifest
(:func:`read_unit`) and read its files one at a time, so memory stays bounded by
the largest manifest and file.

Stored clip windows (``clip_window=T``, ``clip_stride=S``, WebDataset only):
windows start at frames ``0, S, 2S, ...`` and hold ``T`` frames; the last one
ends at the clip's last frame and may be shorter; ``S <= T``, so every frame is
exported. A clip of at most ``T`` frames (or ``clip_window=None``) is one unit.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from parallax.corpus.folder import manifest_bytes
from parallax.corpus.storage import Storage
from parallax.errors import InputFileError, ParameterError

__all__ = [
    "Unit",
    "wds_key",
    "clip_windows",
    "check_clip_window",
    "load_units",
    "parse_file_key",
    "clip_part_meta",
    "read_unit",
    "LoadedUnit",
]


def wds_key(sample_id: str) -> str:
    """The WebDataset key of a sample: its id with ``.`` replaced by ``_`` (WebDataset splits keys at dots)."""
    return sample_id.replace(".", "_")


def parse_file_key(key: str) -> tuple[str, int]:
    """``"disparity/000003"`` -> ``("disparity", 3)``: a clip's ``files`` key split into stream and frame index."""
    stream, _, index = key.rpartition("/")
    return stream, int(index)


@dataclass(frozen=True, kw_only=True)
class Unit:
    """One WebDataset sample (or the rows of one sample in Parquet): a still, a clip, or a stored window of a clip."""

    sample_id: str
    kind: str  # "still" | "clip"
    key: str
    start: int = 0
    stop: int = 1
    frame_count: int = 1
    size: int = 0

    @property
    def frames(self) -> int:
        """Frames this unit holds (1 for a still)."""
        return self.stop - self.start


def check_clip_window(window: int | None, stride: int | None) -> tuple[int | None, int | None]:
    """Validate ``clip_window`` / ``clip_stride`` (frames); the stride defaults to the window (no overlap)."""
    if window is None:
        if stride is not None:
            raise ParameterError(f"clip_stride={stride} needs clip_window; give --clip-window T as well")
        return None, None
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ParameterError(f"clip_window={window!r} must be a whole number of frames >= 1 (or omitted: whole clips)")
    stride = window if stride is None else stride
    if isinstance(stride, bool) or not isinstance(stride, int) or not 1 <= stride <= window:
        raise ParameterError(
            f"clip_stride={stride!r} must be a whole number of frames from 1 to clip_window={window}, "
            "so that every frame is exported"
        )
    return window, stride


def clip_windows(frame_count: int, window: int | None, stride: int | None) -> list[tuple[int, int]]:
    """The stored windows ``[(start, stop), ...]`` of a clip of ``frame_count`` frames (see the module docstring)."""
    if window is None or stride is None or frame_count <= window:
        return [(0, frame_count)]
    out = []
    start = 0
    while True:
        stop = min(start + window, frame_count)
        out.append((start, stop))
        if stop >= frame_count:
            return out
        start += stride


def clip_part_meta(meta: dict[str, Any], start: int, stop: int) -> bytes:
    """The ``<key>.json`` of a stored clip window: ``meta.json`` with ``frames`` and ``files`` cut to
    ``[start, stop)`` and ``window = {"start", "stop"}`` (frame indices stay those of the whole clip)."""
    part = dict(meta)
    part["frames"] = [f for f in meta["frames"] if start <= f["index"] < stop]
    part["files"] = {k: v for k, v in meta["files"].items() if start <= parse_file_key(k)[1] < stop}
    part["window"] = {"start": start, "stop": stop}
    return manifest_bytes(part)


def _clip_units(sid: str, meta: dict[str, Any], window: int | None, stride: int | None) -> Iterator[Unit]:
    count = int(meta["frame_count"])
    sizes = [0] * count
    for key, info in meta["files"].items():
        sizes[parse_file_key(key)[1]] += int(info.get("bytes", 0))
    parts = clip_windows(count, window, stride)
    for start, stop in parts:
        body = clip_part_meta(meta, start, stop)
        key = wds_key(sid) if len(parts) == 1 else f"{wds_key(sid)}@{start:06d}-{stop:06d}"
        yield Unit(
            sample_id=sid,
            kind="clip",
            key=key,
            start=start,
            stop=stop,
            frame_count=count,
            size=len(body) + sum(sizes[start:stop]),
        )


def load_units(
    storage: Storage, sample_ids: list[str], *, window: int | None = None, stride: int | None = None
) -> list[Unit]:
    """The units of ``sample_ids`` (sorted by sample id, then start frame), from their ``meta.json`` alone.

    Raises
    ------
    InputFileError
        If a sample's ``meta.json`` is missing or not a sample manifest (run ``parallax corpus verify``).
    """
    from parallax.corpus.clip_sample import CLIP_FORMAT

    units: list[Unit] = []
    for sid in sorted(sample_ids):
        try:
            raw = storage.read_bytes(f"{sid}/meta.json")
            meta = json.loads(raw)
            is_clip = meta.get("format") == CLIP_FORMAT
            if is_clip:
                units.extend(_clip_units(sid, meta, window, stride))
            else:
                size = len(raw) + sum(int(i.get("bytes", 0)) for i in meta["files"].values())
                units.append(Unit(sample_id=sid, kind="still", key=wds_key(sid), size=size))
        except FileNotFoundError as exc:
            raise InputFileError(
                f"sample {sid}: meta.json is missing in {storage.url}; run parallax corpus verify"
            ) from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise InputFileError(
                f"sample {sid}: meta.json is not a complete sample manifest ({exc}); run parallax corpus verify"
            ) from exc
    return units


#: A unit with its sample's parsed ``meta.json`` and the bytes of its WebDataset ``.json`` member.
LoadedUnit = tuple[Unit, dict[str, Any], bytes]


def read_unit(storage: Storage, unit: Unit) -> LoadedUnit:
    """``(unit, meta, json bytes)``: a still's ``meta.json`` as stored, a clip's cut to the unit's frames."""
    try:
        raw = storage.read_bytes(f"{unit.sample_id}/meta.json")
    except FileNotFoundError as exc:
        raise InputFileError(
            f"sample {unit.sample_id}: meta.json disappeared in {storage.url} during the export; export again"
        ) from exc
    meta = json.loads(raw)
    return unit, meta, raw if unit.kind == "still" else clip_part_meta(meta, unit.start, unit.stop)
