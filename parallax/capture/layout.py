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

   the eye order is decided by :func:`parallax.capture.eyes.decide_eye_order`
   (the ground-plane cue, then the disparity sign; see :mod:`parallax.capture.eyes`),
   assuming the first half is the left view when the evidence is not clear.
   With a name convention (step 2) the same evidence may still swap the
   halves: when it is clear for a naming habit (``left-right``), only when it is
   overwhelming for a format's rule (``.jps``) or a layout given by the caller.

``eyes="left-right"`` (``"right-left"``) fixes the order: the first (left or
top) half is the left (right) eye, whatever the name says.

The decision and its numbers go into ``Capture.metadata["layout"]``, the eye
order into ``Capture.metadata["eyes"]``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from parallax.capture.eyes import (
    EyeDecision,
    EyeEvidence,
    check_eyes,
    decide_eye_order,
    flipped,
    sparse_matches,
    spearman,
)
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
    eyes: EyeDecision | None = None

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


def halves_evidence(image: np.ndarray, arrangement: Arrangement, *, max_side_px: int = 800) -> HalvesEvidence:
    """Match the two halves of ``image`` and summarise what the matches say (see the module docstring)."""
    first, second, _ = split_halves(image, arrangement)
    pa, pb = sparse_matches(first, second, max_side_px)
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
        ground_rho=spearman(d, y),
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


def _eye_evidence(ev: HalvesEvidence) -> EyeEvidence:
    """The halves' evidence in the eye-order module's terms (first half as the first view)."""
    return EyeEvidence(
        matches=ev.inliers,
        fraction_positive=ev.fraction_positive,
        median_disparity_px=ev.median_dx_px,
        ground_rho=ev.ground_rho,
    )


def _order(ev: HalvesEvidence, eyes: str, given_first_is_left: bool, given_by: str) -> tuple[bool, EyeDecision]:
    """Whether the first half is the left eye, and the eye decision (relative to the given order)."""
    given = "left-right" if given_first_is_left else "right-left"
    if eyes != "auto":
        first_is_left = eyes == "left-right"
        decision = EyeDecision(
            swapped=first_is_left != given_first_is_left,
            mode=eyes,
            strength="given",
            reason=f"given by the caller (--eyes {eyes}): the first half is the {'left' if first_is_left else 'right'} eye",
            given=given,
        )
        return first_is_left, decision
    evidence = _eye_evidence(ev)
    decision = decide_eye_order(evidence if given_first_is_left else flipped(evidence), given_by=given_by)  # type: ignore[arg-type]
    decision = dataclasses.replace(decision, given=given)
    return given_first_is_left != decision.swapped, decision


def _layout_name(arrangement: Arrangement, first_is_left: bool) -> str:
    if arrangement == "side-by-side":
        return "sbs" if first_is_left else "sbs-cross"
    return "over-under" if first_is_left else "under-over"


def decide_layout(image: np.ndarray, path: Path, *, eyes: str = "auto", layout: str = "auto") -> LayoutDecision:
    """Decide how ``image`` (the decoded file ``path``) holds its two views, and which is the left eye.

    Parameters
    ----------
    image : numpy.ndarray
        The decoded file.
    path : pathlib.Path
        Its path (for the name convention and messages).
    eyes : {"auto", "left-right", "right-left"}
        Eye order: decided (``auto``), or whether the first half is the left eye.
    layout : str
        ``auto`` or a layout the caller gives (``sbs``, ``sbs-cross``,
        ``over-under``, ``under-over``); its order counts as stated.

    Raises
    ------
    NotStereoError
        Neither the name nor the halves say it is a stereo image.
    """
    check_eyes(eyes)
    if layout != "auto":
        arrangement: Arrangement = "side-by-side" if layout in ("sbs", "sbs-cross") else "over-under"
        ev = halves_evidence(image, arrangement)
        first_is_left, decision = _order(ev, eyes, layout in ("sbs", "over-under"), "format")
        name = _layout_name(arrangement, first_is_left)
        why = "given by the caller" + ("" if name == layout else f" ({layout}), eye order: {decision.reason}")
        return LayoutDecision(layout=name, reason=why, evidence=ev, eyes=decision)
    hint = name_hint(path)
    if hint is not None:
        arrangement = "over-under" if hint == "over-under" else "side-by-side"
        ev = halves_evidence(image, arrangement)
        given_by = "format" if path.suffix.lower() == ".jps" else "name"
        first_is_left, decision = _order(ev, eyes, hint != "sbs-cross", given_by)
        name = _layout_name(arrangement, first_is_left)
        why = f"file name convention ({path.name})"
        if name != hint:
            why += f", but the halves are swapped: {decision.reason}"
        return LayoutDecision(layout=name, reason=why, evidence=ev, hint=hint, eyes=decision)
    h, w = image.shape[:2]
    order: tuple[Arrangement, ...] = ("over-under", "side-by-side") if h > w else ("side-by-side", "over-under")
    tried = []
    for arrangement in order:
        ev = halves_evidence(image, arrangement)
        tried.append(ev)
        if ev.is_stereo:
            first_is_left, decision = _order(ev, eyes, True, "default")
            return LayoutDecision(
                layout=_layout_name(arrangement, first_is_left), reason=decision.reason, evidence=ev, eyes=decision
            )
    best = max(t.inliers for t in tried)
    raise NotStereoError(
        f"{path} holds one view (its halves do not match as a stereo pair: {best} consistent matches); "
        "give a second view or a stereo file, or force a layout (--layout sbs)"
    )
