"""Synthetic stereo clips with exact ground truth: textured planes, a moving camera, moving objects.

A small ray caster for testing and benchmarking the video stage where real
clips have no ground truth: a scene is a list of textured rectangles
(:class:`TexturedPlane`, optionally moving at a constant velocity), the camera
follows a list of camera-to-world poses, and every frame is rendered for a
parallel stereo rig (the right camera ``baseline_m`` to the right of the
left one, same orientation), supersampled and area-averaged, with the exact
depth of the left view. :func:`write_frame_folder` writes a clip as a folder
of ``left/NNNNNN.png`` + ``right/NNNNNN.png`` that
:func:`parallax.capture.read_clip` opens.

Conventions (``docs/conventions.md``): OpenCV camera axes (x right, y down,
z forward), poses camera-to-world, metres; disparity ``x_right = x_left - d``
with ``d = f B / Z``; NaN = no value (a ray that hits nothing).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from parallax.capture.types import CameraIntrinsics
from parallax.errors import ParameterError

__all__ = [
    "TexturedPlane",
    "StereoFrame",
    "room_scene",
    "camera_path",
    "render_stereo_frame",
    "write_frame_folder",
    "SyntheticClip",
    "render_clip",
]


def _unit(v: Sequence[float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64)
    n = float(np.linalg.norm(a))
    if a.shape != (3,) or not n > 0:
        raise ParameterError(f"a plane axis must be a non-zero 3-vector, got {v!r}")
    return a / n


def _texture(seed: int, size: int = 256) -> np.ndarray:
    """Seeded multi-scale colour noise, ``size x size x 3`` float32 in 0..255, tileable by wrapping."""
    rng = np.random.default_rng(seed)
    out = np.zeros((size, size, 3), np.float32)
    for octave, amplitude in ((4, 1.0), (16, 0.6), (64, 0.4), (size, 0.3)):
        small = rng.random((octave, octave, 3)).astype(np.float32)
        tiled = np.tile(small, (3, 3, 1))
        big = cv2.resize(tiled, (3 * size, 3 * size), interpolation=cv2.INTER_CUBIC)[size : 2 * size, size : 2 * size]
        out += amplitude * big
    out -= out.min()
    out *= 255.0 / max(float(out.max()), 1e-6)
    return out


@dataclass(frozen=True, kw_only=True)
class TexturedPlane:
    """A textured rectangle ``origin + s * u + t * v`` with ``|s| <= half_u``, ``|t| <= half_v`` (metres).

    Parameters
    ----------
    origin : sequence of float
        Centre, world coordinates (metres) at frame 0.
    u, v : sequence of float
        In-plane axes (normalised on construction; need not be orthogonal but should be).
    half_u, half_v : float
        Half extents along ``u`` and ``v``, metres.
    seed : int
        Seed of the procedural texture.
    texel_m : float
        Size of one texel, metres (the texture repeats every 256 texels).
    velocity : sequence of float
        Metres per frame the plane moves by (world coordinates).
    contrast : float
        Texture contrast around its mean (1 = full 0..255 range; small values make a plain,
        hard-to-match surface).
    """

    origin: Sequence[float]
    u: Sequence[float]
    v: Sequence[float]
    half_u: float
    half_v: float
    seed: int = 0
    texel_m: float = 0.02
    velocity: Sequence[float] = (0.0, 0.0, 0.0)
    contrast: float = 1.0
    _texture: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "u", _unit(self.u))
        object.__setattr__(self, "v", _unit(self.v))
        object.__setattr__(self, "origin", np.asarray(self.origin, dtype=np.float64))
        object.__setattr__(self, "velocity", np.asarray(self.velocity, dtype=np.float64))
        if not (self.half_u > 0 and self.half_v > 0 and self.texel_m > 0):
            raise ParameterError("half_u, half_v and texel_m must be positive")
        if not 0.0 <= self.contrast <= 1.0:
            raise ParameterError(f"contrast must be in [0, 1], got {self.contrast!r}")
        tex = _texture(self.seed)
        mean = tex.mean(axis=(0, 1), keepdims=True)
        object.__setattr__(self, "_texture", (mean + self.contrast * (tex - mean)).astype(np.float32))

    def hit(self, centre: np.ndarray, rays: np.ndarray, frame: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ray parameter ``t`` (inf where missed) and texel coordinates of rays ``centre + t * rays``."""
        origin = np.asarray(self.origin) + frame * np.asarray(self.velocity)
        u, v = np.asarray(self.u), np.asarray(self.v)
        normal = np.cross(u, v)
        denom = rays @ normal
        with np.errstate(divide="ignore", invalid="ignore"):
            t = ((origin - centre) @ normal) / denom
        point = centre + t[..., None] * rays
        rel = point - origin
        s, q = rel @ u, rel @ v
        ok = np.isfinite(t) & (t > 1e-6) & (np.abs(s) <= self.half_u) & (np.abs(q) <= self.half_v)
        return np.where(ok, t, np.inf), s / self.texel_m, q / self.texel_m

    def colour(self, s: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Bilinear texture lookup (wrapping) at texel coordinates (1-D arrays), float32 RGB ``N x 3``."""
        tex = self._texture
        n = tex.shape[0]
        s = np.asarray(s, dtype=np.float64) % n
        q = np.asarray(q, dtype=np.float64) % n
        s0, q0 = np.floor(s).astype(np.int64), np.floor(q).astype(np.int64)
        fs, fq = (s - s0)[:, None], (q - q0)[:, None]
        s1, q1 = (s0 + 1) % n, (q0 + 1) % n
        top = tex[q0, s0] * (1 - fs) + tex[q0, s1] * fs
        bottom = tex[q1, s0] * (1 - fs) + tex[q1, s1] * fs
        return (top * (1 - fq) + bottom * fq).astype(np.float32)


@dataclass(frozen=True, kw_only=True)
class StereoFrame:
    """One rendered frame: views, exact left depth and disparity, the left camera's pose."""

    left: np.ndarray
    right: np.ndarray
    depth_m: np.ndarray
    disparity_px: np.ndarray
    camera_to_world: np.ndarray


def room_scene(*, moving_object: bool = True, plain_wall: bool = False, seed: int = 0) -> list[TexturedPlane]:
    """A textured room seen from near its front wall: floor, ceiling, side walls, a back wall
    8 m away (nearly plain with ``plain_wall``: 8 % contrast), a box on the floor and (optionally)
    a panel moving right at 4 cm per frame, 3 m away."""
    planes = [
        TexturedPlane(
            origin=(0, -0.5, 8.0),
            u=(1, 0, 0),
            v=(0, 1, 0),
            half_u=6.0,
            half_v=3.0,
            seed=seed + 1,
            contrast=0.08 if plain_wall else 1.0,
        ),
        TexturedPlane(origin=(0, 1.5, 4.0), u=(1, 0, 0), v=(0, 0, 1), half_u=6.0, half_v=6.0, seed=seed + 2),
        TexturedPlane(origin=(0, -2.5, 4.0), u=(1, 0, 0), v=(0, 0, 1), half_u=6.0, half_v=6.0, seed=seed + 3),
        TexturedPlane(origin=(-4.0, -0.5, 4.0), u=(0, 0, 1), v=(0, 1, 0), half_u=6.0, half_v=3.0, seed=seed + 4),
        TexturedPlane(origin=(4.0, -0.5, 4.0), u=(0, 0, 1), v=(0, 1, 0), half_u=6.0, half_v=3.0, seed=seed + 5),
        TexturedPlane(origin=(-1.0, 0.9, 4.0), u=(1, 0, 0), v=(0, 1, 0), half_u=0.6, half_v=0.6, seed=seed + 6),
    ]
    if moving_object:
        planes.append(
            TexturedPlane(
                origin=(-1.2, -0.2, 3.0),
                u=(1, 0, 0),
                v=(0, 1, 0),
                half_u=0.4,
                half_v=0.4,
                seed=seed + 7,
                texel_m=0.008,
                velocity=(0.04, 0.0, 0.0),
            )
        )
    return planes


def camera_path(kind: str, frames: int, *, step_m: float = 0.02, yaw_deg_per_frame: float = 0.2) -> np.ndarray:
    """Camera-to-world poses ``frames x 4 x 4`` of the left camera.

    ``"still"``: all identity; ``"dolly"``: forward along z by ``step_m`` per frame;
    ``"pan"``: forward and sideways (``step_m`` each) while turning right by ``yaw_deg_per_frame``.
    """
    if kind not in ("still", "dolly", "pan"):
        raise ParameterError(f"kind must be still, dolly or pan, got {kind!r}")
    poses = np.repeat(np.eye(4)[None], frames, axis=0)
    for i in range(frames):
        if kind == "dolly":
            poses[i, 2, 3] = i * step_m
        elif kind == "pan":
            a = math.radians(i * yaw_deg_per_frame)
            poses[i, :3, :3] = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
            poses[i, 0, 3] = i * step_m
            poses[i, 2, 3] = i * step_m
    return poses


def _render_view(
    planes: Sequence[TexturedPlane], c2w: np.ndarray, camera: CameraIntrinsics, frame: int, supersample: int
) -> tuple[np.ndarray, np.ndarray]:
    ss = supersample
    w, h = camera.width * ss, camera.height * ss
    xs = (np.arange(w) + 0.5) / ss - 0.5
    ys = (np.arange(h) + 0.5) / ss - 0.5
    gx, gy = np.meshgrid(xs, ys)
    rays_cam = np.stack(
        [(gx - camera.cx_px) / camera.focal_px, (gy - camera.cy_px) / camera.fy_px, np.ones_like(gx)], -1
    )
    rays = rays_cam @ c2w[:3, :3].T
    centre = c2w[:3, 3]
    best = np.full((h, w), np.inf)
    which = np.full((h, w), -1, dtype=np.int64)
    tex_s = np.zeros((h, w))
    tex_q = np.zeros((h, w))
    for k, plane in enumerate(planes):
        t, s, q = plane.hit(centre, rays, frame)
        nearer = t < best
        best = np.where(nearer, t, best)
        which = np.where(nearer, k, which)
        tex_s = np.where(nearer, s, tex_s)
        tex_q = np.where(nearer, q, tex_q)
    colour = np.zeros((h, w, 3), np.float32)
    for k, plane in enumerate(planes):
        mine = which == k
        if mine.any():
            colour[mine] = plane.colour(tex_s[mine], tex_q[mine])
    image = cv2.resize(colour, (camera.width, camera.height), interpolation=cv2.INTER_AREA)
    depth = cv2.resize(np.where(np.isfinite(best), best, np.nan).astype(np.float32), (camera.width, camera.height))
    return np.clip(np.round(image), 0, 255).astype(np.uint8), depth


def render_stereo_frame(
    planes: Sequence[TexturedPlane],
    camera_to_world: np.ndarray,
    camera: CameraIntrinsics,
    *,
    baseline_m: float,
    frame: int = 0,
    supersample: int = 2,
    noise_std: float = 0.0,
    seed: int = 0,
) -> StereoFrame:
    """Render the left and right views of one frame (the right camera ``baseline_m`` along the left camera's x).

    ``noise_std`` adds seeded Gaussian sensor noise (grey levels, independent per view and frame).
    """
    c2w = np.asarray(camera_to_world, dtype=np.float64)
    right_c2w = c2w.copy()
    right_c2w[:3, 3] = c2w[:3, 3] + c2w[:3, 0] * baseline_m
    left, depth = _render_view(planes, c2w, camera, frame, supersample)
    right, _ = _render_view(planes, right_c2w, camera, frame, supersample)
    if noise_std > 0:
        rng = np.random.default_rng([seed, frame])
        left, right = (
            np.clip(np.round(v + rng.normal(0.0, noise_std, v.shape)), 0, 255).astype(np.uint8) for v in (left, right)
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        disparity = (camera.focal_px * baseline_m / depth).astype(np.float32)
    return StereoFrame(left=left, right=right, depth_m=depth, disparity_px=disparity, camera_to_world=c2w)


def write_frame_folder(
    folder: str | Path,
    planes: Sequence[TexturedPlane],
    poses: np.ndarray,
    camera: CameraIntrinsics,
    *,
    baseline_m: float,
    supersample: int = 2,
    noise_std: float = 0.0,
    seed: int = 0,
) -> list[np.ndarray]:
    """Render a clip into ``folder/left/NNNNNN.png`` and ``folder/right/NNNNNN.png``; return the true disparities.

    ``noise_std`` and ``seed``: see :func:`render_stereo_frame`.
    """
    folder = Path(folder)
    (folder / "left").mkdir(parents=True, exist_ok=True)
    (folder / "right").mkdir(parents=True, exist_ok=True)
    truth = []
    for i, pose in enumerate(poses):
        f = render_stereo_frame(
            planes,
            pose,
            camera,
            baseline_m=baseline_m,
            frame=i,
            supersample=supersample,
            noise_std=noise_std,
            seed=seed,
        )
        cv2.imwrite(str(folder / "left" / f"{i:06d}.png"), f.left[:, :, ::-1])
        cv2.imwrite(str(folder / "right" / f"{i:06d}.png"), f.right[:, :, ::-1])
        truth.append(f.disparity_px)
    return truth


@dataclass(frozen=True, kw_only=True)
class SyntheticClip:
    """A rendered clip on disk and its ground truth.

    Parameters
    ----------
    folder : Path
        Frame folder (``left/`` + ``right/``) for :func:`parallax.capture.read_clip`.
    camera : CameraIntrinsics
        Intrinsics of both views.
    baseline_m : float
        Stereo baseline, metres.
    poses : numpy.ndarray
        ``N x 4 x 4`` camera-to-world poses of the left camera (the first is identity).
    disparity_px : numpy.ndarray
        ``N x H x W`` true disparity of the left views (NaN = no value).
    fps : float
        The frame rate to open the folder with.
    """

    folder: Path
    camera: CameraIntrinsics
    baseline_m: float
    poses: np.ndarray
    disparity_px: np.ndarray
    fps: float = 30.0


def render_clip(
    folder: str | Path,
    *,
    kind: str = "still",
    frames: int = 8,
    width: int = 320,
    height: int = 240,
    hfov_deg: float = 70.0,
    baseline_m: float = 0.2,
    noise_std: float = 2.0,
    moving_object: bool = True,
    plain_wall: bool = True,
    seed: int = 0,
) -> SyntheticClip:
    """Render a room clip (:func:`room_scene`, :func:`camera_path`) into ``folder``; see :class:`SyntheticClip`."""
    camera = CameraIntrinsics.from_hfov(hfov_deg=hfov_deg, width=width, height=height)
    poses = camera_path(kind, frames)
    planes = room_scene(moving_object=moving_object, plain_wall=plain_wall, seed=seed)
    truth = write_frame_folder(folder, planes, poses, camera, baseline_m=baseline_m, noise_std=noise_std, seed=seed)
    return SyntheticClip(
        folder=Path(folder), camera=camera, baseline_m=baseline_m, poses=poses, disparity_px=np.array(truth)
    )
