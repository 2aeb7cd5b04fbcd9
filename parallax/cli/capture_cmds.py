"""CLI commands of the capture stage: ``parallax info``.

(``parallax rectify`` lives in :mod:`parallax.cli.stereo_cmds`.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from parallax.cli import options as opt

__all__ = ["register", "info"]


def info(
    file: Path = typer.Argument(
        ..., help="Stereo file (MPO, HEIC, LIF, side-by-side JPEG/PNG, .jps), or the left view."
    ),
    right: Path | None = typer.Argument(None, help="Right view (same size), or a depth map for an RGB-D capture."),
    layout: str = typer.Option("auto", "--layout", help="auto, sbs, sbs-cross, over-under, under-over, pair, rgbd."),
    eyes: str = opt.EYES,
    as_json: bool = typer.Option(False, "--json", help="Print Capture.to_dict() as JSON instead of a table."),
) -> None:
    """Show the format, views and camera facts of a capture (and which view is the left eye)."""
    from parallax.capture import read_capture

    capture = read_capture(file, right, layout=layout, eyes=eyes)
    description = capture.to_dict()
    if as_json:
        typer.echo(json.dumps(description, indent=2, default=_json_default))
        return
    _print_table(description)


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def _fmt(value: Any, unit: str = "", digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}{unit}"
    return f"{value}{unit}"


def _print_table(d: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    table = Table(title=d["source"], show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    table.add_row("format", d["format"])
    table.add_row("views", ", ".join(f"{v['name']} {v['width']}x{v['height']}" for v in d["views"]))
    cam = d["camera"]
    table.add_row("camera", " ".join(x for x in (cam["make"], cam["model"]) if x) or "-")
    table.add_row("baseline", _fmt(cam["baseline_m"] * 1000 if cam["baseline_m"] is not None else None, " mm"))
    table.add_row("convergence", _fmt(cam["convergence_deg"], " deg"))
    for side in ("left", "right"):
        k = cam[side]
        if k:
            table.add_row(
                f"{side} intrinsics",
                f"f={k['focal_px']:.2f} px (hfov {k['hfov_deg']:.1f} deg), c=({k['cx_px']:.1f}, {k['cy_px']:.1f}) px",
            )
    if cam["right_rotation"] is not None:
        table.add_row("right rotation", json.dumps([[round(x, 5) for x in row] for row in cam["right_rotation"]]))
    for m in d["maps"]:
        table.add_row(
            f"map ({m['view']})",
            f"{m['kind']} [{m['units']}] {m['width']}x{m['height']}, range {_fmt(m['min'])} .. {_fmt(m['max'])}",
        )
    layout = d["metadata"].get("layout")
    if isinstance(layout, dict):
        table.add_row("layout", f"{layout['layout']}: {layout['reason']}")
    eye = d["metadata"].get("eyes")
    if isinstance(eye, dict):
        table.add_row("eyes", f"{eye['order']} ({eye['strength']}): {eye['reason']}")
    if d["metadata"].get("untrusted"):
        table.add_row("note", d["metadata"]["untrusted"])
    console.print(table)
    if isinstance(eye, dict) and eye.get("warning"):
        Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold yellow]warning: {eye['warning']}[/]")


def register(app: typer.Typer) -> None:
    """Add this area's commands to ``app``."""
    app.command("info")(info)
