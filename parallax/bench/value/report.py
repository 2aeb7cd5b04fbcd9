"""The results of a data-value run, written beside each other in the ``--out`` folder.

``results.json``   settings, environment, every run's per-scene scores, loss
                   curves, the summary (per arm: mean and spread over seeds; the
                   paired difference with its bootstrap interval), timing
``results.md``     the summary table, per-scene PSNR, and what was trained and held out
``settings.json``  the settings alone (rerun with the same values)
``data.json``      the data lists: every input and what the corpus made of it,
                   the training samples of each arm with how often each seed drew
                   them, the held-out scenes with their provenance
``previews/``      per held-out scene: left view (what the copy baseline
                   predicts) | true right view | the synthetic arm's prediction |
                   the synthetic + real arm's (first seed), as PNG

All files are written into a staging folder and moved into ``--out`` at the end.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from parallax.bench.value.evaluate import METRICS, EvalScene
from parallax.bench.value.settings import ValueSettings
from parallax.bench.value.stats import arm_summary, paired_difference
from parallax.errors import OutputError

__all__ = ["write_results", "summarise", "markdown_table", "load_average"]

_ARMS = ("synthetic", "synthetic+real")


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (what ``uptime`` shows), or None where the system has none."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def summarise(
    runs: Sequence[Any], identity: Mapping[str, Mapping[str, float]], scenes: Sequence[str], settings: ValueSettings
) -> dict[str, Any]:
    """Per metric: each arm's summary over seeds, the copy-the-left-view baseline, and the paired difference."""
    by_arm = {arm: [r.scores for r in sorted((r for r in runs if r.arm == arm), key=lambda r: r.seed)] for arm in _ARMS}
    summary: dict[str, Any] = {}
    for metric, (label, unit, higher) in METRICS.items():
        entry: dict[str, Any] = {"label": label, "unit": unit, "higher_is_better": higher}
        for arm in _ARMS:
            entry[arm] = arm_summary(by_arm[arm], metric, scenes)
        entry["copy_left"] = arm_summary([identity], metric, scenes)
        entry["difference"] = paired_difference(
            by_arm["synthetic"],
            by_arm["synthetic+real"],
            metric,
            scenes,
            resamples=settings.bootstrap,
            confidence=settings.confidence,
            seed=0,
        )
        summary[metric] = entry
    return summary


def _fmt(value: float | None, digits: int) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _verdict(diff: Mapping[str, Any], higher: bool) -> str:
    lo, hi = diff.get("ci_low"), diff.get("ci_high")
    if lo is None or hi is None:
        return "–"
    if lo > 0 or hi < 0:
        better = (lo > 0) == higher
        return "real helps" if better else "real hurts"
    return "no clear difference"


def markdown_table(summary: Mapping[str, Any], settings: ValueSettings) -> str:
    """The summary as a Markdown table (one row per metric)."""
    n = len(settings.seeds)
    pct = int(round(settings.confidence * 100))
    lines = [
        f"| metric | synthetic only | synthetic + real ({settings.real_weight:.0%} real draws) "
        f"| difference (+real − synthetic) [{pct}% CI] | verdict | copy left view | scenes |",
        "|---|---|---|---|---|---|---|",
    ]
    for metric, entry in summary.items():
        digits = 3 if metric in ("ssim", "edge_grad_err") else 2
        unit = f" ({entry['unit']})" if entry["unit"] else ""
        arrow = "↑" if entry["higher_is_better"] else "↓"
        cells = [f"{entry['label']}{unit} {arrow}"]
        for arm in _ARMS:
            s = entry[arm]
            cells.append(f"{_fmt(s['mean'], digits)} ± {_fmt(s['std'], digits)}" if s["mean"] is not None else "–")
        d = entry["difference"]
        cells.append(
            f"{_fmt(d['mean'], digits)} [{_fmt(d['ci_low'], digits)}, {_fmt(d['ci_high'], digits)}]"
            if d["mean"] is not None
            else "–"
        )
        cells.append(_verdict(d, entry["higher_is_better"]))
        cells.append(_fmt(entry["copy_left"]["mean"], digits))
        cells.append(str(len(d.get("scenes", []))))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        f"Mean ± standard deviation over {n} seed(s) of the per-seed mean over the held-out scenes; the difference is "
        f"paired by seed and scene, its interval a hierarchical bootstrap over seeds and scenes "
        f"({settings.bootstrap} resamples, seeded). ↑ higher is better, ↓ lower is better."
    )
    return "\n".join(lines)


def _scene_table(runs: Sequence[Any], identity: Mapping[str, Mapping[str, float]], scenes: Sequence[EvalScene]) -> str:
    columns = (("psnr_db", 2, "PSNR"), ("ssim", 3, "SSIM"), ("disparity_epe_px", 2, "EPE px"))
    head = ["held-out scene", "ground truth"]
    head += [f"{label} {arm}" for _, _, label in columns for arm in ("synthetic", "+real")]
    head.append("copy left PSNR")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for scene in scenes:
        cells = [scene.scene_id, "yes" if scene.has_gt else "no"]
        for metric, digits, _ in columns:
            for arm in _ARMS:
                vals = [r.scores[scene.scene_id][metric] for r in runs if r.arm == arm]
                cells.append(_fmt(float(np.mean(vals)), digits))
        cells.append(_fmt(identity[scene.scene_id]["psnr_db"], 2))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _preview(scene: EvalScene, runs: Sequence[Any]) -> np.ndarray:
    first = {arm: min((r for r in runs if r.arm == arm), key=lambda r: r.seed) for arm in _ARMS}
    tiles = [scene.pair.left, scene.pair.right] + [first[arm].previews[scene.scene_id] for arm in _ARMS]
    strip = np.concatenate([np.clip(t, 0, 1) for t in tiles], axis=1)
    return (strip * 255 + 0.5).astype(np.uint8)


def _data_lists(
    exports: Mapping[str, Any], runs: Sequence[Any], scenes: Sequence[EvalScene], arms: Mapping[str, Any]
) -> dict[str, Any]:
    from parallax.bench.value.data import export_metas

    out: dict[str, Any] = {"exports": {}, "training": {}, "held_out": [s.to_dict() for s in scenes]}
    for name, prepared in exports.items():
        if prepared is None:
            continue
        metas = export_metas(prepared.export, prepared.split)
        out["exports"][name] = {
            "export": str(prepared.export),
            "split": prepared.split,
            "from_cache": prepared.cached,
            "inputs": prepared.outcomes,
            "samples": [
                {
                    "sample_id": m["sample_id"],
                    "contributor": m.get("rights", {}).get("contributor"),
                    "license": m.get("rights", {}).get("license"),
                    "kind": m.get("source", {}).get("kind"),
                    "original_name": m.get("source", {}).get("original_name"),
                    "content_sha256": m.get("source", {}).get("content_sha256"),
                    "size": [m.get("width"), m.get("height")],
                }
                for m in metas
            ],
        }
    for arm in _ARMS:
        out["training"][arm] = {
            "sources": {k: str(v) for k, v in arms[arm]["sources"].items()},
            "weights": arms[arm]["weights"],
            "draws_per_seed": {str(r.seed): r.draws for r in runs if r.arm == arm},
        }
    return out


def write_results(
    out: Path,
    results: dict[str, Any],
    *,
    settings: ValueSettings,
    runs: Sequence[Any],
    identity: Mapping[str, Mapping[str, float]],
    eval_scenes: Sequence[EvalScene],
    exports: Mapping[str, Any],
    started: float,
    log: Callable[[str], None] = print,
) -> None:
    """Complete ``results`` (runs, summary, timing) and write every result file into ``out``."""
    scene_ids = [s.scene_id for s in eval_scenes]
    summary = summarise(runs, identity, scene_ids, settings)
    results["runs"] = [r.to_dict() for r in runs]
    results["copy_left"] = identity
    results["summary"] = summary
    results["timing"]["total_seconds"] = round(time.perf_counter() - started, 1)
    results["timing"]["load_average_end"] = load_average()
    data = _data_lists(exports, runs, eval_scenes, results["arms"])
    t = results["timing"]
    md = "\n\n".join(
        [
            "# Data value: synthetic only vs synthetic + real",
            f"Command: `{results.get('command') or 'parallax bench value'}`  \n"
            f"Preset {settings.preset}; {len(settings.seeds)} seeds {list(settings.seeds)}; {settings.steps} steps of "
            f"{settings.batch_size} crops {settings.size[0]}x{settings.size[1]}; device {results['environment']['device']}; "
            f"total {t['total_seconds'] / 60:.1f} min (data {t['data_seconds']:.0f} s, training {t['train_seconds']:.0f} s, "
            f"evaluation {t['eval_seconds']:.0f} s); load average {t['load_average_start']} at the start, "
            f"{t['load_average_end']} at the end, on {t['cpus']} CPUs.",
            markdown_table(summary, settings),
            "## Per held-out scene (mean over seeds)",
            _scene_table(runs, identity, eval_scenes),
            "## Data",
            f"Synthetic: {len(data['exports']['synthetic']['samples'])} pairs. Real training samples: "
            f"{len(data['exports']['real_train']['samples'])} "
            f"({', '.join(sorted({str(s['contributor']) for s in data['exports']['real_train']['samples']}))}). "
            f"Held out: {', '.join(scene_ids)}. Held-out check: nothing shared "
            f"({', '.join(results['held_out_check']['compared'])}). Every list is in data.json.",
        ]
    )
    try:
        out.mkdir(parents=True, exist_ok=True)
        staging = out / f".staging-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        (staging / "previews").mkdir(parents=True)
    except OSError as exc:
        raise OutputError(f"cannot write results into {out}: {exc.strerror}; choose another --out") from exc
    try:
        for name, payload in (
            ("results.json", results),
            ("settings.json", settings.to_dict()),
            ("data.json", data),
        ):
            (staging / name).write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
        (staging / "results.md").write_text(md + "\n", encoding="utf-8")
        for i, scene in enumerate(eval_scenes):
            name = f"{i:02d}-{scene.scene_id.replace('/', '_')}.png"
            ok, png = cv2.imencode(".png", cv2.cvtColor(_preview(scene, runs), cv2.COLOR_RGB2BGR))
            if ok:
                (staging / "previews" / name).write_bytes(png.tobytes())
        if (out / "previews").exists():
            shutil.rmtree(out / "previews")
        for child in staging.iterdir():
            os.replace(child, out / child.name)
    except OSError as exc:
        raise OutputError(f"cannot write results into {out}: {exc.strerror}; choose another --out") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log(f"results written to {out}")
