"""Synthetic layout: folders written by ``parallax synth`` (corpus sample folders).

A synth sample folder holds ``meta.json`` (source kind ``synthetic``, generator
``parallax.synth``), ``left.png``, ``right.png`` and the exact ground truth
``disparity_exact.npy`` (float32 pixels, NaN = sky) with
``occlusion.png`` (255 = the right view does not see the pixel); see
``parallax/synth/export.py``. Calibration (K, baseline, ``doffs = 0``) comes
from ``meta.json``. Pairs made with a rectification error are rectified here with
the residual homography their ``meta.json`` states. The search range comes from
the ground truth (there is no dataset bound).

Synthetic *sequences* (clip sample folders written by ``parallax synth --frames N``)
are read by :func:`find_sequences` / :func:`load_sequence` as
:class:`~parallax.bench.sequence.StereoSequence` objects for the temporal
evaluation (:mod:`parallax.bench.temporal`): per frame the views,
``disparity_exact`` (NaN = sky), the stereo ``occlusion``, the forward ``flow``,
``flow_occlusion`` and ``disparity_change``; frames are read one at a time.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from parallax.bench.datasets.source import SceneSource, assemble_scene, scene_name
from parallax.bench.scene import SceneCalib, StereoScene
from parallax.capture.types import CameraIntrinsics

if TYPE_CHECKING:
    from parallax.bench.sequence import StereoSequence

__all__ = [
    "NAME",
    "DESCRIPTION",
    "find",
    "load",
    "SEQUENCE_LAYOUT",
    "is_synth_clip_dir",
    "find_sequences",
    "load_sequence",
]

SEQUENCE_LAYOUT = "synth-clip"

NAME = "synth"
DESCRIPTION = (
    "parallax synth sample folders: meta.json (synthetic), left.png, right.png, disparity_exact.npy, occlusion.png"
)


def find(folder: Path, root: Path) -> list[SceneSource]:
    """One scene when ``folder`` is a synth sample folder (a synth dataset folder is walked into by the caller)."""
    from parallax.synth.reader import is_synth_sample_dir

    if not is_synth_sample_dir(folder):
        return []
    files = {
        "left": folder / "left.png",
        "right": folder / "right.png",
        "gt": folder / "disparity_exact.npy",
        "nonocc": folder / "occlusion.png",
        "calib": folder / "meta.json",
    }
    return [SceneSource(name=scene_name(folder, root), layout=NAME, files=files)]


def load(source: SceneSource) -> StereoScene:
    """Read one synth sample folder (verifying its SHA-256 sums) as a benchmark scene."""
    from parallax.synth.reader import load_synth_scene

    s = load_synth_scene(source.files["left"].parent, rectify_right=True)
    h, w = s.gt_disparity.shape
    camera = CameraIntrinsics(focal_px=s.focal_px, cx_px=(w - 1) / 2.0, cy_px=(h - 1) / 2.0, width=w, height=h)
    return assemble_scene(
        source,
        left=s.left,
        right=s.right,
        gt=s.gt_disparity,
        nonocc=s.nonocc,
        calib=SceneCalib(camera=camera, baseline_m=s.baseline_m, doffs_px=0.0),
    )


def is_synth_clip_dir(path: Path) -> bool:
    """True if ``path`` is a clip sample folder of a synthetic sequence (source kind ``synthetic``)."""
    import json

    from parallax.corpus.clip_sample import CLIP_FORMAT

    try:
        meta = json.loads((Path(path) / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(meta, dict)
        and meta.get("format") == CLIP_FORMAT
        and (meta.get("source") or {}).get("kind") == "synthetic"
    )


def find_sequences(path: str | Path) -> list[SceneSource]:
    """The synthetic sequences at ``path``: itself if it is a clip folder, else its clip sub-folders (sorted)."""
    path = Path(path)
    if not path.is_dir():
        return []
    if is_synth_clip_dir(path):
        folders = [path]
        root = path
    else:
        folders = sorted(
            p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".") and is_synth_clip_dir(p)
        )
        root = path
    return [
        SceneSource(name=scene_name(f, root), layout=SEQUENCE_LAYOUT, files={"clip": f, "calib": f / "meta.json"})
        for f in folders
    ]


def load_sequence(source: SceneSource, *, verify: bool = True) -> StereoSequence:
    """Open one synthetic clip as a :class:`~parallax.bench.sequence.StereoSequence` (frames read on demand).

    The search range is :func:`~parallax.bench.scene.range_from_ground_truth` of all
    frames' exact disparity (one range for the sequence).

    Raises
    ------
    InputFileError
        If the clip is corrupt or lacks the ground truth (``disparity_exact``,
        ``occlusion``, ``flow``, ``flow_occlusion``, ``disparity_change``).
    """
    import numpy as np

    from parallax.bench.scene import range_from_ground_truth
    from parallax.bench.sequence import SequenceFrameTruth, StereoSequence
    from parallax.corpus.clip_reader import open_clip_sample_dir
    from parallax.errors import InputFileError

    folder = Path(source.files["clip"])
    reader = open_clip_sample_dir(folder, verify=verify)
    needed = {"disparity_exact", "occlusion", "flow", "flow_occlusion", "disparity_change"}
    missing = sorted(needed - set(reader.extra_names))
    if missing:
        raise InputFileError(
            f"{folder} lacks the ground truth {missing}; re-generate it with parallax synth --frames N"
        )
    gts = [reader.read_stream("disparity_exact", i) for i in range(len(reader))]
    finite = np.concatenate([g[np.isfinite(g)] for g in gts])
    if finite.size == 0:
        raise InputFileError(f"{folder}: the ground truth has no valid pixel in any frame")
    lo, hi = range_from_ground_truth(finite)
    times = reader.timestamps_s

    def read_frame(i: int) -> SequenceFrameTruth:
        gt = reader.read_stream("disparity_exact", i).astype(np.float32)
        flow = reader.read_stream("flow", i).astype(np.float32)
        return SequenceFrameTruth(
            index=i,
            timestamp_s=float(times[i]),
            left=reader.read_stream("left", i),
            right=reader.read_stream("right", i),
            gt_disparity_px=gt,
            nonocc=np.isfinite(gt) & ~reader.read_stream("occlusion", i).astype(bool),
            flow_px=flow,
            flow_visible=np.isfinite(flow[..., 0]) & ~reader.read_stream("flow_occlusion", i).astype(bool),
            disparity_change_px=reader.read_stream("disparity_change", i).astype(np.float32),
        )

    return StereoSequence(
        name=source.name,
        frame_count=len(reader),
        width=reader.width,
        height=reader.height,
        fps=float(reader.info.fps),
        min_disparity=lo,
        max_disparity=hi,
        dataset=SEQUENCE_LAYOUT,
        source=str(folder),
        read_frame=read_frame,
    )
