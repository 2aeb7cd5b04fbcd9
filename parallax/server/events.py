"""A capture's story on disk and in the log: its ``events.jsonl`` and one line per event for people.

Events are dicts with an ``"event"`` key and an ``"id"`` (1, 2, 3, ... in order); see
:mod:`parallax.server.jobs` for the stories of photos and videos. Each is appended to
the capture's :data:`EVENTS_FILE` as it happens, so a server started again tells the
same story with the same ids.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["TERMINAL_EVENTS", "EVENTS_FILE", "append_event", "read_story", "describe_event", "segment_index"]

TERMINAL_EVENTS = ("done", "failed", "deleted")
EVENTS_FILE = "events.jsonl"


def append_event(folder: Path, event: dict[str, Any]) -> None:
    """Append one event to ``folder``'s :data:`EVENTS_FILE` (one JSON object a line)."""
    line = json.dumps(event, separators=(",", ":")) + "\n"
    with open(folder / EVENTS_FILE, "a", encoding="utf-8") as fh:
        fh.write(line)


def read_story(folder: Path, meta: Callable[[], dict[str, Any]]) -> list[dict[str, Any]]:
    """The events of the capture in ``folder``, read back from its :data:`EVENTS_FILE`.

    A capture from before event logs is rebuilt from its files and its record (``meta()``).
    A story without a terminal event (the server stopped while processing it) ends with a
    ``failed`` event saying it was interrupted.
    """
    events: list[dict[str, Any]] = []
    log_file = folder / EVENTS_FILE
    if log_file.is_file():
        for line in log_file.read_text(encoding="utf-8").splitlines():
            try:
                event = json.loads(line)
            except ValueError:  # a line cut short by a crash: the rest is still good
                continue
            if isinstance(event, dict) and event.get("id") == len(events) + 1:
                events.append(event)
    else:  # a capture from before event logs: rebuilt from its files
        record = meta()
        for stage in ("preview", "full"):
            view = folder / stage / "view.json"
            if view.is_file():
                events.append({"event": f"{stage}-ready", "view": json.loads(view.read_text(encoding="utf-8"))})
        if record.get("state") in ("error", "failed"):
            events.append({"event": "failed", "message": record.get("error", "processing failed")})
        elif record.get("state") == "done":
            events.append({"event": "done"})
        events = [{"id": i, **e} for i, e in enumerate(events, 1)]
    if not events or events[-1]["event"] not in TERMINAL_EVENTS:
        message = "processing was interrupted (server restart); upload the file again"
        events.append({"id": len(events) + 1, "event": "failed", "message": message})
    return events


def segment_index(event: dict[str, Any]) -> int | None:
    """The index of the video segment an event announces (``first-seconds``: 0), else ``None``."""
    if event.get("event") == "first-seconds":
        return 0
    if event.get("event") == "progress" and "segment" in event:
        return int(event["segment"]["index"])
    return None


def describe_event(event: dict[str, Any]) -> str:
    """One line for a person reading the server's log, e.g. ``first 3D view ready (512x384 depth, 1.2 s)``."""
    name = event.get("event")
    if name == "read" and event.get("kind") == "clip":
        return (
            f"read ({event.get('format', '?')}, {event.get('width', '?')}x{event.get('height', '?')} per eye, "
            f"{event.get('frame_count', '?')} frames at {event.get('fps', 0):.3g} fps)"
        )
    if name == "read":
        return f"read ({event.get('format', '?')}, {event.get('width', '?')}x{event.get('height', '?')})"
    if name in ("preview-ready", "full-ready"):
        view = event.get("view") or {}
        seconds = view.get("seconds") or {}
        what = "first 3D view" if name == "preview-ready" else "refined depth"
        size = f"{view.get('image_width', '?')}x{view.get('image_height', '?')}"
        return f"{what} ready ({size} depth in {seconds.get('depth', 0):.1f} s)"
    if name == "refining":
        return "refining the depth in the background"
    if name == "processing":
        return f"processing the video ({event.get('frames_total', '?')} frames at {event.get('fps', 0):.3g} fps)"
    if name == "first-seconds":
        view = event.get("view") or {}
        seconds = (view.get("seconds") or {}).get("first", 0.0)
        return f"first seconds in 3D ready ({event.get('frames_done', '?')} frames, {seconds:.1f} s)"
    if name == "progress":
        return f"processed {event.get('frames_done', '?')} of {event.get('frames_total', '?')} frames"
    if name == "failed":
        return f"failed: {event.get('message', '')}"
    return str(name)
