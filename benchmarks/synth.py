"""Synthetic-scene benchmark: pairs per minute at 640x480, and Ray scale-out with 1 and 2 workers.

Measured in one run on this machine:

* ``local``: ``parallax synth`` one pair after another; the renderer uses every
  core for each pair. This is the baseline.
* ``ray-1``, ``ray-2``: the same pairs as Ray tasks on a local Ray with 1 and 2
  CPUs; each task holds one CPU and renders with one thread.

It prints pairs per minute and the ratio of each engine to ``local`` (above 1 =
faster), the share of the time spent per stage for one pair (plan, render,
ground truth), and OpenCV SGBM's bad-2 on the pairs made (the scenes should not
be trivially easy: real scenes score about 4-17 %). Run:
``.venv/bin/python benchmarks/synth.py [--count 2] [--spp 64] [--size 640x480]``.
Exits 0 when the run completes (the numbers are reported, not judged here).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from parallax.errors import ParallaxError  # noqa: E402
from parallax.synth.config import SynthConfig, parse_size  # noqa: E402
from parallax.synth.dataset import generate_dataset  # noqa: E402


def _timed(config: SynthConfig, count: int, seed: int, out: Path, **kw) -> float:
    start = time.perf_counter()
    generate_dataset(config, count=count, out=out, seed=seed, **kw)
    return time.perf_counter() - start


def _stages(config: SynthConfig, seed: int) -> dict[str, float]:
    """Seconds per stage of one pair (in this process, all cores)."""
    from parallax.synth import render
    from parallax.synth.generate import scene_seeds
    from parallax.synth.scene import plan_scene

    t0 = time.perf_counter()
    streams = scene_seeds(seed, 0)
    plan = plan_scene(streams["plan"], config)
    t1 = time.perf_counter()
    built = render.build_scene(plan, spp=config.spp, max_bounces=config.max_bounces)
    render.render_view(built, 0, spp=config.spp, seed=1)
    render.render_view(built, 1, spp=config.spp, seed=2)
    t2 = time.perf_counter()
    for view in ("left", "right"):
        for offset in ((0.0, 0.0), (-0.35, -0.35), (0.35, -0.35), (-0.35, 0.35), (0.35, 0.35)):
            render.cast_rays(built, plan.rig, view, offset_px=offset)
    t3 = time.perf_counter()
    return {"plan_s": t1 - t0, "render_s": t2 - t1, "ground_truth_s": t3 - t2, "variant": render.mitsuba_variant()}


def _sgbm_bad2(folder: Path) -> list[float]:
    from parallax.bench.datasets import find_scenes
    from parallax.bench.evaluate import evaluate

    report = evaluate((s.load() for s in find_scenes(folder)), ["sgbm"], dataset=str(folder), timing=False)
    return [float(r["all"]["bad_2_pct"]) for r in report.to_dict()["results"]]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2, help="pairs per engine (default 2)")
    parser.add_argument("--spp", type=int, default=64, help="samples per pixel (default 64)")
    parser.add_argument("--size", default="640x480", help="image size WxH (default 640x480)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray runs")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args(argv)
    results: dict[str, object] = {"count": args.count, "spp": args.spp, "size": args.size}
    work = Path(tempfile.mkdtemp(prefix="parallax-synth-bench-"))
    try:
        config = SynthConfig(size_range=parse_size(args.size), spp=args.spp)
        results["stages_one_pair"] = _stages(config, args.seed)
        engines = [("local", {})]
        if not args.no_ray:
            engines += [("ray-1", {"engine": "ray", "workers": 1}), ("ray-2", {"engine": "ray", "workers": 2})]
        seconds: dict[str, float] = {}
        for name, kw in engines:
            seconds[name] = _timed(config, args.count, args.seed, work / name, **kw)
        results["bad2_sgbm_pct"] = _sgbm_bad2(work / "local")
    except ParallaxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = seconds["local"]
    print(
        f"synthetic pairs, {args.size}, {args.spp} spp, {args.count} pairs per engine "
        f"(renderer: {results['stages_one_pair']['variant']})"
    )
    print(f"{'engine':<8} {'seconds':>9} {'pairs/min':>10} {'vs local':>9}")
    table = {}
    for name, s in seconds.items():
        table[name] = {"seconds": s, "pairs_per_min": 60.0 * args.count / s, "speedup_vs_local": base / s}
        print(f"{name:<8} {s:9.1f} {60.0 * args.count / s:10.2f} {base / s:9.2f}")
    results["engines"] = table
    st = results["stages_one_pair"]
    print(
        f"one pair: plan {st['plan_s']:.2f} s, render both views {st['render_s']:.1f} s, "
        f"ground truth (5 rays/pixel, both views) {st['ground_truth_s']:.2f} s"
    )
    bad2 = results["bad2_sgbm_pct"]
    print(
        f"OpenCV SGBM bad-2 (all GT pixels) on the local pairs: {', '.join(f'{b:.1f}' for b in bad2)} % "
        f"(mean {np.mean(bad2):.1f} %; real scenes in ../shared/data: about 4-17 %)"
    )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
