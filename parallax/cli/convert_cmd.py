"""CLI: ``parallax convert FILE [RIGHT] -o OUT [--format NAME]``.

Runs the capture -> DepthResult pipeline and hands the result to the output
registry (:func:`parallax.outputs.write_output`), which picks the writer by
``--format`` or by the extension of ``OUT``. The command knows no format
itself: adding a format to the registry makes it available here.

Formats that need only the rectified views (``OutputFormat.needs_depth`` is
False: side-by-side, over-under, JPS, anaglyph) get just those for a stereo
capture: the file is read and rectified, and no disparity or depth is computed.
"""

from __future__ import annotations

from pathlib import Path

import typer

from parallax.cli import options as opt
from parallax.cli.progress import spinner
from parallax.cli.stereo_cmds import (
    depth_options,
    describe_depth,
    describe_validity,
    emit_warnings,
    read_input,
    run_pipeline,
    stereo_warnings,
    summary,
)
from parallax.errors import ParameterError

__all__ = ["register", "parse_options"]


def parse_options(pairs: list[str]) -> dict[str, str]:
    """Turn ``["key=value", ...]`` into a dict for :class:`OutputOptions.extra`."""
    extra: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ParameterError(f"--option {pair!r} is not KEY=VALUE; write e.g. --option stride=2")
        extra[key.strip()] = value.strip()
    return extra


def convert_cmd(
    file: Path = typer.Argument(..., help="Stereo capture, RGB-D photo, or the left image."),
    right: Path | None = opt.RIGHT,
    output: Path = typer.Option(..., "-o", "--output", help="Output file; its extension picks the format."),
    format: str | None = typer.Option(None, "--format", help="Output format name (overrides the extension)."),
    option: list[str] = typer.Option([], "--option", help="Format option KEY=VALUE (repeatable)."),
    focal_px: float | None = opt.FOCAL_PX,
    baseline_mm: float | None = opt.BASELINE_MM,
    doffs: float | None = opt.DOFFS,
    min_disparity: float | None = opt.MIN_DISPARITY,
    max_disparity: float | None = opt.MAX_DISPARITY,
    matcher: str = opt.MATCHER,
    model: Path | None = opt.MODEL,
    layout: str = opt.LAYOUT,
    max_size: int | None = opt.MAX_SIZE,
    strict: bool = opt.STRICT,
    far_clip: float = opt.FAR_CLIP,
    eyes: str = opt.EYES,
    start: float | None = typer.Option(None, "--start", help="Clips: first second to convert."),
    end: float | None = typer.Option(None, "--end", help="Clips: stop before this second."),
    step: int = typer.Option(1, "--step", help="Clips: convert every N-th frame (output keeps real time)."),
    max_frames: int | None = typer.Option(None, "--max-frames", help="Clips: stop after this many frames."),
    fps: float | None = typer.Option(None, "--fps", help="Clips: frame rate of a frame folder (default 30)."),
    temporal: bool = typer.Option(
        True, "--temporal/--no-temporal", help="Clips: fuse each frame with the previous ones (stable depth)."
    ),
    as_json: bool = typer.Option(
        False,
        "--json",
        help="Print a JSON summary (rectification, eye order, outputs; for clips the run's summary) instead of "
        "text and progress.",
    ),
) -> None:
    """Convert a capture to another format (point cloud, depth map, display formats ...).

    A stereo video or a folder of stereo frames converts to .sbs.mp4, .ou.mp4,
    .anaglyph.mp4, .depth.mp4, or a folder (-o DIR/ --format frames) of views,
    disparity, depth, poses and a nerfstudio transforms.json.
    """
    from parallax.capture.clip_registry import is_clip_path
    from parallax.cli.clip_convert import check_still_options, convert_clip
    from parallax.io.atomic import check_writable_dir
    from parallax.outputs import OutputOptions, find_format, write_output

    if right is None and is_clip_path(file):
        convert_clip(
            file,
            output,
            format=format,
            extra=parse_options(option),
            layout=layout,
            fps=fps,
            start=start,
            end=end,
            step=step,
            max_frames=max_frames,
            max_size=max_size,
            temporal=temporal,
            matcher=matcher,
            model=model,
            min_disparity=min_disparity,
            max_disparity=max_disparity,
            depth_kw=depth_options(focal_px, baseline_mm, doffs),
            as_json=as_json,
        )
        return
    check_still_options(start=start, end=end, step=step, max_frames=max_frames, fps=fps)
    fmt = find_format(output, format)  # fail on an unknown format before any work
    check_writable_dir(output)
    extra = parse_options(option)
    if fmt.name == "quilt":  # Looking Glass reads the layout from the name: add _qs{cols}x{rows}a{aspect}
        from parallax.render.quilt import get_preset, preset_for_path, quilt_path

        named = preset_for_path(output)
        if "preset" not in extra and named is not None:
            extra["preset"] = named.name
        output = quilt_path(output, get_preset(extra.get("preset") or "portrait"))
    capture = None
    if not fmt.needs_depth:
        depth_options(focal_px, baseline_mm, doffs)  # the same checks as a depth run, though unused here
        with spinner(f"reading {file.name}", quiet=as_json):
            capture = read_input(file, right, layout, eyes)
        if capture.right is not None:  # a stereo pair: the rectified views are all this format shows
            from parallax.outputs import write_views_output
            from parallax.stereo.pipeline import rectify_capture

            with spinner(f"rectifying {file.name} ({capture.width}x{capture.height})", quiet=as_json):
                pair, _ = rectify_capture(capture, max_side_px=max_size)
            with spinner(f"writing {output.name}", quiet=as_json):
                write_views_output(pair.left, pair.right, output, format=fmt.name, options=OutputOptions(extra=extra))
            eye = capture.metadata.get("eyes")
            emit_warnings(stereo_warnings(pair.rectification, eye))
            if as_json:
                typer.echo(summary(rectification=pair.rectification, eyes=eye, outputs=[str(output)], format=fmt.name))
                return
            typer.echo(f"wrote {output} ({fmt.name}; rectified views, {pair.rectification.method}, no depth needed)")
            return
    result = run_pipeline(
        file,
        right,
        layout=layout,
        matcher=matcher,
        model=model,
        min_disparity=min_disparity,
        max_disparity=max_disparity,
        max_size=max_size,
        focal_px=focal_px,
        baseline_mm=baseline_mm,
        doffs=doffs,
        capture=capture,  # an RGB-D capture read above is not read again
        strict=strict,
        far_clip=far_clip,
        eyes=eyes,
        quiet=as_json,
    )
    with spinner(f"writing {output.name}", quiet=as_json):
        write_output(result, output, format=fmt.name, options=OutputOptions(extra=extra))
    emit_warnings(stereo_warnings(result.rectification, result.settings.get("eyes")))
    if as_json:
        typer.echo(summary(result, outputs=[str(output)], format=fmt.name))
        return
    typer.echo(describe_depth(result))
    typer.echo(describe_validity(result))
    typer.echo(f"wrote {output} ({fmt.name})")


def register(app: typer.Typer) -> None:
    """Add ``convert`` to ``app``."""
    app.command("convert")(convert_cmd)
