"""Generated triangle meshes (numpy): blobs, rocks, tori, vases, superellipsoids, terrain.

Each generator returns a :class:`TriMesh` in its own object frame (metres, y up,
centred near the origin, roughly unit size unless stated); the scene places it
with a 4x4 transform. Randomness comes only from the ``numpy.random.Generator``
passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from parallax.errors import ParameterError

__all__ = [
    "TriMesh",
    "icosphere",
    "blob",
    "rock",
    "torus",
    "vase",
    "superellipsoid",
    "terrain",
    "vertex_normals",
]


@dataclass(frozen=True, kw_only=True)
class TriMesh:
    """A triangle mesh.

    Parameters
    ----------
    vertices : numpy.ndarray
        ``Nx3`` float32 positions in metres.
    faces : numpy.ndarray
        ``Mx3`` uint32 vertex indices, counter-clockwise seen from outside.
    uv : numpy.ndarray
        ``Nx2`` float32 texture coordinates.
    normals : numpy.ndarray or None
        ``Nx3`` float32 unit vertex normals (smooth shading), or ``None`` for flat shading.
    """

    vertices: np.ndarray
    faces: np.ndarray
    uv: np.ndarray
    normals: np.ndarray | None = None

    def __post_init__(self) -> None:
        v = np.ascontiguousarray(self.vertices, dtype=np.float32)
        f = np.ascontiguousarray(self.faces, dtype=np.uint32)
        uv = np.ascontiguousarray(self.uv, dtype=np.float32)
        if v.ndim != 2 or v.shape[1] != 3 or len(v) < 3 or not np.all(np.isfinite(v)):
            raise ParameterError(f"TriMesh.vertices must be a finite Nx3 array with N >= 3, got shape {v.shape}")
        if f.ndim != 2 or f.shape[1] != 3 or len(f) < 1 or int(f.max()) >= len(v):
            raise ParameterError(f"TriMesh.faces must be an Mx3 array of indices below {len(v)}, got shape {f.shape}")
        if uv.shape != (len(v), 2):
            raise ParameterError(f"TriMesh.uv must have shape ({len(v)}, 2), got {uv.shape}")
        object.__setattr__(self, "vertices", v)
        object.__setattr__(self, "faces", f)
        object.__setattr__(self, "uv", uv)
        if self.normals is not None:
            n = np.ascontiguousarray(self.normals, dtype=np.float32)
            if n.shape != v.shape:
                raise ParameterError(f"TriMesh.normals must have shape {v.shape}, got {n.shape}")
            object.__setattr__(self, "normals", n)


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals (``Nx3`` float32) of a counter-clockwise mesh."""
    v = vertices.astype(np.float64)
    e1 = v[faces[:, 1]] - v[faces[:, 0]]
    e2 = v[faces[:, 2]] - v[faces[:, 0]]
    fn = np.cross(e1, e2)
    n = np.zeros_like(v)
    for k in range(3):
        np.add.at(n, faces[:, k], fn)
    norm = np.linalg.norm(n, axis=1, keepdims=True)
    n = np.where(norm > 0, n / np.maximum(norm, 1e-30), np.array([0.0, 1.0, 0.0]))
    return n.astype(np.float32)


def icosphere(subdivisions: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Unit icosphere: ``(vertices Nx3 float64, faces Mx3 int64)``, counter-clockwise from outside."""
    t = (1.0 + 5.0**0.5) / 2.0
    verts = [(-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0), (0, -1, t), (0, 1, t),
             (0, -1, -t), (0, 1, -t), (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1)]  # fmt: skip
    faces = [(0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11), (1, 5, 9), (5, 11, 4), (11, 10, 2),
             (10, 7, 6), (7, 1, 8), (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8), (3, 8, 9), (4, 9, 5),
             (2, 4, 11), (6, 2, 10), (8, 6, 7), (9, 8, 1)]  # fmt: skip
    v = [np.array(p, dtype=np.float64) / np.linalg.norm(p) for p in verts]
    f = faces
    for _ in range(subdivisions):
        cache: dict[tuple[int, int], int] = {}

        def mid(a: int, b: int, cache: dict[tuple[int, int], int] = cache) -> int:
            key = (min(a, b), max(a, b))
            if key not in cache:
                p = v[a] + v[b]
                v.append(p / np.linalg.norm(p))
                cache[key] = len(v) - 1
            return cache[key]

        nf = []
        for a, b, c in f:
            ab, bc, ca = mid(a, b), mid(b, c), mid(c, a)
            nf += [(a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca)]
        f = nf
    return np.array(v), np.array(f, dtype=np.int64)


def _spherical_uv(v: np.ndarray) -> np.ndarray:
    d = v / np.linalg.norm(v, axis=1, keepdims=True)
    u = 0.5 + np.arctan2(d[:, 2], d[:, 0]) / (2 * np.pi)
    w = 0.5 - np.arcsin(np.clip(d[:, 1], -1, 1)) / np.pi
    return np.stack([u, w], axis=1)


def _radial_noise(rng: np.random.Generator, dirs: np.ndarray, terms: int, max_freq: float) -> np.ndarray:
    """Smooth random function on the sphere: a sum of random plane waves, zero mean, unit peak."""
    k = rng.normal(size=(terms, 3))
    k *= (rng.uniform(1.0, max_freq, terms) / np.linalg.norm(k, axis=1))[:, None]
    phase = rng.uniform(0, 2 * np.pi, terms)
    amp = 1.0 / np.linalg.norm(k, axis=1)
    f = (np.sin(dirs @ k.T + phase) * amp).sum(axis=1)
    return f / max(np.abs(f).max(), 1e-9)


def blob(rng: np.random.Generator, *, subdivisions: int = 3, roughness: float = 0.25) -> TriMesh:
    """A smooth organic blob (unit radius on average), smooth-shaded."""
    v, f = icosphere(subdivisions)
    r = 1.0 + roughness * _radial_noise(rng, v, 8, 3.0)
    v = v * r[:, None]
    return TriMesh(vertices=v, faces=f, uv=_spherical_uv(v), normals=vertex_normals(v, f))


def rock(rng: np.random.Generator, *, subdivisions: int = 2) -> TriMesh:
    """A faceted rock (flat-shaded), squashed vertically, resting its base near ``y = 0``."""
    v, f = icosphere(subdivisions)
    r = 1.0 + 0.3 * _radial_noise(rng, v, 12, 5.0) + 0.08 * rng.uniform(-1, 1, len(v))
    v = v * r[:, None] * np.array([1.0, rng.uniform(0.45, 0.9), 1.0])
    v[:, 1] -= v[:, 1].min() + 0.05
    return TriMesh(vertices=v, faces=f, uv=_spherical_uv(v), normals=None)


def _grid_faces(nu: int, nv: int, wrap_u: bool) -> np.ndarray:
    """Faces of an ``nv x nu`` vertex grid (rows along v), optionally wrapping in u."""
    cols = nu if wrap_u else nu - 1
    faces = []
    for j in range(nv - 1):
        for i in range(cols):
            a = j * nu + i
            b = j * nu + (i + 1) % nu
            c = (j + 1) * nu + i
            d = (j + 1) * nu + (i + 1) % nu
            faces += [(a, c, b), (b, c, d)]
    return np.array(faces, dtype=np.int64)


def torus(*, major_radius: float = 1.0, minor_radius: float = 0.3, nu: int = 48, nv: int = 24) -> TriMesh:
    """A torus around the y axis (metres), smooth-shaded."""
    if not 0 < minor_radius < major_radius:
        raise ParameterError(f"torus needs 0 < minor_radius < major_radius, got {minor_radius} and {major_radius}")
    u = np.arange(nu) * 2 * np.pi / nu
    w = np.arange(nv + 1) * 2 * np.pi / nv
    uu, ww = np.meshgrid(u, w)
    x = (major_radius + minor_radius * np.cos(ww)) * np.cos(uu)
    z = (major_radius + minor_radius * np.cos(ww)) * np.sin(uu)
    y = minor_radius * np.sin(ww)
    v = np.stack([x, y, z], axis=-1).reshape(-1, 3)
    f = _grid_faces(nu, nv + 1, wrap_u=True)
    uv = np.stack([uu / (2 * np.pi), ww / (2 * np.pi)], axis=-1).reshape(-1, 2) * np.array([4.0, 1.0])
    return TriMesh(vertices=v, faces=f, uv=uv, normals=vertex_normals(v, f))


def vase(rng: np.random.Generator, *, nu: int = 40, nv: int = 24) -> TriMesh:
    """A surface of revolution with a random profile (vase, bottle, lamp shade), height 1 m, open top."""
    t = np.linspace(0.0, 1.0, nv)
    profile = 0.25 + 0.15 * np.sin(np.pi * t * rng.uniform(0.5, 2.5) + rng.uniform(0, np.pi))
    profile += 0.08 * np.sin(2 * np.pi * t * rng.uniform(1, 4))
    profile = np.clip(profile, 0.05, None)
    u = np.arange(nu) * 2 * np.pi / nu
    uu, tt = np.meshgrid(u, t)
    r = profile[:, None]
    v = np.stack([r * np.cos(uu), tt, r * np.sin(uu)], axis=-1).reshape(-1, 3)
    f = _grid_faces(nu, nv, wrap_u=True)
    uv = np.stack([uu / (2 * np.pi) * 3.0, tt], axis=-1).reshape(-1, 2)
    return TriMesh(vertices=v, faces=f, uv=uv, normals=vertex_normals(v, f))


def superellipsoid(rng: np.random.Generator, *, nu: int = 40, nv: int = 24) -> TriMesh:
    """A superellipsoid (rounded box to star-like pillow), unit half-extents, smooth-shaded."""
    e1, e2 = rng.uniform(0.2, 1.6, 2)

    def spow(x: np.ndarray, p: float) -> np.ndarray:
        return np.sign(x) * np.abs(x) ** p

    lon = np.arange(nu) * 2 * np.pi / nu - np.pi
    lat = np.linspace(-np.pi / 2, np.pi / 2, nv)
    ll, aa = np.meshgrid(lon, lat)
    x = spow(np.cos(aa), e1) * spow(np.cos(ll), e2)
    y = spow(np.sin(aa), e1)
    z = spow(np.cos(aa), e1) * spow(np.sin(ll), e2)
    v = np.stack([x, y, z], axis=-1).reshape(-1, 3)
    f = _grid_faces(nu, nv, wrap_u=True)
    uv = np.stack([(ll + np.pi) / (2 * np.pi) * 2, (aa + np.pi / 2) / np.pi], axis=-1).reshape(-1, 2)
    return TriMesh(vertices=v, faces=f, uv=uv, normals=vertex_normals(v, f))


def terrain(
    rng: np.random.Generator,
    *,
    size_m: float = 80.0,
    n: int = 96,
    amplitude_m: float = 1.5,
    flat_radius_m: float = 3.0,
    uv_repeat: float = 16.0,
) -> TriMesh:
    """Rolling ground: an ``n x n`` heightfield over ``[-size/2, size/2]^2`` in x and z, height y.

    Heights are smooth noise of peak ``amplitude_m`` metres, growing with the
    distance from the origin (within ``flat_radius_m`` the ground is nearly
    flat at ``y = 0``, where the camera stands).
    """
    if n < 4 or size_m <= 0:
        raise ParameterError(f"terrain needs n >= 4 and size_m > 0, got n={n}, size_m={size_m}")
    xs = np.linspace(-size_m / 2, size_m / 2, n)
    xx, zz = np.meshgrid(xs, xs)
    pts = np.stack([xx, np.zeros_like(xx), zz], axis=-1).reshape(-1, 3) / (size_m / 4)
    h = _radial_noise(rng, pts, 10, 3.0).reshape(n, n)
    ramp = np.clip((np.hypot(xx, zz) - flat_radius_m) / (size_m / 4), 0.0, 1.0)
    y = amplitude_m * h * (0.1 + 0.9 * ramp)
    y -= y[n // 2, n // 2]
    v = np.stack([xx, y, zz], axis=-1).reshape(-1, 3)
    f = _grid_faces(n, n, wrap_u=False)
    uv = np.stack([(xx / size_m + 0.5) * uv_repeat, (zz / size_m + 0.5) * uv_repeat], axis=-1).reshape(-1, 2)
    normals = vertex_normals(v, f)
    if normals[:, 1].mean() < 0:  # make the ground face up
        f = f[:, ::-1]
        normals = vertex_normals(v, f)
    return TriMesh(vertices=v, faces=f, uv=uv, normals=normals)
