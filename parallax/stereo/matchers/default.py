"""The default matcher (``"default"``, alias ``"parallax"``): census + colour costs,
8-path semi-global matching, left-right check, occlusion-aware fill.

Pipeline (all CPU, numba kernels compiled once and cached on disk):

1. **Range.** Unless given, the search range is found by running the same
   matcher on a coarse copy of the pair (longer side about 128 px) over
   ``+-range_frac * W`` and taking the 1st/99th percentiles of its left-right
   consistent disparities, widened by a margin (multi-scale range narrowing).
2. **Cost.** 9x7 census Hamming distance (robust to exposure differences
   between the cameras) plus a small weight of the truncated mean absolute
   colour difference, stored as uint8; out-of-view matches cost ``border_cost``.
3. **Aggregation.** Semi-global matching along 8 paths (``sgm_paths``) with ``P1``
   and an edge-aware ``P2`` (smaller across intensity edges); exact uint16 sums.
   ``sgm_paths=4`` keeps only the horizontal and vertical paths: about a sixth of
   the matcher's time saved and, on the stereo-gt scenes, no accuracy lost, but
   weakly textured regions of real photos (sky, cactus skin) then show a
   cross-hatch of horizontal and vertical streaks, so the diagonals stay on.
4. **Disparity.** Winner-take-all with parabola sub-pixel refinement; the right
   view's winners come from the same volume for the left-right check; small
   isolated regions (speckles) are rejected.
5. **Fill.** Pixels failing the check are filled from the nearest consistent
   pixels in 16 directions: occlusions take the background (second-lowest);
   mismatches the colour-weighted lower median (weights
   ``exp(-mean colour difference / fill_sigma_color)``, so the fill stays on the
   pixel's own surface); pixels whose match lies outside the right view
   continue the nearest consistent pixel inward on their row. A 3x3 median
   smooths the result.

Confidence is ``uniqueness`` (relative margin of the best aggregated cost over
the best non-neighbouring one, scaled to [0, 1]) for consistent pixels and a
small constant for filled ones; 0 where there is no value (none with default
settings: every pixel gets a value).

Speed: the kernels run over the disparity axis in SIMD lanes -- the aggregation
and the winner search in explicit int16 vectors (:mod:`~parallax.stereo.matchers.simd`:
all of a pixel's paths in one pass over its labels, no scalar remainder loops),
the costs in loops LLVM vectorises (views indexed from 0) -- on every core the
process may use (row bands, and the two SGM passes, which write and then add
into opposite halves of the volume) from one shared pool; the fill is linear per
row. ``benchmarks/stereo.py`` prints its accuracy and time against OpenCV SGBM
measured in the same run.

Optional coarse-to-fine mode (``pyramid_levels > 0``): the coarsest level searches
the full range, finer levels only a per-pixel band of ``band_labels`` disparities
around the upsampled coarser result (see :mod:`~parallax.stereo.matchers.sgm`).
Off by default: at the sizes of the stereo-gt scenes it saves little time and it
loses background seen through narrow gaps.

Large pairs are matched at a reduced resolution so the cost volume stays under
``max_voxels``; disparities are scaled back to full-resolution pixels, bilinear
over smooth surfaces and nearest across depth edges.

Conventions: images ``HxWx3`` uint8 RGB; disparity in pixels of the left view,
``x_right = x_left - d`` (negative values are valid); NaN = no value.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from parallax.capture.types import check_image
from parallax.errors import ParameterError
from parallax.stereo.matchers.base import MatchResult
from parallax.stereo.matchers.cost import census_transform, cost_volume
from parallax.stereo.matchers.refine import VALID, fill_occlusion_aware, winner_take_all
from parallax.stereo.matchers.sgm import aggregate_sgm
from parallax.stereo.matchers.speckles import remove_speckles
from parallax.stereo.matchers.threads import resolve_threads, run_jobs
from parallax.stereo.matchers.workspace import scratch

__all__ = ["ParallaxSettings", "ParallaxMatcher"]

#: Longer side (pixels) of the coarse copy used to find the search range.
_COARSE_SIDE_PX = 128.0

#: The label axis of a full-range volume is padded to a multiple of this (vector width).
_PAD_LABELS = 8

#: Levels smaller than this (pixels; the range search's coarse copy) are matched on one thread:
#: handing their small kernels to the pool costs more than it saves.
_MIN_THREADED_PX = 32_768

#: Shortest side (pixels) of a pyramid level.
_MIN_LEVEL_SIDE_PX = 48

#: ``outside_fill`` names -> :func:`fill_occlusion_aware` modes.
_OUTSIDE_MODES = {"background": 0, "inward": 1, "extrapolate": 2}

#: Confidence of pixels whose value comes from the hole fill.
FILLED_CONFIDENCE = 0.05


@dataclass(frozen=True, kw_only=True)
class ParallaxSettings:
    """Parameters of the default matcher (costs in uint8 cost units: ``census_weight`` per census bit).

    Parameters
    ----------
    census_radius_x, census_radius_y : int
        Census half-window in pixels (9x7 window by default; at most 64 bits).
    census_weight : float
        Cost per differing census bit.
    ad_weight, ad_truncation : float
        Weight of the mean truncated absolute colour difference (0..255 levels) and its truncation.
    border_cost : int
        Cost (0..255) of a disparity whose match falls outside the right view.
    p1, p2 : int
        SGM penalties for disparity steps of 1 px and of more than 1 px (``p2 <= 1744``).
    p2_gamma : float
        Intensity difference (0..255) that halves ``p2`` across an edge (0 = constant).
    sgm_paths : int
        SGM paths: 8 (the default) or 4 (horizontal and vertical only: faster, streaky
        on weak texture).
    lr_tolerance : int
        Largest left-right disagreement (px) of a consistent pixel.
    speckle_size, speckle_range_px : int, float
        Consistent regions of at most ``speckle_size`` pixels (neighbours within
        ``speckle_range_px``) are treated as mismatches (0 = off).
    outside_fill : {"inward", "extrapolate", "background"}
        Pixels whose match falls outside the right view: continue the nearest
        consistent pixel inward on the row (default), keep the aggregation's
        winner, or treat them as occlusions.
    median_size : int
        Final median filter size (0, 3 or 5); applied to filled (hole-free) maps only.
    fill_sigma_color : float
        Colour scale (grey levels) of the mismatch fill: a mismatched pixel takes the
        lower median of its 16 directional neighbours weighted by
        ``exp(-mean colour difference / fill_sigma_color)`` (0 = the plain median).
    fill : bool
        Fill pixels failing the left-right check (else they are NaN).
    range_frac : float
        Half-width of the coarse range search as a fraction of the image width.
    range_margin_px, range_margin_frac : float
        Margin added on each side of the coarse range (pixels, fraction of span).
    max_voxels : int
        Largest cost volume (pixels x disparities); larger pairs are matched downscaled.
    pyramid_levels : int
        Coarse-to-fine matching (0 = off, the default): up to this many halvings; the
        coarsest level searches the whole range, each finer one only ``band_labels``
        disparities per pixel around the upsampled coarser result ("tube" SGM).
        Levels stop once the coarsest volume is under ``coarse_voxels``. Faster for
        wide ranges, but it loses thin background gaps the coarse level misses.
    band_labels, band_radius, band_margin_px : int
        Per-pixel band of the finer levels: labels per pixel (a multiple of 8); the
        band spans the coarser disparities within ``band_radius`` pixels widened by
        ``band_margin_px`` where that fits, else it is centred on the pixel's own value.
    coarse_voxels : int
        Volume (pixels x disparities) under which the pyramid stops halving.
    threads : int or None
        Threads for the costs, the aggregation and the winner search; ``None`` (default)
        uses every core the process may run on. Results are identical for any number.
    """

    census_radius_x: int = 4
    census_radius_y: int = 3
    census_weight: float = 2.0
    ad_weight: float = 0.5
    ad_truncation: float = 20.0
    border_cost: int = 36
    p1: int = 40
    p2: int = 480
    p2_gamma: float = 10.0
    sgm_paths: int = 8
    lr_tolerance: int = 1
    median_size: int = 3
    fill_sigma_color: float = 5.0
    speckle_size: int = 50
    speckle_range_px: float = 1.0
    outside_fill: str = "inward"
    fill: bool = True
    range_frac: float = 0.25
    range_margin_px: float = 2.0
    range_margin_frac: float = 0.1
    max_voxels: int = 60_000_000
    pyramid_levels: int = 0
    band_labels: int = 16
    band_radius: int = 2
    band_margin_px: int = 2
    coarse_voxels: int = 2_000_000
    threads: int | None = None

    def __post_init__(self) -> None:
        rx, ry = self.census_radius_x, self.census_radius_y
        if not (
            isinstance(rx, int)
            and isinstance(ry, int)
            and rx >= 1
            and ry >= 1
            and (2 * rx + 1) * (2 * ry + 1) - 1 <= 64
        ):
            raise ParameterError(f"census radii must be integers >= 1 with at most 64 window bits, got {rx!r}, {ry!r}")
        for name in (
            "census_weight",
            "ad_weight",
            "ad_truncation",
            "fill_sigma_color",
            "p2_gamma",
            "range_margin_px",
            "range_margin_frac",
        ):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ParameterError(f"{name} must be a finite number >= 0, got {value!r}")
        for name, top in (("border_cost", 255), ("p1", 1744), ("p2", 1744)):
            value = getattr(self, name)
            if not (isinstance(value, (int, np.integer)) and 0 <= value <= top):
                raise ParameterError(f"{name} must be an integer in 0..{top}, got {value!r}")
        if self.p2 < self.p1:
            raise ParameterError(f"p2 ({self.p2}) must be at least p1 ({self.p1})")
        if not (isinstance(self.range_frac, (int, float)) and 0 < self.range_frac <= 1):
            raise ParameterError(f"range_frac must be in (0, 1], got {self.range_frac!r}")
        if self.sgm_paths not in (4, 8) or isinstance(self.sgm_paths, bool):
            raise ParameterError(f"sgm_paths must be 4 or 8, got {self.sgm_paths!r}")
        if self.median_size not in (0, 3, 5):
            raise ParameterError(f"median_size must be 0, 3 or 5, got {self.median_size!r}")
        if not (isinstance(self.lr_tolerance, int) and self.lr_tolerance >= 0):
            raise ParameterError(f"lr_tolerance must be an integer >= 0, got {self.lr_tolerance!r}")
        if not (isinstance(self.max_voxels, int) and self.max_voxels >= 100_000):
            raise ParameterError(f"max_voxels must be an integer >= 100000, got {self.max_voxels!r}")
        if not (isinstance(self.pyramid_levels, int) and 0 <= self.pyramid_levels <= 4):
            raise ParameterError(f"pyramid_levels must be an integer in 0..4, got {self.pyramid_levels!r}")
        if not (isinstance(self.band_labels, int) and 8 <= self.band_labels <= 256 and self.band_labels % 8 == 0):
            raise ParameterError(f"band_labels must be a multiple of 8 in 8..256, got {self.band_labels!r}")
        for name in ("band_radius", "band_margin_px"):
            value = getattr(self, name)
            if not (isinstance(value, int) and 0 <= value <= 16):
                raise ParameterError(f"{name} must be an integer in 0..16, got {value!r}")
        if not (isinstance(self.coarse_voxels, int) and self.coarse_voxels >= 10_000):
            raise ParameterError(f"coarse_voxels must be an integer >= 10000, got {self.coarse_voxels!r}")
        if self.threads is not None and not (
            isinstance(self.threads, int) and not isinstance(self.threads, bool) and self.threads >= 1
        ):
            raise ParameterError(f"threads must be an integer >= 1 or None (every core), got {self.threads!r}")
        if self.outside_fill not in _OUTSIDE_MODES:
            raise ParameterError(f"outside_fill must be one of {sorted(_OUTSIDE_MODES)}, got {self.outside_fill!r}")
        if not (isinstance(self.speckle_size, int) and self.speckle_size >= 0):
            raise ParameterError(f"speckle_size must be an integer >= 0, got {self.speckle_size!r}")
        if not (isinstance(self.speckle_range_px, (int, float)) and 0 < self.speckle_range_px < 100):
            raise ParameterError(f"speckle_range_px must be in (0, 100), got {self.speckle_range_px!r}")
        if not isinstance(self.fill, bool):
            raise ParameterError(f"fill must be True or False, got {self.fill!r}")


def _gray(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)


def _census_of(image: np.ndarray, s: ParallaxSettings) -> tuple[np.ndarray, np.ndarray]:
    """Grey copy of ``image`` and its census strings (one thread)."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)  # (uint8: the census' faster path, same strings)
    return grey.astype(np.float32), census_transform(grey, s.census_radius_x, s.census_radius_y)


def _match_level(left, right, dmin, dmax, s, offsets=None, labels=0):
    """Match at the given resolution over integer disparities ``dmin..dmax``: all of
    them (``offsets`` None) or ``labels`` of them per pixel from ``offsets`` on.

    Returns (disparity with every pixel's winner, state, uniqueness).
    """
    threads = resolve_threads(s.threads) if left.shape[0] * left.shape[1] >= _MIN_THREADED_PX else 1
    views = [functools.partial(_census_of, image, s) for image in (left, right)]
    (gl, cl), (gr, cr) = run_jobs(views) if threads > 1 else [view() for view in views]  # a view per thread
    nd = dmax - dmin + 1
    h, w = gl.shape
    nl = -(-nd // _PAD_LABELS) * _PAD_LABELS if offsets is None else labels
    shape = (h, w, nl)
    cost = cost_volume(
        cl,
        cr,
        left,
        right,
        dmin,
        nd,
        census_weight=s.census_weight,
        ad_weight=s.ad_weight,
        ad_truncation=s.ad_truncation,
        border_cost=s.border_cost,
        pad_to=_PAD_LABELS,
        offsets=offsets,
        labels=labels if offsets is not None else None,
        out=scratch("cost", shape, np.uint8),
        threads=threads,
    )
    agg = aggregate_sgm(
        cost,
        gl,
        p1=s.p1,
        p2=s.p2,
        p2_gamma=s.p2_gamma,
        offsets=offsets,
        paths=s.sgm_paths,
        threads=threads,
        out=scratch("agg", shape, np.uint16),
    )
    return winner_take_all(agg, dmin, num_disparities=nd, offsets=offsets, lr_tolerance=s.lr_tolerance, threads=threads)


def _band_offsets(
    coarse: np.ndarray, size: tuple[int, int], ratio: float, dmin: int, dmax: int, s: ParallaxSettings
) -> np.ndarray:
    """Per-pixel label-0 disparity of a ``band_labels`` band at this level, from the
    dense disparity of the next coarser level (its pixels, ``ratio`` = this/coarser).

    The band covers the coarse disparities within ``band_radius`` pixels (min to max,
    widened by ``band_margin_px``) where they fit, else it is centred on the pixel's own
    upsampled value; it always lies inside ``dmin..dmax`` when that range is wide enough.
    """
    h, w = size
    up = cv2.resize(coarse.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) * np.float32(ratio)
    k = 2 * s.band_radius + 1
    kernel = np.ones((k, k), np.uint8)
    lo = np.floor(cv2.erode(up, kernel)) - s.band_margin_px
    hi = np.ceil(cv2.dilate(up, kernel)) + s.band_margin_px
    nl = s.band_labels
    fits = hi - lo + 1 <= nl
    off = np.where(fits, lo - np.floor((nl - (hi - lo + 1)) / 2), np.round(up) - nl // 2)
    top = max(dmin, dmax - nl + 1)
    return np.clip(off, dmin, top).astype(np.int32)


def _fill(disp: np.ndarray, state: np.ndarray, image: np.ndarray, s: ParallaxSettings) -> np.ndarray:
    """Fill the pixels that failed the left-right check (step 5 of the module docstring)."""
    return fill_occlusion_aware(
        disp,
        state,
        outside_mode=_OUTSIDE_MODES[s.outside_fill],
        image=image,
        sigma_color=s.fill_sigma_color,
        threads=resolve_threads(s.threads),
    )


def _confidence(uniqueness: np.ndarray, valid: np.ndarray, other: float) -> np.ndarray:
    """Confidence of the consistent pixels, ``uniqueness / 0.25`` within [0.1, 1]; ``other`` elsewhere (float32)."""
    conf = np.asarray(uniqueness, dtype=np.float32) * np.float32(4.0)  # (exact: / 0.25)
    np.maximum(conf, np.float32(0.1), out=conf)
    np.minimum(conf, np.float32(1.0), out=conf)
    conf[~valid] = np.float32(other)
    return conf


def _upsample(disparity: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Disparity of the working resolution at full resolution: bilinear where the 2x2
    neighbourhood is smooth (within 1 px, so slanted surfaces come out as ramps, not
    stairs), nearest across depth edges (no values between foreground and background)."""
    d = np.asarray(disparity, dtype=np.float32)
    nearest = cv2.resize(d, size, interpolation=cv2.INTER_NEAREST)
    if not np.isfinite(d).all():
        return nearest
    spread = cv2.dilate(d, np.ones((2, 2), np.uint8)) - cv2.erode(d, np.ones((2, 2), np.uint8))
    spread = np.maximum(spread, np.roll(np.roll(spread, 1, axis=0), 1, axis=1))  # both corners of a 2x2 cell
    smooth = cv2.resize((spread <= 1.0).astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
    linear = cv2.resize(d, size, interpolation=cv2.INTER_LINEAR)
    return np.where(smooth, linear, nearest).astype(np.float32)


def _resize(image: np.ndarray, scale: float) -> np.ndarray:
    h, w = image.shape[:2]
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _resize_pair(left: np.ndarray, right: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Both views resized at once (OpenCV's area resampling runs on one core; the views are independent)."""
    small = run_jobs([lambda: _resize(left, scale), lambda: _resize(right, scale)])
    return small[0], small[1]


class ParallaxMatcher:
    """The default matcher; see the module docstring for the algorithm.

    Parameters
    ----------
    **options
        Fields of :class:`ParallaxSettings`.
    """

    name = "parallax"

    def __init__(self, **options: object) -> None:
        unknown = sorted(set(options) - set(ParallaxSettings.__dataclass_fields__))
        if unknown:
            raise ParameterError(
                f"default matcher does not take options {unknown}; known: {sorted(ParallaxSettings.__dataclass_fields__)}"
            )
        self.settings = ParallaxSettings(**options)  # type: ignore[arg-type]

    # -- range ---------------------------------------------------------------------------
    def find_range(self, left: np.ndarray, right: np.ndarray) -> tuple[float, float]:
        """Search range ``(min_d, max_d)`` in full-resolution pixels, from a coarse dense match.

        Falls back to ``+-range_frac * W`` when the coarse match has too few
        consistent pixels (textureless pairs).
        """
        s = self.settings
        h, w = left.shape[:2]
        scale = min(1.0, _COARSE_SIDE_PX / max(h, w))
        lc, rc = (left, right) if scale == 1.0 else _resize_pair(left, right, scale)
        sx = lc.shape[1] / w
        half = max(2, int(math.ceil(s.range_frac * lc.shape[1])))
        disp, state, uniq = _match_level(lc, rc, -half, half, s)
        gray = _gray(lc)
        local_var = cv2.blur(gray * gray, (5, 5)) - cv2.blur(gray, (5, 5)) ** 2
        good = (state == VALID) & (uniq > 0.05) & (local_var > 1.0)  # textured, unambiguous, consistent
        full = (-s.range_frac * w, s.range_frac * w)
        if good.sum() < max(20, 0.05 * good.size):
            return float(full[0]), float(full[1])
        lo, hi = np.percentile(disp[good], [1.0, 99.0]) / sx
        margin = s.range_margin_px + 1.0 / sx + s.range_margin_frac * (hi - lo)
        lo, hi = max(lo - margin, full[0] - 1), min(hi + margin, full[1] + 1)
        return float(lo), float(hi)

    # -- matching ------------------------------------------------------------------------
    def match(
        self,
        left: np.ndarray,
        right: np.ndarray,
        *,
        min_disparity: float | None = None,
        max_disparity: float | None = None,
    ) -> MatchResult:
        """Disparity and confidence of ``left`` against ``right``.

        Parameters
        ----------
        left, right : numpy.ndarray
            Rectified ``HxWx3`` uint8 RGB views of the same size.
        min_disparity, max_disparity : float, optional
            Search range in pixels (``x_right = x_left - d``); ``None`` = found from a
            coarse match.

        Returns
        -------
        MatchResult
            ``disparity_px`` (float32, NaN = no value) and ``confidence`` in [0, 1].

        Raises
        ------
        ParameterError
            For views that are not ``HxWx3`` uint8 of one size, or a bad range.
        """
        s = self.settings
        left = check_image("left", left)
        right = check_image("right", right)
        if left.shape != right.shape:
            raise ParameterError(
                f"left {left.shape[:2]} and right {right.shape[:2]} views must have the same size; rectify the pair first"
            )
        for name, value in (("min_disparity", min_disparity), ("max_disparity", max_disparity)):
            if value is not None and not (
                isinstance(value, (int, float, np.integer, np.floating)) and math.isfinite(value)
            ):
                raise ParameterError(f"{name} must be a finite number of pixels or None, got {value!r}")
        if min_disparity is None or max_disparity is None:
            lo, hi = self.find_range(left, right)
            min_disparity = lo if min_disparity is None else min_disparity
            max_disparity = hi if max_disparity is None else max_disparity
            if min_disparity >= max_disparity:  # one bound given and outside the found range
                min_disparity, max_disparity = (
                    min(min_disparity, max_disparity - 16),
                    max(max_disparity, min_disparity + 16),
                )
        if not min_disparity < max_disparity:
            raise ParameterError(
                f"min_disparity ({min_disparity}) must be smaller than max_disparity ({max_disparity}); swap or widen them"
            )
        h, w = left.shape[:2]
        nl = s.band_labels
        # working resolution: the finest level's volume stays under max_voxels
        span = max_disparity - min_disparity + 1
        if s.pyramid_levels == 0 or span <= nl:
            scale = min(1.0, (s.max_voxels / (h * w * span)) ** (1.0 / 3.0))
        else:  # a band of nl labels per pixel at the finest level
            scale = min(1.0, math.sqrt(s.max_voxels / (h * w * nl)))
        lw, rw = (left, right) if scale == 1.0 else _resize_pair(left, right, scale)
        sx = lw.shape[1] / w
        dmin = int(math.floor(min_disparity * sx))
        dmax = max(int(math.ceil(max_disparity * sx)), dmin + 1)
        # pyramid: halve until the full-range volume at the coarsest level is small
        pyramid = [(lw, rw)]
        while (
            len(pyramid) - 1 < s.pyramid_levels
            and (dmax - dmin + 1) / 2 ** (len(pyramid) - 1) > nl
            and min(pyramid[-1][0].shape[:2]) >= 2 * _MIN_LEVEL_SIDE_PX
            and (
                len(pyramid) == 1
                or pyramid[-1][0].size / 3 * (dmax - dmin + 1) / 2 ** (len(pyramid) - 1) > s.coarse_voxels
            )
        ):
            pl, pr = pyramid[-1]
            pyramid.append((cv2.pyrDown(pl), cv2.pyrDown(pr)))
        dense = None
        for level in range(len(pyramid) - 1, -1, -1):
            pl, pr = pyramid[level]
            lx = pl.shape[1] / lw.shape[1]
            lo_d = int(math.floor(dmin * lx))
            hi_d = max(int(math.ceil(dmax * lx)), lo_d + 1)
            if dense is None:
                disp, state, uniq = _match_level(pl, pr, lo_d, hi_d, s)
            else:
                ratio = pl.shape[1] / dense.shape[1]
                off = _band_offsets(dense, pl.shape[:2], ratio, lo_d, hi_d, s)
                disp, state, uniq = _match_level(pl, pr, lo_d, hi_d, s, offsets=off, labels=nl)
            if s.speckle_size > 0:
                state = remove_speckles(disp, state, s.speckle_size, s.speckle_range_px)
            if level > 0:
                dense = _fill(disp, state, pl, s)
                if s.median_size and np.isfinite(dense).all():
                    dense = cv2.medianBlur(dense, s.median_size)
                if not np.isfinite(dense).all():  # no consistent pixel anywhere: keep the winners
                    dense = disp
        valid = state == VALID
        conf = _confidence(uniq, valid, FILLED_CONFIDENCE if s.fill else 0.0)
        if s.fill:
            out = _fill(disp, state, lw, s)
        else:
            out = np.where(valid, disp, np.nan).astype(np.float32)
        if s.median_size and s.fill and np.isfinite(out).all():
            out = cv2.medianBlur(out.astype(np.float32), s.median_size)
        if scale != 1.0:
            out = _upsample(out, (w, h)) / sx
            conf = cv2.resize(conf.astype(np.float32), (w, h), interpolation=cv2.INTER_NEAREST)
            valid = cv2.resize(valid.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
        conf = np.where(np.isfinite(out), conf, 0.0).astype(np.float32)
        settings = {"matcher": self.name, **asdict(s), "working_scale": float(sx)}
        return MatchResult(
            disparity_px=out.astype(np.float32),
            confidence=conf,
            min_disparity=float(min_disparity),
            max_disparity=float(max_disparity),
            settings=settings,
            measured=valid,
        )
