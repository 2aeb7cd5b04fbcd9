"""Synthetic layout: folders written by ``parallax synth`` (corpus sample folders).

A synth sample folder holds ``meta.json`` (source kind ``synthetic``, generator
``parallax.synth``), ``left.png``, ``right.png`` and the exact ground truth
``disparity_exact.npy`` (float32 pixels, NaN = sky) with
``occlusion.png`` (255 = the right view does not see the pixel); see
``parallax/synth/export.py``. Calibration (K, baseline, ``doffs = 0``) comes
from ``meta.json``. Pairs made with a rectification error are rectified here with
the residual homography their ``meta.json`` states. The search range comes from
the ground truth (there is no dataset bound).
"""

from __future__ import annotations

from pathlib import Path

from parallax.bench.datasets.source import SceneSource, assemble_scene, scene_name
from parallax.bench.scene import SceneCalib, StereoScene
from parallax.capture.types import CameraIntrinsics

__all__ = ["NAME", "DESCRIPTION", "find", "load"]

NAME = "synth"
DESCRIPTION = (
    "parallax synth sample folders: meta.json (synthetic), left.png, right.png, disparity_exact.npy, occlusion.png"
)


def find(folder: Path, root: Path) -> list[SceneSource]:
    """One scene when ``folder`` is a synth sample folder (a synth dataset folder is walked into by the caller)."""
    from parallax.synth.reader import is_synth_sample_dir

    if not is_synth_sample_dir(folder):
        return []
    files = {
        "left": folder / "left.png",
        "right": folder / "right.png",
        "gt": folder / "disparity_exact.npy",
        "nonocc": folder / "occlusion.png",
        "calib": folder / "meta.json",
    }
    return [SceneSource(name=scene_name(folder, root), layout=NAME, files=files)]


def load(source: SceneSource) -> StereoScene:
    """Read one synth sample folder (verifying its SHA-256 sums) as a benchmark scene."""
    from parallax.synth.reader import load_synth_scene

    s = load_synth_scene(source.files["left"].parent, rectify_right=True)
    h, w = s.gt_disparity.shape
    camera = CameraIntrinsics(focal_px=s.focal_px, cx_px=(w - 1) / 2.0, cy_px=(h - 1) / 2.0, width=w, height=h)
    return assemble_scene(
        source,
        left=s.left,
        right=s.right,
        gt=s.gt_disparity,
        nonocc=s.nonocc,
        calib=SceneCalib(camera=camera, baseline_m=s.baseline_m, doffs_px=0.0),
    )
