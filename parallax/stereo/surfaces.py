"""Plain surfaces: untextured regions become smooth surfaces, or explicitly no value.

A matcher cannot measure disparity where the image has no texture (walls, sky,
white backgrounds): every disparity matches equally well, and what it returns
there is noise that still looks confident. :func:`smooth_plain_surfaces`
replaces it:

1. **Plain pixels** have neither contrast nor fine texture around them: the
   grey-level standard deviation over a ``window`` x ``window`` box is below
   ``std_threshold`` and so is the box's fine-scale texture (Immerkaer's
   noise measure, :func:`plain_mask`). Low-contrast surfaces that do carry fine
   texture (which the census matcher locks onto) keep their measured values.
2. **What is replaced.** Plain pixels, and pixels within ``band`` of them that
   no left-right consistent match measured. Measured textured pixels keep
   their value, so the surface joins its surroundings without a step.
3. **Support.** Measured pixels support the surface with their confidence
   (``plain_weight`` times that inside plain regions), filled pixels not at all.
4. **Propagation.** Disparity is propagated from the supporting pixels across
   the plain region by the edge-aware fast global smoother
   (:func:`parallax.stereo.smoothing.smooth_guided`): ``S(c * d) / S(c)``, guided
   by the image (colour edges) and by measured depth edges (jumps between
   measured neighbours), so it stays on the surface it belongs to. The result
   is smooth: a plain wall bounded by textured edges comes out as a smooth
   sheet between them, its noise averaged away.
5. **Planes over closed regions.** A plain region the propagation cannot reach
   (its support ``S(c)`` stays below ``min_support``: a plain board or wall
   whose only measured pixels lie beyond its own outline, behind a colour
   edge) gets the plane that fits the measured pixels around it, when that
   plane is clear: a ring of ``ring`` pixels around the region, at least
   ``ring_min_inliers`` of whose measured pixels agree with one plane within
   ``plane_tolerance`` pixels (RANSAC, seeded) and spread around the region
   (they cover at least ``ring_min_angle_deg`` of directions seen from its
   centre); the plane is not extrapolated beyond the disparities it was fitted
   to (their 5th to 95th percentile, widened by a quarter of that span). Its pixels get the confidence ``plane_confidence``.
6. **No support, no value.** Where neither applies (a plain region with too
   few measured pixels near it, or around it pixels of several surfaces), the
   pixels have no value (NaN): explicitly not valid rather than noise.
7. **Weak texture, denoised.** Measured pixels of low contrast (grey-level
   standard deviation below ``denoise_std`` over the window) that the steps
   above kept -- a wall with a little sensor noise or JPEG blocking, a dark
   suit -- take the confidence-weighted, colour-guided local average of the
   disparity around them (the same smoother with a small ``lambda``,
   ``denoise_smoothness``, reaching a few pixels): the matcher's noise there
   averages out, ramps stay ramps. Each low-contrast value is weighed by its
   agreement with the surface the smoother finds at a long reach (within
   ``denoise_outlier_px``), so a confident blob the matcher got wrong does not
   survive as a bump.
8. **Still rough, no value.** Pixels without texture (standard deviation below
   ``rough_std``) whose window still spans more than ``rough_spread_px`` of
   disparity, whose confidence is below ``rough_confidence``, and which make up
   at least ``rough_density`` of their window get no value: noise nobody can
   tell from a surface is not presented as one. Isolated such pixels, and
   regions of them smaller than two windows, keep their averaged value, so a
   surface is not riddled with pinholes.

The confidence of the smoothed pixels is their support, capped at
``max_confidence`` (an interpolated surface is never as sure as a measured one).

Conventions: images ``HxWx3`` uint8 RGB; disparity in pixels, ``x_right = x_left - d``;
NaN = no value; confidence in [0, 1].
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np

from parallax.capture.types import check_image
from parallax.errors import ParameterError
from parallax.stereo import surface_kernels as kernels
from parallax.stereo.matchers.threads import run_rows
from parallax.stereo.planes import ring_planes
from parallax.stereo.smoothing import smooth_guided
from parallax.stereo.surface_guides import _FAR_FACTOR, PlainSurfaceSettings, SurfaceGuides, surface_guides
from parallax.stereo.texture import local_spread, local_std, plain_mask, window_extremes

__all__ = [
    "PlainSurfaceSettings",
    "PlainSurfaces",
    "SurfaceGuides",
    "local_spread",
    "local_std",
    "plain_mask",
    "smooth_plain_surfaces",
    "surface_guides",
]


@dataclass(frozen=True, kw_only=True)
class PlainSurfaces:
    """Output of :func:`smooth_plain_surfaces`.

    Parameters
    ----------
    disparity_px : numpy.ndarray
        ``HxW`` float32; smooth over plain regions, NaN where they had no support.
    confidence : numpy.ndarray
        ``HxW`` float32 in [0, 1]; 0 where there is no value.
    plain : numpy.ndarray
        ``HxW`` bool, the pixels without texture.
    treated : numpy.ndarray
        ``HxW`` bool, the pixels whose value was replaced (plain pixels and their surroundings).
    unsupported : numpy.ndarray
        ``HxW`` bool, the pixels left without a value by steps 6 and 8.
    """

    disparity_px: np.ndarray
    confidence: np.ndarray
    plain: np.ndarray
    treated: np.ndarray
    unsupported: np.ndarray


def smooth_plain_surfaces(
    image: np.ndarray,
    disparity_px: np.ndarray,
    confidence: np.ndarray,
    measured: np.ndarray,
    *,
    settings: PlainSurfaceSettings | None = None,
    threads: int = 1,
    guides: SurfaceGuides | None = None,
) -> PlainSurfaces:
    """Make untextured regions smooth surfaces, or leave them without a value (module docstring).

    Parameters
    ----------
    image : numpy.ndarray
        ``HxWx3`` uint8 RGB view the disparity refers to.
    disparity_px : numpy.ndarray
        ``HxW`` disparity in pixels; NaN = no value.
    confidence : numpy.ndarray
        ``HxW`` matcher confidence in [0, 1].
    measured : numpy.ndarray
        ``HxW`` bool, pixels whose value came from a consistent match (not a fill).
    settings : PlainSurfaceSettings, optional
        Parameters (defaults when omitted).
    threads : int
        Threads for the smoother (same result for any number).
    guides : SurfaceGuides, optional
        :func:`surface_guides` of ``image`` with these settings, when the caller already
        has them; computed here otherwise.

    Returns
    -------
    PlainSurfaces
        The new disparity and confidence, and which pixels were plain, treated and left without a value.
    """
    s = settings or PlainSurfaceSettings()
    image = check_image("image", image)
    disparity_px = np.asarray(disparity_px, dtype=np.float32)
    shape = image.shape[:2]
    if disparity_px.shape != shape or np.shape(confidence) != shape or np.shape(measured) != shape:
        raise ParameterError(
            f"image {shape}, disparity {disparity_px.shape}, confidence {np.shape(confidence)} and "
            f"measured {np.shape(measured)} must have one size"
        )

    if guides is None:
        guides = surface_guides(image, settings=s, threads=threads)
    contrast, plain, weights = guides.contrast, guides.plain, guides.weights
    if contrast.shape != shape or plain.shape != shape:
        raise ParameterError(f"guides of size {contrast.shape} do not fit the image's {shape}; make them of this image")
    confidence = np.asarray(confidence, dtype=np.float32)
    if plain.any():
        out, conf, treated, unsupported = _plain_regions(
            image, disparity_px, confidence, np.asarray(measured, dtype=bool), plain, s, threads, weights
        )
    else:
        out, conf = disparity_px, confidence
        treated, unsupported = np.zeros(shape, dtype=bool), np.zeros(shape, dtype=bool)
    if s.denoise_std > 0:
        out = _denoise(image, out, conf, contrast, treated, s, threads, guides)
    rough = _rough(out, conf, contrast, s, threads) if s.rough_std > 0 else np.zeros(shape, dtype=bool)
    unsupported |= rough
    final, conf_out = np.empty(shape, dtype=np.float32), np.empty(shape, dtype=np.float32)
    run_rows(lambda y0, y1: kernels.finish(out, conf, rough, final, conf_out, y0, y1), shape[0], threads)
    out, conf = final, conf_out
    return PlainSurfaces(disparity_px=out, confidence=conf, plain=plain, treated=treated, unsupported=unsupported)


def _plain_regions(
    image: np.ndarray,
    disparity_px: np.ndarray,
    confidence: np.ndarray,
    measured: np.ndarray,
    plain: np.ndarray,
    s: PlainSurfaceSettings,
    threads: int,
    weights: tuple[np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Steps 2 to 6: the new disparity, confidence, treated and unsupported pixels."""
    shape = disparity_px.shape
    h, w = shape
    k = 2 * s.band + 1
    near = cv2.dilate(plain.astype(np.uint8), np.ones((k, k), np.uint8)).view(bool)
    # measured, textured pixels keep their own value; plain pixels, and unmeasured pixels near
    # them, take the surface propagated from the measured pixels; depth edges the matcher
    # measured stop the propagation too (not only colour edges)
    reliable, treated = np.empty(shape, dtype=bool), np.empty(shape, dtype=bool)
    weight, values = np.empty(shape, dtype=np.float32), np.empty(shape, dtype=np.float32)
    scale_h, scale_v = np.empty((h, max(w - 1, 0)), dtype=np.float32), np.empty((max(h - 1, 0), w), dtype=np.float32)
    pw, sd = np.float32(s.plain_weight), np.float32(s.sigma_disparity)
    run_rows(
        lambda y0, y1: kernels.support(
            disparity_px,
            confidence,
            measured,
            plain,
            near,
            pw,
            sd,
            reliable,
            treated,
            weight,
            values,
            scale_h,
            scale_v,
            y0,
            y1,
        ),
        h,
        threads,
    )
    num, den = smooth_guided(
        [weight * values, weight],
        image,
        lam=s.smoothness * max(shape),
        sigma_color=s.sigma_color,
        threads=threads,
        edge_scale=(scale_h, scale_v),
        weights=weights,
    )
    out, conf, unsupported = (
        np.empty(shape, dtype=np.float32),
        np.empty(shape, dtype=np.float32),
        np.empty(shape, dtype=bool),
    )
    ms, mc = np.float32(s.min_support), np.float32(s.max_confidence)
    run_rows(
        lambda y0, y1: kernels.propagated(
            disparity_px, confidence, num, den, treated, ms, mc, out, conf, unsupported, y0, y1
        ),
        h,
        threads,
    )
    if s.ring_min_inliers > 0 and unsupported.any():
        planes = ring_planes(
            unsupported,
            reliable,
            disparity_px,
            ring=s.ring,
            tolerance=s.plane_tolerance,
            min_inliers=s.ring_min_inliers,
            min_angle_deg=s.ring_min_angle_deg,
        )
        filled = unsupported & np.isfinite(planes)
        out = np.where(filled, planes, out).astype(np.float32)
        conf = np.where(filled, s.plane_confidence, conf)
        unsupported &= ~filled
    return out, conf, treated, unsupported


def _denoise(
    image: np.ndarray,
    disparity_px: np.ndarray,
    confidence: np.ndarray,
    contrast: np.ndarray,
    treated: np.ndarray,
    s: PlainSurfaceSettings,
    threads: int,
    guides: SurfaceGuides,
) -> np.ndarray:
    """Step 7: low-contrast pixels (``contrast`` below ``denoise_std``, not ``treated`` by steps
    2-6) take the confidence-weighted, colour-guided local average."""
    shape = disparity_px.shape
    target, weight, values = np.empty(shape, dtype=bool), np.empty(shape, dtype=np.float32), np.empty(shape, np.float32)
    ds = np.float32(s.denoise_std)
    run_rows(
        lambda y0, y1: kernels.denoise_inputs(
            disparity_px, confidence, contrast, ds, treated, target, weight, values, y0, y1
        ),
        shape[0],
        threads,
    )
    if not target.any():
        return disparity_px
    if s.denoise_outlier_px > 0:
        # a confident blob the matcher got wrong must not survive the averaging: weigh each
        # low-contrast value by its agreement with the surface around it at a long reach
        surface = _far_surface(guides, values, weight, s.smoothness * max(shape), s, threads)
        op = np.float32(s.denoise_outlier_px)
        run_rows(lambda y0, y1: kernels.agreement(values, surface, target, op, weight, y0, y1), shape[0], threads)
    lam = s.denoise_smoothness * max(shape) / 1000.0
    num, den = smooth_guided(
        [weight * values, weight], image, lam=lam, sigma_color=s.sigma_color, threads=threads, weights=guides.weights
    )
    out = np.empty(shape, dtype=np.float32)
    least = np.float32(_MIN_DENOISE_SUPPORT)
    run_rows(lambda y0, y1: kernels.denoised(disparity_px, num, den, target, least, out, y0, y1), shape[0], threads)
    return out


def _far_surface(
    guides: SurfaceGuides, values: np.ndarray, weight: np.ndarray, lam: float, s: PlainSurfaceSettings, threads: int
) -> np.ndarray:
    """The confidence-weighted surface at a long reach (smoothness ``lam`` at full size), for step 7's agreement.

    It only weighs values (within ``denoise_outlier_px``), so it is found on a copy
    :data:`_FAR_FACTOR` times smaller (``guides.far_image``; ``lam / _FAR_FACTOR ** 2``
    there: the same reach in full-size pixels, a sixteenth of the work) and brought back bilinearly.
    """
    h, w = values.shape
    small = guides.far_image
    if small.shape[:2] == (h, w):
        num0, den0, lam_small = weight * values, weight, lam
    else:
        size = (small.shape[1], small.shape[0])
        num0 = cv2.resize(weight * values, size, interpolation=cv2.INTER_AREA)
        den0 = cv2.resize(weight, size, interpolation=cv2.INTER_AREA)
        lam_small = lam / (_FAR_FACTOR * _FAR_FACTOR)
    num, den = smooth_guided(
        [num0, den0], small, lam=lam_small, sigma_color=s.sigma_color, threads=threads, weights=guides.far_weights
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        surface = (num / np.maximum(den, 1e-12)).astype(np.float32)
    if surface.shape != (h, w):
        surface = cv2.resize(surface, (w, h), interpolation=cv2.INTER_LINEAR)
    return surface


def _rough(
    disparity_px: np.ndarray, confidence: np.ndarray, contrast: np.ndarray, s: PlainSurfaceSettings, threads: int
) -> np.ndarray:
    """Step 8: the untextured (``contrast`` below ``rough_std``), unconfident pixels whose window
    still spans more than ``rough_spread_px``, where they are dense and form large regions."""
    h, w = disparity_px.shape
    hi, lo = window_extremes(disparity_px, s.window)
    seeds = np.empty((h, w), dtype=np.float32)
    rs, sp, rc = np.float32(s.rough_std), np.float32(s.rough_spread_px), np.float32(s.rough_confidence)
    found = [0]

    def seed(y0: int, y1: int) -> None:
        n = kernels.rough_seeds(disparity_px, confidence, contrast, hi, lo, rs, sp, rc, seeds, y0, y1)
        with lock:
            found[0] += n

    lock = threading.Lock()
    run_rows(seed, h, threads)
    if not found[0]:
        return np.zeros((h, w), dtype=bool)
    density = cv2.blur(seeds, (s.window, s.window), borderType=cv2.BORDER_REFLECT)
    regions = np.empty((h, w), dtype=np.uint8)
    rd = np.float32(s.rough_density)
    run_rows(lambda y0, y1: kernels.rough_regions(disparity_px, contrast, density, rs, rd, regions, y0, y1), h, threads)
    min_area = _MIN_HOLE_WINDOWS * s.window * s.window
    if min_area > 0 and regions.any():
        count, labels, stats, _ = cv2.connectedComponentsWithStats(regions, connectivity=8)
        keep = np.zeros(count, dtype=bool)
        keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_area
        return keep[labels]
    return regions.view(bool)


#: Rough regions smaller than this many windows (``window ** 2`` pixels) keep their averaged values (step 8).
_MIN_HOLE_WINDOWS = 2.0
#: Smoothed support below which step 7 keeps a pixel's own value.
_MIN_DENOISE_SUPPORT = 0.05
