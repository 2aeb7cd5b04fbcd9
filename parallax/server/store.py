"""Where the server keeps captures: one folder per unguessable id, under one root.

Rules (each has a test in ``tests/web/test_web_security.py``):

* Capture ids are ``secrets.token_urlsafe(24)``: 192 random bits, 32 characters
  of ``[A-Za-z0-9_-]``. Anything else is refused before it touches the file system.
* Every path is built from a checked id and a fixed file name (or, for a video's
  segments, a name of the fixed form ``seg-NNN.mp4`` / ``seg-NNN.depth``), then
  resolved and checked to lie under the root (a symbolic link pointing out is refused).
* The owner token is returned once at upload; only its SHA-256 is stored, and
  it is compared in constant time.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import json
import re
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

from parallax.errors import ParameterError
from parallax.io.atomic import atomic_output

__all__ = [
    "ID_BYTES",
    "ID_PATTERN",
    "ASSET_NAMES",
    "STAGES",
    "CLIP_STAGE",
    "CLIP_ASSETS",
    "CaptureNotFoundError",
    "CaptureStore",
    "new_capture_id",
    "check_capture_id",
    "media_type",
    "safe_display_name",
]

ID_BYTES = 24  # 192 bits of randomness; >= 128 bits required
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{32}")
STAGES = ("preview", "full")
#: The stage folder of a stereo video's viewer files (see :mod:`parallax.server.clip_worker`).
CLIP_STAGE = "clip"
# The only files of a stage the web app serves, and their media types.
ASSET_NAMES = {
    "left.jpg": "image/jpeg",
    "right.jpg": "image/jpeg",
    "depth.f32": "application/octet-stream",
    "view.json": "application/json",
}
#: The files of a video's stage: its viewer facts and its segments.
CLIP_ASSETS = {"view.json": "application/json"}
_SEGMENT = re.compile(r"seg-[0-9]{3}\.(mp4|depth)")
_EXT = re.compile(r"\.[A-Za-z0-9]{1,5}")


class CaptureNotFoundError(ParameterError):
    """A capture id is malformed, unknown or resolves outside the data folder."""


def new_capture_id() -> str:
    """A fresh capture id: 24 random bytes (192 bits), URL-safe base64, 32 characters."""
    return secrets.token_urlsafe(ID_BYTES)


def check_capture_id(capture_id: object) -> str:
    """Return ``capture_id`` if it has the form of an id, else raise :class:`CaptureNotFoundError`."""
    if not isinstance(capture_id, str) or ID_PATTERN.fullmatch(capture_id) is None:
        raise CaptureNotFoundError("no such capture; check the link (capture ids are 32 characters of A-Z a-z 0-9 _ -)")
    return capture_id


def media_type(stage: str, name: str) -> str | None:
    """The media type a served file is sent with; ``None`` for a file that is not served."""
    if stage in STAGES:
        return ASSET_NAMES.get(name)
    if stage == CLIP_STAGE:
        if name in CLIP_ASSETS:
            return CLIP_ASSETS[name]
        match = _SEGMENT.fullmatch(name)
        if match is not None:
            return "video/mp4" if match.group(1) == "mp4" else "application/octet-stream"
    return None


def safe_display_name(name: object, default: str = "upload") -> str:
    """The base name of a user-supplied file name, printable, at most 100 characters (for messages only)."""
    text = str(name or "").replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(ch for ch in text if ch.isprintable() and ch not in "<>\"'`")[:100].strip()
    return text or default


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


class CaptureStore:
    """Captures on disk under ``root/<id>/``.

    Parameters
    ----------
    root : Path
        Folder of the capture folders; created if missing.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._root_resolved = self.root.resolve()

    # -- paths -------------------------------------------------------------------------------
    def dir_for(self, capture_id: object, *, must_exist: bool = True) -> Path:
        """The folder of a capture, after checking the id and that it resolves under the root.

        Raises
        ------
        CaptureNotFoundError
            If the id is malformed, the folder does not exist (when ``must_exist``),
            or it resolves outside the root (e.g. through a symbolic link).
        """
        cid = check_capture_id(capture_id)
        path = self.root / cid
        resolved = path.resolve()
        if resolved.parent != self._root_resolved:
            raise CaptureNotFoundError("no such capture; check the link")
        if must_exist and not (resolved.is_dir() and (resolved / "meta.json").is_file()):
            raise CaptureNotFoundError("no such capture; it may have been deleted by its owner")
        return resolved

    def asset_path(self, capture_id: str, stage: str, name: str) -> Path:
        """Path of one served file: ``stage`` in :data:`STAGES` with ``name`` in :data:`ASSET_NAMES`, or
        :data:`CLIP_STAGE` with ``view.json`` or a segment file (see :func:`media_type`)."""
        if media_type(stage, name) is None:
            raise CaptureNotFoundError(
                f"no such file; stages are {', '.join(STAGES)}, files {', '.join(ASSET_NAMES)}; "
                f"a video's ({CLIP_STAGE}) view.json, seg-NNN.mp4, seg-NNN.depth"
            )
        path = (self.dir_for(capture_id) / stage / name).resolve()
        if path.parent.parent.parent != self._root_resolved or not path.is_file():
            raise CaptureNotFoundError("that file is not ready yet; wait for the capture's progress events")
        return path

    # -- records -----------------------------------------------------------------------------
    def create(self, original_name: str, owner_token: str) -> tuple[str, Path]:
        """Make the folder and record of a new capture; return ``(id, folder)``.

        The upload itself is saved by the caller as ``folder / upload_name(original_name)``.
        """
        for _ in range(8):
            cid = new_capture_id()
            folder = self.root / cid
            try:
                folder.mkdir()
            except FileExistsError:  # 2**-192 chance; try another
                continue
            self.write_meta(
                cid,
                {
                    "id": cid,
                    "created": _now(),
                    "original_name": safe_display_name(original_name),
                    "owner_token_sha256": _hash_token(owner_token),
                    "state": "uploading",
                    "contribution": None,
                },
                folder=folder,
            )
            return cid, folder
        raise ParameterError("could not create a capture folder; check the server's data folder")

    @staticmethod
    def upload_path(folder: Path, original_name: str, role: str = "single") -> Path:
        """Where an upload is stored: ``folder/upload/<name>``.

        A single file keeps a cleaned form of its name (the reader takes layout hints
        such as ``-left-right`` or ``.jps`` from it): only ``A-Z a-z 0-9 . _ -``, no
        leading dot, at most 80 characters. The two files of a pair (``role`` ``"left"``
        or ``"right"``) are ``pair-left<ext>`` and ``pair-right<ext>``.
        """
        name = safe_display_name(original_name)
        ext = Path(name).suffix
        ext = ext.lower() if _EXT.fullmatch(ext) else ""
        if role in ("left", "right"):
            clean = f"pair-{role}{ext}"
        else:
            clean = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).stem).lstrip(".")[:72] or "upload"
            clean = f"{clean}{ext}"
        upload = folder / "upload"
        upload.mkdir(exist_ok=True)
        return upload / clean

    def write_meta(self, capture_id: str, meta: dict[str, Any], *, folder: Path | None = None) -> None:
        """Replace ``meta.json`` of a capture atomically."""
        folder = folder if folder is not None else self.dir_for(capture_id)
        with atomic_output(folder / "meta.json") as tmp:
            tmp.write_text(json.dumps(meta, indent=1, sort_keys=True), encoding="utf-8")

    def meta(self, capture_id: str) -> dict[str, Any]:
        """The record of a capture (``meta.json``)."""
        return json.loads((self.dir_for(capture_id) / "meta.json").read_text(encoding="utf-8"))

    def update_meta(self, capture_id: str, **fields: Any) -> dict[str, Any]:
        """Set some fields of the record; return the new record."""
        meta = self.meta(capture_id)
        meta.update(fields)
        self.write_meta(capture_id, meta)
        return meta

    def is_owner(self, capture_id: str, token: str | None) -> bool:
        """Whether ``token`` is the owner token of the capture (constant-time comparison)."""
        if not token:
            return False
        expected = self.meta(capture_id).get("owner_token_sha256", "")
        return hmac.compare_digest(_hash_token(token), str(expected))

    def delete(self, capture_id: str, *, must_exist: bool = True) -> None:
        """Remove the capture's folder and everything in it.

        With ``must_exist=False`` a folder without a record (an abandoned upload) goes too,
        and a folder already gone is no error. A symbolic link is never followed.
        """
        folder = self.dir_for(capture_id, must_exist=must_exist)
        if (self.root / capture_id).is_symlink():
            raise CaptureNotFoundError("no such capture; check the link")
        if must_exist or folder.is_dir():
            for attempt in range(20):
                try:
                    shutil.rmtree(folder)
                    return
                except FileNotFoundError:
                    return
                except OSError:  # a worker still finishing a file in it (it stops when it sees the record gone)
                    if attempt == 19:
                        raise
                    time.sleep(0.1)

    def public_meta(self, capture_id: str) -> dict[str, Any]:
        """The record without secrets, for the page."""
        meta = self.meta(capture_id)
        meta.pop("owner_token_sha256", None)
        meta.pop("upload_files", None)
        contribution = meta.get("contribution")
        if isinstance(contribution, dict):
            meta["contribution"] = {k: contribution.get(k) for k in ("license", "date", "status", "allow_training")}
        return meta
