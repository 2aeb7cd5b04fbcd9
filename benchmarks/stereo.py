"""Stereo benchmark: Parallax's default matcher against OpenCV SGBM, measured in one run.

Runs ``sgbm`` (OpenCV SGBM, 3-way, with background-favouring hole fill),
``sgbm-raw`` (the same without the fill) and ``default`` (Parallax's matcher) on
every scene of ``../shared/data/stereo-gt/scenes.json`` (or ``--dataset``), prints
the table of ``parallax eval``, then the ratios of ``default`` to ``sgbm``:

* bad-2.0 ratio: mean bad-2.0 (all GT pixels, holes count as wrong) of default
  divided by that of SGBM-with-fill; below 1 means default is more accurate;
* ms/MP ratio: warm milliseconds per megapixel of default divided by SGBM's;
  below 1 means default is faster.

Both are measured in the same process on the same machine, so they compare
like with like. Run: ``.venv/bin/python benchmarks/stereo.py``. Exits 0 when the
run completes (the numbers are reported, not judged here).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

from parallax.bench.datasets import find_scenes, select_scenes  # noqa: E402
from parallax.bench.evaluate import evaluate  # noqa: E402
from parallax.bench.report import print_report, ratio  # noqa: E402
from parallax.errors import ParallaxError  # noqa: E402

DEFAULT_DATASET = ROOT.parent / "shared" / "data" / "stereo-gt" / "scenes.json"
BASELINE = "sgbm"
CANDIDATE = "default"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET, help="dataset folder or scenes.json")
    parser.add_argument("--scene", action="append", default=[], help="scene name (repeatable); default: all")
    parser.add_argument("--matchers", default=f"{BASELINE},sgbm-raw,{CANDIDATE}", help="comma-separated matchers")
    parser.add_argument("--json", type=Path, default=None, help="also write the full report (with timing) here")
    args = parser.parse_args(argv)
    matchers = [m.strip() for m in args.matchers.split(",") if m.strip()]
    for needed in (BASELINE, CANDIDATE):
        if needed not in matchers:
            matchers.append(needed)
    try:
        sources = select_scenes(find_scenes(args.dataset), args.scene)
        report = evaluate((s.load() for s in sources), matchers, dataset=str(args.dataset))
    except ParallaxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_report(report)
    bad2 = ratio(report, CANDIDATE, BASELINE)
    speed = ratio(report, CANDIDATE, BASELINE, metric="ms_per_mp")
    mean_c, mean_b = report.mean(CANDIDATE), report.mean(BASELINE)
    print(
        f"bad-2.0 ratio {CANDIDATE}/{BASELINE}: {bad2:.3f} "
        f"({mean_c['bad_2_pct']:.2f} % vs {mean_b['bad_2_pct']:.2f} %, mean over {mean_c['scenes']} scenes)"
    )
    print(
        f"ms/MP ratio {CANDIDATE}/{BASELINE}: {speed:.3f} "
        f"({report.ms_per_mp(CANDIDATE):.0f} vs {report.ms_per_mp(BASELINE):.0f} ms/MP, warm)"
    )
    if args.json is not None:
        from parallax.io.atomic import atomic_output

        with atomic_output(args.json) as tmp:
            tmp.write_text(json.dumps(report.to_dict(timing=True), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
