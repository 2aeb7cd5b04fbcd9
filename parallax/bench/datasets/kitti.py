"""KITTI stereo 2012 and 2015 layout: one folder (``training/``) holds every frame.

========  ==============================  ================================
          2015 (``data_scene_flow``)      2012 (``data_stereo_flow``)
========  ==============================  ================================
left      ``image_2/NNNNNN_10.png``       ``colored_0/`` (else ``image_0/``)
right     ``image_3/NNNNNN_10.png``       ``colored_1/`` (else ``image_1/``)
GT all    ``disp_occ_0/NNNNNN_10.png``    ``disp_occ/``
GT noc    ``disp_noc_0/NNNNNN_10.png``    ``disp_noc/``
calib     ``calib_cam_to_cam/NNNNNN.txt`` ``calib/NNNNNN.txt``
========  ==============================  ================================

Ground truth is uint16 PNG, ``d = value / 256``, ``0`` = no value. The ``occ``
map is the scene's ground truth; where a ``noc`` map exists its valid pixels form
the non-occluded mask. Only the ``_10`` frames carry ground truth; frames without
(``testing/``) are skipped. KITTI gives no search bound, so the range comes from
the ground truth.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from parallax.bench.datasets.files import read_kitti_calib, read_png_disparity, read_view
from parallax.bench.datasets.source import SceneSource, assemble_scene, scene_name
from parallax.bench.scene import StereoScene
from parallax.errors import InputFileError

__all__ = ["NAME", "DESCRIPTION", "find", "load"]

NAME = "kitti"
DESCRIPTION = "KITTI 2012/2015: image_2|colored_0, image_3|colored_1, disp_occ[_0], disp_noc[_0] (uint16 / 256)"
# (left, right, occ, noc, calib folder) per edition, newest first.
EDITIONS = (
    (("image_2",), ("image_3",), "disp_occ_0", "disp_noc_0", "calib_cam_to_cam"),
    (("colored_0", "image_0"), ("colored_1", "image_1"), "disp_occ", "disp_noc", "calib"),
)


def find(folder: Path, root: Path) -> list[SceneSource]:
    """Every ``*_10`` frame with ground truth when ``folder`` is a KITTI ``training`` folder."""
    for lefts, rights, occ, noc, calib in EDITIONS:
        pair = next(
            (
                (folder / lf, folder / rf)
                for lf, rf in zip(lefts, rights, strict=True)
                if (folder / lf).is_dir() and (folder / rf).is_dir()
            ),
            None,
        )
        if pair is None or not ((folder / occ).is_dir() or (folder / noc).is_dir()):
            continue
        sources = []
        for left in sorted(pair[0].glob("*_10.png")):
            frame = left.name
            gt_all, gt_noc = folder / occ / frame, folder / noc / frame
            gt = gt_all if gt_all.is_file() else gt_noc
            if not gt.is_file():
                continue
            files = {"left": left, "right": pair[1] / frame, "gt": gt}
            if gt_noc.is_file() and gt is gt_all:
                files["nonocc"] = gt_noc
            calib_file = folder / calib / (frame[: -len("_10.png")] + ".txt")
            if calib_file.is_file():
                files["calib"] = calib_file
            sources.append(SceneSource(name=scene_name(folder, root, left.stem), layout=NAME, files=files))
        if sources:
            return sources
    return []


def load(source: SceneSource) -> StereoScene:
    """Read one KITTI frame."""
    files = source.files
    left = read_view(files["left"])
    height, width = left.shape[:2]
    nonocc = None
    if "nonocc" in files:
        noc = read_png_disparity(files["nonocc"], divisor=256.0)
        if noc.shape != (height, width):
            raise InputFileError(f"{files['nonocc']}: {noc.shape[1]}x{noc.shape[0]}, the views are {width}x{height}")
        nonocc = np.isfinite(noc)
    calib = read_kitti_calib(files["calib"], width=width, height=height) if "calib" in files else None
    return assemble_scene(
        source,
        left=left,
        right=read_view(files["right"]),
        gt=read_png_disparity(files["gt"], divisor=256.0),
        nonocc=nonocc,
        calib=calib,
    )
