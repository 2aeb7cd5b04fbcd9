"""Where sample folders and export shards live: a local folder or any fsspec URL.

Local paths (and ``file://`` URLs) get crash-safe writes: a folder is staged
beside its final name, fsynced and renamed into place. Object stores have no
rename; there a sample's files are written first and ``meta.json`` last, so a
prefix without ``meta.json`` is incomplete and is cleaned up like a staging
folder.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from parallax.errors import OutputError

__all__ = ["Storage", "is_local"]


def is_local(url: str | os.PathLike[str]) -> bool:
    """True for plain paths and ``file://`` URLs."""
    text = os.fspath(url)
    return "://" not in text or text.startswith("file://")


class Storage:
    """A folder reached through fsspec, with helpers for whole sample folders.

    Parameters
    ----------
    url : str or path-like
        Local folder, ``file://`` URL, or any fsspec URL (``memory://corpus``,
        ``s3://bucket/corpus``, ...).
    """

    def __init__(self, url: str | os.PathLike[str]) -> None:
        text = os.fspath(url)
        self.url = text
        if is_local(text):
            self.local_root: Path | None = Path(text.removeprefix("file://")).absolute()
            self.fs = None
            self.root = str(self.local_root)
        else:
            import fsspec

            self.local_root = None
            try:
                self.fs, self.root = fsspec.core.url_to_fs(text)
            except (ImportError, ValueError) as exc:
                raise OutputError(
                    f"cannot open storage {text!r}: {exc}; install the fsspec backend or use a local folder"
                ) from exc
            self.root = self.root.rstrip("/")

    def _p(self, rel: str) -> str:
        rel = rel.strip("/")
        return f"{self.root}/{rel}" if rel else self.root

    def path(self, rel: str) -> Path:
        """Local path of ``rel`` (only for local storage)."""
        if self.local_root is None:
            raise OutputError(f"{self.url} is not a local folder")
        return self.local_root / rel if rel else self.local_root

    def makedirs(self, rel: str = "") -> None:
        """Create the folder ``rel`` (and parents) if missing."""
        if self.fs is None:
            self.path(rel).mkdir(parents=True, exist_ok=True)
        else:
            self.fs.makedirs(self._p(rel), exist_ok=True)

    def exists(self, rel: str) -> bool:
        """Whether ``rel`` exists."""
        return self.path(rel).exists() if self.fs is None else bool(self.fs.exists(self._p(rel)))

    def read_bytes(self, rel: str) -> bytes:
        """The bytes of file ``rel``; :class:`FileNotFoundError` if missing."""
        if self.fs is None:
            return self.path(rel).read_bytes()
        return self.fs.cat_file(self._p(rel))

    def open(self, rel: str, mode: str = "rb") -> IO[bytes]:
        """Open ``rel`` (binary modes)."""
        if self.fs is None:
            return open(self.path(rel), mode)
        return self.fs.open(self._p(rel), mode)

    def listdir(self, rel: str = "") -> list[str]:
        """Names directly inside folder ``rel`` (sorted; empty if missing)."""
        if self.fs is None:
            p = self.path(rel)
            return sorted(os.listdir(p)) if p.is_dir() else []
        try:
            entries = self.fs.ls(self._p(rel), detail=False)
        except FileNotFoundError:
            return []
        return sorted(e.rstrip("/").rsplit("/", 1)[-1] for e in entries)

    def put_folder(self, rel: str, files: Mapping[str, bytes]) -> None:
        """Create folder ``rel`` holding ``files`` (``meta.json`` written last on object stores).

        Raises :class:`OutputError` if the folder exists already.
        """
        if self.fs is None:
            from parallax.corpus.folder import write_files_atomically

            write_files_atomically(files, self.path(rel))
            return
        if rel and self.exists(rel):
            raise OutputError(f"cannot write {self._p(rel)}: it already exists")
        order = sorted(files, key=lambda n: (n == "meta.json", n))
        for name in order:
            self.fs.pipe_file(self._p(f"{rel}/{name}" if rel else name), files[name])

    def put_file(self, rel: str, data: bytes) -> None:
        """Write one file whole (atomic rename locally)."""
        if self.fs is None:
            from parallax.io.atomic import atomic_output

            target = self.path(rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            with atomic_output(target) as tmp:
                with open(tmp, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
            return
        self.fs.pipe_file(self._p(rel), data)

    def put_local(self, rel: str, source: str | os.PathLike[str]) -> None:
        """Move the local file ``source`` to ``rel`` (fsynced rename locally; an upload, then removal, elsewhere).

        Locally ``source`` must be on the same file system (e.g. a temporary file in this folder).
        """
        if self.fs is None:
            target = self.path(rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(source, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(source, target)
            return
        self.fs.put_file(os.fspath(source), self._p(rel))
        os.unlink(source)

    def remove(self, rel: str) -> None:
        """Remove file or folder ``rel`` (recursively); missing is fine."""
        if self.fs is None:
            p = self.path(rel)
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
            return
        if self.fs.exists(self._p(rel)):
            self.fs.rm(self._p(rel), recursive=True)
