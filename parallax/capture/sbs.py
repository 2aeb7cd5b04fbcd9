"""Single-image stereo: side-by-side (parallel or cross-eyed, incl. ``.jps``) and over-under files.

The image is decoded once; its two halves become the views (see
:mod:`parallax.capture.layout` for how the arrangement and order are chosen).
A plain photo gives :class:`~parallax.errors.NotStereoError`.

Intrinsics come from EXIF only when the EXIF pixel dimensions have the aspect
ratio of one view (a camera that wrote the views itself); a whole-frame EXIF of
a stitched file says nothing about the views, so it is kept in the metadata only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from parallax.capture.exif import exif_facts, intrinsics_from_exif
from parallax.capture.image_io import open_image, to_rgb_array
from parallax.capture.layout import LayoutDecision, decide_layout, split_halves
from parallax.capture.registry import FileProbe, ReaderSpec, ReadOptions, register_reader
from parallax.capture.types import Capture
from parallax.errors import ParameterError

__all__ = ["SINGLE_IMAGE_LAYOUTS", "read_single_image", "split_stereo_image"]

SINGLE_IMAGE_LAYOUTS = ("sbs", "sbs-cross", "over-under", "under-over")
_FORMATS = {"sbs": "sbs", "sbs-cross": "sbs-cross", "over-under": "over-under", "under-over": "over-under"}

# Magic numbers of the raster formats the plain-image reader accepts (Pillow decodes them).
_MAGICS = (
    b"\xff\xd8\xff",  # JPEG
    b"\x89PNG\r\n\x1a\n",  # PNG
    b"II*\x00",  # TIFF little-endian
    b"MM\x00*",  # TIFF big-endian
    b"BM",  # BMP
    b"GIF87a",
    b"GIF89a",
)


def _sniff(probe: FileProbe) -> bool:
    head = probe.head
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    if head[:2] in (b"P3", b"P6") and len(head) > 2 and head[2:3].isspace():
        return True
    return any(head.startswith(m) for m in _MAGICS)


def split_stereo_image(image: np.ndarray, decision: LayoutDecision) -> tuple[np.ndarray, np.ndarray, int]:
    """Left view, right view, and the number of middle pixels dropped, for a decided layout."""
    first, second, cropped = split_halves(image, decision.arrangement)
    left, right = (first, second) if decision.first_is_left else (second, first)
    return np.ascontiguousarray(left), np.ascontiguousarray(right), cropped


def read_single_image(path: Path, options: ReadOptions) -> Capture:
    """Read a side-by-side or over-under stereo image.

    Raises
    ------
    NotStereoError
        ``layout="auto"`` and the image holds one view.
    ParameterError
        An unknown layout.
    """
    layout = options.layout
    if layout != "auto" and layout not in SINGLE_IMAGE_LAYOUTS:
        raise ParameterError(
            f"layout={layout!r} does not apply to the single image {path}; use one of auto, {', '.join(SINGLE_IMAGE_LAYOUTS)}"
        )
    pil = open_image(path, name=str(path), max_pixels=options.max_pixels)
    try:
        facts = exif_facts(pil.getexif())
        image = to_rgb_array(pil, name=str(path))
    finally:
        pil.close()
    decision = decide_layout(image, path, eyes=options.eyes, layout=layout)
    left, right, cropped = split_stereo_image(image, decision)
    h, w = left.shape[:2]
    camera = intrinsics_from_exif(facts, w, h)
    metadata: dict[str, Any] = {
        "layout": decision.to_dict(),
        "eyes": decision.eyes.to_dict() if decision.eyes is not None else None,
        "image_size": [int(image.shape[1]), int(image.shape[0])],
        "cropped_middle_px": cropped,
        "exif": facts,
    }
    return Capture(
        left=left,
        right=right,
        format=_FORMATS[decision.layout],
        source=str(path),
        left_camera=camera,
        right_camera=camera,
        make=facts.get("make"),
        model=facts.get("model"),
        metadata=metadata,
    )


register_reader(
    ReaderSpec(
        name="image",
        description="JPEG/PNG/TIFF/BMP/WebP image",
        sniff=_sniff,
        extensions=(".jpg", ".jpeg", ".jps", ".png", ".pns", ".tif", ".tiff", ".bmp", ".webp", ".gif", ".ppm"),
        read=read_single_image,
    )
)
