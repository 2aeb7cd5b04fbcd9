"""Parallax: ordinary stereo captures to 3D, and a consented corpus of real 3D data.

The package reads top-down as the data flows::

    capture  (file -> Capture)
    stereo   (rectify, disparity, depth, confidence -> DepthResult)
    render / scene / outputs  (new views, display formats, meshes, point clouds, splats)
    corpus   (consent, privacy, quality, dedup, catalog, shards, loaders)
    synth, bench, server, web, cli  on top

Conventions are written down once in ``docs/conventions.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from parallax._lazy import lazy_getattr

__version__ = "0.1.0"

# Public API, imported lazily so ``import parallax`` stays cheap.
_LAZY = {
    "Capture": "parallax.capture.types",
    "CameraIntrinsics": "parallax.capture.types",
    "EmbeddedMap": "parallax.capture.types",
    "read_capture": "parallax.capture",
    "DepthResult": "parallax.stereo.types",
    "Rectification": "parallax.stereo.types",
    "estimate_disparity": "parallax.stereo",
    "rectify": "parallax.stereo",
    "compute_depth": "parallax.stereo",
    "clip_depth": "parallax.stereo",
    "FrameDepth": "parallax.stereo",
    "ParallaxError": "parallax.errors",
}

__all__ = ["__version__", *_LAZY]

if TYPE_CHECKING:  # pragma: no cover  (names re-exported lazily through __all__)
    from parallax.capture import read_capture  # noqa: F401
    from parallax.capture.types import CameraIntrinsics, Capture, EmbeddedMap  # noqa: F401
    from parallax.errors import ParallaxError  # noqa: F401
    from parallax.stereo import FrameDepth, clip_depth, compute_depth, estimate_disparity, rectify  # noqa: F401
    from parallax.stereo.types import DepthResult, Rectification  # noqa: F401


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
