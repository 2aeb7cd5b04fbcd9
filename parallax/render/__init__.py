"""New views and display formats from a DepthResult.

* :mod:`.synthesis` — ``synthesize_view(image, disparity_px, position, *, right_image=None,
  right_disparity_px=None)``: forward warping with a disparity z-buffer, crack-free
  segment splatting, disocclusions filled from the background, both views blended
  by visibility; ``synthesize_views`` for many positions at once (numba, parallel).
* :mod:`.views` — crop/resize a DepthResult once and render many positions.
* :mod:`.quilt` — Looking Glass quilts (presets, ``_qs{cols}x{rows}a{aspect}`` names).
* :mod:`.stereo_formats` — side-by-side (parallel, cross-eyed), over-under, JPS,
  Dubois red-cyan anaglyph.
* :mod:`.animation` — wiggle GIF and H.264 MP4 camera sweeps.
* :mod:`.lif` — Leia LIF writer.
* :mod:`.quality` — PSNR and SSIM.

Writers for ``parallax convert`` are registered in :mod:`parallax.outputs.registry`.
Conventions: ``docs/conventions.md`` (disparity ``x_right = x_left - d``, NaN = no value).
"""

from __future__ import annotations

from parallax._lazy import lazy_getattr

__all__ = [
    "synthesize_view",
    "synthesize_views",
    "right_view_disparity",
    "fill_disparity",
    "sweep_positions",
    "psnr",
    "ssim",
]

_LAZY = {name: "parallax.render.synthesis" for name in __all__[:5]}
_LAZY.update({"psnr": "parallax.render.quality", "ssim": "parallax.render.quality"})


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
