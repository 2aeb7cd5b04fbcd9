"""Export the active samples (still pairs and clips) as WebDataset or Parquet shards, with a dataset card and Croissant.

Output folder (a local path or any fsspec URL)::

    <out>/
        train-000000-<hash>.tar ...        still pairs, per split, in sample-id order (or .parquet)
        clips-train-000000-<hash>.tar ...  clips (WebDataset: one sample per clip or stored window;
                                           Parquet: one row per frame)
        frames.jsonl                       WebDataset with clips: one line per exported frame
        export.json                        which samples each shard holds, with SHA-256 of every shard
        README.md                          dataset card with Hugging Face YAML front matter
        croissant.json                     MLCommons Croissant 1.0 with its responsible-AI (RAI) fields

Shard names end in the first 16 hex digits of their SHA-256: the same content
always has the same name, a re-export never overwrites a shard a reader of the
previous ``export.json`` may still be reading, and readers that cache by URL
(``mlcroissant`` extracts tars once per URL) never see stale content.

Deterministic: samples are sorted, tar headers carry fixed mtime (0), uid/gid
(0), owner names ("") and mode (0644); the same corpus exports byte-identical
shards. Splits are by contributor (a salted SHA-256 of the contributor id picks
train/val/test), so nobody's captures fall into two splits. Member names and
columns: :mod:`parallax.corpus.export_wds`, :mod:`parallax.corpus.export_parquet`.
Shards are written to a temporary file one sample file at a time, so memory
stays bounded whatever the size of a clip.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from parallax.corpus.catalog import utc_now
from parallax.corpus.export_units import LoadedUnit, Unit, check_clip_window, load_units, read_unit
from parallax.corpus.storage import Storage
from parallax.corpus.store import Corpus
from parallax.errors import OutputError, ParameterError

__all__ = ["ExportResult", "export_corpus", "split_of", "parse_size", "SPLITS", "FORMATS", "FRAME_INDEX"]

SPLITS = ("train", "val", "test")
FORMATS = ("webdataset", "parquet")
#: The per-frame index of a WebDataset export holding clips.
FRAME_INDEX = "frames.jsonl"
_PARTIAL = ".partial"


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
    """What :func:`export_corpus` wrote.

    ``samples`` lists every exported sample (stills and clips) per split; ``clip_samples``
    the clips among them and ``frames`` their frame count per split.
    """

    export_id: str
    url: str
    format: str
    samples: dict[str, list[str]]
    shards: list[dict[str, Any]]
    bytes: int
    clip_samples: dict[str, list[str]]
    frames: dict[str, int]


def _plan(units: list[Unit], target: int) -> list[list[Unit]]:
    """Group units into shards: a shard closes before it would exceed ``target`` (a larger unit gets its own)."""
    shards: list[list[Unit]] = []
    batch: list[Unit] = []
    size = 0
    for unit in units:
        if batch and size + unit.size > target:
            shards.append(batch)
            batch, size = [], 0
        batch.append(unit)
        size += unit.size
    if batch:
        shards.append(batch)
    return shards


def _sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _scratch(store: Storage, stem: str) -> str:
    """A temporary file: in the output folder when it is local (so it can be renamed into place), else in /tmp."""
    where = str(store.local_root) if store.local_root is not None else None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{stem}-", suffix=_PARTIAL, dir=where)
    except OSError as exc:
        raise OutputError(f"cannot write to {store.url}: {exc.strerror}; choose another --out") from exc
    os.close(fd)
    return tmp


def _publish(store: Storage, tmp: str, path: str) -> None:
    if store.local_root is not None:
        os.chmod(tmp, 0o644)
    store.put_local(path, tmp)


def _write_shard(store: Storage, stem: str, ext: str, write: Callable[[str], None]) -> tuple[str, str, int]:
    """Write a shard to a temporary file with ``write(path)``, then move it to ``<stem>-<sha16>.<ext>``."""
    tmp = _scratch(store, stem)
    try:
        write(tmp)
        sha = _sha256_file(tmp)
        size = os.path.getsize(tmp)
        path = f"{stem}-{sha[:16]}.{ext}"
        _publish(store, tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path, sha, size


def _frame_lines(unit: Unit, meta: dict[str, Any], split: str) -> list[dict[str, Any]]:
    """The ``frames.jsonl`` rows of a stored clip (without the shard name, known once the shard is written)."""
    rows = []
    for frame in meta["frames"]:
        i = frame["index"]
        if not unit.start <= i < unit.stop:
            continue
        pose = frame.get("pose")
        rows.append(
            {
                "split": split,
                "key": unit.key,
                "frame_key": f"{unit.key}.{i:06d}",
                "sample_id": unit.sample_id,
                "frame_index": i,
                "frame_count": unit.frame_count,
                "time_s": float(frame["timestamp_s"]),
                "source_index": frame.get("source_index"),
                "pose": None if pose is None else [float(x) for r in pose for x in r],
                "K": [float(x) for r in frame["K"] for x in r],
            }
        )
    return rows


def _shard(
    corpus: Corpus, store: Storage, fmt: str, split: str, kind: str, stem: str, batch: list[Unit]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Write one shard of ``batch``; its ``export.json`` entry and the ``frames.jsonl`` rows of its clip frames."""
    from parallax.corpus.export_parquet import write_parquet_shard
    from parallax.corpus.export_wds import write_tar_shard

    lines: list[dict[str, Any]] = []

    def loaded() -> Iterator[LoadedUnit]:
        for unit in batch:
            item = read_unit(corpus.storage, unit)
            if unit.kind == "clip":
                lines.extend(_frame_lines(unit, item[1], split))
            yield item

    def write(path: str) -> None:
        if fmt == "webdataset":
            with open(path, "wb") as fh:
                write_tar_shard(fh, corpus.storage, loaded())
        else:
            write_parquet_shard(path, corpus.storage, loaded(), split, kind)

    path, sha, size = _write_shard(store, stem, "tar" if fmt == "webdataset" else "parquet", write)
    entry: dict[str, Any] = {
        "path": path,
        "split": split,
        "kind": kind,
        "sha256": sha,
        "bytes": size,
        "samples": list(dict.fromkeys(u.sample_id for u in batch)),
        "keys": [u.key for u in batch],
    }
    if kind == "clip":
        entry["clips"] = [
            {"key": u.key, "sample_id": u.sample_id, "start": u.start, "stop": u.stop, "frame_count": u.frame_count}
            for u in batch
        ]
    return entry, lines


def export_corpus(
    corpus: Corpus,
    *,
    fmt: str,
    out: str,
    shard_size: int | str = "256MB",
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    salt: str = "parallax",
    name: str | None = None,
    clip_window: int | None = None,
    clip_stride: int | None = None,
    date_published: str | None = None,
    cite_as: str | None = None,
) -> ExportResult:
    """Export every active sample (stills and clips) to ``out`` in ``fmt``; record the export in the catalog.

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
    clip_window, clip_stride : int, optional
        WebDataset only: store clips longer than ``clip_window`` frames as windows of
        ``clip_window`` frames starting every ``clip_stride`` frames (default: the
        window, no overlap; the last window ends at the clip's end). Default: one
        WebDataset sample per whole clip.
    date_published : str, optional
        ``YYYY-MM-DD`` for Croissant ``datePublished`` (default today, UTC).
    cite_as : str, optional
        Croissant ``citeAs`` (default: a BibTeX entry naming the export).

    Raises
    ------
    ParameterError
        For an unknown format, bad ratios, shard size, window or date.
    """
    from parallax.corpus.card import check_date, croissant, dataset_card

    if fmt not in FORMATS:
        raise ParameterError(f"export format {fmt!r} is not one of {', '.join(FORMATS)}")
    if len(ratios) != 3 or any(r < 0 for r in ratios) or abs(sum(ratios) - 1) > 1e-6:
        raise ParameterError(f"split ratios {ratios} must be three non-negative numbers adding up to 1")
    target = parse_size(shard_size)
    window, stride = check_clip_window(clip_window, clip_stride)
    if window is not None and fmt != "webdataset":
        raise ParameterError("clip_window applies to webdataset exports; a Parquet export holds one row per frame")
    published = check_date(date_published)
    store = Storage(out)
    store.makedirs()
    for leftover in store.listdir(""):
        if leftover.startswith(".") and leftover.endswith(_PARTIAL):  # a killed export's temporary shard
            store.remove(leftover)
    rows = corpus.catalog.active_samples()
    split_by_id = {r["sample_id"]: split_of(r["contributor"], ratios, salt=salt) for r in rows}
    units = load_units(corpus.storage, list(split_by_id), window=window, stride=stride)
    shards: list[dict[str, Any]] = []
    index_tmp = _scratch(store, "frames") if fmt == "webdataset" else None
    index_rows = 0
    try:
        for split in SPLITS:
            for kind, prefix in (("still", ""), ("clip", "clips-")):
                mine = [u for u in units if u.kind == kind and split_by_id[u.sample_id] == split]
                for n, batch in enumerate(_plan(mine, target)):
                    entry, lines = _shard(corpus, store, fmt, split, kind, f"{prefix}{split}-{n:06d}", batch)
                    if index_tmp is not None and lines:
                        with open(index_tmp, "a", encoding="utf-8") as fh:
                            for row in lines:
                                fh.write(json.dumps({**row, "shard": entry["path"]}, sort_keys=True, allow_nan=False))
                                fh.write("\n")
                        index_rows += len(lines)
                    shards.append(entry)
        clips = {
            s: sorted({u.sample_id for u in units if u.kind == "clip" and split_by_id[u.sample_id] == s})
            for s in SPLITS
        }
        frame_counts = {
            s: sum(u.frame_count for u in units if u.kind == "clip" and split_by_id[u.sample_id] == s and u.start == 0)
            for s in SPLITS
        }
        samples = {s: sorted(sid for sid, sp in split_by_id.items() if sp == s) for s in SPLITS}
        listing: dict[str, Any] = {
            "format": "parallax-export",
            "version": 2,
            "export_format": fmt,
            "split_ratios": list(ratios),
            "salt": salt,
            "split_by": "contributor",
            "samples": samples,
            "clip_samples": clips,
            "frames": frame_counts,
            "clip_window": window,
            "clip_stride": stride,
            "shards": shards,
            "shard_size_target_bytes": target,
        }
        if index_tmp is not None and index_rows:
            listing["index"] = {
                "path": FRAME_INDEX,
                "sha256": _sha256_file(index_tmp),
                "bytes": os.path.getsize(index_tmp),
                "rows": index_rows,
            }
            _publish(store, index_tmp, FRAME_INDEX)
        elif store.exists(FRAME_INDEX):
            store.remove(FRAME_INDEX)
    finally:
        if index_tmp is not None and os.path.exists(index_tmp):
            os.unlink(index_tmp)
    export_id = "e-" + hashlib.sha256(json.dumps(listing, sort_keys=True).encode()).hexdigest()[:16]
    listing["export_id"] = export_id
    try:
        old = json.loads(store.read_bytes("export.json"))
    except FileNotFoundError:
        old = None
    rights = corpus.catalog.rows(
        "SELECT license, contributor, source_kind, consent_id FROM samples WHERE status = 'active' ORDER BY sample_id"
    )
    consents = corpus.catalog.rows("SELECT consent_id, date FROM consents ORDER BY consent_id")
    title = name or f"Parallax corpus ({corpus.root.name})"
    store.put_file("README.md", dataset_card(title=title, fmt=fmt, listing=listing, rights=rights).encode("utf-8"))
    metadata = croissant(
        title=title,
        fmt=fmt,
        listing=listing,
        rights=rights,
        consents=consents,
        date_published=published,
        cite_as=cite_as,
    )
    store.put_file("croissant.json", (json.dumps(metadata, indent=2) + "\n").encode())
    store.put_file("export.json", (json.dumps(listing, indent=2, sort_keys=True) + "\n").encode())
    written = {s["path"] for s in shards}
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
        clip_samples=clips,
        frames=frame_counts,
    )
