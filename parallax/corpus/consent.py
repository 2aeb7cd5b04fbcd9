"""Consent records: who owns the captures, under which licence, and whether training is allowed.

A consent file is JSON::

    {"contributor": "alice", "license": "CC-BY-4.0", "allow_training": true, "date": "2026-05-01"}

No consent, no sample: a missing, unreadable or incomplete file, or
``allow_training`` other than ``true``, refuses the whole ingest.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parallax.errors import InputFileError, ParameterError

__all__ = ["Consent", "load_consent"]

_CONTRIBUTOR = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")
_LICENSE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+-]{1,63}$")


@dataclass(frozen=True, kw_only=True)
class Consent:
    """One contributor's consent.

    Parameters
    ----------
    contributor : str
        Stable identifier of the owner (letters, digits, ``. _ @ + -``).
    license : str
        SPDX licence identifier of the samples, e.g. ``"CC-BY-4.0"``.
    allow_training : bool
        Must be True: the owner allows training on the samples.
    date : str
        ISO date (``YYYY-MM-DD``) the consent was given.
    """

    contributor: str
    license: str
    allow_training: bool
    date: str

    def __post_init__(self) -> None:
        if not isinstance(self.contributor, str) or not _CONTRIBUTOR.match(self.contributor):
            raise ParameterError(
                f"consent contributor {self.contributor!r} is not a valid id; use letters, digits and . _ @ + - (max 128)"
            )
        if not isinstance(self.license, str) or not _LICENSE.match(self.license):
            raise ParameterError(f"consent license {self.license!r} is not an SPDX identifier such as 'CC-BY-4.0'")
        if self.allow_training is not True:
            raise ParameterError(
                f"consent of {self.contributor} has allow_training={self.allow_training!r}; "
                "no sample is stored without permission to train (set it to true only with the owner's consent)"
            )
        try:
            _dt.date.fromisoformat(str(self.date)[:10])
        except ValueError as exc:
            raise ParameterError(f"consent date {self.date!r} is not an ISO date (YYYY-MM-DD)") from exc

    @property
    def consent_id(self) -> str:
        """Content-derived id: ``c-`` plus 16 hex digits of the SHA-256 of the canonical record."""
        return "c-" + hashlib.sha256(self.canonical().encode()).hexdigest()[:16]

    def canonical(self) -> str:
        """Canonical JSON of the record (sorted keys, no spaces)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "contributor": self.contributor,
            "license": self.license,
            "allow_training": self.allow_training,
            "date": self.date,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "consent") -> Consent:
        """Build from a mapping; missing fields are named in the error."""
        missing = [k for k in ("contributor", "license", "allow_training", "date") if k not in data]
        if missing:
            raise InputFileError(
                f"{where} lacks {', '.join(missing)}; a consent file holds contributor, license, allow_training and date"
            )
        return cls(
            contributor=data["contributor"],
            license=data["license"],
            allow_training=data["allow_training"],
            date=str(data["date"]),
        )


def load_consent(path: str | os.PathLike[str] | None) -> Consent:
    """Read and check a consent file.

    Raises
    ------
    ParameterError
        If no file is given (``--consent`` is required) or the record does not allow training.
    InputFileError
        If the file is missing, not JSON, or lacks a field.
    """
    if path is None:
        raise ParameterError(
            "no consent given: every capture needs its owner's consent; pass --consent consent.json holding "
            "contributor, license, allow_training and date"
        )
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputFileError(f"consent file {path} does not exist; give the owner's consent.json") from exc
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputFileError(f"consent file {path} is not readable JSON ({exc}); fix the file") from exc
    if not isinstance(data, dict):
        raise InputFileError(f"consent file {path} must hold a JSON object")
    return Consent.from_dict(data, where=f"consent file {path}")
