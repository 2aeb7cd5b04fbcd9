"""Where the two views sit in a single image, and which is the left one.

A stereo image holds its views side by side or one over the other. Which
arrangement, and which half is the left view, is decided in this order:

1. An explicit ``layout`` (``sbs``, ``sbs-cross``, ``over-under``, ``under-over``).
2. The file's own convention, from its name: ``.jps`` files put the right view
   first (cross-eyed order); names with ``left-right`` / ``lr`` are parallel,
   ``right-left`` / ``rl`` / ``cross`` cross-eyed, ``over-under`` / ``top-bottom``
   left on top. The evidence below is still measured and recorded.
3. Evidence from sparse SIFT matches between the two halves (downscaled to
   at most 800 px, ratio test 0.75). Matches whose vertical offset is within
   ``max(2 px, 1 %)`` of the median are inliers. The halves are a stereo pair
   when there are at least 24 inliers, they are at least half the matches, the
   median vertical offset is under 10 % of the height and the median horizontal
   offset under 35 % of the width. A single photo cut in two gives a handful of
   matches (measured: <= 5 on the sample photos; >= 500 on every stereo sample).
   The order then follows, with ``d = x_first - x_second`` for every inlier
   (``d`` is the disparity if the first half is the left view):

   * the *ground-plane cue*, when strong: the Spearman correlation of ``d``
     with the row ``y``. Disparity grows with nearness, and in almost every
     photo the scene gets nearer toward the bottom of the frame, so a
     correlation >= 0.3 means the first half is the left view, <= -0.3 the
     second. The cue does not depend on the rig's convergence; measured on the
     correctly ordered samples: 0.46 to 0.87 (GoPro pair, CALF, GX8, 3DS);
   * else the sign of ``d``: a parallel rig sees everything at ``d >= 0``, so
     >= 90 % positive means the first half is left, <= 10 % the second. This
     is wrong for converged rigs (the 3DS sees everything at ``d < 0``), which
     is why it comes second;
   * else a weak ground-plane cue (``|rho| >= 0.1``), else the majority sign
     of ``d`` (recorded as low confidence).

The decision and its numbers go into ``Capture.metadata["layout"]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from parallax.errors import NotStereoError

__all__ = [
    "Arrangement",
    "HalvesEvidence",
    "LayoutDecision",
    "split_halves",
    "halves_evidence",
    "name_hint",
    "decide_layout",
]

Arrangement = Literal["side-by-side", "over-under"]
_MIN_INLIERS = 24
_GROUND_RHO_STRONG = 0.3
_GROUND_RHO_WEAK = 0.1
_PARALLEL_FRACTION = 0.9


@dataclass(frozen=True, kw_only=True)
class HalvesEvidence:
    """Sparse-match statistics between the first and second half (coordinates in full-resolution pixels of a half).

    ``fraction_positive`` and ``ground_rho`` refer to ``d = x_first - x_second``;
    they are None when there are no inliers.
    """

    arrangement: Arrangement
    matches: int
    inliers: int
    median_dx_px: float | None
    median_dy_px: float | None
    fraction_positive: float | None
    ground_rho: float | None
    is_stereo: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return dict(self.__dict__)


@dataclass(frozen=True, kw_only=True)
class LayoutDecision:
    """The chosen layout (``sbs``, ``sbs-cross``, ``over-under``, ``under-over``) and why."""

    layout: str
    reason: str
    evidence: HalvesEvidence | None = None
    hint: str | None = None

    @property
    def arrangement(self) -> Arrangement:
        """``side-by-side`` or ``over-under``."""
        return "side-by-side" if self.layout in ("sbs", "sbs-cross") else "over-under"

    @property
    def first_is_left(self) -> bool:
        """True when the left (or top) half is the left view."""
        return self.layout in ("sbs", "over-under")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "layout": self.layout,
            "reason": self.reason,
            "name_hint": self.hint,
            "evidence": self.evidence.to_dict() if self.evidence else None,
        }


def split_halves(image: np.ndarray, arrangement: Arrangement) -> tuple[np.ndarray, np.ndarray, int]:
    """The two halves (first = left or top) of equal size, and how many middle pixels were dropped.

    An odd width (height) leaves one column (row) in the middle that belongs to
    neither half; it is dropped so both halves have the same size.
    """
    h, w = image.shape[:2]
    if arrangement == "side-by-side":
        half = w // 2
        return image[:, :half], image[:, w - half :], w - 2 * half
    half = h // 2
    return image[:half], image[h - half :], h - 2 * half


def _grey_small(image: np.ndarray, scale: float) -> np.ndarray:
    if scale < 1.0:
        image = cv2.resize(
            image,
            (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))),
            interpolation=cv2.INTER_AREA,
        )
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def _match(first: np.ndarray, second: np.ndarray, max_side_px: int) -> tuple[np.ndarray, np.ndarray]:
    scale = min(1.0, max_side_px / max(first.shape[:2]))
    sift = cv2.SIFT.create(nfeatures=2000)
    ka, da = sift.detectAndCompute(_grey_small(first, scale), None)
    kb, db = sift.detectAndCompute(_grey_small(second, scale), None)
    empty = np.zeros((0, 2))
    if da is None or db is None or len(ka) < 2 or len(kb) < 2:
        return empty, empty
    pa, pb = [], []
    for pair in cv2.BFMatcher(cv2.NORM_L2).knnMatch(da, db, k=2):
        if len(pair) == 2 and pair[0].distance < 0.75 * pair[1].distance:
            pa.append(ka[pair[0].queryIdx].pt)
            pb.append(kb[pair[0].trainIdx].pt)
    if not pa:
        return empty, empty
    # downscaled pixel centres -> full-resolution pixel centres
    return (np.asarray(pa) + 0.5) / scale - 0.5, (np.asarray(pb) + 0.5) / scale - 0.5


def _spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    ra = np.argsort(np.argsort(a)).astype(np.float64)
    rb = np.argsort(np.argsort(b)).astype(np.float64)
    return float(np.corrcoef(ra, rb)[0, 1])


def halves_evidence(image: np.ndarray, arrangement: Arrangement, *, max_side_px: int = 800) -> HalvesEvidence:
    """Match the two halves of ``image`` and summarise what the matches say (see the module docstring)."""
    first, second, _ = split_halves(image, arrangement)
    pa, pb = _match(first, second, max_side_px)
    hh, hw = first.shape[:2]
    if len(pa) == 0:
        return HalvesEvidence(
            arrangement=arrangement,
            matches=0,
            inliers=0,
            median_dx_px=None,
            median_dy_px=None,
            fraction_positive=None,
            ground_rho=None,
            is_stereo=False,
        )
    dx, dy = pa[:, 0] - pb[:, 0], pb[:, 1] - pa[:, 1]
    med_dy = float(np.median(dy))
    inl = np.abs(dy - med_dy) <= max(2.0, 0.01 * hh)
    n_in = int(inl.sum())
    d, y = dx[inl], pa[inl, 1]
    med_dx = float(np.median(d)) if n_in else None
    stereo = (
        n_in >= _MIN_INLIERS
        and n_in >= 0.5 * len(pa)
        and abs(med_dy) <= 0.1 * hh
        and med_dx is not None
        and abs(med_dx) <= 0.35 * hw
    )
    return HalvesEvidence(
        arrangement=arrangement,
        matches=int(len(pa)),
        inliers=n_in,
        median_dx_px=med_dx,
        median_dy_px=med_dy,
        fraction_positive=float((d > 0).mean()) if n_in else None,
        ground_rho=_spearman(d, y),
        is_stereo=bool(stereo),
    )


_CROSS = re.compile(r"(right[-_ .]?left|(^|[-_ .])rl([-_ .]|$)|cross)", re.I)
_PARALLEL = re.compile(r"(left[-_ .]?right|(^|[-_ .])lr([-_ .]|$)|parallel)", re.I)
_OVER_UNDER = re.compile(r"(over[-_ .]?under|top[-_ .]?bottom|(^|[-_ .])(ou|tb)([-_ .]|$))", re.I)


def name_hint(path: Path) -> str | None:
    """The layout a file's name or extension announces (``sbs``, ``sbs-cross``, ``over-under``), or None."""
    if path.suffix.lower() == ".jps":
        return "sbs-cross"
    stem = path.stem
    if _OVER_UNDER.search(stem):
        return "over-under"
    if _CROSS.search(stem):
        return "sbs-cross"
    if _PARALLEL.search(stem):
        return "sbs"
    return None


def _order(ev: HalvesEvidence) -> tuple[bool, str]:
    rho, frac = ev.ground_rho, ev.fraction_positive
    if rho is not None and abs(rho) >= _GROUND_RHO_STRONG:
        return rho > 0, f"ground-plane cue: disparity-row rank correlation {rho:+.2f} (nearer toward the bottom)"
    if frac is not None and (frac >= _PARALLEL_FRACTION or frac <= 1.0 - _PARALLEL_FRACTION):
        return (
            frac >= 0.5,
            f"{frac:.0%} of matches have positive disparity with the first half as left view (parallel rig assumed)",
        )
    if rho is not None and abs(rho) >= _GROUND_RHO_WEAK:
        return rho > 0, f"weak ground-plane cue: disparity-row rank correlation {rho:+.2f}"
    return (frac or 0.0) >= 0.5, "low confidence: majority sign of the disparities"


def _layout_name(arrangement: Arrangement, first_is_left: bool) -> str:
    if arrangement == "side-by-side":
        return "sbs" if first_is_left else "sbs-cross"
    return "over-under" if first_is_left else "under-over"


def decide_layout(image: np.ndarray, path: Path) -> LayoutDecision:
    """Decide how ``image`` (the decoded file ``path``) holds its two views.

    Raises
    ------
    NotStereoError
        Neither the name nor the halves say it is a stereo image.
    """
    hint = name_hint(path)
    if hint is not None:
        arrangement: Arrangement = "over-under" if hint == "over-under" else "side-by-side"
        ev = halves_evidence(image, arrangement)
        return LayoutDecision(layout=hint, reason=f"file name convention ({path.name})", evidence=ev, hint=hint)
    h, w = image.shape[:2]
    order: tuple[Arrangement, ...] = ("over-under", "side-by-side") if h > w else ("side-by-side", "over-under")
    tried = []
    for arrangement in order:
        ev = halves_evidence(image, arrangement)
        tried.append(ev)
        if ev.is_stereo:
            first_is_left, why = _order(ev)
            return LayoutDecision(layout=_layout_name(arrangement, first_is_left), reason=why, evidence=ev)
    best = max(t.inliers for t in tried)
    raise NotStereoError(
        f"{path} holds one view (its halves do not match as a stereo pair: {best} consistent matches); "
        "give a second view or a stereo file, or force a layout (--layout sbs)"
    )
