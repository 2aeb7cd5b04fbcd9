"""Settings of the synthetic scene generator: :class:`SynthConfig`.

All ranges are closed intervals ``(low, high)`` from which each scene draws
uniformly, seeded (``docs/conventions.md``). The settings are recorded in every
sample's ``meta.json`` (``lineage.generator.settings``).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any

from parallax.errors import ParameterError

__all__ = ["SynthConfig", "SequenceConfig", "SCENE_KINDS", "CAMERA_PATHS", "parse_size", "parse_range"]

SCENE_KINDS = ("room", "outdoor")
#: Camera paths of synthetic sequences (see :mod:`parallax.synth.motion`).
CAMERA_PATHS = ("handheld", "walk", "orbit")
_SIZE_RE = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")


def _check_range(name: str, value: Any, *, low: float, high: float, unit: str) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name} must be a pair (low, high) of numbers in {unit}, got {value!r}") from exc
    if not (math.isfinite(a) and math.isfinite(b) and low <= a <= b <= high):
        raise ParameterError(
            f"{name} must be LOW,HIGH with {low:g} <= LOW <= HIGH <= {high:g} ({unit}), got ({a:g}, {b:g})"
        )
    return a, b


@dataclass(frozen=True, kw_only=True)
class SynthConfig:
    """What the generator draws from.

    Parameters
    ----------
    size_range : ((int, int), (int, int))
        Smallest and largest ``(width, height)`` in pixels; each scene draws a
        size between them (both sides scaled together, rounded to even numbers).
        Give the same size twice for a fixed size. Each side 32..8192.
    spp : int
        Samples per pixel of the path tracer (1..65536). More is less noisy and slower.
    baseline_range_m : (float, float)
        Stereo baseline in metres (0.001..2).
    focal_range_mm35 : (float, float)
        Focal length as a 35 mm-equivalent in millimetres (6..400); the focal
        length in pixels is ``f_mm35 / 36 * width`` (phones: about 24-28).
    rect_error_deg : float
        Largest rotation (degrees, 0..5) of the delivered right camera away from the
        rectified rig; 0 gives perfectly rectified pairs. The ground truth is for the
        rectified rig and states the residual homography (``lineage.rig``).
    phone_effects : bool
        Apply seeded phone-like exposure, optical blur and sensor noise to the views.
    scene_kinds : tuple of str
        Which of ``"room"`` and ``"outdoor"`` to draw from.
    object_count_range : (int, int)
        Number of scattered objects per scene (0..200).
    thin_count_range : (int, int)
        Number of thin structures (poles, rods, wires, fences) per scene (0..100).
    mirror_probability, glass_probability : float
        Chance (0..1) that a scene holds a mirror facing the camera, and glass objects.
    textures_dir : str or None
        A folder of the user's images to use as textures beside the procedural ones.
    max_bounces : int
        Longest light path of the path tracer (2..64); glass needs about 8.
    """

    size_range: tuple[tuple[int, int], tuple[int, int]] = ((640, 480), (640, 480))
    spp: int = 64
    baseline_range_m: tuple[float, float] = (0.02, 0.10)
    focal_range_mm35: tuple[float, float] = (22.0, 50.0)
    rect_error_deg: float = 0.0
    phone_effects: bool = True
    scene_kinds: tuple[str, ...] = SCENE_KINDS
    object_count_range: tuple[int, int] = (6, 14)
    thin_count_range: tuple[int, int] = (2, 6)
    mirror_probability: float = 0.5
    glass_probability: float = 0.5
    textures_dir: str | None = None
    max_bounces: int = 8

    def __post_init__(self) -> None:
        try:
            (w0, h0), (w1, h1) = ((int(w), int(h)) for w, h in self.size_range)
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"size_range must be ((w, h), (w, h)) in pixels, got {self.size_range!r}") from exc
        for w, h in ((w0, h0), (w1, h1)):
            if not (32 <= w <= 8192 and 32 <= h <= 8192):
                raise ParameterError(f"image size {w}x{h} is out of range; each side must be 32..8192 pixels")
        if w1 < w0 or h1 < h0:
            raise ParameterError(f"size range {w0}x{h0}..{w1}x{h1} is reversed; give the smaller size first")
        object.__setattr__(self, "size_range", ((w0, h0), (w1, h1)))
        if not isinstance(self.spp, int) or isinstance(self.spp, bool) or not 1 <= self.spp <= 65536:
            raise ParameterError(f"spp must be an integer 1..65536 (samples per pixel), got {self.spp!r}")
        object.__setattr__(
            self,
            "baseline_range_m",
            _check_range("baseline_range_m", self.baseline_range_m, low=0.001, high=2.0, unit="metres"),
        )
        object.__setattr__(
            self,
            "focal_range_mm35",
            _check_range("focal_range_mm35", self.focal_range_mm35, low=6.0, high=400.0, unit="mm (35 mm equivalent)"),
        )
        if not (isinstance(self.rect_error_deg, (int, float)) and 0.0 <= float(self.rect_error_deg) <= 5.0):
            raise ParameterError(f"rect_error_deg must be 0..5 degrees, got {self.rect_error_deg!r}")
        kinds = tuple(self.scene_kinds)
        if not kinds or any(k not in SCENE_KINDS for k in kinds):
            raise ParameterError(f"scene_kinds must be a non-empty subset of {SCENE_KINDS}, got {self.scene_kinds!r}")
        object.__setattr__(self, "scene_kinds", kinds)
        for name, hi in (("object_count_range", 200), ("thin_count_range", 100)):
            lo_v, hi_v = _check_range(name, getattr(self, name), low=0, high=hi, unit="count")
            if lo_v != int(lo_v) or hi_v != int(hi_v):
                raise ParameterError(f"{name} must hold whole numbers, got {getattr(self, name)!r}")
            object.__setattr__(self, name, (int(lo_v), int(hi_v)))
        for name in ("mirror_probability", "glass_probability"):
            p = getattr(self, name)
            if not (isinstance(p, (int, float)) and 0.0 <= float(p) <= 1.0):
                raise ParameterError(f"{name} must be a probability 0..1, got {p!r}")
        if not isinstance(self.max_bounces, int) or not 2 <= self.max_bounces <= 64:
            raise ParameterError(f"max_bounces must be an integer 2..64, got {self.max_bounces!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings (what ``meta.json`` records)."""
        d = asdict(self)
        d["size_range"] = [list(s) for s in self.size_range]
        for k in ("baseline_range_m", "focal_range_mm35", "object_count_range", "thin_count_range", "scene_kinds"):
            d[k] = list(d[k])
        return d


@dataclass(frozen=True, kw_only=True)
class SequenceConfig:
    """What a synthetic *sequence* adds to a scene: frames, a camera path, moving objects.

    Parameters
    ----------
    frames : int
        Frames per sequence (2..10000).
    fps : float
        Frame rate in frames per second (0.5..240); frame ``k`` is at ``k / fps`` seconds.
        Lower rates mean larger motion between frames.
    paths : tuple of str
        Camera paths to draw from: ``"handheld"`` (a person holding the phone: slow pan,
        small drift, hand shake), ``"walk"`` (walking forward with step bob and sway,
        turning slowly), ``"orbit"`` (circling a point of the scene, looking at it).
    moving_probability : float
        Chance (0..1) that a sequence has moving objects.
    moving_count_range : (int, int)
        How many objects move when they do (1..20); fewer when the scene has fewer.
    motion_scale : float
        Multiplies every speed (camera and objects), 0.1..5.
    """

    frames: int = 8
    fps: float = 10.0
    paths: tuple[str, ...] = CAMERA_PATHS
    moving_probability: float = 0.0
    moving_count_range: tuple[int, int] = (1, 3)
    motion_scale: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.frames, int) or isinstance(self.frames, bool) or not 2 <= self.frames <= 10000:
            raise ParameterError(f"frames must be an integer 2..10000 (frames per sequence), got {self.frames!r}")
        if not (isinstance(self.fps, (int, float)) and math.isfinite(self.fps) and 0.5 <= self.fps <= 240):
            raise ParameterError(f"fps must be 0.5..240 frames per second, got {self.fps!r}")
        object.__setattr__(self, "fps", float(self.fps))
        paths = tuple(self.paths)
        if not paths or any(p not in CAMERA_PATHS for p in paths):
            raise ParameterError(f"paths must be a non-empty subset of {CAMERA_PATHS}, got {self.paths!r}")
        object.__setattr__(self, "paths", paths)
        p = self.moving_probability
        if not (isinstance(p, (int, float)) and 0.0 <= float(p) <= 1.0):
            raise ParameterError(f"moving_probability must be a probability 0..1, got {p!r}")
        lo, hi = _check_range("moving_count_range", self.moving_count_range, low=1, high=20, unit="count")
        if lo != int(lo) or hi != int(hi):
            raise ParameterError(f"moving_count_range must hold whole numbers, got {self.moving_count_range!r}")
        object.__setattr__(self, "moving_count_range", (int(lo), int(hi)))
        m = self.motion_scale
        if not (isinstance(m, (int, float)) and math.isfinite(m) and 0.1 <= m <= 5.0):
            raise ParameterError(f"motion_scale must be 0.1..5, got {m!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings (what ``meta.json`` records)."""
        d = asdict(self)
        d["paths"] = list(self.paths)
        d["moving_count_range"] = list(self.moving_count_range)
        return d


def parse_size(text: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """Parse ``"WxH"`` or ``"WxH:WxH"`` (a range) into a ``size_range``.

    Raises
    ------
    ParameterError
        Naming the text and the expected form.
    """
    parts = str(text).split(":")
    sizes = []
    for part in parts:
        m = _SIZE_RE.match(part)
        if not m:
            raise ParameterError(f"--size {text!r} is not WxH (e.g. 640x480) or a range WxH:WxH (e.g. 320x240:640x480)")
        sizes.append((int(m.group(1)), int(m.group(2))))
    if len(sizes) == 1:
        sizes.append(sizes[0])
    if len(sizes) != 2:
        raise ParameterError(f"--size {text!r} has more than two sizes; give WxH or WxH:WxH")
    return sizes[0], sizes[1]


def parse_range(name: str, text: str) -> tuple[float, float]:
    """Parse ``"a,b"`` (or a single ``"a"``, meaning ``a,a``) into a float pair.

    Raises
    ------
    ParameterError
        Naming the option ``name``, the text and the expected form.
    """
    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError as exc:
        raise ParameterError(f"{name} {text!r} is not LOW,HIGH (two numbers, e.g. 0.02,0.1)") from exc
    if len(values) == 1:
        values *= 2
    if len(values) != 2:
        raise ParameterError(f"{name} {text!r} is not LOW,HIGH (two numbers, e.g. 0.02,0.1)")
    return values[0], values[1]
