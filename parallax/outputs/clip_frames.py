"""A clip as a folder of frames, maps and poses (``parallax convert CLIP -o DIR/ --format frames``).

Layout (``NNNNNN`` = the source frame index, zero-padded to six digits)::

    clip.json            the clip's facts (StereoClip.to_dict()), the rectification and its
                         drift check, the rectified intrinsics, depth and pose units, the run summary
    left/NNNNNN.png      rectified left view (8-bit RGB)
    right/NNNNNN.png     rectified right view
    disparity/NNNNNN.pfm disparity of the left view, pixels, x_right = x_left - d, +inf = no value
    depth/NNNNNN.pfm     depth along z: metres when clip.json says "depth_units": "m", else relative; +inf = no value
    poses.json           camera-to-world per frame (OpenCV axes) with quality figures
    trajectory.txt       the same in TUM format
    transforms.json      nerfstudio convention (OpenGL axes), both views of every frame

Everything is written into a hidden sibling folder and renamed into place
at the end (:func:`parallax.outputs.clip_registry.write_clip`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from parallax.capture.types import ASSUMED_HFOV_DEG, CameraIntrinsics
from parallax.errors import OutputError
from parallax.io.maps import write_pfm
from parallax.outputs.trajectory import (
    PoseRecord,
    dump_json,
    poses_document,
    transforms_document,
    tum_text,
)
from parallax.stereo.clip_depth import ClipDepth, FrameDepth
from parallax.stereo.odometry import trajectory_quality

__all__ = ["FramesFolderWriter"]

_SUBFOLDERS = ("left", "right", "disparity", "depth")


def _png(path: Path, rgb: np.ndarray) -> None:
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:  # pragma: no cover - only fails on invalid arrays
        raise OutputError(f"cannot encode {path.name}")
    path.write_bytes(buf.tobytes())


class FramesFolderWriter:
    """Writes :class:`FrameDepth` objects into a folder (see the module docstring).

    Parameters
    ----------
    folder : path
        An empty folder (the temporary one :func:`write_clip` made).
    run : ClipDepth
        The run that produces the frames (for the clip's facts and summary).
    """

    def __init__(self, folder: str | Path, run: ClipDepth) -> None:
        self.folder = Path(folder)
        self.run = run
        for name in _SUBFOLDERS:
            (self.folder / name).mkdir(parents=True, exist_ok=True)
        self.records: list[PoseRecord] = []
        self._first: FrameDepth | None = None

    def write(self, frame: FrameDepth) -> None:
        """Write one frame's views and maps."""
        result = frame.result
        name = f"{frame.index:06d}"
        _png(self.folder / "left" / f"{name}.png", result.image)
        if result.right_image is not None:
            _png(self.folder / "right" / f"{name}.png", result.right_image)
        if result.disparity_px is not None:
            write_pfm(self.folder / "disparity" / f"{name}.pfm", result.disparity_px)
        write_pfm(self.folder / "depth" / f"{name}.pfm", result.depth)
        if frame.pose is not None:
            self.records.append((frame.index, frame.timestamp_s, frame.pose))
        if self._first is None:
            self._first = frame

    def close(self) -> None:
        """Write ``clip.json`` and the trajectory files."""
        first = self._first
        if first is None:
            raise OutputError("no frame was written; nothing to save")
        result = first.result
        summary = self.run.summary()
        units = self.run.pose_units
        metric = bool(result.depth_is_metric)
        camera = result.camera
        note = "rectified pinhole of the clip"
        if camera is None:
            h, w = result.image.shape[:2]
            camera = CameraIntrinsics.from_hfov(hfov_deg=ASSUMED_HFOV_DEG, width=w, height=h)
            note = f"assumed: the clip states no focal length, a {ASSUMED_HFOV_DEG:g} degree field of view was used"
        scale = result.settings.get("relative_depth_scale")
        baseline = float(result.baseline_m) if metric and result.baseline_m is not None else 1.0
        clip_doc: dict[str, Any] = {
            "clip": self.run.clip.to_dict(),
            "rectification": self.run.rectification.to_dict(),
            "intrinsics": {**camera.to_dict(), "K": camera.K.tolist(), "note": note},
            "baseline": baseline,
            "doffs_px": float(result.doffs_px),
            "depth_units": "m" if metric else "relative",
            "depth": result.settings.get("depth"),
            "pose_units": units,
            # relative depth times this = depth in the pose unit (baselines)
            "relative_depth_to_pose_units": None if metric or scale is None else float(camera.focal_px * scale),
            "summary": summary,
            "files": {
                "left": "left/NNNNNN.png",
                "right": "right/NNNNNN.png",
                "disparity": "disparity/NNNNNN.pfm (pixels, x_right = x_left - d, +inf = no value)",
                "depth": "depth/NNNNNN.pfm (+inf = no value)",
                "poses": "poses.json",
                "trajectory": "trajectory.txt (TUM)",
                "transforms": "transforms.json (nerfstudio)",
            },
        }
        dump_json(self.folder / "clip.json", clip_doc)
        if self.records:
            quality = {**trajectory_quality([p for _, _, p in self.records]), "units": units}
            dump_json(self.folder / "poses.json", poses_document(self.records, units=units, quality=quality))
            (self.folder / "trajectory.txt").write_text(tum_text(self.records))
            doc = transforms_document(
                self.records,
                camera=camera,
                baseline=baseline,
                doffs_px=float(result.doffs_px),
                units=units,
                right_path="right/{index:06d}.png" if result.right_image is not None else None,
                camera_note=note,
            )
            dump_json(self.folder / "transforms.json", doc)

    def abort(self) -> None:
        """Nothing to release (the caller removes the folder)."""
