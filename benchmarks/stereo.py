"""Stereo benchmark: Parallax's default matcher and the CLI's depth path against OpenCV SGBM, in one run.

Runs ``sgbm`` (OpenCV SGBM, 3-way, with background-favouring hole fill, given
the scene's true search range: the recipe of ``parallax eval``), ``sgbm-raw``
(the same without the fill), ``default`` (Parallax's matcher alone, scene range)
``pair`` (the CLI's depth path on the already rectified pair, without the
rectification check) and ``cli`` -- what ``parallax disparity LEFT RIGHT`` computes: the pair as a
two-file capture through the eye-order check (:func:`parallax.capture.orient_eyes`, as
``read_capture`` does for two files) and :func:`parallax.compute_depth` with no
range given (rectification check, range search, matching, the one
post-processing of :func:`parallax.stereo.disparity.disparity_of_pair`; file
decoding excluded) --
on every scene of ``../shared/data/stereo-gt/scenes.json`` (or ``--dataset``).
It prints the table of ``parallax eval`` (per scene and mean: bad-N, EPE, ...),
then the ratios of ``default`` and ``cli`` to ``sgbm``:

* bad-2.0 ratio: mean bad-2.0 (all GT pixels, holes count as wrong) divided by
  that of SGBM-with-fill; below 1 means more accurate;
* EPE ratio: the same for the end-point error;
* ms/MP ratio: warm milliseconds per megapixel divided by SGBM's; below 1 means faster.
  Each matcher is timed ``--repeat`` times per scene (default 3) and the fastest
  call counts, so a noisy shared machine does not decide the ratio. The CLI path
  forgets the feature tracks it kept (:func:`parallax.capture.tracks.forget_tracks`)
  before every call, as a fresh ``parallax disparity`` process would.

All are measured in the same process on the same machine, so they compare
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
from parallax.stereo.matchers.base import Matcher  # noqa: E402

DEFAULT_DATASET = ROOT.parent / "shared" / "data" / "stereo-gt" / "scenes.json"
BASELINE = "sgbm"
CANDIDATE = "default"
CLI_PATH = "cli"
PAIR_PATH = "pair"


class PairPath:
    """The CLI path without the rectification check: :func:`parallax.stereo.disparity.disparity_of_pair`
    on the (already rectified) pair, no search range -- what the CLI gives once it knows the pair is rectified."""

    name = PAIR_PATH

    def match(self, left, right, *, min_disparity=None, max_disparity=None):
        """Disparity of ``left`` against ``right`` through the one post-processing."""
        from parallax.stereo.disparity import disparity_of_pair
        from parallax.stereo.matchers.base import MatchResult

        result = disparity_of_pair(left, right)
        return MatchResult(
            disparity_px=result.disparity_px,
            confidence=result.confidence,
            min_disparity=result.min_disparity,
            max_disparity=result.max_disparity,
            settings=dict(result.settings),
        )


class CliPath:
    """``parallax disparity LEFT RIGHT`` as a matcher: the pair as a two-file capture through
    :func:`parallax.compute_depth`, with no search range (the one given is ignored)."""

    name = CLI_PATH

    def match(self, left, right, *, min_disparity=None, max_disparity=None):
        """Disparity the CLI writes for ``left`` and ``right`` (``x_right = x_left - d``, NaN = no value)."""
        from parallax.capture.eyes import orient_eyes
        from parallax.capture.tracks import forget_tracks
        from parallax.capture.types import Capture
        from parallax.errors import ParameterError
        from parallax.stereo.matchers.base import MatchResult
        from parallax.stereo.pipeline import compute_depth

        forget_tracks()  # a fresh process has tracked nothing yet
        capture = orient_eyes(Capture(left=left, right=right, format="pair", source="left.png + right.png"))
        if capture.metadata["eyes"]["swapped"]:
            raise ParameterError("the CLI path swapped a benchmark pair's views; it cannot be scored")
        result = compute_depth(capture)
        if result.disparity_px is None or result.disparity_px.shape != left.shape[:2]:
            raise ParameterError("the CLI path rectified a benchmark pair (a different frame); it cannot be scored")
        return MatchResult(
            disparity_px=result.disparity_px,
            confidence=result.confidence,
            min_disparity=float(result.settings["min_disparity"]),
            max_disparity=float(result.settings["max_disparity"]),
            settings=dict(result.settings),
        )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET, help="dataset folder or scenes.json")
    parser.add_argument("--scene", action="append", default=[], help="scene name (repeatable); default: all")
    parser.add_argument("--matchers", default=f"{BASELINE},sgbm-raw,{CANDIDATE}", help="comma-separated matchers")
    parser.add_argument("--json", type=Path, default=None, help="also write the full report (with timing) here")
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per matcher and scene; the fastest counts")
    args = parser.parse_args(argv)
    names = [m.strip() for m in args.matchers.split(",") if m.strip()]
    for needed in (BASELINE, CANDIDATE, PAIR_PATH, CLI_PATH):
        if needed not in names:
            names.append(needed)
    paths: dict[str, Matcher] = {CLI_PATH: CliPath(), PAIR_PATH: PairPath()}
    matchers: list[str | Matcher] = [paths.get(name, name) for name in names]
    try:
        sources = select_scenes(find_scenes(args.dataset), args.scene)
        report = evaluate((s.load() for s in sources), matchers, dataset=str(args.dataset), repeat=args.repeat)
    except ParallaxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_report(report)
    mean_b = report.mean(BASELINE)
    for candidate in (CANDIDATE, PAIR_PATH, CLI_PATH):
        bad2 = ratio(report, candidate, BASELINE)
        epe = ratio(report, candidate, BASELINE, metric="epe_px")
        speed = ratio(report, candidate, BASELINE, metric="ms_per_mp")
        mean_c = report.mean(candidate)
        if mean_c is None or mean_b is None:
            continue
        print(
            f"{candidate}/{BASELINE}: bad-2.0 ratio {bad2:.3f} "
            f"({mean_c['bad_2_pct']:.2f} % vs {mean_b['bad_2_pct']:.2f} %, mean over {mean_c['scenes']} scenes); "
            f"EPE ratio {epe:.3f} ({mean_c['epe_px']:.3f} vs {mean_b['epe_px']:.3f} px); "
            f"ms/MP ratio {speed:.3f} ({report.ms_per_mp(candidate):.0f} vs {report.ms_per_mp(BASELINE):.0f} ms/MP, warm)"
        )
    if args.json is not None:
        from parallax.io.atomic import atomic_output

        with atomic_output(args.json) as tmp:
            tmp.write_text(json.dumps(report.to_dict(timing=True), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
