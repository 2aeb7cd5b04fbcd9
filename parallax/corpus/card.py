"""The dataset card (``README.md`` with Hugging Face YAML front matter) and Croissant ``croissant.json``.

Both are built from the export listing and the catalog only (counts, licences,
splits, consent dates), never from sample content, and are deterministic for a
given export.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

from parallax.corpus.croissant import CROISSANT_CONTEXT, croissant_jsonld
from parallax.errors import ParameterError

__all__ = ["dataset_card", "croissant", "cite_as_bibtex", "check_date", "CROISSANT_CONTEXT"]

_COLLECTION = (
    "Stereo photographs taken by their owners with consumer devices (3D cameras and MPO files, side-by-side rigs, "
    "Apple spatial photos, Leia LIF) and contributed to the corpus with a signed consent record (contributor, licence, "
    "permission to train, date). Each capture was rectified and its disparity, depth and confidence estimated by "
    "Parallax's stereo pipeline at a bounded size (the longest side used is in each sample's meta.json, "
    "processing.max_side_px). Stereo videos (and rendered synthetic sequences) become clips: frames in time order, "
    "each with its timestamp, camera pose and intrinsics."
)
_PERSONAL = (
    "Faces were detected (MTCNN with the weights shipped by the mtcnn-runtime package, or a stronger detector given by "
    "path) in both views and blurred consistently (pixelation plus Gaussian blur) before anything was stored; a second "
    "detection pass blurs anything still found. Licence plates are blurred only where a plate detector was given. "
    "Stored images carry no EXIF/XMP: GPS position, serial numbers, owner names and comments are removed; only the camera "
    "facts 3D needs (make, model, focal length, baseline) are kept in meta.json. Withdrawn consent deletes the samples "
    "(still pairs and clips) and marks every export that held them stale."
)
_PREPROCESSING = [
    "privacy: face (and plate) blurring in both views; metadata stripped",
    "downsizing to the stored size (area interpolation), intrinsics scaled along",
    "rectification (feature-based or calibrated) and disparity/depth/confidence estimation",
    "quality filtering with stated thresholds: rectification residual, sharpness, exposure, disparity density and range, "
    "left-right photometric consistency; rejected captures are recorded with the reason",
    "deduplication: exact (SHA-256 of decoded pixels) and near (64-bit DCT perceptual hash of both views)",
]


def _size_category(n: int) -> str:
    for limit, label in ((1000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return label
    return "n>1M"


def _licence_breakdown(rights: list[dict[str, Any]]) -> dict[str, int]:
    return dict(sorted(Counter(r["license"] for r in rights).items()))


def check_date(text: str | None) -> str:
    """A ``YYYY-MM-DD`` date (default: today, UTC), checked."""
    if text is None:
        return datetime.now(UTC).date().isoformat()
    try:
        return date.fromisoformat(str(text)).isoformat()
    except ValueError as exc:
        raise ParameterError(f"date {text!r} is not a date such as 2026-05-01 (YYYY-MM-DD)") from exc


def cite_as_bibtex(*, title: str, export_id: str, date_published: str, samples: int) -> str:
    """A BibTeX ``@misc`` entry for an export (Croissant ``citeAs``)."""
    key = "parallax-" + export_id.removeprefix("e-")
    clean = title.replace("{", "(").replace("}", ")")
    return (
        f"@misc{{{key},\n  title = {{{clean}}},\n  note = {{Parallax corpus export {export_id}, {samples} samples}},\n"
        f"  year = {{{date_published[:4]}}},\n  date = {{{date_published}}}\n}}"
    )


def _counts(listing: dict[str, Any]) -> dict[str, tuple[int, int, int]]:
    """Per split: (samples, clips, clip frames)."""
    clips = listing.get("clip_samples", {})
    frames = listing.get("frames", {})
    return {
        s: (len(listing["samples"].get(s, [])), len(clips.get(s, [])), int(frames.get(s, 0)))
        for s in ("train", "val", "test")
    }


def _format_text(fmt: str, has_stills: bool, has_clips: bool, window: int | None, stride: int | None) -> list[str]:
    out = []
    if fmt == "webdataset":
        if has_stills:
            out.append(
                "Still pairs: WebDataset tar shards `<split>-NNNNNN-<hash>.tar`; per sample `<key>.left.png`, "
                "`.right.png` (rectified views), `.disparity.png`, `.depth.png`, `.confidence.png` (16-bit PNG with the "
                "scale and offset stated in the `.json`), `.valid.png`, and `<key>.json` (the sample's meta.json)."
            )
        if has_clips:
            stored = (
                "one WebDataset sample per clip"
                if window is None
                else f"one WebDataset sample per window of at most {window} frames, windows starting every {stride} "
                "frames (key `<clip key>@<start>-<stop>`)"
            )
            out.append(
                f"Clips: tar shards `clips-<split>-NNNNNN-<hash>.tar`, {stored}: `<key>.json` first (the clip's "
                "meta.json cut to the stored frames: `frames[i]` with `index`, `timestamp_s`, `pose`, `K`; "
                "`window` = start and stop), then per frame `<key>.NNNNNN.left.png`, `.right.png`, `.disparity.png`, "
                "`.depth.png`, `.confidence.png`, `.valid.png` and any extra ground truth (`.flow.npy`, ...), where "
                "`NNNNNN` is the frame's index in the clip. `frames.jsonl` lists every exported frame (clip id, frame "
                "index, `time_s`, pose, K, shard and member key)."
            )
    else:
        if has_stills:
            out.append(
                "Still pairs: Parquet shards `<split>-NNNNNN-<hash>.parquet`, one row per sample: PNG bytes of `left`, "
                "`right`, `disparity`, `depth`, `confidence`, `valid`; `K` (row-major 3x3), `baseline_m`, rights "
                "columns, and `meta` (the sample's meta.json)."
            )
        if has_clips:
            out.append(
                "Clips: Parquet shards `clips-<split>-NNNNNN-<hash>.parquet`, one row per frame: `sample_id` (the clip "
                "id), `frame_index`, `frame_count`, `timestamp_s`, `pose` (16 values, row-major, null when unknown), "
                "`K` (9 values), `fps`, the same image and rights columns as the stills, and `meta` (the clip's "
                "meta.json cut to the frame)."
            )
    return out


def dataset_card(*, title: str, fmt: str, listing: dict[str, Any], rights: list[dict[str, Any]]) -> str:
    """The ``README.md`` dataset card: Hugging Face YAML front matter, then counts, licences, collection, privacy."""
    counts = _counts(listing)
    total = sum(c[0] for c in counts.values())
    n_clips = sum(c[1] for c in counts.values())
    n_frames = sum(c[2] for c in counts.values())
    licences = _licence_breakdown(rights)
    ext = "tar" if fmt == "webdataset" else "parquet"
    lic_yaml = ("other" if len(licences) != 1 else next(iter(licences)).lower()) if licences else "other"
    has_stills, has_clips = total > n_clips, n_clips > 0
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
        *(["- video", "- camera-poses"] if has_clips else []),
        "size_categories:",
        f"- {_size_category(total)}",
        "configs:",
    ]
    configs = []
    if has_stills or not has_clips:
        configs.append(("default", ""))
    if has_clips:
        configs.append(("clips", "clips-"))
    for name, prefix in configs:
        lines += [f"- config_name: {name}", "  data_files:"]
        for split in ("train", "val", "test"):
            samples, clips, _ = counts[split]
            if (clips if prefix else samples - clips) > 0:
                hf_split = "validation" if split == "val" else split
                lines += [f"  - split: {hf_split}", f'    path: "{prefix}{split}-*.{ext}"']
    lines.append("---")
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(Counter(r["source_kind"] for r in rights).items()))
    body = [
        f"# {title}",
        "",
        "Rectified stereo pairs"
        + (
            " and stereo clips (frames in time order, each with its timestamp, camera pose and intrinsics)"
            if has_clips
            else ""
        )
        + " with disparity, depth, confidence and cameras (OpenCV convention), made from consented everyday stereo "
        "captures by Parallax.",
        "",
        "## Counts",
        "",
        "| split | samples | still pairs | clips | clip frames |",
        "|---|---|---|---|---|",
        *[f"| {s} | {c[0]} | {c[0] - c[1]} | {c[1]} | {c[2]} |" for s, c in counts.items()],
        f"| total | {total} | {total - n_clips} | {n_clips} | {n_frames} |",
        "",
        f"Contributors: {len({r['contributor'] for r in rights})}. Source kinds: {kinds}.",
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
        *[
            p + "\n"
            for p in _format_text(fmt, has_stills, has_clips, listing.get("clip_window"), listing.get("clip_stride"))
        ],
        "Disparity is in pixels of the rectified left view with `x_right = x_left - d`; decode 16-bit maps with "
        "`value = (stored - offset) / scale`, stored 0 = no value.",
        "",
    ]
    if has_clips:
        body += [
            "## Sequences",
            "",
            "| field | meaning |",
            "|---|---|",
            "| clip id | `sample_id` of the clip (Parquet `sample_id`, WebDataset key and `.json` `sample_id`) |",
            "| frame index | 0-based position of the frame in its clip, time order (`frame_index`, `NNNNNN` in member names) |",
            "| frame count | frames of the whole clip (`frame_count`) |",
            "| timestamp | seconds from the start of the source video (`timestamp_s`; strictly increasing) |",
            "| pose | 4x4 camera-to-world of the rectified left camera, OpenCV axes (x right, y down, z forward); "
            "metres when `camera.poses.metric`; null when tracking was lost |",
            "| K | 3x3 intrinsics of the rectified left view of that frame, pixels |",
            "",
            "`parallax.corpus.loader.CorpusDataset(..., clip_length=T, stride=S)` streams windows of T consecutive "
            "frames from the WebDataset export.",
            "",
        ]
    body += [
        "## Withdrawal",
        "",
        "Owners may withdraw consent at any time; withdrawn samples are removed and this export is "
        "then marked stale and must be regenerated. Check `export.json` (export id " + listing["export_id"] + ").",
        "",
    ]
    return "\n".join(lines + [""] + body)


def croissant(
    *,
    title: str,
    fmt: str,
    listing: dict[str, Any],
    rights: list[dict[str, Any]],
    consents: list[dict[str, Any]],
    date_published: str | None = None,
    cite_as: str | None = None,
) -> dict[str, Any]:
    """Croissant 1.0 JSON-LD metadata of the export, with RAI fields (collection, consent, personal data, licences).

    ``date_published`` (``YYYY-MM-DD``) defaults to today (UTC); ``cite_as`` to a BibTeX entry
    naming the export. Record sets: see :mod:`parallax.corpus.croissant`.
    """
    published = check_date(date_published)
    total = sum(len(ids) for ids in listing["samples"].values())
    cite = cite_as or cite_as_bibtex(
        title=title, export_id=listing["export_id"], date_published=published, samples=total
    )
    return croissant_jsonld(
        title=title,
        fmt=fmt,
        listing=listing,
        licences=_licence_breakdown(rights),
        dates=sorted({c["date"] for c in consents}),
        consent_count=len(consents),
        date_published=published,
        cite_as=cite,
        rai={
            "rai:dataCollection": _COLLECTION,
            "rai:dataCollectionType": [
                "Self-reported (contributed by the owners)",
                "Secondary data analysis (computed depth)",
            ],
            "rai:dataPreprocessingProtocol": _PREPROCESSING,
            "rai:dataManipulationProtocol": "Faces blurred and metadata stripped before storage; views downsized "
            "and rectified; videos cut into clips.",
            "rai:personalSensitiveInformation": _PERSONAL,
            "rai:dataUseCases": "Training and evaluating stereo matching, monocular and stereo depth estimation, "
            "novel-view synthesis and world models over stereo sequences; only as each sample's licence allows.",
            "rai:dataBiases": "Captured by volunteers with consumer stereo devices: scenes, places and devices reflect "
            "who contributed; disparity is estimated, not measured ground truth (except for synthetic samples).",
            "rai:dataLimitations": "Depth is metric only where the device states its baseline and focal length; "
            "elsewhere it is relative. Estimated disparity has errors in textureless, reflective and occluded areas. "
            "Video poses are estimated and may be unknown (null) where tracking was lost.",
            "rai:dataSocialImpact": "Real 3D data with consent and privacy protection for spatial AI; blurring may "
            "miss faces the detector does not find.",
            "rai:dataReleaseMaintenancePlan": "Live dataset: contributors can withdraw consent; exports holding "
            "withdrawn samples are marked stale and regenerated without them.",
        },
    )
