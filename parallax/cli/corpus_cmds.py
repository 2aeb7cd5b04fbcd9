"""``parallax corpus ...``: init, add, status, withdraw, verify, export.

Every subcommand takes ``--corpus DIR`` (default ``./corpus``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from parallax.cli import options as opt
from parallax.cli.progress import bar, spinner
from parallax.corpus import (
    DEFAULT_CLIP_CHUNK_FRAMES,
    DEFAULT_CLIP_FPS,
    DEFAULT_CLIP_MAX_S,
    DEFAULT_CLIP_MIN_FRAMES,
    DEFAULT_MAX_SIDE_PX,
    DEFAULT_SCENE_CUT,
)
from parallax.errors import ParallaxError

if TYPE_CHECKING:
    from rich.console import Console

    from parallax.corpus.store import Outcome

__all__ = ["register", "corpus_app", "VerifyFailed"]


class VerifyFailed(ParallaxError):
    """``parallax corpus verify`` found problems (exit status 1)."""

    exit_code = 1


corpus_app = typer.Typer(
    name="corpus", help="A consented, private, deduplicated corpus of real 3D training data.", no_args_is_help=True
)
_CORPUS = typer.Option(Path("corpus"), "--corpus", help="The corpus folder.")


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


@corpus_app.command("init")
def init_cmd(
    directory: Path | None = typer.Argument(None, help="Folder to create the corpus in (default: --corpus)."),
    corpus: Path = _CORPUS,
    samples_url: str | None = typer.Option(
        None, "--samples-url", help="fsspec URL for sample folders (default DIR/samples)."
    ),
) -> None:
    """Create an empty corpus: a SQLite catalog and a samples folder."""
    from parallax.corpus.store import Corpus

    root = directory or corpus
    c = Corpus.init(root, samples_url=samples_url)
    c.close()
    _console().print(f"created corpus {root} (samples in {c.storage.url})")


@corpus_app.command("add")
def add_cmd(
    inputs: list[Path] = typer.Argument(
        ..., help="Capture files or folders (X-left.* + X-right.* pair up), or sample folders (parallax synth output)."
    ),
    consent: Path | None = typer.Option(
        None, "--consent", help="consent.json: contributor, license, allow_training, date."
    ),
    corpus: Path = _CORPUS,
    engine: str = typer.Option("embedded", "--engine", help="embedded or ray."),
    workers: int | None = typer.Option(None, "--workers", help="Ray workers (CPUs) for --engine ray."),
    max_side: int = typer.Option(DEFAULT_MAX_SIDE_PX, "--max-side", help="Longest side of the stored views, pixels."),
    matcher: str = typer.Option("default", "--matcher", help="Disparity matcher name."),
    face_detector: str | None = typer.Option(
        None, "--face-detector", help="Local .xml cascade or YuNet .onnx (default: MTCNN)."
    ),
    plate_detector: str | None = typer.Option(None, "--plate-detector", help="Local licence-plate cascade .xml."),
    eyes: str = opt.EYES,
    clip_max_s: float = typer.Option(
        DEFAULT_CLIP_MAX_S, "--clip-max-s", help="Videos: longest clip, seconds (longer scenes split)."
    ),
    clip_fps: float = typer.Option(
        DEFAULT_CLIP_FPS, "--clip-fps", help="Videos: frame rate clips are sampled at (0 = every frame of the source)."
    ),
    scene_cut: float = typer.Option(
        DEFAULT_SCENE_CUT,
        "--scene-cut",
        help="Videos: colour-histogram change (0-1) that starts a new clip; 1 = never cut.",
    ),
    clip_min_frames: int = typer.Option(
        DEFAULT_CLIP_MIN_FRAMES, "--clip-min-frames", help="Videos: fewest frames a stored clip has."
    ),
    clip_chunk_frames: int = typer.Option(
        DEFAULT_CLIP_CHUNK_FRAMES,
        "--clip-chunk-frames",
        help="Videos: frames per processing chunk (parallel on Ray); 0 = whole clips.",
    ),
    frames_fps: float | None = typer.Option(
        None, "--frames-fps", help="Frame folders: their frame rate (default: unknown, every frame kept)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the outcomes as JSON."),
) -> None:
    """Ingest captures: privacy, depth, quality, dedup; one sample folder per accepted capture.

    Stereo videos and frame folders (left/ + right/) are cut into clips (scene cuts, --clip-max-s,
    sampled at --clip-fps); each clip becomes one clip sample folder.
    """
    from parallax.corpus.consent import load_consent
    from parallax.corpus.ingest import IngestSettings, discover
    from parallax.corpus.sample_import import add_sample_dirs, split_sample_dirs
    from parallax.corpus.store import Corpus

    record = load_consent(consent)
    settings = IngestSettings(
        max_side_px=max_side,
        matcher=matcher,
        face_detector=face_detector,
        plate_detector=plate_detector,
        clip_max_s=clip_max_s,
        clip_fps=clip_fps or None,
        scene_cut=scene_cut,
        clip_min_frames=clip_min_frames,
        clip_chunk_frames=clip_chunk_frames,
        frames_fps=frames_fps,
        eyes=eyes,
    )
    c = Corpus.open(corpus)
    try:
        sample_dirs, capture_inputs = split_sample_dirs(inputs)
        items, skipped = discover(capture_inputs) if capture_inputs else ([], [])
        clips = any(it.kind == "clip" for it in items)  # a video gives one outcome per clip: no total known
        with bar("ingest", None if clips else len(items) + len(sample_dirs), quiet=as_json) as advance:

            def tick(outcome: Outcome) -> None:
                advance(f"{outcome.original_name}: {outcome.status}")

            outcomes = (
                c.add(items, record, settings, engine=engine, on_outcome=tick, ray_workers=workers) if items else []
            )
            outcomes += add_sample_dirs(c, sample_dirs, record, on_outcome=tick)
        counts = {k: sum(o.status == k for o in outcomes) for k in ("accepted", "duplicate", "rejected", "skipped")}
        if as_json:
            typer.echo(
                json.dumps(
                    {"counts": counts, "not_looked_at": skipped, "outcomes": [o.__dict__ for o in outcomes]}, indent=2
                )
            )
            return
        from rich.table import Table

        table = Table(title=f"corpus add: {len(outcomes)} captures and clips")
        for col in ("capture", "outcome", "sample", "reason"):
            table.add_column(col, overflow="fold")
        from rich.markup import escape

        for o in outcomes:  # names hold "[frames a-b]": escaped, not read as markup
            table.add_row(escape(o.original_name), o.status, o.sample_id or "", escape(o.reason or ""))
        out = _console()
        out.print(table)
        out.print(
            ", ".join(f"{v} {k}" for k, v in counts.items())
            + (f"; {len(skipped)} files not looked at" if skipped else "")
        )
    finally:
        c.close()


@corpus_app.command("status")
def status_cmd(corpus: Path = _CORPUS, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Counts: samples, rejected, duplicates, withdrawn, licences, exports."""
    from parallax.corpus.store import Corpus

    c = Corpus.open(corpus)
    try:
        status = c.status()
        if as_json:
            typer.echo(json.dumps(status, indent=2, sort_keys=True))
            return
        out = _console()
        for key, value in status.items():
            out.print(f"{key}: {value}")
    finally:
        c.close()


@corpus_app.command("withdraw")
def withdraw_cmd(
    corpus: Path = _CORPUS,
    contributor: str | None = typer.Option(None, "--contributor", help="Withdraw every sample of this contributor."),
    sample: str | None = typer.Option(None, "--sample", help="Withdraw this one sample."),
) -> None:
    """Delete samples, keep tombstones, mark exports that held them stale."""
    from parallax.corpus.maintenance import withdraw
    from parallax.corpus.store import Corpus

    c = Corpus.open(corpus)
    try:
        ids = withdraw(c, contributor=contributor, sample_id=sample)
        stale = c.catalog.counts()["stale_exports"]
        _console().print(f"withdrew {len(ids)} sample(s): {', '.join(ids)}; {stale} export(s) now stale")
    finally:
        c.close()


@corpus_app.command("verify")
def verify_cmd(corpus: Path = _CORPUS, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Check every file against its hash and that no current export holds a withdrawn sample (exit 1 if not)."""
    from parallax.corpus.maintenance import verify
    from parallax.corpus.store import Corpus

    c = Corpus.open(corpus)
    try:
        with spinner(f"verifying {corpus}: every file against its hash, every export", quiet=as_json):
            report = verify(c)
    finally:
        c.close()
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        out = _console()
        for problem in report.problems:
            out.print(f"[red]problem:[/] {problem}")
        out.print(
            f"{'OK' if report.ok else 'FAILED'}: {report.samples_checked} samples, {report.files_checked} files, "
            f"{report.exports_checked} exports checked; {len(report.problems)} problem(s)"
        )
    if not report.ok:
        raise VerifyFailed(f"corpus verify found {len(report.problems)} problem(s) in {corpus} (listed above)")


@corpus_app.command("export")
def export_cmd(
    out: str = typer.Option(..., "--out", help="Output folder or fsspec URL."),
    fmt: str = typer.Option("webdataset", "--format", help="webdataset or parquet."),
    corpus: Path = _CORPUS,
    shard_size: str = typer.Option("256MB", "--shard-size", help="Target shard size, e.g. 64MB."),
    name: str | None = typer.Option(None, "--name", help="Dataset name for the card and Croissant."),
    clip_window: int | None = typer.Option(
        None,
        "--clip-window",
        help="WebDataset: store clips as windows of at most this many frames (default whole clips).",
    ),
    clip_stride: int | None = typer.Option(
        None, "--clip-stride", help="Frames between the starts of stored windows (default: the window, no overlap)."
    ),
    date_published: str | None = typer.Option(
        None, "--date-published", help="Croissant datePublished, YYYY-MM-DD (default today)."
    ),
    cite_as: str | None = typer.Option(None, "--cite-as", help="Croissant citeAs (default: a BibTeX entry)."),
) -> None:
    """Write deterministic shards (still pairs and clips) split by contributor, a dataset card and croissant.json."""
    from parallax.corpus.export import export_corpus
    from parallax.corpus.store import Corpus

    c = Corpus.open(corpus)
    try:
        with spinner(f"exporting {corpus} as {fmt} shards to {out}"):
            result = export_corpus(
                c,
                fmt=fmt,
                out=out,
                shard_size=shard_size,
                name=name,
                clip_window=clip_window,
                clip_stride=clip_stride,
                date_published=date_published,
                cite_as=cite_as,
            )
    finally:
        c.close()
    counts = ", ".join(f"{k} {len(v)}" for k, v in result.samples.items())
    clips = sum(len(v) for v in result.clip_samples.values())
    frames = sum(result.frames.values())
    _console().print(
        f"exported {counts} samples ({clips} clips, {frames} clip frames) in {len(result.shards)} {fmt} shard(s), "
        f"{result.bytes / 1e6:.1f} MB, to {result.url} (export {result.export_id})"
    )


def register(app: typer.Typer) -> None:
    """Add ``parallax corpus ...`` to ``app``."""
    app.add_typer(corpus_app, name="corpus")
