"""The real scenes of the project's test data (``../shared/data``) that the data-value experiment uses.

Each :class:`RealScene` is one scene: the files that show it (one capture may
come in several formats -- the Panasonic GX8 shot is an MPO, a side-by-side
JPEG and two files, which the corpus folds into one sample), and the
contributor id it is stored under. One contributor per scene makes the split
by contributor a split by scene.

Kinds:

``capture``    consumer stereo files (MPO, HEIC, LIF, JPS, side-by-side)
``stereo-gt``  a Middlebury / ETH3D pair with ground-truth disparity
               (``stereo-gt/scenes.json``); trained on through the corpus
               like any capture (the matcher's disparity, not the ground
               truth), evaluated against its ground truth
``video``      the frames of a rectified stereo video, one capture per frame
               pair (the corpus drops near-duplicate frames); when clip
               samples exist, a clip source joins the same loader
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parallax.errors import InputFileError, ParameterError

__all__ = ["RealScene", "shared_scenes", "select", "DEFAULT_DATA"]

#: ``../shared/data`` relative to the working directory (the project root).
DEFAULT_DATA = Path("..") / "shared" / "data"

_CAPTURES: dict[str, tuple[tuple[str, ...], ...]] = {
    "3ds-sugarshack": (("captures/mpo/sugarshack.mpo",),),
    "3ds-frozenpond": (("captures/mpo/frozenpond.mpo",),),
    "gx8-mountain": (
        ("captures/mpo/Panasonic-DMC-GX8.mpo",),
        ("captures/sbs/Panasonic-DMC-GX8.jpg",),
        ("captures/sbs/Panasonic-DMC-GX8-left.jpg", "captures/sbs/Panasonic-DMC-GX8-right.jpg"),
    ),
    "gopro-plaza": (("captures/sbs/GOPR0.left-right.jpg",),),
    "calf-trail": (("captures/sbs/calf-left-right.jpg",),),
    "jps-mario": (("captures/sbs/02-super-mario.jps",),),
    "lif-cactus": (("captures/lif/Cactus.jpg",),),
    "heic-bedroom": (("captures/heic/vision-pro.HEIC",),),
    "heic-terrace": (("captures/heic/spatial_photo.heic",),),
}
_VIDEO: dict[str, tuple[str, str]] = {"video-office": ("video/bidavideo-demo/left", "video/bidavideo-demo/right")}
_STEREO_GT = "stereo-gt/scenes.json"


@dataclass(frozen=True, kw_only=True)
class RealScene:
    """One real scene.

    Parameters
    ----------
    scene_id : str
        Stable id (also the contributor id it is stored under).
    kind : {"capture", "stereo-gt", "video"}
    captures : tuple of tuple of Path
        The captures showing it: ``(file,)`` or ``(left, right)`` each.
    gt_manifest : Path or None
        ``scenes.json`` holding the scene (kind ``stereo-gt``), read by
        :func:`parallax.bench.datasets.load_scenes` for evaluation.
    """

    scene_id: str
    kind: str
    captures: tuple[tuple[Path, ...], ...]
    gt_manifest: Path | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("capture", "stereo-gt", "video"):
            raise ParameterError(f"RealScene.kind must be capture, stereo-gt or video, got {self.kind!r}")
        if not self.captures:
            raise ParameterError(f"scene {self.scene_id} has no capture files")

    @property
    def contributor(self) -> str:
        """The contributor id the scene's samples are stored under."""
        return self.scene_id

    @property
    def files(self) -> list[Path]:
        """Every file of the scene."""
        return [p for capture in self.captures for p in capture]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (the data lists)."""
        return {
            "scene_id": self.scene_id,
            "kind": self.kind,
            "contributor": self.contributor,
            "files": [str(p) for p in self.files],
        }


def shared_scenes(data: str | Path = DEFAULT_DATA) -> dict[str, RealScene]:
    """Every real scene of the test data folder, by id.

    Raises
    ------
    InputFileError
        If ``data`` is not the test data folder (names ``--data``).
    """
    root = Path(data)
    manifest = root / _STEREO_GT
    if not root.is_dir() or not manifest.is_file():
        raise InputFileError(
            f"{root} is not the test data folder (no {_STEREO_GT}); pass --data with the path of ../shared/data"
        )
    scenes: dict[str, RealScene] = {}
    for sid, captures in _CAPTURES.items():
        scenes[sid] = RealScene(
            scene_id=sid, kind="capture", captures=tuple(tuple(root / f for f in files) for files in captures)
        )
    try:
        entries = json.loads(manifest.read_text(encoding="utf-8"))["scenes"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputFileError(f"{manifest}: not a scenes.json manifest ({exc}); restore the file") from exc
    for name, entry in entries.items():
        folder = manifest.parent / entry.get("folder", name)
        pair = (folder / entry["left"], folder / entry["right"])
        scenes[name] = RealScene(scene_id=name, kind="stereo-gt", captures=(pair,), gt_manifest=manifest)
    for sid, (left_dir, right_dir) in _VIDEO.items():
        lefts = sorted((root / left_dir).glob("left*.png"))
        rights = sorted((root / right_dir).glob("right*.png"))
        if lefts and len(lefts) == len(rights):
            scenes[sid] = RealScene(scene_id=sid, kind="video", captures=tuple(zip(lefts, rights, strict=True)))
    return scenes


def select(scenes: dict[str, RealScene], ids: Sequence[str], *, role: str) -> list[RealScene]:
    """The scenes named by ``ids``, in order; every file must exist.

    Raises
    ------
    ParameterError
        An unknown id (names the known ones).
    InputFileError
        A file of a chosen scene is missing.
    """
    chosen = []
    for sid in ids:
        if sid not in scenes:
            raise ParameterError(f"unknown {role} scene {sid!r}; known scenes: {', '.join(sorted(scenes))}")
        scene = scenes[sid]
        for path in scene.files:
            if not path.is_file():
                raise InputFileError(f"{path} (scene {sid}) does not exist; check --data")
        chosen.append(scene)
    return chosen
