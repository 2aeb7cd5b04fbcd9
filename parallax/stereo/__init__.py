"""Stereo: rectification, disparity, depth -> :class:`~parallax.stereo.types.DepthResult`.

``rectify`` (:mod:`parallax.stereo.rectify`), ``compute_depth``
(:mod:`parallax.stereo.pipeline`) and ``estimate_disparity``
(:mod:`parallax.stereo.disparity`) are imported lazily, so importing this
package does not load the matchers. Clips: ``clip_depth``
(:mod:`parallax.stereo.clip_depth`) streams a :class:`FrameDepth` per frame,
built on :mod:`~parallax.stereo.clip_rectify`, :mod:`~parallax.stereo.temporal`
and :mod:`~parallax.stereo.odometry`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from parallax._lazy import lazy_getattr

__all__ = [
    "RectifiedPair",
    "rectify",
    "measure_rectification",
    "disparity_to_depth",
    "compute_depth",
    "estimate_disparity",
    "match",
    "clip_depth",
    "ClipDepth",
    "FrameDepth",
    "estimate_clip_rectification",
]

_LAZY = {
    "RectifiedPair": "parallax.stereo.rectify",
    "rectify": "parallax.stereo.rectify",
    "measure_rectification": "parallax.stereo.rectify",
    "disparity_to_depth": "parallax.stereo.depth",
    "compute_depth": "parallax.stereo.pipeline",
    "estimate_disparity": "parallax.stereo.disparity",
    "match": "parallax.stereo.disparity",
    "clip_depth": "parallax.stereo.clip_depth",
    "ClipDepth": "parallax.stereo.clip_depth",
    "FrameDepth": "parallax.stereo.clip_depth",
    "estimate_clip_rectification": "parallax.stereo.clip_rectify",
}

if TYPE_CHECKING:  # pragma: no cover
    from parallax.stereo.clip_depth import ClipDepth, FrameDepth, clip_depth
    from parallax.stereo.clip_rectify import estimate_clip_rectification
    from parallax.stereo.depth import disparity_to_depth
    from parallax.stereo.disparity import estimate_disparity, match
    from parallax.stereo.pipeline import compute_depth
    from parallax.stereo.rectify import RectifiedPair, measure_rectification, rectify


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
