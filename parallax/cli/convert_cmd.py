"""CLI: ``parallax convert FILE [RIGHT] -o OUT [--format NAME]``.

Runs the capture -> DepthResult pipeline and hands the result to the output
registry (:func:`parallax.outputs.write_output`), which picks the writer by
``--format`` or by the extension of ``OUT``. The command knows no format
itself: adding a format to the registry makes it available here.
"""

from __future__ import annotations

from pathlib import Path

import typer

from parallax.cli import options as opt
from parallax.cli.stereo_cmds import describe_depth, emit_warnings, run_pipeline, stereo_warnings, summary
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
    eyes: str = opt.EYES,
    as_json: bool = opt.AS_JSON,
) -> None:
    """Convert a capture to another format (point cloud, depth map, display formats ...)."""
    from parallax.io.atomic import check_writable_dir
    from parallax.outputs import OutputOptions, find_format, write_output

    fmt = find_format(output, format)  # fail on an unknown format before any work
    check_writable_dir(output)
    extra = parse_options(option)
    if fmt.name == "quilt":  # Looking Glass reads the layout from the name: add _qs{cols}x{rows}a{aspect}
        from parallax.render.quilt import get_preset, preset_for_path, quilt_path

        named = preset_for_path(output)
        if "preset" not in extra and named is not None:
            extra["preset"] = named.name
        output = quilt_path(output, get_preset(extra.get("preset") or "portrait"))
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
        eyes=eyes,
    )
    write_output(result, output, format=fmt.name, options=OutputOptions(extra=extra))
    emit_warnings(stereo_warnings(result.rectification, result.settings.get("eyes")))
    if as_json:
        typer.echo(summary(result, outputs=[str(output)], format=fmt.name))
        return
    typer.echo(describe_depth(result))
    typer.echo(f"wrote {output} ({fmt.name})")


def register(app: typer.Typer) -> None:
    """Add ``convert`` to ``app``."""
    app.command("convert")(convert_cmd)
