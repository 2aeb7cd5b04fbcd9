"""The whole data-value experiment: data, the held-out check, both arms over every seed, statistics, report.

``synthetic``       trains on the synthetic export alone;
``synthetic+real``  trains on the same synthetic export mixed with the real
                    training export, ``real_weight`` of the draws real.

Both arms: the same model, steps, batch size, crop size, learning rate and
seeds (seed ``s`` initialises both arms' weights identically and seeds their
loaders and crops alike).
"""

from __future__ import annotations

import dataclasses
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from parallax.bench.value.data import PreparedExport, prepare_corpus_arg, prepare_real, prepare_synthetic
from parallax.bench.value.evaluate import EvalScene, load_export_scenes, load_gt_scenes, score_model
from parallax.bench.value.heldout import check_held_out, train_records
from parallax.bench.value.scenes import DEFAULT_DATA, select, shared_scenes
from parallax.bench.value.settings import ValueSettings
from parallax.errors import OutputError, ParameterError, require

__all__ = ["run_value", "ARMS", "RESULT_FILES"]

ARMS = ("synthetic", "synthetic+real")
RESULT_FILES = ("results.json", "results.md", "settings.json", "data.json")

Log = Callable[[str], None]


def _identity(left: Any) -> tuple[Any, None]:
    return left, None


def _check_out(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} is a file; give a folder for the results")
    if not force and any((out / name).exists() for name in RESULT_FILES):
        raise OutputError(f"{out} already holds results of a run; choose another --out or pass --force to replace them")


def _check_inputs(synth_dir: Path | None, corpus: Path | None, eval_corpus: Path | None) -> None:
    """Fail before any work when a given folder is not what its option needs."""
    from parallax.errors import InputFileError

    if synth_dir is not None and not Path(synth_dir).is_dir():
        raise InputFileError(f"--synth {synth_dir} is not a folder; give the --out folder of parallax synth")
    for option, path in (("--corpus", corpus), ("--eval-corpus", eval_corpus)):
        if path is not None and not ((Path(path) / "export.json").is_file() or (Path(path) / "corpus.json").is_file()):
            raise InputFileError(
                f"{option} {path} is neither a corpus (corpus.json) nor a WebDataset export (export.json)"
            )


def run_value(
    settings: ValueSettings,
    *,
    out: Path,
    cache: Path,
    data: Path = DEFAULT_DATA,
    synth_dir: Path | None = None,
    corpus: Path | None = None,
    eval_corpus: Path | None = None,
    save_models: bool = False,
    force: bool = False,
    command: str | None = None,
    log: Log = print,
) -> dict[str, Any]:
    """Run the experiment and write the results into ``out``; return the results dict.

    Parameters
    ----------
    out : Path
        Results folder (``results.json``, ``results.md``, ``settings.json``,
        ``data.json``, ``previews/``, and ``models/`` with ``save_models``).
    cache : Path
        Cache of rendered pairs, corpora and exports (reused by reruns with the same settings).
    data : Path
        The test data folder (``../shared/data``): real scenes by id.
    synth_dir : Path, optional
        ``parallax synth`` output to use instead of rendering.
    corpus : Path, optional
        A corpus folder or WebDataset export whose ``train`` split replaces the
        built-in real training corpus.
    eval_corpus : Path, optional
        A corpus folder or WebDataset export whose ``test`` split joins the held-out scenes.
    force : bool
        Replace the results of an earlier run in ``out``.
    """
    from parallax.bench.value.report import load_average, write_results
    from parallax.bench.value.train import resolve_device, train_run

    started = time.perf_counter()
    load_start = load_average()
    out, cache = Path(out), Path(cache)
    _check_out(out, force)
    _check_inputs(synth_dir, corpus, eval_corpus)
    device = resolve_device(settings.device)
    torch = require("torch", "torch", "parallax bench value")

    if settings.threads is not None:
        torch.set_num_threads(settings.threads)
    need_data = corpus is None or bool(settings.eval_scenes)
    known = shared_scenes(data) if need_data else {}
    held = select(known, settings.eval_scenes, role="eval") if settings.eval_scenes else []
    train_scenes = select(known, settings.train_scenes, role="train") if corpus is None else []
    if corpus is None and not train_scenes:
        raise ParameterError("no real training data: give --train-scenes or --corpus")

    # -- data --------------------------------------------------------------------------------
    t = time.perf_counter()
    synthetic = prepare_synthetic(settings, cache, synth_dir=synth_dir, log=log)
    if corpus is not None:
        real = prepare_corpus_arg(corpus, cache, split="train", log=log)
    else:
        real = prepare_real(train_scenes, settings, cache, split="train", log=log)
    width = settings.size[0]
    files_of = {s.contributor: [str(p) for p in s.files] for s in held}
    eval_scenes: list[EvalScene] = load_gt_scenes([s for s in held if s.kind == "stereo-gt"], width=width)
    held_real: PreparedExport | None = None
    others = [s for s in held if s.kind != "stereo-gt"]
    if others:
        held_real = prepare_real(others, settings, cache, split="test", log=log)
        eval_scenes += load_export_scenes(held_real, width=width)
    held_user: PreparedExport | None = None
    if eval_corpus is not None:
        held_user = prepare_corpus_arg(eval_corpus, cache, split="test", log=log)
        eval_scenes += load_export_scenes(held_user, width=width)
    eval_scenes = [
        dataclasses.replace(s, files=list(dict.fromkeys(s.files + files_of.get(s.contributor, []))))
        for s in eval_scenes
    ]
    if not eval_scenes:
        raise ParameterError(
            "no held-out scene to evaluate on: give --eval-scenes or an --eval-corpus with a test split"
        )
    missing = sorted({s.scene_id for s in others} - {e.contributor for e in eval_scenes})
    if missing:
        log(f"note: held-out scenes {missing} were not accepted into the corpus (see data.json) and are not evaluated")
    train_files = {s.contributor: [str(p) for p in s.files] for s in train_scenes}
    records = train_records(synthetic.export, "train") + train_records(
        real.export, "train", files_by_contributor=train_files
    )
    held_out_check = check_held_out(records, eval_scenes)
    log(f"held-out check: {len(eval_scenes)} scenes share nothing with {len(records)} training samples")
    data_seconds = time.perf_counter() - t

    # -- training and evaluation ---------------------------------------------------------------
    arms: dict[str, dict[str, Any]] = {
        "synthetic": {"sources": {"synthetic": synthetic.export}, "weights": {"synthetic": 1.0}},
        "synthetic+real": {
            "sources": {"synthetic": synthetic.export, "real": real.export},
            "weights": {"synthetic": 1.0 - settings.real_weight, "real": settings.real_weight},
        },
    }
    identity = score_model(_identity, eval_scenes)
    runs = []
    for seed in settings.seeds:
        for arm in ARMS:
            log(f"training {arm}, seed {seed} ({settings.steps} steps, batch {settings.batch_size}, {device})")
            runs.append(
                train_run(
                    settings,
                    arm=arm,
                    seed=seed,
                    sources=arms[arm]["sources"],
                    weights=arms[arm]["weights"],
                    eval_scenes=eval_scenes,
                    device=device,
                    log=log,
                    save_to=out / "models" / f"{arm.replace('+', '-')}-seed{seed}.pt" if save_models else None,
                )
            )
    import parallax

    results = {
        "format": "parallax-bench-value",
        "version": 1,
        "command": command,
        "settings": settings.to_dict(),
        "environment": {
            "parallax": parallax.__version__,
            "python": platform.python_version(),
            "torch": torch.__version__,
            "device": str(device),
            "device_name": torch.cuda.get_device_name(device)
            if device.type == "cuda"
            else platform.processor() or platform.machine(),
            "torch_threads": torch.get_num_threads(),
            "platform": platform.platform(),
            "argv": sys.argv,
        },
        "arms": {
            name: {"sources": {k: str(v) for k, v in arm["sources"].items()}, "weights": arm["weights"]}
            for name, arm in arms.items()
        },
        "held_out_check": held_out_check,
        "timing": {
            "load_average_start": load_start,
            "cpus": os.cpu_count(),
            "data_seconds": round(data_seconds, 1),
            "train_seconds": round(sum(r.train_seconds for r in runs), 1),
            "eval_seconds": round(sum(r.eval_seconds for r in runs), 1),
        },
    }
    write_results(
        out,
        results,
        settings=settings,
        runs=runs,
        identity=identity,
        eval_scenes=eval_scenes,
        exports={"synthetic": synthetic, "real_train": real, "held_out_real": held_real, "held_out_user": held_user},
        started=started,
        log=log,
    )
    return results
