"""Downloads of a stereo video, written on demand in the export pool through ``write_clip``.

The clip is processed again exactly as the viewer's run was (the same frames,
rectification and settings, from the clip's ``run.json``), streamed into one of the
clip outputs of :mod:`parallax.outputs.clip_registry`: ``.sbs.mp4``, ``.ou.mp4``,
``.anaglyph.mp4``, ``.depth.mp4``, or the frames folder (views, disparity and depth
PFMs, ``poses.json``, ``trajectory.txt``, ``transforms.json``) as one ``.frames.zip``
(holding one folder, ``<name>.frames/``, named after the upload).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parallax.errors import OutputError
from parallax.io.atomic import atomic_output

__all__ = ["ClipExportJob", "clip_formats", "run_clip_export"]


@dataclass(frozen=True, kw_only=True)
class ClipExportJob:
    """One clip download.

    Parameters
    ----------
    folder : Path
        The capture's folder (its ``clip/run.json`` says how the viewer's run went).
    source : Path
        The uploaded video.
    display_name : str
        The name the user gave it (for messages).
    max_pixels : int
        Largest frame accepted (``width * height``).
    format : str
        A clip output name (``sbs``, ``over-under``, ``anaglyph``, ``depth``, ``frames``).
    path : Path
        Where the download goes (a ``.zip`` for ``frames``).
    """

    folder: Path
    source: Path
    display_name: str
    max_pixels: int
    format: str
    path: Path


def clip_formats() -> list[dict[str, Any]]:
    """Downloads a clip offers: every clip output format, the frames folder as a ``.frames.zip``."""
    from parallax.outputs.clip_registry import CLIP_FORMATS

    return [
        {"name": f.name, "extension": ".frames.zip" if f.folder else f.extensions[0], "description": f.description}
        for f in CLIP_FORMATS
    ]


def _rerun(job: ClipExportJob) -> Any:
    """The viewer's run of the clip again: same frames, rectification and settings (from ``run.json``)."""
    from parallax.server.clip_worker import CLIP_DIR, open_clip
    from parallax.stereo.clip_depth import ClipDepth
    from parallax.stereo.clip_rectify import ClipRectification
    from parallax.stereo.clip_types import ClipDepthSettings
    from parallax.stereo.types import Rectification

    record_path = job.folder / CLIP_DIR / "run.json"
    if not record_path.is_file():
        raise OutputError("this video has not been processed yet; wait until it is, then download")
    record = json.loads(record_path.read_text(encoding="utf-8"))
    r = record["rectification"]
    rect = ClipRectification(
        rectification=Rectification.from_dict(r),
        fit_frames=tuple(r["fit_frames"]),
        pooled_matches=int(r["pooled_matches"]),
        check_frames=tuple(r["check_frames"]),
        residual_px=tuple(r["residual_px"]),
        held_out=bool(r["held_out"]),
    )
    clip = open_clip(job.source, job.display_name, job.max_pixels)
    settings = ClipDepthSettings(matcher=record["matcher"], max_side_px=record["side_px"])
    return ClipDepth(clip, **record["selection"], settings=settings, rectification=rect)


def run_clip_export(job: ClipExportJob) -> Path:
    """Write one clip download to ``job.path`` (atomically): a video, or the frames folder zipped.

    Raises
    ------
    OutputError
        When the clip has not been processed (no ``run.json``), or the file cannot be written.
    """
    from parallax.outputs.clip_registry import ClipOutputOptions, find_clip_format, write_clip

    fmt = find_clip_format(job.path, job.format)
    run = _rerun(job)
    options = ClipOutputOptions(audio_source=job.source if run.clip.has_audio else None)
    if not fmt.folder:
        return write_clip(run, job.path, format=fmt.name, options=options)
    work = Path(tempfile.mkdtemp(prefix=".frames-", dir=job.path.parent))
    try:
        folder = write_clip(run, work / "frames", format=fmt.name, options=options)
        top = Path((re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(job.display_name).stem)[:60] or "clip") + ".frames")
        with atomic_output(job.path) as tmp:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
                for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                    archive.write(path, top / path.relative_to(folder))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return job.path
