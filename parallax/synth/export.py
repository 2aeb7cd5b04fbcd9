"""A :class:`~parallax.synth.generate.SynthPair` as a corpus :class:`~parallax.corpus.sample.Sample`.

Layout: the corpus sample folder (``docs/corpus.md``) with source kind
``synthetic``, licence CC0-1.0, and these extra ground-truth maps (``extra_<name>``):

==========================  ===========================================================
``occlusion``               bool PNG: left pixels the right view does not see
``reflection_mask``         bool PNG: left pixels whose first hit is mirror, metal or glass
``normals``                 float32 NPY HxWx3, left camera frame (OpenCV), NaN = sky
``material_kind``           uint8 PNG: index into ``MATERIAL_KINDS``, 255 = sky
``mixed_pixels``            bool PNG: pixels whose footprint holds more than one surface
                            (anti-aliased colour; sub-pixel wires may be missing from the GT)
``disparity_exact``         float32 NPY: left disparity (px) before PNG quantisation, NaN = sky
``depth_exact``             float32 NPY: left z-depth (m) before PNG quantisation, NaN = sky
``right_disparity``         float32 NPY: rectified right view's disparity, ``x_left = x_right + d``
``right_depth``             float32 NPY: rectified right view's z-depth (m)
``right_occlusion``         bool PNG: right pixels the left view does not see
``right_reflection_mask``   bool PNG
``right_normals``           float32 NPY HxWx3, right camera frame
``right_mixed_pixels``      bool PNG
==========================  ===========================================================

``meta.json`` ``lineage`` holds the generator settings, the seed and index, the
scene (shapes, materials, lights), the rig (K, both poses, the rectification
error and its residual homography) and the camera effects.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from parallax.synth.config import SynthConfig
from parallax.synth.generate import SynthPair
from parallax.synth.materials import MATERIAL_KINDS

__all__ = ["pair_to_sample", "write_pair", "LICENSE", "CONSENT_ID", "CONTRIBUTOR"]

LICENSE = "CC0-1.0"
CONSENT_ID = "synthetic-cc0"
CONTRIBUTOR = "parallax-synth"


def _kind_png(kind: np.ndarray) -> np.ndarray:
    return np.where(kind < 0, 255, kind).astype(np.uint8)


def pair_to_sample(pair: SynthPair, config: SynthConfig) -> Any:
    """Build the corpus ``Sample`` of ``pair`` (exact disparity and metric depth, extras, lineage)."""
    from parallax import __version__
    from parallax.corpus.sample import Sample

    lt, rt, rig = pair.left_truth, pair.right_truth, pair.plan.rig
    valid = np.isfinite(lt.disparity_px)
    n = max(1, int(valid.sum()))
    extras = {
        "occlusion": pair.occlusion_left,
        "reflection_mask": lt.reflection_mask,
        "normals": lt.normals,
        "material_kind": _kind_png(lt.material_kind),
        "mixed_pixels": lt.mixed_mask,
        "disparity_exact": lt.disparity_px,
        "depth_exact": lt.depth_m,
        "right_disparity": rt.disparity_px,
        "right_depth": rt.depth_m,
        "right_occlusion": pair.occlusion_right,
        "right_reflection_mask": rt.reflection_mask,
        "right_normals": rt.normals,
        "right_mixed_pixels": rt.mixed_mask,
    }
    lineage = {
        "parallax_version": __version__,
        "generator": {
            "name": "parallax.synth",
            "renderer": pair.renderer,
            "settings": config.to_dict(),
            "scene": pair.plan.describe(),
            "material_kinds": list(MATERIAL_KINDS),
        },
        "seed": pair.seed,
        "index": pair.index,
        "render_seeds": list(pair.render_seeds),
        "rig": rig.to_dict(),
        "effects": pair.effects.to_dict(),
        "exposure_scale": pair.exposure_scale,
        "ground_truth": {
            "depth": "z along the optical axis of the first surface hit through each pixel centre, metres",
            "disparity": "f * B / Z, pixels of the rectified left view, x_right = x_left - d, doffs 0",
            "right_view": "the right ground truth is for the rectified right camera; the stored right image is the "
            "delivered one (rectification error in lineage.rig)",
            "sky": "no surface: NaN (no value)",
        },
    }
    stats = {
        "valid_fraction": float(valid.mean()),
        "occluded_fraction": float((pair.occlusion_left & valid).sum() / n),
        "reflective_fraction": float((lt.reflection_mask & valid).sum() / n),
        "disparity_px_min": float(np.nanmin(lt.disparity_px)) if valid.any() else None,
        "disparity_px_max": float(np.nanmax(lt.disparity_px)) if valid.any() else None,
    }
    return Sample(
        sample_id=pair.sample_id,
        left=pair.left,
        right=pair.right,
        disparity_px=lt.disparity_px,
        depth=lt.depth_m,
        valid=valid,
        K=rig.K,
        baseline_m=float(rig.baseline_m),
        doffs_px=0.0,
        depth_is_metric=True,
        rectification=None,
        source_kind="synthetic",
        source_format="synthetic",
        device=pair.renderer,
        original_name=f"parallax synth --seed {pair.seed} (pair {pair.index})",
        license=LICENSE,
        consent_id=CONSENT_ID,
        contributor=CONTRIBUTOR,
        quality={"accepted": True, "reasons": [], "scores": stats},
        lineage=lineage,
        processing={"original_width": rig.width, "original_height": rig.height, "scale": 1.0},
        privacy={"note": "synthetic scene: no people, no location, no camera serial"},
        extras=extras,
    )


def write_pair(pair: SynthPair, config: SynthConfig, out_dir: str | os.PathLike[str]) -> Path:
    """Write ``pair`` as the sample folder ``out_dir/<sample_id>`` (whole or not at all); return its path."""
    from parallax.corpus.sample import write_sample_dir

    folder = Path(out_dir) / pair.sample_id
    write_sample_dir(pair_to_sample(pair, config), folder)
    return folder
