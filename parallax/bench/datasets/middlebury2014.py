"""Middlebury 2014 / MiddEval3 layout: one folder per scene.

``im0.png`` (left), ``im1.png`` (right), ground truth ``disp0.pfm`` (2014 download,
incl. ``*-perfect`` / ``*-imperfect`` folders) or ``disp0GT.pfm`` (MiddEval3),
``calib.txt``, and optionally ``mask0nocc.png`` (255 = non-occluded, 128 =
occluded, 0 = no ground truth). PFM ``inf`` = no value. The search range is
``[0, ndisp]`` from ``calib.txt`` (the bound Middlebury lets algorithms use).
The ``im1E.png``/``im1L.png`` exposure/lighting variants are not read.
"""

from __future__ import annotations

from pathlib import Path

from parallax.bench.datasets.files import (
    calib_from_middlebury,
    read_mask,
    read_middlebury_calib,
    read_pfm,
    read_view,
)
from parallax.bench.datasets.source import SceneSource, assemble_scene, scene_name, usable_ndisp
from parallax.bench.scene import StereoScene

__all__ = ["NAME", "DESCRIPTION", "find", "load", "im0_im1_files"]

NAME = "middlebury2014"
DESCRIPTION = "Middlebury 2014 / MiddEval3: im0.png, im1.png, disp0.pfm|disp0GT.pfm, calib.txt, mask0nocc.png"
GT_NAMES = ("disp0GT.pfm", "disp0.pfm")


def im0_im1_files(folder: Path, gt_folder: Path) -> dict[str, Path] | None:
    """The files of an ``im0``/``im1`` scene folder whose ground truth lies in ``gt_folder``."""
    if not ((folder / "im0.png").is_file() and (folder / "im1.png").is_file()):
        return None
    gt = next((gt_folder / n for n in GT_NAMES if (gt_folder / n).is_file()), None)
    if gt is None:
        return None
    files = {"left": folder / "im0.png", "right": folder / "im1.png", "gt": gt}
    for role, where in (("nonocc", gt_folder / "mask0nocc.png"), ("calib", folder / "calib.txt")):
        if where.is_file():
            files[role] = where
    return files


def find(folder: Path, root: Path) -> list[SceneSource]:
    """One scene when ``folder`` holds ``im0.png``, ``im1.png`` and a ``disp0*.pfm``."""
    files = im0_im1_files(folder, folder)
    return [SceneSource(name=scene_name(folder, root), layout=NAME, files=files)] if files else []


def load(source: SceneSource) -> StereoScene:
    """Read one ``im0``/``im1`` scene (also used by the ETH3D layout)."""
    files = source.files
    left = read_view(files["left"])
    right = read_view(files["right"])
    gt = read_pfm(files["gt"])
    height, width = left.shape[:2]
    nonocc = read_mask(files["nonocc"], shape=(height, width)) if "nonocc" in files else None
    calib = dataset_range = None
    if "calib" in files:
        raw = read_middlebury_calib(files["calib"])
        calib = calib_from_middlebury(raw, files["calib"], width=width, height=height)
        dataset_range = usable_ndisp(raw, width)
    return assemble_scene(
        source, left=left, right=right, gt=gt, nonocc=nonocc, calib=calib, dataset_range=dataset_range
    )
