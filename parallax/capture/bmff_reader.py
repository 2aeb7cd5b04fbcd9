"""Bounded reading of ISO-BMFF boxes (MP4 / QuickTime ``.mov``) from an open, untrusted file.

Safety: the file is never loaded whole; every box header is checked against
its container (a size smaller than its header, or past the end of its
container, is an :class:`~parallax.errors.InputFileError` naming the box and
the byte offset; at the top level that means the file is truncated); the total
number of boxes visited is capped (:data:`MAX_BOXES`), so a malformed file
cannot loop forever; payloads are read only for small leaf boxes, at most
:data:`MAX_PAYLOAD_BYTES` and at most what the caller expects, never sized by a
value read from the file alone.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from parallax.errors import InputFileError

__all__ = ["MAX_BOXES", "MAX_DEPTH", "MAX_PAYLOAD_BYTES", "Box", "BoxReader", "value_at", "full_box_value"]

#: Largest payload read from any one box (the V1 XML is the largest: about 500 bytes in practice).
MAX_PAYLOAD_BYTES = 1 << 20
#: Deepest nesting the parsers descend into.
MAX_DEPTH = 12
#: Most boxes visited in one file.
MAX_BOXES = 20_000


@dataclass(frozen=True)
class Box:
    """One box: its four-character type, where it starts and ends, where its content starts."""

    type: bytes
    start: int
    end: int
    content: int
    user_type: bytes | None = None

    @property
    def name(self) -> str:
        """The type as text (non-printable bytes escaped)."""
        return self.type.decode("latin-1").encode("unicode_escape").decode("ascii")


class BoxReader:
    """Bounded box access to an open file of ``size`` bytes (``name`` for messages)."""

    def __init__(self, fh: BinaryIO, size: int, name: str) -> None:
        self.fh, self.size, self.name = fh, size, name
        self.visited = 0

    def read(self, pos: int, n: int) -> bytes:
        """``n`` bytes at ``pos`` (fewer at the end of the file); callers bound ``n``."""
        self.fh.seek(pos)
        return self.fh.read(n)

    def children(self, start: int, end: int, parent: str, *, top: bool = False) -> Iterator[Box]:
        """The boxes between ``start`` and ``end`` (the content of ``parent``; ``top``: the file itself)."""
        pos = start
        while pos + 8 <= end:
            self.visited += 1
            if self.visited > MAX_BOXES:
                raise InputFileError(
                    f"{self.name} holds more than {MAX_BOXES} boxes where a few are expected; the file is corrupt"
                )
            size, typ = struct.unpack(">I4s", self.read(pos, 8))
            header = 8
            if size == 1:
                raw = self.read(pos + 8, 8)
                if len(raw) < 8:
                    raise self._bad(typ, pos, "ends inside its 64-bit size", top)
                (size,) = struct.unpack(">Q", raw)
                header = 16
            elif size == 0:  # the box extends to the end of its container
                size = end - pos
            if size < header:
                raise self._bad(typ, pos, f"claims {size} bytes, less than its own header", top)
            if pos + size > end:
                where = "the file ends" if top else f"its container '{parent}' ends"
                raise self._bad(typ, pos, f"claims {size} bytes but {where} {end - pos} bytes later", top)
            content, user_type = pos + header, None
            if typ == b"uuid":
                if size < header + 16:
                    raise self._bad(typ, pos, "is too short for its 16-byte user type", top)
                user_type, content = self.read(content, 16), content + 16
            yield Box(typ, pos, pos + size, content, user_type)
            pos += size
        # fewer than 8 bytes left hold no box (QuickTime ends some lists with a 4-byte zero): nothing to read there

    def _bad(self, typ: bytes, pos: int, what: str, top: bool) -> InputFileError:
        name = Box(typ, 0, 0, 0).name
        if top:
            return InputFileError(
                f"{self.name} is truncated or corrupt: its '{name}' box at byte {pos} {what}; "
                "copy or download the file again"
            )
        return InputFileError(f"{self.name}: box '{name}' at byte {pos} {what}; the file is corrupt")

    def payload(self, box: Box, limit: int = 4096) -> bytes:
        """The content of a leaf box expected to hold at most ``limit`` bytes (more is an InputFileError)."""
        n = box.end - box.content
        if n > min(limit, MAX_PAYLOAD_BYTES):
            raise InputFileError(
                f"{self.name}: box '{box.name}' at byte {box.start} holds {n} bytes where at most {limit} are "
                "expected; the file is corrupt"
            )
        return self.read(box.content, n)


def value_at(data: bytes, offset: int, fmt: str) -> Any:
    """The ``struct`` value ``fmt`` at ``offset`` of ``data``, or ``None`` past its end."""
    size = struct.calcsize(fmt)
    if offset + size > len(data):
        return None
    return struct.unpack(fmt, data[offset : offset + size])[0]


def full_box_value(data: bytes, fmt: str) -> Any:
    """The value after a FullBox's version and flags."""
    return value_at(data, 4, fmt)
