"""Leia LIF writer (``.lif.jpg``): a JPEG any viewer shows, with the stereo pair and disparity appended.

The file copies the structure of Lume Pad 2 captures (``Cactus.jpg``; the
layout is described in :mod:`parallax.capture.lif`, which also reads it back):

* host JPEG = the (rectified) left view, with Leia's XMP (``LImage:MajorVersion``
  2, ``Gain``, ``Convergence``);
* fields 0 and 1 (4-byte values 4 and 1, as in Lume Pad files; their meaning
  is not documented, readers ignore them);
* 1000001: left disparity, 8-bit greyscale PNG stored as RGBA like Leia's;
* 1000002: right view, JPEG;
* 1000003: right disparity, same encoding;
* 7: the legacy JSON (``views`` with ``albedoId``/``disparityId``/``xLocation``,
  ``convergence``, ``gain``, ``disparitySource``).

Disparity encoding: ``value = round(255 * (d - d_min) / (d_max - d_min))`` with
``d`` in pixels of the stored views (``x_right = x_left - d``), so larger =
nearer as Leia's maps are. Leia's legacy JSON has no scale, so the range goes
into an extra JSON key ``"parallax": {"disparity_min_px", "disparity_max_px"}``
that other readers ignore. Missing disparities (NaN) are filled from the
background side first. ``gain`` 1 and ``convergence`` 0 are neutral values.
The right view's disparity is the left one forward-warped
(:func:`parallax.render.synthesis.right_view_disparity`); results without a
right view get one synthesised at camera position 1.
"""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from parallax.capture.lif import LifField, pack_lif
from parallax.errors import ParameterError
from parallax.outputs.registry import OutputOptions
from parallax.render.options import option_int
from parallax.render.synthesis import fill_disparity, right_view_disparity
from parallax.stereo.types import DepthResult

__all__ = ["encode_lif", "decode_lif_disparity", "write_lif_output"]

_XMP = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="" xmlns:LImage="http://ns.leiainc.com/photos/1.0/image/" '
    'LImage:MajorVersion="2" LImage:MinorVersion="0" LImage:Gain="{gain}" LImage:Convergence="{conv}"/>'
    "</rdf:RDF></x:xmpmeta>"
)


def _jpeg(image: np.ndarray, quality: int, xmp: bytes | None = None) -> bytes:
    buf = io.BytesIO()
    kwargs: dict[str, Any] = {"quality": quality, "subsampling": 0}
    if xmp is not None:
        kwargs["xmp"] = xmp
    Image.fromarray(image).save(buf, format="JPEG", **kwargs)
    return buf.getvalue()


def _disparity_png(values: np.ndarray) -> bytes:
    grey = values.astype(np.uint8)
    rgba = np.dstack([grey, grey, grey, np.full_like(grey, 255)])
    buf = io.BytesIO()
    Image.fromarray(rgba, mode="RGBA").save(buf, format="PNG")
    return buf.getvalue()


def encode_lif(
    left: np.ndarray,
    right: np.ndarray,
    disparity_px: np.ndarray,
    *,
    right_disparity_px: np.ndarray | None = None,
    quality: int = 92,
) -> bytes:
    """The bytes of a LIF holding ``left``, ``right`` and their disparity maps.

    Parameters
    ----------
    left, right : numpy.ndarray
        ``HxWx3`` uint8 RGB rectified views of one size.
    disparity_px : numpy.ndarray
        ``HxW`` left disparity in pixels (``x_right = x_left - d``); NaN = no value.
    right_disparity_px : numpy.ndarray, optional
        Right-view disparity (``x_left = x_right + d_r``); default: forward-warped from the left.
    quality : int
        JPEG quality of both views.
    """
    left = np.asarray(left)
    right = np.asarray(right)
    if left.shape != right.shape or left.ndim != 3 or left.dtype != np.uint8:
        raise ParameterError(f"left and right must be HxWx3 uint8 of one size, got {left.shape} and {right.shape}")
    if np.asarray(disparity_px).shape != left.shape[:2]:
        raise ParameterError(f"disparity_px has shape {np.asarray(disparity_px).shape}, expected {left.shape[:2]}")
    if not 1 <= int(quality) <= 100:
        raise ParameterError(f"quality must be in 1..100, got {quality!r}")
    disp_l = fill_disparity(disparity_px)
    disp_r = right_view_disparity(disp_l) if right_disparity_px is None else fill_disparity(right_disparity_px)
    lo = float(min(disp_l.min(), disp_r.min()))
    hi = float(max(disp_l.max(), disp_r.max()))
    span = hi - lo if hi > lo else 1.0

    def encode(d: np.ndarray) -> np.ndarray:
        return np.clip(np.round(255.0 * (d - lo) / span), 0, 255)

    gain, conv = 1.0, 0.0
    meta = {
        "convergence": conv,
        "gain": gain,
        "pre_convergence": None,
        "depthOfField": None,
        "views": [
            {"albedoId": -1, "xLocation": 0, "yLocation": 0, "disparityId": 1000001, "monodisparityId": 0},
            {"albedoId": 1000002, "xLocation": 1, "yLocation": 0, "disparityId": 1000003, "monodisparityId": 0},
        ],
        "disparitySource": "PARALLAX",
        "parallax": {
            "disparity_min_px": lo,
            "disparity_max_px": lo + span,
            "encoding": "d_px = disparity_min_px + value / 255 * (disparity_max_px - disparity_min_px); x_right = x_left - d",
        },
    }
    xmp = _XMP.format(gain=gain, conv=conv).encode("utf-8")
    fields = [
        LifField(type=0, data=struct.pack(">I", 4)),
        LifField(type=1, data=struct.pack(">I", 1)),
        LifField(type=1000001, data=_disparity_png(encode(disp_l))),
        LifField(type=1000002, data=_jpeg(right, int(quality))),
        LifField(type=1000003, data=_disparity_png(encode(disp_r))),
        LifField(type=7, data=json.dumps(meta).encode("utf-8")),
    ]
    return pack_lif(_jpeg(left, int(quality), xmp), fields)


def decode_lif_disparity(normalized: np.ndarray, metadata: dict[str, Any]) -> np.ndarray | None:
    """Disparity in pixels from a LIF map normalised to [0, 1] (``value / 255``) and the file's JSON.

    Returns ``None`` when the JSON has no ``"parallax"`` range (files not written by Parallax).
    """
    info = metadata.get("parallax") if isinstance(metadata, dict) else None
    if not isinstance(info, dict) or "disparity_min_px" not in info or "disparity_max_px" not in info:
        return None
    lo, hi = float(info["disparity_min_px"]), float(info["disparity_max_px"])
    return (lo + np.asarray(normalized, dtype=np.float32) * (hi - lo)).astype(np.float32)


def write_lif_output(result: DepthResult, path: Path, options: OutputOptions) -> None:
    """Registry writer: Leia LIF ``.lif.jpg`` (``options.extra``: ``quality``, default 92)."""
    from parallax.render.views import result_disparity

    disparity = result_disparity(result)
    if not np.isfinite(disparity).any():
        raise ParameterError(f"{result.source or 'the result'} has no disparity value; a LIF needs a disparity map")
    if result.right_image is not None:
        right = np.asarray(result.right_image)
    else:
        from parallax.render.synthesis import synthesize_view

        right = synthesize_view(np.asarray(result.image), disparity, 1.0)
    data = encode_lif(np.asarray(result.image), right, disparity, quality=option_int(options.extra, "quality", 92))
    Path(path).write_bytes(data)
