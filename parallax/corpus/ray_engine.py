"""The Ray engine: run :func:`~parallax.corpus.ingest.process_capture` (and the clip steps) as Ray Data maps.

Only the per-capture step runs on Ray; results come back to the driver, which
commits them to the catalog in input order with the same code as the embedded
engine, so both engines give the same catalog. Clips use :func:`map_with_ray`
for their two steps (plan and prepare per source; process per chunk of a cut,
so the frames of one long clip spread over the workers); their chunks write
frame files into the corpus's staging folder, which must then be on a file
system every node reaches.

Pointing it at a cluster: start Ray there (``ray start --head`` on one machine,
``ray start --address=HEAD:6379`` on the others) and set ``RAY_ADDRESS=HEAD:6379``
(or call ``ray.init(address=...)`` yourself before ``Corpus.add``) on the machine
that runs ``parallax corpus add --engine ray``. The capture files must then be
reachable from every node (a shared file system); sample folders and shards can
live in an object store (``samples_url`` / ``--out`` as ``s3://...``).
Without a cluster, a local Ray is started with ``workers`` CPUs.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable, Sequence
from typing import Any

from parallax.corpus.consent import Consent
from parallax.corpus.ingest import CaptureItem, IngestSettings, Processed, process_capture
from parallax.errors import ParameterError, require

__all__ = ["process_with_ray", "ensure_ray", "map_with_ray"]


def ensure_ray(workers: int | None = None) -> Any:
    """Import Ray and start a local instance if none is running (``workers`` CPUs; no dashboard)."""
    ray = require("ray", "ray", "the Ray engine (--engine ray)")
    if workers is not None and workers < 1:
        raise ParameterError(f"ray workers must be >= 1, got {workers}")
    if not ray.is_initialized():
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, configure_logging=False)
    return ray


def _call(row: dict[str, Any]) -> dict[str, Any]:
    fn, args = pickle.loads(row["task"])
    return {"index": row["index"], "result": pickle.dumps(fn(*args))}


def map_with_ray(fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]], *, workers: int | None = None) -> list[Any]:
    """``[fn(*args) for args in calls]`` as a Ray Data map (one task per call, at most ``workers`` at once), in order.

    ``fn`` must be a module-level function (pickled by reference); arguments and results are pickled.
    """
    if not calls:
        return []
    ray = ensure_ray(workers)
    ctx = ray.data.DataContext.get_current()
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    ctx.enable_progress_bars = False
    rows = [{"index": i, "task": pickle.dumps((fn, tuple(args)))} for i, args in enumerate(calls)]
    ds = ray.data.from_items(rows, override_num_blocks=len(rows))
    concurrency = workers or max(1, int(ray.available_resources().get("CPU", 1)))
    size = min(concurrency, len(rows))
    if hasattr(ray.data, "TaskPoolStrategy"):  # Ray >= 2.51
        ds = ds.map(_call, num_cpus=1, compute=ray.data.TaskPoolStrategy(size=size))
    else:  # pragma: no cover - older Ray
        ds = ds.map(_call, num_cpus=1, concurrency=size)
    out = sorted(ds.take_all(), key=lambda r: r["index"])
    return [pickle.loads(r["result"]) for r in out]


def _run(row: dict[str, Any]) -> dict[str, Any]:
    item, consent, settings = pickle.loads(row["task"])
    return {"index": row["index"], "result": pickle.dumps(process_capture(item, consent, settings))}


def process_with_ray(
    items: list[CaptureItem], consent: Consent, settings: IngestSettings, *, workers: int | None = None
) -> list[Processed]:
    """Process ``items`` on Ray Data (one task per capture, at most ``workers`` at once); results in input order."""
    if not items:
        return []
    ray = ensure_ray(workers)
    ctx = ray.data.DataContext.get_current()
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # the CLI shows its own progress
    ctx.enable_progress_bars = False
    rows = [{"index": i, "task": pickle.dumps((item, consent, settings))} for i, item in enumerate(items)]
    ds = ray.data.from_items(rows, override_num_blocks=len(rows))
    concurrency = workers or max(1, int(ray.available_resources().get("CPU", 1)))
    size = min(concurrency, len(rows))
    if hasattr(ray.data, "TaskPoolStrategy"):  # Ray >= 2.51
        ds = ds.map(_run, num_cpus=1, compute=ray.data.TaskPoolStrategy(size=size))
    else:  # pragma: no cover - older Ray
        ds = ds.map(_run, num_cpus=1, concurrency=size)
    out = sorted(ds.take_all(), key=lambda r: r["index"])
    return [pickle.loads(r["result"]) for r in out]
