"""Finding what to ingest: still captures (one file, or a left and a right file) and clip sources.

:func:`discover` walks files and folders and returns :class:`CaptureItem` objects:
still captures (``kind="capture"``, processed by :mod:`parallax.corpus.ingest`)
and clip sources (``kind="clip"``: a stereo video file or a frame folder with
``left/`` + ``right/``, cut into clips by :mod:`parallax.corpus.clip_ingest`).
Every item carries an input key, the SHA-256 over the bytes of its file(s), so a
rerun skips what was ingested before.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from parallax.errors import InputFileError, ParallaxError

__all__ = ["CaptureItem", "CAPTURE_EXTENSIONS", "discover", "file_key"]

#: File extensions looked at inside folders (explicit file arguments are always tried).
CAPTURE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".mpo", ".jps", ".png", ".heic", ".heif", ".lif", ".tif", ".tiff", ".webp", ".bmp"}
)
_BOTH = re.compile(r"left[-_.]?right$|right[-_.]?left$", re.IGNORECASE)  # one side-by-side file
_PAIR = re.compile(r"^(?P<stem>.+?)[-_.](?P<side>left|right|l|r)$", re.IGNORECASE)


@dataclass(frozen=True, kw_only=True)
class CaptureItem:
    """One capture to ingest: one file, or a left and a right file.

    Parameters
    ----------
    paths : tuple of str
        ``(file,)`` or ``(left, right)``.
    original_name : str
        Name(s) kept in ``meta.json``: ``"X.mpo"`` or ``"X-left.jpg + X-right.jpg"``.
    input_key : str
        SHA-256 over the bytes of the file(s): rerunning an ingest skips inputs already seen.
    kind : {"capture", "clip"}
        A still capture, or a clip source (a stereo video file or a frame folder, ``paths = (path,)``)
        that :mod:`parallax.corpus.clip_ingest` cuts into clips.
    """

    paths: tuple[str, ...]
    original_name: str
    input_key: str
    kind: str = "capture"


def file_key(paths: tuple[Path, ...]) -> str:
    """SHA-256 over the bytes of ``paths`` in order (an unreadable file counts by its name): an input key."""
    h = hashlib.sha256()
    for p in paths:
        try:
            with open(p, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
        except OSError:
            h.update(f"unreadable:{p.name}".encode())
        h.update(b"\0|")
    return h.hexdigest()


def _frame_folder(path: Path) -> bool:
    """Whether ``path`` is a frame folder the corpus takes as one clip: ``left/`` and ``right/`` with images."""
    if not ((path / "left").is_dir() and (path / "right").is_dir()):
        return False
    from parallax.capture.frames import frame_pairs_in

    try:
        return bool(frame_pairs_in(path))
    except InputFileError:
        return True  # a broken frame folder: the clip reader says what is wrong


def _frame_files(path: Path) -> tuple[Path, ...]:
    from parallax.capture.frames import frame_pairs_in

    try:
        pairs = frame_pairs_in(path) or []
    except InputFileError:
        return tuple(sorted(p for side in ("left", "right") for p in (path / side).iterdir() if p.is_file()))
    return tuple(p for pair in pairs for p in pair)


def _clip_item(path: Path) -> CaptureItem:
    files = _frame_files(path) if path.is_dir() else (path,)
    return CaptureItem(paths=(str(path),), original_name=path.name, input_key=file_key(files), kind="clip")


def _is_video_file(path: Path) -> bool:
    from parallax.capture.clip_registry import VIDEO_EXTENSIONS, is_clip_path

    if path.suffix.lower() in VIDEO_EXTENSIONS:
        return True
    if path.suffix.lower() in CAPTURE_EXTENSIONS:
        return False
    try:
        return is_clip_path(path)
    except ParallaxError:
        return False


def discover(inputs: Iterable[str | os.PathLike[str]]) -> tuple[list[CaptureItem], list[str]]:
    """Turn files and folders into capture items, pairing ``X-left.*`` with ``X-right.*``.

    Folders are walked recursively in sorted order; hidden files and files whose
    extension is neither in :data:`CAPTURE_EXTENSIONS` nor a video's are skipped (and listed).
    A ``-left``/``-right`` file (also ``_left``, ``.left``, ``-l``, ``-r``) without its partner is
    ingested on its own (and will be rejected if it is not a stereo file).

    Clips: a video file (by extension in folders; by content for a file given
    explicitly) and a frame folder (``left/`` + ``right/`` sub-folders of images)
    become one item of kind ``"clip"`` each; a frame folder's images are not
    stills, but other files beside ``left/`` and ``right/`` are looked at as usual.
    Files tagged ``*_left`` / ``*_right`` in one folder stay still pairs.

    Returns
    -------
    items : list of CaptureItem
        Sorted by original name.
    skipped : list of str
        Files in folders that were not looked at.

    Raises
    ------
    InputFileError
        If an argument does not exist.
    """
    from parallax.capture.clip_registry import VIDEO_EXTENSIONS

    files: list[Path] = []
    clips: list[Path] = []
    skipped: list[str] = []
    for arg in inputs:
        p = Path(arg)
        if p.is_dir():
            for dirpath, dirnames, names in os.walk(p):
                here = Path(dirpath)
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                if _frame_folder(here):
                    clips.append(here)
                    dirnames[:] = [d for d in dirnames if d not in ("left", "right")]
                for name in sorted(names):
                    f = here / name
                    if name.startswith("."):
                        skipped.append(str(f))
                    elif f.suffix.lower() in VIDEO_EXTENSIONS:
                        clips.append(f)
                    elif f.suffix.lower() in CAPTURE_EXTENSIONS:
                        files.append(f)
                    else:
                        skipped.append(str(f))
        elif p.exists():
            (clips if _is_video_file(p) else files).append(p)
        else:
            raise InputFileError(f"{p} does not exist; give capture files or folders")
    groups: dict[tuple[str, str], dict[str, Path]] = {}
    singles: list[Path] = []
    for f in dict.fromkeys(files):
        m = None if _BOTH.search(f.stem) else _PAIR.match(f.stem)
        if m:
            groups.setdefault((str(f.parent), m["stem"].lower()), {})[m["side"][0].lower()] = f
        else:
            singles.append(f)
    items = [CaptureItem(paths=(str(f),), original_name=f.name, input_key=file_key((f,))) for f in singles]
    for sides in groups.values():
        if "l" in sides and "r" in sides:
            pair = (sides["l"], sides["r"])
            items.append(
                CaptureItem(
                    paths=tuple(map(str, pair)),
                    original_name=f"{pair[0].name} + {pair[1].name}",
                    input_key=file_key(pair),
                )
            )
        else:
            items.extend(
                CaptureItem(paths=(str(f),), original_name=f.name, input_key=file_key((f,))) for f in sides.values()
            )
    items.extend(_clip_item(c) for c in dict.fromkeys(clips))
    items.sort(key=lambda it: (it.original_name, it.paths))
    return items, skipped
