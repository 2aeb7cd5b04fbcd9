"""Procedural scene layout: rooms and open ground, scattered objects, thin structures, lights, rig.

:func:`plan_scene` draws a :class:`ScenePlan` (plain numpy data, no renderer
objects) from one seeded generator; :mod:`parallax.synth.render` builds it in
Mitsuba. World frame: right-handed, metres, y up. Every shape is placed in
front of the left camera so that it is likely to be visible.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from parallax.errors import ParameterError
from parallax.synth import meshes
from parallax.synth.config import SynthConfig
from parallax.synth.materials import Material, MaterialFactory
from parallax.synth.rig import StereoRig, axis_angle_matrix, look_rotation

__all__ = ["ShapeSpec", "ScenePlan", "plan_scene", "sky_envmap"]

Primitive = Literal["sphere", "cube", "cylinder", "rectangle", "mesh"]


@dataclass(frozen=True, kw_only=True)
class ShapeSpec:
    """One shape of a scene.

    Parameters
    ----------
    name : str
        Unique name.
    primitive : {"sphere", "cube", "cylinder", "rectangle", "mesh"}
        Mitsuba primitive, or ``"mesh"`` for a generated :class:`~parallax.synth.meshes.TriMesh`.
    material : str
        Name of its :class:`~parallax.synth.materials.Material`.
    role : str
        What it is (``"floor"``, ``"wall"``, ``"object"``, ``"thin"``, ``"light"``, ``"mirror"``, ...), for meta.json.
    to_world : numpy.ndarray
        4x4 object-to-world transform (cube: ``[-1, 1]^3``; rectangle: ``[-1, 1]^2`` in xy, normal +z; mesh: its own frame).
    center, radius : optional
        Sphere centre (metres, world) and radius (metres).
    p0, p1 : optional
        Cylinder axis end points (metres, world); the cylinder uses ``radius``.
    mesh : TriMesh or None
        The triangles of a ``"mesh"`` shape.
    motion : numpy.ndarray or None
        A 4x4 rigid transform (world to world) applied on top of the placement:
        where a moving object is in one frame of a sequence. ``None`` for still
        shapes (the renderer then builds them exactly as for still pairs).
    """

    name: str
    primitive: str
    material: str
    role: str
    to_world: np.ndarray = field(default_factory=lambda: np.eye(4))
    center: tuple[float, float, float] | None = None
    radius: float | None = None
    p0: tuple[float, float, float] | None = None
    p1: tuple[float, float, float] | None = None
    mesh: meshes.TriMesh | None = field(default=None, repr=False)
    motion: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.motion is not None:
            m = np.asarray(self.motion, dtype=np.float64)
            if m.shape != (4, 4) or not np.allclose(m[:3, :3] @ m[:3, :3].T, np.eye(3), atol=1e-6):
                raise ParameterError(f"shape {self.name}: motion must be a 4x4 rigid transform")
            object.__setattr__(self, "motion", m)
        if self.primitive not in ("sphere", "cube", "cylinder", "rectangle", "mesh"):
            raise ParameterError(f"shape {self.name}: unknown primitive {self.primitive!r}")
        if self.primitive in ("sphere", "cylinder") and not (self.radius and self.radius > 0):
            raise ParameterError(f"shape {self.name}: a {self.primitive} needs a positive radius")
        if self.primitive == "sphere" and self.center is None:
            raise ParameterError(f"shape {self.name}: a sphere needs its center")
        if self.primitive == "cylinder" and (self.p0 is None or self.p1 is None):
            raise ParameterError(f"shape {self.name}: a cylinder needs both axis end points p0 and p1")
        if self.primitive == "mesh" and self.mesh is None:
            raise ParameterError(f"shape {self.name}: a mesh shape needs its mesh")

    def bounds(self) -> tuple[np.ndarray, float]:
        """A bounding sphere of the placed shape (before ``motion``): ``(centre (3,), radius)`` in metres, world."""
        if self.primitive == "sphere":
            return np.asarray(self.center, dtype=np.float64), float(self.radius or 0.0)
        if self.primitive == "cylinder":
            a, b = np.asarray(self.p0, dtype=np.float64), np.asarray(self.p1, dtype=np.float64)
            return (a + b) / 2, float(np.linalg.norm(b - a) / 2 + (self.radius or 0.0))
        if self.primitive == "mesh" and self.mesh is not None:
            pts = self.mesh.vertices.astype(np.float64) @ self.to_world[:3, :3].T + self.to_world[:3, 3]
        else:  # cube [-1, 1]^3 or rectangle [-1, 1]^2
            corners = np.array(np.meshgrid([-1, 1], [-1, 1], [-1, 1] if self.primitive == "cube" else [0])).reshape(
                3, -1
            )
            pts = (self.to_world[:3, :3] @ corners).T + self.to_world[:3, 3]
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        centre = (lo + hi) / 2
        return centre, float(np.linalg.norm(pts - centre, axis=1).max())

    def moved(self, motion: np.ndarray | None) -> ShapeSpec:
        """This shape with ``motion`` (a 4x4 rigid world transform, or None) applied on top of its placement."""
        return dataclasses.replace(self, motion=motion)

    def describe(self) -> dict[str, Any]:
        """JSON-ready summary."""
        d: dict[str, Any] = {
            "name": self.name,
            "primitive": self.primitive,
            "material": self.material,
            "role": self.role,
        }
        # (__post_init__ guarantees a sphere's centre and radius, and a cylinder's end points and radius)
        if self.primitive == "sphere" and self.center is not None and self.radius is not None:
            d.update(center=[round(c, 5) for c in self.center], radius=round(self.radius, 5))
        elif self.primitive == "cylinder" and self.p0 is not None and self.p1 is not None and self.radius is not None:
            d.update(p0=[round(c, 5) for c in self.p0], p1=[round(c, 5) for c in self.p1], radius=round(self.radius, 6))
        else:
            d["to_world"] = np.round(self.to_world, 6).tolist()
            if self.mesh is not None:
                d["triangles"] = int(len(self.mesh.faces))
        return d


@dataclass(frozen=True, kw_only=True)
class LightSpec:
    """A delta light (its direct light is sampled without noise).

    Parameters
    ----------
    kind : {"point", "directional"}
        Point light at ``vector`` (world, metres) with intensity ``rgb`` (W/sr-like
        linear units), or directional light travelling along ``vector`` with
        irradiance ``rgb``.
    """

    kind: str
    vector: tuple[float, float, float]
    rgb: tuple[float, float, float]

    def __post_init__(self) -> None:
        if self.kind not in ("point", "directional"):
            raise ParameterError(f"light kind {self.kind!r} is not point or directional")

    def describe(self) -> dict[str, Any]:
        """JSON-ready summary."""
        key = "position" if self.kind == "point" else "direction"
        return {"kind": self.kind, key: [round(c, 6) for c in self.vector], "rgb": [round(c, 6) for c in self.rgb]}


@dataclass(frozen=True, kw_only=True)
class ScenePlan:
    """Everything needed to render one scene and its ground truth (renderer-independent).

    Parameters
    ----------
    kind : {"room", "outdoor"}
        Layout type.
    rig : StereoRig
        The cameras.
    shapes : tuple of ShapeSpec
        All shapes.
    materials : Mapping of str to Material
        Materials by name.
    envmap : numpy.ndarray or None
        Lat-long environment radiance (``HxWx3`` float32, linear, row 0 = straight up), or ``None``.
    ambient : float
        Constant environment radiance added when there is no env map (linear RGB units).
    lights : tuple of LightSpec
        Point and directional lights (area lights are shapes with an emitter material).
    info : Mapping
        JSON-ready layout facts (room size, sun direction, ...).
    """

    kind: str
    rig: StereoRig
    shapes: tuple[ShapeSpec, ...]
    materials: Mapping[str, Material]
    envmap: np.ndarray | None = field(default=None, repr=False)
    ambient: float = 0.0
    lights: tuple[LightSpec, ...] = ()
    info: Mapping[str, Any] = field(default_factory=dict)

    @property
    def has_mirror(self) -> bool:
        """True if a mirror panel (role ``"mirror"``) is in the scene."""
        return any(s.role == "mirror" for s in self.shapes)

    def describe(self) -> dict[str, Any]:
        """JSON-ready summary for ``meta.json`` (``lineage.generator.scene``)."""
        return {
            "kind": self.kind,
            "info": dict(self.info),
            "shapes": [s.describe() for s in self.shapes],
            "materials": [m.describe() for m in self.materials.values()],
            "environment": "sky envmap" if self.envmap is not None else f"constant {self.ambient:g}",
            "lights": [light.describe() for light in self.lights],
        }


# ----------------------------------------------------------------------------- geometry helpers


def _vec3(values: ArrayLike) -> tuple[float, float, float]:
    x, y, z = np.asarray(values, dtype=np.float64).reshape(3)
    return float(x), float(y), float(z)


def _trs(t: ArrayLike, R: np.ndarray, s: ArrayLike) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = R @ np.diag(np.asarray(s, dtype=np.float64))
    T[:3, 3] = t
    return T


def _rect(center: ArrayLike, u: ArrayLike, v: ArrayLike, hu: float, hv: float) -> np.ndarray:
    """Rectangle transform: half-extent ``hu`` along unit ``u``, ``hv`` along unit ``v``; normal ``u x v``."""
    u_axis, v_axis = np.asarray(u, float), np.asarray(v, float)
    n = np.cross(u_axis, v_axis)
    T = np.eye(4)
    T[:3, 0], T[:3, 1], T[:3, 2], T[:3, 3] = u_axis * hu, v_axis * hv, n, center
    return T


def _random_rotation(rng: np.random.Generator, *, upright: bool) -> np.ndarray:
    if upright:
        return axis_angle_matrix(np.array([0.0, 1.0, 0.0]), rng.uniform(0, 2 * np.pi))
    q = rng.normal(size=4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def sky_envmap(rng: np.random.Generator, *, width: int = 256) -> tuple[np.ndarray, LightSpec]:
    """A procedural daylight sky (zenith-to-horizon gradient, dim ground, a glow around the sun) and the sun.

    Returns the lat-long radiance map (``width/2 x width x 3`` float32, linear,
    row 0 = +y (up), longitude along columns) and the sun as a directional light
    (a delta light: its direct light and shadows carry no sampling noise).
    """
    h = width // 2
    theta = (np.arange(h) + 0.5) / h * np.pi  # from +y
    phi = (np.arange(width) + 0.5) / width * 2 * np.pi
    tt, pp = np.meshgrid(theta, phi, indexing="ij")
    elev = np.pi / 2 - tt
    zenith = np.array([0.25, 0.45, 0.95]) * rng.uniform(0.6, 1.2)
    horizon = np.array([0.95, 0.95, 1.0]) * rng.uniform(0.8, 1.4)
    ground = np.array([0.25, 0.22, 0.18]) * rng.uniform(0.3, 0.8)
    t = np.clip(elev / (np.pi / 2), 0, 1)[..., None] ** 0.5
    sky = np.where(elev[..., None] >= 0, horizon * (1 - t) + zenith * t, ground)
    sun_elev = rng.uniform(math.radians(15), math.radians(65))
    sun_az = rng.uniform(0, 2 * np.pi)
    sun = np.array([math.cos(sun_elev) * math.cos(sun_az), math.sin(sun_elev), math.cos(sun_elev) * math.sin(sun_az)])
    dirs = np.stack(
        [np.sin(tt) * np.sin(pp), np.cos(tt), -np.sin(tt) * np.cos(pp)], axis=-1
    )  # Mitsuba: u = atan2(x, -z) / 2pi
    ang = np.arccos(np.clip(dirs @ sun, -1, 1))
    sky += np.exp(-((ang / math.radians(12)) ** 2))[..., None] * 2.0 * np.array([1.0, 0.9, 0.7])
    sun_light = LightSpec(
        kind="directional",
        vector=_vec3(-sun),
        rgb=_vec3(rng.uniform(3.0, 8.0) * np.array([1.0, 0.95, 0.85])),
    )
    return sky.astype(np.float32), sun_light


# ----------------------------------------------------------------------------- layout


class _Builder:
    def __init__(
        self,
        rng: np.random.Generator,
        cfg: SynthConfig,
        factory: MaterialFactory,
        rig_R: np.ndarray,
        cam: np.ndarray,
        tan_x: float,
        tan_y: float,
    ) -> None:
        self.rng, self.cfg, self.mat = rng, cfg, factory
        self.R, self.cam, self.tan_x, self.tan_y = rig_R, cam, tan_x, tan_y
        self.shapes: list[ShapeSpec] = []
        self.lights: list[LightSpec] = []

    def add(self, **kw: Any) -> None:
        kw.setdefault("name", f"shape-{len(self.shapes):03d}-{kw['role']}")
        self.shapes.append(ShapeSpec(**kw))

    def in_view(self, z_range: tuple[float, float], spread: float = 0.85) -> np.ndarray:
        """A world point in front of the camera, inside the field of view, at depth in ``z_range``."""
        z = self.rng.uniform(*z_range)
        u = self.rng.uniform(-spread, spread) * self.tan_x * z
        v = self.rng.uniform(-spread, spread) * self.tan_y * z
        return self.cam + self.R @ np.array([u, v, z])

    def fit_size(self, p: np.ndarray, size: float, *, max_angle: float = 0.15) -> float:
        """``size`` capped so that the object spans at most ``max_angle`` (radians, half-size) from the camera."""
        depth = float((p - self.cam) @ self.R[:, 2])
        return float(min(size, max(0.02, max_angle * depth)))

    def scatter_object(self, p: np.ndarray, size: float, *, upright: bool, glass_ok: bool) -> None:
        rng = self.rng
        material = self.mat.for_object(glass_allowed=glass_ok).name
        kind = str(rng.choice(["sphere", "cube", "cylinder", "blob", "rock", "torus", "vase", "superellipsoid"]))
        R = _random_rotation(rng, upright=upright)
        if kind == "sphere":
            self.add(
                primitive="sphere", center=tuple(map(float, p)), radius=float(size), material=material, role="object"
            )
        elif kind == "cube":
            s = size * rng.uniform(0.4, 1.0, 3)
            self.add(primitive="cube", to_world=_trs(p, R, s), material=material, role="object")
        elif kind == "cylinder":
            axis = R[:, 1] * size * rng.uniform(0.8, 2.0)
            self.add(
                primitive="cylinder",
                p0=tuple(map(float, p - axis)),
                p1=tuple(map(float, p + axis)),
                radius=float(size * rng.uniform(0.2, 0.6)),
                material=material,
                role="object",
            )
        else:
            mesh = {
                "blob": lambda: meshes.blob(rng),
                "rock": lambda: meshes.rock(rng),
                "torus": lambda: meshes.torus(major_radius=1.0, minor_radius=float(rng.uniform(0.15, 0.45))),
                "vase": lambda: meshes.vase(rng),
                "superellipsoid": lambda: meshes.superellipsoid(rng),
            }[kind]()
            self.add(
                primitive="mesh", mesh=mesh, to_world=_trs(p, R, [size] * 3), material=material, role=f"object:{kind}"
            )

    def rod(self, a: np.ndarray, b: np.ndarray, radius: float, material: str) -> None:
        self.add(
            primitive="cylinder",
            p0=tuple(map(float, a)),
            p1=tuple(map(float, b)),
            radius=float(radius),
            material=material,
            role="thin",
        )

    def thin_material(self) -> str:
        r = self.rng.random()
        if r < 0.45:
            return self.mat.plain().name
        if r < 0.75:
            return self.mat.metal(rough=True).name
        return self.mat.textured(repeat=8.0).name

    def mirror_panel(self, z_range: tuple[float, float], floor_y: float) -> None:
        """A mirror facing back toward the camera, turned 15-40 degrees so it shows the scene, not the lens."""
        p = self.in_view(z_range, spread=0.5)
        hw, hh = (
            self.fit_size(p, self.rng.uniform(0.3, 0.8), max_angle=0.2),
            self.fit_size(p, self.rng.uniform(0.4, 1.0), max_angle=0.2),
        )
        p[1] = max(p[1], floor_y + hh + 0.05)
        to_cam = self.cam - p
        to_cam[1] = 0.0
        to_cam /= np.linalg.norm(to_cam)
        turn = self.rng.choice([-1, 1]) * self.rng.uniform(math.radians(15), math.radians(40))
        n = axis_angle_matrix(np.array([0.0, 1.0, 0.0]), turn) @ to_cam
        up = np.array([0.0, 1.0, 0.0])
        u = np.cross(up, n)  # u x up = n
        self.add(
            primitive="rectangle",
            to_world=_rect(p, u / np.linalg.norm(u), up, hw, hh),
            material=self.mat.mirror().name,
            role="mirror",
        )


def _sample_rig(rng: np.random.Generator, cfg: SynthConfig, R: np.ndarray, cam: np.ndarray) -> StereoRig:
    (w0, h0), (w1, h1) = cfg.size_range
    t = rng.uniform(0.0, 1.0)
    width = max(32, 2 * round((w0 + t * (w1 - w0)) / 2))
    height = max(32, 2 * round((h0 + t * (h1 - h0)) / 2))
    focal = float(rng.uniform(*cfg.focal_range_mm35)) / 36.0 * width
    baseline = float(rng.uniform(*cfg.baseline_range_m))
    if cfg.rect_error_deg > 0:
        axis = rng.normal(size=3)
        R_err = axis_angle_matrix(axis, math.radians(rng.uniform(0.0, cfg.rect_error_deg)))
    else:
        R_err = np.eye(3)
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = R, cam
    return StereoRig(
        width=width, height=height, focal_px=focal, baseline_m=baseline, left_to_world=pose, rect_error_rotation=R_err
    )


def _room(
    rng: np.random.Generator, cfg: SynthConfig, factory: MaterialFactory
) -> tuple[StereoRig, _Builder, dict[str, Any]]:
    W, D, H = rng.uniform(3.5, 8.0), rng.uniform(4.5, 10.0), rng.uniform(2.4, 3.4)
    cam = np.array([rng.uniform(-W / 4, W / 4), rng.uniform(1.0, 1.7), rng.uniform(0.3, 0.9)])
    yaw, pitch = rng.uniform(-0.5, 0.5), rng.uniform(-0.35, 0.05)
    fwd = np.array([math.sin(yaw) * math.cos(pitch), math.sin(pitch), math.cos(yaw) * math.cos(pitch)])
    R = look_rotation(fwd, roll_rad=rng.uniform(-0.04, 0.04))
    rig = _sample_rig(rng, cfg, R, cam)
    tan_x = rig.width / (2 * rig.focal_px)
    b = _Builder(rng, cfg, factory, R, cam, tan_x, tan_x * rig.height / rig.width)
    X, Y, Z = np.eye(3)
    floor = factory.textured(repeat=float(round(max(W, D) / rng.uniform(0.8, 2.0))), user_share=0.3)
    wall_mats = [
        factory.plain(grey=rng.random() < 0.5)
        if rng.random() < 0.6
        else factory.textured(repeat=float(rng.choice([2, 3, 4])))
        for _ in range(4)
    ]
    b.add(primitive="rectangle", to_world=_rect([0, 0, D / 2], Z, X, D / 2, W / 2), material=floor.name, role="floor")
    b.add(
        primitive="rectangle",
        to_world=_rect([0, H, D / 2], X, Z, W / 2, D / 2),
        material=factory.plain(grey=True).name,
        role="ceiling",
    )
    b.add(
        primitive="rectangle",
        to_world=_rect([0, H / 2, D], Y, X, H / 2, W / 2),
        material=wall_mats[0].name,
        role="wall",
    )
    b.add(
        primitive="rectangle",
        to_world=_rect([0, H / 2, 0], X, Y, W / 2, H / 2),
        material=wall_mats[1].name,
        role="wall",
    )
    b.add(
        primitive="rectangle",
        to_world=_rect([-W / 2, H / 2, D / 2], Y, Z, H / 2, D / 2),
        material=wall_mats[2].name,
        role="wall",
    )
    b.add(
        primitive="rectangle",
        to_world=_rect([W / 2, H / 2, D / 2], Z, Y, D / 2, H / 2),
        material=wall_mats[3].name,
        role="wall",
    )
    for _ in range(int(rng.integers(1, 4))):
        hx, hz = rng.uniform(0.25, 0.7, 2)
        c = [rng.uniform(-W / 2 + hx, W / 2 - hx), H - 0.005, rng.uniform(hz, D - hz)]
        b.add(
            primitive="rectangle",
            to_world=_rect(c, X, Z, hx, hz),
            material=factory.emitter(rng.uniform(6.0, 18.0)).name,
            role="light",
        )
    for _ in range(int(rng.integers(1, 3))):
        pos = (
            float(rng.uniform(-W / 2 + 0.3, W / 2 - 0.3)),
            float(H - rng.uniform(0.2, 0.6)),
            float(rng.uniform(0.5, D - 0.3)),
        )
        tint = np.array([1.0, 1.0, 1.0]) + rng.uniform(-0.2, 0.2) * np.array([1.0, 0.0, -1.0])
        b.lights.append(LightSpec(kind="point", vector=pos, rgb=_vec3(rng.uniform(2.0, 8.0) * tint)))
    lo = np.array([-W / 2, 0.0, 0.0])
    hi = np.array([W / 2, H, D])
    for _ in range(int(rng.integers(cfg.object_count_range[0], cfg.object_count_range[1] + 1))):
        p = b.in_view((0.8, max(1.0, 0.9 * D)))
        size = b.fit_size(p, float(rng.uniform(0.08, 0.45)))
        p = np.clip(p, lo + size, hi - size)
        if rng.random() < 0.6:
            p[1] = size  # resting on the floor
        b.scatter_object(p, size, upright=rng.random() < 0.6, glass_ok=rng.random() < cfg.glass_probability)
    for _ in range(int(rng.integers(cfg.thin_count_range[0], cfg.thin_count_range[1] + 1))):
        kind = rng.choice(["pole", "rod", "wire"])
        radius = float(rng.uniform(0.003, 0.03)) if kind != "wire" else float(rng.uniform(0.002, 0.008))
        p = np.clip(b.in_view((0.8, max(1.0, 0.9 * D))), lo + 0.05, hi - 0.05)
        if kind == "pole":
            b.rod(np.array([p[0], 0.0, p[2]]), np.array([p[0], H, p[2]]), radius, b.thin_material())
        elif kind == "rod":
            d = _random_rotation(rng, upright=False)[:, 0] * rng.uniform(0.4, 1.2)
            b.rod(np.clip(p - d, lo, hi), np.clip(p + d, lo, hi), radius, b.thin_material())
        else:
            b.rod(
                np.array([-W / 2, p[1], p[2]]),
                np.array([W / 2, p[1] + rng.uniform(-0.3, 0.3), p[2]]),
                radius,
                b.thin_material(),
            )
    if rng.random() < cfg.mirror_probability:
        b.mirror_panel((1.5, max(2.0, 0.8 * D)), floor_y=0.0)
    return rig, b, {"room_size_m": [round(W, 4), round(D, 4), round(H, 4)]}


def _outdoor(
    rng: np.random.Generator, cfg: SynthConfig, factory: MaterialFactory
) -> tuple[StereoRig, _Builder, dict[str, Any]]:
    ground = meshes.terrain(rng)
    cam = np.array([0.0, rng.uniform(1.2, 2.0), 0.0])
    yaw, pitch = rng.uniform(0, 2 * np.pi), rng.uniform(-0.3, 0.0)
    fwd = np.array([math.sin(yaw) * math.cos(pitch), math.sin(pitch), math.cos(yaw) * math.cos(pitch)])
    R = look_rotation(fwd, roll_rad=rng.uniform(-0.04, 0.04))
    rig = _sample_rig(rng, cfg, R, cam)
    tan_x = rig.width / (2 * rig.focal_px)
    b = _Builder(rng, cfg, factory, R, cam, tan_x, tan_x * rig.height / rig.width)
    b.add(primitive="mesh", mesh=ground, material=factory.textured(repeat=1.0, user_share=0.3).name, role="ground")
    verts = ground.vertices

    def ground_y(x: float, z: float) -> float:
        i = int(np.argmin((verts[:, 0] - x) ** 2 + (verts[:, 2] - z) ** 2))
        return float(verts[i, 1])

    def on_ground(z_range: tuple[float, float]) -> np.ndarray:
        p = b.in_view(z_range)
        p[1] = ground_y(p[0], p[2])
        return p

    for _ in range(int(rng.integers(2, 6))):  # buildings / big blocks in the distance
        p = on_ground((15.0, 35.0))
        s = rng.uniform([1.5, 2.0, 1.5], [6.0, 8.0, 6.0])
        p[1] += s[1] - 0.2
        block = factory.textured(repeat=float(rng.choice([2, 4]))) if rng.random() < 0.7 else factory.plain()
        b.add(
            primitive="cube",
            to_world=_trs(p, _random_rotation(rng, upright=True), s),
            material=block.name,
            role="building",
        )
    for _ in range(int(rng.integers(1, 4))):  # trees
        p = on_ground((4.0, 20.0))
        h = rng.uniform(2.0, 5.0)
        b.add(
            primitive="cylinder",
            p0=tuple(map(float, p)),
            p1=tuple(map(float, p + [0, h, 0])),
            radius=float(rng.uniform(0.08, 0.25)),
            material=factory.textured(repeat=4.0).name,
            role="tree",
        )
        crown = rng.uniform(0.8, 2.0)
        b.add(
            primitive="mesh",
            mesh=meshes.blob(rng, roughness=0.35),
            to_world=_trs(p + [0, h + 0.6 * crown, 0], np.eye(3), [crown] * 3),
            material=factory.textured(repeat=3.0).name,
            role="tree",
        )
    for _ in range(int(rng.integers(cfg.object_count_range[0], cfg.object_count_range[1] + 1))):
        p = on_ground((1.5, 15.0))
        size = b.fit_size(p, float(rng.uniform(0.15, 1.2)))
        p[1] += size if rng.random() < 0.8 else size + rng.uniform(0.5, 2.0)
        b.scatter_object(p, size, upright=rng.random() < 0.6, glass_ok=rng.random() < cfg.glass_probability)
    for _ in range(int(rng.integers(cfg.thin_count_range[0], cfg.thin_count_range[1] + 1))):
        kind = rng.choice(["fence", "pole", "wire"])
        p = on_ground((2.0, 14.0))
        mat = b.thin_material()
        if kind == "fence":
            direction = _random_rotation(rng, upright=True)[:, 0]
            n_posts, gap, h = int(rng.integers(4, 12)), rng.uniform(0.25, 0.8), rng.uniform(0.8, 1.5)
            radius = float(rng.uniform(0.015, 0.04))
            ends = [p + direction * gap * i for i in range(n_posts)]
            for e in ends:
                b.rod(e - [0, 0.1, 0], e + [0, h, 0], radius, mat)
            for frac in rng.choice([0.4, 0.7, 0.95], size=int(rng.integers(1, 3)), replace=False):
                b.rod(ends[0] + [0, h * frac, 0], ends[-1] + [0, h * frac, 0], radius * 0.7, mat)
        elif kind == "pole":
            b.rod(p - [0, 0.1, 0], p + [0, rng.uniform(2.5, 6.0), 0], float(rng.uniform(0.02, 0.08)), mat)
        else:
            q = on_ground((2.0, 14.0))
            hgt = rng.uniform(2.0, 5.0)
            b.rod(p + [0, hgt, 0], q + [0, hgt + rng.uniform(-0.5, 0.5), 0], float(rng.uniform(0.004, 0.015)), mat)
    if rng.random() < cfg.mirror_probability:
        b.mirror_panel((2.0, 6.0), floor_y=ground_y(float(cam[0]), float(cam[2])))
    return rig, b, {"terrain_size_m": 80.0}


def plan_scene(rng: np.random.Generator, config: SynthConfig, texture_files: Sequence[Path] = ()) -> ScenePlan:
    """Draw one scene: layout, materials, lights and the stereo rig.

    Parameters
    ----------
    rng : numpy.random.Generator
        The scene's generator; the same state gives the same plan.
    config : SynthConfig
        What to draw from.
    texture_files : sequence of Path
        The user's texture images (``--textures``), possibly empty.
    """
    kind = str(rng.choice(list(config.scene_kinds)))
    factory = MaterialFactory(rng, texture_files)
    if kind == "room":
        rig, builder, info = _room(rng, config, factory)
        envmap, ambient = None, 0.02
    else:
        rig, builder, info = _outdoor(rng, config, factory)
        envmap, sun = sky_envmap(rng)
        builder.lights.append(sun)
        ambient = 0.0
    return ScenePlan(
        kind=kind,
        rig=rig,
        shapes=tuple(builder.shapes),
        materials=dict(factory.materials),
        envmap=envmap,
        ambient=ambient,
        lights=tuple(builder.lights),
        info=info,
    )
