"""Percentiles and medians of large float32 maps: numpy's numbers in two passes over the data.

:func:`numpy.percentile` partitions the whole array once per order statistic it
needs (four for one percentile) and :func:`numpy.median` twice, after the
caller copied the values it wants out of the map. On a 0.5-megapixel map each
call costs several milliseconds, and the depth stage takes five of them. Here
the order statistics come from a radix selection instead:

1. one pass histograms the values by the top 16 bits of their order-preserving
   integer key (sign, exponent and 7 mantissa bits: a bin spans under 1 % of
   its binade);
2. a second pass collects the values of the bins holding the wanted ranks
   (a few thousand) and sorts just those.

The order statistics are exact, and the interpolation between them repeats
numpy's (method ``"linear"``), so :func:`percentile` and :func:`median` return
what numpy returns for the same values, in the same dtype. Only finite values
count: NaN and infinities are skipped, as are pixels outside ``where``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numba as nb
import numpy as np

from parallax.errors import ParameterError

__all__ = ["median", "percentile"]

#: Bits of the key that choose a histogram bin.
_BIN_BITS = 16


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _key(bits):  # pragma: no cover - compiled
    """Order-preserving unsigned key of a float32's bit pattern."""
    return bits ^ np.uint32(0x80000000) if bits < np.uint32(0x80000000) else ~bits


@nb.njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _counts(bits, mask, use_mask, i):  # pragma: no cover - compiled
    """Whether value ``i`` counts: finite (not NaN or infinite) and, when ``use_mask``, selected."""
    if use_mask and not mask[i]:
        return False
    return (bits[i] & np.uint32(0x7F800000)) != np.uint32(0x7F800000)


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _histogram(bits, mask, use_mask, hist):  # pragma: no cover - compiled
    """Count the finite values (``mask``-selected when ``use_mask``) per bin; returns their number."""
    n = 0
    shift = np.uint32(32 - _BIN_BITS)
    for i in range(bits.size):
        if _counts(bits, mask, use_mask, i):
            hist[_key(bits[i]) >> shift] += 1
            n += 1
    return n


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _collect(values, bits, mask, use_mask, wanted, out):  # pragma: no cover - compiled
    """The finite values whose bin is ``wanted``, into ``out``; returns how many."""
    n = 0
    shift = np.uint32(32 - _BIN_BITS)
    for i in range(bits.size):
        if _counts(bits, mask, use_mask, i) and wanted[_key(bits[i]) >> shift]:
            out[n] = values[i]
            n += 1
    return n


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _locate(hist, ranks, wanted, offsets):  # pragma: no cover - compiled
    """Mark the bins holding the ascending ``ranks`` in ``wanted``; ``offsets[i]`` is how many
    counted values lie below rank ``i``'s bin and are not kept (``rank - offset`` indexes the
    sorted kept values). Returns the number of kept values."""
    below = 0  # values in the bins before b
    kept = 0  # of those, in wanted bins
    i = 0
    for b in range(hist.size):
        n = hist[b]
        hit = False
        while i < ranks.size and ranks[i] < below + n:
            offsets[i] = below - kept
            hit = True
            i += 1
        if hit:
            wanted[b] = True
            kept += n
        below += n
    return kept


class _Counted:
    """The counted values of a map and their bin histogram (first pass)."""

    def __init__(self, values: np.ndarray, where: np.ndarray | None) -> None:
        self.flat = np.ascontiguousarray(values, dtype=np.float32).reshape(-1)
        if where is None:
            self.mask, self.use_mask = np.zeros(1, dtype=np.bool_), False
        else:
            self.mask = np.ascontiguousarray(where, dtype=np.bool_).reshape(-1)
            if self.mask.size != self.flat.size:
                raise ParameterError(
                    f"where has {self.mask.size} entries but the values have {self.flat.size}; give one per value"
                )
            self.use_mask = True
        self.bits = self.flat.view(np.uint32)
        self.hist = np.zeros(1 << _BIN_BITS, dtype=np.int64)
        self.n = int(_histogram(self.bits, self.mask, self.use_mask, self.hist))

    def at(self, ranks: list[int]) -> list[np.float32]:
        """The values at 0-based ``ranks`` (ascending) of the sorted counted values (second pass)."""
        wanted = np.zeros(self.hist.size, dtype=np.bool_)
        offsets = np.empty(len(ranks), dtype=np.int64)
        kept = np.empty(int(_locate(self.hist, np.asarray(ranks, dtype=np.int64), wanted, offsets)), dtype=np.float32)
        _collect(self.flat, self.bits, self.mask, self.use_mask, wanted, kept)
        kept.sort()
        return [kept[r - o] for r, o in zip(ranks, offsets, strict=True)]


def percentile(values: np.ndarray, q: float | Sequence[float], *, where: np.ndarray | None = None) -> Any:
    """``numpy.percentile(values[finite & where], q)``, without copying or partitioning.

    Parameters
    ----------
    values : numpy.ndarray
        Float32 map (any shape); NaN and infinite entries are skipped.
    q : float or sequence of float
        Percentile(s) in [0, 100].
    where : numpy.ndarray, optional
        Bool map of ``values``' shape: only these entries count.

    Returns
    -------
    numpy.float32 or numpy.ndarray
        As numpy returns them: a float32 scalar for one ``q``, a float64 array for a sequence.

    Raises
    ------
    ParameterError
        If no value counts, ``q`` is outside [0, 100], or ``where`` has another size.
    """
    qs = np.true_divide(np.asanyarray(q, dtype=np.float64), 100)
    if qs.ndim > 1 or not np.all((qs >= 0) & (qs <= 1)):
        raise ParameterError(f"percentiles must be numbers in [0, 100], got {q!r}")
    counted = _Counted(values, where)
    n = counted.n
    if n == 0:
        raise ParameterError("percentile of no finite values; check the map has values where asked")
    virtual = (n - 1) * qs
    previous = np.floor(virtual)
    above = virtual >= n - 1
    previous = np.where(above, n - 1, previous).astype(np.intp)
    following = np.where(above, n - 1, previous + 1).astype(np.intp)
    ranks = sorted({int(r) for r in np.concatenate((previous.ravel(), following.ravel()))})
    at = dict(zip(ranks, counted.at(ranks), strict=True))
    a = np.array([at[int(r)] for r in previous.ravel()], dtype=np.float32).reshape(previous.shape)
    b = np.array([at[int(r)] for r in following.ravel()], dtype=np.float32).reshape(following.shape)
    gamma = np.asanyarray(virtual - previous)
    if qs.ndim == 0:  # numpy's scalar path: float32 values, a Python-float weight
        a, b, t = a[()], b[()], float(gamma)
        diff = b - a
        low = np.add(a, diff * t)
        return np.subtract(b, diff * (1 - t)) if t >= 0.5 else low
    diff = b - a
    out = np.add(a, diff * gamma)
    np.subtract(b, diff * (1 - gamma), out=out, where=gamma >= 0.5, casting="unsafe", dtype=out.dtype.type)
    return out


def median(values: np.ndarray, *, where: np.ndarray | None = None) -> np.float32:
    """``numpy.median(values[finite & where])`` (a float32), without copying or partitioning.

    Raises
    ------
    ParameterError
        If no value counts or ``where`` has another size.
    """
    counted = _Counted(values, where)
    if counted.n == 0:
        raise ParameterError("median of no finite values; check the map has values where asked")
    half = counted.n // 2
    return np.mean(np.array(counted.at([half - 1, half] if counted.n % 2 == 0 else [half]), dtype=np.float32))
