"""Row-split execution of the matchers' numba kernels on up to two threads.

The kernels release the GIL (``nogil=True``) and write disjoint rows, so running
row bands concurrently gives the same result as one call.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable

__all__ = ["run_rows"]


def run_rows(kernel: Callable[[int, int], object], height: int, threads: int) -> None:
    """Call ``kernel(y0, y1)`` over ``[0, height)``, split into ``threads`` bands."""
    if threads <= 1 or height < 16:
        kernel(0, height)
        return
    cut = height // 2
    with ThreadPoolExecutor(max_workers=2) as pool:
        jobs = [pool.submit(kernel, 0, cut), pool.submit(kernel, cut, height)]
        for job in jobs:
            job.result()
