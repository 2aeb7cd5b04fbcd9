"""The matcher interface: every disparity matcher (classical or learned) implements it.

A matcher takes an already rectified pair and returns disparity of the left view
with a per-pixel confidence. Conventions: images ``HxWx3`` uint8 RGB; disparity in
pixels, ``x_right = x_left - d`` (negative values valid); NaN = no value;
confidence float32 in [0, 1], 0 where there is no value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from parallax.capture.types import _readonly
from parallax.errors import ParameterError

__all__ = ["MatchResult", "Matcher"]


@dataclass(frozen=True, kw_only=True)
class MatchResult:
    """Output of a matcher.

    Parameters
    ----------
    disparity_px : numpy.ndarray
        ``HxW`` float32, ``x_right = x_left - d``, NaN = no value.
    confidence : numpy.ndarray
        ``HxW`` float32 in [0, 1]; 0 where ``disparity_px`` is NaN.
    min_disparity, max_disparity : float
        The search range used, in pixels.
    settings : Mapping
        Matcher name and parameters (for lineage and ``eval`` output).
    measured : numpy.ndarray, optional
        ``HxW`` bool: pixels whose value came from a (left-right consistent) match
        rather than a hole fill or an extrapolation. Omitted: every pixel with a value.
    """

    disparity_px: np.ndarray
    confidence: np.ndarray
    min_disparity: float
    max_disparity: float
    settings: Mapping[str, Any] = field(default_factory=dict)
    measured: np.ndarray | None = None

    def __post_init__(self) -> None:
        d = np.asarray(self.disparity_px)
        c = np.asarray(self.confidence)
        if d.ndim != 2 or c.shape != d.shape:
            raise ParameterError(f"MatchResult: disparity {d.shape} and confidence {c.shape} must be equal 2-D shapes")
        object.__setattr__(self, "disparity_px", _readonly(d.astype(np.float32, copy=False)))
        object.__setattr__(self, "confidence", _readonly(c.astype(np.float32, copy=False)))
        finite = np.isfinite(self.disparity_px)
        if self.measured is None:
            measured = finite
        else:
            measured = np.asarray(self.measured)
            if measured.shape != d.shape or measured.dtype != np.bool_:
                raise ParameterError(f"MatchResult: measured must be a bool array of shape {d.shape}")
            measured = measured & finite
        object.__setattr__(self, "measured", _readonly(measured))

    @property
    def measured_mask(self) -> np.ndarray:
        """``HxW`` bool, the pixels whose value was measured (see ``measured``)."""
        return self.measured if self.measured is not None else np.isfinite(self.disparity_px)


@runtime_checkable
class Matcher(Protocol):
    """A disparity matcher for rectified pairs.

    ``min_disparity``/``max_disparity`` of ``None`` mean "find the range yourself"
    (from sparse feature matches). Implementations must be deterministic.
    """

    name: str

    def match(
        self,
        left: np.ndarray,
        right: np.ndarray,
        *,
        min_disparity: float | None = None,
        max_disparity: float | None = None,
    ) -> MatchResult:
        """Disparity of ``left`` against ``right`` (both HxWx3 uint8 RGB, same size)."""
        ...
