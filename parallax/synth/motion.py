"""Motion in synthetic sequences: camera paths (handheld, walk, orbit) and moving objects.

Plain numpy, seeded. World frame: right-handed, metres, **y up** (the scene's);
camera poses are 4x4 camera-to-world matrices with OpenCV camera axes (x right,
y down, z forward), as in :mod:`parallax.synth.rig`. Time is in seconds.

Camera paths start at the scene's planned left camera (frame 0 is the planned
view) and are smooth in time (sums of sinusoids and constant rates, no noise
that changes from frame to frame), so the motion between frames is what a person
holding a phone or walking with it makes:

``handheld``
    A slow pan (3-12 degrees per second) and tilt, a slow drift (0.02-0.25 m/s),
    and hand shake: three sinusoids per axis between 0.5 and 3 Hz, a few mm and
    under a degree.
``walk``
    Walking forward along the camera's horizontal heading at 0.5-1.2 m/s, turning
    at up to 15 degrees per second, with the head bobbing up and down once per step
    (1.6-2.1 steps per second, 1-3 cm), swaying sideways once per stride, looking
    around (a slow 3-12 degree yaw swing at 0.1-0.35 Hz), and a little hand shake.
``orbit``
    Circling a point of the scene about the vertical axis at 8-20 degrees per
    second, looking at it, with light hand shake.

Moving objects translate horizontally (0.15-0.6 m/s, mostly across the view) and
spin about the vertical axis through their centre (up to 60 degrees per second):
``M(t) = T(c + v t) R_y(w t) T(-c)`` applied on top of their placement.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from parallax.errors import ParameterError
from parallax.synth.rig import axis_angle_matrix

__all__ = [
    "CameraPath",
    "ObjectMotion",
    "draw_path_params",
    "path_poses",
    "plan_camera_path",
    "draw_object_motion",
    "object_transform",
    "UP",
]

UP = np.array([0.0, 1.0, 0.0])
#: Speed scales tried, in order, until a camera path stays clear of the scene (then it only shakes).
SPEED_STEPS = (1.0, 0.5, 0.25, 0.125)


@dataclass(frozen=True, kw_only=True)
class CameraPath:
    """A camera path of one sequence.

    Attributes
    ----------
    kind : str
        ``"handheld"``, ``"walk"`` or ``"orbit"``.
    params : Mapping
        The drawn parameters (JSON-ready), for ``meta.json``.
    speed_scale : float
        Factor on the drawn speeds that kept the path clear of the scene (1 = as drawn;
        0 = the camera only shakes).
    poses : numpy.ndarray
        ``(F, 4, 4)`` float64 camera-to-world poses of the left camera.
    """

    kind: str
    params: Mapping[str, Any]
    speed_scale: float
    poses: np.ndarray


def _rot_y(angle_rad: float) -> np.ndarray:
    return axis_angle_matrix(UP, angle_rad)


def _shake(params: Mapping[str, Any], t: float) -> tuple[np.ndarray, np.ndarray]:
    """Hand shake at time ``t``: ``(translation (3,) in camera axes, metres; rotation angles (3,), radians)``."""
    out = []
    for key in ("shake_m", "shake_rad"):
        comp = np.asarray(params[key], dtype=np.float64)  # (3 axes, 3 components, [amplitude, hz, phase])
        out.append(np.sum(comp[..., 0] * np.sin(2 * np.pi * comp[..., 1] * t + comp[..., 2]), axis=1))
    return out[0], out[1]


def _draw_shake(rng: np.random.Generator, amp_m: float, amp_deg: float) -> dict[str, Any]:
    def comps(amplitude: float) -> list[list[list[float]]]:
        a = rng.uniform(0.3, 1.0, (3, 3))
        a = a / a.sum(axis=1, keepdims=True) * amplitude
        hz = rng.uniform(0.5, 3.0, (3, 3))
        phase = rng.uniform(0, 2 * np.pi, (3, 3))
        return np.stack([a, hz, phase], axis=-1).round(6).tolist()

    return {
        "shake_m": comps(float(rng.uniform(0.4, 1.0)) * amp_m),
        "shake_rad": comps(math.radians(float(rng.uniform(0.4, 1.0)) * amp_deg)),
    }


def _euler(angles: np.ndarray) -> np.ndarray:
    """Rotation (camera frame) from small angles about the camera's x (tilt), y (pan) and z (roll) axes."""
    return (
        axis_angle_matrix(np.array([0.0, 1.0, 0.0]), float(angles[1]))
        @ axis_angle_matrix(np.array([1.0, 0.0, 0.0]), float(angles[0]))
        @ axis_angle_matrix(np.array([0.0, 0.0, 1.0]), float(angles[2]))
    )


def draw_path_params(kind: str, rng: np.random.Generator, *, motion_scale: float = 1.0) -> dict[str, Any]:
    """Draw the parameters of a camera path of ``kind`` (JSON-ready; speeds already times ``motion_scale``)."""
    s = float(motion_scale)
    if kind == "handheld":
        p = {
            "pan_dps": float(rng.choice([-1.0, 1.0]) * rng.uniform(3, 12)) * s,
            "tilt_dps": float(rng.uniform(-4, 4)) * s,
            "drift_mps": float(rng.uniform(0.02, 0.25)) * s,
            "drift_heading_rad": float(rng.uniform(0, 2 * np.pi)),
            **_draw_shake(rng, 0.008, 0.8),
        }
    elif kind == "walk":
        p = {
            "speed_mps": float(rng.uniform(0.5, 1.2)) * s,
            "turn_dps": float(rng.uniform(-15, 15)) * s,
            "step_hz": float(rng.uniform(1.6, 2.1)),
            "bob_m": float(rng.uniform(0.01, 0.03)),
            "sway_m": float(rng.uniform(0.005, 0.02)),
            "phase_rad": float(rng.uniform(0, 2 * np.pi)),
            "look_deg": float(rng.uniform(3, 12)),
            "look_hz": float(rng.uniform(0.1, 0.35)),
            "look_phase_rad": float(rng.uniform(0, 2 * np.pi)),
            **_draw_shake(rng, 0.004, 0.6),
        }
    elif kind == "orbit":
        p = {
            "orbit_dps": float(rng.choice([-1.0, 1.0]) * rng.uniform(8, 20)) * s,
            **_draw_shake(rng, 0.003, 0.3),
        }
    else:
        raise ParameterError(f"camera path {kind!r} is not handheld, walk or orbit")
    return p


def _horizontal(v: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    h = v - (v @ UP) * UP
    n = float(np.linalg.norm(h))
    if n < 0.2:
        h = fallback - (fallback @ UP) * UP
        n = float(np.linalg.norm(h))
    return h / n


def path_poses(
    kind: str,
    params: Mapping[str, Any],
    start_pose: np.ndarray,
    times_s: np.ndarray,
    *,
    speed_scale: float = 1.0,
    target: np.ndarray | None = None,
) -> np.ndarray:
    """Camera-to-world poses ``(F, 4, 4)`` of a path at ``times_s`` (seconds from its start).

    Parameters
    ----------
    kind : {"handheld", "walk", "orbit"}
        The path.
    params : Mapping
        From :func:`draw_path_params`.
    start_pose : numpy.ndarray
        4x4 pose at time 0 (the planned camera, before shake).
    speed_scale : float
        Factor on every speed (not on the shake); 0 leaves only the shake.
    target : numpy.ndarray, optional
        ``(3,)`` world point the orbit circles (required for ``"orbit"``).
    """
    R0, c0 = start_pose[:3, :3], start_pose[:3, 3]
    fwd, right = R0[:, 2], R0[:, 0]
    s = float(speed_scale)
    out = np.empty((len(times_s), 4, 4))
    for i, t in enumerate(np.asarray(times_s, dtype=np.float64)):
        shake_t, shake_r = _shake(params, float(t))
        shake_t0, shake_r0 = _shake(params, 0.0)  # frame 0 is the planned view exactly
        shake_t, shake_r = shake_t - shake_t0, shake_r - shake_r0
        if kind == "handheld":
            R = R0 @ _euler(np.radians([params["tilt_dps"] * s * t, params["pan_dps"] * s * t, 0.0]))
            heading = _rot_y(params["drift_heading_rad"]) @ _horizontal(fwd, right)
            c = c0 + heading * params["drift_mps"] * s * t
        elif kind == "walk":
            w = math.radians(params["turn_dps"] * s)
            h0 = _horizontal(fwd, right)
            # heading turns at w: the position integrates v * R_y(w tau) h0 over tau in [0, t]
            if abs(w * t) < 1e-9:
                disp = h0 * t
            else:
                side = np.cross(UP, h0)  # R_y(a) h0 = cos(a) h0 + sin(a) (up x h0)
                disp = (math.sin(w * t) * h0 + (1 - math.cos(w * t)) * side) / w
            phase = 2 * np.pi * params["step_hz"] * t + params["phase_rad"]
            lateral = np.cross(_rot_y(w * t) @ h0, UP)
            c = (
                c0
                + params["speed_mps"] * s * disp
                + UP * params["bob_m"] * (math.sin(phase) - math.sin(params["phase_rad"])) * min(s, 1.0)
                + lateral * params["sway_m"] * (math.sin(phase / 2) - math.sin(params["phase_rad"] / 2)) * min(s, 1.0)
            )
            look = params["look_deg"] * (
                math.sin(2 * np.pi * params["look_hz"] * t + params["look_phase_rad"])
                - math.sin(params["look_phase_rad"])
            )
            R = _rot_y(w * t + math.radians(look) * min(s, 1.0)) @ R0
        elif kind == "orbit":
            if target is None:
                raise ParameterError("an orbit path needs the target point it circles")
            Ry = _rot_y(math.radians(params["orbit_dps"] * s * t))
            c = target + Ry @ (c0 - target)
            R = Ry @ R0
        else:
            raise ParameterError(f"camera path {kind!r} is not handheld, walk or orbit")
        R = R @ _euler(shake_r)
        out[i] = np.eye(4)
        out[i, :3, :3] = R
        out[i, :3, 3] = c + R @ shake_t
    return out


def plan_camera_path(
    rng: np.random.Generator,
    kinds: Sequence[str],
    start_pose: np.ndarray,
    times_s: np.ndarray,
    *,
    is_clear: Callable[[np.ndarray], bool],
    target: np.ndarray | None = None,
    motion_scale: float = 1.0,
) -> CameraPath:
    """Draw a path kind and its parameters, then slow it down until ``is_clear(positions)`` accepts it.

    ``is_clear`` gets the ``(F, 3)`` camera centres and says whether the camera stays
    in free space (:mod:`parallax.synth.sequence` asks the scene by ray casting).
    The speeds tried are :data:`SPEED_STEPS`; if none is clear the camera only shakes.
    """
    kind = str(rng.choice(list(kinds)))
    params = draw_path_params(kind, rng, motion_scale=motion_scale)
    for scale in (*SPEED_STEPS, 0.0):
        poses = path_poses(kind, params, start_pose, times_s, speed_scale=scale, target=target)
        if scale == 0.0 or is_clear(poses[:, :3, 3]):
            break
    if target is not None:
        params = {**params, "target": [round(float(v), 6) for v in target]}
    return CameraPath(kind=kind, params=params, speed_scale=scale, poses=poses)


@dataclass(frozen=True, kw_only=True)
class ObjectMotion:
    """The rigid motion of one moving object: ``M(t) = T(c + v t) R_y(w t) T(-c)``.

    Attributes
    ----------
    shape : str
        Name of the shape that moves.
    centre : tuple of float
        ``c``: the point it spins about (its bounding-sphere centre), world, metres.
    velocity_mps : tuple of float
        ``v``: world velocity, metres per second (horizontal).
    spin_dps : float
        ``w``: spin about the vertical axis through ``c``, degrees per second.
    """

    shape: str
    centre: tuple[float, float, float]
    velocity_mps: tuple[float, float, float]
    spin_dps: float

    def transform(self, t: float) -> np.ndarray:
        """The 4x4 world transform at time ``t`` seconds (identity at 0)."""
        return object_transform(self, t)

    def describe(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "shape": self.shape,
            "centre_m": [round(v, 6) for v in self.centre],
            "velocity_mps": [round(v, 6) for v in self.velocity_mps],
            "spin_dps": round(self.spin_dps, 6),
            "model": "M(t) = T(c + v t) R_y(w t) T(-c), applied on top of the placement",
        }


def object_transform(motion: ObjectMotion, t: float) -> np.ndarray:
    """``M(t) = T(c + v t) R_y(w t) T(-c)`` of ``motion`` at ``t`` seconds (4x4 float64)."""
    c = np.asarray(motion.centre, dtype=np.float64)
    M = np.eye(4)
    R = _rot_y(math.radians(motion.spin_dps * t))
    M[:3, :3] = R
    M[:3, 3] = c + np.asarray(motion.velocity_mps, dtype=np.float64) * t - R @ c
    return M


def draw_object_motion(
    rng: np.random.Generator,
    name: str,
    centre: np.ndarray,
    radius: float,
    camera_poses: np.ndarray,
    times_s: np.ndarray,
    *,
    bounds: tuple[np.ndarray, np.ndarray] | None = None,
    clearance_m: float = 0.3,
    motion_scale: float = 1.0,
    in_view: Callable[[np.ndarray], bool] | None = None,
) -> ObjectMotion | None:
    """Draw a motion for one object that keeps it away from the camera (and inside ``bounds``).

    The object moves horizontally, mostly across the frame-0 view (within 40 degrees
    of the camera's right axis, either way). If the drawn motion comes closer than
    ``radius + clearance_m`` to any camera centre, or leaves ``bounds`` (the room's
    ``(low, high)`` corners, metres), the opposite direction and then half speeds
    are tried; ``None`` if nothing fits (the object stays still). With ``in_view``
    (a test of the ``(F, 3)`` centre path), motions that keep the object in view
    are preferred over those that do not.
    """
    right = _horizontal(camera_poses[0, :3, 0], camera_poses[0, :3, 2])
    heading = _rot_y(float(rng.uniform(-np.pi / 4.5, np.pi / 4.5))) @ right
    speed = float(rng.uniform(0.15, 0.6)) * motion_scale
    spin = float(rng.uniform(-60, 60)) * motion_scale
    cams = camera_poses[:, :3, 3]
    fits = []
    for factor in (1.0, -1.0, 0.5, -0.5, 0.25, -0.25):
        v = heading * speed * factor
        paths = centre[None, :] + v[None, :] * np.asarray(times_s, dtype=np.float64)[:, None]
        if np.min(np.linalg.norm(paths - cams, axis=1)) < radius + clearance_m:
            continue
        if bounds is not None and (np.any(paths - radius < bounds[0]) or np.any(paths + radius > bounds[1])):
            continue
        fits.append((v, in_view is None or in_view(paths)))
    if fits:
        v = next((v for v, seen in fits if seen), fits[0][0])
        return ObjectMotion(
            shape=name,
            centre=tuple(float(x) for x in centre),  # type: ignore[arg-type]
            velocity_mps=tuple(float(x) for x in v),  # type: ignore[arg-type]
            spin_dps=spin,
        )
    return None
