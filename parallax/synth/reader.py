"""Read synthetic samples back: recognise synth folders, list scenes for benchmarks.

A synth dataset folder (``synth.json`` plus sample folders) or a single synth
sample folder can be read as a stereo benchmark: :func:`list_synth_scenes`
gives each pair as ``(name, left, right, gt_disparity, nonocc)`` in the
conventions of ``docs/conventions.md`` (disparity in pixels of the left view,
``x_right = x_left - d``, NaN = no ground truth).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from parallax.errors import InputFileError

__all__ = [
    "SynthScene",
    "is_synth_sample_dir",
    "is_synth_dataset_dir",
    "synth_sample_dirs",
    "load_synth_scene",
    "list_synth_scenes",
    "iter_synth_scenes",
]


@dataclass(frozen=True, kw_only=True)
class SynthScene:
    """One synthetic pair as a benchmark scene.

    Attributes
    ----------
    name : str
        The sample id.
    left, right : numpy.ndarray
        ``HxWx3`` uint8 RGB views (``right`` rectified with the stated residual
        homography when asked to, else as delivered).
    gt_disparity : numpy.ndarray
        ``HxW`` float32 exact disparity of the left view in pixels; NaN = no ground truth (sky).
    nonocc : numpy.ndarray
        ``HxW`` bool: pixels with ground truth that the right view also sees.
    reflection_mask : numpy.ndarray
        ``HxW`` bool: pixels whose colour comes from reflection or refraction.
    focal_px, baseline_m : float
        Rig focal length (pixels) and baseline (metres), for metric depth checks.
    path : Path
        The sample folder.
    """

    name: str
    left: np.ndarray
    right: np.ndarray
    gt_disparity: np.ndarray
    nonocc: np.ndarray
    reflection_mask: np.ndarray
    focal_px: float
    baseline_m: float
    path: Path


def _meta(path: Path) -> dict | None:
    try:
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def is_synth_sample_dir(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` is a sample folder written by ``parallax synth`` (source kind synthetic, generator parallax.synth)."""
    meta = _meta(Path(path))
    if meta is None or meta.get("format") != "parallax-sample":
        return False
    gen = (meta.get("lineage") or {}).get("generator") or {}
    return (meta.get("source") or {}).get("kind") == "synthetic" and gen.get("name") == "parallax.synth"


def is_synth_dataset_dir(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` is a folder written by ``parallax synth --out`` (holds ``synth.json``)."""
    from parallax.synth.dataset import INDEX_FORMAT, INDEX_NAME

    try:
        index = json.loads((Path(path) / INDEX_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(index, dict) and index.get("format") == INDEX_FORMAT


def synth_sample_dirs(path: str | os.PathLike[str]) -> list[Path]:
    """The synth sample folders at ``path``: itself if it is one, else its synth sample sub-folders (sorted).

    Raises
    ------
    InputFileError
        If ``path`` is neither a synth sample folder nor holds any.
    """
    path = Path(path)
    if not path.is_dir():
        raise InputFileError(f"{path} is not a folder; give a folder written by parallax synth")
    if is_synth_sample_dir(path):
        return [path]
    dirs = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".") and is_synth_sample_dir(p))
    if not dirs:
        raise InputFileError(f"{path} holds no synthetic samples; give a folder written by parallax synth --out")
    return dirs


def load_synth_scene(path: str | os.PathLike[str], *, rectify_right: bool = True, verify: bool = True) -> SynthScene:
    """Read one synth sample folder as a benchmark scene.

    Parameters
    ----------
    path : path-like
        A sample folder written by ``parallax synth``.
    rectify_right : bool
        Warp the delivered right view with the stated residual homography
        (``lineage.rig.H_right_residual``) so that the pair is exactly rectified;
        a no-op for pairs made without rectification error.
    verify : bool
        Check the SHA-256 of every file.

    Raises
    ------
    InputFileError
        If the folder is not a synth sample or is corrupt.
    """
    from parallax.corpus.sample import read_sample_dir

    path = Path(path)
    if not is_synth_sample_dir(path):
        raise InputFileError(f"{path} is not a sample folder written by parallax synth")
    s = read_sample_dir(path, verify=verify)
    gt = s.extras.get("disparity_exact", s.disparity_px).astype(np.float32)
    occ = s.extras.get("occlusion")
    if occ is None:
        raise InputFileError(f"{path} lacks occlusion.png; the sample is incomplete, re-generate it")
    if s.baseline_m is None:
        raise InputFileError(f"{path}: meta.json gives no baseline_m; the sample is incomplete, re-generate it")
    refl = s.extras.get("reflection_mask", np.zeros(gt.shape, bool)).astype(bool)
    right = s.right
    H = np.asarray(s.lineage.get("rig", {}).get("H_right_residual", np.eye(3)), dtype=np.float64)
    if rectify_right and not np.allclose(H, np.eye(3), atol=1e-12):
        right = cv2.warpPerspective(
            np.asarray(right), H, (s.width, s.height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )
    return SynthScene(
        name=s.sample_id,
        left=np.asarray(s.left),
        right=np.ascontiguousarray(right),
        gt_disparity=gt,
        nonocc=np.isfinite(gt) & ~occ.astype(bool),
        reflection_mask=refl,
        focal_px=float(s.K[0, 0]),
        baseline_m=s.baseline_m,
        path=path,
    )


def iter_synth_scenes(path: str | os.PathLike[str], **kwargs: bool) -> Iterator[SynthScene]:
    """Yield :func:`load_synth_scene` of each synth sample at ``path`` (see :func:`synth_sample_dirs`)."""
    for d in synth_sample_dirs(path):
        yield load_synth_scene(d, **kwargs)


def list_synth_scenes(path: str | os.PathLike[str], **kwargs: bool) -> list[SynthScene]:
    """All synth scenes at ``path`` as a list (see :func:`iter_synth_scenes`)."""
    return list(iter_synth_scenes(path, **kwargs))
