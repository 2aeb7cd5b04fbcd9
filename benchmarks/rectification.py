"""Rectification and eye-order benchmark on the real captures, measured in one run.

Part 1 -- rectification residual. For every real stereo capture in
``../shared/data/captures`` the views are rectified as ``parallax rectify``
writes them, and the residual is measured with *independent* matches (SIFT
with other settings than Parallax uses -- 4 octave layers, contrast threshold
0.02, edge threshold 15, sigma 1.4, on copies of at most 2400 px -- ratio test
0.8, RANSAC fundamental matrix with a 3 px threshold at the detection scale),
once on the original views ("before") and once on the rectified views
("after"): median and 90th percentile of ``|y_right - y_left|`` in pixels of
those views. The table also shows what ``parallax`` itself reports (its fresh
re-measurement, ``rectified``), the model it chose, the size written and the
black columns left (should be 0).

Part 2 -- eye order. ``read_capture(..., eyes="auto")`` on every pair in its
given order and reversed: the stereo-gt scenes as two files, the real captures'
views written as two PNG files, side-by-side captures re-packed with the
halves swapped (no name convention), and frame pairs of the bidavideo clip.
A row is right when the correctly ordered input is kept and the reversed one is
swapped back.

Part 3 -- reversed Middlebury/ETH3D pairs through the depth pipeline: bad-2.0
(all ground-truth pixels, missing = wrong) of ``compute_depth`` on the pair in
order and reversed (eyes decided automatically), against the left view's
ground truth. The reversed run should match the ordered one.

Run: ``.venv/bin/python benchmarks/rectification.py [--quick]`` (``--quick``:
captures at most 1600 px, fewer video frames, no part 3). Prints tables;
exits 0 when the run completes (numbers are reported, not judged here).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

from parallax.capture import read_capture  # noqa: E402
from parallax.stereo.pipeline import compute_depth, rectify_capture  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
CAPTURES = [
    ("mpo/sugarshack.mpo", None),
    ("mpo/frozenpond.mpo", None),
    ("mpo/Panasonic-DMC-GX8.mpo", None),
    ("sbs/Panasonic-DMC-GX8.jpg", None),
    ("sbs/Panasonic-DMC-GX8-left.jpg", "sbs/Panasonic-DMC-GX8-right.jpg"),
    ("sbs/GOPR0.left-right.jpg", None),
    ("sbs/calf-left-right.jpg", None),
    ("sbs/02-super-mario.jps", None),
    ("heic/vision-pro.HEIC", None),
    ("heic/spatial_photo.heic", None),
    ("lif/Cactus.jpg", None),
]


def independent_residual(left: np.ndarray, right: np.ndarray, max_side_px: int = 2400) -> tuple[float, float, int]:
    """Median and 90th percentile |dy| (pixels of the views) of independent SIFT matches, and their count."""
    h, w = left.shape[:2]
    s = min(1.0, max_side_px / max(h, w))

    def grey(img: np.ndarray) -> np.ndarray:
        g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        return cv2.resize(g, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA) if s < 1 else g

    sift = cv2.SIFT.create(nfeatures=8000, nOctaveLayers=4, contrastThreshold=0.02, edgeThreshold=15, sigma=1.4)
    kl, dl = sift.detectAndCompute(grey(left), None)
    kr, dr = sift.detectAndCompute(grey(right), None)
    if dl is None or dr is None:
        return float("nan"), float("nan"), 0
    pairs = [p for p in cv2.BFMatcher(cv2.NORM_L2).knnMatch(dl, dr, k=2) if len(p) == 2]
    good = [a for a, b in pairs if a.distance < 0.8 * b.distance]
    if len(good) < 8:
        return float("nan"), float("nan"), len(good)
    pl = (np.array([kl[g.queryIdx].pt for g in good]) + 0.5) / s - 0.5
    pr = (np.array([kr[g.trainIdx].pt for g in good]) + 0.5) / s - 0.5
    _, mask = cv2.findFundamentalMat(pl, pr, cv2.FM_RANSAC, 3.0 / s, 0.999, 10000)
    keep = mask.ravel().astype(bool)
    dy = np.abs(pr[keep, 1] - pl[keep, 1])
    return float(np.median(dy)), float(np.percentile(dy, 90)), int(keep.sum())


def _black_columns(view: np.ndarray) -> int:
    return int((view.max(axis=2) == 0).all(axis=0).sum())


def part_rectification(max_side: int | None) -> None:
    print("\n== rectification residual (independent SIFT matches; pixels of the written views) ==")
    header = (
        f"{'capture':34s} {'size':>10s} {'before med/p90':>15s} {'after med/p90':>14s} "
        f"{'reported med/p90':>17s} {'rect':>5s} {'model':24s} {'out':>10s} {'black':>6s} {'s':>6s}"
    )
    print(header)
    for name, right in CAPTURES:
        capture = read_capture(DATA / "captures" / name, DATA / "captures" / right if right else None)
        t0 = time.perf_counter()
        pair, scale = rectify_capture(capture, max_side_px=max_side)
        seconds = time.perf_counter() - t0
        r = pair.rectification
        if scale < 1.0:
            from parallax.stereo.pipeline import downscale_capture

            capture, _ = downscale_capture(capture, max_side)
        b = independent_residual(capture.left, capture.right)
        a = independent_residual(pair.left, pair.right)

        def fmt(v: float | None) -> str:
            return "  -  " if v is None or not np.isfinite(v) else f"{v:5.2f}"

        black = max(_black_columns(pair.left), _black_columns(pair.right))
        print(
            f"{name:34s} {capture.width:>5d}x{capture.height:<5d}{fmt(b[0])}/{fmt(b[1])}    "
            f"{fmt(a[0])}/{fmt(a[1])}     {fmt(r.residual_median_px)}/{fmt(r.residual_p90_px)}    "
            f"{'yes' if r.rectified else 'NO':>5s} {r.model or 'identity':24s} {r.width:>5d}x{r.height:<5d}"
            f"{black:>5d} {seconds:6.1f}",
            flush=True,
        )


def _write_png(path: Path, image: np.ndarray) -> Path:
    cv2.imwrite(str(path), np.ascontiguousarray(image[:, :, ::-1]))
    return path


def _eye_row(label: str, first: Path, second: Path | None, expect_swapped: bool) -> bool:
    capture = read_capture(first, second)
    eyes = capture.metadata.get("eyes") or {}
    layout = capture.metadata.get("layout")
    swapped = bool(eyes.get("swapped"))
    if isinstance(layout, dict) and second is None:  # side-by-side: the order is the layout's
        swapped = layout["layout"] in ("sbs-cross", "under-over")
    ok = swapped == expect_swapped
    ev = eyes.get("evidence") or {}
    rho = ev.get("ground_rho")
    frac = ev.get("fraction_positive")
    print(
        f"{label:52s} {'reversed' if expect_swapped else 'in order':9s} {'swapped' if swapped else 'kept':8s} "
        f"{eyes.get('strength', '-'):13s} rho {'  -  ' if rho is None else f'{rho:+.2f}'} "
        f"pos {'  - ' if frac is None else f'{frac:.2f}'} {'ok' if ok else 'WRONG'}",
        flush=True,
    )
    return ok


def part_eyes(quick: bool) -> None:
    print("\n== eye order: read_capture(eyes='auto') on pairs in order and reversed ==")
    results = []
    gt = DATA / "stereo-gt"
    scenes = json.loads((gt / "scenes.json").read_text())["scenes"]
    for name, info in scenes.items():
        left, right = gt / name / info["left"], gt / name / info["right"]
        results.append(_eye_row(f"stereo-gt/{name}", left, right, False))
        results.append(_eye_row(f"stereo-gt/{name}", right, left, True))
    caps = DATA / "captures"
    results.append(
        _eye_row(
            "GX8 two files", caps / "sbs/Panasonic-DMC-GX8-left.jpg", caps / "sbs/Panasonic-DMC-GX8-right.jpg", False
        )
    )
    results.append(
        _eye_row(
            "GX8 two files", caps / "sbs/Panasonic-DMC-GX8-right.jpg", caps / "sbs/Panasonic-DMC-GX8-left.jpg", True
        )
    )
    video = DATA / "video" / "bidavideo-demo"
    frames = [0, 9] if quick else list(range(10))
    for i in frames:
        lf, rf = video / "left" / f"left{i:06d}.png", video / "right" / f"right{i:06d}.png"
        results.append(_eye_row(f"bidavideo frame {i}", lf, rf, False))
        results.append(_eye_row(f"bidavideo frame {i}", rf, lf, True))
    with tempfile.TemporaryDirectory(prefix="parallax-eyes-") as tmp:
        folder = Path(tmp)
        for name, right in CAPTURES:
            if right is not None:
                continue
            capture = read_capture(caps / name)
            tag = Path(name).stem.replace(".", "-")
            a = _write_png(folder / f"{tag}-a.png", capture.left)
            b = _write_png(folder / f"{tag}-b.png", capture.right)
            results.append(_eye_row(f"{name} views as two files", a, b, False))
            results.append(_eye_row(f"{name} views as two files", b, a, True))
            if name.startswith("sbs/") and not name.endswith(".jps"):
                straight = _write_png(folder / f"{tag}-packed.png", np.hstack([capture.left, capture.right]))
                swapped = _write_png(folder / f"{tag}-packed-x.png", np.hstack([capture.right, capture.left]))
                results.append(_eye_row(f"{name} halves (no name)", straight, None, False))
                results.append(_eye_row(f"{name} halves swapped (no name)", swapped, None, True))
    print(f"eye order right on {sum(results)} of {len(results)} inputs")


def part_reversed_depth() -> None:
    from parallax.bench.datasets import find_scenes
    from parallax.bench.metrics import disparity_metrics

    print("\n== reversed stereo-gt pairs through compute_depth (bad-2.0 %, all GT pixels, missing = wrong) ==")
    gt = DATA / "stereo-gt"
    scenes = json.loads((gt / "scenes.json").read_text())["scenes"]
    loaded = {s.name: s.load() for s in find_scenes(gt / "scenes.json")}
    diffs = []
    for name, info in scenes.items():
        left, right = gt / name / info["left"], gt / name / info["right"]
        truth = loaded[name].gt_disparity_px
        row = []
        for first, second in ((left, right), (right, left)):
            result = compute_depth(read_capture(first, second))
            d = result.disparity_px
            if d.shape != truth.shape:
                row.append(float("nan"))
                continue
            row.append(disparity_metrics(d, truth).bad_2_pct)
        diffs.append(abs(row[0] - row[1]))
        print(
            f"{name:34s} in order {row[0]:6.2f}   reversed {row[1]:6.2f}   difference {row[1] - row[0]:+.2f}",
            flush=True,
        )
    print(f"largest difference {max(diffs):.2f} points")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller captures, fewer frames, no depth part")
    parser.add_argument("--part", action="append", choices=["rectify", "eyes", "depth"], help="run only these parts")
    args = parser.parse_args(argv)
    parts = args.part or ["rectify", "eyes", "depth"]
    if "rectify" in parts:
        part_rectification(1600 if args.quick else None)
    if "eyes" in parts:
        part_eyes(args.quick)
    if "depth" in parts and not args.quick:
        part_reversed_depth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
