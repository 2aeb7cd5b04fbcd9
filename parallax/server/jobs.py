"""Worker pools and progress events: the server never computes in its event loop.

Three process pools (``preview``, ``refine``, ``export``) keep a slow background
refinement or download from delaying the next upload's first look. Worker
processes are started from a ``forkserver`` (never forked from the threaded
server) and warmed up at start-up (imports and a tiny depth computation, so
JIT compilation is not paid by the first upload).

Progress of a capture is a list of events (dicts with an ``"event"`` key):
``read`` → ``preview-ready`` → ``refining`` → ``full-ready`` → ``done``, or
``error`` (with ``message``) at any point. :meth:`JobManager.events` replays
them and then follows new ones; the server sends them as server-sent events.
"""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from parallax.errors import ParallaxError
from parallax.server.config import ServerConfig
from parallax.server.store import CaptureNotFoundError, CaptureStore
from parallax.server.worker import ExportJob, StageJob, init_worker, run_export, run_stage, warm_up

__all__ = ["JobManager", "TERMINAL_EVENTS"]

log = logging.getLogger("parallax.server")

TERMINAL_EVENTS = ("done", "error", "deleted")
_POOL_NICE = {"preview": 0, "refine": 10, "export": 5}


class JobManager:
    """Runs capture processing in worker processes and keeps each capture's events.

    Parameters
    ----------
    config : ServerConfig
        Server settings (sizes, worker count, pixel limit).
    store : CaptureStore
        Where captures live.
    """

    FORGET_AFTER_S = 600.0

    def __init__(self, config: ServerConfig, store: CaptureStore) -> None:
        self.config = config
        self.store = store
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(["parallax.server.worker"])
        self._queue: Any = None
        self._pools: dict[str, ProcessPoolExecutor] = {}
        self._events: dict[str, list[dict[str, Any]]] = {}
        self._deleted: set[str] = set()
        self._changed: dict[str, asyncio.Event] = {}
        self._read_waiters: dict[str, asyncio.Future] = {}
        self._export_locks: dict[tuple[str, str, str], asyncio.Lock] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reader: threading.Thread | None = None

    # -- life cycle --------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the pools and warm every worker up (imports, JIT); returns when they are ready."""
        self._loop = asyncio.get_running_loop()
        self._queue = self._ctx.Queue()
        for name, nice in _POOL_NICE.items():
            self._pools[name] = ProcessPoolExecutor(
                max_workers=self.config.workers,
                mp_context=self._ctx,
                initializer=init_worker,
                initargs=(self._queue, nice, self.config.max_pixels),
            )
        self._reader = threading.Thread(target=self._read_queue, name="parallax-progress", daemon=True)
        self._reader.start()
        # Each pool compiles what it will run: the preview and refine matchers; exports import only.
        matchers = {"preview": (self.config.preview_matcher,), "refine": (self.config.refine_matcher,), "export": ()}
        warm = [
            self._loop.run_in_executor(pool, warm_up, matchers[name])
            for name, pool in self._pools.items()
            for _ in range(self.config.workers)
        ]
        await asyncio.gather(*warm)

    async def stop(self) -> None:
        """Stop the pools (running jobs are abandoned) and the progress reader."""
        for pool in self._pools.values():
            pool.shutdown(wait=False, cancel_futures=True)
        if self._queue is not None:
            self._queue.put(None)
        if self._reader is not None:
            await asyncio.to_thread(self._reader.join, 5.0)
        for pool in self._pools.values():
            try:  # a running refinement may hold a worker; do not wait for it forever
                await asyncio.wait_for(asyncio.to_thread(pool.shutdown, True), timeout=10.0)
            except TimeoutError:
                log.warning("a worker was still busy at shutdown; it ends with its job")
        if self._queue is not None:
            self._queue.close()
            self._queue.join_thread()
        self._pools.clear()

    def _read_queue(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            capture_id, event = item
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._on_worker_event, capture_id, event)

    # -- events ------------------------------------------------------------------------------
    def _on_worker_event(self, capture_id: str, event: dict[str, Any]) -> None:
        if event.get("event") == "read":
            if any(
                e["event"] == "read" and e.get("stage") == event.get("stage") for e in self._events.get(capture_id, [])
            ):
                return  # already recorded from the job's result
            waiter = self._read_waiters.pop(capture_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(event)
            if event.get("stage") != "preview":
                return  # the refinement's re-read is no news to the page
        self._record(capture_id, event)

    def _record(self, capture_id: str, event: dict[str, Any]) -> None:
        if capture_id in self._deleted:
            return
        events = self._events.setdefault(capture_id, [])
        if events and events[-1]["event"] in TERMINAL_EVENTS:
            return
        events.append(event)
        state = event["event"]
        try:
            if state in ("read", "preview-ready", "refining", "done", "error"):
                self.store.update_meta(
                    capture_id, state=state, **({"error": event["message"]} if state == "error" else {})
                )
        except (CaptureNotFoundError, OSError, ParallaxError):
            pass  # deleted meanwhile: the events still tell the page
        changed = self._changed.pop(capture_id, None)
        if changed is not None:
            changed.set()
        if state in TERMINAL_EVENTS and self._loop is not None:
            # Keep finished stories in memory a while; later ones are rebuilt from disk.
            self._loop.call_later(self.FORGET_AFTER_S, self._drop, capture_id, events)

    def _drop(self, capture_id: str, events: list[dict[str, Any]]) -> None:
        if self._events.get(capture_id) is events:
            del self._events[capture_id]

    def history(self, capture_id: str) -> list[dict[str, Any]]:
        """Events so far; after a restart rebuilt from the files on disk."""
        if capture_id in self._events:
            return list(self._events[capture_id])
        meta = self.store.meta(capture_id)
        rebuilt: list[dict[str, Any]] = []
        folder = self.store.dir_for(capture_id)
        for stage in ("preview", "full"):
            view = folder / stage / "view.json"
            if view.is_file():
                rebuilt.append({"event": f"{stage}-ready", "view": json.loads(view.read_text(encoding="utf-8"))})
        state = meta.get("state")
        if state == "error":
            rebuilt.append({"event": "error", "message": meta.get("error", "processing failed")})
        elif state == "done":
            rebuilt.append({"event": "done"})
        else:
            rebuilt.append(
                {"event": "error", "message": "processing was interrupted (server restart); upload the file again"}
            )
        return rebuilt

    async def events(self, capture_id: str, keepalive_s: float = 15.0) -> AsyncIterator[dict[str, Any] | None]:
        """Replay the capture's events, then follow new ones until a terminal one.

        Yields ``None`` every ``keepalive_s`` seconds without news (a keep-alive).
        """
        live = self._events.get(capture_id)
        if live is None:  # finished long ago or before a restart: the files tell the story
            for event in self.history(capture_id):
                yield event
            return
        sent = 0
        while True:
            while sent < len(live):
                event = live[sent]
                sent += 1
                yield event
                if event["event"] in TERMINAL_EVENTS:
                    return
            changed = self._changed.setdefault(capture_id, asyncio.Event())
            try:
                await asyncio.wait_for(changed.wait(), keepalive_s)
            except TimeoutError:
                yield None

    def forget(self, capture_id: str) -> None:
        """Mark a capture deleted: followers get a ``deleted`` event; its events are dropped."""
        if capture_id in self._events:
            self._record(capture_id, {"event": "deleted"})
        self._events.pop(capture_id, None)
        self._deleted.add(capture_id)

    # -- jobs --------------------------------------------------------------------------------
    def _stage_job(
        self, capture_id: str, folder: Path, sources: tuple[Path, Path | None], name: str, stage: str
    ) -> StageJob:
        side = self.config.preview_side_px if stage == "preview" else (self.config.refine_side_px or None)
        return StageJob(
            capture_id=capture_id,
            folder=folder,
            source=sources[0],
            right_source=sources[1],
            display_name=name,
            stage=stage,
            max_side_px=side,
            mesh_side_px=min(self.config.mesh_side_px, self.config.preview_side_px)
            if stage == "preview"
            else self.config.mesh_side_px,
            matcher=self.config.preview_matcher if stage == "preview" else self.config.refine_matcher,
        )

    async def submit(
        self, capture_id: str, folder: Path, source: Path, right_source: Path | None, display_name: str
    ) -> dict[str, Any]:
        """Start processing an uploaded capture; return once the file has been read.

        The preview depth and the refinement go on in the background (see :meth:`events`).

        Raises
        ------
        ParallaxError
            When the file cannot be read (not stereo, corrupt, too large, ...).
        """
        loop = asyncio.get_running_loop()
        self._events[capture_id] = []
        waiter: asyncio.Future = loop.create_future()
        self._read_waiters[capture_id] = waiter
        job = self._stage_job(capture_id, folder, (source, right_source), display_name, "preview")
        future = loop.run_in_executor(self._pools["preview"], run_stage, job)
        await asyncio.wait({future, waiter}, return_when=asyncio.FIRST_COMPLETED)
        self._read_waiters.pop(capture_id, None)
        failure = future.exception() if future.done() else None
        if failure is not None:
            self._events.pop(capture_id, None)
            raise failure
        future.add_done_callback(lambda f: self._after_stage(capture_id, job, f))
        if waiter.done():
            return waiter.result()
        return self._events[capture_id][0]

    def _after_stage(self, capture_id: str, job: StageJob, future: asyncio.Future) -> None:
        exc = future.exception()
        if exc is not None:
            message = (
                str(exc)
                if isinstance(exc, ParallaxError)
                else "processing failed on the server; try again or another file"
            )
            if not isinstance(exc, ParallaxError):
                log.error("capture %s: %s failed", capture_id, job.stage, exc_info=exc)
            self._record(capture_id, {"event": "error", "stage": job.stage, "message": message})
            return
        view = future.result()
        if job.stage == "preview" and not any(e["event"] == "read" for e in self._events.get(capture_id, [])):
            self._record(capture_id, {"event": "read", "stage": "preview", **view.get("capture", {})})
        self._record(capture_id, {"event": f"{job.stage}-ready", "view": view})
        if job.stage == "preview" and self.config.refine:
            refine = self._stage_job(capture_id, job.folder, (job.source, job.right_source), job.display_name, "full")
            self._record(capture_id, {"event": "refining"})
            loop = asyncio.get_running_loop()
            nxt = loop.run_in_executor(self._pools["refine"], run_stage, refine)
            nxt.add_done_callback(lambda f: self._after_stage(capture_id, refine, f))
        else:
            self._record(capture_id, {"event": "done"})

    async def call(self, pool: str, func: Any, *args: Any) -> Any:
        """Run ``func(*args)`` (a picklable module-level function) in one of the pools and await it."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pools[pool], func, *args)

    async def export(self, capture_id: str, stage: str, format_name: str, path: Path) -> Path:
        """Write (once; later calls reuse the file) the stage's result in a registry format."""
        key = (capture_id, stage, format_name)
        lock = self._export_locks.setdefault(key, asyncio.Lock())
        async with lock:
            if path.is_file():
                return path
            path.parent.mkdir(parents=True, exist_ok=True)
            job = ExportJob(folder=self.store.dir_for(capture_id), stage=stage, format=format_name, path=path)
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pools["export"], run_export, job)
