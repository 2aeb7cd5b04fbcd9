"""Progress events: ids, the terminal ``failed`` event, resuming after ``Last-Event-ID``, the log on disk.

Through a real HTTP client (httpx, streaming) against a live server with real worker pools.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from parallax.server.jobs import EVENTS_FILE, TERMINAL_EVENTS


def _stream(client: Any, cid: str, last_event_id: str | None = None, stop_after: int | None = None):
    """Read the capture's event stream: (status, [{"id", "event", "data"}...], retry_ms).

    Stops at a terminal event, or after ``stop_after`` events (then the connection is dropped).
    """
    headers = {"last-event-id": last_event_id} if last_event_id is not None else {}
    events: list[dict[str, Any]] = []
    retry = None
    with client.stream("GET", f"/api/captures/{cid}/events", headers=headers, timeout=120) as r:
        if r.status_code != 200:
            return r.status_code, events, retry
        assert r.headers["content-type"].startswith("text/event-stream")
        field: dict[str, str] = {}
        for line in r.iter_lines():
            if line.startswith("retry: "):
                retry = int(line[7:])
            elif line.startswith(("id: ", "event: ", "data: ")):
                key, _, value = line.partition(": ")
                field[key] = value
            elif line == "" and field:
                events.append({"id": int(field["id"]), "event": field["event"], "data": json.loads(field["data"])})
                field = {}
                if events[-1]["event"] in TERMINAL_EVENTS or (stop_after and len(events) >= stop_after):
                    break
    return r.status_code, events, retry


@pytest.fixture(scope="module")
def finished(client, post_pair):
    """(capture id, its whole event stream) of a pair processed to the end."""
    r = post_pair(1)
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    status, events, _ = _stream(client, cid)
    assert status == 200
    return cid, events


def test_events_carry_increasing_ids_and_end_with_done(finished):
    _, events = finished
    assert [e["event"] for e in events] == ["read", "preview-ready", "refining", "full-ready", "done"]
    assert [e["id"] for e in events] == [1, 2, 3, 4, 5]
    assert all(e["data"]["id"] == e["id"] and e["data"]["event"] == e["event"] for e in events)


def test_stream_sets_the_reconnection_delay(client, finished):
    _, _, retry = _stream(client, finished[0])
    assert retry is not None and 500 <= retry <= 10_000


def test_reconnect_resumes_after_last_event_id(client, finished):
    cid, events = finished
    status, resumed, _ = _stream(client, cid, last_event_id="2")
    assert status == 200
    assert resumed == events[2:]  # no replay of what the page already had


def test_reconnect_after_the_last_event_is_told_to_stop(client, finished):
    # 204 No Content: the EventSource standard's way to say "do not reconnect".
    status, resumed, _ = _stream(client, finished[0], last_event_id=str(finished[1][-1]["id"]))
    assert status == 204 and resumed == []


@pytest.mark.parametrize("header", ["", "abc", "-1", "99999999999999"])
def test_a_last_event_id_that_is_not_ours_replays_everything(client, finished, header):
    status, replay, _ = _stream(client, finished[0], last_event_id=header)
    assert status == 200 and replay == finished[1]


def test_dropped_connection_during_processing_resumes_without_repeats(client, post_pair):
    r = post_pair(2)
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    _, first, _ = _stream(client, cid, stop_after=2)  # read, preview-ready; then the connection drops
    assert [e["event"] for e in first] == ["read", "preview-ready"]
    _, rest, _ = _stream(client, cid, last_event_id=str(first[-1]["id"]))
    seen = first + rest
    assert [e["id"] for e in seen] == list(range(1, len(seen) + 1))
    assert [e["event"] for e in seen] == ["read", "preview-ready", "refining", "full-ready", "done"]


def test_events_are_read_back_with_the_same_ids_after_a_restart(client, served, finished):
    cid, events = finished
    served.service.jobs._events.pop(cid, None)  # as if the server had restarted
    status, replay, _ = _stream(client, cid)
    assert status == 200 and replay == events
    status, resumed, _ = _stream(client, cid, last_event_id="3")
    assert resumed == events[3:]
    lines = (served.data_dir / "captures" / cid / EVENTS_FILE).read_text().splitlines()
    assert [json.loads(line) for line in lines] == [e["data"] for e in events]


def test_an_interrupted_capture_ends_with_a_failed_event(client, served, post_pair):
    r = post_pair(3)
    cid = r.json()["id"]
    _stream(client, cid)
    served.service.jobs._events.pop(cid, None)
    log = served.data_dir / "captures" / cid / EVENTS_FILE
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:2]) + "\n" + lines[2][:10])  # cut short, as by a crash mid-refinement
    _, replay, _ = _stream(client, cid)
    assert [e["event"] for e in replay] == ["read", "preview-ready", "failed"]
    assert replay[-1]["id"] == 3 and "interrupted" in replay[-1]["data"]["message"]
    assert "error" not in {e["event"] for e in replay}  # EventSource's own event name is never sent


def test_a_stage_that_ends_before_its_read_message_still_answers_the_upload(client, served, post_pair, monkeypatch):
    """On a busy machine a small photo's whole first stage can finish before its "read" message comes
    through the workers' queue: the upload must still answer 201 with what was read, and the story
    must hold that read event once."""
    jobs = served.service.jobs
    original = type(jobs)._on_worker_event

    def late(self, capture_id, event):  # the message never arrives in time
        if event.get("event") != "read":
            original(self, capture_id, event)

    monkeypatch.setattr(type(jobs), "_on_worker_event", late)
    r = post_pair(7)
    assert r.status_code == 201, r.text
    read = r.json()["read"]
    assert read["event"] == "read" and read["stage"] == "preview"
    status, events, _ = _stream(client, r.json()["id"])
    assert status == 200 and events[-1]["event"] == "done"
    assert [e["event"] for e in events].count("read") == 1
