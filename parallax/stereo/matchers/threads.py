"""Multi-thread execution of the matchers' numba kernels.

The kernels release the GIL (``nogil=True``) and write disjoint outputs, so running
them concurrently gives the same result as running them one after the other, for
any number of threads. One shared pool with a worker per usable core
(:func:`available_cores`) is created on first use (starting threads on every call
costs more than the small kernels themselves); jobs never submit jobs, so callers
on several threads at once only queue.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["available_cores", "resolve_threads", "run_rows", "run_pair", "run_jobs"]

T = TypeVar("T")
_POOL: ThreadPoolExecutor | None = None
_LOCK = threading.Lock()
#: Row bands thinner than this are not split further.
_MIN_BAND_ROWS = 8


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - platforms without affinity masks
        return max(1, os.cpu_count() or 1)


def resolve_threads(threads: int | None) -> int:
    """``threads``, or every usable core when ``None`` or 0."""
    return available_cores() if not threads else int(threads)


def _pool() -> ThreadPoolExecutor:
    global _POOL
    with _LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=max(2, available_cores()), thread_name_prefix="parallax-matcher")
        return _POOL


def run_jobs(jobs: Sequence[Callable[[], T]]) -> list[T]:
    """Run independent jobs concurrently on the shared pool; their results in order; re-raises the first error."""
    if len(jobs) == 1:
        return [jobs[0]()]
    pool = _pool()
    futures = [pool.submit(job) for job in jobs]
    return [future.result() for future in futures]


def run_pair(first: Callable[[], object], second: Callable[[], object]) -> None:
    """Run two independent jobs concurrently; re-raises the first error."""
    run_jobs([first, second])


def run_rows(kernel: Callable[[int, int], object], height: int, threads: int) -> None:
    """Call ``kernel(y0, y1)`` over ``[0, height)``, split into up to ``threads`` row bands."""
    bands = max(1, min(int(threads), height // _MIN_BAND_ROWS))
    if bands <= 1:
        kernel(0, height)
        return
    cuts = [height * i // bands for i in range(bands + 1)]
    run_jobs([functools.partial(kernel, a, b) for a, b in zip(cuts[:-1], cuts[1:], strict=True)])
