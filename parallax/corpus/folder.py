"""Sample folders on disk: manifests, extra maps, atomic writing and hash-verified reading.

Shared by the still :class:`~parallax.corpus.sample.Sample` and the
:class:`~parallax.corpus.clip_sample.ClipSample`. A sample folder holds its files
(possibly in sub-folders, e.g. ``left/000003.png``) and a ``meta.json`` manifest
whose ``files`` map lists every file with its SHA-256 and byte count.

Writing: :class:`StagedFolder` writes the files of a local folder into a hidden
sibling ``.<name>.staging-<random>``, fsyncs them and renames the folder into
place, so the folder appears whole or not at all. On an fsspec URL (object
stores have no rename) the files are written first and ``meta.json`` last, so a
folder without ``meta.json`` is incomplete.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from parallax.corpus import encoding as enc
from parallax.errors import InputFileError, OutputError

__all__ = [
    "jsonable",
    "manifest_bytes",
    "file_entry",
    "encode_extra",
    "decode_extra",
    "StagedFolder",
    "write_files_atomically",
    "folder_reader",
    "load_manifest",
    "read_verified",
]

Reader = Callable[[str], bytes]


def jsonable(value: Any) -> Any:
    """Make numpy scalars/arrays and tuples JSON-ready; NaN/inf become None."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    """``meta.json`` bytes: sorted keys, 2-space indent, UTF-8, trailing newline (deterministic)."""
    return (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def file_entry(path: str, data: bytes, **info: Any) -> dict[str, Any]:
    """The ``files`` entry of one file: ``{"path", "sha256", "bytes", **info}``."""
    return {"path": path, "sha256": enc.sha256_bytes(data), "bytes": len(data), **info}


def encode_extra(array: np.ndarray) -> tuple[str, bytes, dict[str, Any]]:
    """Encode an extra ground-truth map: ``(extension, bytes, manifest info)``.

    ``HxW`` bool and uint8 maps become 8-bit PNG (bool: 0/255, ``dtype`` says
    which); everything else (float maps, maps with channels such as normals or
    optical flow) becomes ``.npy`` (float maps as float32, NaN = no value).
    """
    if array.ndim == 2 and array.dtype in (np.bool_, np.uint8):
        kind = "bool" if array.dtype == np.bool_ else "uint8"
        return "png", enc.encode_mask_png(array), {"encoding": "png8-mask", "dtype": kind}
    arr = array.astype(np.float32) if array.dtype.kind == "f" else array
    return "npy", enc.encode_npy(arr), {"encoding": "npy", "dtype": arr.dtype.str}


def decode_extra(data: bytes, info: Mapping[str, Any], *, name: str) -> np.ndarray:
    """Decode an extra map written by :func:`encode_extra`, given its ``files`` entry."""
    if info.get("encoding") == "npy":
        return enc.decode_npy(data, name=name)
    return enc.decode_mask_png(data, name=name, as_bool=info.get("dtype") == "bool")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StagedFolder:
    """Write a sample folder file by file; it appears whole on :meth:`commit`, or not at all.

    Parameters
    ----------
    target : path-like or str
        The folder to create (it must not exist), or an fsspec URL.

    Use as a context manager: leaving the block with an exception removes
    everything written so far (:meth:`abort`); leaving it normally without
    :meth:`commit` aborts too. Names may contain ``/`` (sub-folders).

    Raises
    ------
    OutputError
        If the target exists, its parent folder does not, or a write fails.
    """

    def __init__(self, target: str | os.PathLike[str]) -> None:
        text = os.fspath(target)
        self.where = text
        self._done = False
        self._remote_names: list[str] = []
        if "://" in text and not text.startswith("file://"):
            from parallax.corpus.storage import Storage

            self._store: Any = Storage(text)
            if self._store.exists(""):
                raise OutputError(f"cannot write {text}: it already exists")
            self.final: Path | None = None
            self.stage: Path | None = None
            return
        self._store = None
        final = Path(text.removeprefix("file://"))
        if final.exists():
            raise OutputError(
                f"cannot write sample folder {final}: it already exists; remove it or choose another folder"
            )
        if not final.parent.is_dir():
            raise OutputError(
                f"cannot write sample folder {final}: folder {final.parent} does not exist; create it first"
            )
        self.final = final
        self.stage = final.parent / f".{final.name}.staging-{secrets.token_hex(6)}"
        try:
            self.stage.mkdir()
        except OSError as exc:
            raise self._error(exc) from exc
        self._dirs: set[Path] = {self.stage}

    def _stage_path(self) -> Path:
        if self.stage is None:  # pragma: no cover - only local folders are staged
            raise OutputError(f"{self.where} is not a local folder")
        return self.stage

    def _final_path(self) -> Path:
        if self.final is None:  # pragma: no cover - only local folders are staged
            raise OutputError(f"{self.where} is not a local folder")
        return self.final

    def _error(self, exc: OSError) -> OutputError:
        return OutputError(
            f"cannot write sample folder {self.final or self.where}: {exc.strerror or exc}; check the folder and free space"
        )

    def write(self, name: str, data: bytes) -> None:
        """Write file ``name`` (relative, ``/``-separated) with ``data``, fsynced."""
        if self._done:
            raise OutputError(f"sample folder {self.where} is already closed; start a new one")
        if name.startswith("/") or ".." in name.split("/"):
            raise OutputError(f"file name {name!r} must stay inside the sample folder")
        if self._store is not None:
            if name == "meta.json":  # object stores: meta.json goes last, in commit()
                self._meta = data
            else:
                self._store.fs.pipe_file(self._store._p(name), data)
                self._remote_names.append(name)
            return
        path = self._stage_path() / name
        try:
            if path.parent not in self._dirs:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._dirs.add(path.parent)
            with open(path, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            self.abort()
            raise self._error(exc) from exc

    def commit(self) -> None:
        """Make the folder appear (local: fsync and rename the staging folder; remote: write ``meta.json``)."""
        if self._done:
            return
        if self._store is not None:
            meta = getattr(self, "_meta", None)
            if meta is not None:
                self._store.fs.pipe_file(self._store._p("meta.json"), meta)
            self._done = True
            return
        stage, final = self._stage_path(), self._final_path()
        try:
            for folder in sorted(self._dirs, key=lambda p: len(p.parts), reverse=True):
                _fsync_dir(folder)
            os.rename(stage, final)
            _fsync_dir(final.parent)
        except OSError as exc:
            self.abort()
            raise self._error(exc) from exc
        self._done = True

    def abort(self) -> None:
        """Remove everything written so far (idempotent)."""
        if self._done:
            return
        self._done = True
        if self._store is not None:
            for name in self._remote_names:
                self._store.remove(name)
            if self._store.exists("") and not self._store.listdir(""):
                self._store.remove("")
            return
        if self.stage is not None and self.stage.exists():
            shutil.rmtree(self.stage, ignore_errors=True)

    def __enter__(self) -> StagedFolder:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None and self._done:
            return
        self.abort()


def write_files_atomically(files: Mapping[str, bytes], final: str | os.PathLike[str]) -> None:
    """Write ``files`` as the folder ``final`` through a :class:`StagedFolder` (whole or not at all).

    A crash leaves only a hidden ``.<name>.staging-<random>`` folder (never a
    partial ``final``), which corpus recovery removes. Raises :class:`OutputError`
    if ``final`` exists or cannot be written.
    """
    with StagedFolder(final) as folder:
        for name, data in files.items():
            folder.write(name, data)
        folder.commit()


def folder_reader(directory: str | os.PathLike[str], *, what: str) -> tuple[Reader, str]:
    """``(read(name) -> bytes, where)`` for a local sample folder or an fsspec URL.

    Raises
    ------
    InputFileError
        If a local folder does not exist (``what`` names the writer to use).
    """
    text = os.fspath(directory)
    if "://" in text and not text.startswith("file://"):
        from parallax.corpus.storage import Storage

        store = Storage(text)
        return store.read_bytes, text
    folder = Path(text.removeprefix("file://"))
    if not folder.is_dir():
        raise InputFileError(f"sample folder {folder} does not exist; give the folder {what} created")
    return (lambda name: (folder / name).read_bytes()), str(folder)


def load_manifest(read: Reader, *, where: str, fmt: str, version: int) -> dict[str, Any]:
    """Read and check ``meta.json``: it must exist, be JSON, of format ``fmt`` and at most ``version``.

    Raises
    ------
    InputFileError
        Naming the folder and what is wrong.
    """
    try:
        manifest = json.loads(read("meta.json"))
    except (OSError, KeyError) as exc:
        raise InputFileError(f"{where}: no meta.json; this is not a Parallax sample folder") from exc
    except ValueError as exc:
        raise InputFileError(
            f"{where}/meta.json is not valid JSON ({exc}); the sample is corrupt, re-create it"
        ) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != fmt:
        raise InputFileError(f"{where}/meta.json is not a {fmt} manifest; give a sample folder")
    if int(manifest.get("format_version", 0)) > version:
        raise InputFileError(
            f"{where}: sample format version {manifest['format_version']} is newer than this Parallax reads; upgrade"
        )
    if not isinstance(manifest.get("files"), dict):
        raise InputFileError(f"{where}/meta.json lists no files; the sample is corrupt, re-create it")
    return manifest


def read_verified(read: Reader, info: Mapping[str, Any], *, where: str, verify: bool) -> bytes:
    """The bytes of the file described by ``info`` (a ``files`` entry), checked against its SHA-256.

    Raises
    ------
    InputFileError
        If the file is missing or (with ``verify``) does not match its hash.
    """
    try:
        blob = read(info["path"])
    except (OSError, KeyError) as exc:
        raise InputFileError(f"{where}/{info['path']} is missing; the sample is incomplete, re-create it") from exc
    if verify and enc.sha256_bytes(blob) != info["sha256"]:
        raise InputFileError(f"{where}/{info['path']} does not match its SHA-256 in meta.json; the file is corrupt")
    return blob
