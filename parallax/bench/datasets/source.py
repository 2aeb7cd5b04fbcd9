"""Where a benchmark scene lives on disk (:class:`SceneSource`), and how a layout
turns its files into a :class:`~parallax.bench.scene.StereoScene`.

Every layout module (``middlebury2014``, ``kitti``, ...) has ``NAME``,
``DESCRIPTION``, ``find(folder, root) -> list[SceneSource]`` (cheap: file names
and at most image headers) and ``load(source) -> StereoScene``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from parallax.bench.scene import SceneCalib, StereoScene, range_from_ground_truth
from parallax.errors import InputFileError

__all__ = ["SceneSource", "assemble_scene", "scene_name", "usable_ndisp"]


@dataclass(frozen=True, kw_only=True)
class SceneSource:
    """A scene found on disk, not yet read.

    Parameters
    ----------
    name : str
        Scene name (see :func:`scene_name`).
    layout : str
        Name of the layout that found it (a key of ``parallax.bench.datasets.LAYOUTS``).
    files : Mapping[str, Path]
        Role -> file: ``left``, ``right``, ``gt`` and optionally ``nonocc``, ``calib``.
    params : Mapping
        Layout-specific reading parameters (e.g. the PNG ``divisor``).
    """

    name: str
    layout: str
    files: Mapping[str, Path]
    params: Mapping[str, Any] = field(default_factory=dict)

    def load(self) -> StereoScene:
        """Read the files into a :class:`StereoScene`."""
        from parallax.bench.datasets import LAYOUTS

        module = importlib.import_module(LAYOUTS[self.layout])
        return module.load(self)


def scene_name(folder: Path, root: Path, *suffix: str) -> str:
    """``folder`` relative to ``root`` in POSIX form (the folder's own name when they
    are the same), with ``suffix`` parts appended (``"training/000000_10"``)."""
    rel = folder.relative_to(root).as_posix() if folder != root else ""
    if not rel or rel == ".":
        rel = folder.resolve().name
    return "/".join([rel, *suffix]) if suffix else rel


def usable_ndisp(calib: Mapping[str, Any] | None, width: int) -> tuple[float, float] | None:
    """The search range ``[0, ndisp]`` from a Middlebury ``calib.txt`` when it is a real bound.

    ``ndisp`` is the bound Middlebury lets algorithms use. ETH3D's files set it to
    the image width (no bound at all), so values ``>= width`` are ignored.
    """
    if not calib or "ndisp" not in calib:
        return None
    ndisp = float(calib["ndisp"])
    if not (0 < ndisp < width):
        return None
    return 0.0, ndisp


def assemble_scene(
    source: SceneSource,
    *,
    left: np.ndarray,
    right: np.ndarray,
    gt: np.ndarray,
    nonocc: np.ndarray | None = None,
    calib: SceneCalib | None = None,
    dataset_range: tuple[float, float] | None = None,
) -> StereoScene:
    """Check sizes and build the :class:`StereoScene` (range from the dataset, else the GT).

    Raises
    ------
    InputFileError
        Naming the file whose size disagrees with the left view, or the ground
        truth that holds no valid pixel.
    """
    shape = left.shape[:2]
    for role, arr in (("right", right), ("gt", gt)):
        if arr.shape[:2] != shape:
            raise InputFileError(
                f"{source.files[role]}: {arr.shape[1]}x{arr.shape[0]}, but the left view "
                f"{source.files['left']} is {shape[1]}x{shape[0]}; the scene's files must have one size"
            )
    if not np.isfinite(gt).any():
        raise InputFileError(f"{source.files['gt']}: the ground truth has no valid pixel; the file is empty or damaged")
    if dataset_range is not None:
        lo, hi = dataset_range
        range_source: Literal["dataset", "ground-truth"] = "dataset"
    else:
        lo, hi = range_from_ground_truth(gt)
        range_source = "ground-truth"
    return StereoScene(
        name=source.name,
        left=left,
        right=right,
        gt_disparity_px=gt,
        nonocc=nonocc,
        calib=calib,
        min_disparity=lo,
        max_disparity=hi,
        range_source=range_source,
        dataset=source.layout,
        source=str(source.files["left"].parent),
    )
