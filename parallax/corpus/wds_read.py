"""Reading WebDataset exports without torch: decode a still sample, and stream windows of clip frames out of a tar.

:func:`read_shard` walks one tar shard member by member (the tar's index is not
kept, so memory does not grow with the shard) and yields, in shard order, the
still samples and the clip windows asked for. Of a clip it reads only the
members of frames inside a requested window (``left``, ``right``, ``disparity``,
``valid``; depth, confidence and extras are skipped without being read) and
decodes each such frame once; frames are dropped as soon as no pending window
needs them, so at most one window's frames are held, however long the clip.
"""

from __future__ import annotations

import bisect
import json
import math
import tarfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from parallax.corpus import encoding as enc
from parallax.errors import InputFileError

__all__ = ["decode_wds_sample", "decode_clip_frame", "read_shard", "WantedKey", "FRAME_STREAMS"]

#: The members of a clip frame the loader reads.
FRAME_STREAMS = ("left", "right", "disparity", "valid")


def decode_wds_sample(members: Mapping[str, bytes]) -> dict[str, Any]:
    """Decode one still sample's WebDataset members (``{"left.png": bytes, ..., "json": bytes}``) to numpy arrays."""
    meta = json.loads(members["json"])
    files = meta["files"]

    def data(key: str) -> bytes:
        return members[f"{key}.{files[key]['path'].rsplit('.', 1)[1]}"]

    disparity = enc.decode_map16(data("disparity"), files["disparity"], name="disparity")
    valid = enc.decode_mask_png(data("valid"), name="valid", as_bool=True) & np.isfinite(disparity)
    cam = meta["camera"]
    return {
        "left": enc.decode_rgb_png(data("left"), name="left"),
        "right": enc.decode_rgb_png(data("right"), name="right"),
        "disparity": np.where(valid, disparity, 0.0).astype(np.float32),
        "valid": valid,
        "K": np.asarray(cam["K"], dtype=np.float32),
        "baseline_m": np.float32(cam["baseline_m"] if cam.get("baseline_m") is not None else math.nan),
        "sample_id": meta["sample_id"],
        "source_kind": meta["source"]["kind"],
    }


def decode_clip_frame(
    members: Mapping[str, bytes], meta: Mapping[str, Any], index: int, *, where: str
) -> dict[str, Any]:
    """Decode frame ``index`` of a clip from its members (``{"left": bytes, ...}``) and the clip's ``.json``.

    Returns ``left``, ``right`` (HxWx3 uint8), ``disparity`` (HxW float32, 0 where not
    valid), ``valid`` (HxW bool), ``K`` (3x3 float32), ``pose`` (4x4 float32
    camera-to-world, all NaN when unknown), ``timestamp_s`` (float) and ``index``.
    """
    files = meta["files"]
    frame = next((f for f in meta["frames"] if f["index"] == index), None)
    if frame is None:
        raise InputFileError(f"{where}: the clip's .json has no frame {index}; the export is damaged, re-export it")
    disparity = enc.decode_map16(members["disparity"], files[f"disparity/{index:06d}"], name=f"{where} disparity")
    valid = enc.decode_mask_png(members["valid"], name=f"{where} valid", as_bool=True) & np.isfinite(disparity)
    pose = frame.get("pose")
    return {
        "left": enc.decode_rgb_png(members["left"], name=f"{where} left"),
        "right": enc.decode_rgb_png(members["right"], name=f"{where} right"),
        "disparity": np.where(valid, disparity, 0.0).astype(np.float32),
        "valid": valid,
        "K": np.asarray(frame["K"], dtype=np.float32),
        "pose": np.full((4, 4), np.nan, np.float32) if pose is None else np.asarray(pose, dtype=np.float32),
        "timestamp_s": float(frame["timestamp_s"]),
        "index": int(index),
    }


@dataclass(frozen=True)
class WantedKey:
    """What to read of one WebDataset key: the still (``starts=()``), or clip windows starting at ``starts``."""

    key: str
    kind: str  # "still" | "clip"
    starts: tuple[int, ...] = ()


class _ClipWindows:
    """Collects the frames of one clip key from the tar stream and emits the wanted windows in order."""

    def __init__(self, wanted: WantedKey, length: int, where: str) -> None:
        self.pending = list(wanted.starts)
        self.length, self.where = length, where
        self.meta: dict[str, Any] | None = None
        self.raw: dict[int, dict[str, bytes]] = {}
        self.decoded: dict[int, dict[str, Any]] = {}

    def needed(self, index: int) -> bool:
        i = bisect.bisect_right(self.pending, index) - 1
        return i >= 0 and index < self.pending[i] + self.length

    def add(self, rest: str, data: Any) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """Take one member (``json`` or ``NNNNNN.<stream>.<ext>``); yield the windows it completes."""
        if rest == "json":
            self.meta = json.loads(data())
            return
        head, _, tail = rest.partition(".")
        stream = tail.split(".", 1)[0]
        if not head.isdigit() or stream not in FRAME_STREAMS:
            return
        index = int(head)
        if not self.needed(index):
            return
        if self.meta is None:
            raise InputFileError(f"{self.where}: frames come before the clip's .json; re-export with parallax")
        self.raw.setdefault(index, {})[stream] = data()
        while self.pending:
            start = self.pending[0]
            frames = range(start, start + self.length)
            if not all(len(self.raw.get(i, ())) == len(FRAME_STREAMS) or i in self.decoded for i in frames):
                return
            window = []
            for i in frames:
                if i not in self.decoded:
                    self.decoded[i] = decode_clip_frame(self.raw.pop(i), self.meta, i, where=f"{self.where} frame {i}")
                window.append(self.decoded[i])
            self.pending.pop(0)
            keep = self.pending[0] if self.pending else math.inf
            for i in [i for i in self.decoded if i < keep]:
                del self.decoded[i]
            for i in [i for i in self.raw if i < keep]:
                del self.raw[i]
            yield self.meta, window

    def finish(self) -> None:
        if self.pending:
            raise InputFileError(
                f"{self.where}: frames {self.pending[0]}..{self.pending[0] + self.length - 1} are missing; "
                "the export is damaged, re-export it"
            )


def read_shard(
    fh: IO[bytes], wanted: Mapping[str, WantedKey], *, length: int, where: str
) -> Iterator[tuple[WantedKey, Any]]:
    """Stream one tar shard; yield ``(wanted_key, item)`` in shard order.

    ``item`` is a still's decoded dict (:func:`decode_wds_sample`) or, for a clip,
    ``(meta, frames)``: the clip's ``.json`` and the decoded frames of one window
    of ``length`` frames (:func:`decode_clip_frame`).

    Raises
    ------
    InputFileError
        If a wanted key, frame or member is missing (the export is damaged).
    """
    seen: set[str] = set()
    current: str | None = None
    still: dict[str, bytes] = {}
    clip: _ClipWindows | None = None

    def close() -> Iterator[tuple[WantedKey, Any]]:
        if current is None:
            return
        if clip is not None:
            clip.finish()
        elif "json" not in still:
            raise InputFileError(f"{where} lacks the .json of sample {current}; the export is damaged, re-export it")
        else:
            yield wanted[current], decode_wds_sample(still)

    with tarfile.open(fileobj=fh, mode="r:") as tar:
        while (member := tar.next()) is not None:
            # TarFile keeps every header read in .members (undocumented in typeshed): clear it so memory stays flat
            tar.members.clear()  # type: ignore[attr-defined]
            key, _, rest = member.name.partition(".")
            if key not in wanted or not member.isfile():
                continue
            if key != current:
                yield from close()
                current, still = key, {}
                seen.add(key)
                clip = _ClipWindows(wanted[key], length, f"{where} {key}") if wanted[key].kind == "clip" else None

            def data(member: tarfile.TarInfo = member) -> bytes:
                extracted = tar.extractfile(member)
                return extracted.read() if extracted is not None else b""

            if clip is None:
                still[rest] = data()
            else:
                for meta, frames in clip.add(rest, data):
                    yield wanted[key], (meta, frames)
        yield from close()
    missing = sorted(set(wanted) - seen)
    if missing:
        raise InputFileError(f"{where} lacks sample {missing[0]}; the export is damaged, re-export it")
