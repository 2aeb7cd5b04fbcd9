"""Fixtures and helpers for the stereo tests.

``photometric_check`` is the issue's "the disparity explains the rectified pair"
measurement.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest


def photometric_check(left: np.ndarray, right: np.ndarray, disparity: np.ndarray) -> dict[str, float]:
    """How well ``disparity`` explains a rectified pair.

    Returns
    -------
    dict
        ``coverage``: share of left pixels with a value (finite disparity).
        ``inside``: share of left pixels with a value whose match ``x - d``
        lies inside the right view (informational).
        ``error``: mean absolute RGB error (0..255) of the right view warped
        into the left with ``cv2.remap`` at ``x - d`` (bilinear), over every
        pixel with a value whose match lies inside the right view (pixels seen
        by the left camera only have an extrapolated value that no image can check). ``shift_error``: the same for the best single global
        integer horizontal shift (searched over the 0.5-99.5 percentile range of
        the disparities), over the same pixels. ``ratio`` = error / shift_error.
    """
    h, w = disparity.shape
    valid = np.isfinite(disparity)
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    lf = left.astype(np.float32)
    d = np.where(valid, disparity, 0).astype(np.float32)
    inside = valid & (xs - d >= -0.5) & (xs - d <= w - 0.5)
    compared = inside
    warped = cv2.remap(right, xs - d, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT).astype(np.float32)
    err_d = float(np.abs(lf - warped).mean(axis=2)[compared].mean())
    lo, hi = np.floor(np.nanpercentile(disparity, 0.5)), np.ceil(np.nanpercentile(disparity, 99.5))
    best = np.inf
    for s in range(int(lo), int(hi) + 1):
        shifted = cv2.remap(right, xs - s, ys, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT).astype(np.float32)
        best = min(best, float(np.abs(lf - shifted).mean(axis=2)[compared].mean()))
    return {
        "coverage": float(valid.mean()),
        "inside": float(inside.mean()),
        "error": err_d,
        "shift_error": best,
        "ratio": err_d / best,
    }


@pytest.fixture()
def photometric():
    """The :func:`photometric_check` measurement, as a fixture (test modules cannot import conftest)."""
    return photometric_check


@pytest.fixture(scope="session")
def scenes(stereo_gt_dir):
    """``stereo-gt/scenes.json`` as a dict of scene name -> description."""
    import json

    return json.loads((stereo_gt_dir / "scenes.json").read_text())["scenes"]


# ---------------------------------------------------------------- clips (issue 11)

BIDAVIDEO = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "video" / "bidavideo-demo"


@pytest.fixture(scope="session")
def bidavideo_clip():
    """The real 10-frame 1280x720 rectified office clip (frame folder, 10 fps)."""
    from parallax.capture.clip_registry import read_clip

    return read_clip(BIDAVIDEO, fps=10)


@pytest.fixture(scope="session")
def still_clip(tmp_path_factory):
    """Synthetic room, camera still, a panel moving through it, a plain back wall, sensor noise (320x240, 8 frames)."""
    from parallax.bench.synthetic_clip import render_clip

    return render_clip(tmp_path_factory.mktemp("still-clip"), kind="still", frames=8)


@pytest.fixture(scope="session")
def pan_clip(tmp_path_factory):
    """Synthetic room, the camera moving forward and sideways while turning right 0.2 deg a frame (320x240, 10 frames)."""
    from parallax.bench.synthetic_clip import render_clip

    return render_clip(tmp_path_factory.mktemp("pan-clip"), kind="pan", frames=10)


def _open_synthetic(clip_info):
    from parallax.capture.clip_registry import read_clip

    return read_clip(clip_info.folder, fps=clip_info.fps)


@pytest.fixture(scope="session")
def open_synthetic():
    """``open_synthetic(info)``: a rendered SyntheticClip as a StereoClip (test modules cannot import conftest)."""
    return _open_synthetic


def _looped_folder(folder: Path, left: Path, right: Path, frames: int) -> Path:
    (folder / "left").mkdir(parents=True)
    (folder / "right").mkdir(parents=True)
    for i in range(frames):
        (folder / "left" / f"{i:06d}.png").symlink_to(left)
        (folder / "right" / f"{i:06d}.png").symlink_to(right)
    return folder


@pytest.fixture(scope="session")
def looped_folder():
    """``looped_folder(folder, left, right, frames)``: a frame folder of symlinks to one pair (a still camera)."""
    return _looped_folder


def plain_wall_scene(
    seed: int = 7, size: tuple[int, int] = (200, 280), noise: float = 0.5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A seeded rectified pair: a textured slanted background plane and, in front of
    it at 24 px, a wall whose 10-pixel rim is textured (a frame, moving with the
    wall) around a textureless interior (one colour plus independent sensor noise in
    each view, ``noise`` grey levels before rounding). Plain walls and skies in the real
    captures of ``../shared/data`` at 1024 px carry 0.1 to 0.7 grey levels of fine-scale
    texture (Immerkaer's measure): at ``noise=0.3`` (about 0.14) most of the interior is
    plain to :func:`parallax.stereo.surfaces.plain_mask`, at ``0.5`` (about 0.4) none of it
    is (it is weak texture). Returns ``(left, right, gt_disparity)``; ``x_right = x_left - d``.
    """
    rng = np.random.default_rng(seed)
    h, w = size
    pad = 48
    texture = cv2.GaussianBlur(rng.integers(0, 256, (h, w + pad, 3)).astype(np.float32), (0, 0), 1.2)
    texture = np.clip((texture - 128) * 3 + 128, 0, 255)
    frame = np.clip(cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3)).astype(np.float32), (0, 0), 1.0) * 1.5, 0, 255)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    y0, y1, x0, x1, rim = 40, 160, 80, 230, 10
    wall = (ys >= y0) & (ys < y1) & (xs >= x0) & (xs < x1)
    gt = np.where(wall, 24.0, 8.0 + 0.02 * xs).astype(np.float32)  # background: a slanted plane
    wall_colour = np.array([182.0, 176.0, 168.0], np.float32)

    def view(shift: float, noise_seed: int) -> np.ndarray:
        # the background texture where the background is seen, the wall (frame and plain interior) on top
        out = np.empty((h, w, 3), np.float32)
        for y in range(h):
            x_left = (xs[y] + 8.0) / 0.98 if shift else xs[y]  # background point seen at x_left - d(x_left)
            for c in range(3):
                out[y, :, c] = np.interp(x_left + pad / 2, np.arange(w + pad), texture[y, :, c])
        xl = xs + shift  # wall point seen here in this view
        on_wall = (ys >= y0) & (ys < y1) & (xl >= x0) & (xl < x1)
        interior = on_wall & (ys >= y0 + rim) & (ys < y1 - rim) & (xl >= x0 + rim) & (xl < x1 - rim)
        xi = np.clip(np.round(xl).astype(int), 0, w - 1)
        out[on_wall] = frame[ys.astype(int)[on_wall], xi[on_wall]]
        out[interior] = wall_colour
        grain = np.random.default_rng(noise_seed).normal(0.0, noise, out.shape)
        return np.clip(np.round(out + grain), 0, 255).astype(np.uint8)

    return view(0.0, seed + 1), view(24.0, seed + 2), gt


@pytest.fixture(scope="session")
def plain_wall():
    """The :func:`plain_wall_scene` pair with a plain interior (``noise=0.3``), once per session."""
    return plain_wall_scene(noise=0.3)


@pytest.fixture(scope="session")
def grainy_wall():
    """The :func:`plain_wall_scene` pair with a grainy, weakly textured interior (``noise=0.5``)."""
    return plain_wall_scene(noise=0.5)


def independent_row_residual(left: np.ndarray, right: np.ndarray, max_side_px: int = 2400) -> tuple[float, float, int]:
    """Median and 90th percentile ``|dy|`` (pixels of the views) of matches *independent* of Parallax's own.

    SIFT with other settings than :mod:`parallax.stereo.features` (4 octave
    layers, contrast threshold 0.02, edge threshold 15, sigma 1.4, up to 8000
    features, on copies of at most ``max_side_px``), ratio test 0.8, RANSAC
    fundamental matrix at 3 px of the detection scale; no sub-pixel refinement.
    """
    h, w = left.shape[:2]
    s = min(1.0, max_side_px / max(h, w))

    def grey(img: np.ndarray) -> np.ndarray:
        g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        return cv2.resize(g, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA) if s < 1 else g

    sift = cv2.SIFT.create(nfeatures=8000, nOctaveLayers=4, contrastThreshold=0.02, edgeThreshold=15, sigma=1.4)
    kl, dl = sift.detectAndCompute(grey(left), None)
    kr, dr = sift.detectAndCompute(grey(right), None)
    pairs = [p for p in cv2.BFMatcher(cv2.NORM_L2).knnMatch(dl, dr, k=2) if len(p) == 2]
    good = [a for a, b in pairs if a.distance < 0.8 * b.distance]
    pl = (np.array([kl[g.queryIdx].pt for g in good]) + 0.5) / s - 0.5
    pr = (np.array([kr[g.trainIdx].pt for g in good]) + 0.5) / s - 0.5
    _, mask = cv2.findFundamentalMat(pl, pr, cv2.FM_RANSAC, 3.0 / s, 0.999, 10000)
    keep = mask.ravel().astype(bool)
    dy = np.abs(pr[keep, 1] - pl[keep, 1])
    return float(np.median(dy)), float(np.percentile(dy, 90)), int(keep.sum())


@pytest.fixture()
def independent_residual():
    """The :func:`independent_row_residual` measurement, as a fixture."""
    return independent_row_residual
