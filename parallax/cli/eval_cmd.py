"""CLI: ``parallax eval`` -- score disparity matchers on stereo benchmarks with ground truth.

Reads a dataset as its original distribution lays it out (Middlebury 2001-2014,
ETH3D two-view, KITTI 2012/2015) or a ``scenes.json`` manifest, runs every
chosen matcher on every chosen scene in one run, and prints one table (or JSON).
A folder of synthetic sequences (``parallax synth --frames N``) is scored with
temporal metrics too: per-frame bad-2 and the temporal end-point error (TEPE),
frame by frame in time order (``parallax/bench/temporal.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from parallax.cli.progress import bar
from parallax.errors import ParameterError

__all__ = ["register", "default_dataset", "parse_names"]

#: Tried (relative to the working directory) when ``--dataset`` is not given.
DEFAULT_DATASET = Path("..") / "shared" / "data" / "stereo-gt" / "scenes.json"


def default_dataset() -> Path:
    """``../shared/data/stereo-gt/scenes.json`` if it exists, else a :class:`ParameterError`."""
    if DEFAULT_DATASET.is_file():
        return DEFAULT_DATASET
    raise ParameterError(
        f"no --dataset given and {DEFAULT_DATASET} does not exist here; "
        "pass --dataset with a Middlebury/ETH3D/KITTI folder or a scenes.json"
    )


def parse_names(values: list[str] | None) -> list[str]:
    """Split repeated and comma-separated option values into names, in order."""
    names: list[str] = []
    for value in values or []:
        names += [v.strip() for v in value.split(",") if v.strip()]
    return names


def _eval_sequences(
    sources: list,
    path: Path,
    scene: list[str] | None,
    matchers: list[str],
    options: dict[str, dict[str, object]],
    as_json: bool,
    no_timing: bool,
    auto_range: bool,
    list_scenes: bool,
) -> None:
    """The temporal evaluation of ``parallax eval`` on a folder of synthetic sequences."""
    from parallax.bench.datasets import select_scenes
    from parallax.bench.datasets.synth import load_sequence
    from parallax.bench.report import print_sequence_report
    from parallax.bench.temporal import evaluate_sequences

    if list_scenes:
        for source in sources:
            typer.echo(f"{source.name}\t{source.layout}")
        return
    chosen = select_scenes(sources, parse_names(scene))
    report = evaluate_sequences(
        (load_sequence(s) for s in chosen),
        matchers,
        matcher_options=options,
        timing=not no_timing,
        use_scene_range=not auto_range,
        dataset=str(path),
    )
    if as_json:
        typer.echo(json.dumps(report.to_dict(timing=not no_timing), indent=2, sort_keys=False))
    else:
        print_sequence_report(report, timing=not no_timing)


def register(app: typer.Typer) -> None:
    """Add ``parallax eval`` to ``app``."""

    @app.command("eval")
    def eval_cmd(
        dataset: Path | None = typer.Option(
            None,
            "--dataset",
            "-d",
            help="Dataset folder (Middlebury, ETH3D, KITTI layouts) or scenes.json; "
            "default: ../shared/data/stereo-gt/scenes.json when it exists.",
        ),
        scene: list[str] | None = typer.Option(
            None, "--scene", "-s", help="Scene to evaluate (repeat or comma-separate); default: all."
        ),
        matcher: str = typer.Option(
            "sgbm,default", "--matcher", "-m", help="Comma-separated matchers, e.g. sgbm,default,sgbm-raw,onnx."
        ),
        model: Path | None = typer.Option(None, "--model", help="ONNX model file for --matcher onnx."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of the table."),
        no_timing: bool = typer.Option(
            False, "--no-timing", help="Skip warm-up and timing (the JSON is then identical run to run)."
        ),
        auto_range: bool = typer.Option(
            False, "--auto-range", help="Let matchers find the search range themselves instead of the scene's."
        ),
        list_scenes: bool = typer.Option(False, "--list", help="List the dataset's scenes and exit."),
    ) -> None:
        """Score disparity matchers against ground truth: bad-0.5/1/2/4, EPE, RMS, D1, density, ms/MP.

        On synthetic sequences (parallax synth --frames N): per-frame bad-2 and EPE, and TEPE.
        """
        from parallax.bench.datasets import find_scenes, select_scenes
        from parallax.bench.datasets.synth import find_sequences

        path = dataset if dataset is not None else default_dataset()
        matchers = parse_names([matcher])
        options: dict[str, dict[str, object]] = {}
        if model is not None:
            if "onnx" not in matchers:
                raise ParameterError(f"--model {model} is only used by the onnx matcher; add onnx to --matcher")
            options["onnx"] = {"model_path": model}
        elif "onnx" in matchers:
            raise ParameterError("--matcher onnx needs --model PATH (a .onnx stereo model; nothing is downloaded)")
        sequences = find_sequences(path)
        if sequences:
            _eval_sequences(sequences, path, scene, matchers, options, as_json, no_timing, auto_range, list_scenes)
            return
        from parallax.bench.evaluate import evaluate
        from parallax.bench.report import print_report

        sources = find_scenes(path)
        if list_scenes:
            for source in sources:
                typer.echo(f"{source.name}\t{source.layout}")
            return
        chosen = select_scenes(sources, parse_names(scene))
        with bar("eval", len(chosen) * len(matchers), quiet=as_json) as advance:
            report = evaluate(
                (s.load() for s in chosen),
                matchers,
                matcher_options=options,
                timing=not no_timing,
                use_scene_range=not auto_range,
                dataset=str(path),
                on_result=lambda r: advance(f"{r.scene}: {r.matcher}"),
            )
        if as_json:
            typer.echo(json.dumps(report.to_dict(timing=not no_timing), indent=2, sort_keys=False))
        else:
            print_report(report, timing=not no_timing)
