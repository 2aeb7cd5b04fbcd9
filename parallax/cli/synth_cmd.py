"""CLI: ``parallax synth`` — synthetic stereo pairs and sequences with exact ground truth (Mitsuba 3).

Writes ``--count`` corpus sample folders and a ``synth.json`` index into
``--out`` (see ``parallax/synth/dataset.py``). Every pair is fixed by
``(settings, --seed, its index)``. With ``--frames N`` (N >= 2) each sample is a
sequence of N frames along a camera path, optionally with moving objects, written
as a clip sample folder with per-frame poses, optical flow and disparity change
(``parallax/synth/clip_export.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

import typer

from parallax.cli.progress import bar
from parallax.errors import ParameterError

if TYPE_CHECKING:
    from parallax.synth.config import SequenceConfig, SynthConfig

__all__ = ["register", "synth_config_from_options", "sequence_config_from_options"]


def synth_config_from_options(
    *,
    size: str,
    spp: int,
    baseline_range: str,
    focal_range: str,
    rect_error: float,
    effects: bool,
    textures: Path | None,
    scenes: str,
    mirror_prob: float,
    glass_prob: float,
) -> SynthConfig:
    """Build a :class:`~parallax.synth.config.SynthConfig` from the CLI's option strings (ParameterError on bad input)."""
    from parallax.synth.config import SynthConfig, parse_range, parse_size

    kinds = tuple(k.strip() for k in scenes.split(",") if k.strip())
    try:
        return SynthConfig(
            size_range=parse_size(size),
            spp=spp,
            baseline_range_m=parse_range("--baseline-range", baseline_range),
            focal_range_mm35=parse_range("--focal-range", focal_range),
            rect_error_deg=rect_error,
            phone_effects=effects,
            textures_dir=str(textures) if textures is not None else None,
            scene_kinds=kinds,
            mirror_probability=mirror_prob,
            glass_probability=glass_prob,
        )
    except ParameterError as exc:  # name the CLI options rather than the config fields
        text = str(exc)
        for field, option in (
            ("baseline_range_m", "--baseline-range"),
            ("focal_range_mm35", "--focal-range"),
            ("rect_error_deg", "--rect-error"),
            ("scene_kinds", "--scenes"),
            ("spp", "--spp"),
            ("mirror_probability", "--mirror-prob"),
            ("glass_probability", "--glass-prob"),
        ):
            text = text.replace(field, option)
        raise ParameterError(text) from exc


def sequence_config_from_options(
    *, frames: int, fps: float, paths: str, moving_objects: bool, moving_prob: float, motion_scale: float
) -> SequenceConfig | None:
    """A :class:`~parallax.synth.config.SequenceConfig` from the CLI options, or ``None`` for still pairs (``--frames 1``)."""
    from parallax.synth.config import SequenceConfig

    if frames < 1:
        raise ParameterError(f"--frames must be at least 1 (1 = still pairs), got {frames}")
    if frames == 1:
        if moving_objects or moving_prob > 0:
            raise ParameterError("--moving-objects and --moving-prob need a sequence; add --frames N (N >= 2)")
        return None
    try:
        return SequenceConfig(
            frames=frames,
            fps=fps,
            paths=tuple(p.strip() for p in paths.split(",") if p.strip()),
            moving_probability=1.0 if moving_objects else moving_prob,
            motion_scale=motion_scale,
        )
    except ParameterError as exc:
        text = str(exc)
        for field, option in (
            ("frames must", "--frames must"),
            ("fps must", "--fps must"),
            ("paths must", "--paths must"),
            ("moving_probability", "--moving-prob"),
            ("motion_scale", "--motion-scale"),
        ):
            text = text.replace(field, option)
        raise ParameterError(text) from exc


def register(app: typer.Typer) -> None:
    """Add ``parallax synth`` to ``app``."""

    @app.command("synth")
    def synth(
        count: int = typer.Option(..., "--count", "-n", help="Number of stereo pairs to make."),
        out: Path = typer.Option(
            ..., "--out", "-o", help="Output folder (created if missing; must not hold these samples)."
        ),
        size: str = typer.Option("640x480", "--size", help="Image size WxH, or a range WxH:WxH to draw from."),
        seed: int = typer.Option(
            0, "--seed", help="Dataset seed: the same seed gives the same scenes and ground truth."
        ),
        engine: str = typer.Option(
            "local", "--engine", help="local (one pair after another) or ray (one Ray task per pair)."
        ),
        workers: int | None = typer.Option(None, "--workers", help="CPUs for a local Ray (--engine ray); default all."),
        spp: int = typer.Option(64, "--spp", help="Path-tracing samples per pixel (more = less noise, slower)."),
        baseline_range: str = typer.Option(
            "0.02,0.1", "--baseline-range", help="Stereo baseline range LOW,HIGH in metres."
        ),
        focal_range: str = typer.Option(
            "22,50", "--focal-range", help="Focal length range LOW,HIGH, 35 mm-equivalent millimetres."
        ),
        rect_error: float = typer.Option(
            0.0, "--rect-error", help="Largest rectification error of the right camera, degrees (0 = none)."
        ),
        effects: bool = typer.Option(
            True, "--effects/--no-effects", help="Phone-like exposure, blur and sensor noise."
        ),
        textures: Path | None = typer.Option(None, "--textures", help="Folder of your images to use as textures too."),
        scenes: str = typer.Option(
            "room,outdoor", "--scenes", help="Scene kinds to draw from: room, outdoor (comma-separated)."
        ),
        mirror_prob: float = typer.Option(
            0.5, "--mirror-prob", help="Chance that a scene has a mirror facing the camera."
        ),
        glass_prob: float = typer.Option(0.5, "--glass-prob", help="Chance that a scene may hold glass objects."),
        frames: int = typer.Option(
            1, "--frames", help="Frames per sample: 1 = still pairs; N >= 2 = sequences (clip samples)."
        ),
        fps: float = typer.Option(10.0, "--fps", help="Frame rate of sequences (lower = more motion per frame)."),
        paths: str = typer.Option(
            "handheld,walk,orbit", "--paths", help="Camera paths of sequences to draw from: handheld, walk, orbit."
        ),
        moving_objects: bool = typer.Option(
            False, "--moving-objects", help="Every sequence has moving objects (same as --moving-prob 1)."
        ),
        moving_prob: float = typer.Option(0.0, "--moving-prob", help="Chance that a sequence has moving objects."),
        motion_scale: float = typer.Option(
            1.0, "--motion-scale", help="Multiply every camera and object speed of sequences (0.1..5)."
        ),
    ) -> None:
        """Render synthetic stereo pairs or sequences with exact ground truth.

        Pairs: disparity, depth, occlusion, normals, reflections. Sequences (--frames N):
        the same per frame, plus poses, optical flow to the next frame and disparity change.
        """
        from parallax.synth.dataset import Engine, generate_dataset

        if count < 1:
            raise ParameterError(f"--count must be at least 1, got {count}")
        if seed < 0:
            raise ParameterError(f"--seed must be a non-negative integer, got {seed}")
        if engine not in ("local", "ray"):
            raise ParameterError(f"--engine {engine!r} is not local or ray")
        if workers is not None and workers < 1:
            raise ParameterError(f"--workers must be at least 1, got {workers}")
        sequence = sequence_config_from_options(
            frames=frames,
            fps=fps,
            paths=paths,
            moving_objects=moving_objects,
            moving_prob=moving_prob,
            motion_scale=motion_scale,
        )
        config = synth_config_from_options(
            size=size,
            spp=spp,
            baseline_range=baseline_range,
            focal_range=focal_range,
            rect_error=rect_error,
            effects=effects,
            textures=textures,
            scenes=scenes,
            mirror_prob=mirror_prob,
            glass_prob=glass_prob,
        )
        with bar("synth", count) as advance:
            folders = generate_dataset(
                config,
                count=count,
                out=out,
                seed=seed,
                engine=cast(Engine, engine),  # checked above: local or ray
                workers=workers,
                progress=lambda i, folder: advance(folder.name),
                sequence=sequence,
            )
        what = f"sequences of {frames} frames" if sequence else "pairs"
        typer.echo(f"wrote {len(folders)} synthetic {what} to {out}")
