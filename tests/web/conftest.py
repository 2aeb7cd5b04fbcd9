"""Fixtures of the web-app tests: a live server on a free loopback port and a real chromium.

The server runs in-process (uvicorn in a thread) with its worker pools; the browser
is Debian's chromium (``/usr/bin/chromium``, installed by scripts/setup.sh) driven by
Playwright, with a fresh profile and software WebGL (SwiftShader).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ADMIN_TOKEN = "test-admin-token-0123456789abcdef"
MB = 1024 * 1024


@dataclass
class LiveServer:
    """A running server: its base URL, application and service."""

    url: str
    app: Any
    service: Any
    data_dir: Path
    corpus_dir: Path


def _serve(config: Any) -> Iterator[LiveServer]:
    from parallax.server import create_app
    from parallax.server.local import serve_in_thread

    app = create_app(config)
    with serve_in_thread(app) as url:
        yield LiveServer(
            url=url, app=app, service=app.state.service, data_dir=config.data_dir, corpus_dir=config.corpus_dir
        )


@pytest.fixture(scope="session")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the web tests: 4 MB upload limit, a corpus, an admin token, no refinement."""
    from parallax.server import ServerConfig

    root = tmp_path_factory.mktemp("web")
    config = ServerConfig(
        data_dir=root / "data",
        corpus_dir=root / "corpus",
        max_upload_bytes=4 * MB,
        admin_token=ADMIN_TOKEN,
        uploads_per_minute=1000,
        refine=False,
    )
    yield from _serve(config)


@pytest.fixture(scope="module")
def refining_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server that refines in the background: a 128 px first look, then a 320 px refined depth."""
    from parallax.server import ServerConfig

    root = tmp_path_factory.mktemp("web-refine")
    config = ServerConfig(data_dir=root / "data", preview_side_px=128, refine_side_px=320, refine=True)
    yield from _serve(config)


@pytest.fixture(scope="module")
def clip_web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server for stereo videos that cuts them into 0.5 s segments (a 1 s clip plays from two parts)."""
    from parallax.server import ServerConfig

    root = tmp_path_factory.mktemp("web-clips")
    config = ServerConfig(
        data_dir=root / "data",
        corpus_dir=root / "corpus",
        refine=False,
        video_first_s=0.5,
        video_segment_s=0.5,
        video_side_px=192,
        video_view_side_px=640,
        video_grid_side_px=96,
    )
    yield from _serve(config)


@pytest.fixture(scope="session")
def http(web_server: LiveServer) -> Iterator[Any]:
    """An httpx client for the server."""
    import httpx

    with httpx.Client(base_url=web_server.url, timeout=120) as client:
        yield client


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A chromium context with a fresh profile (Playwright, Debian's chromium, software WebGL)."""
    from playwright.sync_api import sync_playwright

    from parallax.server.local import launch_chromium

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        context = launch_chromium(pw, profile, accept_downloads=True)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="session")
def upload(http: Any):
    """``upload(path, name=None, right=None)``: POST a file to /api/captures as the page does."""

    def post(path: Path, *, name: str | None = None, right: Path | None = None, client: Any = None) -> Any:
        files = {"file": (name or path.name, path.read_bytes(), "application/octet-stream")}
        if right is not None:
            files["right"] = (right.name, right.read_bytes(), "application/octet-stream")
        return (client or http).post("/api/captures", files=files)

    return post


@pytest.fixture(scope="session")
def admin_token() -> str:
    """The admin token of :func:`web_server`."""
    return ADMIN_TOKEN


@pytest.fixture(scope="session")
def wait_for(http: Any):
    """``wait_for(capture_id, event="done")``: follow the capture's server-sent events until ``event``.

    Returns the list of events seen; fails on a ``failed`` event.
    """
    import json

    def follow(capture_id: str, event: str = "done", timeout: float = 120.0) -> list[dict]:
        seen: list[dict] = []
        with http.stream("GET", f"/api/captures/{capture_id}/events", timeout=timeout) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            for line in r.iter_lines():
                if not line.startswith("data: "):
                    continue
                data = json.loads(line[6:])
                seen.append(data)
                if data["event"] == "failed" and event != "failed":
                    raise AssertionError(f"processing failed: {data['message']}")
                if data["event"] == event:
                    return seen
        raise AssertionError(f"the event stream ended without {event!r}: {[e['event'] for e in seen]}")

    return follow
