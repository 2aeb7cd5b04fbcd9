"""Parquet shards: one row per still sample (``<split>-*.parquet``), one row per clip frame (``clips-<split>-*.parquet``).

Stills and clip frames live in separate files because their columns differ
(a frame has its clip id, frame index, timestamp and pose); DuckDB reads each
kind with one glob (``read_parquet('out/train-*.parquet')``,
``read_parquet('out/clips-*.parquet')``).

Still columns: ``sample_id split contributor license source_kind source_format
device original_name width height baseline_m depth_is_metric K`` (9 doubles,
row-major) ``left right disparity depth confidence valid`` (PNG bytes; depth
null when the sample has none) ``meta`` (the sample's meta.json).

Clip frame columns: ``sample_id`` (the clip id) ``frame_index`` (0-based, time
order) ``frame_count`` ``timestamp_s`` ``source_index`` ``pose`` (16 doubles,
row-major 4x4 camera-to-world, OpenCV axes; null when unknown) ``K`` (9 doubles)
``fps poses_are_metric layout`` and the still columns; ``meta`` is the clip's
meta.json with ``frames`` and ``files`` cut to this frame (so the 16-bit maps'
scale and offset are at hand). Extra ground truth (flow, occlusion, ...) stays
in the WebDataset export and the sample folders.

Rows are written in row groups of at most 64 as they are read, so memory stays
bounded by one row group.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from parallax.corpus.export_units import LoadedUnit, Unit, parse_file_key
from parallax.corpus.folder import manifest_bytes
from parallax.corpus.storage import Storage
from parallax.errors import require

__all__ = ["write_parquet_shard", "MAP_COLUMNS", "ROW_GROUP"]

MAP_COLUMNS = ("left", "right", "disparity", "depth", "confidence", "valid")
ROW_GROUP = 64


def _common_schema(pa: Any) -> list[tuple[str, Any]]:
    return [
        ("sample_id", pa.string()),
        ("split", pa.string()),
        ("contributor", pa.string()),
        ("license", pa.string()),
        ("source_kind", pa.string()),
        ("source_format", pa.string()),
        ("device", pa.string()),
        ("original_name", pa.string()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("baseline_m", pa.float64()),
        ("depth_is_metric", pa.bool_()),
        ("K", pa.list_(pa.float64(), 9)),
    ]


def _schema(pa: Any, kind: str) -> Any:
    cols = _common_schema(pa)
    if kind == "clip":
        cols[1:1] = [
            ("frame_index", pa.int32()),
            ("frame_count", pa.int32()),
            ("timestamp_s", pa.float64()),
            ("source_index", pa.int64()),
            ("pose", pa.list_(pa.float64(), 16)),
        ]
        cols += [("fps", pa.float64()), ("poses_are_metric", pa.bool_()), ("layout", pa.string())]
    return pa.schema([*cols, *[(k, pa.binary()) for k in MAP_COLUMNS], ("meta", pa.string())])


def _flat(matrix: Any) -> list[float] | None:
    return None if matrix is None else [float(x) for row in matrix for x in row]


def _common(meta: dict[str, Any], sid: str, split: str, K: Any) -> dict[str, Any]:
    cam, src, rights = meta["camera"], meta["source"], meta["rights"]
    return {
        "sample_id": sid,
        "split": split,
        "contributor": rights["contributor"],
        "license": rights["license"],
        "source_kind": src["kind"],
        "source_format": src["format"],
        "device": src.get("device"),
        "original_name": src["original_name"],
        "width": meta["width"],
        "height": meta["height"],
        "baseline_m": cam.get("baseline_m"),
        "depth_is_metric": bool(cam.get("depth_is_metric")),
        "K": _flat(K),
    }


def _rows(samples: Storage, unit: Unit, meta: dict[str, Any], body: bytes, split: str) -> Iterator[dict[str, Any]]:
    sid = unit.sample_id
    if unit.kind == "still":
        row = _common(meta, sid, split, meta["camera"]["K"])
        files = meta["files"]
        for k in MAP_COLUMNS:
            row[k] = samples.read_bytes(f"{sid}/{files[k]['path']}") if k in files else None
        row["meta"] = body.decode("utf-8")
        yield row
        return
    by_frame: dict[int, dict[str, dict[str, Any]]] = {}
    for file_key, info in meta["files"].items():
        by_frame.setdefault(parse_file_key(file_key)[1], {})[file_key] = info
    for frame in meta["frames"]:
        i = frame["index"]
        if not unit.start <= i < unit.stop:
            continue
        row = _common(meta, sid, split, frame["K"])
        row.update(
            frame_index=i,
            frame_count=unit.frame_count,
            timestamp_s=float(frame["timestamp_s"]),
            source_index=frame.get("source_index"),
            pose=_flat(frame.get("pose")),
            fps=float(meta["fps"]),
            poses_are_metric=bool(meta["camera"].get("poses", {}).get("metric", False)),
            layout=meta["source"].get("layout"),
        )
        files = by_frame.get(i, {})
        for k in MAP_COLUMNS:
            info = files.get(f"{k}/{i:06d}")
            row[k] = None if info is None else samples.read_bytes(f"{sid}/{info['path']}")
        row["meta"] = manifest_bytes({**meta, "frames": [frame], "files": files}).decode("utf-8")
        yield row


def write_parquet_shard(path: str, samples: Storage, units: Iterable[LoadedUnit], split: str, kind: str) -> None:
    """Write the rows of ``units`` (all of one ``kind``: ``"still"`` or ``"clip"``) as a zstd Parquet file at ``path``."""
    pa = require("pyarrow", "corpus", "the Parquet export")
    pq = require("pyarrow.parquet", "corpus", "the Parquet export")
    schema = _schema(pa, kind)
    names = schema.names
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        batch: list[dict[str, Any]] = []

        def flush() -> None:
            if batch:
                table = pa.table({n: [r[n] for r in batch] for n in names}, schema=schema)
                writer.write_table(table, row_group_size=ROW_GROUP)
                batch.clear()

        for unit, meta, body in units:
            for row in _rows(samples, unit, meta, body, split):
                batch.append(row)
                if len(batch) >= ROW_GROUP:
                    flush()
        flush()
