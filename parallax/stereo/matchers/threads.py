"""Multi-thread execution of the matchers' numba kernels.

The kernels release the GIL (``nogil=True``) and write disjoint outputs, so running
them concurrently gives the same result as running them one after the other, for
any number of threads. One shared pool with a worker per usable core
(:func:`available_cores`) is created on first use (starting threads on every call
costs more than the small kernels themselves). The caller of :func:`run_jobs` works
through the jobs beside the workers, so a call never waits on a busy pool: jobs may
start jobs, and callers on several threads at once share the workers.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TypeVar

__all__ = ["available_cores", "resolve_threads", "run_rows", "run_pair", "run_jobs", "start_job"]

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


#: Workers of the shared pool: one per usable core (at least two). A :func:`run_jobs` call
#: asks for one helper fewer than cores (its caller works too), so a :func:`start_job` fits beside it.
_WORKERS = max(2, available_cores())


def _pool() -> ThreadPoolExecutor:
    global _POOL
    with _LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="parallax-matcher")
        return _POOL


def run_jobs(jobs: Sequence[Callable[[], T]]) -> list[T]:
    """Run independent jobs concurrently; their results in order; re-raises the first job's error.

    The caller takes jobs from the list along with the pool's workers, so the jobs finish
    even when every worker is busy (with a :func:`start_job`, say), and uneven jobs balance.
    After an error no new job starts.
    """
    n = len(jobs)
    if n == 1:
        return [jobs[0]()]
    results: list[T | None] = [None] * n
    errors: list[tuple[int, BaseException]] = []
    lock = threading.Lock()
    taken = [0]

    def drain() -> None:
        while True:
            with lock:
                i = taken[0]
                if i >= n or errors:
                    return
                taken[0] = i + 1
            try:
                results[i] = jobs[i]()
            except BaseException as exc:  # handed to the caller below, which re-raises it
                with lock:
                    errors.append((i, exc))
                return

    pool = _pool()
    helpers = [pool.submit(drain) for _ in range(min(n - 1, available_cores() - 1))]
    drain()
    # a helper still queued behind other work is not needed any more (and a cancelled future
    # counts as done for wait() only once a worker dequeues it: wait for the others alone)
    wait([helper for helper in helpers if not helper.cancel()])
    if errors:
        raise min(errors, key=lambda e: e[0])[1]
    return results  # type: ignore[return-value]


def start_job(job: Callable[[], T]) -> Future[T]:
    """Start ``job`` on the shared pool and return at once; its ``result()`` waits for it (and
    re-raises its error). For work that overlaps the caller's own: :func:`run_jobs` calls
    made meanwhile still finish, their caller taking the jobs no free worker takes."""
    return _pool().submit(job)


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
