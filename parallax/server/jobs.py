"""Worker pools and progress events: the server never computes in its event loop.

Four process pools (``preview``, ``refine``, ``export``, ``video``) keep a slow background
refinement, download or video from delaying the next upload's first look. Worker
processes are started from a ``forkserver`` (never forked from the threaded
server) and warmed up at start-up (imports and a tiny depth computation, so
JIT compilation is not paid by the first upload).

Progress of a capture is a list of events (dicts with an ``"event"`` key and an
``"id"``, 1, 2, 3, ... in order): ``read`` → ``preview-ready`` → ``refining`` →
``full-ready`` → ``done``, or ``failed`` (with ``message``) at any point, or
``deleted``. A stereo video's: ``read`` (``kind: "clip"``) → ``processing`` →
``first-seconds`` (its first segment, viewable) → ``progress`` (frames done, and each
further segment) → ``done`` (see :mod:`parallax.server.clip_worker`). Each event is
also appended to the capture's ``events.jsonl`` (:mod:`parallax.server.events`), so ids
stay the same after a restart. :meth:`JobManager.events` replays them from a given
id on and then follows new ones; the server sends them as server-sent events with
those ids (a reconnecting page sends ``Last-Event-ID`` and resumes after it). The
terminal event is ``failed``, not ``error``: an ``EventSource`` fires its own
``error`` event on every dropped connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import pickle
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from parallax.errors import OutputError, ParallaxError
from parallax.server.clip_export import ClipExportJob, run_clip_export
from parallax.server.clip_worker import ClipCheck, ClipJob, check_clip, run_clip, warm_up_video
from parallax.server.config import ServerConfig
from parallax.server.events import (
    EVENTS_FILE,
    TERMINAL_EVENTS,
    append_event,
    describe_event,
    read_story,
    segment_index,
)
from parallax.server.store import CaptureNotFoundError, CaptureStore
from parallax.server.worker import ExportJob, StageJob, init_worker, run_export, run_stage, warm_up

__all__ = ["JobManager", "ServerStoppingError", "TERMINAL_EVENTS", "EVENTS_FILE", "describe_event"]

log = logging.getLogger("parallax.server")

_POOL_NICE = {"preview": 0, "refine": 10, "export": 5, "video": 5}


class ServerStoppingError(OutputError):
    """The server is shutting down and takes no new work (HTTP 503)."""


class JobManager:
    """Runs capture processing in worker processes and keeps each capture's events.

    Parameters
    ----------
    config : ServerConfig
        Server settings (sizes, worker count, pixel limit).
    store : CaptureStore
        Where captures live.
    on_change : callable, optional
        Called (on the event loop) with a capture id whenever a stage of it wrote its files.
    """

    FORGET_AFTER_S = 600.0

    def __init__(
        self, config: ServerConfig, store: CaptureStore, on_change: Callable[[str], None] | None = None
    ) -> None:
        self.config = config
        self.store = store
        self._on_change = on_change
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
        self._reader_stop = threading.Event()
        self._stop_requested: asyncio.Event | None = None
        self._stopping = False

    # -- life cycle --------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the pools and warm every worker up (imports, JIT); returns when they are ready.

        Returns early, with the pools still cold, when :meth:`request_stop` is called meanwhile.
        """
        self._loop = asyncio.get_running_loop()
        self._stop_requested = asyncio.Event()
        self._queue = self._ctx.Queue()
        for name, nice in _POOL_NICE.items():
            if name == "refine" and not self.config.refine:
                continue  # no refinement: no process for it
            self._pools[name] = ProcessPoolExecutor(
                max_workers=self.config.workers,
                mp_context=self._ctx,
                initializer=init_worker,
                initargs=(self._queue, nice, self.config.max_pixels),
            )
        self._reader = threading.Thread(target=self._read_queue, name="parallax-progress", daemon=True)
        self._reader.start()
        # Each pool compiles what it will run: the preview and refine matchers, the clip stage; exports import only.
        config = self.config
        warm_ups: dict[str, tuple[Callable[[Any], int], Any]] = {
            "preview": (warm_up, (config.preview_matcher,)),
            "refine": (warm_up, (config.refine_matcher,)),
            "export": (warm_up, ()),
            "video": (warm_up_video, config.video_matcher),
        }
        warm = asyncio.gather(
            *(
                self._loop.run_in_executor(pool, warm_ups[name][0], warm_ups[name][1])
                for name, pool in self._pools.items()
                for _ in range(self.config.workers)
            )
        )
        stop = asyncio.ensure_future(self._stop_requested.wait())
        racing: set[asyncio.Future[Any]] = {warm, stop}
        await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not warm.done():  # asked to stop while warming up: the pools are stopped next
            warm.cancel()
            with contextlib.suppress(asyncio.CancelledError, BrokenProcessPool):
                await warm
            return
        warm.result()

    def request_stop(self) -> None:
        """Begin stopping (call on the event loop): end every progress stream, cut a warm-up short."""
        self._stopping = True
        if self._stop_requested is not None:
            self._stop_requested.set()
        for changed in self._changed.values():
            changed.set()
        self._changed.clear()

    def _workers(self) -> list[Any]:
        # ProcessPoolExecutor has no public list of its processes (3.14 adds terminate_workers()).
        return [
            proc for pool in self._pools.values() for proc in list((getattr(pool, "_processes", None) or {}).values())
        ]

    def kill_workers(self) -> None:
        """Kill every worker process now (thread-safe; a last resort when a stop takes too long)."""
        for proc in self._workers():
            with contextlib.suppress(OSError, ValueError, AttributeError):
                proc.kill()

    async def stop(self, grace_s: float = 1.0) -> None:
        """Stop the pools and the progress reader; no worker process is left.

        Idle workers exit by themselves; a worker still busy after ``grace_s`` seconds
        (a running refinement or download) is terminated and its job abandoned (its
        files are written atomically, so none is left half-written; the page is told
        the processing was interrupted).
        """
        self.request_stop()
        workers = self._workers()
        for pool in self._pools.values():
            pool.shutdown(wait=False, cancel_futures=True)
        await asyncio.to_thread(_join_all, workers, grace_s)
        for proc in workers:
            if proc.is_alive():
                proc.terminate()
        await asyncio.to_thread(_join_all, workers, 2.0)
        for proc in workers:
            if proc.is_alive():
                proc.kill()
        for pool in self._pools.values():  # the pools' manager threads notice and finish their futures
            await asyncio.wait_for(asyncio.to_thread(pool.shutdown, True), timeout=5.0)
        await asyncio.sleep(0)  # let the futures' callbacks run while the loop is alive
        self._reader_stop.set()
        if self._reader is not None:
            await asyncio.to_thread(self._reader.join, 2.0)
        if self._queue is not None:
            self._queue.close()
            self._queue.cancel_join_thread()
        self._pools.clear()

    def _read_queue(self) -> None:
        while not self._reader_stop.is_set():
            try:
                item = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            except (EOFError, OSError, ValueError, pickle.UnpicklingError):
                return  # the queue broke (a worker killed mid-message at shutdown)
            capture_id, event = item
            if self._loop is not None and not self._loop.is_closed():
                with contextlib.suppress(RuntimeError):  # closed meanwhile
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
        event = {"id": len(events) + 1, **{k: v for k, v in event.items() if k != "id"}}
        events.append(event)
        state = event["event"]
        try:
            if state != "deleted":
                self._persist(capture_id, event)
            if state in ("read", "preview-ready", "refining", "first-seconds", "done", "failed"):
                self.store.update_meta(
                    capture_id, state=state, **({"error": event["message"]} if state == "failed" else {})
                )
            if self._on_change is not None and state != "deleted":
                self._on_change(capture_id)
        except (CaptureNotFoundError, OSError, ParallaxError):
            pass  # deleted meanwhile: the events still tell the page
        if state != "progress" or "segment" in event:  # frame counts alone are not worth a log line
            log.info("capture %s: %s", capture_id[:8], describe_event(event))
        changed = self._changed.pop(capture_id, None)
        if changed is not None:
            changed.set()
        if state in TERMINAL_EVENTS and self._loop is not None:
            # Keep finished stories in memory a while; later ones are read back from disk.
            self._loop.call_later(self.FORGET_AFTER_S, self._drop, capture_id, events)

    def _persist(self, capture_id: str, event: dict[str, Any]) -> None:
        """Append one event to the capture's ``events.jsonl`` (one JSON object a line)."""
        append_event(self.store.dir_for(capture_id), event)

    def _drop(self, capture_id: str, events: list[dict[str, Any]]) -> None:
        if self._events.get(capture_id) is events:
            del self._events[capture_id]

    def live(self) -> set[str]:
        """Ids of the captures this server is processing now."""
        return {cid for cid in list(self._events) if self.is_live(cid)}

    def is_live(self, capture_id: str) -> bool:
        """Whether this server is processing the capture now (it has events and no terminal one)."""
        events = self._events.get(capture_id)
        return events is not None and not (events and events[-1]["event"] in TERMINAL_EVENTS)

    def history(self, capture_id: str) -> list[dict[str, Any]]:
        """Events so far, each with its ``id``; after a restart read back from the capture's folder.

        A capture whose story has no terminal event and is not being processed here was
        interrupted (the server stopped): it ends with a ``failed`` event saying so.
        """
        if capture_id in self._events:
            return list(self._events[capture_id])
        return read_story(self.store.dir_for(capture_id), lambda: self.store.meta(capture_id))

    async def events(
        self, capture_id: str, after_id: int = 0, keepalive_s: float = 15.0
    ) -> AsyncIterator[dict[str, Any] | None]:
        """The capture's events with an id above ``after_id``, then new ones until a terminal one.

        Yields ``None`` every ``keepalive_s`` seconds without news (a keep-alive).
        """
        live = self._events.get(capture_id)
        if live is None:  # finished long ago or before a restart: the files tell the story
            for event in self.history(capture_id):
                if event["id"] > after_id:
                    yield event
            return
        sent = after_id
        while True:
            while sent < len(live):
                event = live[sent]
                sent += 1
                yield event
                if event["event"] in TERMINAL_EVENTS:
                    return
            if live and live[-1]["event"] in TERMINAL_EVENTS:
                return  # the caller had seen everything, the terminal event included
            if self._stopping:
                return  # the server stops: the page reconnects to the next one and resumes
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
        self._check_running()
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
            self._check_running()
            raise failure
        future.add_done_callback(lambda f: self._after_stage(capture_id, job, f))
        if waiter.done():
            return waiter.result()
        # The whole stage finished before its "read" message came through the queue (a small photo on a
        # busy machine): record it from the job's result (the late message is then recognised and dropped).
        return self._read_from_result(capture_id, future.result())

    def _read_from_result(self, capture_id: str, view: dict[str, Any]) -> dict[str, Any]:
        """The capture's "read" event, recorded from the first stage's result when its message has not come."""
        events = self._events.get(capture_id, [])
        read = next((e for e in events if e["event"] == "read"), None)
        if read is None:
            read = {"event": "read", "stage": "preview", **view.get("capture", {})}
            self._record(capture_id, read)
            read = next((e for e in self._events.get(capture_id, []) if e["event"] == "read"), read)
        return read

    def _after_stage(self, capture_id: str, job: StageJob, future: asyncio.Future) -> None:
        if future.cancelled():
            exc: BaseException | None = BrokenProcessPool("cancelled")
        else:
            exc = future.exception()
        if exc is not None:
            if self._stopping:
                message = "processing was interrupted (the server stopped); upload the file again"
            elif isinstance(exc, ParallaxError):
                message = str(exc)
            else:
                message = "processing failed on the server; try again or another file"
                log.error("capture %s: %s failed", capture_id, job.stage, exc_info=exc)
            self._record(capture_id, {"event": "failed", "stage": job.stage, "message": message})
            return
        view = future.result()
        if job.stage == "preview":
            self._read_from_result(capture_id, view)
        self._record(capture_id, {"event": f"{job.stage}-ready", "view": view})
        if job.stage == "preview" and self.config.refine and self._stopping:
            return  # no refinement any more; after a restart the story ends "interrupted"
        if job.stage == "preview" and self.config.refine:
            refine = self._stage_job(capture_id, job.folder, (job.source, job.right_source), job.display_name, "full")
            self._record(capture_id, {"event": "refining"})
            loop = asyncio.get_running_loop()
            nxt = loop.run_in_executor(self._pools["refine"], run_stage, refine)
            nxt.add_done_callback(lambda f: self._after_stage(capture_id, refine, f))
        else:
            self._record(capture_id, {"event": "done"})

    async def submit_clip(self, capture_id: str, folder: Path, source: Path, display_name: str) -> dict[str, Any]:
        """Start processing an uploaded stereo video; return once it has been opened and its first frame decoded.

        The check runs in the ``preview`` pool (quick); the processing then goes on in the
        ``video`` pool, so a long clip never holds up a photo (see :meth:`events`).

        Raises
        ------
        ParallaxError
            When the file is not a readable stereo video (the reader's message).
        """
        self._check_running()
        config = self.config
        self._events[capture_id] = []
        check = ClipCheck(
            source=source,
            display_name=display_name,
            max_pixels=config.max_pixels,
            max_s=config.video_max_s,
            max_fps=config.video_max_fps,
        )
        try:
            read = await self.call("preview", check_clip, check)
        except BaseException:
            self._events.pop(capture_id, None)
            raise
        self._record(capture_id, {"event": "read", "stage": "clip", **read})
        job = ClipJob.from_config(
            config, capture_id=capture_id, folder=folder, source=source, display_name=display_name
        )
        future = asyncio.get_running_loop().run_in_executor(self._pools["video"], run_clip, job)
        future.add_done_callback(lambda f: self._after_clip(capture_id, f))
        return self._events[capture_id][0]

    def _after_clip(self, capture_id: str, future: asyncio.Future) -> None:
        exc = BrokenProcessPool("cancelled") if future.cancelled() else future.exception()
        if exc is not None:
            if self._stopping:
                message = "processing was interrupted (the server stopped); upload the video again"
            elif isinstance(exc, ParallaxError):
                message = str(exc)
            else:
                message = "processing failed on the server; try again or another video"
                log.error("capture %s: video processing failed", capture_id, exc_info=exc)
            self._record(capture_id, {"event": "failed", "stage": "clip", "message": message})
            return
        summary = dict(future.result())
        if summary.get("cancelled"):  # deleted meanwhile: its story already ends with "deleted"
            log.info("capture %s: processing stopped after %d frames (deleted)", capture_id[:8], summary["frames"])
            return
        # The result may overtake the worker's last events on the progress queue: record those first.
        seen = {segment_index(e) for e in self._events.get(capture_id, [])}
        for event in summary.pop("published", []):
            if segment_index(event) not in seen:
                self._record(capture_id, event)
        self._record(capture_id, {"event": "done", "summary": summary})

    def _check_running(self) -> None:
        if self._stopping:
            raise ServerStoppingError("the server is stopping; try again in a moment")

    async def call(self, pool: str, func: Any, *args: Any) -> Any:
        """Run ``func(*args)`` (a picklable module-level function) in one of the pools and await it."""
        self._check_running()
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pools[pool], func, *args)
        except BrokenProcessPool:
            self._check_running()
            raise

    async def export(
        self, capture_id: str, stage: str, format_name: str, path: Path, *, clip: tuple[Path, str] | None = None
    ) -> Path:
        """Write (once; later calls reuse the file) the stage's result in a registry format.

        For a stereo video (``stage`` ``"clip"``) ``clip`` is ``(uploaded file, its name)``
        and the format one of the clip outputs (:func:`~parallax.server.clip_worker.run_clip_export`).
        """
        key = (capture_id, stage, format_name)
        lock = self._export_locks.setdefault(key, asyncio.Lock())
        async with lock:
            if path.is_file():
                return path
            path.parent.mkdir(parents=True, exist_ok=True)
            folder = self.store.dir_for(capture_id)
            result: Path
            if clip is not None:
                source, name = clip
                job = ClipExportJob(
                    folder=folder,
                    source=source,
                    display_name=name,
                    max_pixels=self.config.max_pixels,
                    format=format_name,
                    path=path,
                )
                result = await self.call("export", run_clip_export, job)
            else:
                result = await self.call(
                    "export", run_export, ExportJob(folder=folder, stage=stage, format=format_name, path=path)
                )
            return result


def _join_all(processes: list[Any], timeout_s: float) -> None:
    """Wait up to ``timeout_s`` seconds in all for the processes to end."""
    deadline = time.monotonic() + timeout_s
    for proc in processes:
        proc.join(max(0.0, deadline - time.monotonic()))
