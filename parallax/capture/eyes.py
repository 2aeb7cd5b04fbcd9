"""Which of two views is the left eye: evidence from the stereo geometry, and the decision.

Files get the eye order wrong more often than one would think: two separate
files given right-then-left (rover, drone and twin-camera rigs), halves of a
side-by-side image swapped, a converter that wrote the views in the wrong
order. A swapped pair gives inverted depth, inverted meshes and anaglyphs.
This module looks at two views (one still pair, or a frame pair of a clip)
and says whether the first is the left eye.

Evidence (:func:`eye_evidence`), from sparse correspondences between the views
filtered by a RANSAC fundamental matrix, with ``d = x_first - x_second`` the
disparity of each match *if the first view is the left one*. Corners tracked by
pyramidal Lucas-Kanade (:mod:`parallax.capture.tracks`, a few milliseconds)
are tried first and decide alone when at least :data:`MIN_TRACKS` of them
give ``overwhelming`` evidence, or ``clear`` or ``converged`` evidence for the
order given (below); otherwise -- and for any swap on lesser evidence -- SIFT
matches (downscaled to at most 800 px, ratio test 0.75, with a wider reach
than the tracks' pyramid) decide. The cues:

* the **ground-plane cue** ``ground_rho``: the Spearman rank correlation of
  ``d`` with the row ``y``. Disparity grows with nearness, and in almost every
  photo the scene gets nearer toward the bottom of the frame, so ``rho > 0``
  says the first view is the left one. It does not depend on the rig's
  convergence; on the correctly ordered captures of ``../shared/data`` it is
  +0.45 to +0.97, except on scenes without a floor (Middlebury's Baby1: +0.09,
  a rendered game frame: +0.06);
* the **disparity sign** ``fraction_positive``: a parallel rig sees everything
  at ``d >= 0``, so a one-sided distribution (>= 90 % positive or negative)
  says which view is left -- unless the rig converges (Nintendo 3DS, 3D
  lenses), where a correctly ordered pair has ``d < 0`` everywhere.

Occlusion sides were considered and left out: for a swapped pair the matcher's
"disparity" is negated, and the strip a foreground object hides sits beside it
on the side that makes both orders look alike (the strip is always where
``d`` jumps up going right), so without knowing which surface is nearer it
tells nothing the two cues above do not.

Decision (:func:`decide_eye_order`); "strong" is ``|rho| >= 0.3`` for the
ground-plane cue and a one-sided sign (at least 90 % of either sign), "weak"
is ``|rho| >= 0.1``:

===================================================  ================  =====================
evidence                                             strength          direction
===================================================  ================  =====================
both strong and agreeing                             ``overwhelming``  theirs
ground-plane strong, sign strong but opposite        ``converged``     the ground-plane's
                                                                       (a converged rig)
ground-plane strong, sign not one-sided              ``clear``         the ground-plane's
sign one-sided, ground-plane not even weakly against ``clear``         the sign's (parallel)
sign one-sided, ground-plane weakly against it       ``weak``          none
only a weak ground-plane cue                         ``weak``          the ground-plane's
nothing (fewer than 24 consistent matches)           ``none``          none
===================================================  ================  =====================

How much the given order counts (``given_by``):

* ``"format"`` -- the file's specification states it (MPO base viewpoint, HEIC
  ``ster`` group, Leia LIF, ``.jps``, a layout the caller gave): kept unless
  the evidence is ``overwhelming``;
* ``"name"`` -- a naming habit (``*.left-right.jpg``) -- and ``"user"`` -- two
  files in the order the user gave them: swapped on ``clear``, ``converged``
  or ``overwhelming`` evidence; weak or no evidence keeps the order, and for
  ``"user"`` the decision carries a warning;
* ``"default"`` -- nothing states an order (the halves of an unnamed
  side-by-side image, where parallel and cross-eyed are both common): even a
  weak cue decides, with a warning when it is weak.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np

from parallax.capture.tracks import track_points
from parallax.capture.types import Capture, EmbeddedMap
from parallax.errors import ParameterError

__all__ = [
    "EYES",
    "check_eyes",
    "flipped",
    "EyeEvidence",
    "GivenBy",
    "consistent_matches",
    "EyeDecision",
    "sparse_matches",
    "eye_evidence",
    "evidence_from_points",
    "MIN_TRACKS",
    "decide_eye_order",
    "swap_views",
    "orient_eyes",
]

#: Accepted values of ``eyes``: decide from the views, or the order the views were given in.
EYES = ("auto", "left-right", "right-left")
GivenBy = Literal["format", "name", "user", "default"]
Strength = Literal["overwhelming", "converged", "clear", "weak", "none", "given"]

_MIN_MATCHES = 24
#: Tracked corners decide the eye order alone only when at least this many agree with one fundamental matrix.
MIN_TRACKS = 60
_RHO_STRONG = 0.3
_RHO_WEAK = 0.1
_SIGN_STRONG = 0.9


@dataclass(frozen=True, kw_only=True)
class EyeEvidence:
    """What sparse matches between a first and a second view say about their order.

    ``fraction_positive``, ``median_disparity_px`` and ``ground_rho`` refer to
    ``d = x_first - x_second`` (pixels of the first view); ``None`` when there
    are no consistent matches.
    """

    matches: int
    fraction_positive: float | None
    median_disparity_px: float | None
    ground_rho: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return dataclasses.asdict(self)


@dataclass(frozen=True, kw_only=True)
class EyeDecision:
    """The eye order of a pair and why.

    Parameters
    ----------
    swapped : bool
        True when the second view given is the left eye (the views are swapped).
    mode : {"auto", "left-right", "right-left"}
        How the order was asked for (``auto``: decided from the views).
    strength : str
        ``overwhelming``, ``converged``, ``clear``, ``weak``, ``none`` (see the
        module docstring), or ``given`` when the caller fixed the order.
    reason : str
        One sentence with the numbers.
    warning : str
        Non-empty when the order is not clear, or the evidence contradicts a
        stated order that was kept.
    given_by : str
        ``format``, ``name``, ``user`` or ``default``: how firmly the input
        stated its order (see the module docstring).
    evidence : EyeEvidence or None
        The measured evidence, in the given order (None when the caller fixed the order).
    given : {"left-right", "right-left"}
        The order the input states or implies before any decision (a ``.jps``
        or cross-eyed name: right view first); ``swapped`` is relative to it.
    """

    swapped: bool
    mode: str
    strength: Strength
    reason: str
    warning: str = ""
    given_by: str = "user"
    evidence: EyeEvidence | None = None
    given: str = "left-right"

    @property
    def order(self) -> str:
        """The order the views really had in the input: ``left-right`` or ``right-left``."""
        return self.given if not self.swapped else ("left-right" if self.given == "right-left" else "right-left")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (what ``Capture.metadata["eyes"]`` holds)."""
        return {
            "order": self.order,
            "given": self.given,
            "swapped": self.swapped,
            "mode": self.mode,
            "strength": self.strength,
            "reason": self.reason,
            "warning": self.warning,
            "given_by": self.given_by,
            "evidence": None if self.evidence is None else self.evidence.to_dict(),
        }


def _grey_small(image: np.ndarray, scale: float) -> np.ndarray:
    if scale < 1.0:
        image = cv2.resize(
            image,
            (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))),
            interpolation=cv2.INTER_AREA,
        )
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image


def sparse_matches(first: np.ndarray, second: np.ndarray, max_side_px: int = 800) -> tuple[np.ndarray, np.ndarray]:
    """SIFT matches (ratio test 0.75) between two RGB views, in full-resolution pixels of each: two ``Nx2`` arrays."""
    scale = min(1.0, max_side_px / max(first.shape[:2] + second.shape[:2]))
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


def spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    """Spearman rank correlation of two 1-D arrays, or None when undefined (fewer than 3 values, or constant)."""
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    ra = np.argsort(np.argsort(a)).astype(np.float64)
    rb = np.argsort(np.argsort(b)).astype(np.float64)
    return float(np.corrcoef(ra, rb)[0, 1])


def evidence_from_points(first_xy: np.ndarray, second_xy: np.ndarray) -> EyeEvidence:
    """Evidence from already consistent matches (``Nx2`` pixel positions in the first and the second view)."""
    first_xy = np.asarray(first_xy, dtype=np.float64).reshape(-1, 2)
    second_xy = np.asarray(second_xy, dtype=np.float64).reshape(-1, 2)
    n = len(first_xy)
    if n == 0:
        return EyeEvidence(matches=0, fraction_positive=None, median_disparity_px=None, ground_rho=None)
    d = first_xy[:, 0] - second_xy[:, 0]
    return EyeEvidence(
        matches=int(n),
        fraction_positive=float(np.mean(d > 0)),
        median_disparity_px=float(np.median(d)),
        ground_rho=spearman(d, first_xy[:, 1]),
    )


def eye_evidence(first: np.ndarray, second: np.ndarray, *, max_side_px: int = 800) -> EyeEvidence:
    """Match two views and summarise what the matches say about their order (see the module docstring).

    Parameters
    ----------
    first, second : numpy.ndarray
        ``HxWx3`` uint8 RGB views, in the order given (sizes may differ).
    max_side_px : int
        SIFT runs on copies downscaled to at most this.
    """
    if first.shape == second.shape:
        tracked = evidence_from_points(*_epipolar_inliers(*track_points(first, second), first.shape))
        direction, strength, _ = _judge(tracked)
        if tracked.matches >= MIN_TRACKS and (
            strength == "overwhelming" or (strength in ("clear", "converged") and direction > 0)
        ):
            return tracked  # decisive; a swap on less than overwhelming evidence is left to SIFT's wider reach
    return evidence_from_points(*consistent_matches(first, second, max_side_px=max_side_px))


def consistent_matches(
    first: np.ndarray, second: np.ndarray, *, max_side_px: int = 800
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`sparse_matches` filtered by a RANSAC fundamental matrix: two ``Nx2`` arrays of pixel positions."""
    return _epipolar_inliers(*sparse_matches(first, second, max_side_px), first.shape)


def _epipolar_inliers(pa: np.ndarray, pb: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The matches consistent with one fundamental matrix (RANSAC; all of them when under 8)."""
    if len(pa) >= 8:
        threshold = max(1.5, 0.003 * max(shape[:2]))
        _, mask = cv2.findFundamentalMat(pa, pb, cv2.FM_RANSAC, threshold, 0.999, 5000)
        keep = mask.ravel().astype(bool) if mask is not None else np.zeros(len(pa), dtype=bool)
        pa, pb = pa[keep], pb[keep]
    return pa, pb


def flipped(evidence: EyeEvidence) -> EyeEvidence:
    """The same evidence seen with the two views exchanged (``d -> -d``)."""
    return EyeEvidence(
        matches=evidence.matches,
        fraction_positive=None if evidence.fraction_positive is None else 1.0 - evidence.fraction_positive,
        median_disparity_px=None if evidence.median_disparity_px is None else -evidence.median_disparity_px,
        ground_rho=None if evidence.ground_rho is None else -evidence.ground_rho,
    )


def _votes(ev: EyeEvidence) -> tuple[int, int, int]:
    """(ground-plane vote, ground-plane weak vote, sign vote): +1 = first is left, -1 = swapped, 0 = silent."""
    rho, frac = ev.ground_rho, ev.fraction_positive
    strong = 0 if rho is None or abs(rho) < _RHO_STRONG else (1 if rho > 0 else -1)
    weak = 0 if rho is None or abs(rho) < _RHO_WEAK else (1 if rho > 0 else -1)
    sign = 0
    if frac is not None:
        sign = 1 if frac >= _SIGN_STRONG else (-1 if frac <= 1.0 - _SIGN_STRONG else 0)
    return strong, weak, sign


def _judge(ev: EyeEvidence) -> tuple[int, Strength, str]:
    """(direction, strength, reason) of the evidence alone; direction +1 = first is left, -1 = swapped, 0 = unknown."""
    if ev.matches < _MIN_MATCHES:
        return 0, "none", f"only {ev.matches} consistent feature matches (at least {_MIN_MATCHES} needed)"
    strong, weak, sign = _votes(ev)
    rho = f"ground-plane cue {ev.ground_rho:+.2f}" if ev.ground_rho is not None else "no ground-plane cue"
    frac = f"{ev.fraction_positive:.0%} of disparities positive" if ev.fraction_positive is not None else ""
    facts = f"{rho}, {frac} with the first view as left, {ev.matches} matches"
    if strong and sign == strong:
        return strong, "overwhelming", f"both cues agree ({facts})"
    if strong and sign == -strong:
        return (
            strong,
            "converged",
            f"the ground-plane cue decides; the disparity sign opposes it, as on a converged rig ({facts})",
        )
    if strong:
        return strong, "clear", f"the ground-plane cue decides ({facts})"
    if sign and weak != -sign:
        return sign, "clear", f"the disparity sign decides, assuming a parallel rig ({facts})"
    if sign:
        return 0, "weak", f"the disparity sign and a weak ground-plane cue disagree ({facts})"
    if weak:
        return weak, "weak", f"only a weak ground-plane cue ({facts})"
    return 0, "weak" if sign else "none", f"no clear cue ({facts})"


def decide_eye_order(evidence: EyeEvidence, *, given_by: GivenBy = "user") -> EyeDecision:
    """Decide whether the first view is the left eye (see the module docstring for the rules).

    Parameters
    ----------
    evidence : EyeEvidence
        From :func:`eye_evidence` or :func:`evidence_from_points`, for the views in the given order.
    given_by : {"format", "name", "user", "default"}
        How firmly the input states its order.
    """
    if given_by not in ("format", "name", "user", "default"):
        raise ParameterError(f"given_by must be format, name, user or default, got {given_by!r}")
    direction, strength, why = _judge(evidence)
    decisive = {
        "format": ("overwhelming",),
        "name": ("overwhelming", "converged", "clear"),
        "user": ("overwhelming", "converged", "clear"),
        "default": ("overwhelming", "converged", "clear", "weak"),
    }[given_by]
    swap = strength in decisive and direction < 0
    warning = ""
    if swap:
        reason = f"views swapped: {why}"
        if strength == "weak":
            warning = f"the eye order is not clear: {why}; the views were swapped on weak evidence -- check the depth"
    elif direction < 0 and given_by == "format" and strength not in ("clear", "converged"):
        reason = f"order kept as given ({given_by}): {why}"  # a weak cue does not question a stated order
    elif direction < 0:  # evidence against the given order, not enough to overturn it
        reason = f"order kept as given ({given_by}): {why}"
        warning = (
            f"the views may be swapped -- {why} -- but the {'file states' if given_by == 'format' else 'input gives'} "
            "their order; pass --eyes right-left to swap them"
        )
    elif direction > 0 and strength in decisive:
        reason = f"order confirmed: {why}"
    else:
        reason = f"order kept as given ({given_by}): {why}"
        if given_by in ("user", "default"):
            warning = (
                f"the eye order of this pair is not clear: {why}; it was kept as given -- "
                "pass --eyes left-right or --eyes right-left if depth looks inverted"
            )
    return EyeDecision(
        swapped=bool(swap),
        mode="auto",
        strength=strength,
        reason=reason,
        warning=warning,
        given_by=given_by,
        evidence=evidence,
    )


def _swap_map(m: EmbeddedMap) -> EmbeddedMap:
    return dataclasses.replace(m, view="right" if m.view == "left" else "left")


def swap_views(capture: Capture) -> Capture:
    """The capture with its views (and everything per view) swapped: the right view becomes the left one.

    The right camera's rotation relative to the left becomes its transpose; a
    baseline and convergence angle are symmetric and stay.
    """
    if capture.right is None:
        raise ParameterError(f"{capture.source} holds one view; there is nothing to swap")
    rot = None if capture.right_rotation is None else np.asarray(capture.right_rotation).T
    return dataclasses.replace(
        capture,
        left=capture.right,
        right=capture.left,
        left_camera=capture.right_camera,
        right_camera=capture.left_camera,
        right_rotation=rot,
        maps=tuple(_swap_map(m) for m in capture.maps),
    )


#: Formats whose specification states the eye order.
_FORMAT_STATED = ("mpo", "heic-spatial", "lif", "synthetic")


def _given_by(capture: Capture) -> GivenBy:
    if capture.format in _FORMAT_STATED:
        return "format"
    layout = capture.metadata.get("layout")
    if isinstance(layout, dict) and layout.get("name_hint"):
        return "format" if str(capture.source).lower().endswith(".jps") else "name"
    return "user"


def check_eyes(eyes: str) -> str:
    """``eyes`` if it is one of :data:`EYES`, else a ParameterError naming the choices."""
    if eyes not in EYES:
        raise ParameterError(f"eyes must be one of {', '.join(EYES)}; got {eyes!r}")
    return eyes


def orient_eyes(capture: Capture, eyes: str = "auto", *, decision: EyeDecision | None = None) -> Capture:
    """Put the left eye first and record why in ``capture.metadata["eyes"]``.

    Parameters
    ----------
    capture : Capture
        A stereo capture with its views in the order they were given (an
        RGB-D capture is returned unchanged).
    eyes : {"auto", "left-right", "right-left"}
        ``auto`` decides from the views (:func:`decide_eye_order`, with how
        firmly the format states its order); ``left-right`` keeps the order,
        ``right-left`` swaps it, both without looking.
    decision : EyeDecision, optional
        A decision already made from other evidence (the side-by-side reader
        decides from the halves it matched); used as it is for ``auto``.

    Returns
    -------
    Capture
        Views in left, right order; ``metadata["eyes"]`` holds the decision
        (:meth:`EyeDecision.to_dict`).
    """
    check_eyes(eyes)
    if capture.right is None:
        return capture
    if eyes != "auto":
        decision = EyeDecision(
            swapped=eyes == "right-left",
            mode=eyes,
            strength="given",
            reason=f"given by the caller (--eyes {eyes})",
            given_by="user",
        )
    elif decision is None:
        decision = decide_eye_order(eye_evidence(capture.left, capture.right), given_by=_given_by(capture))
    oriented = swap_views(capture) if decision.swapped else capture
    return dataclasses.replace(oriented, metadata={**dict(capture.metadata), "eyes": decision.to_dict()})
