"""Run the app until SIGINT or SIGTERM, then shut down cleanly: the runner behind ``parallax serve`` and ``view``.

uvicorn serves in a background thread while the main thread owns the signals
(:func:`stop_signals`): the first SIGINT (Ctrl+C) or SIGTERM (``kill``) asks for a
stop. A stop ends the open progress streams, stops the server (its lifespan
shutdown stops the worker pools, terminating workers still busy) and returns; no
worker process outlives the command and nothing prints a traceback (workers
ignore SIGINT, which a terminal sends to the whole process group). A second
signal while stopping hurries it: the workers are killed at once.

The listening socket is bound in the main thread before anything starts, so a
port in use is one clear error.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import signal
import socket
import threading
import time
from collections.abc import Coroutine, Iterator
from typing import Any

from parallax.errors import ParameterError, require

__all__ = ["StopRequested", "stop_signals", "ServerRunner", "bind_socket"]

#: Seconds a stop may take before busy workers are killed outright.
STOP_TIMEOUT_S = 10.0


class StopRequested(Exception):
    """A stop was asked for (SIGINT or SIGTERM) while waiting for something."""


class _StopFlag:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.signals: list[int] = []

    def __call__(self, signum: int, frame: Any) -> None:  # a signal handler: only sets flags
        self.signals.append(signum)
        self.event.set()

    def is_set(self) -> bool:
        return self.event.is_set()

    def wait(self, timeout: float) -> bool:
        return self.event.wait(timeout)


@contextlib.contextmanager
def stop_signals() -> Iterator[_StopFlag]:
    """Within the block, SIGINT and SIGTERM set the yielded flag instead of interrupting (main thread only)."""
    flag = _StopFlag()
    saved = {sig: signal.signal(sig, flag) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port`` 0 = any free port).

    Raises
    ------
    ParameterError
        When the address is in use or cannot be bound, naming it and what to do.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ParameterError(f"--host {host}: not an address of this machine ({exc.strerror}); try 127.0.0.1") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ParameterError(f"port {port} on {host} is in use; choose another --port (or 0 for any)") from exc
        raise ParameterError(
            f"cannot listen on {host}:{port}: {exc.strerror}; choose another --host or --port"
        ) from exc
    sock.set_inheritable(False)
    return sock


class ServerRunner:
    """The app served by uvicorn in a background thread, stopped on request.

    Parameters
    ----------
    app : fastapi.FastAPI
        From :func:`parallax.server.create_app` (``app.state.service`` is stopped with it).
    sock : socket.socket
        Listening socket (:func:`bind_socket`).
    stop : flag from :func:`stop_signals`
        Set when a stop is asked for.
    """

    def __init__(self, app: Any, sock: socket.socket, stop: Any) -> None:
        uvicorn = require("uvicorn", "web", "the web server")
        self.app = app
        self.sock = sock
        self.stop = stop
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="on",
            proxy_headers=False,
            timeout_graceful_shutdown=3,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name="parallax-server", daemon=True)

    @property
    def port(self) -> int:
        """The port the socket listens on."""
        return int(self.sock.getsockname()[1])

    def _run(self) -> None:
        with contextlib.suppress(SystemExit):  # uvicorn exits this way when the app's start-up fails
            self.server.run(sockets=[self.sock])

    def start(self) -> bool:
        """Start serving and wait until the app has started (worker pools warm).

        Returns ``False`` when a stop was asked for first. Raises :class:`ParameterError`
        when the server could not start.
        """
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise ParameterError("the web server could not start (see the message above)")
            if self.stop.wait(0.05):
                return False
        return True

    def call(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        """Run ``coroutine`` on the server's event loop and return its result.

        Raises
        ------
        StopRequested
            When a stop is asked for first (the coroutine is cancelled).
        """
        future = asyncio.run_coroutine_threadsafe(coroutine, self.app.state.loop)
        while True:
            try:
                return future.result(timeout=0.1)
            except concurrent.futures.TimeoutError:
                if self.stop.is_set() or not self.thread.is_alive():
                    future.cancel()
                    raise StopRequested() from None

    def serve(self) -> None:
        """Serve until a stop is asked for (or the server ends by itself)."""
        while self.thread.is_alive() and not self.stop.wait(0.2):
            pass

    def shutdown(self) -> None:
        """Stop serving: end progress streams, stop the server and its worker pools; wait for it.

        Workers still busy after :data:`STOP_TIMEOUT_S` seconds, or at once on a second
        signal, are killed.
        """
        service = self.app.state.service
        loop = getattr(self.app.state, "loop", None)
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(service.jobs.request_stop)
        self.server.should_exit = True
        signals_before = len(self.stop.signals)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while self.thread.is_alive():
            if time.monotonic() > deadline or len(self.stop.signals) > signals_before:
                service.jobs.kill_workers()
                self.server.force_exit = True
                self.thread.join(2.0)
                break
            self.thread.join(0.1)
        self.sock.close()
