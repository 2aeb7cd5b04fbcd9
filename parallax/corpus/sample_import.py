"""Ready-made sample folders (e.g. from ``parallax synth``) as input to ``parallax corpus add``.

A folder whose ``meta.json`` says ``"format": "parallax-sample"`` (a still pair)
or ``"format": "parallax-clip"`` (a clip, e.g. a synthetic sequence from
``parallax synth --frames N``) is a sample folder; a folder whose sub-folders are
sample folders is a dataset of them (what ``parallax synth --out DIR`` writes). Such samples skip capture reading,
privacy and matching (they already are rectified samples with ground truth)
but go through the same consent check, dedup and crash-safe commit as captures.

Consent: no consent, no sample, here too. The sample is stored under the
contributor and consent id of the ``--consent`` record, and its licence must
be the consent's licence (a synthetic sample is CC0-1.0, so a consent file with
``"license": "CC0-1.0"`` adds synthetic scenes).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from parallax.corpus.clip_sample import CLIP_FORMAT
from parallax.corpus.sample import SAMPLE_FORMAT, read_sample_dir
from parallax.errors import InputFileError

if TYPE_CHECKING:  # pragma: no cover
    from parallax.corpus.consent import Consent
    from parallax.corpus.store import Corpus, Outcome

__all__ = ["is_sample_dir", "sample_dir_format", "split_sample_dirs", "add_sample_dirs"]


def sample_dir_format(path: str | os.PathLike[str]) -> str | None:
    """``"parallax-sample"`` or ``"parallax-clip"`` when ``path`` is a sample folder of that format, else None."""
    meta = Path(path) / "meta.json"
    if not meta.is_file():
        return None
    try:
        fmt = json.loads(meta.read_text(encoding="utf-8")).get("format")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return None
    return fmt if fmt in (SAMPLE_FORMAT, CLIP_FORMAT) else None


def is_sample_dir(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` is a folder holding a Parallax still or clip sample (``meta.json`` of either format)."""
    return sample_dir_format(path) is not None


def split_sample_dirs(inputs: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[str]]:
    """Separate sample folders (and folders of them) from capture files and folders.

    Returns
    -------
    sample_dirs : list of Path
        Sample folders, sorted within each input.
    others : list of str
        The inputs that are not sample folders (captures, folders of captures).
    """
    sample_dirs: list[Path] = []
    others: list[str] = []
    for arg in inputs:
        path = Path(arg)
        if path.is_dir() and is_sample_dir(path):
            sample_dirs.append(path)
            continue
        children = sorted(p for p in path.iterdir() if p.is_dir()) if path.is_dir() else []
        found = [p for p in children if is_sample_dir(p)]
        if found:
            sample_dirs.extend(found)
        else:
            others.append(os.fspath(arg))
    return sample_dirs, others


def add_sample_dirs(
    corpus: Corpus,
    sample_dirs: Iterable[Path],
    consent: Consent,
    *,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Store each sample folder (still or clip) under ``consent``; one :class:`Outcome` per folder, in order.

    A folder that cannot be read, or whose licence differs from the consent's,
    is rejected with its reason; the batch goes on.
    """
    from parallax.corpus.store import Outcome

    outcomes: list[Outcome] = []
    from parallax.corpus.clip_reader import read_clip_sample_dir
    from parallax.corpus.clip_sample import ClipSample

    for folder in sample_dirs:
        loaded: Any
        try:
            is_clip = sample_dir_format(folder) == CLIP_FORMAT
            loaded = read_clip_sample_dir(folder) if is_clip else read_sample_dir(folder)
        except InputFileError as exc:
            outcome = Outcome(original_name=folder.name, status="rejected", reason=str(exc))
        else:
            facts = loaded.info if isinstance(loaded, ClipSample) else loaded
            if facts.license != consent.license:
                outcome = Outcome(
                    original_name=folder.name,
                    status="rejected",
                    reason=f"sample licence {facts.license} differs from the consent's {consent.license}; "
                    f"add it with a consent whose license is {facts.license}",
                )
            else:
                who, cid = consent.contributor, consent.consent_id
                if isinstance(loaded, ClipSample):
                    info = dataclasses.replace(loaded.info, contributor=who, consent_id=cid)
                    owned = dataclasses.replace(loaded, info=info)
                else:
                    owned = dataclasses.replace(loaded, contributor=who, consent_id=cid)
                outcome = corpus.add_sample(owned, consent)
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
    return outcomes
