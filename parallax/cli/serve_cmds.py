"""CLI commands ``parallax serve`` (the web app) and ``parallax view FILE`` (one file in the viewer).

Both need the ``web`` extra (FastAPI, uvicorn, python-multipart), imported only
when the command runs; without it they print which extra to install. Both stop
cleanly on Ctrl+C (SIGINT) or ``kill`` (SIGTERM): no worker process is left and no
traceback printed (:mod:`parallax.server.runner`).

What they print: the URL on stdout (``view``: the capture's URL, the first line);
what the server does (start-up, each capture's progress, expiry sweeps, stop) on
stderr, one line each. ``serve`` logs unless ``--quiet``; ``view`` only when stderr
is a terminal. Errors always, as one line.
"""

from __future__ import annotations

import logging
import re
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any

import typer

from parallax.errors import InputFileError, ParameterError
from parallax.server.config import MB, ServerConfig  # light: dataclasses only (the web stack loads lazily)

__all__ = ["register", "default_data_dir", "parse_duration_s"]

_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*", re.I)
_DEFAULT_UPLOAD_MB = ServerConfig.max_upload_bytes / MB
_DEFAULT_VIDEO_UPLOAD_MB = ServerConfig.max_video_upload_bytes / MB
_DEFAULT_VIDEO_S = ServerConfig.video_max_s
_UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def default_data_dir() -> Path:
    """Where ``parallax serve`` keeps uploads unless ``--data-dir`` says otherwise."""
    return Path.home() / ".local" / "share" / "parallax" / "server"


def parse_duration_s(text: str, option: str = "--expire-after") -> float | None:
    """``"90s"``, ``"30m"``, ``"24h"``, ``"7d"``, ``"2w"`` in seconds; ``"never"`` is ``None``.

    Raises
    ------
    ParameterError
        For anything else, naming the option and the forms it takes.
    """
    if text.strip().lower() == "never":
        return None
    match = _DURATION.fullmatch(text)
    if match is None or float(match.group(1)) <= 0:
        raise ParameterError(
            f"{option} {text!r}: give a positive number with a unit, e.g. 90s, 30m, 24h, 7d, 2w, or 'never'"
        )
    return float(match.group(1)) * _UNIT_S[match.group(2).lower()]


def _describe_duration(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    for unit, size in (("day", 86400.0), ("hour", 3600.0), ("minute", 60.0), ("second", 1.0)):
        if seconds >= size and (seconds / size).is_integer():
            count = seconds / size
            return f"{count:g} {unit}{'' if count == 1 else 's'}"
    return f"{seconds:g} seconds"


def _log_to_stderr(level: int, with_time: bool) -> None:
    """Send the server's log lines (``parallax.server``) to stderr at ``level``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s" if with_time else "%(message)s", "%H:%M:%S"))
    log = logging.getLogger("parallax.server")
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


def _config(
    data_dir: Path,
    corpus: Path | None,
    max_upload_mb: float,
    admin_token_file: Path | None,
    refine: bool,
    max_video_upload_mb: float = _DEFAULT_VIDEO_UPLOAD_MB,
    **limits: Any,
) -> ServerConfig:
    if not (max_upload_mb > 0):
        raise ParameterError(f"--max-upload-mb must be positive, got {max_upload_mb}")
    if not (max_video_upload_mb > 0):
        raise ParameterError(f"--max-video-upload-mb must be positive, got {max_video_upload_mb}")
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
        max_video_upload_bytes=int(max_video_upload_mb * MB),
        admin_token=token,
        refine=refine,
        **limits,
    )


def _check_port(port: int) -> None:
    if not (0 <= port < 65536):
        raise ParameterError(f"--port must be 0-65535 (0 = any free port), got {port}")


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
        port: int = typer.Option(8000, "--port", help="TCP port (0 = any free port)."),
        data_dir: Path = typer.Option(
            None, "--data-dir", help="Folder for uploads (default ~/.local/share/parallax/server)."
        ),
        max_upload_mb: float = typer.Option(
            _DEFAULT_UPLOAD_MB, "--max-upload-mb", help="Largest photo upload in MB (answered 413 above)."
        ),
        max_video_upload_mb: float = typer.Option(
            _DEFAULT_VIDEO_UPLOAD_MB, "--max-video-upload-mb", help="Largest stereo video upload in MB (413 above)."
        ),
        max_video_seconds: float = typer.Option(
            _DEFAULT_VIDEO_S,
            "--max-video-seconds",
            help="Seconds of a stereo video that are processed (its start; the page says when a video was cut).",
        ),
        expire_after: str = typer.Option(
            "7d",
            "--expire-after",
            help="Delete uploads this long after they arrive: 90s, 30m, 24h, 7d, 2w, or 'never'. "
            "Captures contributed to the corpus are kept.",
        ),
        max_store_gb: float = typer.Option(
            20.0,
            "--max-store-gb",
            help="Size quota of the upload folder in GB (0 = none); when full, expired uploads go first, "
            "then new ones are answered 507.",
        ),
        uploads_per_minute: int = typer.Option(20, "--uploads-per-minute", help="Uploads per client per minute."),
        actions_per_minute: int = typer.Option(
            60, "--actions-per-minute", help="Other changes (delete, contribute, new downloads) per client per minute."
        ),
        admin_token_file: Path = typer.Option(
            None,
            "--admin-token-file",
            help="File holding the admin token for the corpus endpoints (default: a fresh token, printed).",
        ),
        refine: bool = typer.Option(
            True, "--refine/--no-refine", help="Refine the depth in the background after the first look."
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the URL and errors."),
    ) -> None:
        """Run the web app: drop a stereo photo or video, see it in 3D, download, share, contribute."""
        from parallax.server import create_app
        from parallax.server.runner import ServerRunner, bind_socket, stop_signals

        _check_port(port)
        if not max_video_seconds > 0:
            raise ParameterError(f"--max-video-seconds must be positive, got {max_video_seconds}")
        if not max_store_gb >= 0:
            raise ParameterError(f"--max-store-gb must be 0 (no quota) or positive, got {max_store_gb}")
        expire_after_s = parse_duration_s(expire_after)
        fresh_token = None
        if admin_token_file is None and corpus is not None:
            fresh_token = secrets.token_urlsafe(32)
        config = _config(
            data_dir or default_data_dir(),
            corpus,
            max_upload_mb,
            admin_token_file,
            refine,
            max_video_upload_mb,
            video_max_s=max_video_seconds,
            expire_after_s=expire_after_s,
            max_store_bytes=int(max_store_gb * 1e9) or None,
            uploads_per_minute=uploads_per_minute,
            actions_per_minute=actions_per_minute,
        )
        if fresh_token is not None:
            import dataclasses

            config = dataclasses.replace(config, admin_token=fresh_token)
            typer.echo(f"admin token (corpus endpoints): {fresh_token}", err=True)
        _log_to_stderr(logging.WARNING if quiet else logging.INFO, with_time=True)
        log = logging.getLogger("parallax.server")
        with stop_signals() as stop:
            sock = bind_socket(host, port)
            runner = ServerRunner(create_app(config), sock, stop)
            quota = "no quota" if config.max_store_bytes is None else f"quota {config.max_store_bytes / 1e9:g} GB"
            log.info(
                "starting: uploads in %s (expire after %s, %s); warming up the workers…",
                config.data_dir,
                _describe_duration(expire_after_s),
                quota,
            )
            try:
                if runner.start():
                    typer.echo(f"Parallax is running at http://{host}:{runner.port}/  (Ctrl+C to stop)")
                    runner.serve()
                log.info("stopping…")
            finally:
                runner.shutdown()
            log.info("stopped")

    @app.command("view")
    def view(
        file: Path = typer.Argument(
            ..., help="A stereo capture: HEIC spatial photo, MPO, LIF, side-by-side JPG/JPS, or a stereo video."
        ),
        right: Path = typer.Option(None, "--right", help="The right view, when FILE is only the left one."),
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
        port: int = typer.Option(0, "--port", help="TCP port (0 = any free port)."),
        no_browser: bool = typer.Option(False, "--no-browser", help="Only print the URL; do not open a browser."),
        refine: bool = typer.Option(True, "--refine/--no-refine", help="Refine the depth in the background."),
    ) -> None:
        """Open one local file in the 3D viewer (serves until Ctrl+C)."""
        from parallax.server import create_app
        from parallax.server.runner import ServerRunner, StopRequested, bind_socket, stop_signals

        if not file.is_file():
            raise InputFileError(f"{file}: no such file; give the path of a stereo photo or video")
        if right is not None and not right.is_file():
            raise InputFileError(f"--right {right}: no such file; give the path of the right view")
        _check_port(port)
        _log_to_stderr(logging.INFO if sys.stderr.isatty() else logging.WARNING, with_time=False)
        log = logging.getLogger("parallax.server")
        with stop_signals() as stop, tempfile.TemporaryDirectory(prefix="parallax-view-") as tmp:
            size_mb = max(_DEFAULT_UPLOAD_MB, (file.stat().st_size + (right.stat().st_size if right else 0)) / MB + 1)
            web = create_app(_config(Path(tmp), None, size_mb, None, refine, max(_DEFAULT_VIDEO_UPLOAD_MB, size_mb)))
            runner = ServerRunner(web, bind_socket(host, port), stop)
            try:
                log.info("starting the viewer…")
                if runner.start():
                    log.info("reading %s…", file.name)
                    ingested = runner.call(_ingest(web.state.service, file, right))
                    url = f"http://{host}:{runner.port}/c/{ingested.capture_id}#owner={ingested.owner_token}"
                    typer.echo(url)
                    if not no_browser:
                        import webbrowser

                        webbrowser.open(url)
                    log.info("serving until Ctrl+C")
                    runner.serve()
                log.info("stopping…")
            except StopRequested:
                log.info("stopping…")
            finally:
                runner.shutdown()
            log.info("stopped")


async def _ingest(service: Any, file: Path, right: Path | None) -> Any:
    """The service's ingest of a local file (or pair), run on the server's event loop."""
    if right is None:
        return await service.ingest_path(file)
    with open(file, "rb") as left_fh, open(right, "rb") as right_fh:
        return await service.ingest(left_fh, file.name, right_fh, right.name)
