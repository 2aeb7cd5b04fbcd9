"""Export the active samples as WebDataset tar shards or Parquet files, with a dataset card and Croissant.

Output folder (a local path or any fsspec URL)::

    <out>/
        train-000000.tar ...   (or .parquet)   shards, per split, in sample-id order
        export.json            which samples each shard holds, with SHA-256 of every shard
        README.md              dataset card with Hugging Face YAML front matter
        croissant.json         MLCommons Croissant 1.0 with its responsible-AI (RAI) fields

Deterministic: samples are sorted, tar headers carry fixed mtime (0), uid/gid
(0), owner names ("") and mode (0644); the same corpus exports byte-identical
shards. Splits are by contributor (a salted SHA-256 of the contributor id picks
train/val/test), so nobody's captures fall into two splits.
WebDataset keys are sample ids with ``.`` replaced by ``_`` (WebDataset splits
keys at the first dot); ``<key>.json`` holds the sample's ``meta.json``.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from typing import Any

from parallax.corpus.catalog import utc_now
from parallax.corpus.storage import Storage
from parallax.corpus.store import Corpus
from parallax.errors import ParameterError, require

__all__ = ["ExportResult", "export_corpus", "split_of", "parse_size", "SPLITS", "FORMATS"]

SPLITS = ("train", "val", "test")
FORMATS = ("webdataset", "parquet")
_MAP_KEYS = ("left", "right", "disparity", "depth", "confidence", "valid")


def parse_size(text: str | int) -> int:
    """Bytes from ``"256MB"``, ``"1GB"``, ``"500kB"`` or a plain integer (decimal units)."""
    if isinstance(text, int):
        value = text
    else:
        s = str(text).strip().upper().replace(" ", "")
        units = {"GB": 10**9, "MB": 10**6, "KB": 10**3, "G": 10**9, "M": 10**6, "K": 10**3, "B": 1}
        mult = 1
        for unit, factor in units.items():
            if s.endswith(unit):
                s, mult = s[: -len(unit)], factor
                break
        try:
            value = int(float(s) * mult)
        except ValueError as exc:
            raise ParameterError(f"shard size {text!r} is not a size such as 256MB or 1GB") from exc
    if value < 1024:
        raise ParameterError(f"shard size {text!r} is below 1 kB; give e.g. 256MB")
    return value


def split_of(contributor: str, ratios: tuple[float, float, float] = (0.8, 0.1, 0.1), *, salt: str = "parallax") -> str:
    """The split of every sample of ``contributor``: a salted SHA-256 mapped to [0, 1) against ``ratios``."""
    u = int.from_bytes(hashlib.sha256(f"{salt}:{contributor}".encode()).digest()[:8], "big") / 2.0**64
    if u < ratios[0]:
        return "train"
    return "val" if u < ratios[0] + ratios[1] else "test"


@dataclass(frozen=True, kw_only=True)
class ExportResult:
    """What :func:`export_corpus` wrote."""

    export_id: str
    url: str
    format: str
    samples: dict[str, list[str]]
    shards: list[dict[str, Any]]
    bytes: int
    skipped_clips: list[str] = field(default_factory=list)
    """Clip samples left out: exporting clips is not implemented yet (issue 12 item 6)."""


def _is_clip(corpus: Corpus, sid: str) -> bool:
    from parallax.corpus.clip_sample import CLIP_FORMAT

    return json.loads(corpus.storage.read_bytes(f"{sid}/meta.json")).get("format") == CLIP_FORMAT


def _wds_key(sample_id: str) -> str:
    return sample_id.replace(".", "_")


def _tar_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def _sample_files(corpus: Corpus, sid: str) -> tuple[dict[str, Any], dict[str, bytes]]:
    meta_bytes = corpus.storage.read_bytes(f"{sid}/meta.json")
    meta = json.loads(meta_bytes)
    files = {key: corpus.storage.read_bytes(f"{sid}/{info['path']}") for key, info in sorted(meta["files"].items())}
    files["meta"] = meta_bytes
    return meta, files


def _tar_shard(entries: list[tuple[str, dict[str, Any], dict[str, bytes]]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for sid, meta, files in entries:
            key = _wds_key(sid)
            for name, data in files.items():
                if name == "meta":
                    continue
                ext = meta["files"][name]["path"].rsplit(".", 1)[1]
                _tar_member(tar, f"{key}.{name}.{ext}", data)
            _tar_member(tar, f"{key}.json", files["meta"])
    return buf.getvalue()


def _parquet_shard(entries: list[tuple[str, dict[str, Any], dict[str, bytes]]], split: str) -> bytes:
    pa = require("pyarrow", "corpus", "the Parquet export")
    pq = require("pyarrow.parquet", "corpus", "the Parquet export")
    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "sample_id",
            "split",
            "contributor",
            "license",
            "source_kind",
            "source_format",
            "device",
            "original_name",
            "width",
            "height",
            "baseline_m",
            "depth_is_metric",
            "K",
            *_MAP_KEYS,
            "meta",
        )
    }
    for sid, meta, files in entries:
        cam, src, rights = meta["camera"], meta["source"], meta["rights"]
        for k, v in (
            ("sample_id", sid),
            ("split", split),
            ("contributor", rights["contributor"]),
            ("license", rights["license"]),
            ("source_kind", src["kind"]),
            ("source_format", src["format"]),
            ("device", src.get("device")),
            ("original_name", src["original_name"]),
            ("width", meta["width"]),
            ("height", meta["height"]),
            ("baseline_m", cam.get("baseline_m")),
            ("depth_is_metric", bool(cam.get("depth_is_metric"))),
            ("K", [float(x) for row in cam["K"] for x in row]),
            ("meta", files["meta"].decode("utf-8")),
        ):
            cols[k].append(v)
        for k in _MAP_KEYS:
            cols[k].append(files.get(k))
    schema = pa.schema(
        [
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
            *[(k, pa.binary()) for k in _MAP_KEYS],
            ("meta", pa.string()),
        ]
    )
    table = pa.table(cols, schema=schema)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd", row_group_size=64)
    return buf.getvalue()


def export_corpus(
    corpus: Corpus,
    *,
    fmt: str,
    out: str,
    shard_size: int | str = "256MB",
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    salt: str = "parallax",
    name: str | None = None,
) -> ExportResult:
    """Export every active sample to ``out`` in ``fmt``; record the export in the catalog.

    Re-exporting to the same ``out`` replaces the previous export there (its
    shards that are no longer part of the new export are deleted).

    Parameters
    ----------
    fmt : {"webdataset", "parquet"}
    out : str
        Output folder or fsspec URL.
    shard_size : int or str
        Target shard size (``"256MB"``); a shard closes before it would exceed it
        (a single larger sample still gets its own shard).
    ratios : tuple of 3 floats
        Train/val/test shares of contributors (hash-based).
    """
    from parallax.corpus.card import croissant, dataset_card

    if fmt not in FORMATS:
        raise ParameterError(f"export format {fmt!r} is not one of {', '.join(FORMATS)}")
    if len(ratios) != 3 or any(r < 0 for r in ratios) or abs(sum(ratios) - 1) > 1e-6:
        raise ParameterError(f"split ratios {ratios} must be three non-negative numbers adding up to 1")
    target = parse_size(shard_size)
    store = Storage(out)
    store.makedirs()
    rows = corpus.catalog.active_samples()
    # Clip samples (parallax-clip folders) have their own layout; their shards come with issue 12 item 6.
    skipped = [r["sample_id"] for r in rows if _is_clip(corpus, r["sample_id"])]
    rows = [r for r in rows if r["sample_id"] not in set(skipped)]
    by_split: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    for row in rows:
        by_split[split_of(row["contributor"], ratios, salt=salt)].append(row)
    ext = "tar" if fmt == "webdataset" else "parquet"
    shards: list[dict[str, Any]] = []
    written: dict[str, bytes] = {}
    for split in SPLITS:
        batch: list[tuple[str, dict[str, Any], dict[str, bytes]]] = []
        size = 0

        def flush(split: str = split) -> None:
            nonlocal batch, size
            if not batch:
                return
            path = f"{split}-{sum(1 for s in shards if s['split'] == split):06d}.{ext}"
            data = _tar_shard(batch) if fmt == "webdataset" else _parquet_shard(batch, split)
            written[path] = data
            shards.append(
                {
                    "path": path,
                    "split": split,
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "bytes": len(data),
                    "samples": [sid for sid, _, _ in batch],
                    "keys": [_wds_key(sid) for sid, _, _ in batch],
                }
            )
            batch, size = [], 0

        for row in sorted(by_split[split], key=lambda r: r["sample_id"]):
            meta, files = _sample_files(corpus, row["sample_id"])
            n = sum(len(b) for b in files.values())
            if batch and size + n > target:
                flush()
            batch.append((row["sample_id"], meta, files))
            size += n
        flush()
    samples = {s: sorted(r["sample_id"] for r in by_split[s]) for s in SPLITS}
    listing: dict[str, Any] = {
        "format": "parallax-export",
        "version": 1,
        "export_format": fmt,
        "split_ratios": list(ratios),
        "salt": salt,
        "split_by": "contributor",
        "samples": samples,
        "shards": shards,
        "shard_size_target_bytes": target,
    }
    if skipped:
        listing["skipped"] = {"clips": skipped, "reason": "exporting clip samples is not implemented yet"}
    export_id = "e-" + hashlib.sha256(json.dumps(listing, sort_keys=True).encode()).hexdigest()[:16]
    listing["export_id"] = export_id
    try:
        old = json.loads(store.read_bytes("export.json"))
    except FileNotFoundError:
        old = None
    for path, data in written.items():
        store.put_file(path, data)
    rights = corpus.catalog.rows(
        "SELECT license, contributor, source_kind, consent_id FROM samples WHERE status = 'active' ORDER BY sample_id"
    )
    consents = corpus.catalog.rows("SELECT consent_id, date FROM consents ORDER BY consent_id")
    title = name or f"Parallax corpus ({corpus.root.name})"
    store.put_file("README.md", dataset_card(title=title, fmt=fmt, listing=listing, rights=rights).encode("utf-8"))
    store.put_file(
        "croissant.json",
        (
            json.dumps(
                croissant(title=title, fmt=fmt, listing=listing, rights=rights, consents=consents),
                indent=2,
                sort_keys=False,
            )
            + "\n"
        ).encode(),
    )
    store.put_file("export.json", (json.dumps(listing, indent=2, sort_keys=True) + "\n").encode())
    if old is not None:
        for shard in old.get("shards", []):
            if shard["path"] not in written:
                store.remove(shard["path"])
    held = [sid for ids in samples.values() for sid in ids]
    url = str(store.local_root) if store.local_root is not None else store.url
    with corpus.catalog.write() as db:
        for (old_id,) in db.execute("SELECT export_id FROM exports WHERE url = ?", (url,)).fetchall():
            db.execute("DELETE FROM export_samples WHERE export_id = ?", (old_id,))
            db.execute("DELETE FROM exports WHERE export_id = ?", (old_id,))
        db.execute("DELETE FROM export_samples WHERE export_id = ?", (export_id,))
        db.execute(
            "INSERT OR REPLACE INTO exports VALUES (?, ?, ?, ?, ?, 0, NULL)",
            (export_id, url, fmt, utc_now(), len(held)),
        )
        db.executemany("INSERT INTO export_samples VALUES (?, ?)", [(export_id, sid) for sid in held])
    return ExportResult(
        export_id=export_id,
        url=url,
        format=fmt,
        samples=samples,
        shards=shards,
        bytes=sum(s["bytes"] for s in shards),
        skipped_clips=skipped,
    )
