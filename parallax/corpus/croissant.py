"""Croissant 1.0 ``croissant.json`` of an export, with RAI fields, that ``mlcroissant`` reads records from.

Record sets (``mlcroissant.Dataset(jsonld=".../croissant.json").records(record_set=...)``):

``samples``  one record per still sample: ``sample_id``, ``left``, ``right``, ``disparity``, ``valid``
             (PNG images; disparity 16-bit, ``d = (stored - offset) / scale``), ``meta`` (meta.json).
``frames``   one record per exported clip frame: ``clip_id``, ``frame_index``, ``frame_count``,
             ``timestamp_s``, ``pose`` (16 floats, row-major 4x4 camera-to-world, OpenCV axes;
             null when unknown), ``K`` (9 floats), ``left``, ``right``, ``disparity``, ``valid``.
``clips``    (WebDataset) one record per stored clip or clip window: ``key`` and ``meta``
             (meta.json cut to the window, with every frame's timestamp, pose and K).

Parquet exports: the record sets read columns of the FileSets ``still-shards``
(``train-*.parquet`` ...) and ``clip-shards`` (``clips-*.parquet``).

WebDataset exports: each tar shard is a FileObject (``application/x-tar``, with
its SHA-256); FileSets ``containedIn`` the shards select members by name
(``*.left.png``, ...), which ``mlcroissant`` extracts; a regular expression on
the member's file name gives the sample key (``^([^.]+)``) or the frame key
(``^([^.]+\\.[0-9]{6})``, i.e. ``<key>.<frame>``). A record set in ``mlcroissant``
joins at most two sources, so the per-member FileSets are joined in a chain of
helper record sets (``still_valid`` -> ``still_disparity`` -> ``still_right`` ->
``still_left`` -> ``samples``; ``clip_...`` -> ``frames``), each adding one member
by key. A clip frame's timestamp, pose and K come from ``frames.jsonl`` (one JSON
line per exported frame; the timestamp column is ``time_s`` there, because
pandas' JSON reader turns columns named ``timestamp*`` into dates).

``mlcroissant`` extracts a tar once into its cache under a name derived from the
shard's URL; shard names carry a hash of their content, so a re-export never
reads a stale extraction.
"""

from __future__ import annotations

from typing import Any

from parallax.errors import ParameterError

__all__ = ["croissant_jsonld", "CROISSANT_CONTEXT", "FRAME_KEY_REGEX", "SAMPLE_KEY_REGEX"]

#: The JSON-LD context of Croissant 1.0 (with the RAI prefix and Parallax's ``px:``).
CROISSANT_CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "px": "urn:parallax:corpus:",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}

#: The sample key in a WebDataset member name (everything before the first dot).
SAMPLE_KEY_REGEX = r"^([^.]+)"
#: The frame key ``<key>.<6-digit frame index>`` in a clip member name.
FRAME_KEY_REGEX = r"^([^.]+\.[0-9]{6})"

_TAR, _PARQUET, _JSONL = "application/x-tar", "application/x-parquet", "application/jsonlines"
_DISPARITY = "Disparity of the rectified left view, 16-bit PNG: d = (stored - offset) / scale px (scale, offset in meta), 0 = none."
_MAPS: list[tuple[str, str, str]] = [
    ("left", "image/png", "Rectified left view, 8-bit RGB PNG."),
    ("right", "image/png", "Rectified right view, 8-bit RGB PNG."),
    ("disparity", "image/png", _DISPARITY),
    ("valid", "image/png", "Valid-disparity mask, 8-bit PNG (255 = valid)."),
]
_FRAME_FACTS: list[tuple[str, str, str, bool, str]] = [
    # (field, data type, frames.jsonl / Parquet column, repeated, description)
    ("clip_id", "sc:Text", "sample_id", False, "Id of the clip sample the frame belongs to."),
    ("frame_index", "sc:Integer", "frame_index", False, "0-based index of the frame in its clip, time order."),
    ("frame_count", "sc:Integer", "frame_count", False, "Number of frames of the clip."),
    ("timestamp_s", "sc:Float", "timestamp_s", False, "Seconds from the start of the source video."),
    (
        "pose",
        "sc:Float",
        "pose",
        True,
        "Camera-to-world 4x4 of the rectified left camera, OpenCV axes, 16 values row-major; null when unknown.",
    ),
    ("K", "sc:Float", "K", True, "Intrinsics 3x3 of the rectified left view (pixels), 9 values row-major."),
]


def _field(rs: str, name: str, dtype: str, source: dict[str, Any], desc: str, **extra: Any) -> dict[str, Any]:
    return {
        "@type": "cr:Field",
        "@id": f"{rs}/{name}",
        "name": name,
        "description": desc,
        "dataType": dtype,
        "source": source,
        **extra,
    }


def _member_source(fileset: str, prop: str, regex: str | None = None) -> dict[str, Any]:
    source: dict[str, Any] = {"fileSet": {"@id": fileset}, "extract": {"fileProperty": prop}}
    if regex is not None:
        source["transform"] = {"regex": regex}
    return source


def _chain(
    prefix: str, key_regex: str, maps: list[tuple[str, str, str]]
) -> tuple[list[dict[str, Any]], str, list[tuple[str, str]]]:
    """Helper record sets joining one member FileSet each by key; returns them, the last one's id, its fields."""
    record_sets: list[dict[str, Any]] = []
    prev: str | None = None
    carried: list[tuple[str, str]] = []  # (name, description) of the image fields so far
    for name, _, desc in reversed(maps):
        rs = f"{prefix}_{name}"
        fileset = f"{prefix}-{name}"
        key = _field(rs, "key", "sc:Text", _member_source(fileset, "filename", key_regex), "Member key.")
        if prev is not None:
            key["references"] = {"field": {"@id": f"{prev}/key"}}
        fields = [key, _field(rs, name, "sc:ImageObject", _member_source(fileset, "content"), desc)]
        fields += [_field(rs, n, "sc:ImageObject", {"field": {"@id": f"{prev}/{n}"}}, d) for n, d in carried]
        record_sets.append(
            {
                "@type": "cr:RecordSet",
                "@id": rs,
                "name": rs,
                "description": f"Join step (by member key) building the records of {prefix} members; "
                "read the complete records from the record set that ends the chain.",
                "key": {"@id": f"{rs}/key"},
                "field": fields,
            }
        )
        carried = [(name, desc), *carried]
        prev = rs
    if prev is None:
        raise ParameterError("a record set needs at least one member to join")
    return record_sets, prev, carried


def _member_filesets(prefix: str, shards: list[str], members: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
    return [
        {
            "@type": "cr:FileSet",
            "@id": f"{prefix}-{name}",
            "name": f"{prefix}-{name}",
            "description": f"The {glob} members of the {prefix} shards.",
            "containedIn": [{"@id": s} for s in shards],
            "encodingFormat": enc,
            "includes": glob,
        }
        for name, enc, glob in members
    ]


def _wds(listing: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    still = [s["path"] for s in listing["shards"] if s.get("kind", "still") == "still"]
    clip = [s["path"] for s in listing["shards"] if s.get("kind") == "clip"]
    dist: list[dict[str, Any]] = []
    record_sets: list[dict[str, Any]] = []
    if still:
        members = [(n, enc, f"*.{n}.png") for n, enc, _ in _MAPS] + [("json", "application/json", "*.json")]
        dist += _member_filesets("still", still, members)
        chain, last, carried = _chain("still", SAMPLE_KEY_REGEX, _MAPS)
        key = _field(
            "samples",
            "sample_id",
            "sc:Text",
            _member_source("still-json", "filename", SAMPLE_KEY_REGEX),
            "Sample id (the WebDataset key: the id with '.' replaced by '_').",
            references={"field": {"@id": f"{last}/key"}},
        )
        fields = [key]
        fields += [_field("samples", n, "sc:ImageObject", {"field": {"@id": f"{last}/{n}"}}, d) for n, d in carried]
        meta_desc = "The sample's meta.json: cameras (K, baseline, rectification), rights, quality, lineage."
        fields.append(_field("samples", "meta", "sc:Text", _member_source("still-json", "content"), meta_desc))
        record_sets += chain + [_record_set("samples", "One record per still sample.", fields, "samples/sample_id")]
    if clip:
        members = [(n, enc, f"*.[0-9][0-9][0-9][0-9][0-9][0-9].{n}.png") for n, enc, _ in _MAPS]
        dist += _member_filesets("clip", clip, members + [("json", "application/json", "*.json")])
        chain, last, carried = _chain("clip", FRAME_KEY_REGEX, _MAPS)
        index = listing["index"]
        dist.append(
            {
                "@type": "cr:FileObject",
                "@id": index["path"],
                "name": index["path"],
                "contentUrl": index["path"],
                "encodingFormat": _JSONL,
                "sha256": index["sha256"],
                "contentSize": f"{index['bytes']} B",
                "description": "One JSON line per exported clip frame: clip id, frame index, time, pose, K, "
                "and the member key <key>.<frame> of its files in the shards.",
            }
        )
        frame_key = _field(
            "frames",
            "frame_key",
            "sc:Text",
            {"fileObject": {"@id": index["path"]}, "extract": {"column": "frame_key"}},
            "Member key of the frame's files in the tar shards: <key>.<frame index, 6 digits>.",
            references={"field": {"@id": f"{last}/key"}},
        )
        fields = [frame_key]
        for name, dtype, column, repeated, desc in _FRAME_FACTS:
            column = {"timestamp_s": "time_s"}.get(column, column)
            src = {"fileObject": {"@id": index["path"]}, "extract": {"column": column}}
            fields.append(_field("frames", name, dtype, src, desc, **({"repeated": True} if repeated else {})))
        fields += [_field("frames", n, "sc:ImageObject", {"field": {"@id": f"{last}/{n}"}}, d) for n, d in carried]
        record_sets += chain + [_record_set("frames", "One record per exported clip frame, in time order.", fields)]
        clip_fields = [
            _field(
                "clips",
                "key",
                "sc:Text",
                _member_source("clip-json", "filename", SAMPLE_KEY_REGEX),
                "WebDataset key: the clip id (with '.' replaced by '_'), plus @<start>-<stop> for a stored window.",
            ),
            _field(
                "clips",
                "meta",
                "sc:Text",
                _member_source("clip-json", "content"),
                "The clip's meta.json cut to the stored frames: frames[i] has index, timestamp_s, pose, K; "
                "window = {start, stop}; frame_count = frames of the whole clip.",
            ),
        ]
        record_sets.append(_record_set("clips", "One record per stored clip (or clip window).", clip_fields))
    return dist, record_sets


def _record_set(rs: str, desc: str, fields: list[dict[str, Any]], key: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"@type": "cr:RecordSet", "@id": rs, "name": rs, "description": desc, "field": fields}
    if key is not None:
        out["key"] = {"@id": key}
    return out


def _parquet(listing: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    kinds = {s.get("kind", "still") for s in listing["shards"]}
    dist: list[dict[str, Any]] = []
    record_sets: list[dict[str, Any]] = []
    maps = [(n, "sc:ImageObject", d) for n, _, d in _MAPS]

    def column(rs: str, fileset: str, name: str, dtype: str, col: str, desc: str, **extra: Any) -> dict[str, Any]:
        return _field(rs, name, dtype, {"fileSet": {"@id": fileset}, "extract": {"column": col}}, desc, **extra)

    if "still" in kinds:
        dist.append(_fileset("still-shards", ["train-*.parquet", "val-*.parquet", "test-*.parquet"], _PARQUET))
        fields = [
            column("samples", "still-shards", "sample_id", "sc:Text", "sample_id", "Sample id (content-derived).")
        ]
        fields += [column("samples", "still-shards", n, t, n, d) for n, t, d in maps]
        fields.append(
            column(
                "samples", "still-shards", "meta", "sc:Text", "meta", "The sample's meta.json (cameras, rights, ...)."
            )
        )
        record_sets.append(_record_set("samples", "One record per still sample.", fields, "samples/sample_id"))
    if "clip" in kinds:
        dist.append(_fileset("clip-shards", ["clips-*.parquet"], _PARQUET))
        fields = []
        for name, dtype, col, repeated, desc in _FRAME_FACTS:
            fields.append(
                column("frames", "clip-shards", name, dtype, col, desc, **({"repeated": True} if repeated else {}))
            )
        fields += [column("frames", "clip-shards", n, t, n, d) for n, t, d in maps]
        fields.append(
            column("frames", "clip-shards", "meta", "sc:Text", "meta", "The clip's meta.json cut to this frame.")
        )
        record_sets.append(_record_set("frames", "One record per clip frame (one Parquet row each).", fields))
    return dist, record_sets


def _fileset(fid: str, includes: list[str], enc: str) -> dict[str, Any]:
    return {"@type": "cr:FileSet", "@id": fid, "name": fid, "encodingFormat": enc, "includes": includes}


def croissant_jsonld(
    *,
    title: str,
    fmt: str,
    listing: dict[str, Any],
    licences: dict[str, int],
    dates: list[str],
    consent_count: int,
    date_published: str,
    cite_as: str,
    rai: dict[str, Any],
) -> dict[str, Any]:
    """Croissant 1.0 JSON-LD of an export (see the module docstring for the record sets).

    ``rai`` holds the ``rai:`` fields (collection, personal data, ...), ``dates`` the
    consent dates (collection time frame), ``licences`` the licence breakdown.
    """
    samples = sum(len(ids) for ids in listing["samples"].values())
    clips = sum(len(ids) for ids in listing.get("clip_samples", {}).values())
    frames = sum(listing.get("frames", {}).values())
    encoding = _TAR if fmt == "webdataset" else _PARQUET
    files = [
        {
            "@type": "cr:FileObject",
            "@id": s["path"],
            "name": s["path"],
            "contentUrl": s["path"],
            "encodingFormat": encoding,
            "sha256": s["sha256"],
            "contentSize": f"{s['bytes']} B",
        }
        for s in listing["shards"]
    ]
    extra, record_sets = _wds(listing) if fmt == "webdataset" else _parquet(listing)
    what = f"{samples - clips} rectified stereo pairs"
    if clips:
        what += f" and {clips} stereo clips ({frames} frames, with per-frame timestamps, poses and intrinsics)"
    out = {
        "@context": CROISSANT_CONTEXT,
        "@type": "sc:Dataset",
        "name": title,
        "description": f"{what} with disparity, depth, confidence and cameras, from consented everyday stereo "
        "captures (Parallax corpus export " + listing["export_id"] + ").",
        "conformsTo": ["http://mlcommons.org/croissant/1.0", "http://mlcommons.org/croissant/RAI/1.0"],
        "citeAs": cite_as,
        "datePublished": date_published,
        "license": [f"https://spdx.org/licenses/{k}.html" for k in licences],
        "keywords": ["stereo", "disparity", "depth estimation", "3D", "spatial AI", *(["video"] if clips else [])],
        "version": "1.0.0",
        "isLiveDataset": True,
        "distribution": [*files, *extra],
        "recordSet": record_sets,
        **rai,
        "rai:dataCollectionTimeframe": dates[:1] + dates[-1:] if dates else [],
        "px:licenseBreakdown": licences,
        "px:consentRecords": {
            "count": consent_count,
            "fields": ["contributor", "license", "allow_training", "date"],
            "allow_training": "required true for every stored sample",
        },
        "px:sampleCounts": {s: len(ids) for s, ids in listing["samples"].items()},
        "px:clipCounts": {s: len(ids) for s, ids in listing.get("clip_samples", {}).items()},
        "px:frameCounts": dict(listing.get("frames", {})),
    }
    # an empty JSON object (an export of an empty corpus has no licences) sends mlcroissant 1.1.1 into endless recursion
    return {k: v for k, v in out.items() if v != {}}
