"""Middlebury 2001 layout (Scharstein & Szeliski, IJCV 2002): one folder per scene.

* Tsukuba: ``imL.png``/``imR.png``/``groundtruth.png`` or the original
  ``scene1.row3.col3.ppm``/``scene1.row3.col4.ppm``/``truedisp.row3.col3.pgm``;
  ``d = value / 16`` (palette PNGs are converted to 8-bit grey first).
* The other scenes (Venus, Sawtooth, Bull, Poster, Barn1/2, Map):
  ``im2``/``im6``/``disp2`` as ``.ppm``/``.pgm`` or ``.png`` (widths other than the
  2003 sizes); ``d = value / 8``.

``0`` = no value (Tsukuba's 18-pixel border); an optional ``nonocc.png`` (255 =
non-occluded) is read. The range comes from the ground truth.
"""

from __future__ import annotations

from pathlib import Path

from parallax.bench.datasets import middlebury2003
from parallax.bench.datasets.source import SceneSource, scene_name
from parallax.bench.scene import StereoScene

__all__ = ["NAME", "DESCRIPTION", "find", "load"]

NAME = "middlebury2001"
DESCRIPTION = "Middlebury 2001: Tsukuba imL/imR/groundtruth.png (d = value / 16); im2/im6/disp2 (d = value / 8)"
NAMINGS = (
    ("imL.png", "imR.png", "groundtruth.png", 16.0),
    ("scene1.row3.col3.ppm", "scene1.row3.col4.ppm", "truedisp.row3.col3.pgm", 16.0),
    ("im2.ppm", "im6.ppm", "disp2.pgm", 8.0),
    ("im2.png", "im6.png", "disp2.png", 8.0),
)


def find(folder: Path, root: Path) -> list[SceneSource]:
    """One scene when ``folder`` holds one of the 2001 namings."""
    for left, right, gt, divisor in NAMINGS:
        files = {"left": folder / left, "right": folder / right, "gt": folder / gt}
        if not all(p.is_file() for p in files.values()):
            continue
        if gt == "disp2.png" and middlebury2003.image_width(files["gt"]) in middlebury2003.DIVISOR_BY_WIDTH:
            continue  # a 2003 scene; its own layout reads it
        if (folder / "nonocc.png").is_file():
            files["nonocc"] = folder / "nonocc.png"
        return [SceneSource(name=scene_name(folder, root), layout=NAME, files=files, params={"divisor": divisor})]
    return []


def load(source: SceneSource) -> StereoScene:
    """Read one 2001 scene."""
    return middlebury2003.load(source)
