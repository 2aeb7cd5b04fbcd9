"""Stereo benchmark datasets, read as their original distributions lay them out.

Point :func:`find_scenes` at a download (a whole Middlebury or KITTI folder, one
scene folder, or a ``scenes.json`` manifest) and it walks the folders, asking each
layout in :data:`LAYOUTS` (in order) whether a folder is one of its scenes.

=================  ===========================================================
layout             files
=================  ===========================================================
``scenes-json``    ``scenes.json`` manifest (``../shared/data/stereo-gt``): per
                   scene ``left``/``right``/``gt`` and its ``gt_encoding``
``kitti``          KITTI 2015 ``image_2``/``image_3``/``disp_occ_0``/``disp_noc_0``
                   and 2012 ``colored_0``/``colored_1``/``disp_occ``/``disp_noc``
                   (uint16 PNG, ``d = value / 256``, 0 = no value)
``eth3d``          ETH3D two-view: ``im0.png``, ``im1.png``, ``calib.txt`` with
                   ``disp0GT.pfm``/``mask0nocc.png`` beside them or in the
                   ``*_gt`` sibling folder of the official download
``middlebury2014`` ``im0.png``, ``im1.png``, ``disp0.pfm`` or ``disp0GT.pfm``,
                   ``calib.txt``, optional ``mask0nocc.png`` (2014 perfect /
                   imperfect folders, MiddEval3)
``middlebury2005`` 2005/2006 ``view1.png``/``view5.png``/``disp1.png`` and the
                   third-size ``left.png``/``right.png``/``true_disp.png``
                   (``d = value`` at every size)
``middlebury2003`` ``im2.png``/``im6.png``/``disp2.png`` (quarter size:
                   ``d = value / 4``; half: ``/ 2``; full: ``/ 1``)
``middlebury2001`` Tsukuba (``imL``/``imR``/``groundtruth.png`` or
                   ``scene1.row3.col3``/``col4``/``truedisp.row3.col3.pgm``,
                   ``d = value / 16``) and ``im2``/``im6``/``disp2`` (``/ 8``)
=================  ===========================================================
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from parallax.bench.datasets.source import SceneSource
from parallax.bench.scene import StereoScene
from parallax.errors import InputFileError, ParameterError, UnsupportedFormatError

__all__ = ["LAYOUTS", "SceneSource", "find_scenes", "select_scenes", "load_scenes"]

#: Layout name -> module (imported only when used). Order matters: the first
#: layout that claims a folder reads it, and its sub-folders are not searched.
LAYOUTS: dict[str, str] = {
    "scenes-json": "parallax.bench.datasets.manifest",
    "synth": "parallax.bench.datasets.synth",  # parallax synth sample folders (added by the synth engineer)
    "kitti": "parallax.bench.datasets.kitti",
    "eth3d": "parallax.bench.datasets.eth3d",
    "middlebury2014": "parallax.bench.datasets.middlebury2014",
    "middlebury2005": "parallax.bench.datasets.middlebury2005",
    "middlebury2003": "parallax.bench.datasets.middlebury2003",
    "middlebury2001": "parallax.bench.datasets.middlebury2001",
}

#: How many folder levels below the given path are searched for scenes.
MAX_DEPTH = 4


def find_scenes(path: str | Path) -> list[SceneSource]:
    """Every scene with ground truth under ``path``, sorted by name.

    Parameters
    ----------
    path : path-like
        A ``scenes.json`` manifest, a folder holding one, a scene folder, or a
        dataset folder (searched up to :data:`MAX_DEPTH` levels down).

    Raises
    ------
    InputFileError
        If ``path`` does not exist or holds no scene of a known layout.
    UnsupportedFormatError
        If ``path`` is a file other than a JSON manifest.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"dataset {path} not found; give a dataset folder or a scenes.json manifest")
    if path.is_file():
        if path.suffix.lower() != ".json":
            raise UnsupportedFormatError(
                f"dataset {path} is a file but not a scenes.json manifest; give the dataset folder instead"
            )
        return sorted(importlib.import_module(LAYOUTS["scenes-json"]).find_manifest(path), key=lambda s: s.name)
    found: list[SceneSource] = []
    _walk(path, path, 0, found)
    if not found:
        raise InputFileError(
            f"no stereo scene with ground truth found in {path} (searched {MAX_DEPTH} folder levels); "
            f"known layouts: {', '.join(LAYOUTS)} (see parallax.bench.datasets)"
        )
    names = [s.name for s in found]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputFileError(f"dataset {path}: scene names {dupes} occur twice; point at one sub-folder")
    return sorted(found, key=lambda s: s.name)


def _walk(folder: Path, root: Path, depth: int, found: list[SceneSource]) -> None:
    for layout in LAYOUTS.values():
        sources = importlib.import_module(layout).find(folder, root)
        if sources:
            found.extend(sources)
            return
    if depth >= MAX_DEPTH:
        return
    try:
        children = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError as exc:
        raise InputFileError(f"cannot list {folder}: {exc.strerror}") from exc
    for child in children:
        _walk(child, root, depth + 1, found)


def select_scenes(sources: Sequence[SceneSource], names: Sequence[str] | None) -> list[SceneSource]:
    """The sources named in ``names`` (in that order), or all of them when ``names`` is empty.

    A name matches a scene's full name or its last path part (``cones`` does not
    match ``middlebury2003-cones``; ``000000_10`` matches ``training/000000_10``).

    Raises
    ------
    ParameterError
        Naming the unknown scene and listing (some of) the available ones.
    """
    if not names:
        return list(sources)
    by_name = {s.name: s for s in sources}
    chosen: list[SceneSource] = []
    for name in names:
        hits = [by_name[name]] if name in by_name else [s for s in sources if s.name.rsplit("/", 1)[-1] == name]
        if len(hits) != 1:
            available = ", ".join(s.name for s in sources[:12]) + (" ..." if len(sources) > 12 else "")
            why = "is ambiguous" if hits else "is not in the dataset"
            raise ParameterError(f"--scene {name!r} {why}; available: {available}")
        if hits[0] not in chosen:
            chosen.append(hits[0])
    return chosen


def load_scenes(path: str | Path, names: Sequence[str] | None = None) -> Iterator[StereoScene]:
    """Read the scenes under ``path`` (optionally only ``names``) one at a time."""
    for source in select_scenes(find_scenes(path), names):
        yield source.load()
