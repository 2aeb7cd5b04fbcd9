"""Request-level protections: body size limit, security headers, upload rate limit.

Each is plain ASGI or plain Python (no framework magic), so a test can show the
rule holds and fails when it is removed.
"""

from __future__ import annotations

import collections
import json
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = [
    "content_security_policy",
    "CONTENT_SECURITY_POLICY",
    "SECURITY_HEADERS",
    "BodyLimitMiddleware",
    "SecurityHeadersMiddleware",
    "RateLimiter",
]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def content_security_policy(script_hashes: tuple[str, ...] = ()) -> str:
    """The Content-Security-Policy of every response.

    Scripts and styles come only from this server (the viewer and its three.js,
    served from ``/vendor/``, see :mod:`parallax.web`): no inline script except the pages' import maps,
    allowed by their SHA-256 (``script_hashes``, base64), no CDN. WebAssembly (the
    splat renderer) may compile; its workers start from ``blob:`` URLs.
    """
    scripts = " ".join(["'self'", *(f"'sha256-{h}'" for h in script_hashes), "'wasm-unsafe-eval'"])
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {scripts}",
            "style-src 'self'",
            "img-src 'self' blob: data:",
            "connect-src 'self' data: blob:",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


CONTENT_SECURITY_POLICY = content_security_policy()
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",  # capture links are secrets: never leak them to other sites
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "xr-spatial-tracking=(self), camera=(), microphone=(), geolocation=()",
}


class _TooLarge(Exception):
    pass


async def _send_json(send: Send, status: int, detail: str, extra: dict[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
    headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Answer 413 to request bodies larger than ``max_bytes``.

    Refuses at once when ``Content-Length`` says so; otherwise counts the bytes
    as they arrive and stops the request when the count passes the limit (a
    chunked or lying client). A ``POST`` to ``upload_path`` may be up to
    ``upload_max_bytes`` (stereo videos; default ``max_bytes``): the app checks a
    photo against ``max_bytes`` once its content shows it is one.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, upload_max_bytes: int | None = None, upload_path: str = "/api/captures"
    ) -> None:
        self.app = app
        self.max_bytes = int(max_bytes)
        self.upload_max_bytes = max(self.max_bytes, int(upload_max_bytes or 0))
        self.upload_path = upload_path

    def _message(self, limit: int) -> str:
        mb = 1024 * 1024
        if limit == self.max_bytes:
            return f"the upload is larger than this server's limit of {limit / mb:.0f} MB; send a smaller file"
        return (
            f"the upload is larger than this server's limit of {limit / mb:.0f} MB for videos "
            f"({self.max_bytes / mb:.0f} MB for photos); send a smaller file"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope.get("method") == "POST" and scope.get("path") == self.upload_path
        limit = self.upload_max_bytes if upload else self.max_bytes
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_json(send, 400, "invalid Content-Length header")
                    return
                if declared > limit:
                    await _send_json(send, 413, self._message(limit))
                    return
        received = 0
        started = False

        async def counting_receive() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge()
            return message

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _send_json(send, 413, self._message(limit))


class SecurityHeadersMiddleware:
    """Add :data:`SECURITY_HEADERS` (CSP, nosniff, ...) to every HTTP response.

    ``script_hashes`` are SHA-256 digests (base64) of inline scripts the pages may run
    (their import maps); see :func:`content_security_policy`.
    """

    def __init__(self, app: ASGIApp, script_hashes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.headers = {**SECURITY_HEADERS, "content-security-policy": content_security_policy(tuple(script_hashes))}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.decode("latin-1").lower() not in self.headers
                ]
                headers += [(k.encode(), v.encode()) for k, v in self.headers.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class RateLimiter:
    """At most ``limit`` events per client in any ``window_s`` seconds (sliding window).

    Parameters
    ----------
    limit : int
        Events allowed per window.
    window_s : float
        Window length in seconds.
    clock : callable
        Monotonic clock in seconds (tests pass their own).
    """

    def __init__(self, limit: int, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = int(limit)
        self.window_s = float(window_s)
        self.clock = clock
        self._hits: dict[str, collections.deque[float]] = {}

    def check(self, client: str) -> float:
        """Record one event for ``client``; return 0 if allowed, else the seconds to wait."""
        now = self.clock()
        hits = self._hits.setdefault(client, collections.deque())
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        if len(hits) >= self.limit:
            return max(1.0, math.ceil(hits[0] + self.window_s - now))
        hits.append(now)
        if len(self._hits) > 10_000:  # forget idle clients
            for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window_s]:
                del self._hits[key]
        return 0.0
