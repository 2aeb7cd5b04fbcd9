"""ETH3D two-view layout.

The official download puts views and calibration in ``two_view_training/SCENE/``
(``im0.png``, ``im1.png``, ``calib.txt`` in Middlebury format, plus COLMAP
``cameras.txt``/``images.txt``) and the ground truth in the sibling
``two_view_training_gt/SCENE/`` (``disp0GT.pfm``, ``inf`` = no value;
``mask0nocc.png``, 255 = non-occluded). A folder with everything side by side and
a ``cameras.txt`` is read too. ETH3D's ``calib.txt`` sets ``ndisp`` to the image
width (no bound), so the search range comes from the ground truth.
"""

from __future__ import annotations

from pathlib import Path

from parallax.bench.datasets import middlebury2014
from parallax.bench.datasets.source import SceneSource, scene_name
from parallax.bench.scene import StereoScene

__all__ = ["NAME", "DESCRIPTION", "find", "load"]

NAME = "eth3d"
DESCRIPTION = (
    "ETH3D two-view: im0.png, im1.png, calib.txt; disp0GT.pfm, mask0nocc.png (also in the *_gt sibling folder)"
)


def find(folder: Path, root: Path) -> list[SceneSource]:
    """One scene when ``folder`` is an ETH3D two-view scene folder with ground truth."""
    parent = folder.parent
    gt_folder = parent.with_name(parent.name + "_gt") / folder.name
    if gt_folder.is_dir():
        files = middlebury2014.im0_im1_files(folder, gt_folder)
    elif (folder / "cameras.txt").is_file():
        files = middlebury2014.im0_im1_files(folder, folder)
    else:
        return []
    return [SceneSource(name=scene_name(folder, root), layout=NAME, files=files)] if files else []


def load(source: SceneSource) -> StereoScene:
    """Read one ETH3D scene (Middlebury file formats)."""
    return middlebury2014.load(source)
