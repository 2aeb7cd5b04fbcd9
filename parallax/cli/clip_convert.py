"""CLI: ``parallax convert CLIP -o OUT`` -- a stereo video or frame folder to videos, or to a frames folder.

:mod:`parallax.cli.convert_cmd` hands a clip here (``is_clip_path``). The clip
is read with :func:`parallax.capture.read_clip`, processed frame by frame by
:class:`parallax.stereo.clip_depth.ClipDepth` and streamed into the writer
:mod:`parallax.outputs.clip_registry` picks by ``--format`` or extension. A
progress bar (frames/s and ETA) runs on stderr when it is a terminal, never
with ``--json``, which prints the run's summary as JSON instead of text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from parallax.errors import ParameterError

__all__ = ["convert_clip", "describe_run"]


def _progress_bar(total: int, quiet: bool) -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=quiet or not console.is_terminal,
        transient=False,
    )


def describe_run(summary: dict[str, Any], output: Path, format_name: str) -> list[str]:
    """Human-readable lines about a finished clip conversion."""
    rect = summary["rectification"]
    lines = [
        f"{summary['frames']} frames at {summary['frames_per_s'] or 0:.2f} frames/s "
        f"(matched at longer side {summary['max_side_px'] or 'full size'} px, upsampled to the views' size; "
        f"temporal filter {'on' if summary['temporal'] else 'off'})"
    ]
    worst = rect.get("max_residual_px")
    residuals = ", ".join("-" if r is None else f"{r:.2f}" for r in rect["residual_px"])
    lines.append(
        f"rectification ({rect['method']}) from {rect['pooled_matches']} matches pooled over frames "
        f"{rect['fit_frames']}; residual on frames {rect['check_frames']}: {residuals} px"
        + (f" -- DRIFT: over {rect['drift_threshold_px']} px, the rig moved during the clip" if rect["drift"] else "")
        + ("" if worst is not None else " (too few matches to check)")
    )
    lines.append(
        "depth is METRIC (metres)"
        if summary["depth_is_metric"]
        else "depth is RELATIVE (one scale for the clip; pass --focal-px and --baseline-mm for metres)"
    )
    traj = summary.get("trajectory")
    if traj:
        err = traj.get("median_reprojection_error_px")
        assumed = f", {traj['assumed_hfov_deg']:g} deg field of view assumed" if "assumed_hfov_deg" in traj else ""
        lines.append(
            f"camera path in {'metres' if traj['units'] == 'm' else 'baselines'}{assumed}: "
            f"{traj['tracked']} frames tracked, {traj['lost']} lost, {traj['keyframes']} keyframes, "
            f"median {traj['median_inliers'] or 0:.0f} inliers, reprojection error "
            f"{'-' if err is None else f'{err:.2f} px'}"
        )
    lines.append(f"wrote {output} ({format_name})")
    return lines


def convert_clip(
    file: Path,
    output: Path,
    *,
    format: str | None,
    extra: dict[str, str],
    layout: str,
    fps: float | None,
    start: float | None,
    end: float | None,
    step: int,
    max_frames: int | None,
    max_size: int | None,
    temporal: bool,
    matcher: str,
    model: Path | None,
    min_disparity: float | None,
    max_disparity: float | None,
    depth_kw: dict[str, float | None],
    as_json: bool,
) -> None:
    """Run ``parallax convert`` on a clip (see the module docstring)."""
    from parallax.capture.clip_registry import read_clip
    from parallax.outputs.clip_registry import (
        ClipOutputOptions,
        check_clip_options,
        check_clip_target,
        find_clip_format,
        write_clip,
    )
    from parallax.stereo.clip_depth import DEFAULT_CLIP_MAX_SIDE_PX, ClipDepth, ClipDepthSettings

    fmt = find_clip_format(output, format)  # fail on an unknown format or a bad target before any work
    check_clip_target(output, fmt)
    check_clip_options(fmt, extra)
    settings = ClipDepthSettings(
        matcher=matcher,
        matcher_options={"model": str(model)} if model is not None else {},
        max_side_px=max_size if max_size is not None else DEFAULT_CLIP_MAX_SIDE_PX,
        temporal=temporal,
        min_disparity=min_disparity,
        max_disparity=max_disparity,
        focal_px=depth_kw["focal_px"],
        baseline_m=depth_kw["baseline_m"],
        doffs_px=depth_kw["doffs_px"],
    )
    clip = read_clip(file, layout=layout, fps=fps)
    run = ClipDepth(clip, start_s=start, end_s=end, step=step, max_frames=max_frames, settings=settings)
    if not as_json:
        from rich.console import Console

        with Console(stderr=True).status(f"fitting the rectification of {file.name}", spinner="dots"):
            run.rectification  # noqa: B018 - estimated here so the spinner covers it
    audio = file if file.is_file() and clip.has_audio else None
    total = run.expected_frames
    with _progress_bar(total, as_json) as progress:
        task = progress.add_task(file.name, total=total or None, rate="")

        def advance(_: object) -> None:
            elapsed = progress.tasks[0].elapsed or 0.0
            done = progress.tasks[0].completed + 1
            progress.update(task, advance=1, rate=f"{done / elapsed:.2f} frames/s" if elapsed > 0 else "")

        target = write_clip(
            run, output, format=fmt.name, options=ClipOutputOptions(extra=extra, audio_source=audio), on_frame=advance
        )
    summary = run.summary()
    if as_json:
        typer.echo(json.dumps({**summary, "output": str(target), "format": fmt.name}, indent=2))
        return
    for line in describe_run(summary, target, fmt.name):
        typer.echo(line)


def check_still_options(**given: object) -> None:
    """Clip-only options given for a still (anything but None, False, or a step of 1): one clear error."""
    used = [
        name
        for name, value in given.items()
        if not (value is None or value is False or (name == "step" and value == 1 and value is not True))
    ]
    if used:
        flags = ", ".join("--" + n.replace("_", "-") for n in used)
        raise ParameterError(f"{flags} apply to stereo videos and frame folders only, not to a still capture")
