"""CLI commands ``parallax serve`` (the web app) and ``parallax view FILE`` (one file in the viewer).

Both need the ``web`` extra (FastAPI, uvicorn, python-multipart), imported only
when the command runs; without it they print which extra to install.
"""

from __future__ import annotations

import secrets
import tempfile
import threading
import time
import webbrowser
from pathlib import Path
from typing import Any

import typer

from parallax.errors import InputFileError, ParameterError, require
from parallax.server.config import MB, ServerConfig  # light: dataclasses only (the web stack loads lazily)

_DEFAULT_UPLOAD_MB = ServerConfig.max_upload_bytes / MB

__all__ = ["register", "default_data_dir"]


def default_data_dir() -> Path:
    """Where ``parallax serve`` keeps uploads unless ``--data-dir`` says otherwise."""
    return Path.home() / ".local" / "share" / "parallax" / "server"


def _config(
    data_dir: Path, corpus: Path | None, max_upload_mb: float, admin_token_file: Path | None, refine: bool
) -> ServerConfig:
    if not (max_upload_mb > 0):
        raise ParameterError(f"--max-upload-mb must be positive, got {max_upload_mb}")
    token = None
    if admin_token_file is not None:
        try:
            token = admin_token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ParameterError(
                f"--admin-token-file {admin_token_file}: {exc.strerror}; give a readable file"
            ) from exc
    return ServerConfig(
        data_dir=data_dir,
        corpus_dir=corpus,
        max_upload_bytes=int(max_upload_mb * MB),
        admin_token=token,
        refine=refine,
    )


def _uvicorn_server(app: Any, host: str, port: int) -> Any:  # a uvicorn.Server (uvicorn is imported lazily)
    uvicorn = require("uvicorn", "web", "the web server")
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on", proxy_headers=False)
    return uvicorn.Server(config)


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``view`` to ``app``."""

    @app.command("serve")
    def serve(
        corpus: Path = typer.Option(
            None,
            "--corpus",
            help="Corpus folder that opted-in captures are contributed to (default: contribution off).",
        ),
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 for every interface)."),
        port: int = typer.Option(8000, "--port", help="TCP port."),
        data_dir: Path = typer.Option(
            None, "--data-dir", help="Folder for uploads (default ~/.local/share/parallax/server)."
        ),
        max_upload_mb: float = typer.Option(
            _DEFAULT_UPLOAD_MB, "--max-upload-mb", help="Largest upload in MB (answered 413 above)."
        ),
        admin_token_file: Path = typer.Option(
            None,
            "--admin-token-file",
            help="File holding the admin token for the corpus endpoints (default: a fresh token, printed).",
        ),
        refine: bool = typer.Option(
            True, "--refine/--no-refine", help="Refine the depth in the background after the first look."
        ),
    ) -> None:
        """Run the web app: drop a stereo photo, see it in 3D, download, share, contribute."""
        from parallax.server import create_app

        if not (0 < port < 65536):
            raise ParameterError(f"--port must be 1-65535, got {port}")
        fresh_token = None
        if admin_token_file is None and corpus is not None:
            fresh_token = secrets.token_urlsafe(32)
        config = _config(data_dir or default_data_dir(), corpus, max_upload_mb, admin_token_file, refine)
        if fresh_token is not None:
            import dataclasses

            config = dataclasses.replace(config, admin_token=fresh_token)
            typer.echo(f"admin token (corpus endpoints): {fresh_token}", err=True)
        server = _uvicorn_server(create_app(config), host, port)
        typer.echo(f"Parallax is running at http://{host}:{port}/  (Ctrl+C to stop)")
        server.run()

    @app.command("view")
    def view(
        file: Path = typer.Argument(..., help="A stereo capture: HEIC spatial photo, MPO, LIF, side-by-side JPG/JPS."),
        right: Path = typer.Option(None, "--right", help="The right view, when FILE is only the left one."),
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
        port: int = typer.Option(0, "--port", help="TCP port (0 = any free port)."),
        no_browser: bool = typer.Option(False, "--no-browser", help="Only print the URL; do not open a browser."),
        refine: bool = typer.Option(True, "--refine/--no-refine", help="Refine the depth in the background."),
    ) -> None:
        """Open one local file in the 3D viewer (serves until Ctrl+C)."""
        from parallax.server import create_app
        from parallax.server.service import ParallaxService

        if not file.is_file():
            raise InputFileError(f"{file}: no such file; give the path of a stereo photo")
        with tempfile.TemporaryDirectory(prefix="parallax-view-") as tmp:
            size_mb = max(_DEFAULT_UPLOAD_MB, (file.stat().st_size + (right.stat().st_size if right else 0)) / MB + 1)
            config = _config(Path(tmp), None, size_mb, None, refine)
            web = create_app(config)
            server = _uvicorn_server(web, host, port)
            thread = threading.Thread(target=server.run, name="parallax-view", daemon=True)
            thread.start()
            while not server.started:
                if not thread.is_alive():
                    raise ParameterError(f"could not start the viewer on {host}:{port}; choose another --port")
                time.sleep(0.05)
            bound = server.servers[0].sockets[0].getsockname()[1]
            service: ParallaxService = web.state.service
            try:
                ingested = _ingest_in_loop(web, service, file, right)
            except BaseException:
                server.should_exit = True
                thread.join(10)
                raise
            url = f"http://{host}:{bound}/c/{ingested.capture_id}#owner={ingested.owner_token}"
            typer.echo(url)
            if not no_browser:
                webbrowser.open(url)
            try:
                while thread.is_alive():
                    thread.join(0.5)
            except KeyboardInterrupt:
                pass
            finally:
                server.should_exit = True
                thread.join(10)


def _ingest_in_loop(web: Any, service: Any, file: Path, right: Path | None) -> Any:
    """Run the service's ingest on the server's event loop (from this thread) and wait for it."""
    import asyncio

    async def go():
        if right is None:
            return await service.ingest_path(file)
        with open(file, "rb") as left_fh, open(right, "rb") as right_fh:
            return await service.ingest(left_fh, file.name, right_fh, right.name)

    return asyncio.run_coroutine_threadsafe(go(), web.state.loop).result()
