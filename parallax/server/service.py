"""What the web app does, apart from HTTP: ingest a file, delete, contribute, withdraw, export.

:class:`ParallaxService` ties the capture store, the worker pools and the
corpus together; :mod:`parallax.server.app` only maps requests onto it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import errno
import logging
import re
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from parallax.errors import InputFileError, OutputError, ParameterError
from parallax.server import contribution
from parallax.server.clip_export import clip_formats
from parallax.server.clip_worker import upload_kind
from parallax.server.config import MB, ServerConfig
from parallax.server.jobs import JobManager
from parallax.server.retention import Retention, StorageFullError
from parallax.server.security import RateLimiter
from parallax.server.store import CLIP_STAGE, STAGES, CaptureStore, safe_display_name
from parallax.server.worker import ImageTooLargeError

__all__ = [
    "Ingested",
    "ParallaxService",
    "AccessDeniedError",
    "NotReadyError",
    "TooManyRequestsError",
    "StorageFullError",
]

log = logging.getLogger("parallax.server")

_FORMAT_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,31}")


class AccessDeniedError(ParameterError):
    """The request lacks the owner or admin token it needs."""


class NotReadyError(OutputError):
    """What was asked for does not exist yet (the depth is still being computed)."""


class TooManyRequestsError(ParameterError):
    """A client sent more requests of one kind than the server allows per minute (HTTP 429).

    ``retry_after_s`` is how long it should wait (the ``Retry-After`` header).
    """

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = float(retry_after_s)


@dataclass(frozen=True, kw_only=True)
class Ingested:
    """A capture the server accepted.

    Parameters
    ----------
    capture_id : str
        Its id (192 random bits); the page is ``/c/<capture_id>``.
    owner_token : str
        Secret that allows deleting, contributing and withdrawing; shown once.
    read : dict
        What the reader found (format, size, seconds).
    """

    capture_id: str
    owner_token: str
    read: dict[str, Any]


class ParallaxService:
    """The web app's state and operations.

    Parameters
    ----------
    config : ServerConfig
        Settings.
    """

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.store = CaptureStore(config.captures_dir)
        self.retention = Retention(self.store, expire_after_s=config.expire_after_s, max_bytes=config.max_store_bytes)
        self.jobs = JobManager(config, self.store, on_change=self.retention.refresh)
        self.upload_limiter = RateLimiter(config.uploads_per_minute, 60.0)
        self.action_limiter = RateLimiter(config.actions_per_minute, 60.0)
        self._locks: dict[str, asyncio.Lock] = {}
        self._in_use: dict[str, int] = {}
        self._sweeper: asyncio.Task | None = None
        if config.corpus_dir is not None:
            config.corpus_dir.mkdir(parents=True, exist_ok=True)

    async def start(self) -> None:
        """Measure the store, start the worker pools (returns when they are warm) and the expiry sweeps."""
        await asyncio.to_thread(self.retention.scan)
        await self.jobs.start()
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever(), name="parallax-expiry")

    async def stop(self) -> None:
        """Stop the expiry sweeps and the worker pools."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        await self.jobs.stop()

    # -- limits ------------------------------------------------------------------------------
    def check_rate(self, limiter: RateLimiter, client: str, what: str) -> None:
        """Count one request of ``client``; raise :class:`TooManyRequestsError` when over ``limiter``'s limit."""
        wait_s = limiter.check(client)
        if wait_s:
            raise TooManyRequestsError(f"too many {what} from your address; try again in {wait_s:.0f} s", wait_s)

    def busy(self) -> set[str]:
        """Captures that must not be removed now: being processed, downloaded or contributed."""
        return self.jobs.live() | set(self._in_use)

    @contextlib.contextmanager
    def _using(self, capture_id: str) -> Iterator[None]:
        self._in_use[capture_id] = self._in_use.get(capture_id, 0) + 1
        try:
            yield
        finally:
            self._in_use[capture_id] -= 1
            if not self._in_use[capture_id]:
                del self._in_use[capture_id]

    async def make_room(self, incoming_bytes: int) -> None:
        """Make room for an upload of ``incoming_bytes`` within the store's quota.

        Raises
        ------
        StorageFullError
            When the store is full even without its expired and abandoned captures.
        """
        removed = await asyncio.to_thread(self.retention.make_room, incoming_bytes, self.busy())
        for cid in removed:
            self.jobs.forget(cid)

    async def sweep(self) -> list[str]:
        """Remove expired and abandoned captures now; return their ids."""
        removed = await asyncio.to_thread(self.retention.sweep, self.busy())
        for cid in removed:
            self.jobs.forget(cid)
        if removed:
            log.info("removed %d expired or abandoned capture(s)", len(removed))
        return removed

    async def _sweep_forever(self) -> None:
        expire = self.config.expire_after_s
        interval = 600.0 if expire is None else min(max(expire / 20.0, 1.0), 600.0)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep()
            except OSError as exc:  # a full or failing disk must not stop the sweeps
                log.warning("expiry sweep failed: %s", exc)

    def public_meta(self, capture_id: str) -> dict[str, Any]:
        """The capture's record for the page, with ``expires`` (ISO 8601 UTC, or ``None``) and its events."""
        meta = self.store.public_meta(capture_id)
        expires = self.retention.expires_at(self.store.meta(capture_id))
        meta["expires"] = (
            None
            if expires is None
            else _dt.datetime.fromtimestamp(expires, _dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        )
        meta["events"] = self.jobs.history(capture_id)
        return meta

    # -- captures ----------------------------------------------------------------------------
    async def ingest(
        self,
        file: IO[bytes],
        original_name: str,
        right: IO[bytes] | None = None,
        right_name: str | None = None,
    ) -> Ingested:
        """Store an uploaded file (and an optional separate right view) and start processing it.

        A stereo video is told from a photo by its content (:func:`~parallax.server.clip_worker.upload_kind`).
        Returns once the file has been read; the depth follows in the background.

        Raises
        ------
        InputFileError
            (or a subclass) with the reader's message when the file is not a
            readable stereo capture; nothing of it stays on the server.
        ImageTooLargeError
            A photo (by its content) larger than ``max_upload_bytes`` (videos may be up to
            ``max_video_upload_bytes``).
        """
        owner_token = secrets.token_urlsafe(32)
        name = safe_display_name(original_name)
        if right is not None:
            name = f"{name} + {safe_display_name(right_name, 'right')}"
        capture_id, folder = self.store.create(name, owner_token)
        try:
            right_source = None
            if right is None:
                source = self.store.upload_path(folder, name)
            else:
                source = self.store.upload_path(folder, name, "left")
                right_source = self.store.upload_path(folder, right_name or "right", "right")
                await asyncio.to_thread(_copy, right, right_source)
            await asyncio.to_thread(_copy, file, source)
            self.retention.refresh(capture_id)
            size = source.stat().st_size
            if size == 0:
                raise InputFileError(
                    f"{name}: the file is empty; choose a stereo photo (MPO, HEIC spatial photo, LIF, side-by-side) "
                    "or a stereo video"
                )
            kind = await asyncio.to_thread(upload_kind, source)
            if right_source is not None and (
                kind == "clip" or await asyncio.to_thread(upload_kind, right_source) == "clip"
            ):
                raise ParameterError("a stereo video is one file (both views in it); upload it on its own")
            if kind == "clip":
                self.store.update_meta(capture_id, kind="clip")
                read = await self.jobs.submit_clip(capture_id, folder, source, name)
            else:
                size += right_source.stat().st_size if right_source is not None else 0
                self._check_photo_size(name, size)
                read = await self.jobs.submit(capture_id, folder, source, right_source, name)
            uploads = [source.name] + ([right_source.name] if right_source is not None else [])
            self.store.update_meta(capture_id, upload_files=uploads)
        except OSError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            self.retention.forget(capture_id)
            if exc.errno == errno.ENOSPC:
                raise StorageFullError("this server's disk is full; try again later") from exc
            raise
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            self.retention.forget(capture_id)
            raise
        return Ingested(capture_id=capture_id, owner_token=owner_token, read=read)

    def _check_photo_size(self, name: str, size: int) -> None:
        limit = self.config.max_upload_bytes
        if size > limit:
            raise ImageTooLargeError(
                f"{name}: the photo is {size / MB:.1f} MB, more than this server's limit of {limit / MB:.0f} MB "
                f"for photos (videos may be up to {self.config.max_video_upload_bytes / MB:.0f} MB); "
                "send a smaller file"
            )

    async def ingest_path(self, path: Path) -> Ingested:
        """Ingest a local file (``parallax view``): same as an upload, copied into the data folder."""
        path = Path(path)
        if not path.is_file():
            raise InputFileError(f"{path}: no such file; give the path of a stereo photo or video")
        with open(path, "rb") as fh:
            return await self.ingest(fh, path.name)

    def require_owner(self, capture_id: str, token: str | None) -> None:
        """Raise :class:`AccessDeniedError` unless ``token`` is the capture's owner token."""
        if not self.store.is_owner(capture_id, token):
            raise AccessDeniedError(
                "only the owner of this capture can do that (the owner token from the upload is missing or wrong)"
            )

    async def delete(self, capture_id: str, token: str | None) -> None:
        """Delete a capture (owner only); also withdraws it from the corpus if it was contributed."""
        self.require_owner(capture_id, token)
        meta = self.store.meta(capture_id)
        if self._contributed(meta):
            await self.withdraw(capture_id, token)
        await asyncio.to_thread(self.store.delete, capture_id)
        self.retention.forget(capture_id)
        self.jobs.forget(capture_id)

    def best_stage(self, capture_id: str) -> str:
        """``"full"`` when the refined depth exists, else ``"preview"``; :class:`NotReadyError` when neither."""
        folder = self.store.dir_for(capture_id)
        for stage in reversed(STAGES):
            if (folder / stage / "result.npz").is_file():
                return stage
        raise NotReadyError("the depth of this capture is not ready yet; wait for the first 3D view and try again")

    def formats(self) -> list[dict[str, Any]]:
        """Output formats the registry offers, for the page's download list."""
        from parallax.outputs.registry import list_formats

        return [
            {"name": f.name, "extension": f.extensions[0], "description": f.description}
            for f in list_formats()
            if _FORMAT_NAME.fullmatch(f.name)
        ]

    async def download(
        self, capture_id: str, format_name: str, stage: str | None = None, client: str | None = None
    ) -> tuple[Path, str]:
        """Write (or reuse) the capture's result in a registry format; return ``(path, download name)``.

        A download that has to be written first counts against ``client``'s action limit
        (:class:`TooManyRequestsError` when over it); a cached one does not.
        """
        folder = self.store.dir_for(capture_id)
        meta = self.store.meta(capture_id)
        if meta.get("kind") == "clip":
            return await self._download_clip(capture_id, meta, format_name, client)
        known = {f["name"]: f for f in self.formats()}
        if format_name not in known:
            raise ParameterError(f"unknown download format {format_name!r}; choose one of: {', '.join(known)}")
        if stage is None:
            stage = self.best_stage(capture_id)
        elif stage not in STAGES:
            raise ParameterError(f"unknown stage {stage!r}; choose one of: {', '.join(STAGES)}")
        elif not (folder / stage / "result.npz").is_file():
            raise NotReadyError(f"the {stage} depth of this capture is not ready yet; try again later")
        ext = known[format_name]["extension"]
        path = folder / "exports" / f"{stage}-{format_name}{ext}"
        if client is not None and not path.is_file():
            self.check_rate(self.action_limiter, client, "new downloads")
        with self._using(capture_id):
            path = await self.jobs.export(capture_id, stage, format_name, path)
        self.retention.refresh(capture_id)
        return path, f"{_download_stem(meta)}-{stage}-{format_name}{ext}"

    async def _download_clip(
        self, capture_id: str, meta: dict[str, Any], format_name: str, client: str | None
    ) -> tuple[Path, str]:
        """A stereo video's download (a clip output, the frames folder zipped), written on first request."""
        known = {f["name"]: f for f in clip_formats()}
        if format_name not in known:
            raise ParameterError(
                f"unknown download format {format_name!r} for a video; choose one of: {', '.join(known)}"
            )
        if meta.get("state") == "failed":
            raise NotReadyError(f"this video could not be processed, so it has no downloads: {meta.get('error', '')}")
        if meta.get("state") != "done":
            raise NotReadyError("the video is still being processed; its downloads are ready when it is done")
        folder = self.store.dir_for(capture_id)
        ext = known[format_name]["extension"]
        path = folder / "exports" / f"{CLIP_STAGE}-{format_name}{ext}"
        if client is not None and not path.is_file():
            self.check_rate(self.action_limiter, client, "new downloads")
        source = folder / "upload" / Path(meta.get("upload_files", ["-"])[0]).name
        if not source.is_file():
            raise NotReadyError("the uploaded video of this capture is missing; upload it again")
        with self._using(capture_id):
            path = await self.jobs.export(
                capture_id, CLIP_STAGE, format_name, path, clip=(source, meta.get("original_name", "video"))
            )
        self.retention.refresh(capture_id)
        return path, f"{_download_stem(meta)}{ext}"

    # -- corpus ------------------------------------------------------------------------------
    @staticmethod
    def _contributed(meta: dict[str, Any]) -> bool:
        contrib = meta.get("contribution")
        return isinstance(contrib, dict) and contrib.get("status") == "contributed"

    def _corpus(self) -> Path:
        if self.config.corpus_dir is None:
            raise contribution.CorpusUnavailableError(
                "this server has no corpus (start it with --corpus DIR to accept contributions)"
            )
        return self.config.corpus_dir

    async def contribute(
        self, capture_id: str, token: str | None, *, license: str, contributor: str, allow_training: bool, consent: bool
    ) -> dict[str, Any]:
        """Contribute a capture to the corpus with the owner's explicit consent (owner only).

        The uploaded file goes through the corpus's own ingest (faces blurred, location
        dropped, quality checked, deduplicated) in a worker process.

        Raises
        ------
        ParameterError
            Without ``consent=True``, without permission to train (the corpus takes
            only such captures), or with a licence not offered.
        NotAcceptedError
            When the corpus rejects the capture (the message says why).
        """
        self.require_owner(capture_id, token)
        corpus = self._corpus()
        if consent is not True:
            raise ParameterError("contribution needs explicit consent: tick the consent box (consent=true)")
        if license not in contribution.LICENSES:
            raise ParameterError(f"unknown licence {license!r}; choose one of: {', '.join(contribution.LICENSES)}")
        if allow_training is not True:
            raise ParameterError(
                "the corpus takes only captures that may be used to train models; "
                "allow training (allow_training=true) or keep the capture private"
            )
        lock = self._locks.setdefault(capture_id, asyncio.Lock())
        async with lock:
            meta = self.store.meta(capture_id)
            contrib = meta.get("contribution")
            if isinstance(contrib, dict) and self._contributed(meta):
                return contrib
            if isinstance(contrib, dict) and contrib.get("status") == "withdrawn":
                raise ParameterError(
                    "this capture was withdrawn from the corpus; a withdrawn capture is not taken again"
                )
            folder = self.store.dir_for(capture_id)
            sources = tuple(folder / "upload" / Path(name).name for name in meta.get("upload_files", []))
            if not sources or not all(p.is_file() for p in sources):
                raise NotReadyError("the uploaded file of this capture is missing; upload it again")
            record: dict[str, Any] = {
                "contributor": contribution.contributor_id(contributor, token or ""),
                "license": license,
                "allow_training": True,
                "date": _dt.date.today().isoformat(),
            }
            with self._using(capture_id):
                added = await self.jobs.call(
                    "export", contribution.add_to_corpus, corpus, sources, meta.get("original_name", "upload"), record
                )
            record.update(added, status="contributed")
            self.store.update_meta(capture_id, contribution=record)
            return record

    async def withdraw(self, capture_id: str, token: str | None) -> dict[str, Any]:
        """Withdraw a contributed capture from the corpus (owner only); it leaves later exports too."""
        self.require_owner(capture_id, token)
        lock = self._locks.setdefault(capture_id, asyncio.Lock())
        async with lock:
            meta = self.store.meta(capture_id)
            if not self._contributed(meta):
                raise ParameterError("this capture is not in the corpus; nothing to withdraw")
            record = dict(meta["contribution"])
            ids = record.get("sample_ids") or [record["sample_id"]]  # a video's clips, or one still
            await self.jobs.call("export", contribution.withdraw_from_corpus, self._corpus(), ids)
            record.update(status="withdrawn", withdrawn=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"))
            self.store.update_meta(capture_id, contribution=record)
            return record

    async def corpus_listing(self, token: str | None) -> dict[str, Any]:
        """Active corpus samples with their consent (admin only)."""
        self.check_admin(token)
        return await asyncio.to_thread(contribution.corpus_listing, self._corpus())

    async def export_corpus(self, token: str | None) -> dict[str, Any]:
        """Export the corpus as WebDataset shards under ``<data_dir>/exports`` (admin only)."""
        self.check_admin(token)
        return await self.jobs.call(
            "export", contribution.export_corpus, self._corpus(), self.config.data_dir / "exports"
        )

    def check_admin(self, token: str | None) -> None:
        """Raise :class:`AccessDeniedError` unless ``token`` is the admin token (constant time)."""
        expected = self.config.admin_token
        if not expected or not token or not secrets.compare_digest(token.encode(), expected.encode()):
            raise AccessDeniedError("this endpoint needs the server's admin token (Authorization: Bearer <token>)")


def _download_stem(meta: dict[str, Any]) -> str:
    """The base of a download's file name: the upload's name without extension, safe characters only."""
    stem = Path(meta.get("original_name", "capture")).stem or "capture"
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", stem)[:60]


def _copy(src: IO[bytes], dst: Path) -> None:
    src.seek(0)
    with open(dst, "xb") as out:
        shutil.copyfileobj(src, out, 1024 * 1024)
