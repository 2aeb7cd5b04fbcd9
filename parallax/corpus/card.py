"""The dataset card (``README.md`` with Hugging Face YAML front matter) and Croissant ``croissant.json``.

Both are built from the export listing and the catalog only (counts, licences,
splits, consent dates), never from sample content, and are deterministic for a
given export.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

__all__ = ["dataset_card", "croissant", "CROISSANT_CONTEXT"]

_COLLECTION = (
    "Stereo photographs taken by their owners with consumer devices (3D cameras and MPO files, side-by-side rigs, "
    "Apple spatial photos, Leia LIF) and contributed to the corpus with a signed consent record (contributor, licence, "
    "permission to train, date). Each capture was rectified and its disparity, depth and confidence estimated by "
    "Parallax's stereo pipeline at a bounded size (the longest side used is in each sample's meta.json, "
    "processing.max_side_px)."
)
_PERSONAL = (
    "Faces were detected (MTCNN with the weights shipped by the mtcnn-runtime package, or a stronger detector given by "
    "path) in both views and blurred consistently (pixelation plus Gaussian blur) before anything was stored; a second "
    "detection pass blurs anything still found. Licence plates are blurred only where a plate detector was given. "
    "Stored images carry no EXIF/XMP: GPS position, serial numbers, owner names and comments are removed; only the camera "
    "facts 3D needs (make, model, focal length, baseline) are kept in meta.json. Withdrawn consent deletes the samples "
    "and marks every export that held them stale."
)
_PREPROCESSING = [
    "privacy: face (and plate) blurring in both views; metadata stripped",
    "downsizing to the stored size (area interpolation), intrinsics scaled along",
    "rectification (feature-based or calibrated) and disparity/depth/confidence estimation",
    "quality filtering with stated thresholds: rectification residual, sharpness, exposure, disparity density and range, "
    "left-right photometric consistency; rejected captures are recorded with the reason",
    "deduplication: exact (SHA-256 of decoded pixels) and near (64-bit DCT perceptual hash of both views)",
]

#: The JSON-LD context of Croissant 1.0 (with the RAI prefix).
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
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}


def _size_category(n: int) -> str:
    for limit, label in ((1000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return label
    return "n>1M"


def _licence_breakdown(rights: list[dict[str, Any]]) -> dict[str, int]:
    return dict(sorted(Counter(r["license"] for r in rights).items()))


def dataset_card(*, title: str, fmt: str, listing: dict[str, Any], rights: list[dict[str, Any]]) -> str:
    """The ``README.md`` dataset card: Hugging Face YAML front matter, then counts, licences, collection, privacy."""
    counts = {s: len(ids) for s, ids in listing["samples"].items()}
    total = sum(counts.values())
    licences = _licence_breakdown(rights)
    ext = "tar" if fmt == "webdataset" else "parquet"
    lic_yaml = ("other" if len(licences) != 1 else next(iter(licences)).lower()) if licences else "other"
    lines = [
        "---",
        f"license: {lic_yaml}",
        "pretty_name: " + json.dumps(title),
        "task_categories:",
        "- depth-estimation",
        "tags:",
        "- stereo",
        "- disparity",
        "- depth",
        "- 3d",
        "- parallax",
        "size_categories:",
        f"- {_size_category(total)}",
        "configs:",
        "- config_name: default",
        "  data_files:",
    ]
    for split in ("train", "val", "test"):
        if counts.get(split):
            hf_split = "validation" if split == "val" else split
            lines += [f"  - split: {hf_split}", f'    path: "{split}-*.{ext}"']
    lines.append("---")
    body = [
        f"# {title}",
        "",
        "Rectified stereo pairs with disparity, depth, confidence and cameras (OpenCV convention), made from consented "
        "everyday stereo captures by Parallax.",
        "",
        "## Counts",
        "",
        "| split | samples |",
        "|---|---|",
        *[f"| {s} | {counts.get(s, 0)} |" for s in ("train", "val", "test")],
        f"| total | {total} |",
        "",
        f"Contributors: {len({r['contributor'] for r in rights})}. Source kinds: "
        + ", ".join(f"{k} {v}" for k, v in sorted(Counter(r["source_kind"] for r in rights).items()))
        + ".",
        "",
        "Splits are assigned per contributor (salted SHA-256 of the contributor id), so no one's captures appear in two splits.",
        "",
        "## Licences",
        "",
        "| licence | samples |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in licences.items()],
        "",
        "Each sample's own licence, contributor and consent id are in its metadata (`.json` / `meta` column).",
        "",
        "## Collection",
        "",
        _COLLECTION,
        "",
        "## Personal data",
        "",
        _PERSONAL,
        "",
        "## Processing",
        "",
        *[f"- {p}" for p in _PREPROCESSING],
        "",
        "## Format",
        "",
        (
            "WebDataset tar shards: per sample `<key>.left.png`, `.right.png` (rectified views), `.disparity.png`, "
            "`.depth.png`, `.confidence.png` (16-bit PNG with the scale and offset stated in the `.json`), `.valid.png`, "
            "and `<key>.json` (the sample's meta.json)."
            if fmt == "webdataset"
            else "Parquet shards, one row per sample: PNG bytes of `left`, `right`, `disparity`, `depth`, `confidence`, `valid`; "
            "`K` (row-major 3x3), `baseline_m`, rights columns, and `meta` (the sample's meta.json)."
        ),
        "Disparity is in pixels of the rectified left view with `x_right = x_left - d`; decode 16-bit maps with "
        "`value = (stored - offset) / scale`, stored 0 = no value.",
        "",
        "## Withdrawal",
        "",
        "Owners may withdraw consent at any time; withdrawn samples are removed and this export is "
        "then marked stale and must be regenerated. Check `export.json` (export id " + listing["export_id"] + ").",
        "",
    ]
    return "\n".join(lines + [""] + body)


def croissant(
    *, title: str, fmt: str, listing: dict[str, Any], rights: list[dict[str, Any]], consents: list[dict[str, Any]]
) -> dict[str, Any]:
    """Croissant 1.0 JSON-LD metadata of the export, with RAI fields (collection, consent, personal data, licences)."""
    licences = _licence_breakdown(rights)
    total = sum(len(ids) for ids in listing["samples"].values())
    dates = sorted({c["date"] for c in consents})
    encoding = "application/x-tar" if fmt == "webdataset" else "application/x-parquet"
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
    fields = [
        ("sample_id", "sc:Text", "Sample id (content-derived)."),
        ("left", "sc:ImageObject", "Rectified left view, 8-bit RGB PNG."),
        ("right", "sc:ImageObject", "Rectified right view, 8-bit RGB PNG."),
        (
            "disparity",
            "sc:ImageObject",
            "Disparity of the left view, 16-bit PNG: d = (stored - offset) / scale px, 0 = none.",
        ),
        ("valid", "sc:ImageObject", "Valid-disparity mask, 8-bit PNG (255 = valid)."),
        ("meta", "sc:Text", "The sample's meta.json: cameras (K, baseline, rectification), rights, quality, lineage."),
    ]
    record_fields = []
    for name, dtype, desc in fields:
        source: dict[str, Any] = {"fileSet" if fmt == "webdataset" else "fileObject": {"@id": "shards"}}
        if fmt == "webdataset":
            source["extract"] = {"fileProperty": "content"}
        else:
            source["extract"] = {"column": name}
        record_fields.append(
            {
                "@type": "cr:Field",
                "@id": f"samples/{name}",
                "name": name,
                "description": desc,
                "dataType": dtype,
                "source": source,
            }
        )
    shard_set = {
        "@type": "cr:FileSet",
        "@id": "shards",
        "name": "shards",
        "encodingFormat": encoding,
        "includes": "*.tar" if fmt == "webdataset" else "*.parquet",
    }
    return {
        "@context": CROISSANT_CONTEXT,
        "@type": "sc:Dataset",
        "name": title,
        "description": f"{total} rectified stereo samples with disparity, depth, confidence and cameras, from consented "
        "everyday stereo captures (Parallax corpus export " + listing["export_id"] + ").",
        "conformsTo": ["http://mlcommons.org/croissant/1.0", "http://mlcommons.org/croissant/RAI/1.0"],
        "license": [f"https://spdx.org/licenses/{k}.html" for k in licences],
        "keywords": ["stereo", "disparity", "depth estimation", "3D", "spatial AI"],
        "version": "1.0.0",
        "isLiveDataset": True,
        "distribution": [*files, shard_set],
        "recordSet": [
            {
                "@type": "cr:RecordSet",
                "@id": "samples",
                "name": "samples",
                "key": {"@id": "samples/sample_id"},
                "field": record_fields,
            }
        ],
        "rai:dataCollection": _COLLECTION,
        "rai:dataCollectionType": [
            "Self-reported (contributed by the owners)",
            "Secondary data analysis (computed depth)",
        ],
        "rai:dataCollectionTimeframe": dates[:1] + dates[-1:] if dates else [],
        "rai:dataPreprocessingProtocol": _PREPROCESSING,
        "rai:dataManipulationProtocol": "Faces blurred and metadata stripped before storage; views downsized and rectified.",
        "rai:personalSensitiveInformation": _PERSONAL,
        "rai:dataUseCases": "Training and evaluating stereo matching, monocular and stereo depth estimation, and novel-view "
        "synthesis models; only as each sample's licence allows.",
        "rai:dataBiases": "Captured by volunteers with consumer stereo devices: scenes, places and devices reflect who "
        "contributed; disparity is estimated, not measured ground truth.",
        "rai:dataLimitations": "Depth is metric only where the device states its baseline and focal length; elsewhere it "
        "is relative. Estimated disparity has errors in textureless, reflective and occluded areas.",
        "rai:dataSocialImpact": "Real 3D data with consent and privacy protection for spatial AI; blurring may miss faces "
        "the detector does not find.",
        "rai:dataReleaseMaintenancePlan": "Live dataset: contributors can withdraw consent; exports holding withdrawn samples "
        "are marked stale and regenerated without them.",
        "px:licenseBreakdown": licences,
        "px:consentRecords": {
            "count": len(consents),
            "fields": ["contributor", "license", "allow_training", "date"],
            "allow_training": "required true for every stored sample",
        },
        "px:sampleCounts": {s: len(ids) for s, ids in listing["samples"].items()},
    }
