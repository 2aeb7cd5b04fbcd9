"""Two-thread execution of the matchers' numba kernels.

The kernels release the GIL (``nogil=True``) and write disjoint outputs, so running
them concurrently gives the same result as running them one after the other. One
shared two-worker pool is created on first use (starting threads on every call
costs more than the small kernels themselves); jobs never submit jobs, so callers
on several threads at once only queue.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

__all__ = ["run_rows", "run_pair"]

_POOL: ThreadPoolExecutor | None = None
_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _POOL
    with _LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="parallax-matcher")
        return _POOL


def run_pair(first: Callable[[], object], second: Callable[[], object]) -> None:
    """Run two independent jobs concurrently; re-raises the first error."""
    pool = _pool()
    jobs = [pool.submit(first), pool.submit(second)]
    for job in jobs:
        job.result()


def run_rows(kernel: Callable[[int, int], object], height: int, threads: int) -> None:
    """Call ``kernel(y0, y1)`` over ``[0, height)``, split into ``threads`` (1 or 2) bands."""
    if threads <= 1 or height < 16:
        kernel(0, height)
        return
    cut = height // 2
    run_pair(lambda: kernel(0, cut), lambda: kernel(cut, height))
