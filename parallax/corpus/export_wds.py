"""WebDataset tar shards: still samples and clips (or stored windows of clips), deterministic bytes.

Members (``<key>`` = the sample id with ``.`` replaced by ``_``; a stored window of a
clip has the key ``<clip key>@<start>-<stop>``, 6-digit frame numbers)::

    still  <key>.left.png  <key>.right.png  <key>.disparity.png  <key>.depth.png
           <key>.confidence.png  <key>.valid.png  <key>.<extra>.png|npy  <key>.json (meta.json, last)
    clip   <key>.json (first: meta.json with frames/files cut to the window, plus window = {start, stop})
           <key>.000000.confidence.png <key>.000000.depth.png <key>.000000.disparity.png
           <key>.000000.left.png <key>.000000.right.png <key>.000000.valid.png <key>.000000.<extra>.png|npy
           <key>.000001.... (frames in time order; NNNNNN = the frame's index in the whole clip)

The clip's ``.json`` comes first so that a streaming reader knows each frame's
timestamp, pose and K (``frames[i]``) and each 16-bit map's scale and offset
(``files["disparity/NNNNNN"]``) before the frames arrive; the still's ``.json``
comes last, as in earlier exports. WebDataset's own reader groups a sample's
members by key whatever their order (``sample["000003.left.png"]``).

Tar headers: mtime 0, uid/gid 0, empty owner names, mode 0644, PAX format.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable
from typing import IO, Any

from parallax.corpus.export_units import LoadedUnit, Unit, parse_file_key
from parallax.corpus.storage import Storage

__all__ = ["write_tar_shard", "clip_member_name"]


def clip_member_name(key: str, index: int, stream: str, ext: str) -> str:
    """The member name of one frame file of a clip: ``<key>.<index:06d>.<stream>.<ext>``."""
    return f"{key}.{index:06d}.{stream}.{ext}"


def _member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def _ext(path: str) -> str:
    return path.rsplit(".", 1)[1]


def _still(tar: tarfile.TarFile, samples: Storage, unit: Unit, meta: dict[str, Any], body: bytes) -> None:
    for name, info in sorted(meta["files"].items()):
        _member(tar, f"{unit.key}.{name}.{_ext(info['path'])}", samples.read_bytes(f"{unit.sample_id}/{info['path']}"))
    _member(tar, f"{unit.key}.json", body)


def _clip(tar: tarfile.TarFile, samples: Storage, unit: Unit, meta: dict[str, Any], body: bytes) -> None:
    _member(tar, f"{unit.key}.json", body)
    by_frame: dict[int, list[tuple[str, str]]] = {}
    for file_key, info in meta["files"].items():
        stream, index = parse_file_key(file_key)
        if unit.start <= index < unit.stop:
            by_frame.setdefault(index, []).append((stream, info["path"]))
    for index in sorted(by_frame):
        for stream, path in sorted(by_frame[index]):
            data = samples.read_bytes(f"{unit.sample_id}/{path}")
            _member(tar, clip_member_name(unit.key, index, stream, _ext(path)), data)


def write_tar_shard(fh: IO[bytes], samples: Storage, units: Iterable[LoadedUnit]) -> None:
    """Write the units' files as one WebDataset tar shard to ``fh``, reading one file at a time from ``samples``."""
    with tarfile.open(fileobj=fh, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for unit, meta, body in units:
            (_clip if unit.kind == "clip" else _still)(tar, samples, unit, meta, body)
