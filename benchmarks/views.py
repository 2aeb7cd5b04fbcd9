"""Benchmark of view synthesis: speed against cv2.remap, and quality against naive baselines.

Run: ``.venv/bin/python benchmarks/views.py [--quick] [--only speed|quality] [--repeats N]``.

1. **Speed.** A 45-view quilt (Looking Glass 5x9 preset ``16-gen2``, tiles
   819x455) from a 2560x1440 capture: Leia's Cactus.jpg, both views upscaled 2x
   from the stored 1280x720, with its embedded normalised disparity map scaled
   to 0..4 % of the width (the LIF has no disparity scale). Parallax's
   :func:`parallax.render.quilt.render_quilt` (crop/resize once, forward warping
   with z-buffer and hole filling, tiling) against the plain baseline in the
   same run, from the same ``DepthResult`` to the same quilt: the same NaN fill,
   resize once and median focus, then per view ``map_x = x + p (d - focus)``
   and ``cv2.remap`` (bilinear), tiled into the quilt. The same comparison at full
   resolution (45 views of 2560x1440) follows. Target: ratio <= 2 for both
   ``source="left"`` and ``source="both"`` (what the quilt writer uses by default).
2. **Quality.** On every scene of ``../shared/data/stereo-gt``, the right view
   synthesised from the left view alone (``source=left``) at position 1, with
   the ground-truth disparity and with Parallax's own (``estimate_disparity``,
   or the default matcher of the registry until that lands), against the real right view; baselines: the left view
   unchanged, and the naive backward warp ``right(x) = left(x + d(x))`` (the left
   disparity used as if it were the right view's), bilinear. PSNR (dB) and SSIM
   (:mod:`parallax.render.quality`) over the whole image; margins = ours - best
   baseline (positive = better).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def _best_of(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _cactus_2560():
    from parallax.capture import read_capture
    from parallax.stereo.types import DepthResult

    cap = read_capture(DATA / "captures" / "lif" / "Cactus.jpg")
    size = (2560, 1440)
    left = cv2.resize(cap.left, size, interpolation=cv2.INTER_CUBIC)
    right = cv2.resize(cap.right, size, interpolation=cv2.INTER_CUBIC)
    norm = cv2.resize(cap.maps[0].data, size, interpolation=cv2.INTER_LINEAR)
    lo, hi = float(np.nanmin(norm)), float(np.nanmax(norm))
    disp = ((norm - lo) / (hi - lo) * 0.04 * size[0]).astype(np.float32)
    depth = (1.0 / (disp + 1.0)).astype(np.float32)
    depth /= np.median(depth)
    return DepthResult(
        image=left,
        right_image=right,
        disparity_px=disp,
        confidence=np.ones_like(disp),
        depth=depth,
        depth_is_metric=False,
        source="Cactus.jpg (2x upscaled)",
    )


def _remap_views(left: np.ndarray, disp: np.ndarray, positions: np.ndarray, focus: float) -> list[np.ndarray]:
    h, w = disp.shape
    xs = np.arange(w, dtype=np.float32)[None, :]
    ys = np.repeat(np.arange(h, dtype=np.float32)[:, None], w, axis=1)
    out = []
    for p in positions:
        map_x = xs + np.float32(p) * (disp - np.float32(focus))
        out.append(cv2.remap(left, map_x, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
    return out


def speed(repeats: int) -> dict[str, float]:
    from parallax.render.quilt import QUILT_PRESETS, assemble_quilt, render_quilt
    from parallax.render.synthesis import fill_disparity, sweep_positions, synthesize_views

    result = _cactus_2560()
    preset = QUILT_PRESETS["16-gen2"]
    positions = sweep_positions(preset.views, start=-0.25, stop=1.25, kind="linear")
    disp = fill_disparity(result.disparity_px)
    focus = float(np.median(disp))

    def baseline_quilt() -> np.ndarray:
        # From the same DepthResult to the same quilt as render_quilt: fill the disparity,
        # resize once, focus on the median of the resized map, warp 45 views, tile them.
        tw, th = preset.tile_size
        full = fill_disparity(result.disparity_px)
        small = cv2.resize(result.image, (tw, th), interpolation=cv2.INTER_AREA)
        sd = cv2.resize(full, (tw, th), interpolation=cv2.INTER_NEAREST)
        focus_small = float(np.median(sd)) * tw / full.shape[1]
        sd *= np.float32(tw / full.shape[1])
        views = np.stack(_remap_views(small, sd, positions, focus_small))
        return assemble_quilt(views, preset.cols, preset.rows, size=(preset.width, preset.height))

    t0 = time.perf_counter()
    render_quilt(result, preset, source="left")  # JIT warm-up (compiled code is cached on disk)
    warm = time.perf_counter() - t0
    out = {
        "warmup_s": warm,
        "quilt_remap_s": _best_of(baseline_quilt, repeats),
        "quilt_left_s": _best_of(lambda: render_quilt(result, preset, source="left"), repeats),
        "quilt_both_s": _best_of(lambda: render_quilt(result, preset, source="both"), repeats),
    }
    full_remap = _best_of(lambda: _remap_views(result.image, disp, positions, focus), 1)
    full_ours = _best_of(lambda: synthesize_views(result.image, disp, positions, focus_disparity_px=focus), 1)
    out.update({"full_remap_s": full_remap, "full_left_s": full_ours})
    return out


def naive_backward(left: np.ndarray, disparity: np.ndarray) -> np.ndarray:
    """``right(x) = left(x + d(x))`` with the left disparity (NaN filled as for synthesis), bilinear."""
    from parallax.render.synthesis import fill_disparity

    d = fill_disparity(disparity)
    h, w = d.shape
    xs = np.arange(w, dtype=np.float32)[None, :] + d
    ys = np.repeat(np.arange(h, dtype=np.float32)[:, None], w, axis=1)
    return cv2.remap(left, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def quality() -> list[dict]:
    from parallax.bench.datasets import load_scenes
    from parallax.render.quality import psnr, ssim
    from parallax.render.synthesis import synthesize_view
    from parallax.stereo.disparity import estimate_disparity

    rows = []
    for scene in load_scenes(DATA / "stereo-gt" / "scenes.json"):
        name, left, right = scene.name, scene.left, scene.right
        maps = {"gt": scene.gt_disparity_px, "parallax": estimate_disparity(left, right)}
        for which, d in maps.items():
            ours = synthesize_view(left, d, 1.0)
            base = {"identity": left, "backward": naive_backward(left, d)}
            row = {"scene": name, "disparity": which, "psnr": psnr(ours, right), "ssim": ssim(ours, right)}
            for bname, img in base.items():
                row[f"psnr_{bname}"] = psnr(img, right)
                row[f"ssim_{bname}"] = ssim(img, right)
            row["psnr_margin"] = row["psnr"] - max(row["psnr_identity"], row["psnr_backward"])
            row["ssim_margin"] = row["ssim"] - max(row["ssim_identity"], row["ssim_backward"])
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat instead of three")
    parser.add_argument(
        "--only", choices=("speed", "quality"), default=None, help="run only the quilt timing or only the quality part"
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="timing repeats (best of N; default 3, 1 with --quick)"
    )
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 3)
    if args.only != "quality":
        _print_speed(speed(repeats), repeats)
    if args.only != "speed":
        return _print_quality(quality())
    return 0


def _print_speed(s: dict[str, float], repeats: int) -> None:
    print(f"JIT warm-up (first quilt, compile or cache load): {s['warmup_s']:.2f} s")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"45-view quilt from 2560x1440 (tiles 819x455), best of {repeats}, load average {load:.2f}:")
    print(f"  cv2.remap backward warp baseline : {s['quilt_remap_s'] * 1000:8.1f} ms")
    print(
        f"  parallax, source=left            : {s['quilt_left_s'] * 1000:8.1f} ms  "
        f"ratio {s['quilt_left_s'] / s['quilt_remap_s']:.2f} (target <= 2)"
    )
    print(
        f"  parallax, source=both (default)  : {s['quilt_both_s'] * 1000:8.1f} ms  "
        f"ratio {s['quilt_both_s'] / s['quilt_remap_s']:.2f} (target <= 2)"
    )
    print("45 views at full 2560x1440:")
    print(f"  cv2.remap                        : {s['full_remap_s'] * 1000:8.1f} ms")
    print(
        f"  parallax, source=left            : {s['full_left_s'] * 1000:8.1f} ms  ratio {s['full_left_s'] / s['full_remap_s']:.2f}"
    )


def _print_quality(rows: list[dict]) -> int:
    print("\nright view from the left view alone (position 1) vs the real right view:")
    print(
        f"{'scene':30s} {'disp':8s} {'PSNR':>6s} {'ident':>6s} {'bwarp':>6s} {'margin':>7s} | "
        f"{'SSIM':>6s} {'ident':>6s} {'bwarp':>6s} {'margin':>7s}"
    )
    ok = True
    for r in rows:
        print(
            f"{r['scene']:30s} {r['disparity']:8s} {r['psnr']:6.2f} {r['psnr_identity']:6.2f} {r['psnr_backward']:6.2f} "
            f"{r['psnr_margin']:+7.2f} | {r['ssim']:6.3f} {r['ssim_identity']:6.3f} {r['ssim_backward']:6.3f} {r['ssim_margin']:+7.3f}"
        )
        ok &= r["psnr_margin"] > 0 and r["ssim_margin"] > 0
    print(f"\nbeats both baselines on PSNR and SSIM everywhere: {'yes' if ok else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
