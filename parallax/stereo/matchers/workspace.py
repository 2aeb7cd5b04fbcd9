"""Reusable scratch arrays for the matchers' large cost volumes.

Freshly allocated arrays of tens of megabytes cost page faults on first touch
(on virtual machines as much as the arithmetic itself), so the default matcher
keeps its cost and aggregation volumes between calls, one set per thread. The
arrays handed out are uninitialised and only valid until the next request under
the same name on the same thread; they never leave the matcher. Call
:func:`release` to give the memory back.
"""

from __future__ import annotations

import threading

import numpy as np

__all__ = ["scratch", "release"]

_LOCAL = threading.local()


def scratch(name: str, shape: tuple[int, ...], dtype: np.dtype | type) -> np.ndarray:
    """An uninitialised C-contiguous array of ``shape``/``dtype``, reused between calls.

    Parameters
    ----------
    name : str
        Slot name; each slot keeps one buffer (grown when a larger one is asked for).
    shape : tuple of int
        Array shape.
    dtype : numpy dtype
        Element type.
    """
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    slots = getattr(_LOCAL, "slots", None)
    if slots is None:
        slots = _LOCAL.slots = {}
    buf = slots.get(name)
    if buf is None or buf.nbytes < nbytes:
        buf = slots[name] = np.empty(max(nbytes, 1), dtype=np.uint8)
    return buf[:nbytes].view(dtype).reshape(shape)


def release() -> None:
    """Drop this thread's scratch arrays (their memory is freed once unreferenced)."""
    _LOCAL.slots = {}
