"""Duplicate detection: exact (SHA-256 of decoded pixels) and near (64-bit DCT perceptual hash).

The same shot stored as an MPO, as a side-by-side JPEG and as two JPEGs decodes
to (nearly) the same pixels: the exact hash catches identical decodes, the
perceptual hash (pHash: the signs of the 8x8 lowest DCT frequencies of a 32x32
grey thumbnail against their median, DC excluded from the median) catches
re-encodes and resizes. Two captures are near-duplicates when both their left
and right hashes are within :data:`NEAR_DUPLICATE_BITS` bits (Hamming distance).
"""

from __future__ import annotations

import cv2
import numpy as np

from parallax.corpus.encoding import pixel_sha256

__all__ = ["phash64", "hamming", "NEAR_DUPLICATE_BITS", "pixel_sha256", "is_near_duplicate"]

#: Hamming distance (bits of 64) at or below which two views count as the same shot.
NEAR_DUPLICATE_BITS = 10


def phash64(image: np.ndarray) -> int:
    """64-bit DCT perceptual hash of an ``HxWx3`` uint8 RGB (or ``HxW`` grey) image, as a signed int64.

    Signed so that it fits SQLite's INTEGER; compare with :func:`hamming`.
    """
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    small = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].ravel()
    median = np.median(low[1:])
    bits = (low > median).astype(np.uint64)
    value = int(np.sum(bits << np.arange(64, dtype=np.uint64)))
    return value - (1 << 64) if value >= (1 << 63) else value


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two 64-bit hashes (signed or unsigned)."""
    return bin((a ^ b) & ((1 << 64) - 1)).count("1")


def is_near_duplicate(a: tuple[int, int], b: tuple[int, int], *, bits: int = NEAR_DUPLICATE_BITS) -> bool:
    """Whether two ``(left_hash, right_hash)`` pairs are the same shot."""
    return hamming(a[0], b[0]) <= bits and hamming(a[1], b[1]) <= bits
