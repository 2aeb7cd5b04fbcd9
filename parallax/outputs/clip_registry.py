"""Clip outputs of ``parallax convert CLIP``: stereo and depth videos, and a frames folder.

The still formats live in :mod:`parallax.outputs.registry` (one
:class:`~parallax.stereo.types.DepthResult` each); a clip streams
:class:`~parallax.stereo.clip_depth.FrameDepth` objects into one writer, chosen
by ``--format NAME`` or by the output's extension:

=========== ================= ====================================================
name        output            what
=========== ================= ====================================================
sbs         ``.sbs.mp4``      rectified views side by side (left view on the left)
over-under  ``.ou.mp4``       rectified views, left view on top
anaglyph    ``.anaglyph.mp4`` red-cyan Dubois anaglyph
depth       ``.depth.mp4``    colourised depth preview (``--option layout=rgbd``: beside the view)
frames      a folder          views, disparity, depth, poses, transforms.json
=========== ================= ====================================================

:func:`write_clip` is atomic: it writes into a hidden sibling file or folder
and renames it into place only when every frame is done; on any error the
sibling is removed and what was at the path before is untouched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from parallax.errors import OutputError, ParameterError
from parallax.io.atomic import atomic_output, check_writable_dir
from parallax.stereo.clip_depth import ClipDepth, FrameDepth

__all__ = [
    "CLIP_FORMATS",
    "ClipOutputFormat",
    "ClipOutputOptions",
    "ClipWriter",
    "check_clip_options",
    "check_clip_target",
    "find_clip_format",
    "write_clip",
]


class ClipWriter(Protocol):
    """What a clip output writer does: take frames in order, then finish -- or be aborted after an error."""

    def write(self, frame: FrameDepth) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


@dataclass(frozen=True, kw_only=True)
class ClipOutputOptions:
    """Options of a clip writer.

    Parameters
    ----------
    extra : Mapping
        Format options from ``--option KEY=VALUE`` (``layout=rgbd`` for the depth video, ``crf``, ``preset``).
    audio_source : Path, optional
        The clip's container, to copy its audio into stereo videos (``None``: no audio).
    """

    extra: Mapping[str, Any] = field(default_factory=dict)
    audio_source: Path | None = None


@dataclass(frozen=True, kw_only=True)
class ClipOutputFormat:
    """One clip output format: ``open(path, run, options)`` returns its :class:`ClipWriter`."""

    name: str
    extensions: tuple[str, ...]
    description: str
    folder: bool
    open: Callable[[Path, ClipDepth, ClipOutputOptions], ClipWriter]


def _int_option(extra: Mapping[str, Any], key: str, default: int, lo: int, hi: int) -> int:
    value = extra.get(key, default)
    try:
        number = int(str(value))
    except ValueError:
        raise ParameterError(f"--option {key}={value!r} is not an integer; give e.g. {key}={default}") from None
    if not lo <= number <= hi:
        raise ParameterError(f"--option {key}={number} must be in {lo}..{hi}")
    return number


#: ``--option`` keys each clip format takes.
_OPTION_KEYS: dict[str, tuple[str, ...]] = {
    "sbs": ("crf", "preset"),
    "over-under": ("crf", "preset"),
    "anaglyph": ("crf", "preset"),
    "depth": ("crf", "preset", "layout"),
    "frames": (),
}


def check_clip_options(fmt: ClipOutputFormat, extra: Mapping[str, Any]) -> None:
    """Refuse ``--option`` keys or values ``fmt`` does not take, before any work.

    Raises
    ------
    ParameterError
        Naming the option and what the format takes.
    """
    known = _OPTION_KEYS.get(fmt.name, ())
    unknown = sorted(set(extra) - set(known))
    if unknown:
        takes = ", ".join(known) if known else "no options"
        raise ParameterError(f"--option {unknown[0]} is not an option of the {fmt.name} output; it takes {takes}")
    if "crf" in known:
        _video_options(extra)
    if "layout" in known:
        _depth_layout(extra)


def _depth_layout(extra: Mapping[str, Any]) -> str:
    layout = str(extra.get("layout", "depth"))
    if layout not in ("depth", "rgbd"):
        raise ParameterError(f"--option layout={layout!r} is not depth or rgbd")
    return layout


def _video_options(extra: Mapping[str, Any]) -> dict[str, Any]:
    preset = str(extra.get("preset", "veryfast"))
    presets = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
    if preset not in presets:
        raise ParameterError(f"--option preset={preset!r} is not an x264 preset; choose one of {', '.join(presets)}")
    return {"crf": _int_option(extra, "crf", 20, 0, 51), "preset": preset}


def _video_settings(run: ClipDepth, options: ClipOutputOptions) -> dict[str, Any]:
    sel = run.selection
    return {
        "fps": float(run.clip.fps) / sel.step,
        "start_s": float(sel.start_s or 0.0),
        **_video_options(options.extra),
    }


def _stereo_video(layout: str) -> Callable[[Path, ClipDepth, ClipOutputOptions], ClipWriter]:
    def open_writer(path: Path, run: ClipDepth, options: ClipOutputOptions) -> ClipWriter:
        from parallax.render.video_formats import AudioCopy, StereoVideoWriter

        settings = _video_settings(run, options)
        audio = None
        if options.audio_source is not None and run.clip.has_audio:
            audio = AudioCopy(options.audio_source, start_s=settings["start_s"])
        return StereoVideoWriter(path, layout=layout, audio=audio, **settings)  # type: ignore[arg-type]

    return open_writer


def _depth_video(path: Path, run: ClipDepth, options: ClipOutputOptions) -> ClipWriter:
    from parallax.render.video_formats import DepthVideoWriter

    settings = _video_settings(run, options)
    return DepthVideoWriter(path, layout=_depth_layout(options.extra), **settings)  # type: ignore[arg-type]


def _frames_folder(path: Path, run: ClipDepth, options: ClipOutputOptions) -> ClipWriter:
    from parallax.outputs.clip_frames import FramesFolderWriter

    return FramesFolderWriter(path, run)


CLIP_FORMATS: tuple[ClipOutputFormat, ...] = (
    ClipOutputFormat(
        name="sbs",
        extensions=(".sbs.mp4",),
        description="rectified views side by side, left view on the left (H.264 MP4, audio copied)",
        folder=False,
        open=_stereo_video("sbs"),
    ),
    ClipOutputFormat(
        name="over-under",
        extensions=(".ou.mp4",),
        description="rectified views, left view on top (H.264 MP4, audio copied)",
        folder=False,
        open=_stereo_video("ou"),
    ),
    ClipOutputFormat(
        name="anaglyph",
        extensions=(".anaglyph.mp4",),
        description="red-cyan Dubois anaglyph (H.264 MP4, audio copied)",
        folder=False,
        open=_stereo_video("anaglyph"),
    ),
    ClipOutputFormat(
        name="depth",
        extensions=(".depth.mp4",),
        description="colourised depth preview, near = red (H.264 MP4; --option layout=rgbd puts the view beside it)",
        folder=False,
        open=_depth_video,
    ),
    ClipOutputFormat(
        name="frames",
        extensions=(),
        description="a folder: clip.json, left/ right/ PNGs, disparity/ depth/ PFMs, poses.json, trajectory.txt, "
        "transforms.json",
        folder=True,
        open=_frames_folder,
    ),
)


def _known() -> str:
    exts = [e for f in CLIP_FORMATS for e in f.extensions]
    return f"{', '.join(exts)}, or a folder with --format frames"


def find_clip_format(path: str | Path, format: str | None = None) -> ClipOutputFormat:
    """The clip output format for ``path``: by ``format`` name, else by extension (a trailing ``/`` = frames).

    Raises
    ------
    ParameterError
        An unknown ``format`` name.
    OutputError
        An extension no clip format has (a still format such as ``.ply`` included).
    """
    if format is not None:
        for fmt in CLIP_FORMATS:
            if fmt.name == format.lower():
                return fmt
        names = ", ".join(f.name for f in CLIP_FORMATS)
        raise ParameterError(f"--format {format!r} is not a clip output; choose one of: {names}")
    text = str(path)
    name = Path(path).name.lower()
    if text.endswith(("/", os.sep)) or Path(path).is_dir():
        return next(f for f in CLIP_FORMATS if f.folder)
    for fmt in CLIP_FORMATS:
        if any(name.endswith(ext) for ext in fmt.extensions):
            return fmt
    raise OutputError(f"cannot write a clip to {path}: for a stereo video write {_known()}")


def check_clip_target(path: str | Path, fmt: ClipOutputFormat) -> Path:
    """Check that ``path`` can take ``fmt`` before any work: a folder must be new or empty.

    Raises
    ------
    OutputError
        Missing or unwritable parent folder, a file where a folder goes (or the reverse),
        a folder that is not empty.
    """
    target = Path(str(path).rstrip("/\\") or ".")
    if fmt.folder:
        if target.exists() and not target.is_dir():
            raise OutputError(f"cannot write frames into {target}: it is a file; give a folder")
        if target.is_dir() and any(target.iterdir()):
            raise OutputError(f"cannot write frames into {target}: the folder is not empty; give a new folder")
        check_writable_dir(target)
    else:
        check_writable_dir(target)
    return target


@contextlib.contextmanager
def _atomic_folder(target: Path) -> Iterator[Path]:
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
        if target.is_dir():
            target.rmdir()  # checked empty before the work began
        os.replace(tmp, target)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}; choose another folder") from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_clip(
    run: ClipDepth,
    path: str | Path,
    *,
    format: str | None = None,
    options: ClipOutputOptions | None = None,
    on_frame: Callable[[FrameDepth], None] | None = None,
) -> Path:
    """Stream every frame of ``run`` into the output at ``path``, atomically.

    Parameters
    ----------
    run : ClipDepth
        The clip's processing (its rectification is estimated first if needed).
    path : path
        Output file or folder.
    format : str, optional
        A :data:`CLIP_FORMATS` name; default from the extension.
    options : ClipOutputOptions, optional
    on_frame : callable, optional
        Called after each frame is written (progress).

    Returns
    -------
    Path
        The output path.
    """
    fmt = find_clip_format(path, format)
    target = check_clip_target(path, fmt)
    options = options or ClipOutputOptions()
    check_clip_options(fmt, options.extra)
    holder = _atomic_folder(target) if fmt.folder else atomic_output(target)
    with holder as tmp:
        writer = fmt.open(tmp, run, options)
        try:
            for frame in run:
                writer.write(frame)
                if on_frame is not None:
                    on_frame(frame)
        except BaseException:
            writer.abort()  # release files; the temporary output is removed on the way out
            raise
        writer.close()
    return target
