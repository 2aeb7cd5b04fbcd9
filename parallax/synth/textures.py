"""Procedural textures (numpy) and textures from a folder of the user's images.

Every texture is an ``HxWx3`` ``float32`` array of *linear* RGB reflectance in
``[0, 1]`` (sRGB-decoded), ready to become a Mitsuba bitmap. Randomness comes
only from the ``numpy.random.Generator`` passed in (see ``docs/conventions.md``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from parallax.errors import InputFileError, ParameterError

__all__ = [
    "PATTERNS",
    "procedural_texture",
    "srgb_to_linear",
    "list_texture_images",
    "load_texture_image",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
_MAX_TEXTURE_SIDE = 512


def srgb_to_linear(srgb: np.ndarray) -> np.ndarray:
    """Decode sRGB values in ``[0, 1]`` to linear values in ``[0, 1]`` (IEC 61966-2-1)."""
    srgb = np.clip(srgb, 0.0, 1.0)
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4).astype(np.float32)


def _value_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Tileable smooth value noise in ``[0, 1]`` of shape ``(size, size)`` with ``cells`` lattice cells."""
    lattice = rng.random((cells, cells))
    t = np.arange(size) * cells / size
    i0 = np.floor(t).astype(int)
    f = t - i0
    f = f * f * (3.0 - 2.0 * f)  # smoothstep
    i1 = (i0 + 1) % cells
    a = lattice[np.ix_(i0, i0)]
    b = lattice[np.ix_(i0, i1)]
    c = lattice[np.ix_(i1, i0)]
    d = lattice[np.ix_(i1, i1)]
    fy, fx = f[:, None], f[None, :]
    return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy


def _fbm(rng: np.random.Generator, size: int, base_cells: int = 4, octaves: int = 5) -> np.ndarray:
    """Fractal (fBm) value noise normalised to ``[0, 1]``."""
    out = np.zeros((size, size))
    amp, total = 1.0, 0.0
    for o in range(octaves):
        cells = min(size, base_cells * 2**o)
        out += amp * _value_noise(rng, size, cells)
        total += amp
        amp *= 0.55
    out /= total
    lo, hi = out.min(), out.max()
    return (out - lo) / max(hi - lo, 1e-9)


def _palette(rng: np.random.Generator, k: int) -> np.ndarray:
    """``k`` random sRGB colours (rows), moderately saturated."""
    hue = rng.random(k)
    sat = rng.uniform(0.15, 0.8, k)
    val = rng.uniform(0.2, 0.95, k)
    h6 = hue * 6.0
    c = val * sat
    x = c * (1 - np.abs(h6 % 2 - 1))
    m = val - c
    sector = np.floor(h6).astype(int) % 6
    rgb = np.zeros((k, 3))
    table = [(0, 1, 2), (1, 0, 2), (2, 0, 1), (2, 1, 0), (1, 2, 0), (0, 2, 1)]  # positions of (c, x, 0)
    for i in range(k):
        ci, xi, zi = table[sector[i]]
        rgb[i, ci], rgb[i, xi], rgb[i, zi] = c[i], x[i], 0.0
    return rgb + m[:, None]


def _mix(t: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[None, None, :] * (1 - t[..., None]) + b[None, None, :] * t[..., None]


def _noise(rng: np.random.Generator, size: int) -> np.ndarray:
    a, b = _palette(rng, 2)
    return _mix(_fbm(rng, size, int(rng.integers(2, 8))), a, b)


def _checker(rng: np.random.Generator, size: int) -> np.ndarray:
    a, b = _palette(rng, 2)
    n = int(rng.choice([4, 8, 16]))
    y, x = np.mgrid[0:size, 0:size] * n // size
    t = ((x + y) % 2).astype(float)
    return _mix(np.clip(t + 0.15 * (_fbm(rng, size) - 0.5), 0, 1), a, b)


def _stripes(rng: np.random.Generator, size: int) -> np.ndarray:
    """Wood-like warped stripes."""
    a, b = _palette(rng, 2)
    freq = rng.uniform(6, 30)
    y, x = np.mgrid[0:size, 0:size] / size
    warp = _fbm(rng, size, 3)
    t = 0.5 + 0.5 * np.sin(2 * np.pi * (freq * x + 2.0 * warp))
    return _mix(t, a, b)


def _bricks(rng: np.random.Generator, size: int) -> np.ndarray:
    """Bricks or tiles with mortar lines and per-brick colour variation."""
    a, mortar = _palette(rng, 2)
    rows = int(rng.choice([4, 6, 8, 12]))
    cols = rows // int(rng.choice([1, 2]))
    y, x = np.mgrid[0:size, 0:size] / size
    r = np.floor(y * rows).astype(int)
    xs = x * cols + 0.5 * (r % 2) * rng.integers(0, 2)
    c = np.floor(xs).astype(int)
    jitter = rng.uniform(-0.12, 0.12, (rows + 1, cols + 2))[r, c % (cols + 2)]
    fy, fx = y * rows - r, xs - c
    line = (fy < 0.06) | (fx < 0.04)
    body = np.clip(a[None, None, :] + jitter[..., None] + 0.1 * (_fbm(rng, size)[..., None] - 0.5), 0, 1)
    return np.where(line[..., None], mortar[None, None, :], body)


def _cells(rng: np.random.Generator, size: int) -> np.ndarray:
    """Voronoi cells (stones, cobbles), each with its own colour."""
    n = int(rng.integers(12, 60))
    pts = rng.random((n, 2))
    cols = _palette(rng, n)
    y, x = np.mgrid[0:size, 0:size] / size
    best = np.full((size, size), np.inf)
    second = np.full((size, size), np.inf)
    idx = np.zeros((size, size), dtype=int)
    for i, (px, py) in enumerate(pts):
        dx = np.abs(x - px)
        dy = np.abs(y - py)
        d = np.hypot(np.minimum(dx, 1 - dx), np.minimum(dy, 1 - dy))  # tileable
        closer = d < best
        second = np.where(closer, best, np.minimum(second, d))
        idx = np.where(closer, i, idx)
        best = np.where(closer, d, best)
    edge = np.clip((second - best) * size / 3.0, 0, 1)
    return cols[idx] * (0.35 + 0.65 * edge[..., None])


def _dots(rng: np.random.Generator, size: int) -> np.ndarray:
    """Random dots and speckle on a base colour (like terrazzo or a printed pattern)."""
    a, b, c = _palette(rng, 3)
    out = np.broadcast_to(a, (size, size, 3)).copy()
    y, x = np.mgrid[0:size, 0:size]
    for _ in range(int(rng.integers(40, 160))):
        cx, cy = rng.integers(0, size, 2)
        r = rng.uniform(1.5, max(2.0, size / 24))
        mask = (x - cx) ** 2 + (y - cy) ** 2 <= r * r
        out[mask] = b if rng.random() < 0.5 else c
    return out


PATTERNS: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "noise": _noise,
    "checker": _checker,
    "stripes": _stripes,
    "bricks": _bricks,
    "cells": _cells,
    "dots": _dots,
}
"""Procedural patterns by name; each returns ``size x size x 3`` sRGB values in [0, 1]."""


def procedural_texture(
    rng: np.random.Generator, *, pattern: str | None = None, size: int = 256
) -> tuple[str, np.ndarray]:
    """Make one procedural texture.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of all randomness (seeded by the caller).
    pattern : str, optional
        One of :data:`PATTERNS`; ``None`` picks one at random.
    size : int
        Side length in texels (at least 16).

    Returns
    -------
    name : str
        The pattern used.
    texture : numpy.ndarray
        ``size x size x 3`` float32 linear RGB in ``[0, 1]``.
    """
    if size < 16:
        raise ParameterError(f"texture size must be at least 16 texels, got {size}")
    if pattern is None:
        pattern = str(rng.choice(sorted(PATTERNS)))
    if pattern not in PATTERNS:
        raise ParameterError(f"unknown texture pattern {pattern!r}; choose one of {', '.join(sorted(PATTERNS))}")
    return pattern, srgb_to_linear(PATTERNS[pattern](rng, size))


def list_texture_images(folder: str | os.PathLike[str]) -> list[Path]:
    """The image files directly inside ``folder``, sorted by name (for ``--textures DIR``).

    Raises
    ------
    InputFileError
        If ``folder`` is not a folder or holds no image (``.png``, ``.jpg``, ...).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputFileError(f"texture folder {folder} does not exist or is not a folder; give a folder of images")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputFileError(
            f"texture folder {folder} holds no images ({', '.join(IMAGE_SUFFIXES)}); add some or leave out --textures"
        )
    return files


def load_texture_image(path: str | os.PathLike[str], *, max_side: int = _MAX_TEXTURE_SIDE) -> np.ndarray:
    """Read one texture image as float32 linear RGB in ``[0, 1]``, longest side at most ``max_side``.

    Raises
    ------
    InputFileError
        If the file cannot be read as an image.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as opened:
            im = opened.convert("RGB")
            scale = max_side / max(im.size)
            if scale < 1:
                size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
                im = im.resize(size, Image.Resampling.BILINEAR)
            arr = np.asarray(im, dtype=np.float32) / 255.0
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise InputFileError(f"texture image {path} cannot be read ({exc}); remove it from the texture folder") from exc
    return srgb_to_linear(arr)
