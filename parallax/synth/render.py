"""Render a :class:`~parallax.synth.scene.ScenePlan` with Mitsuba 3, and cast ground-truth rays.

Mitsuba (``pip install 'parallax[synth]'``) is imported lazily. The CPU variant
``scalar_rgb`` is used: it runs everywhere Mitsuba's wheel does and renders
deterministically with a box pixel filter and a fixed seed (its LLVM variants
need Debian's libLLVM and failed to compile kernels with the libLLVM 14/15 of
Debian 12, so they are not used).

Colour renders come from Mitsuba's path tracer through perspective sensors
whose pose and field of view match the rig (:func:`sensor_dict`). Ground truth
comes from intersecting one ray per pixel *centre* with the same scene
(``Scene.ray_intersect``): the first surface hit, exactly, with no sampling.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from parallax.errors import require
from parallax.synth.materials import MATERIAL_KINDS, Material
from parallax.synth.rig import StereoRig, View, pixel_rays
from parallax.synth.scene import ScenePlan, ShapeSpec

__all__ = ["MITSUBA_VARIANT", "mitsuba", "BuiltScene", "build_scene", "sensor_dict", "render_view", "render_depth_aov",
           "cast_rays", "RayHits", "renderer_name"]

MITSUBA_VARIANT = "scalar_rgb"
_LOCK = threading.Lock()
# Mitsuba's camera frame is x left, y up, z forward; OpenCV's is x right, y down, z forward.
_CV_TO_MI = np.diag([-1.0, -1.0, 1.0, 1.0])


def mitsuba() -> Any:
    """The ``mitsuba`` module with the :data:`MITSUBA_VARIANT` variant set (raises MissingDependencyError)."""
    mi = require("mitsuba", "synth", "synthetic scene rendering (parallax synth)")
    with _LOCK:
        if mi.variant() != MITSUBA_VARIANT:
            mi.set_variant(MITSUBA_VARIANT)
    return mi


def renderer_name() -> str:
    """``"mitsuba <version> <variant>"`` for meta.json."""
    mi = mitsuba()
    return f"mitsuba {mi.__version__} {MITSUBA_VARIANT}"


@dataclass(frozen=True)
class BuiltScene:
    """A Mitsuba scene built from a plan, and how to read its hits back."""

    scene: Any
    """The ``mitsuba.Scene``; sensor 0 is the left view, sensor 1 the delivered right view."""
    kind_of_bsdf: dict[str, int]
    """BSDF id -> index into :data:`~parallax.synth.materials.MATERIAL_KINDS`."""


def _transform(mi: Any, matrix: np.ndarray) -> Any:
    return mi.ScalarTransform4f(np.asarray(matrix, dtype=np.float64).tolist())


def sensor_dict(rig: StereoRig, view: View, *, spp: int) -> dict[str, Any]:
    """Mitsuba perspective sensor matching ``rig``'s ``view`` (pinhole, centred principal point, box filter)."""
    mi = mitsuba()
    return {
        "type": "perspective",
        "fov": rig.hfov_deg,
        "fov_axis": "x",
        "near_clip": 0.01,
        "far_clip": 10000.0,
        "to_world": _transform(mi, rig.pose(view) @ _CV_TO_MI),
        "film": {"type": "hdrfilm", "width": int(rig.width), "height": int(rig.height), "rfilter": {"type": "box"},
                 "pixel_format": "rgb"},
        "sampler": {"type": "independent", "sample_count": int(spp)},
    }


def _bsdf(mi: Any, m: Material) -> Any:
    if m.kind == "diffuse":
        if m.texture is not None:
            refl: Any = {"type": "bitmap", "bitmap": mi.Bitmap(np.ascontiguousarray(m.texture, dtype=np.float32)),
                         "filter_type": "bilinear", "wrap_mode": "repeat", "raw": True,
                         "to_uv": mi.ScalarTransform4f().scale([m.texture_repeat, m.texture_repeat, 1.0])}
        else:
            refl = {"type": "rgb", "value": list(m.rgb)}
        d = {"type": "twosided", "material": {"type": "diffuse", "reflectance": refl}}
    elif m.kind == "emitter":
        d = {"type": "diffuse", "reflectance": {"type": "rgb", "value": [0.0, 0.0, 0.0]}}
    elif m.kind == "rough_metal":
        d = {"type": "roughconductor", "material": m.metal, "distribution": "ggx", "alpha": float(m.roughness)}
    elif m.kind in ("metal", "mirror"):
        d = {"type": "conductor", "material": m.metal}
    else:  # glass
        if m.roughness > 0:
            d = {"type": "roughdielectric", "int_ior": float(m.ior), "ext_ior": 1.000277, "distribution": "ggx", "alpha": float(m.roughness)}
        else:
            d = {"type": "dielectric", "int_ior": float(m.ior), "ext_ior": 1.000277}
    return mi.load_dict(d)


def _shape(mi: Any, s: ShapeSpec, bsdf: Any, material: Material) -> Any:
    extra: dict[str, Any] = {}
    if material.kind == "emitter":
        extra["emitter"] = {"type": "area", "radiance": {"type": "rgb", "value": list(material.rgb)}}
    if s.primitive == "sphere":
        return {"type": "sphere", "center": list(s.center), "radius": float(s.radius), "bsdf": bsdf, **extra}
    if s.primitive == "cylinder":
        return {"type": "cylinder", "p0": list(s.p0), "p1": list(s.p1), "radius": float(s.radius), "bsdf": bsdf, **extra}
    if s.primitive in ("cube", "rectangle"):
        return {"type": s.primitive, "to_world": _transform(mi, s.to_world), "bsdf": bsdf, **extra}
    mesh = s.mesh
    v = mesh.vertices.astype(np.float64) @ s.to_world[:3, :3].T + s.to_world[:3, 3]
    props = mi.Properties()
    props["bsdf"] = bsdf
    has_n = mesh.normals is not None
    m = mi.Mesh(s.name, vertex_count=len(v), face_count=len(mesh.faces), props=props,
                has_vertex_normals=has_n, has_vertex_texcoords=True)
    params = mi.traverse(m)
    params["vertex_positions"] = np.ascontiguousarray(v, dtype=np.float32).ravel()
    params["faces"] = mesh.faces.ravel()
    params["vertex_texcoords"] = mesh.uv.ravel()
    if has_n:
        nrm = mesh.normals.astype(np.float64) @ np.linalg.inv(s.to_world[:3, :3])
        nrm /= np.linalg.norm(nrm, axis=1, keepdims=True)
        params["vertex_normals"] = np.ascontiguousarray(nrm, dtype=np.float32).ravel()
    params.update()
    return m


def build_scene(plan: ScenePlan, *, spp: int, max_bounces: int) -> BuiltScene:
    """Build the Mitsuba scene of ``plan`` with a path tracer and the left and delivered-right sensors."""
    mi = mitsuba()
    bsdfs = {name: _bsdf(mi, m) for name, m in plan.materials.items()}
    d: dict[str, Any] = {
        "type": "scene",
        "integrator": {"type": "path", "max_depth": int(max_bounces), "rr_depth": max(5, int(max_bounces) - 2)},
        "sensor_0_left": sensor_dict(plan.rig, "left", spp=spp),
        "sensor_1_right": sensor_dict(plan.rig, "right_delivered", spp=spp),
    }
    if plan.envmap is not None:
        d["environment"] = {"type": "envmap", "bitmap": mi.Bitmap(np.ascontiguousarray(plan.envmap, dtype=np.float32))}
    elif plan.ambient > 0:
        d["environment"] = {"type": "constant", "radiance": {"type": "rgb", "value": [plan.ambient] * 3}}
    for i, light in enumerate(plan.lights):
        rgb = {"type": "rgb", "value": list(light.rgb)}
        if light.kind == "point":
            d[f"light-{i:02d}"] = {"type": "point", "position": list(light.vector), "intensity": rgb}
        else:
            d[f"light-{i:02d}"] = {"type": "directional", "direction": list(light.vector), "irradiance": rgb}
    for s in plan.shapes:
        d[s.name] = _shape(mi, s, bsdfs[s.material], plan.materials[s.material])
    scene = mi.load_dict(d)
    # load_dict renames BSDFs after the dict key they were given under; name them back.
    for name, b in bsdfs.items():
        b.set_id(name)
    kinds = {name: MATERIAL_KINDS.index(m.kind) for name, m in plan.materials.items()}
    return BuiltScene(scene=scene, kind_of_bsdf=kinds)


def render_view(built: BuiltScene, view: int, *, spp: int, seed: int) -> np.ndarray:
    """Path-trace sensor ``view`` (0 left, 1 delivered right): ``HxWx3`` float32 linear RGB radiance."""
    mi = mitsuba()
    img = mi.render(built.scene, sensor=int(view), spp=int(spp), seed=int(seed) & 0x7FFFFFFF)
    return np.array(img, dtype=np.float32)[..., :3]


def render_depth_aov(built: BuiltScene, view: int, *, spp: int, seed: int) -> np.ndarray:
    """Mitsuba's own ``aov`` depth through sensor ``view``: ``HxW`` float32 distance from the pinhole, 0 = no hit.

    Each pixel averages ``spp`` rays jittered over the pixel footprint (box filter).
    """
    mi = mitsuba()
    integ = mi.load_dict({"type": "aov", "aovs": "dd:depth"})
    img = mi.render(built.scene, sensor=int(view), integrator=integ, spp=int(spp), seed=int(seed) & 0x7FFFFFFF)
    return np.array(img, dtype=np.float32)[..., 0]


@dataclass(frozen=True)
class RayHits:
    """First surface hits of the pixel-centre rays of one view.

    Attributes
    ----------
    distance_m : numpy.ndarray
        ``HxW`` float64 distance from the camera centre along the ray (metres); NaN = no hit (sky).
    normal_world : numpy.ndarray
        ``HxWx3`` float64 unit shading normal in world coordinates; NaN = no hit.
    kind : numpy.ndarray
        ``HxW`` int8 index into :data:`~parallax.synth.materials.MATERIAL_KINDS`; -1 = no hit.
    dirs_cam : numpy.ndarray
        ``HxWx3`` float64 unit ray directions in the camera frame (OpenCV axes).
    """

    distance_m: np.ndarray
    normal_world: np.ndarray
    kind: np.ndarray
    dirs_cam: np.ndarray


def cast_rays(built: BuiltScene, rig: StereoRig, view: View) -> RayHits:
    """Intersect one ray through each pixel centre of ``view`` with the scene (exact, no sampling)."""
    mi = mitsuba()
    origin, dirs_w, dirs_c = pixel_rays(rig, view)
    h, w = rig.height, rig.width
    o = mi.Point3f(*(float(c) for c in origin))
    intersect = built.scene.ray_intersect
    Ray, Vec = mi.Ray3f, mi.Vector3f
    kinds = built.kind_of_bsdf
    n = h * w
    t = np.full(n, np.nan)
    nrm = np.full((n, 3), np.nan)
    kind = np.full(n, -1, dtype=np.int8)
    for i, (x, y, z) in enumerate(dirs_w.reshape(-1, 3).tolist()):
        si = intersect(Ray(o, Vec(x, y, z)))
        if si.is_valid():
            t[i] = si.t
            sn = si.sh_frame.n
            nrm[i] = (sn[0], sn[1], sn[2])
            kind[i] = kinds.get(si.bsdf().id(), 0)
    return RayHits(distance_m=t.reshape(h, w), normal_world=nrm.reshape(h, w, 3), kind=kind.reshape(h, w), dirs_cam=dirs_c)
