"""CLI: ``parallax bench ...`` -- experiments that measure Parallax's data (``bench value``).

``parallax bench value`` trains a small view-synthesis model on synthetic pairs
alone and on the same pairs mixed with real corpus samples, and scores both on
held-out real scenes (``docs/data-value.md``). Everything heavy (PyTorch,
Mitsuba, the corpus) is imported when the command runs.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from parallax.errors import ParameterError

if TYPE_CHECKING:
    from parallax.bench.value.settings import ValueSettings

__all__ = ["register", "bench_app", "settings_from_options"]

bench_app = typer.Typer(
    name="bench", help="Experiments that measure what Parallax's data is worth.", no_args_is_help=True
)

#: Where rendered pairs, corpora and exports are cached between runs (``--cache``).
DEFAULT_CACHE = Path.home() / ".cache" / "parallax" / "bench-value"


def _names(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    if text.strip().lower() in ("", "none"):
        return ()
    return tuple(v.strip() for v in text.split(",") if v.strip())


def settings_from_options(
    *,
    quick: bool,
    size: str | None = None,
    steps: int | None = None,
    batch_size: int | None = None,
    seeds: str | None = None,
    real_weight: float | None = None,
    lr: float | None = None,
    synth_count: int | None = None,
    synth_size: str | None = None,
    synth_spp: int | None = None,
    synth_seed: int | None = None,
    max_side: int | None = None,
    train_scenes: str | None = None,
    eval_scenes: str | None = None,
    device: str = "cpu",
    threads: int | None = None,
    bootstrap: int | None = None,
) -> ValueSettings:
    """The preset (quick or full) with the options given on the command line applied."""
    from parallax.bench.value.settings import full_settings, parse_size, quick_settings

    base = quick_settings() if quick else full_settings()
    changes: dict[str, object] = {}
    if size is not None:
        changes["size"] = parse_size(size, name="--size", multiple=16)
    if synth_size is not None:
        changes["synth_size"] = parse_size(synth_size, name="--synth-size")
    if seeds is not None:
        try:
            changes["seeds"] = tuple(int(s) for s in seeds.split(",") if s.strip())
        except ValueError as exc:
            raise ParameterError(f"--seeds {seeds!r} is not a comma-separated list of integers such as 0,1,2") from exc
    for key, value in (
        ("steps", steps),
        ("batch_size", batch_size),
        ("real_weight", real_weight),
        ("learning_rate", lr),
        ("synth_count", synth_count),
        ("synth_spp", synth_spp),
        ("synth_seed", synth_seed),
        ("ingest_max_side", max_side),
        ("bootstrap", bootstrap),
        ("train_scenes", _names(train_scenes)),
        ("eval_scenes", _names(eval_scenes)),
    ):
        if value is not None:
            changes[key] = value
    try:
        settings = base.replace(**changes) if changes else base
        return settings.replace(device=device, threads=threads)
    except ParameterError as exc:
        text = str(exc)
        for field, option in (
            ("real_weight", "--real-weight"),
            ("learning_rate", "--lr"),
            ("batch_size", "--batch-size"),
            ("synth_count", "--synth-count"),
            ("synth_spp", "--synth-spp"),
            ("synth_seed", "--synth-seed"),
            ("ingest_max_side", "--max-side"),
            ("train_scenes", "--train-scenes"),
            ("eval_scenes", "--eval-scenes"),
            ("seeds", "--seeds"),
            ("steps", "--steps"),
            ("size", "--size"),
        ):
            text = text.replace(field, option)
        raise ParameterError(text) from exc


def _command_line(ctx: typer.Context) -> str:
    """The command as typed: ``parallax bench value`` with the options given on the command line."""
    parts = ["parallax", "bench", "value"]
    for param in ctx.command.params:
        # typer ships its own copy of click, so the ParameterSource enum is compared by name
        source = ctx.get_parameter_source(param.name) if param.name is not None else None
        if getattr(source, "name", None) != "COMMANDLINE":
            continue
        flag = max(param.opts, key=len)
        value = ctx.params[param.name]
        if isinstance(value, bool):
            if value:
                parts.append(flag)
        else:
            parts += [flag, shlex.quote(str(value))]
    return " ".join(parts)


@bench_app.command("value")
def value_cmd(
    ctx: typer.Context,
    out: Path = typer.Option(Path("out/bench-value"), "--out", "-o", help="Results folder."),
    quick: bool = typer.Option(False, "--quick", help="A one-minute smoke run (CI): both arms train and evaluate."),
    device: str = typer.Option("cpu", "--device", help="PyTorch device: cpu, cuda, cuda:1, mps."),
    size: str | None = typer.Option(None, "--size", help="Training crop WxH, multiples of 16 (full: 128x96)."),
    steps: int | None = typer.Option(None, "--steps", help="Optimisation steps per arm and seed (full: 800)."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Pairs per step (full: 8)."),
    seeds: str | None = typer.Option(
        None, "--seeds", help="Comma-separated seeds, one run per arm each (full: 0,1,2)."
    ),
    real_weight: float | None = typer.Option(
        None, "--real-weight", help="Share of real draws in the synthetic + real arm (full: 0.3)."
    ),
    lr: float | None = typer.Option(None, "--lr", help="Adam learning rate (full: 0.001)."),
    synth: Path | None = typer.Option(None, "--synth", help="Use these parallax synth pairs instead of rendering."),
    synth_count: int | None = typer.Option(None, "--synth-count", help="Synthetic pairs to render (full: 48)."),
    synth_size: str | None = typer.Option(None, "--synth-size", help="Size of the rendered pairs WxH (full: 192x144)."),
    synth_spp: int | None = typer.Option(None, "--synth-spp", help="Samples per pixel of the renders (full: 16)."),
    synth_seed: int | None = typer.Option(None, "--synth-seed", help="Seed of the synthetic dataset (full: 0)."),
    corpus: Path | None = typer.Option(
        None, "--corpus", help="Real training data: a corpus folder or WebDataset export (its train split)."
    ),
    eval_corpus: Path | None = typer.Option(
        None, "--eval-corpus", help="More held-out data: a corpus folder or WebDataset export (its test split)."
    ),
    data: Path = typer.Option(
        Path("..") / "shared" / "data", "--data", help="The test data folder with the built-in real scenes."
    ),
    train_scenes: str | None = typer.Option(
        None, "--train-scenes", help="Built-in real scenes to train on (comma-separated ids; ignored with --corpus)."
    ),
    eval_scenes: str | None = typer.Option(
        None, "--eval-scenes", help="Built-in real scenes held out for evaluation (comma-separated ids, or none)."
    ),
    max_side: int | None = typer.Option(
        None, "--max-side", help="Longest side of the real corpus samples (full: 256)."
    ),
    threads: int | None = typer.Option(None, "--threads", help="CPU threads for PyTorch (default: PyTorch's choice)."),
    bootstrap: int | None = typer.Option(
        None, "--bootstrap", help="Bootstrap resamples of the interval (full: 10000)."
    ),
    cache: Path = typer.Option(DEFAULT_CACHE, "--cache", help="Cache of rendered pairs, corpora and exports."),
    save_models: bool = typer.Option(False, "--save-models", help="Also write each run's weights to OUT/models/."),
    force: bool = typer.Option(False, "--force", help="Replace the results of an earlier run in --out."),
    list_scenes: bool = typer.Option(False, "--list-scenes", help="List the built-in real scenes and exit."),
) -> None:
    """Does real stereo make a view-synthesis model better than synthetic alone? Train both arms, score held-out scenes."""
    from parallax.bench.value.scenes import shared_scenes

    if list_scenes:
        for sid, scene in shared_scenes(data).items():
            typer.echo(f"{sid}\t{scene.kind}\t{len(scene.captures)} capture(s)")
        return
    settings = settings_from_options(
        quick=quick,
        size=size,
        steps=steps,
        batch_size=batch_size,
        seeds=seeds,
        real_weight=real_weight,
        lr=lr,
        synth_count=synth_count,
        synth_size=synth_size,
        synth_spp=synth_spp,
        synth_seed=synth_seed,
        max_side=max_side,
        train_scenes=train_scenes,
        eval_scenes=eval_scenes,
        device=device,
        threads=threads,
        bootstrap=bootstrap,
    )
    from parallax.bench.value.run import run_value

    def log(message: str) -> None:
        typer.echo(message, err=True)

    run_value(
        settings,
        out=out,
        cache=cache,
        data=data,
        synth_dir=synth,
        corpus=corpus,
        eval_corpus=eval_corpus,
        save_models=save_models,
        force=force,
        command=_command_line(ctx),
        log=log,
    )
    typer.echo((out / "results.md").read_text(encoding="utf-8"))


def register(app: typer.Typer) -> None:
    """Add ``parallax bench ...`` to ``app``."""
    app.add_typer(bench_app, name="bench")
