"""Middlebury 2003 layout (Cones, Teddy): one folder per scene.

``im2.png`` (left), ``im6.png`` (right), ``disp2.png`` (ground truth of view 2),
and optionally the evaluation mask ``nonocc.png`` (255 = non-occluded). The 8-bit
maps hold the full-size disparity, so ``d = value / 4`` at quarter size (450
pixels wide), ``/ 2`` at half size (900) and ``/ 1`` at full size (1800); ``0`` =
no value. Folders of other widths are left to the 2001 layout (``/ 8``).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from parallax.bench.datasets.files import read_mask, read_png_disparity, read_view
from parallax.bench.datasets.source import SceneSource, assemble_scene, scene_name
from parallax.bench.scene import StereoScene

__all__ = ["NAME", "DESCRIPTION", "find", "load", "DIVISOR_BY_WIDTH", "image_width"]

NAME = "middlebury2003"
DESCRIPTION = "Middlebury 2003: im2.png, im6.png, disp2.png (quarter size d = value / 4), nonocc.png"
#: Stored width of the 2003 sizes -> divisor of the 8-bit ground truth.
DIVISOR_BY_WIDTH = {450: 4.0, 900: 2.0, 1800: 1.0}


def image_width(path: Path) -> int | None:
    """Width of an image from its header, or None if it cannot be read."""
    try:
        with Image.open(path) as image:
            return int(image.size[0])
    except (OSError, ValueError):
        return None


def find(folder: Path, root: Path) -> list[SceneSource]:
    """One scene when ``folder`` holds ``im2.png``/``im6.png``/``disp2.png`` of a 2003 size."""
    files = {"left": folder / "im2.png", "right": folder / "im6.png", "gt": folder / "disp2.png"}
    if not all(p.is_file() for p in files.values()):
        return []
    divisor = DIVISOR_BY_WIDTH.get(image_width(files["gt"]) or 0)
    if divisor is None:
        return []
    if (folder / "nonocc.png").is_file():
        files["nonocc"] = folder / "nonocc.png"
    return [SceneSource(name=scene_name(folder, root), layout=NAME, files=files, params={"divisor": divisor})]


def load(source: SceneSource) -> StereoScene:
    """Read one 2003 scene (also used by the 2001 layout, with its own divisor)."""
    files = source.files
    left = read_view(files["left"])
    nonocc = read_mask(files["nonocc"], shape=left.shape[:2]) if "nonocc" in files else None
    return assemble_scene(
        source,
        left=left,
        right=read_view(files["right"]),
        gt=read_png_disparity(files["gt"], divisor=source.params["divisor"]),
        nonocc=nonocc,
    )
