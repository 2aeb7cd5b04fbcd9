"""The FastAPI application: pages, the capture API, progress events, downloads, corpus endpoints.

Needs the ``web`` extra (FastAPI, uvicorn, python-multipart); import this module
only through :func:`parallax.server.create_app`, which says which extra is missing.

HTTP status of errors: a malformed or unknown capture id 404; missing owner/admin
token 403; an upload over the size or pixel limit 413 (photos ``max_upload_bytes``,
stereo videos ``max_video_upload_bytes``); a file of a format
Parallax does not read 415; an unreadable or non-stereo file 422; too many
uploads or other changes from one client 429 (with ``Retry-After``); the store at
its size quota 507; the server shutting down 503; a bad parameter 400; not ready yet 409. The body is
``{"detail": "<one-line message>"}``.

Rate limits (per client address, sliding minute): uploads count against
``uploads_per_minute``; every other request that changes something (delete,
contribute, withdraw, the admin endpoints, a download that must be written first)
against ``actions_per_minute``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import mimetypes
import re
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import UploadFile

from parallax.errors import (
    InputFileError,
    MissingDependencyError,
    NotStereoError,
    OutputError,
    ParallaxError,
    ParameterError,
    UnsupportedFormatError,
)
from parallax.server import contribution
from parallax.server.clip_export import clip_formats
from parallax.server.config import ServerConfig
from parallax.server.jobs import ServerStoppingError
from parallax.server.security import BodyLimitMiddleware, SecurityHeadersMiddleware
from parallax.server.service import (
    AccessDeniedError,
    NotReadyError,
    ParallaxService,
    StorageFullError,
    TooManyRequestsError,
)
from parallax.server.store import CLIP_STAGE, CaptureNotFoundError, media_type
from parallax.server.worker import ImageTooLargeError
from parallax.web import WEB_ROOT, vendor_files, vendor_root

__all__ = ["build_app", "WEB_ROOT", "anaglyph_matrices", "status_for", "page_script_hashes"]

log = logging.getLogger("parallax.server")
PAGES = ("index.html", "capture.html")
#: How long a page's EventSource waits before reconnecting after a dropped connection (ms).
SSE_RETRY_MS = 2000
_IMPORTMAP = re.compile(r'<script type="importmap">(.*?)</script>', re.S)
_NOT_BUILT = (
    "<!doctype html><meta charset=utf-8><title>Parallax</title>"
    "<p>The Parallax web viewer's npm packages (three.js, Spark) are missing. In a checkout, run "
    "<code>npm ci</code> in <code>parallax/web</code> (scripts/setup.sh does this); an installed wheel "
    "carries them.</p>"
)
_NOT_FOUND_PAGE = (
    "<!doctype html><meta charset=utf-8><title>Not found · Parallax</title>"
    "<p>No such capture: the link is wrong, or its owner deleted it. <a href='/'>Upload a stereo photo</a></p>"
)


def page_script_hashes() -> tuple[str, ...]:
    """Base64 SHA-256 of each page's inline import map (the only inline scripts the CSP allows)."""
    hashes = []
    for name in PAGES:
        path = WEB_ROOT / name
        if path.is_file():
            for body in _IMPORTMAP.findall(path.read_text(encoding="utf-8")):
                hashes.append(base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode("ascii"))
    return tuple(dict.fromkeys(hashes))


def anaglyph_matrices() -> dict[str, Any]:
    """The viewer's anaglyph: the Dubois matrices of the downloadable anaglyph (one definition).

    ``left`` and ``right`` are 3x3 row-major (rows: output R, G, B), applied in linear light
    (see :func:`parallax.render.stereo_formats.anaglyph`).
    """
    from parallax.render.stereo_formats import DUBOIS_RED_CYAN_LEFT, DUBOIS_RED_CYAN_RIGHT

    return {
        "method": "dubois-red-cyan",
        "color_space": "linear-srgb",
        "left": DUBOIS_RED_CYAN_LEFT.tolist(),
        "right": DUBOIS_RED_CYAN_RIGHT.tolist(),
    }


def status_for(exc: ParallaxError) -> int:
    """The HTTP status an error of the Parallax family is answered with."""
    order: list[tuple[type, int]] = [
        (CaptureNotFoundError, 404),
        (TooManyRequestsError, 429),
        (StorageFullError, 507),
        (ServerStoppingError, 503),
        (AccessDeniedError, 403),
        (ImageTooLargeError, 413),
        (UnsupportedFormatError, 415),
        (NotStereoError, 422),
        (InputFileError, 422),
        (NotReadyError, 409),
        (contribution.CorpusUnavailableError, 501),
        (MissingDependencyError, 501),
        (ParameterError, 400),
        (OutputError, 500),
    ]
    for cls, status in order:
        if isinstance(exc, cls):
            return status
    return 500


def _last_event_id(request: Request) -> int:
    """The id of the last event a reconnecting ``EventSource`` saw (``Last-Event-ID``); 0 if none or not ours."""
    value = request.headers.get("last-event-id", "").strip()
    return int(value) if value.isdigit() and len(value) < 10 else 0


def _client(request: Request) -> str:
    """The address rate limits count by (behind a reverse proxy: the proxy's)."""
    return request.client.host if request.client else "unknown"


def _token(request: Request, header: str = "x-owner-token") -> str | None:
    value = request.headers.get(header)
    return value.strip() if value else None


def _bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParameterError("the request body must be a JSON object") from exc
    if not isinstance(body, dict):
        raise ParameterError("the request body must be a JSON object")
    return body


def build_app(config: ServerConfig) -> FastAPI:
    """The web application for ``config`` (see :func:`parallax.server.create_app`)."""
    service = ParallaxService(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.loop = asyncio.get_running_loop()
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(title="Parallax", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = service

    @app.exception_handler(ParallaxError)
    async def _parallax_error(request: Request, exc: ParallaxError) -> JSONResponse:
        status = status_for(exc)
        if status >= 500 and status not in (501, 503, 507):
            log.error("%s %s: %s", request.method, request.url.path, exc)
        headers = {}
        if isinstance(exc, TooManyRequestsError):
            headers["retry-after"] = f"{max(1, round(exc.retry_after_s))}"
        return JSONResponse({"detail": " ".join(str(exc).split())}, status_code=status, headers=headers)

    # -- pages -------------------------------------------------------------------------------
    vendor = vendor_root()  # three.js and Spark: node_modules in a checkout, vendor/ in a wheel
    vendored = vendor_files()

    def page(name: str) -> Response:
        if vendor is None:
            return HTMLResponse(_NOT_BUILT, status_code=503)
        return FileResponse(WEB_ROOT / name, media_type="text/html", headers={"cache-control": "no-cache"})

    @app.get("/", include_in_schema=False)
    async def upload_page() -> Response:
        return page("index.html")

    @app.get("/c/{capture_id}", include_in_schema=False)
    async def capture_page(capture_id: str) -> Response:
        try:
            service.store.dir_for(capture_id)
        except CaptureNotFoundError:
            return HTMLResponse(_NOT_FOUND_PAGE, status_code=404)
        return page("capture.html")

    app.mount("/src", StaticFiles(directory=WEB_ROOT / "src"), name="src")

    @app.get("/vendor/{path:path}", include_in_schema=False)
    async def vendor_file(path: str) -> Response:
        # Only the files of vendor.json (what the pages import), never anything else of node_modules.
        if vendor is None or path not in vendored:
            return JSONResponse({"detail": "not found"}, status_code=404)
        return FileResponse(vendor / vendored[path], media_type="text/javascript; charset=utf-8")

    # -- API ---------------------------------------------------------------------------------
    @app.get("/api/config")
    async def api_config() -> dict[str, Any]:
        return {
            "max_upload_bytes": config.max_upload_bytes,
            "max_pixels": config.max_pixels,
            "contribution": config.corpus_dir is not None,
            "licenses": list(contribution.LICENSES),
            "formats": service.formats(),
            "anaglyph": anaglyph_matrices(),
            "max_video_upload_bytes": config.max_video_upload_bytes,
            "video": {"max_s": config.video_max_s, "max_fps": config.video_max_fps, "first_s": config.video_first_s},
            "clip_formats": clip_formats(),
        }

    @app.post("/api/captures", status_code=201)
    async def upload(request: Request) -> JSONResponse:
        service.check_rate(service.upload_limiter, _client(request), "uploads")
        declared = request.headers.get("content-length", "")
        await service.make_room(int(declared) if declared.isdigit() else config.max_upload_bytes)
        async with request.form(max_files=2, max_fields=4) as form:
            file, right = form.get("file"), form.get("right")
            if not isinstance(file, UploadFile):
                raise ParameterError("send the photo as the multipart form field 'file'")
            if right is not None and not isinstance(right, UploadFile):
                raise ParameterError("the optional form field 'right' must be a file (the right view of a pair)")
            done = await service.ingest(
                file.file, file.filename or "upload", right.file if right else None, right.filename if right else None
            )
        return JSONResponse(
            {"id": done.capture_id, "owner_token": done.owner_token, "url": f"/c/{done.capture_id}", "read": done.read},
            status_code=201,
        )

    @app.get("/api/captures/{capture_id}")
    async def capture_info(capture_id: str) -> dict[str, Any]:
        return service.public_meta(capture_id)

    @app.get("/api/captures/{capture_id}/events")
    async def capture_events(capture_id: str, request: Request) -> Response:
        service.store.dir_for(capture_id)
        after_id = _last_event_id(request)
        if after_id and not service.jobs.is_live(capture_id):
            story = service.jobs.history(capture_id)
            if story and story[-1]["id"] <= after_id:
                return Response(status_code=204)  # seen it all: tells EventSource not to reconnect

        async def stream() -> AsyncIterator[bytes]:
            yield f"retry: {SSE_RETRY_MS}\n\n".encode()
            async for event in service.jobs.events(capture_id, after_id):
                if event is None:
                    yield b": keep-alive\n\n"
                else:
                    yield f"id: {event['id']}\nevent: {event['event']}\ndata: {json.dumps(event)}\n\n".encode()

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"cache-control": "no-cache", "x-accel-buffering": "no"}
        )

    @app.get("/api/captures/{capture_id}/files/{stage}/{name}")
    async def capture_file(capture_id: str, stage: str, name: str) -> FileResponse:
        path = service.store.asset_path(capture_id, stage, name)
        headers = {"cache-control": "private, max-age=3600"}
        if stage == CLIP_STAGE and name == "view.json":
            headers["cache-control"] = "no-cache"  # rewritten as segments arrive
        if name.endswith(".depth"):
            headers["content-encoding"] = "gzip"  # stored gzipped: the browser inflates it (clip_worker)
        return FileResponse(path, media_type=media_type(stage, name), headers=headers)

    @app.get("/api/captures/{capture_id}/download/{format_name}")
    async def download(capture_id: str, format_name: str, request: Request, stage: str | None = None) -> FileResponse:
        path, filename = await service.download(capture_id, format_name, stage, client=_client(request))
        media = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        return FileResponse(path, media_type=media, filename=filename)

    @app.delete("/api/captures/{capture_id}", status_code=204)
    async def delete(capture_id: str, request: Request) -> Response:
        service.check_rate(service.action_limiter, _client(request), "changes")
        await service.delete(capture_id, _token(request))
        return Response(status_code=204)

    @app.post("/api/captures/{capture_id}/contribution", status_code=201)
    async def contribute(capture_id: str, request: Request) -> dict[str, Any]:
        service.check_rate(service.action_limiter, _client(request), "changes")
        service.require_owner(capture_id, _token(request))
        body = await _json_body(request)
        return await service.contribute(
            capture_id,
            _token(request),
            license=str(body.get("license", "")),
            contributor=str(body.get("contributor") or ""),
            allow_training=bool(body.get("allow_training", False)),
            consent=body.get("consent") is True,
        )

    @app.delete("/api/captures/{capture_id}/contribution")
    async def withdraw(capture_id: str, request: Request) -> dict[str, Any]:
        service.check_rate(service.action_limiter, _client(request), "changes")
        return await service.withdraw(capture_id, _token(request))

    # -- admin -------------------------------------------------------------------------------
    @app.get("/api/admin/corpus")
    async def admin_corpus(request: Request) -> dict[str, Any]:
        service.check_rate(service.action_limiter, _client(request), "admin requests")
        return await service.corpus_listing(_bearer(request))

    @app.post("/api/admin/corpus/export")
    async def admin_export(request: Request) -> dict[str, Any]:
        service.check_rate(service.action_limiter, _client(request), "admin requests")
        return await service.export_corpus(_bearer(request))

    app.add_middleware(
        BodyLimitMiddleware, max_bytes=config.max_upload_bytes, upload_max_bytes=config.max_video_upload_bytes
    )
    app.add_middleware(
        SecurityHeadersMiddleware, script_hashes=page_script_hashes()
    )  # added last = outermost: every response gets the headers
    return app
