"""The held-out real scenes and how a model is scored on them.

An :class:`EvalScene` is one held-out real pair at the evaluation size (the
training width, whole image, height rounded to a multiple of 16), with its
provenance for the held-out check (:mod:`parallax.bench.value.heldout`):

* scenes with ground-truth disparity (``stereo-gt``) are read by
  :func:`parallax.bench.datasets.load_scenes` (the reference disparity is the
  ground truth);
* held-out corpus samples come from a WebDataset export through
  :class:`~parallax.corpus.loader.CorpusDataset` (the reference disparity is the
  corpus's, i.e. the matcher's; used only to find depth edges).

:func:`score_model` predicts the right view of every scene and scores it:
PSNR and SSIM over the whole image, the gradient error at depth edges of the
right view, and -- where there is ground truth -- the end-point error and
bad-2 of the predicted left-view disparity.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from parallax.bench.value.data import PreparedExport, export_metas
from parallax.bench.value.metrics import depth_edge_mask, edge_gradient_error, psnr, ssim
from parallax.bench.value.pairs import Pair, resize_to_width
from parallax.bench.value.scenes import RealScene
from parallax.bench.value.settings import DOWNSAMPLE

__all__ = ["EvalScene", "load_gt_scenes", "load_export_scenes", "score_prediction", "score_model", "METRICS"]

#: Metric name -> (label, unit, higher is better).
METRICS: dict[str, tuple[str, str, bool]] = {
    "psnr_db": ("PSNR", "dB", True),
    "ssim": ("SSIM", "", True),
    "edge_grad_err": ("edge gradient error", "", False),
    "disparity_epe_px": ("disparity EPE", "px", False),
    "disparity_bad2_pct": ("disparity bad-2", "%", False),
}


@dataclass(frozen=True, kw_only=True)
class EvalScene:
    """One held-out real pair at the evaluation size.

    Parameters
    ----------
    scene_id : str
    pair : Pair
        Views in [0, 1] and the reference disparities at the evaluation size.
    has_gt : bool
        True when ``pair.disparity_left`` is ground truth (disparity metrics are computed).
    contributor : str
    content_sha256 : str
        SHA-256 of the original decoded pixels (the corpus's exact-dedup key).
    phash : (int, int)
        Perceptual hashes of the left and right views (the corpus's near-dedup key).
    files : list of str
        Source files (paths, or the corpus's original names).
    origin : str
        Where it was read: the ``scenes.json`` path or the export folder.
    """

    scene_id: str
    pair: Pair
    has_gt: bool
    contributor: str
    content_sha256: str
    phash: tuple[int, int]
    files: list[str] = field(default_factory=list)
    origin: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready provenance (the evaluation data list)."""
        h, w = self.pair.left.shape[:2]
        return {
            "scene_id": self.scene_id,
            "contributor": self.contributor,
            "ground_truth": self.has_gt,
            "content_sha256": self.content_sha256,
            "files": list(self.files),
            "origin": self.origin,
            "eval_size": [w, h],
        }


def load_gt_scenes(scenes: Sequence[RealScene], *, width: int) -> list[EvalScene]:
    """Read held-out ``stereo-gt`` scenes with their ground truth, at ``width`` pixels wide."""
    from parallax.bench.datasets import load_scenes
    from parallax.capture import read_capture
    from parallax.corpus.dedup import phash64
    from parallax.corpus.encoding import pixel_sha256

    out = []
    for scene in scenes:
        if scene.gt_manifest is None:
            continue
        (bench,) = list(load_scenes(scene.gt_manifest, [scene.scene_id]))
        left_path, right_path = scene.captures[0]
        capture = read_capture(left_path, right_path)  # the corpus's reader: the same content hash
        out.append(
            EvalScene(
                scene_id=scene.scene_id,
                pair=resize_to_width(
                    np.asarray(bench.left),
                    np.asarray(bench.right),
                    np.asarray(bench.gt_disparity_px),
                    width=width,
                    multiple=DOWNSAMPLE,
                ),
                has_gt=True,
                contributor=scene.contributor,
                content_sha256=pixel_sha256(capture.left, capture.right),
                phash=(phash64(np.asarray(bench.left)), phash64(np.asarray(bench.right))),
                files=[str(p) for p in scene.files],
                origin=str(scene.gt_manifest),
            )
        )
    return out


def load_export_scenes(prepared: PreparedExport, *, width: int) -> list[EvalScene]:
    """Read every held-out sample of a WebDataset export (its ``split``, or all splits), at ``width`` wide."""
    from parallax.corpus.dedup import phash64
    from parallax.corpus.export import SPLITS
    from parallax.corpus.loader import CorpusDataset

    metas = {m["sample_id"]: m for m in export_metas(prepared.export, prepared.split)}
    splits = [prepared.split] if prepared.split is not None else list(SPLITS)
    out = []
    for split in splits:
        if not any(m["_split"] == split for m in metas.values()):
            continue
        for item in CorpusDataset(str(prepared.export), split=split, seed=0, stop="all"):
            meta = metas[item["sample_id"]]
            left = item["left"].numpy().transpose(1, 2, 0)
            right = item["right"].numpy().transpose(1, 2, 0)
            disp = np.where(item["valid"].numpy(), item["disparity"].numpy(), np.nan).astype(np.float32)
            source, rights = meta.get("source", {}), meta.get("rights", {})
            out.append(
                EvalScene(
                    scene_id=f"{rights.get('contributor', '?')}/{item['sample_id']}",  # shortened below
                    pair=resize_to_width(left, right, disp, width=width, multiple=DOWNSAMPLE),
                    has_gt=False,
                    contributor=str(rights.get("contributor", "")),
                    content_sha256=str(source.get("content_sha256", "")),
                    phash=(phash64(left), phash64(right)),
                    files=[str(source.get("original_name", ""))],
                    origin=str(prepared.export),
                )
            )
    # a contributor with one held-out sample is named by the contributor alone
    counts: dict[str, int] = {}
    for scene in out:
        counts[scene.contributor] = counts.get(scene.contributor, 0) + 1
    return [
        dataclasses.replace(s, scene_id=s.contributor) if s.contributor and counts[s.contributor] == 1 else s
        for s in out
    ]


def score_prediction(
    scene: EvalScene, right_pred: np.ndarray, disparity_left_pred: np.ndarray | None
) -> dict[str, float]:
    """The metrics of one predicted right view (and left disparity) of ``scene``; NaN where undefined."""
    from parallax.bench.metrics import disparity_metrics

    target = scene.pair.right
    mask = depth_edge_mask(scene.pair.disparity_right)
    scores = {
        "psnr_db": psnr(right_pred, target),
        "ssim": ssim(right_pred, target),
        "edge_grad_err": edge_gradient_error(right_pred, target, mask),
        "disparity_epe_px": math.nan,
        "disparity_bad2_pct": math.nan,
    }
    if scene.has_gt and disparity_left_pred is not None and np.isfinite(scene.pair.disparity_left).any():
        m = disparity_metrics(disparity_left_pred, scene.pair.disparity_left)
        scores["disparity_epe_px"] = m.epe_px
        scores["disparity_bad2_pct"] = m.bad_2_pct
    return scores


def score_model(
    predict: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]],
    scenes: Sequence[EvalScene],
    *,
    keep: Callable[[str, np.ndarray], None] | None = None,
) -> dict[str, dict[str, float]]:
    """Score ``predict`` (left view -> (right view, left disparity or None)) on every scene.

    ``keep(scene_id, right_pred)`` is called with each prediction (for previews).
    """
    results = {}
    for scene in scenes:
        right, disparity = predict(scene.pair.left)
        if keep is not None:
            keep(scene.scene_id, right)
        results[scene.scene_id] = score_prediction(scene, right, disparity)
    return results
