"""Phone-like camera effects applied to rendered linear radiance: exposure, blur, noise, sRGB.

Applied after rendering, seeded (``docs/conventions.md``). The pipeline per
view: scale by the exposure (auto-exposure from the left view, times ``2**ev``),
Gaussian optical blur, Poisson-Gaussian sensor noise (shot noise with variance
``gain * x`` plus read noise ``read_sigma**2``, in linear units where 1 is the
white level), clipping to [0, 1], sRGB encoding and rounding to 8 bits.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from parallax.errors import ParameterError

__all__ = ["PhoneEffects", "sample_effects", "auto_exposure", "develop", "linear_to_srgb8"]


@dataclass(frozen=True, kw_only=True)
class PhoneEffects:
    """Camera effects of one stereo pair.

    Parameters
    ----------
    exposure_ev : float
        Exposure offset in stops from auto-exposure (both views).
    right_exposure_ev : float
        Extra exposure offset of the right view in stops (unmatched cameras).
    blur_sigma_px : (float, float)
        Gaussian blur standard deviation (pixels) of the left and right view; 0 = none.
    shot_gain : float
        Shot-noise variance per unit linear signal (0 = none).
    read_sigma : float
        Read-noise standard deviation in linear units (0 = none).
    """

    exposure_ev: float = 0.0
    right_exposure_ev: float = 0.0
    blur_sigma_px: tuple[float, float] = (0.0, 0.0)
    shot_gain: float = 0.0
    read_sigma: float = 0.0

    def __post_init__(self) -> None:
        if any(s < 0 for s in self.blur_sigma_px) or self.shot_gain < 0 or self.read_sigma < 0:
            raise ParameterError(f"blur, shot_gain and read_sigma must be >= 0, got {self}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        d = asdict(self)
        d["blur_sigma_px"] = list(self.blur_sigma_px)
        return d


NO_EFFECTS = PhoneEffects()


def sample_effects(rng: np.random.Generator) -> PhoneEffects:
    """Draw phone-like effects: mild exposure error, slight blur, ISO-dependent noise."""
    iso = rng.uniform(0.0, 1.0)  # 0 = bright daylight, 1 = dim indoor
    return PhoneEffects(
        exposure_ev=float(rng.uniform(-0.5, 0.4)),
        right_exposure_ev=float(rng.normal(0.0, 0.05)),
        blur_sigma_px=(float(rng.uniform(0.0, 0.8)), float(rng.uniform(0.0, 0.8))),
        shot_gain=float(2e-4 + iso * 3e-3),
        read_sigma=float(5e-4 + iso * 4e-3),
    )


def auto_exposure(linear: np.ndarray, *, percentile: float = 97.0, target: float = 0.85) -> float:
    """Scale that maps the ``percentile`` of luminance to ``target`` (what a camera's auto-exposure does)."""
    lum = linear[..., :3] @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
    level = float(np.percentile(lum, percentile))
    return target / level if level > 1e-8 else 1.0


def linear_to_srgb8(linear: np.ndarray) -> np.ndarray:
    """Encode linear values (clipped to [0, 1]) with the sRGB curve and round to ``uint8``."""
    x = np.clip(linear, 0.0, 1.0).astype(np.float64)
    s = np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)
    return np.ascontiguousarray(np.round(s * 255.0).astype(np.uint8))


def develop(
    linear: np.ndarray, *, scale: float, effects: PhoneEffects, view: int, rng: np.random.Generator
) -> np.ndarray:
    """Turn rendered linear radiance of one view into an ``HxWx3`` ``uint8`` sRGB image.

    Parameters
    ----------
    linear : numpy.ndarray
        ``HxWx3`` float linear RGB radiance from the renderer.
    scale : float
        Auto-exposure scale (:func:`auto_exposure` of the left view).
    effects : PhoneEffects
        What to apply (``PhoneEffects()`` for none: exposure and sRGB only).
    view : int
        0 = left, 1 = right (picks the blur and the right-view exposure offset).
    rng : numpy.random.Generator
        Seeded source of the sensor noise.
    """
    ev = effects.exposure_ev + (effects.right_exposure_ev if view == 1 else 0.0)
    x: np.ndarray = linear.astype(np.float32) * np.float32(scale * 2.0**ev)
    sigma = effects.blur_sigma_px[view]
    if sigma > 0:
        x = cv2.GaussianBlur(x, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)
    if effects.shot_gain > 0 or effects.read_sigma > 0:
        var = effects.shot_gain * np.clip(x, 0.0, None) + effects.read_sigma**2
        x = x + rng.standard_normal(x.shape, dtype=np.float32) * np.sqrt(var).astype(np.float32)
    return linear_to_srgb8(x)
