"""The one :class:`Sample` type of the corpus, and its self-describing folder layout.

A sample is one rectified stereo pair with its disparity, depth, confidence,
valid mask, camera (OpenCV convention), provenance (source, licence, consent,
contributor), quality scores and lineage. Real captures, synthetic scenes and
video frames all become the same type; ``source_kind`` tells them apart.

On disk (see ``docs/corpus.md``)::

    <sample_id>/
        left.png  right.png        rectified views, 8-bit RGB PNG, no metadata
        disparity.png              16-bit PNG, stored = round(d * scale) + offset, 0 = no value
        depth.png                  16-bit PNG, stored = round(z * scale), 0 = no value (optional)
        confidence.png             16-bit PNG, stored = round(c * 65535)
        valid.png                  8-bit PNG, 255 = valid
        <name>.png|.npy            optional extra ground-truth maps (e.g. reflection_mask.png),
                                   listed in meta.json under the key ``extra_<name>``
        meta.json                  everything else, plus each file's SHA-256

Conventions (``docs/conventions.md``): disparity in pixels of the rectified
left view with ``x_right = x_left - d``; depth along the optical axis, metres
when ``depth_is_metric`` else relative (median 1); NaN = no value in memory.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from parallax.corpus import encoding as enc
from parallax.corpus import fields as chk
from parallax.corpus.folder import (
    decode_extra,
    encode_extra,
    file_entry,
    folder_reader,
    jsonable,
    load_manifest,
    manifest_bytes,
    read_verified,
    write_files_atomically,
)
from parallax.errors import ParameterError
from parallax.stereo.types import Rectification

__all__ = [
    "Sample",
    "SourceKind",
    "write_sample_dir",
    "read_sample_dir",
    "encode_sample",
    "decode_sample",
    "manifest_bytes",
    "write_files_atomically",
    "SAMPLE_FORMAT",
    "SAMPLE_FORMAT_VERSION",
]

SAMPLE_FORMAT = "parallax-sample"
SAMPLE_FORMAT_VERSION = 1
SourceKind = Literal["real", "synthetic", "video"]


@dataclass(frozen=True, kw_only=True)
class Sample:
    """One corpus sample: a rectified stereo pair with its maps, camera and provenance.

    Parameters
    ----------
    sample_id : str
        Stable identifier, ``[A-Za-z0-9][A-Za-z0-9._-]*`` (at most 128 characters);
        also the folder name.
    left, right : numpy.ndarray
        Rectified views, ``HxWx3`` uint8 RGB, same size.
    disparity_px : numpy.ndarray
        ``HxW`` float32 disparity of the left view in pixels, ``x_right = x_left - d``;
        NaN = no value. Negative values are valid (converged rigs).
    depth : numpy.ndarray or None
        ``HxW`` float32 depth along the optical axis; metres when
        ``depth_is_metric``, else relative (median 1, larger = farther); NaN = no value.
    confidence : numpy.ndarray or None
        ``HxW`` float32 in [0, 1]; 0 = no confidence. ``None``: 1 where valid.
    valid : numpy.ndarray or None
        ``HxW`` bool, True where the disparity is trusted. ``None``: finite disparity.
    K : array-like
        3x3 intrinsics of the rectified left view (OpenCV: x right, y down, z forward).
    baseline_m : float or None
        Baseline in metres (``None`` when unknown; depth is then relative).
    doffs_px : float
        Principal-point x offset for ``Z = f * B / (d + doffs)``, pixels.
    depth_is_metric : bool
        Whether ``depth`` is in metres.
    rectification : Rectification or None
        Homographies from the original to the rectified views.
    source_kind : {"real", "synthetic", "video"}
        Where the sample came from.
    source_format : str
        The capture format (``"mpo"``, ``"sbs"``, ``"synthetic"``, ...).
    device : str or None
        Camera make and model (or renderer name).
    original_name : str
        The original file name(s), e.g. ``"GX8.mpo"`` or ``"X-left.jpg + X-right.jpg"``.
    license : str
        SPDX licence identifier of the sample (e.g. ``"CC-BY-4.0"``).
    consent_id : str
        Identifier of the consent record that allows this sample.
    contributor : str
        Identifier of the owner who consented.
    quality : Mapping
        Quality scores and the accept/reject decision (JSON-ready).
    lineage : Mapping
        Parallax version, matcher settings or generator settings and seed.
    camera_facts : Mapping
        The camera facts kept from the file's metadata (make, model, focal length);
        never GPS, serial numbers, owner names or comments.
    processing : Mapping
        How the stored size relates to the original (``max_side_px``, ``scale``,
        original width and height).
    privacy : Mapping
        What the privacy step did (detector, faces and plates blurred, tags removed).
    content_sha256 : str or None
        SHA-256 of the decoded pixels of the original views (dedup key).
    extras : Mapping of str to numpy.ndarray
        Extra ground-truth maps of the views' HxW size, e.g. ``occlusion`` (bool),
        ``normals`` (HxWx3 float32, OpenCV camera axes), ``reflection_mask`` (bool).
        Bool and uint8 maps are stored as PNG, others as float32/int ``.npy``.
    """

    sample_id: str
    left: np.ndarray
    right: np.ndarray
    disparity_px: np.ndarray
    depth: np.ndarray | None = None
    confidence: np.ndarray | None = None
    valid: np.ndarray | None = None
    K: Any
    baseline_m: float | None = None
    doffs_px: float = 0.0
    depth_is_metric: bool = False
    rectification: Rectification | None = None
    source_kind: SourceKind = "real"
    source_format: str
    device: str | None = None
    original_name: str
    license: str
    consent_id: str
    contributor: str
    quality: Mapping[str, Any] = field(default_factory=dict)
    lineage: Mapping[str, Any] = field(default_factory=dict)
    camera_facts: Mapping[str, Any] = field(default_factory=dict)
    processing: Mapping[str, Any] = field(default_factory=dict)
    privacy: Mapping[str, Any] = field(default_factory=dict)
    content_sha256: str | None = None
    extras: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        owner = f"Sample {self.sample_id}" if isinstance(self.sample_id, str) else "Sample"
        chk.check_id("Sample", self.sample_id)
        left, right = chk.check_views(owner, self.left, self.right)
        object.__setattr__(self, "left", left)
        object.__setattr__(self, "right", right)
        shape = left.shape[:2]
        disparity = chk.check_map("Sample", "disparity_px", self.disparity_px, shape, optional=False)
        object.__setattr__(self, "disparity_px", disparity)
        object.__setattr__(self, "depth", chk.check_map("Sample", "depth", self.depth, shape, optional=True))
        conf = chk.check_map("Sample", "confidence", self.confidence, shape, optional=True)
        valid, conf = chk.check_valid_and_confidence(owner, self.valid, conf, disparity)
        object.__setattr__(self, "valid", valid)
        object.__setattr__(self, "confidence", conf)
        object.__setattr__(self, "K", chk.check_K("Sample", self.K))
        chk.check_baseline("Sample", self.baseline_m)
        if self.depth_is_metric and (self.baseline_m is None or self.depth is None):
            raise ParameterError(f"{owner}: depth_is_metric needs a depth map and baseline_m")
        if self.source_kind not in ("real", "synthetic", "video"):
            raise ParameterError(f"Sample.source_kind {self.source_kind!r} is not real, synthetic or video")
        names = ("source_format", "original_name", "license", "consent_id", "contributor")
        chk.check_text("Sample", names, {n: getattr(self, n) for n in names})
        object.__setattr__(self, "extras", chk.check_extras("Sample", self.extras, shape))

    @property
    def views(self) -> tuple[np.ndarray, np.ndarray]:
        """``(left, right)``."""
        return self.left, self.right

    @property
    def width(self) -> int:
        """Width of the rectified views in pixels."""
        return int(self.left.shape[1])

    @property
    def height(self) -> int:
        """Height of the rectified views in pixels."""
        return int(self.left.shape[0])


def encode_sample(sample: Sample) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Encode ``sample`` into its files: ``({file name: bytes}, manifest)``.

    The manifest is the content of ``meta.json`` (not included in the files dict).
    """
    files: dict[str, bytes] = {}
    entries: dict[str, dict[str, Any]] = {}

    def add(key: str, name: str, data: bytes, **info: Any) -> None:
        files[name] = data
        entries[key] = file_entry(name, data, **info)

    add("left", "left.png", enc.encode_rgb_png(sample.left), encoding="png8-rgb")
    add("right", "right.png", enc.encode_rgb_png(sample.right), encoding="png8-rgb")
    e = enc.choose_encoding("disparity", sample.disparity_px)
    add("disparity", "disparity.png", enc.encode_map16(sample.disparity_px, e), units="px", **e)
    if sample.depth is not None:
        e = enc.choose_encoding("depth", sample.depth)
        add(
            "depth",
            "depth.png",
            enc.encode_map16(sample.depth, e),
            units="m" if sample.depth_is_metric else "relative",
            **e,
        )
    confidence, valid = sample.confidence, sample.valid
    if confidence is None or valid is None:  # Sample.__post_init__ fills both; only a hand-made object lacks them
        raise ParameterError(f"Sample {sample.sample_id} has no confidence or valid map; build it with Sample(...)")
    e = enc.choose_encoding("confidence", confidence)
    add("confidence", "confidence.png", enc.encode_map16(confidence, e), units="1", **e)
    add("valid", "valid.png", enc.encode_mask_png(valid), encoding="png8-mask", true_value=255)
    for name in sorted(sample.extras):
        ext, data, info = encode_extra(sample.extras[name])
        add(f"extra_{name}", f"{name}.{ext}", data, **info)
    manifest = {
        "format": SAMPLE_FORMAT,
        "format_version": SAMPLE_FORMAT_VERSION,
        "sample_id": sample.sample_id,
        "width": sample.width,
        "height": sample.height,
        "camera": {
            "convention": "opencv: x right, y down, z forward; pixel (0,0) = centre of top-left pixel",
            "K": sample.K.tolist(),
            "baseline_m": sample.baseline_m,
            "doffs_px": float(sample.doffs_px),
            "depth_is_metric": bool(sample.depth_is_metric),
            "disparity_convention": "x_right = x_left - d, pixels of the rectified left view",
            "rectification": sample.rectification.to_dict() if sample.rectification is not None else None,
            "facts": jsonable(sample.camera_facts),
        },
        "source": {
            "kind": sample.source_kind,
            "format": sample.source_format,
            "device": sample.device,
            "original_name": sample.original_name,
            "content_sha256": sample.content_sha256,
        },
        "rights": {"license": sample.license, "consent_id": sample.consent_id, "contributor": sample.contributor},
        "processing": jsonable(sample.processing),
        "privacy": jsonable(sample.privacy),
        "quality": jsonable(sample.quality),
        "lineage": jsonable(sample.lineage),
        "files": entries,
    }
    return files, manifest


def write_sample_dir(sample: Sample, directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Write ``sample`` as a self-describing folder ``directory``; return the manifest.

    The folder appears whole or not at all: files are staged in a hidden sibling
    folder, fsynced, and renamed into place. ``directory`` may also be an fsspec
    URL (``memory://...``, ``s3://...``); there the files are written first and
    ``meta.json`` last, so a folder without ``meta.json`` is incomplete.

    Parameters
    ----------
    sample : Sample
        What to write.
    directory : path-like or str
        The sample folder to create; it must not exist yet.

    Returns
    -------
    dict
        The manifest (the content of ``meta.json``), with each file's SHA-256.

    Raises
    ------
    OutputError
        If ``directory`` exists or cannot be written.
    """
    files, manifest = encode_sample(sample)
    files = {**files, "meta.json": manifest_bytes(manifest)}
    text = os.fspath(directory)
    if "://" in text and not text.startswith("file://"):
        from parallax.corpus.storage import Storage

        Storage(text).put_folder("", files)
    else:
        write_files_atomically(files, text.removeprefix("file://"))
    return manifest


def decode_sample(read: Callable[[str], bytes], *, where: str, verify: bool = True) -> Sample:
    """Build a :class:`Sample` from a sample folder's files, read through ``read(name) -> bytes``.

    ``verify`` checks every file against the SHA-256 in ``meta.json``.

    Raises
    ------
    InputFileError
        If ``meta.json`` is missing or not a Parallax sample, a file is missing,
        or a hash does not match.
    """
    manifest = load_manifest(read, where=where, fmt=SAMPLE_FORMAT, version=SAMPLE_FORMAT_VERSION)
    files = manifest["files"]
    data = {key: read_verified(read, info, where=where, verify=verify) for key, info in files.items()}
    name = lambda key: f"{where}/{files[key]['path']}"  # noqa: E731
    extras = {
        key[6:]: decode_extra(data[key], info, name=name(key))
        for key, info in files.items()
        if key.startswith("extra_")
    }
    cam, src, rights = manifest["camera"], manifest["source"], manifest["rights"]
    rect = cam.get("rectification")
    return Sample(
        sample_id=manifest["sample_id"],
        left=enc.decode_rgb_png(data["left"], name=name("left")),
        right=enc.decode_rgb_png(data["right"], name=name("right")),
        disparity_px=enc.decode_map16(data["disparity"], files["disparity"], name=name("disparity")),
        depth=enc.decode_map16(data["depth"], files["depth"], name=name("depth")) if "depth" in data else None,
        confidence=enc.decode_map16(data["confidence"], files["confidence"], name=name("confidence")),
        valid=enc.decode_mask_png(data["valid"], name=name("valid"), as_bool=True),
        K=np.array(cam["K"], dtype=np.float64),
        baseline_m=cam.get("baseline_m"),
        doffs_px=float(cam.get("doffs_px", 0.0)),
        depth_is_metric=bool(cam.get("depth_is_metric", False)),
        rectification=Rectification.from_dict(rect) if rect else None,
        source_kind=src["kind"],
        source_format=src["format"],
        device=src.get("device"),
        original_name=src["original_name"],
        license=rights["license"],
        consent_id=rights["consent_id"],
        contributor=rights["contributor"],
        quality=manifest.get("quality", {}),
        lineage=manifest.get("lineage", {}),
        camera_facts=cam.get("facts", {}),
        processing=manifest.get("processing", {}),
        privacy=manifest.get("privacy", {}),
        content_sha256=src.get("content_sha256"),
        extras=extras,
    )


def read_sample_dir(directory: str | os.PathLike[str], *, verify: bool = True) -> Sample:
    """Read a sample folder written by :func:`write_sample_dir` (local path or fsspec URL).

    Parameters
    ----------
    directory : path-like or str
        The sample folder.
    verify : bool
        Check every file against its SHA-256 in ``meta.json`` (default True).

    Raises
    ------
    InputFileError
        If the folder is missing, incomplete, corrupt or not a sample.
    """
    read, where = folder_reader(directory, what="write_sample_dir")
    return decode_sample(read, where=where, verify=verify)
