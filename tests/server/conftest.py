"""Fixtures of the server tests: a live server (uvicorn in a thread, real worker pools) and small stereo pairs.

The pairs are generated (seeded), so the server's work per upload stays small: a
256x192 textured pair with a 6 px disparity, uploaded as two files.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ADMIN_TOKEN = "server-test-admin-token-0123456789"


@dataclass
class Served:
    """A running server: base URL, application, service and data folder."""

    url: str
    app: Any
    service: Any
    data_dir: Path


def stereo_pair_png(seed: int, width: int = 256, height: int = 192, disparity_px: int = 6) -> tuple[bytes, bytes]:
    """A textured left/right pair (PNG bytes): the right view is the left shifted by ``disparity_px``."""
    import cv2
    from PIL import Image

    rng = np.random.default_rng(seed)
    wide = np.zeros((height, width + disparity_px, 3), np.float32)
    for sigma in (3, 9, 27):  # texture at several scales: features for rectification, matches for SGM
        wide += cv2.GaussianBlur(rng.normal(0, 1, wide.shape).astype(np.float32), (0, 0), sigma) * sigma
    wide = (wide - wide.min()) / (wide.max() - wide.min()) * 230
    wide += rng.uniform(0, 25, wide.shape)  # grain: PNG cannot squeeze it, like a real photo's noise
    wide = wide.astype(np.uint8)
    left, right = wide[:, :-disparity_px], wide[:, disparity_px:]
    out = []
    for view in (left, right):
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(view)).save(buf, format="PNG")
        out.append(buf.getvalue())
    return out[0], out[1]


def serve(config: Any) -> Iterator[Served]:
    """Serve ``config``'s app in a thread until the generator is closed."""
    from parallax.server import create_app
    from parallax.server.local import serve_in_thread

    app = create_app(config)
    with serve_in_thread(app) as url:
        yield Served(url=url, app=app, service=app.state.service, data_dir=config.data_dir)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server that refines (128 px first look, 256 px refined depth), with an admin token and a corpus."""
    from parallax.server import ServerConfig

    root = tmp_path_factory.mktemp("server")
    config = ServerConfig(
        data_dir=root / "data",
        corpus_dir=root / "corpus",
        admin_token=ADMIN_TOKEN,
        preview_side_px=128,
        refine_side_px=256,
        uploads_per_minute=1000,
        actions_per_minute=1000,
    )
    yield from serve(config)


@pytest.fixture(scope="module")
def client(served: Served) -> Iterator[Any]:
    """An httpx client for :func:`served`."""
    import httpx

    with httpx.Client(base_url=served.url, timeout=120) as http:
        yield http


@pytest.fixture(scope="module")
def post_pair(client: Any):
    """``post_pair(seed, client=None)``: upload a generated pair as two files; returns the response."""

    def post(seed: int, http: Any = None) -> Any:
        left, right = stereo_pair_png(seed)
        files = {
            "file": (f"pair{seed}-left.png", left, "image/png"),
            "right": (f"pair{seed}-right.png", right, "image/png"),
        }
        return (http or client).post("/api/captures", files=files)

    return post


@pytest.fixture(scope="module")
def admin_token() -> str:
    """The admin token of :func:`served`."""
    return ADMIN_TOKEN


@pytest.fixture(scope="module")
def on_loop(served: Served):
    """``on_loop(coroutine)``: run a coroutine on the server's event loop and return its result."""
    import asyncio

    def run(coroutine: Any, timeout: float = 60.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, served.app.state.loop).result(timeout)

    return run


@pytest.fixture(scope="session")
def stereo_pair():
    """``stereo_pair(seed)``: a generated left/right pair as PNG bytes (see :func:`stereo_pair_png`)."""
    return stereo_pair_png


# -- stereo videos -----------------------------------------------------------------------------

VIDEO_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "video"


@pytest.fixture(scope="session")
def video_dir() -> Path:
    """``../shared/data/video`` (read in place)."""
    return VIDEO_DIR


@pytest.fixture(scope="module")
def clip_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server for stereo videos with small segments (0.5 s) and sizes, so clips stream in several parts quickly.

    Photos up to 256 KiB, videos up to 2 MiB; the first 1.5 s of a video are processed.
    """
    from parallax.server import ServerConfig

    root = tmp_path_factory.mktemp("clips")
    config = ServerConfig(
        data_dir=root / "data",
        corpus_dir=root / "corpus",
        refine=False,
        max_upload_bytes=256 * 1024,
        max_video_upload_bytes=2 * 1024 * 1024,
        uploads_per_minute=1000,
        actions_per_minute=1000,
        video_max_s=1.5,
        video_first_s=0.5,
        video_segment_s=0.5,
        video_side_px=192,
        video_view_side_px=320,
        video_grid_side_px=64,
    )
    yield from serve(config)


@pytest.fixture(scope="module")
def clip_client(clip_server: Served) -> Iterator[Any]:
    """An httpx client for :func:`clip_server`."""
    import httpx

    with httpx.Client(base_url=clip_server.url, timeout=300) as http:
        yield http


def follow_events(http: Any, capture_id: str, *, until: str = "done", last_event_id: int | None = None) -> list[dict]:
    """The capture's server-sent events (parsed ``data`` lines) until ``until`` or the end of the stream."""
    import json

    headers = {} if last_event_id is None else {"last-event-id": str(last_event_id)}
    seen: list[dict] = []
    with http.stream("GET", f"/api/captures/{capture_id}/events", headers=headers) as r:
        if r.status_code == 204:
            return seen
        assert r.status_code == 200, r.status_code
        for line in r.iter_lines():
            if line.startswith("data: "):
                seen.append(json.loads(line[6:]))
                if seen[-1]["event"] in (until, "failed", "deleted"):
                    break
    return seen


def upload_file(http: Any, path: Path, name: str | None = None) -> Any:
    """POST one file to /api/captures as the upload page does."""
    return http.post(
        "/api/captures", files={"file": (name or path.name, path.read_bytes(), "application/octet-stream")}
    )


def write_video(path: Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    """``frames`` (HxWx3 uint8, even sizes) as an H.264 video with PyAV (container by extension)."""
    import av

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18", "preset": "ultrafast"}
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="session")
def events_of():
    """``events_of(http, capture_id, until="done", last_event_id=None)``: see :func:`follow_events`."""
    return follow_events


@pytest.fixture(scope="session")
def post_file():
    """``post_file(http, path, name=None)``: see :func:`upload_file`."""
    return upload_file


@pytest.fixture(scope="session")
def make_video():
    """``make_video(path, frames, fps=10)``: see :func:`write_video`."""
    return write_video
