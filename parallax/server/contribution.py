"""The bridge from the web app to the corpus: contribute with consent, withdraw, list, export.

Only captures whose owner ticked the consent box reach :func:`add_to_corpus`
(see :meth:`parallax.server.service.ParallaxService.contribute`). It runs the
corpus's own ingest (privacy: faces blurred, EXIF location dropped; quality
checks; dedup) on the uploaded file, in a worker process. Withdrawal marks the
sample withdrawn in the catalog, deletes its files and marks exports that held it
stale (:func:`parallax.corpus.maintenance.withdraw`); later exports leave it out.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from parallax.errors import InputFileError, ParallaxError, ParameterError

__all__ = [
    "LICENSES",
    "CorpusUnavailableError",
    "NotAcceptedError",
    "contributor_id",
    "add_to_corpus",
    "withdraw_from_corpus",
    "corpus_listing",
    "export_corpus",
]

# Licences a contributor may choose (SPDX identifiers).
LICENSES = ("CC-BY-4.0", "CC-BY-SA-4.0", "CC0-1.0", "CC-BY-NC-4.0")
_CONTRIBUTOR = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")


class CorpusUnavailableError(ParallaxError):
    """This server has no corpus, or the corpus code is not part of this build."""


class NotAcceptedError(InputFileError):
    """The corpus refused the capture (quality, duplicate, seen before); the message says why."""


def contributor_id(name: str | None, owner_token: str) -> str:
    """The corpus contributor id: the handle the owner typed if it is a valid id, else a pseudonym.

    The pseudonym is ``web-`` plus 16 hex digits of the SHA-256 of the owner token: stable
    for the owner, meaningless to anyone else.
    """
    if name and _CONTRIBUTOR.fullmatch(name.strip()):
        return name.strip()
    return "web-" + hashlib.sha256(("contributor:" + owner_token).encode()).hexdigest()[:16]


def _open(corpus_dir: Path) -> Any:
    try:
        from parallax.corpus.store import Corpus
    except ImportError as exc:
        raise CorpusUnavailableError(
            "contributing is not available: this build has no corpus (parallax.corpus)"
        ) from exc
    if (Path(corpus_dir) / "corpus.json").exists():
        return Corpus.open(corpus_dir)
    return Corpus.init(corpus_dir)


def add_to_corpus(
    corpus_dir: Path, sources: tuple[Path, ...], original_name: str, consent: Mapping[str, Any]
) -> dict[str, Any]:
    """Ingest an uploaded capture into the corpus under ``consent``; return what happened.

    Parameters
    ----------
    corpus_dir : Path
        The corpus folder (created with ``Corpus.init`` if it holds none).
    sources : tuple of Path
        The uploaded file, or the left and right files of a pair.
    original_name : str
        The name the owner gave (kept in the sample's provenance).
    consent : Mapping
        ``contributor``, ``license``, ``allow_training`` (must be True), ``date`` (ISO).

    Returns
    -------
    dict
        ``{"sample_id": ..., "sample_ids": [...], "consent_id": ...}``: a stereo video may
        be cut into several clips (``sample_ids`` lists every accepted one; ``sample_id``
        is the first).

    Raises
    ------
    NotAcceptedError
        When the corpus accepts nothing of the capture (quality, duplicate, withdrawn before).
    """
    from parallax.corpus.consent import Consent
    from parallax.corpus.ingest import discover

    record = Consent(
        contributor=str(consent["contributor"]),
        license=str(consent["license"]),
        allow_training=consent["allow_training"],
        date=str(consent["date"])[:10],
    )
    items, _ = discover([str(p) for p in sources])
    if len(items) != 1:
        raise ParameterError(f"expected one capture from {len(sources)} uploaded file(s), found {len(items)}")
    item = dataclasses.replace(items[0], original_name=original_name)
    corpus = _open(corpus_dir)
    try:
        outcomes = corpus.add([item], record)  # a video gives one outcome per clip cut from it
    finally:
        corpus.close()
    accepted = [o.sample_id for o in outcomes if o.status == "accepted" and o.sample_id]
    if not accepted:
        reason = "; ".join(dict.fromkeys(o.reason or o.status for o in outcomes)) or "nothing to ingest"
        raise NotAcceptedError(f"the corpus did not accept {original_name}: {reason}")
    return {"sample_id": accepted[0], "sample_ids": accepted, "consent_id": record.consent_id}


def withdraw_from_corpus(corpus_dir: Path, sample_ids: str | list[str]) -> list[str]:
    """Withdraw samples (one, or every clip of a video): gone from the corpus's files and catalog, and from later
    exports."""
    from parallax.corpus.maintenance import withdraw

    corpus = _open(corpus_dir)
    withdrawn: list[str] = []
    try:
        for sample_id in [sample_ids] if isinstance(sample_ids, str) else sample_ids:
            withdrawn += withdraw(corpus, sample_id=sample_id, reason="withdrawn by the owner in the web app")
        return withdrawn
    finally:
        corpus.close()


def corpus_listing(corpus_dir: Path) -> dict[str, Any]:
    """Active samples with their consent, and the corpus counts (admin)."""
    corpus = _open(corpus_dir)
    try:
        keys = (
            "sample_id",
            "contributor",
            "license",
            "consent_id",
            "original_name",
            "source_format",
            "width",
            "height",
        )
        samples = [{k: row.get(k) for k in keys} for row in corpus.catalog.active_samples()]
        return {"samples": samples, "status": corpus.catalog.counts()}
    finally:
        corpus.close()


def export_corpus(corpus_dir: Path, out_dir: Path) -> dict[str, Any]:
    """Export the active samples as WebDataset shards into a new folder under ``out_dir`` (admin)."""
    from parallax.corpus.export import export_corpus as export

    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    out = Path(out_dir) / f"export-{stamp}"
    out.parent.mkdir(parents=True, exist_ok=True)
    corpus = _open(corpus_dir)
    try:
        result = export(corpus, fmt="webdataset", out=str(out))
    finally:
        corpus.close()
    return {
        "export_id": result.export_id,
        "folder": out.name,
        "samples": result.samples,
        "shards": len(result.shards),
        "bytes": result.bytes,
    }
