"""Render a :class:`~parallax.synth.scene.ScenePlan` with Mitsuba 3, and cast ground-truth rays.

Mitsuba (``pip install 'parallax[synth]'``) is imported lazily. The variant is
``llvm_ad_rgb`` (vectorised, multi-threaded) when Dr.Jit finds libLLVM 17 or
newer (Debian package ``libllvm19``, see ``scripts/setup.sh``), else the plain CPU
variant ``scalar_rgb``. (Dr.Jit's kernels failed to compile with Debian 12's
libLLVM 14 and 15 here, and a failed compile aborts the process, so older
versions are not tried.) Both render deterministically for a fixed seed with the
box pixel filter used here.

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

from parallax.errors import ParameterError, require
from parallax.synth.materials import MATERIAL_KINDS, Material
from parallax.synth.rig import StereoRig, View, pixel_rays
from parallax.synth.scene import ScenePlan, ShapeSpec

__all__ = [
    "mitsuba",
    "mitsuba_variant",
    "set_render_threads",
    "BuiltScene",
    "build_scene",
    "sensor_dict",
    "render_view",
    "render_depth_aov",
    "cast_rays",
    "RayHits",
    "renderer_name",
    "NEAR_CLIP_M",
]

LLVM_VARIANT = "llvm_ad_rgb"
SCALAR_VARIANT = "scalar_rgb"
MIN_LLVM_MAJOR = 17
NEAR_CLIP_M = 0.01
"""Near clipping distance of the sensors (metres). Mitsuba measures its depth AOV from this plane."""
_LOCK = threading.Lock()
# Mitsuba's camera frame is x left, y up, z forward; OpenCV's is x right, y down, z forward.
_CV_TO_MI = np.diag([-1.0, -1.0, 1.0, 1.0])


def _pick_variant(mi: Any) -> str:
    if LLVM_VARIANT in mi.variants():
        import drjit

        try:
            major = int(drjit.detail.llvm_version()[0])
        except (RuntimeError, AttributeError, IndexError, TypeError, ValueError):
            major = 0
        if major >= MIN_LLVM_MAJOR:
            return LLVM_VARIANT
    return SCALAR_VARIANT


def mitsuba() -> Any:
    """The ``mitsuba`` module with its variant set (see the module docstring); raises MissingDependencyError."""
    mi = require("mitsuba", "synth", "synthetic scene rendering (parallax synth)")
    with _LOCK:
        if mi.variant() not in (LLVM_VARIANT, SCALAR_VARIANT):
            mi.set_variant(_pick_variant(mi))
            mi.set_log_level(mi.LogLevel.Error)  # no per-shape warnings on the console
    return mi


def set_render_threads(threads: int) -> None:
    """Use ``threads`` worker threads for rendering and ray casting in this process (Dr.Jit's thread pool)."""
    from parallax.errors import ParameterError

    if not isinstance(threads, int) or threads < 1:
        raise ParameterError(f"threads must be a positive integer, got {threads!r}")
    mitsuba()
    import drjit

    drjit.set_thread_count(threads)


def mitsuba_variant() -> str:
    """The Mitsuba variant in use (``"llvm_ad_rgb"`` or ``"scalar_rgb"``)."""
    return str(mitsuba().variant())


def renderer_name() -> str:
    """``"mitsuba <version> <variant>"`` for meta.json."""
    mi = mitsuba()
    return f"mitsuba {mi.__version__} {mi.variant()}"


@dataclass(frozen=True)
class BuiltScene:
    """A Mitsuba scene built from a plan, and how to read its hits back."""

    scene: Any
    """The ``mitsuba.Scene``; sensor 0 is the left view, sensor 1 the delivered right view."""
    kind_of_bsdf: dict[str, int]
    """BSDF id -> index into :data:`~parallax.synth.materials.MATERIAL_KINDS`."""
    kind_of_bsdf_ptr: dict[int, int]
    """Dr.Jit instance id of each BSDF -> index into MATERIAL_KINDS (vectorised variants)."""


def _transform(mi: Any, matrix: np.ndarray) -> Any:
    return mi.ScalarTransform4f(np.asarray(matrix, dtype=np.float64).tolist())


def sensor_dict(rig: StereoRig, view: View, *, spp: int) -> dict[str, Any]:
    """Mitsuba perspective sensor matching ``rig``'s ``view`` (pinhole, centred principal point, box filter)."""
    mi = mitsuba()
    return {
        "type": "perspective",
        "fov": rig.hfov_deg,
        "fov_axis": "x",
        "near_clip": NEAR_CLIP_M,
        "far_clip": 10000.0,
        "to_world": _transform(mi, rig.pose(view) @ _CV_TO_MI),
        "film": {
            "type": "hdrfilm",
            "width": int(rig.width),
            "height": int(rig.height),
            "rfilter": {"type": "box"},
            "pixel_format": "rgb",
        },
        "sampler": {"type": "independent", "sample_count": int(spp)},
    }


def _bsdf(mi: Any, m: Material) -> Any:
    if m.kind == "diffuse":
        if m.texture is not None:
            refl: Any = {
                "type": "bitmap",
                "bitmap": mi.Bitmap(np.ascontiguousarray(m.texture, dtype=np.float32)),
                "filter_type": "bilinear",
                "wrap_mode": "repeat",
                "raw": True,
                "to_uv": mi.ScalarTransform4f().scale([m.texture_repeat, m.texture_repeat, 1.0]),
            }
        else:
            refl = {"type": "rgb", "value": list(m.rgb)}
        d: dict[str, Any] = {"type": "twosided", "material": {"type": "diffuse", "reflectance": refl}}
    elif m.kind == "emitter":
        d = {"type": "diffuse", "reflectance": {"type": "rgb", "value": [0.0, 0.0, 0.0]}}
    elif m.kind == "rough_metal":
        d = {"type": "roughconductor", "material": m.metal, "distribution": "ggx", "alpha": float(m.roughness)}
    elif m.kind in ("metal", "mirror"):
        d = {"type": "conductor", "material": m.metal}
    else:  # glass
        if m.roughness > 0:
            d = {
                "type": "roughdielectric",
                "int_ior": float(m.ior),
                "ext_ior": 1.000277,
                "distribution": "ggx",
                "alpha": float(m.roughness),
            }
        else:
            d = {"type": "dielectric", "int_ior": float(m.ior), "ext_ior": 1.000277}
    return mi.load_dict(d)


def _shape(mi: Any, s: ShapeSpec, bsdf: Any, material: Material) -> Any:
    extra: dict[str, Any] = {}
    if material.kind == "emitter":
        extra["emitter"] = {"type": "area", "radiance": {"type": "rgb", "value": list(material.rgb)}}
    # (ShapeSpec guarantees a sphere's centre and radius, a cylinder's end points and radius, a mesh shape's mesh)
    if s.primitive == "sphere" and s.center is not None and s.radius is not None:
        return {"type": "sphere", "center": list(s.center), "radius": float(s.radius), "bsdf": bsdf, **extra}
    if s.primitive == "cylinder" and s.p0 is not None and s.p1 is not None and s.radius is not None:
        return {
            "type": "cylinder",
            "p0": list(s.p0),
            "p1": list(s.p1),
            "radius": float(s.radius),
            "bsdf": bsdf,
            **extra,
        }
    if s.primitive in ("cube", "rectangle"):
        return {"type": s.primitive, "to_world": _transform(mi, s.to_world), "bsdf": bsdf, **extra}
    mesh = s.mesh
    if mesh is None:
        raise ParameterError(f"shape {s.name}: a {s.primitive} shape has no mesh to render")
    v = mesh.vertices.astype(np.float64) @ s.to_world[:3, :3].T + s.to_world[:3, 3]
    props = mi.Properties()
    props["bsdf"] = bsdf
    normals = mesh.normals
    has_n = normals is not None
    m = mi.Mesh(
        s.name,
        vertex_count=len(v),
        face_count=len(mesh.faces),
        props=props,
        has_vertex_normals=has_n,
        has_vertex_texcoords=True,
    )
    params = mi.traverse(m)
    params["vertex_positions"] = np.ascontiguousarray(v, dtype=np.float32).ravel()
    params["faces"] = mesh.faces.ravel()
    params["vertex_texcoords"] = mesh.uv.ravel()
    if normals is not None:
        nrm = normals.astype(np.float64) @ np.linalg.inv(s.to_world[:3, :3])
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
    ptr_kinds: dict[int, int] = {}
    if mi.variant() != SCALAR_VARIANT:
        import drjit as dr

        for name, b in bsdfs.items():
            # drjit's stubs type reinterpret_array as returning object; it returns an indexable UInt32 array
            ptr_kinds[int(dr.reinterpret_array(mi.UInt32, mi.BSDFPtr(b))[0])] = kinds[name]  # type: ignore[index]
    return BuiltScene(scene=scene, kind_of_bsdf=kinds, kind_of_bsdf_ptr=ptr_kinds)


def render_view(built: BuiltScene, view: int, *, spp: int, seed: int) -> np.ndarray:
    """Path-trace sensor ``view`` (0 left, 1 delivered right): ``HxWx3`` float32 linear RGB radiance."""
    mi = mitsuba()
    img = mi.render(built.scene, sensor=int(view), spp=int(spp), seed=int(seed) & 0x7FFFFFFF)
    return np.array(img, dtype=np.float32)[..., :3]


def render_depth_aov(built: BuiltScene, view: int, *, spp: int, seed: int) -> np.ndarray:
    """Mitsuba's own ``aov`` depth output through sensor ``view``: ``HxW`` float32 ray length, 0 = no hit.

    Each pixel averages ``spp`` rays jittered over the pixel footprint (box
    filter). Mitsuba's perspective sensor starts its rays on the near clipping
    plane, so the value is the distance from that plane along the ray, not from
    the pinhole: ``Z = value * dir_z + NEAR_CLIP_M`` for a unit ray direction
    with camera-frame z component ``dir_z``.
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


def cast_rays(built: BuiltScene, rig: StereoRig, view: View, *, offset_px: tuple[float, float] = (0.0, 0.0)) -> RayHits:
    """Intersect one ray through each pixel centre of ``view`` (shifted by ``offset_px``) with the scene (exact)."""
    mi = mitsuba()
    origin, dirs_w, dirs_c = pixel_rays(rig, view, offset_px=offset_px)
    h, w = rig.height, rig.width
    if mi.variant() == SCALAR_VARIANT:
        t, nrm, kind = _cast_scalar(mi, built, origin, dirs_w.reshape(-1, 3))
    else:
        t, nrm, kind = _cast_vectorised(mi, built, origin, dirs_w.reshape(-1, 3))
    return RayHits(
        distance_m=t.reshape(h, w), normal_world=nrm.reshape(h, w, 3), kind=kind.reshape(h, w), dirs_cam=dirs_c
    )


def _cast_vectorised(mi: Any, built: BuiltScene, origin: np.ndarray, dirs: np.ndarray) -> tuple[np.ndarray, ...]:
    import drjit as dr

    d = np.ascontiguousarray(dirs, dtype=np.float32)
    ray = mi.Ray3f(mi.Point3f(*(float(c) for c in origin)), mi.Vector3f(d[:, 0], d[:, 1], d[:, 2]))
    si = built.scene.ray_intersect(ray)
    valid = np.array(si.is_valid(), dtype=bool)
    t = np.where(valid, np.array(si.t, dtype=np.float64), np.nan)
    nrm = np.array(si.sh_frame.n, dtype=np.float64).T.reshape(-1, 3)
    nrm[~valid] = np.nan
    ptr = np.array(dr.reinterpret_array(mi.UInt32, si.bsdf()), dtype=np.int64)
    lut = np.full(max(built.kind_of_bsdf_ptr, default=0) + 2, 0, dtype=np.int8)
    for p, k in built.kind_of_bsdf_ptr.items():
        lut[p] = k
    kind = np.where(valid, lut[np.clip(ptr, 0, len(lut) - 1)], -1).astype(np.int8)
    return t, nrm, kind


def _cast_scalar(mi: Any, built: BuiltScene, origin: np.ndarray, dirs: np.ndarray) -> tuple[np.ndarray, ...]:
    o = mi.Point3f(*(float(c) for c in origin))
    intersect = built.scene.ray_intersect
    Ray, Vec = mi.Ray3f, mi.Vector3f
    kinds = built.kind_of_bsdf
    n = len(dirs)
    t = np.full(n, np.nan)
    nrm = np.full((n, 3), np.nan)
    kind = np.full(n, -1, dtype=np.int8)
    for i, (x, y, z) in enumerate(dirs.tolist()):
        si = intersect(Ray(o, Vec(x, y, z)))
        if si.is_valid():
            t[i] = si.t
            sn = si.sh_frame.n
            nrm[i] = (sn[0], sn[1], sn[2])
            kind[i] = kinds.get(si.bsdf().id(), 0)
    return t, nrm, kind
