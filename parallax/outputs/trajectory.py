"""Camera trajectories of a clip as files: ``poses.json``, TUM ``trajectory.txt``, nerfstudio ``transforms.json``.

* ``poses.json`` -- one entry per frame: index, timestamp (seconds), the 4x4
  camera-to-world matrix of the left camera in OpenCV axes (x right, y down,
  z forward; the world is the first frame's camera), the odometry status and
  quality figures, and the translation unit (``"m"`` or ``"baseline"``).
* ``trajectory.txt`` -- the TUM RGB-D benchmark format: a ``#`` header and one
  line ``timestamp tx ty tz qx qy qz qw`` per frame (camera-to-world;
  Hamilton quaternion written x y z w as TUM does; ``docs/conventions.md``
  keeps w first in memory).
* ``transforms.json`` -- the nerfstudio / instant-ngp convention: frames with
  ``file_path`` and a 4x4 ``transform_matrix`` that is camera-to-world in
  OpenGL axes (x right, y up, z back): ``T_gl = T_cv @ diag(1, -1, -1, 1)``.
  Both rectified views of each frame are listed: the right camera sits one
  baseline along the left camera's x axis. Intrinsics are the rectified
  pinhole (``camera_model: "OPENCV"`` with zero distortion); when the right
  view's principal point differs (a disparity offset), every frame carries
  its own ``fl_x, fl_y, cx, cy, w, h``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from parallax.capture.types import CameraIntrinsics
from parallax.errors import InputFileError
from parallax.stereo.odometry import PoseEstimate, rotation_to_quaternion

__all__ = [
    "OPENCV_TO_OPENGL",
    "PoseRecord",
    "poses_document",
    "tum_text",
    "read_tum",
    "transforms_document",
]

#: Right-multiplied onto an OpenCV camera-to-world matrix it gives the OpenGL/nerfstudio one.
OPENCV_TO_OPENGL = np.diag([1.0, -1.0, -1.0, 1.0])

#: (frame index, timestamp in seconds, pose) of one frame.
PoseRecord = tuple[int, float, PoseEstimate]


def poses_document(
    records: Sequence[PoseRecord], *, units: str, quality: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The JSON document of ``poses.json`` (see the module docstring)."""
    return {
        "convention": "camera_to_world, 4x4, OpenCV camera axes (x right, y down, z forward); "
        "world = the first frame's left camera",
        "units": units,
        "quality": quality or {},
        "frames": [{"index": int(i), "timestamp_s": float(t), **pose.to_dict()} for i, t, pose in records],
    }


def tum_text(records: Sequence[PoseRecord]) -> str:
    """TUM trajectory text: ``timestamp tx ty tz qx qy qz qw`` per line (camera-to-world)."""
    lines = ["# parallax camera trajectory (TUM format): timestamp tx ty tz qx qy qz qw, camera-to-world"]
    for _, t, pose in records:
        m = pose.camera_to_world
        w, x, y, z = rotation_to_quaternion(m[:3, :3])
        tx, ty, tz = (float(v) for v in m[:3, 3])
        lines.append(f"{t:.6f} {tx:.9f} {ty:.9f} {tz:.9f} {x:.9f} {y:.9f} {z:.9f} {w:.9f}")
    return "\n".join(lines) + "\n"


def read_tum(path: str | Path) -> list[tuple[float, np.ndarray]]:
    """Read a TUM trajectory: ``(timestamp, 4x4 camera-to-world)`` per line.

    Raises
    ------
    InputFileError
        A line that is not eight numbers.
    """
    out = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        try:
            t, tx, ty, tz, qx, qy, qz, qw = (float(p) for p in parts)
        except ValueError:
            raise InputFileError(f"{path}: line {n} is not 'timestamp tx ty tz qx qy qz qw'") from None
        norm = math.sqrt(qx * qx + qy * qy + qz * qz + qw * qw)
        qx, qy, qz, qw = qx / norm, qy / norm, qz / norm, qw / norm
        r = np.array(
            [
                [1 - 2 * (qy * qy + qz * qz), 2 * (qx * qy - qz * qw), 2 * (qx * qz + qy * qw)],
                [2 * (qx * qy + qz * qw), 1 - 2 * (qx * qx + qz * qz), 2 * (qy * qz - qx * qw)],
                [2 * (qx * qz - qy * qw), 2 * (qy * qz + qx * qw), 1 - 2 * (qx * qx + qy * qy)],
            ]
        )
        m = np.eye(4)
        m[:3, :3], m[:3, 3] = r, (tx, ty, tz)
        out.append((t, m))
    return out


def _intrinsics(camera: CameraIntrinsics, cx: float) -> dict[str, Any]:
    return {
        "fl_x": float(camera.focal_px),
        "fl_y": float(camera.fy_px),
        "cx": float(cx),
        "cy": float(camera.cy_px),
        "w": int(camera.width),
        "h": int(camera.height),
    }


def transforms_document(
    records: Sequence[PoseRecord],
    *,
    camera: CameraIntrinsics,
    baseline: float,
    doffs_px: float,
    units: str,
    left_path: str = "left/{index:06d}.png",
    right_path: str | None = "right/{index:06d}.png",
    camera_note: str | None = None,
) -> dict[str, Any]:
    """The nerfstudio ``transforms.json`` document of a clip (see the module docstring).

    Parameters
    ----------
    records : sequence of PoseRecord
        Frame index, timestamp and left-camera pose of each frame.
    camera : CameraIntrinsics
        Rectified left-view intrinsics at the written image size.
    baseline : float
        Baseline in the pose unit (metres, or 1 for baselines).
    doffs_px : float
        Disparity offset: the right view's principal point is ``cx + doffs_px``.
    units : str
        ``"m"`` or ``"baseline"``.
    left_path, right_path : str
        Image paths relative to the file, formatted with ``index``; ``right_path=None`` lists left views only.
    camera_note : str, optional
        Where the intrinsics came from (e.g. an assumed field of view).
    """
    per_frame = right_path is not None and abs(doffs_px) > 1e-9
    offset = np.eye(4)
    offset[0, 3] = baseline
    frames = []
    for index, t, pose in records:
        c2w = pose.camera_to_world
        views = [("left", left_path, c2w, camera.cx_px)]
        if right_path is not None:
            views.append(("right", right_path, c2w @ offset, camera.cx_px + doffs_px))
        for eye, pattern, matrix, cx in views:
            entry: dict[str, Any] = {
                "file_path": pattern.format(index=index),
                "transform_matrix": (matrix @ OPENCV_TO_OPENGL).tolist(),
                "timestamp_s": float(t),
                "frame_index": int(index),
                "eye": eye,
            }
            if per_frame:
                entry.update(_intrinsics(camera, cx))
            frames.append(entry)
    doc: dict[str, Any] = {"camera_model": "OPENCV", "k1": 0.0, "k2": 0.0, "p1": 0.0, "p2": 0.0}
    if not per_frame:
        doc.update(_intrinsics(camera, camera.cx_px))
    doc["frames"] = frames
    doc["parallax"] = {
        "axis_conversion": "transform_matrix = camera_to_world_opencv @ diag(1, -1, -1, 1): OpenCV camera axes "
        "(x right, y down, z forward) to OpenGL/nerfstudio axes (x right, y up, z back)",
        "units": units,
        "baseline": float(baseline),
        "right_camera": "left camera translated by one baseline along its x axis; principal point cx + doffs_px",
        "doffs_px": float(doffs_px),
        "intrinsics": camera_note or "rectified pinhole of the clip",
    }
    return doc


def dump_json(path: Path, document: dict[str, Any]) -> None:
    """Write a JSON document (indented, newline-terminated)."""
    path.write_text(json.dumps(document, indent=2) + "\n")
