"""What the web app does, apart from HTTP: ingest a file, delete, contribute, withdraw, export.

:class:`ParallaxService` ties the capture store, the worker pools and the
corpus together; :mod:`parallax.server.app` only maps requests onto it.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from parallax.errors import InputFileError, OutputError, ParameterError
from parallax.server import contribution
from parallax.server.config import ServerConfig
from parallax.server.jobs import JobManager
from parallax.server.security import RateLimiter
from parallax.server.store import STAGES, CaptureStore, safe_display_name

__all__ = ["Ingested", "ParallaxService", "AccessDeniedError", "NotReadyError"]

_FORMAT_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,31}")


class AccessDeniedError(ParameterError):
    """The request lacks the owner or admin token it needs."""


class NotReadyError(OutputError):
    """What was asked for does not exist yet (the depth is still being computed)."""


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
        self.jobs = JobManager(config, self.store)
        self.upload_limiter = RateLimiter(config.uploads_per_minute, 60.0)
        self._locks: dict[str, asyncio.Lock] = {}
        if config.corpus_dir is not None:
            config.corpus_dir.mkdir(parents=True, exist_ok=True)

    async def start(self) -> None:
        """Start the worker pools (returns when they are warm)."""
        await self.jobs.start()

    async def stop(self) -> None:
        """Stop the worker pools."""
        await self.jobs.stop()

    # -- captures ----------------------------------------------------------------------------
    async def ingest(
        self,
        file: IO[bytes],
        original_name: str,
        right: IO[bytes] | None = None,
        right_name: str | None = None,
    ) -> Ingested:
        """Store an uploaded file (and an optional separate right view) and start processing it.

        Returns once the file has been read; the depth follows in the background.

        Raises
        ------
        InputFileError
            (or a subclass) with the reader's message when the file is not a
            readable stereo capture; nothing of it stays on the server.
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
            if source.stat().st_size == 0:
                raise InputFileError(
                    f"{name}: the file is empty; choose a stereo photo (MPO, HEIC spatial photo, LIF, side-by-side)"
                )
            read = await self.jobs.submit(capture_id, folder, source, right_source, name)
            uploads = [source.name] + ([right_source.name] if right_source is not None else [])
            self.store.update_meta(capture_id, upload_files=uploads)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return Ingested(capture_id=capture_id, owner_token=owner_token, read=read)

    async def ingest_path(self, path: Path) -> Ingested:
        """Ingest a local file (``parallax view``): same as an upload, copied into the data folder."""
        path = Path(path)
        if not path.is_file():
            raise InputFileError(f"{path}: no such file; give the path of a stereo photo")
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

    async def download(self, capture_id: str, format_name: str, stage: str | None = None) -> tuple[Path, str]:
        """Write (or reuse) the capture's result in a registry format; return ``(path, download name)``."""
        folder = self.store.dir_for(capture_id)
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
        path = await self.jobs.export(capture_id, stage, format_name, path)
        stem = Path(self.store.meta(capture_id).get("original_name", "capture")).stem or "capture"
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem)[:60]
        return path, f"{stem}-{stage}-{format_name}{ext}"

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
            if self._contributed(meta) and isinstance(contrib, dict):  # (_contributed checks that it is a dict)
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
            await self.jobs.call("export", contribution.withdraw_from_corpus, self._corpus(), record["sample_id"])
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


def _copy(src: IO[bytes], dst: Path) -> None:
    src.seek(0)
    with open(dst, "xb") as out:
        shutil.copyfileobj(src, out, 1024 * 1024)
