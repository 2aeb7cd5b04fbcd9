"""A folder of stereo frames as a :class:`~parallax.capture.clip.StereoClip`.

Two layouts are recognised:

* ``left/`` and ``right/`` sub-folders holding the same number of image files
  (``left/left000000.png`` + ``right/right000000.png``, or any names): the
  n-th file of each, in natural order (``frame2`` before ``frame10``), is a pair;
* files named ``*_left.<ext>`` and ``*_right.<ext>`` (also ``-left``/``-right``)
  side by side in one folder, at least two pairs: pairs share the part before
  the eye tag.

The folder states no frame rate: ``ClipReadOptions.fps`` gives one, else 30 is
assumed and ``metadata["fps_source"]`` says so. Frames are read one pair at a
time; the eye order comes from the names (``eyes`` forces a swap).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from parallax.capture.clip import FramePair, StereoClip
from parallax.capture.clip_registry import ClipReaderSpec, ClipReadOptions, register_clip_reader
from parallax.capture.image_io import load_image
from parallax.capture.registry import FileProbe
from parallax.errors import InputFileError, ParameterError

__all__ = ["FRAME_EXTENSIONS", "frame_pairs_in", "read_frames_folder"]

#: Image files a frame folder may hold.
FRAME_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".ppm")
#: Frame rate assumed when the folder states none.
DEFAULT_FOLDER_FPS = 30.0

_EYE_TAG = re.compile(r"^(?P<key>.*?)[_\-](?P<eye>left|right)$", re.IGNORECASE)
#: A folder of tagged files is a clip only from this many complete pairs on (one pair is a still pair).
_MIN_TAGGED_PAIRS = 2


def _natural_key(path: Path) -> list[object]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def _images(folder: Path) -> list[Path]:
    return sorted(
        (
            p
            for p in folder.iterdir()
            if p.is_file() and p.suffix.lower() in FRAME_EXTENSIONS and not p.name.startswith(".")
        ),
        key=_natural_key,
    )


def frame_pairs_in(folder: Path) -> list[tuple[Path, Path]] | None:
    """The (left, right) file pairs of a frame folder in frame order, or ``None`` if it is not one.

    Raises
    ------
    InputFileError
        The folder has the layout but the two eyes hold different numbers of frames.
    """
    left_dir, right_dir = folder / "left", folder / "right"
    if left_dir.is_dir() and right_dir.is_dir():
        lefts, rights = _images(left_dir), _images(right_dir)
        if not lefts and not rights:
            return None
        if len(lefts) != len(rights):
            raise InputFileError(
                f"{folder.name}: left/ holds {len(lefts)} frames and right/ {len(rights)}; "
                "give the same number of frames for both eyes"
            )
        return list(zip(lefts, rights, strict=True))
    by_key: dict[str, dict[str, Path]] = {}
    for p in _images(folder):
        m = _EYE_TAG.match(p.stem)
        if m is None:
            continue
        eye = m["eye"].lower()
        by_key.setdefault(m["key"], {})[eye] = p
    complete = {k: v for k, v in by_key.items() if len(v) == 2}
    if len(complete) < _MIN_TAGGED_PAIRS:
        return None
    missing = sorted(k for k in by_key if k not in complete)
    if missing:
        raise InputFileError(
            f"{folder.name}: frame {missing[0]!r} has only one eye ({len(missing)} such); "
            "every *_left file needs its *_right file"
        )
    keys = sorted(complete, key=lambda k: _natural_key(Path(k)))
    return [(complete[k]["left"], complete[k]["right"]) for k in keys]


def _sniff(path: Path, probe: FileProbe | None) -> bool:
    if probe is not None or not path.is_dir():
        return False
    try:
        return frame_pairs_in(path) is not None
    except InputFileError:
        return True  # it is a frame folder, a broken one: the reader says what is wrong


def read_frames_folder(path: Path, options: ClipReadOptions) -> StereoClip:
    """Open a folder of stereo frames (see the module docstring).

    Raises
    ------
    InputFileError
        Unequal eye counts, an eye missing for a frame, or frames of different sizes.
    ParameterError
        A ``layout`` other than ``auto`` (the views are separate files).
    """
    if options.layout != "auto":
        raise ParameterError(
            f"layout={options.layout!r} does not apply to {path.name}, a folder of separate left and right frames; "
            "leave the layout on auto (use eyes='right-left' to swap the eyes)"
        )
    pairs = frame_pairs_in(path)
    if not pairs:
        raise InputFileError(f"{path.name} holds no stereo frames; give left/*.png + right/*.png")
    swap = options.eyes == "right-left"
    if swap:
        pairs = [(r, lft) for lft, r in pairs]
    fps = float(options.fps) if options.fps is not None else DEFAULT_FOLDER_FPS
    first = load_image(pairs[0][0], max_pixels=options.max_pixels)
    height, width = first.shape[:2]
    max_pixels = options.max_pixels

    def open_frames(start_s: float | None) -> Iterator[FramePair]:
        first_index = 0 if start_s is None else max(0, int(start_s * fps - 1e-6))
        for index in range(first_index, len(pairs)):
            left_path, right_path = pairs[index]
            left = load_image(left_path, max_pixels=max_pixels)
            right = load_image(right_path, max_pixels=max_pixels)
            if left.shape != (height, width, 3) or right.shape != (height, width, 3):
                raise InputFileError(
                    f"{path.name}: frame {index} ({left_path.name}, {right_path.name}) is not "
                    f"{width}x{height} like the first frame; give frames of one size"
                )
            yield FramePair(index=index, timestamp_s=index / fps, left=left, right=right)

    return StereoClip(
        source=path.name,
        format="frames",
        layout="separate",
        projection="rectilinear",
        width=width,
        height=height,
        fps=fps,
        frame_count=len(pairs),
        duration_s=len(pairs) / fps,
        open_frames=open_frames,
        eyes={
            "decision": f"{'right' if swap else 'left'}-named files = left eye{' (forced)' if swap else ''}",
            "source": "eyes option" if swap else "folder and file names",
            "evidence": None,
        },
        metadata={
            "fps_source": "option"
            if options.fps is not None
            else f"assumed {DEFAULT_FOLDER_FPS:g} (the folder states none)",
            "first_left": pairs[0][0].name,
            "first_right": pairs[0][1].name,
        },
    )


register_clip_reader(
    ClipReaderSpec(
        name="frames",
        description="folder of stereo frames (left/ + right/, or *_left / *_right files)",
        sniff=_sniff,
        extensions=(),
        read=read_frames_folder,
    )
)
