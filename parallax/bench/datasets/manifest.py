"""The ``scenes.json`` manifest layout (``../shared/data/stereo-gt``).

``{"scenes": {NAME: {"left": FILE, "right": FILE, "gt": FILE, "gt_encoding": TEXT,
"calib": {"f", "cx", "cy", "doffs", "baseline_mm"} | null}}}``; files live in the
folder ``NAME`` beside the manifest (or ``"folder"`` when an entry gives one).
``gt_encoding`` is read per scene:

* ``npz ...`` -- the first array of the archive, float disparity, ``inf`` = no value;
* ``PFM ...`` -- float disparity, ``inf`` = no value;
* ``... PNG ... disparity = value / N`` (or ``= value``) -- integer map, ``0`` = no
  value; palette PNGs are converted to 8-bit grey first, RGB ones give their
  first channel.
"""

from __future__ import annotations

import json
import math
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from parallax.bench.datasets.files import read_middlebury_calib, read_pfm, read_png_disparity, read_view
from parallax.bench.datasets.source import SceneSource, assemble_scene, usable_ndisp
from parallax.bench.scene import SceneCalib, StereoScene
from parallax.capture.types import CameraIntrinsics
from parallax.errors import InputFileError, ParallaxError, UnsupportedFormatError

__all__ = ["NAME", "DESCRIPTION", "find", "find_manifest", "parse_gt_encoding", "load"]

NAME = "scenes-json"
DESCRIPTION = "scenes.json manifest: left/right/gt file per scene with its gt_encoding"
MANIFEST = "scenes.json"


def find(folder: Path, root: Path) -> list[SceneSource]:
    """The manifest's scenes when ``folder`` holds a ``scenes.json``."""
    manifest = folder / MANIFEST
    return find_manifest(manifest) if manifest.is_file() else []


def find_manifest(manifest: Path) -> list[SceneSource]:
    """Every scene a manifest lists (files are checked when a scene is loaded)."""
    try:
        doc = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{manifest}: cannot read the manifest ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise InputFileError(
            f"{manifest}: not valid JSON ({exc.msg} at line {exc.lineno}); fix or regenerate it"
        ) from exc
    scenes = doc.get("scenes") if isinstance(doc, dict) else None
    if not isinstance(scenes, dict) or not scenes:
        raise InputFileError(f'{manifest}: no "scenes" object; a manifest maps scene names to their files')
    sources = []
    for name, entry in scenes.items():
        if not isinstance(entry, dict):
            raise InputFileError(f"{manifest}: scene {name!r} is not an object")
        missing = [k for k in ("left", "right", "gt", "gt_encoding") if not isinstance(entry.get(k), str)]
        if missing:
            raise InputFileError(f"{manifest}: scene {name!r} lacks {', '.join(missing)}")
        folder = manifest.parent / str(entry.get("folder", name))
        files = {role: folder / entry[role] for role in ("left", "right", "gt")}
        if (folder / "calib.txt").is_file():
            files["calib"] = folder / "calib.txt"
        encoding = parse_gt_encoding(entry["gt_encoding"], where=f"{manifest}: scene {name!r}")
        calib = entry.get("calib")
        if calib is not None and not isinstance(calib, dict):
            raise InputFileError(f"{manifest}: scene {name!r}: calib must be an object or null")
        sources.append(
            SceneSource(
                name=name,
                layout=NAME,
                files=files,
                params={"encoding": encoding, "calib": calib, "manifest": str(manifest)},
            )
        )
    return sources


_DIVISOR = re.compile(r"disparity\s*=\s*value(?:\s*/\s*([0-9]*\.?[0-9]+))?", re.IGNORECASE)


def parse_gt_encoding(text: str, *, where: str = "gt_encoding") -> dict[str, Any]:
    """Turn a manifest's ``gt_encoding`` sentence into reading parameters.

    Returns
    -------
    dict
        ``{"kind": "npz" | "pfm"}`` or ``{"kind": "png", "divisor": float}``.

    Raises
    ------
    UnsupportedFormatError
        For an encoding this reader does not know, quoting it.
    """
    head = text.strip().lower()
    if head.startswith("npz"):
        return {"kind": "npz"}
    if head.startswith("pfm"):
        return {"kind": "pfm"}
    if "png" in head.split(":")[0].split(",")[0]:
        match = _DIVISOR.search(text)
        if match:
            divisor = float(match.group(1)) if match.group(1) else 1.0
            if divisor > 0 and math.isfinite(divisor):
                return {"kind": "png", "divisor": divisor}
    raise UnsupportedFormatError(
        f"{where}: gt_encoding {text!r} is not one Parallax reads; use 'npz ...', 'PFM ...' "
        "or '... PNG ..., disparity = value / N; 0 = invalid'"
    )


def _read_npz(path: Path) -> np.ndarray:
    if not path.is_file():
        raise InputFileError(f"{path}: file not found; check the dataset folder is complete")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not archive.files:
                raise InputFileError(f"{path}: the npz archive holds no array")
            arr = np.asarray(archive[archive.files[0]])
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise InputFileError(f"{path}: cannot read the npz archive ({exc})") from exc
    if arr.ndim != 2 or arr.dtype.kind not in "fiu":
        raise InputFileError(f"{path}: the first array is {arr.dtype} {arr.shape}; a disparity map must be 2-D numbers")
    disp = arr.astype(np.float32)
    disp[~np.isfinite(disp)] = np.nan
    return disp


def load(source: SceneSource) -> StereoScene:
    """Read one manifest scene."""
    files = source.files
    left = read_view(files["left"])
    right = read_view(files["right"])
    encoding = source.params["encoding"]
    if encoding["kind"] == "npz":
        gt = _read_npz(files["gt"])
    elif encoding["kind"] == "pfm":
        gt = read_pfm(files["gt"])
    else:
        gt = read_png_disparity(files["gt"], divisor=encoding["divisor"])
    height, width = left.shape[:2]
    calib = None
    raw = source.params.get("calib")
    if raw:
        try:
            camera = CameraIntrinsics(
                focal_px=float(raw["f"]), cx_px=float(raw["cx"]), cy_px=float(raw["cy"]), width=width, height=height
            )
            calib = SceneCalib(
                camera=camera, baseline_m=float(raw["baseline_mm"]) / 1000.0, doffs_px=float(raw.get("doffs", 0.0))
            )
        except (KeyError, TypeError, ValueError, ParallaxError) as exc:
            raise InputFileError(
                f"{source.params['manifest']}: scene {source.name!r}: calib {raw!r} needs numbers f, cx, cy, baseline_mm ({exc})"
            ) from exc
    dataset_range = None
    if "calib" in files:
        dataset_range = usable_ndisp(read_middlebury_calib(files["calib"]), width)
    return assemble_scene(source, left=left, right=right, gt=gt, calib=calib, dataset_range=dataset_range)
