"""The app on a loopback port in a background thread, and Debian's Chromium to drive it.

Used by the browser tests (``tests/web``) and ``benchmarks/web.py``: one place
for how the server is started and how Chromium is launched headless with
software WebGL on a machine with no GPU and no network.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from parallax.errors import MissingDependencyError, require

__all__ = ["CHROMIUM_PATH", "CHROMIUM_ARGS", "serve_in_thread", "launch_chromium"]

#: Debian's chromium (installed by scripts/setup.sh).
CHROMIUM_PATH = Path("/usr/bin/chromium")
#: Headless, no sandbox (root), no background network traffic, SwiftShader WebGL.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
)


@contextlib.contextmanager
def serve_in_thread(app: Any, *, start_timeout_s: float = 120.0) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free port of 127.0.0.1 in a daemon thread; yield its base URL.

    The server is stopped (and its lifespan shutdown run) when the block ends.

    Raises
    ------
    RuntimeError
        If the server does not start within ``start_timeout_s`` seconds.
    """
    uvicorn = require("uvicorn", "web", "the web server")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="parallax-local-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("the local server did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(60)


def launch_chromium(playwright: Any, profile_dir: str | Path, **options: Any) -> Any:
    """A persistent Chromium context (fresh profile in ``profile_dir``) through Playwright.

    ``options`` go to ``launch_persistent_context`` (e.g. ``accept_downloads=True``);
    the viewport defaults to 960x640.

    Raises
    ------
    MissingDependencyError
        If Debian's chromium is not installed.
    """
    if not CHROMIUM_PATH.is_file():
        raise MissingDependencyError(f"{CHROMIUM_PATH} not found; run scripts/setup.sh (it installs Debian's chromium)")
    options.setdefault("viewport", {"width": 960, "height": 640})
    return playwright.chromium.launch_persistent_context(
        str(profile_dir), executable_path=str(CHROMIUM_PATH), headless=True, args=list(CHROMIUM_ARGS), **options
    )
