"""Materials of synthetic scenes: what each surface is made of, as plain data.

A :class:`Material` is renderer-independent data (kind, colour, texture,
roughness); :mod:`parallax.synth.render` turns it into a Mitsuba BSDF. The
``kind`` decides the reflection mask: surfaces whose colour comes from
reflection or refraction (:data:`REFLECTIVE_KINDS`) are where photometric
stereo matching is wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from parallax.errors import ParameterError
from parallax.synth.textures import load_texture_image, procedural_texture, srgb_to_linear

__all__ = [
    "Material",
    "MaterialKind",
    "MATERIAL_KINDS",
    "REFLECTIVE_KINDS",
    "MaterialFactory",
]

MaterialKind = Literal["diffuse", "rough_metal", "metal", "mirror", "glass", "emitter"]
MATERIAL_KINDS: tuple[str, ...] = ("diffuse", "rough_metal", "metal", "mirror", "glass", "emitter")
"""Every kind, in the order of the integer codes the ground-truth ray caster uses (0-based)."""
REFLECTIVE_KINDS: frozenset[str] = frozenset({"rough_metal", "metal", "mirror", "glass"})
"""Kinds whose colour comes from reflection or refraction (the reflection mask)."""

_METALS = ("Al", "Au", "Cu", "Cr", "Ag", "W")


@dataclass(frozen=True, kw_only=True)
class Material:
    """One surface material (renderer-independent).

    Parameters
    ----------
    name : str
        Unique name within the scene (``mat-<n>-<kind>``).
    kind : str
        One of :data:`MATERIAL_KINDS`.
    rgb : (float, float, float)
        Linear RGB reflectance (diffuse) or radiance (emitter), when there is no texture.
    texture : numpy.ndarray or None
        ``HxWx3`` float32 linear RGB reflectance in [0, 1] (diffuse only).
    texture_repeat : float
        How many times the texture repeats across the shape's UV range.
    texture_source : str
        ``"plain"``, ``"procedural:<pattern>"`` or ``"user:<file name>"`` (for meta.json).
    roughness : float
        GGX alpha for rough metals and frosted glass (0 = smooth).
    metal : str
        Mitsuba conductor name (``"Au"``, ``"Al"``, ...; ``"none"`` is a perfect mirror).
    ior : float
        Index of refraction of glass.
    """

    name: str
    kind: str
    rgb: tuple[float, float, float] = (0.5, 0.5, 0.5)
    texture: np.ndarray | None = field(default=None, repr=False)
    texture_repeat: float = 1.0
    texture_source: str = "plain"
    roughness: float = 0.0
    metal: str = "Al"
    ior: float = 1.5

    def __post_init__(self) -> None:
        if self.kind not in MATERIAL_KINDS:
            raise ParameterError(f"material kind {self.kind!r} is not one of {', '.join(MATERIAL_KINDS)}")
        if self.texture is not None and (self.texture.ndim != 3 or self.texture.shape[2] != 3):
            raise ParameterError(f"material {self.name} texture must be HxWx3, got shape {self.texture.shape}")

    @property
    def reflective(self) -> bool:
        """True when this surface's colour comes from reflection or refraction."""
        return self.kind in REFLECTIVE_KINDS

    def describe(self) -> dict[str, Any]:
        """JSON-ready summary (no texture pixels)."""
        d: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.kind in ("diffuse", "emitter"):
            d["rgb"] = [round(float(c), 6) for c in self.rgb]
            d["texture"] = self.texture_source
        if self.kind in ("rough_metal", "metal", "mirror"):
            d["metal"] = self.metal
        if self.kind in ("rough_metal", "glass"):
            d["roughness"] = round(float(self.roughness), 6)
        if self.kind == "glass":
            d["ior"] = round(float(self.ior), 6)
        return d


class MaterialFactory:
    """Draws materials for one scene, naming them uniquely and caching user textures.

    Parameters
    ----------
    rng : numpy.random.Generator
        The scene's random generator.
    texture_files : sequence of Path
        The user's texture images (may be empty: procedural textures only).
    texture_size : int
        Side of procedural textures in texels.
    """

    def __init__(
        self, rng: np.random.Generator, texture_files: Sequence[Path] = (), *, texture_size: int = 256
    ) -> None:
        self.rng = rng
        self.texture_files = list(texture_files)
        self.texture_size = texture_size
        self.materials: dict[str, Material] = {}
        self._cache: dict[Path, np.ndarray] = {}

    def _name(self, kind: str) -> str:
        return f"mat-{len(self.materials):03d}-{kind}"

    def _add(self, material: Material) -> Material:
        self.materials[material.name] = material
        return material

    def plain(self, *, grey: bool = False) -> Material:
        """A textureless diffuse material (uniform colour)."""
        if grey:
            v = float(self.rng.uniform(0.35, 0.85))
            srgb = np.array([v, v, v]) * self.rng.uniform(0.97, 1.03, 3)
        else:
            srgb = self.rng.uniform(0.15, 0.9, 3)
        r, g, b = (float(c) for c in srgb_to_linear(srgb))
        return self._add(Material(name=self._name("diffuse"), kind="diffuse", rgb=(r, g, b)))

    def textured(self, *, repeat: float = 1.0, user_share: float = 0.5) -> Material:
        """A diffuse material with a procedural texture, or one of the user's images."""
        if self.texture_files and self.rng.random() < user_share:
            path = self.texture_files[int(self.rng.integers(len(self.texture_files)))]
            if path not in self._cache:
                self._cache[path] = load_texture_image(path)
            tex, source = self._cache[path], f"user:{path.name}"
        else:
            pattern, tex = procedural_texture(self.rng, size=self.texture_size)
            source = f"procedural:{pattern}"
        return self._add(
            Material(
                name=self._name("diffuse"),
                kind="diffuse",
                texture=tex,
                texture_repeat=float(repeat),
                texture_source=source,
            )
        )

    def metal(self, *, rough: bool) -> Material:
        """A smooth or rough (GGX) metal of a random conductor."""
        metal = str(self.rng.choice(_METALS))
        if rough:
            return self._add(
                Material(
                    name=self._name("rough_metal"),
                    kind="rough_metal",
                    metal=metal,
                    roughness=float(self.rng.uniform(0.05, 0.4)),
                )
            )
        return self._add(Material(name=self._name("metal"), kind="metal", metal=metal))

    def mirror(self) -> Material:
        """A perfect mirror."""
        return self._add(Material(name=self._name("mirror"), kind="mirror", metal="none"))

    def glass(self) -> Material:
        """Clear or frosted glass (or water-like), smooth or GGX-rough."""
        rough = float(self.rng.uniform(0.05, 0.25)) if self.rng.random() < 0.3 else 0.0
        ior = float(self.rng.choice([1.33, 1.45, 1.5, 1.6]))
        return self._add(Material(name=self._name("glass"), kind="glass", roughness=rough, ior=ior))

    def emitter(self, radiance: float) -> Material:
        """An area-light surface of radiance ``radiance`` (linear RGB units), white to warm or cool."""
        tint = np.array([1.0, 1.0, 1.0]) + self.rng.uniform(-0.15, 0.15) * np.array([1.0, 0.0, -1.0])
        r, g, b = (float(c) for c in radiance * tint)
        return self._add(Material(name=self._name("emitter"), kind="emitter", rgb=(r, g, b)))

    def for_object(self, *, glass_allowed: bool) -> Material:
        """A material for a scattered object, drawn from the whole mix."""
        weights = {
            "textured": 0.45,
            "plain": 0.18,
            "rough_metal": 0.14,
            "metal": 0.07,
            "glass": 0.1 if glass_allowed else 0.0,
            "mirror": 0.06,
        }
        names = list(weights)
        p = np.array([weights[n] for n in names])
        choice = names[int(self.rng.choice(len(names), p=p / p.sum()))]
        if choice == "textured":
            return self.textured(repeat=float(self.rng.choice([1.0, 2.0, 3.0])))
        if choice == "plain":
            return self.plain()
        if choice in ("rough_metal", "metal"):
            return self.metal(rough=choice == "rough_metal")
        if choice == "glass":
            return self.glass()
        return self.mirror()
