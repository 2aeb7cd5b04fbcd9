"""The corpus's worth, measured: does real stereo make a view-synthesis model better than synthetic alone?

``parallax bench value`` (``docs/data-value.md``) trains one small model in two
arms -- synthetic pairs only, and the same synthetic pairs mixed with real
corpus samples -- with the same architecture, steps, image size and seeds, and
scores both on real scenes held out by contributor.

Modules, in the order data flows:

``settings``  :class:`ValueSettings` and the quick / full presets
``scenes``    the real scenes of the test data, one contributor each
``data``      synthetic and real corpora, exported to WebDataset, cached
``pairs``     resizing, cropping, the right view's disparity
``stream``    training batches from ``CorpusDataset`` with weighted mixing
``model``     the view-synthesis network and its loss (extra ``torch``)
``evaluate``  held-out scenes and scoring; ``metrics``: PSNR, SSIM, edge error
``heldout``   the check that nothing held out was trained on
``train``     one run (arm, seed); ``run``: the whole experiment
``stats``     seeds' spread and the paired bootstrap interval; ``report``: the files
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from parallax._lazy import lazy_getattr

__all__ = ["ValueSettings", "quick_settings", "full_settings", "run_value"]

_LAZY = {
    "ValueSettings": "parallax.bench.value.settings",
    "quick_settings": "parallax.bench.value.settings",
    "full_settings": "parallax.bench.value.settings",
    "run_value": "parallax.bench.value.run",
}

if TYPE_CHECKING:  # pragma: no cover
    from parallax.bench.value.run import run_value
    from parallax.bench.value.settings import ValueSettings, full_settings, quick_settings


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
