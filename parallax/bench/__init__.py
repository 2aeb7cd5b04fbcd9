"""Stereo benchmarks: datasets with ground truth, accuracy metrics, and runs that
score Parallax's matchers beside OpenCV SGBM (``parallax eval``).

* :mod:`parallax.bench.datasets` -- read Middlebury 2001-2014, ETH3D two-view,
  KITTI 2012/2015 as distributed, or a ``scenes.json`` manifest, into
  :class:`~parallax.bench.scene.StereoScene` objects;
* :mod:`parallax.bench.metrics` -- bad-0.5/1/2/4, EPE, RMS, density, KITTI D1;
* :mod:`parallax.bench.evaluate` -- run matchers over scenes (warm timing);
* :mod:`parallax.bench.report` -- the table and matcher-to-matcher ratios.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from parallax._lazy import lazy_getattr

__all__ = [
    "StereoScene",
    "SceneCalib",
    "find_scenes",
    "load_scenes",
    "disparity_metrics",
    "DisparityMetrics",
    "evaluate",
    "EvalReport",
]

_LAZY = {
    "StereoScene": "parallax.bench.scene",
    "SceneCalib": "parallax.bench.scene",
    "find_scenes": "parallax.bench.datasets",
    "load_scenes": "parallax.bench.datasets",
    "disparity_metrics": "parallax.bench.metrics",
    "DisparityMetrics": "parallax.bench.metrics",
    "evaluate": "parallax.bench.evaluate",
    "EvalReport": "parallax.bench.evaluate",
}

if TYPE_CHECKING:  # pragma: no cover
    from parallax.bench.datasets import find_scenes, load_scenes
    from parallax.bench.evaluate import EvalReport, evaluate
    from parallax.bench.metrics import DisparityMetrics, disparity_metrics
    from parallax.bench.scene import SceneCalib, StereoScene


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
