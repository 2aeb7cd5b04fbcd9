"""Middlebury 2005 / 2006 layout: one folder per scene.

``view1.png`` (left), ``view5.png`` (right), ``disp1.png`` (ground truth of view 1),
as in the full-, half- and third-size downloads (the ``Illum*/Exp*`` variants are
not read); or the third-size course-pack naming ``left.png``, ``right.png``,
``true_disp.png``. Disparity ``d = value`` in pixels of the stored image at every
size (maps may be grey or grey-in-RGB); ``0`` = no value. ``dmin.txt`` only matters
for depth and is not read. No search bound is given, so the range comes from the
ground truth.
"""

from __future__ import annotations

from pathlib import Path

from parallax.bench.datasets.files import read_png_disparity, read_view
from parallax.bench.datasets.source import SceneSource, assemble_scene, scene_name
from parallax.bench.scene import StereoScene

__all__ = ["NAME", "DESCRIPTION", "find", "load"]

NAME = "middlebury2005"
DESCRIPTION = "Middlebury 2005/2006: view1.png, view5.png, disp1.png (or left/right/true_disp.png); d = value"
NAMINGS = (("view1.png", "view5.png", "disp1.png"), ("left.png", "right.png", "true_disp.png"))


def find(folder: Path, root: Path) -> list[SceneSource]:
    """One scene when ``folder`` holds one of the two namings."""
    for left, right, gt in NAMINGS:
        files = {"left": folder / left, "right": folder / right, "gt": folder / gt}
        if all(p.is_file() for p in files.values()):
            return [SceneSource(name=scene_name(folder, root), layout=NAME, files=files, params={"divisor": 1.0})]
    return []


def load(source: SceneSource) -> StereoScene:
    """Read one 2005/2006 scene."""
    files = source.files
    return assemble_scene(
        source,
        left=read_view(files["left"]),
        right=read_view(files["right"]),
        gt=read_png_disparity(files["gt"], divisor=source.params["divisor"]),
    )
