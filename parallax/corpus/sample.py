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

import json
import math
import os
import re
import secrets
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from parallax.capture.types import _readonly, check_image
from parallax.corpus import encoding as enc
from parallax.errors import InputFileError, OutputError, ParameterError
from parallax.stereo.types import Rectification

__all__ = [
    "Sample",
    "SourceKind",
    "write_sample_dir",
    "read_sample_dir",
    "encode_sample",
    "decode_sample",
    "SAMPLE_FORMAT",
    "SAMPLE_FORMAT_VERSION",
]

SAMPLE_FORMAT = "parallax-sample"
SAMPLE_FORMAT_VERSION = 1
SourceKind = Literal["real", "synthetic", "video"]
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_EXTRA_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
#: Names an extra map may not take: the core files of a sample folder.
_RESERVED_NAMES = frozenset({"left", "right", "disparity", "depth", "confidence", "valid", "meta"})


def _map(name: str, value: Any, shape: tuple[int, int], *, optional: bool) -> np.ndarray | None:
    if value is None:
        if optional:
            return None
        raise ParameterError(f"Sample.{name} is required; give an HxW float32 array (NaN = no value)")
    if not isinstance(value, np.ndarray) or value.shape != shape:
        got = getattr(value, "shape", type(value).__name__)
        raise ParameterError(f"Sample.{name} must be an array of shape {shape} (the views' HxW), got {got}")
    return _readonly(value.astype(np.float32, copy=False))


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
        if not isinstance(self.sample_id, str) or not _ID_RE.match(self.sample_id):
            raise ParameterError(
                f"Sample.sample_id {self.sample_id!r} is not a valid id; use letters, digits, '.', '_' or '-' (1-128 chars)"
            )
        left = check_image("Sample.left", self.left)
        right = check_image("Sample.right", self.right)
        if right.shape != left.shape:
            raise ParameterError(
                f"Sample {self.sample_id}: left {left.shape} and right {right.shape} views differ in size"
            )
        object.__setattr__(self, "left", left)
        object.__setattr__(self, "right", right)
        shape = left.shape[:2]
        object.__setattr__(self, "disparity_px", _map("disparity_px", self.disparity_px, shape, optional=False))
        object.__setattr__(self, "depth", _map("depth", self.depth, shape, optional=True))
        conf = _map("confidence", self.confidence, shape, optional=True)
        valid = self.valid
        if valid is None:
            valid = np.isfinite(self.disparity_px)
        elif not isinstance(valid, np.ndarray) or valid.shape != shape:
            raise ParameterError(
                f"Sample.valid must be a bool array of shape {shape}, got {getattr(valid, 'shape', valid)}"
            )
        valid = _readonly(valid.astype(bool, copy=False))
        object.__setattr__(self, "valid", valid)
        if conf is None:
            conf = _readonly(valid.astype(np.float32))
        elif np.any(np.isfinite(conf) & ((conf < 0) | (conf > 1))):
            raise ParameterError(f"Sample {self.sample_id}: confidence must lie in [0, 1]")
        object.__setattr__(self, "confidence", conf)
        k = np.asarray(self.K, dtype=np.float64)
        if k.shape != (3, 3) or not np.all(np.isfinite(k)) or k[0, 0] <= 0 or k[1, 1] <= 0:
            raise ParameterError(
                f"Sample.K must be a finite 3x3 camera matrix with positive focal lengths, got {k.tolist()}"
            )
        object.__setattr__(self, "K", _readonly(k))
        if self.baseline_m is not None and not (math.isfinite(self.baseline_m) and self.baseline_m > 0):
            raise ParameterError(
                f"Sample.baseline_m must be a positive number of metres or None, got {self.baseline_m!r}"
            )
        if self.depth_is_metric and (self.baseline_m is None or self.depth is None):
            raise ParameterError(f"Sample {self.sample_id}: depth_is_metric needs a depth map and baseline_m")
        if self.source_kind not in ("real", "synthetic", "video"):
            raise ParameterError(f"Sample.source_kind {self.source_kind!r} is not real, synthetic or video")
        for name in ("source_format", "original_name", "license", "consent_id", "contributor"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ParameterError(f"Sample.{name} must be a non-empty string, got {value!r}")
        extras: dict[str, np.ndarray] = {}
        for name, arr in dict(self.extras).items():
            if not _EXTRA_RE.match(name):
                raise ParameterError(f"Sample.extras name {name!r} must be lower-case letters, digits and '_'")
            if name in _RESERVED_NAMES:
                raise ParameterError(
                    f"Sample.extras name {name!r} is a core file of the sample; choose another (e.g. 'gt_{name}')"
                )
            if not isinstance(arr, np.ndarray) or arr.shape[:2] != shape or arr.ndim not in (2, 3):
                raise ParameterError(f"Sample.extras[{name!r}] must be an HxW or HxWxC array with HxW = {shape}")
            extras[name] = _readonly(arr)
        object.__setattr__(self, "extras", extras)

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


def _jsonable(value: Any) -> Any:
    """Make numpy scalars/arrays and tuples JSON-ready; NaN/inf become None."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def encode_sample(sample: Sample) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Encode ``sample`` into its files: ``({file name: bytes}, manifest)``.

    The manifest is the content of ``meta.json`` (not included in the files dict).
    """
    files: dict[str, bytes] = {}
    entries: dict[str, dict[str, Any]] = {}

    def add(key: str, name: str, data: bytes, **info: Any) -> None:
        files[name] = data
        entries[key] = {"path": name, "sha256": enc.sha256_bytes(data), "bytes": len(data), **info}

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
        arr = sample.extras[name]
        if arr.ndim == 2 and arr.dtype in (np.bool_, np.uint8):
            kind = "bool" if arr.dtype == np.bool_ else "uint8"
            add(f"extra_{name}", f"{name}.png", enc.encode_mask_png(arr), encoding="png8-mask", dtype=kind)
        else:
            arr = arr.astype(np.float32) if arr.dtype.kind == "f" else arr
            add(f"extra_{name}", f"{name}.npy", enc.encode_npy(arr), encoding="npy", dtype=arr.dtype.str)
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
            "facts": _jsonable(sample.camera_facts),
        },
        "source": {
            "kind": sample.source_kind,
            "format": sample.source_format,
            "device": sample.device,
            "original_name": sample.original_name,
            "content_sha256": sample.content_sha256,
        },
        "rights": {"license": sample.license, "consent_id": sample.consent_id, "contributor": sample.contributor},
        "processing": _jsonable(sample.processing),
        "privacy": _jsonable(sample.privacy),
        "quality": _jsonable(sample.quality),
        "lineage": _jsonable(sample.lineage),
        "files": entries,
    }
    return files, manifest


def manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    """``meta.json`` bytes: sorted keys, 2-space indent, UTF-8, trailing newline (deterministic)."""
    return (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_files_atomically(files: Mapping[str, bytes], final: Path) -> None:
    """Write ``files`` into a staging folder beside ``final``, fsync, then rename it to ``final``.

    The staging folder is named ``.<final name>.staging-<random>``; a crash leaves
    only such a folder (never a partial ``final``), which :func:`clean_staging`
    removes. Raises :class:`OutputError` if ``final`` exists or cannot be written.
    """
    final = Path(final)
    if final.exists():
        raise OutputError(f"cannot write sample folder {final}: it already exists; remove it or choose another folder")
    if not final.parent.is_dir():
        raise OutputError(f"cannot write sample folder {final}: folder {final.parent} does not exist; create it first")
    stage = final.parent / f".{final.name}.staging-{secrets.token_hex(6)}"
    try:
        stage.mkdir()
        for name, data in files.items():
            with open(stage / name, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        _fsync_dir(stage)
        os.rename(stage, final)
        _fsync_dir(final.parent)
    except OSError as exc:
        raise OutputError(
            f"cannot write sample folder {final}: {exc.strerror}; check the folder and free space"
        ) from exc
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)


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
        write_files_atomically(files, Path(text.removeprefix("file://")))
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
    try:
        manifest = json.loads(read("meta.json"))
    except (OSError, FileNotFoundError, KeyError) as exc:
        raise InputFileError(f"{where}: no meta.json; this is not a Parallax sample folder") from exc
    except ValueError as exc:
        raise InputFileError(
            f"{where}/meta.json is not valid JSON ({exc}); the sample is corrupt, re-create it"
        ) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != SAMPLE_FORMAT:
        raise InputFileError(f"{where}/meta.json is not a {SAMPLE_FORMAT} manifest; give a sample folder")
    if int(manifest.get("format_version", 0)) > SAMPLE_FORMAT_VERSION:
        raise InputFileError(
            f"{where}: sample format version {manifest['format_version']} is newer than this Parallax reads; upgrade"
        )
    data: dict[str, bytes] = {}
    for key, info in manifest["files"].items():
        try:
            blob = read(info["path"])
        except (OSError, FileNotFoundError, KeyError) as exc:
            raise InputFileError(f"{where}/{info['path']} is missing; the sample is incomplete, re-create it") from exc
        if verify and enc.sha256_bytes(blob) != info["sha256"]:
            raise InputFileError(f"{where}/{info['path']} does not match its SHA-256 in meta.json; the file is corrupt")
        data[key] = blob
    files = manifest["files"]
    name = lambda key: f"{where}/{files[key]['path']}"  # noqa: E731
    extras = {}
    for key, info in files.items():
        if key.startswith("extra_"):
            if info["encoding"] == "npy":
                extras[key[6:]] = enc.decode_npy(data[key], name=name(key))
            else:
                extras[key[6:]] = enc.decode_mask_png(data[key], name=name(key), as_bool=info.get("dtype") == "bool")
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
    text = os.fspath(directory)
    if "://" in text and not text.startswith("file://"):
        from parallax.corpus.storage import Storage

        store = Storage(text)
        return decode_sample(lambda n: store.read_bytes(n), where=text, verify=verify)
    folder = Path(text.removeprefix("file://"))
    if not folder.is_dir():
        raise InputFileError(f"sample folder {folder} does not exist; give the folder write_sample_dir created")
    return decode_sample(lambda n: (folder / n).read_bytes(), where=str(folder), verify=verify)
