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
    "cast_views",
    "first_hit_distance",
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
    shape_index_of_id: dict[str, int]
    """Shape id (its name) -> index in the plan's ``shapes``."""
    shape_index_of_ptr: dict[int, int]
    """Dr.Jit instance id of each shape -> index in the plan's ``shapes`` (vectorised variants)."""


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


def _cylinder_frame(p0: np.ndarray, p1: np.ndarray, radius: float) -> np.ndarray:
    """4x4 transform of Mitsuba's unit cylinder (radius 1, z from 0 to 1) onto the axis ``p0 -> p1``."""
    axis = p1 - p0
    z = axis / np.linalg.norm(axis)
    helper = np.array([1.0, 0.0, 0.0]) if abs(z[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    x = np.cross(helper, z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    T = np.eye(4)
    T[:3, 0], T[:3, 1], T[:3, 2], T[:3, 3] = x * radius, y * radius, axis, p0
    return T


def _shape(mi: Any, s: ShapeSpec, bsdf: Any, material: Material) -> Any:
    extra: dict[str, Any] = {}
    if material.kind == "emitter":
        extra["emitter"] = {"type": "area", "radiance": {"type": "rgb", "value": list(material.rgb)}}
    if s.motion is not None and s.primitive in ("sphere", "cylinder"):
        # A moving sphere or cylinder is placed through to_world, so that its texture turns with it.
        radius = float(s.radius or 0.0)
        base: np.ndarray
        if s.primitive == "sphere":
            base = np.diag(np.array([radius, radius, radius, 1.0]))
            base[:3, 3] = np.asarray(s.center, dtype=np.float64)
        else:
            base = _cylinder_frame(np.asarray(s.p0, dtype=np.float64), np.asarray(s.p1, dtype=np.float64), radius)
        return {"type": s.primitive, "to_world": _transform(mi, s.motion @ base), "bsdf": bsdf, **extra}
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
    to_world = s.to_world if s.motion is None else s.motion @ s.to_world
    if s.primitive in ("cube", "rectangle"):
        return {"type": s.primitive, "to_world": _transform(mi, to_world), "bsdf": bsdf, **extra}
    mesh = s.mesh
    if mesh is None:
        raise ParameterError(f"shape {s.name}: a {s.primitive} shape has no mesh to render")
    v = mesh.vertices.astype(np.float64) @ to_world[:3, :3].T + to_world[:3, 3]
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
        nrm = normals.astype(np.float64) @ np.linalg.inv(to_world[:3, :3])
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
    shape_index = {s.name: i for i, s in enumerate(plan.shapes)}
    ptr_kinds: dict[int, int] = {}
    ptr_shapes: dict[int, int] = {}
    if mi.variant() != SCALAR_VARIANT:
        import drjit as dr

        for name, b in bsdfs.items():
            # drjit's stubs type reinterpret_array as returning object; it returns an indexable UInt32 array
            ptr_kinds[int(dr.reinterpret_array(mi.UInt32, mi.BSDFPtr(b))[0])] = kinds[name]  # type: ignore[index]
        for shape in scene.shapes():
            if shape.id() in shape_index:
                ptr = np.asarray(dr.reinterpret_array(mi.UInt32, mi.ShapePtr(shape)))
                ptr_shapes[int(ptr[0])] = shape_index[shape.id()]
    return BuiltScene(
        scene=scene,
        kind_of_bsdf=kinds,
        kind_of_bsdf_ptr=ptr_kinds,
        shape_index_of_id=shape_index,
        shape_index_of_ptr=ptr_shapes,
    )


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
    shape : numpy.ndarray
        ``HxW`` int32 index of the hit shape in the plan's ``shapes``; -1 = no hit.
    """

    distance_m: np.ndarray
    normal_world: np.ndarray
    kind: np.ndarray
    dirs_cam: np.ndarray
    shape: np.ndarray


def cast_rays(built: BuiltScene, rig: StereoRig, view: View, *, offset_px: tuple[float, float] = (0.0, 0.0)) -> RayHits:
    """Intersect one ray through each pixel centre of ``view`` (shifted by ``offset_px``) with the scene (exact)."""
    origin, dirs_w, dirs_c = pixel_rays(rig, view, offset_px=offset_px)
    h, w = rig.height, rig.width
    t, nrm, kind, shape = _cast(built, origin, dirs_w.reshape(-1, 3))
    return RayHits(
        distance_m=t.reshape(h, w),
        normal_world=nrm.reshape(h, w, 3),
        kind=kind.reshape(h, w),
        dirs_cam=dirs_c,
        shape=shape.reshape(h, w),
    )


def cast_views(built: BuiltScene, rig: StereoRig, requests: list[tuple[View, tuple[float, float]]]) -> list[RayHits]:
    """:func:`cast_rays` for several ``(view, offset_px)`` requests in one batch (one kernel launch)."""
    h, w = rig.height, rig.width
    origins, dirs, cams = [], [], []
    for view, offset in requests:
        origin, dirs_w, dirs_c = pixel_rays(rig, view, offset_px=offset)
        origins.append(np.broadcast_to(origin, (h * w, 3)))
        dirs.append(dirs_w.reshape(-1, 3))
        cams.append(dirs_c)
    t, nrm, kind, shape = _cast(built, np.concatenate(origins), np.concatenate(dirs))
    out = []
    for i, dirs_c in enumerate(cams):
        sl = slice(i * h * w, (i + 1) * h * w)
        out.append(
            RayHits(
                distance_m=t[sl].reshape(h, w),
                normal_world=nrm[sl].reshape(h, w, 3),
                kind=kind[sl].reshape(h, w),
                dirs_cam=dirs_c,
                shape=shape[sl].reshape(h, w),
            )
        )
    return out


def first_hit_distance(built: BuiltScene, origins: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """Distance (metres) from each origin along each unit direction to the first surface; NaN = no hit.

    Parameters
    ----------
    origins : numpy.ndarray
        ``(3,)`` one origin for all rays, or ``(N, 3)`` one per ray (world, metres).
    dirs : numpy.ndarray
        ``(N, 3)`` unit directions (world).
    """
    return _cast(built, np.asarray(origins, dtype=np.float64), np.asarray(dirs, dtype=np.float64).reshape(-1, 3))[0]


def _cast(built: BuiltScene, origin: np.ndarray, dirs: np.ndarray) -> tuple[np.ndarray, ...]:
    mi = mitsuba()
    if mi.variant() == SCALAR_VARIANT:
        return _cast_scalar(mi, built, origin, dirs)
    return _cast_vectorised(mi, built, origin, dirs)


def _lut(table: dict[int, int], dtype: Any) -> np.ndarray:
    lut = np.full(max(table, default=0) + 2, -1, dtype=dtype)
    for p, k in table.items():
        lut[p] = k
    return lut


def _cast_vectorised(mi: Any, built: BuiltScene, origin: np.ndarray, dirs: np.ndarray) -> tuple[np.ndarray, ...]:
    import drjit as dr

    d = np.ascontiguousarray(dirs, dtype=np.float32)
    if origin.ndim == 1:
        o = mi.Point3f(*(float(c) for c in origin))
    else:
        oo = np.ascontiguousarray(origin, dtype=np.float32)
        o = mi.Point3f(oo[:, 0], oo[:, 1], oo[:, 2])
    ray = mi.Ray3f(o, mi.Vector3f(d[:, 0], d[:, 1], d[:, 2]))
    si = built.scene.ray_intersect(ray)
    outputs: tuple[Any, ...] = (
        si.is_valid(),
        si.t,
        si.sh_frame.n,
        dr.reinterpret_array(mi.UInt32, si.bsdf()),
        dr.reinterpret_array(mi.UInt32, si.shape),
    )
    dr.eval(*outputs)  # one kernel for every output (converting them one by one would trace the rays again)
    valid = np.array(outputs[0], dtype=bool)
    t = np.where(valid, np.array(outputs[1], dtype=np.float64), np.nan)
    nrm = np.array(outputs[2], dtype=np.float64).T.reshape(-1, 3)
    nrm[~valid] = np.nan
    ptr = np.array(outputs[3], dtype=np.int64)
    kinds = _lut(built.kind_of_bsdf_ptr, np.int8)
    kinds[kinds < 0] = 0
    kind = np.where(valid, kinds[np.clip(ptr, 0, len(kinds) - 1)], -1).astype(np.int8)
    sptr = np.array(outputs[4], dtype=np.int64)
    shapes = _lut(built.shape_index_of_ptr, np.int32)
    shape = np.where(valid, shapes[np.clip(sptr, 0, len(shapes) - 1)], -1).astype(np.int32)
    return t, nrm, kind, shape


def _cast_scalar(mi: Any, built: BuiltScene, origin: np.ndarray, dirs: np.ndarray) -> tuple[np.ndarray, ...]:
    intersect = built.scene.ray_intersect
    Ray, Vec, Pt = mi.Ray3f, mi.Vector3f, mi.Point3f
    kinds = built.kind_of_bsdf
    n = len(dirs)
    t = np.full(n, np.nan)
    nrm = np.full((n, 3), np.nan)
    kind = np.full(n, -1, dtype=np.int8)
    shape = np.full(n, -1, dtype=np.int32)
    origins = np.broadcast_to(origin, (n, 3)).tolist()
    for i, ((x, y, z), o) in enumerate(zip(dirs.tolist(), origins, strict=True)):
        si = intersect(Ray(Pt(*o), Vec(x, y, z)))
        if si.is_valid():
            t[i] = si.t
            sn = si.sh_frame.n
            nrm[i] = (sn[0], sn[1], sn[2])
            kind[i] = kinds.get(si.bsdf().id(), 0)
            shape[i] = built.shape_index_of_id.get(si.shape.id(), -1)
    return t, nrm, kind, shape
