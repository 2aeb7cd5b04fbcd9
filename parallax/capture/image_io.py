"""Safe decoding of single images: size guard before decoding, EXIF orientation, RGB out.

Every image Parallax reads goes through here (JPEG, PNG, TIFF, BMP, WebP, GIF,
PPM through Pillow; HEIC/HEIF through pillow-heif, registered lazily). The
rules:

* The pixel count is checked against ``max_pixels`` from the header, *before*
  any pixel is decoded (a PNG that claims 100000x100000 pixels is refused at
  once). Pillow's own ``DecompressionBombWarning`` / ``DecompressionBombError``
  never reach the caller: they become :class:`~parallax.errors.InputFileError`.
* Truncated or corrupt data gives :class:`~parallax.errors.InputFileError`
  naming the file; bytes that are no image at all give
  :class:`~parallax.errors.UnsupportedFormatError`.
* The result is ``HxWx3`` ``uint8`` RGB with the EXIF orientation applied
  (see ``docs/conventions.md``). Grey images are repeated into three channels,
  alpha is dropped, 16-bit images are scaled to 8 bits (``v / 257``).
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from parallax.errors import InputFileError, UnsupportedFormatError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "PILLOW_FORMATS",
    "check_input_file",
    "check_pixel_count",
    "open_image",
    "decode_image",
    "load_image",
    "to_rgb_array",
]

#: Largest image (width x height, in pixels) decoded unless the caller allows more.
#: 8000x3000 side-by-side GoPro files are 24 MP; 150 MP leaves room for panoramas.
#: Pillow itself never opens more than ``2 * PIL.Image.MAX_IMAGE_PIXELS`` (179 MP by
#: default), whatever ``max_pixels`` says.
DEFAULT_MAX_PIXELS = 150_000_000

#: Pillow plug-ins Parallax lets decode a file (a short list on purpose: less attack surface).
#: MPO files open through the JPEG plug-in.
PILLOW_FORMATS = ("JPEG", "PNG", "TIFF", "BMP", "WEBP", "GIF", "PPM")


def check_input_file(path: str | os.PathLike[str]) -> Path:
    """Check that ``path`` is an existing, readable, non-empty file; return it as a Path.

    Raises
    ------
    InputFileError
        Missing file, a folder, an unreadable or empty file; the message names it.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path} does not exist; check the path")
    if path.is_dir():
        raise InputFileError(f"{path} is a folder; give an image file")
    if not os.access(path, os.R_OK):
        raise InputFileError(f"{path} is not readable; check its permissions")
    if path.stat().st_size == 0:
        raise InputFileError(f"{path} is empty (0 bytes); give a complete image file")
    return path


def check_pixel_count(name: str, width: int, height: int, max_pixels: int) -> None:
    """Refuse an image whose header claims more than ``max_pixels`` pixels.

    Raises
    ------
    InputFileError
        Naming the file, its claimed size and the limit.
    """
    if width < 1 or height < 1:
        raise InputFileError(f"{name} claims an empty image ({width}x{height} pixels); the file is corrupt")
    if width * height > max_pixels:
        raise InputFileError(
            f"{name} claims {width}x{height} pixels ({width * height / 1e6:.0f} MP), more than the limit of "
            f"{max_pixels / 1e6:.0f} MP; refusing to decode it (raise max_pixels only for a file you trust)"
        )


def open_image(
    source: str | os.PathLike[str] | bytes, *, name: str | None = None, max_pixels: int = DEFAULT_MAX_PIXELS
) -> Image.Image:
    """Open an image lazily with Pillow (header only) and check its pixel count.

    Parameters
    ----------
    source : path or bytes
        The file, or its bytes (e.g. one frame of an MPO).
    name : str, optional
        How to call the file in messages (defaults to the path).
    max_pixels : int
        Largest ``width * height`` accepted.

    Returns
    -------
    PIL.Image.Image
        Not yet decoded.

    Raises
    ------
    UnsupportedFormatError
        The bytes are no image Pillow reads.
    InputFileError
        Too many pixels, or a damaged header.
    """
    name = name or str(source if not isinstance(source, bytes) else "<bytes>")
    fp: BinaryIO | str | os.PathLike[str] = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with warnings.catch_warnings():
            # Our own size check below replaces Pillow's bomb warning.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(fp, formats=PILLOW_FORMATS)
    except Image.DecompressionBombError as exc:
        limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
        raise InputFileError(
            f"{name} claims more than {limit / 1e6:.0f} MP, the most Pillow ever decodes (a decompression-bomb guard); "
            "refusing to decode it"
        ) from exc
    except UnidentifiedImageError as exc:
        raise UnsupportedFormatError(
            f"{name} is not an image Parallax can read; give a JPEG, PNG, MPO, HEIC or LIF file"
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputFileError(f"{name} has a damaged image header ({exc}); the file is corrupt or truncated") from exc
    try:
        check_pixel_count(name, image.width, image.height, max_pixels)
    except InputFileError:
        image.close()
        raise
    return image


def to_rgb_array(image: Image.Image, *, name: str, apply_orientation: bool = True) -> np.ndarray:
    """Decode a Pillow image to ``HxWx3`` uint8 RGB (EXIF orientation applied).

    Raises
    ------
    InputFileError
        Truncated or corrupt pixel data.
    """
    try:
        with warnings.catch_warnings():
            # Damaged EXIF is not worth failing the photo for; the orientation then stays as stored.
            warnings.simplefilter("ignore", UserWarning)
            image.load()
            if apply_orientation:
                image = ImageOps.exif_transpose(image)
            if image.mode in ("I;16", "I;16B", "I;16L", "I"):
                array = np.asarray(image).astype(np.float64)
                array = np.clip(array / 257.0 + 0.5, 0, 255).astype(np.uint8)
                return np.ascontiguousarray(np.dstack([array] * 3))
            if image.mode != "RGB":
                image = image.convert("RGB")
            return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InputFileError(f"{name} could not be decoded ({exc}); the file is truncated or corrupt") from exc


def decode_image(
    source: str | os.PathLike[str] | bytes, *, name: str | None = None, max_pixels: int = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """Decode an image file or bytes (Pillow formats only) to ``HxWx3`` uint8 RGB."""
    name = name or str(source if not isinstance(source, bytes) else "<bytes>")
    image = open_image(source, name=name, max_pixels=max_pixels)
    try:
        return to_rgb_array(image, name=name)
    finally:
        image.close()


def load_image(path: str | os.PathLike[str], *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Load one image file as ``HxWx3`` uint8 RGB, EXIF orientation applied.

    Safe for untrusted files: the size is checked before decoding, and every
    failure is a one-line :class:`~parallax.errors.ParallaxError`. Reads the
    first image of multi-image files (the left view of an MPO, the primary
    image of a HEIC, the host JPEG of a LIF).

    Parameters
    ----------
    path : path-like
        JPEG, PNG, TIFF, BMP, WebP, GIF, PPM or HEIC/HEIF file.
    max_pixels : int
        Largest ``width * height`` decoded (default :data:`DEFAULT_MAX_PIXELS`).

    Returns
    -------
    numpy.ndarray
        ``HxWx3`` uint8 RGB, C-contiguous.

    Raises
    ------
    InputFileError
        Missing, empty, truncated, corrupt or too large.
    UnsupportedFormatError
        Not an image format Parallax reads.
    """
    path = check_input_file(path)
    with open(path, "rb") as fh:
        head = fh.read(32)
    from parallax.capture.heif_boxes import is_heif

    if is_heif(head):
        from parallax.capture.heic import decode_heif_primary

        return decode_heif_primary(path, max_pixels=max_pixels)
    return decode_image(path, name=str(path), max_pixels=max_pixels)
