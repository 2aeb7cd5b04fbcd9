"""Make a synthetic dataset folder: N sample folders and an index, locally or as Ray tasks.

Layout of ``out``::

    out/
        synth.json                 index: settings, seed, count, sample ids (written last)
        synth-<seed>-000000/       one corpus sample folder per pair (docs/corpus.md)
        synth-<seed>-000001/
        ...

or, for sequences (``sequence=SequenceConfig(...)``, ``parallax synth --frames N``),
one clip sample folder per sequence: ``synth-clip-<seed>-000000/``, ...

Each pair or sequence depends only on ``(config, seed, index)`` (see
:mod:`parallax.synth.generate` and :mod:`parallax.synth.sequence`), so the local
and the Ray engine write the same bytes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from parallax.errors import OutputError, ParameterError, require
from parallax.io.atomic import atomic_output
from parallax.synth.config import SequenceConfig, SynthConfig
from parallax.synth.generate import render_pair, sample_id_for
from parallax.synth.sequence import sequence_id_for
from parallax.synth.textures import list_texture_images

__all__ = ["generate_dataset", "make_one", "INDEX_NAME", "INDEX_FORMAT"]

INDEX_NAME = "synth.json"
INDEX_FORMAT = "parallax-synth-index"
Engine = Literal["local", "ray"]
Progress = Callable[[int, Path], None]


def make_one(
    config: SynthConfig,
    seed: int,
    index: int,
    out: str,
    threads: int | None = None,
    sequence: SequenceConfig | None = None,
) -> str:
    """Render pair (or sequence) ``index`` of dataset ``seed`` and write its folder into ``out``; return its path.

    A plain function of plain arguments, so that it can run as a Ray task.
    ``threads`` caps the renderer's worker threads (Dr.Jit's pool) in this
    process; ``None`` leaves it at one per core. With ``sequence`` it renders a
    sequence into a clip sample folder, frame by frame.
    """
    if threads is not None:
        from parallax.synth.render import set_render_threads

        set_render_threads(threads)

    files = list_texture_images(config.textures_dir) if config.textures_dir else []
    if sequence is not None:
        from parallax.synth.clip_export import write_sequence

        return str(write_sequence(config, sequence, seed=seed, index=index, out_dir=out, texture_files=files))
    from parallax.synth.export import write_pair

    pair = render_pair(config, seed=seed, index=index, texture_files=files)
    return str(write_pair(pair, config, out))


def _prepare(out: Path, seed: int, count: int, sequences: bool) -> list[str]:
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ParameterError(f"count must be a positive integer number of pairs, got {count!r}")
    ids = [sequence_id_for(seed, i) if sequences else sample_id_for(seed, i) for i in range(count)]
    if out.exists() and not out.is_dir():
        raise OutputError(f"cannot write the dataset to {out}: it is a file; give a folder")
    if out.is_dir():
        clash = [i for i in ids if (out / i).exists()]
        if clash or (out / INDEX_NAME).exists():
            what = clash[0] if clash else INDEX_NAME
            raise OutputError(
                f"{out} already holds {what}; choose an empty folder or another --seed (nothing was written)"
            )
    else:
        try:
            out.mkdir(parents=True)
        except OSError as exc:
            raise OutputError(f"cannot create output folder {out}: {exc.strerror}; choose another --out") from exc
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(f"output folder {out} is not writable; choose another --out")
    return ids


def _run_ray(
    config: SynthConfig,
    seed: int,
    count: int,
    out: Path,
    workers: int | None,
    progress: Progress | None,
    sequence: SequenceConfig | None,
) -> list[Path]:
    ray = require("ray", "ray", "parallax synth --engine ray")
    started = False
    if not ray.is_initialized():
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, configure_logging=False)
        started = True
    try:
        task = ray.remote(num_cpus=1)(make_one)  # one CPU per task: the renderer gets one thread
        pending = {task.remote(config, seed, i, str(out), 1, sequence): i for i in range(count)}
        done: dict[int, Path] = {}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                i = pending.pop(ref)
                done[i] = Path(ray.get(ref))
                if progress is not None:
                    progress(i, done[i])
        return [done[i] for i in range(count)]
    finally:
        if started:
            ray.shutdown()


def generate_dataset(
    config: SynthConfig,
    *,
    count: int,
    out: str | os.PathLike[str],
    seed: int = 0,
    engine: Engine = "local",
    workers: int | None = None,
    progress: Progress | None = None,
    sequence: SequenceConfig | None = None,
) -> list[Path]:
    """Generate ``count`` synthetic stereo pairs (or sequences) into ``out`` (created if missing).

    Parameters
    ----------
    config : SynthConfig
        Generator settings.
    count : int
        Number of pairs (>= 1).
    out : path-like
        Output folder; it must not already hold these samples or an index.
    seed : int
        Dataset seed (non-negative); pair ``i`` is fixed by ``(config, seed, i)``.
    engine : {"local", "ray"}
        ``"local"``: one pair after another in this process (the renderer uses
        every core per pair). ``"ray"``: one Ray task per pair, each holding one
        CPU and rendering with one thread (``pip install 'parallax[ray]'``); starts a
        local Ray with ``workers`` CPUs unless Ray is already initialised (then the
        cluster's CPUs decide how many pairs render at once).
    workers : int, optional
        CPUs for a local Ray (default: all).
    progress : callable, optional
        Called as ``progress(index, folder)`` after each pair is written.
    sequence : SequenceConfig, optional
        Render sequences (frames, camera path, moving objects) instead of still
        pairs, each as a clip sample folder (:mod:`parallax.synth.clip_export`).

    Returns
    -------
    list of Path
        The sample folders, in index order.

    Raises
    ------
    ParameterError
        Bad count, seed or engine.
    OutputError
        ``out`` is a file, not writable, or already holds these samples.
    MissingDependencyError
        Mitsuba (``parallax[synth]``) or Ray (``parallax[ray]``) is missing.
    """
    if engine not in ("local", "ray"):
        raise ParameterError(f"engine {engine!r} is not local or ray")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise ParameterError(f"workers must be a positive integer, got {workers!r}")
    if sequence is not None and not isinstance(sequence, SequenceConfig):
        raise ParameterError(f"sequence must be a SequenceConfig or None, got {type(sequence).__name__}")
    if config.textures_dir:
        list_texture_images(config.textures_dir)  # fail early on a bad folder
    require("mitsuba", "synth", "parallax synth")
    if engine == "ray":
        require("ray", "ray", "parallax synth --engine ray")
    out = Path(out)
    ids = _prepare(out, seed, count, sequence is not None)
    if engine == "ray":
        folders = _run_ray(config, seed, count, out, workers, progress, sequence)
    else:
        folders = []
        for i in range(count):
            folders.append(Path(make_one(config, seed, i, str(out), sequence=sequence)))
            if progress is not None:
                progress(i, folders[-1])
    index: dict[str, Any] = {
        "format": INDEX_FORMAT,
        "format_version": 1,
        "seed": int(seed),
        "count": int(count),
        "settings": config.to_dict(),
        "kind": "sequences" if sequence is not None else "pairs",
        "samples": ids,
    }
    if sequence is not None:
        index["sequence"] = sequence.to_dict()
    with atomic_output(out / INDEX_NAME) as tmp:
        tmp.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return folders
