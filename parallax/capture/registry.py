"""The reader registry: one reader per format, found by magic bytes first, extension second.

Readers are tried in registration order (most specific first: a LIF and an MPO
are both JPEGs, so they come before the plain-image reader). A reader's
``sniff`` looks at the first 64 KiB and the last 64 bytes of the file. If no
reader recognises the bytes, the extension only shapes the error message: a
``.jpg`` that is no JPEG is reported as damaged, not guessed at.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from parallax.capture.equirect import VirtualCamera
from parallax.capture.image_io import DEFAULT_MAX_PIXELS
from parallax.capture.types import Capture
from parallax.errors import ParameterError, UnsupportedFormatError

__all__ = ["FileProbe", "ReadOptions", "ReaderSpec", "register_reader", "readers", "find_reader", "probe_file"]

HEAD_BYTES = 65536
TAIL_BYTES = 64


@dataclass(frozen=True, kw_only=True)
class FileProbe:
    """What the sniffers see of a file: its first 64 KiB, last 64 bytes and size in bytes."""

    path: Path
    head: bytes
    tail: bytes
    size: int


@dataclass(frozen=True, kw_only=True)
class ReadOptions:
    """Options every reader receives.

    Parameters
    ----------
    layout : str
        How a single image holds its views (``auto``, ``sbs``, ``sbs-cross``,
        ``over-under``, ``under-over``); only the plain-image reader uses it.
    max_pixels : int
        Largest ``width * height`` of any image decoded.
    virtual_camera : VirtualCamera, optional
        The pinhole view an equirectangular (360° / VR) capture is reprojected
        into; ``None`` = the default forward 90° view. Other readers ignore it.
    eyes : str
        Eye order (``auto``, ``left-right``, ``right-left``); readers that
        decide it themselves (side-by-side) use it, ``read_capture`` applies it
        to the others.
    """

    layout: str = "auto"
    max_pixels: int = DEFAULT_MAX_PIXELS
    virtual_camera: VirtualCamera | None = None
    eyes: str = "auto"

    def __post_init__(self) -> None:
        if not isinstance(self.max_pixels, int) or self.max_pixels < 1:
            raise ParameterError(f"max_pixels must be a positive integer, got {self.max_pixels!r}")
        if self.virtual_camera is not None and not isinstance(self.virtual_camera, VirtualCamera):
            raise ParameterError(f"virtual_camera must be a VirtualCamera or None, got {self.virtual_camera!r}")


@dataclass(frozen=True, kw_only=True)
class ReaderSpec:
    """One format's reader.

    Parameters
    ----------
    name : str
        Short name (``"mpo"``, ``"lif"``, ...).
    description : str
        For messages and ``parallax info``.
    sniff : callable
        ``sniff(probe) -> bool``: True when the bytes are this format.
    extensions : tuple of str
        Lower-case extensions with the dot (``".mpo"``), for messages.
    read : callable
        ``read(path, options) -> Capture``.
    """

    name: str
    description: str
    sniff: Callable[[FileProbe], bool]
    extensions: tuple[str, ...]
    read: Callable[[Path, ReadOptions], Capture]


_READERS: list[ReaderSpec] = []


def register_reader(spec: ReaderSpec) -> ReaderSpec:
    """Add a reader (replacing one of the same name, keeping its place)."""
    for i, existing in enumerate(_READERS):
        if existing.name == spec.name:
            _READERS[i] = spec
            return spec
    _READERS.append(spec)
    return spec


def readers() -> tuple[ReaderSpec, ...]:
    """The registered readers, in the order they are tried."""
    return tuple(_READERS)


def probe_file(path: Path) -> FileProbe:
    """Read the head and tail of ``path`` for the sniffers."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
        fh.seek(max(0, size - TAIL_BYTES))
        tail = fh.read(TAIL_BYTES)
    return FileProbe(path=path, head=head, tail=tail, size=size)


def find_reader(probe: FileProbe) -> ReaderSpec:
    """The first reader whose magic matches.

    Raises
    ------
    UnsupportedFormatError
        No reader recognises the bytes; the message says what the extension
        promised and how the file starts.
    """
    for spec in _READERS:
        if spec.sniff(probe):
            return spec
    ext = probe.path.suffix.lower()
    start = probe.head[:8].hex(" ")
    claimed = [spec for spec in _READERS if ext in spec.extensions]
    if claimed:
        raise UnsupportedFormatError(
            f"{probe.path} is named like a {claimed[0].description} but its bytes are not one "
            f"(it starts with {start}); the file is damaged or not an image"
        )
    known = sorted({e for spec in _READERS for e in spec.extensions})
    raise UnsupportedFormatError(
        f"{probe.path} is not a format Parallax reads (it starts with {start}); give one of {', '.join(known)}"
    )
