"""CLI commands of the capture stage: ``parallax info``.

(``parallax rectify`` lives in :mod:`parallax.cli.stereo_cmds`.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from parallax.cli import options as opt
from parallax.cli.progress import spinner

__all__ = ["register", "info"]


def info(
    file: Path = typer.Argument(
        ...,
        help="Stereo file (MPO, HEIC, LIF, VR photo, side-by-side JPEG/PNG, .jps), the left view, a stereo video "
        "(spatial MV-HEVC, side-by-side / over-under, 360°/VR180) or a folder of stereo frames.",
    ),
    right: Path | None = typer.Argument(None, help="Right view (same size), or a depth map for an RGB-D capture."),
    layout: str = opt.LAYOUT,
    eyes: str = opt.EYES,
    fov: float = opt.FOV,
    yaw: float = opt.YAW,
    pitch: float = opt.PITCH,
    view_width: int | None = opt.VIEW_WIDTH,
    fps: float | None = opt.FPS,
    as_json: bool = typer.Option(False, "--json", help="Print the facts as JSON instead of a table."),
) -> None:
    """Show the format, views and camera facts of a capture (and which view is the left eye), or of a stereo
    video / frame folder."""
    from parallax.capture.clip_registry import is_clip_path, read_clip

    if right is None and is_clip_path(file):
        with spinner(f"reading {file.name}", quiet=as_json):
            clip = read_clip(
                file,
                **opt.clip_read_kwargs(
                    layout=layout, eyes=eyes, fov=fov, yaw=yaw, pitch=pitch, view_width=view_width, fps=fps
                ),
            )
        description = clip.to_dict()
        if as_json:
            typer.echo(json.dumps(description, indent=2, default=_json_default))
        else:
            _print_clip_table(description)
        return
    from parallax.capture import VirtualCamera, read_capture

    camera = VirtualCamera(hfov_deg=fov, yaw_deg=yaw, pitch_deg=pitch, width=view_width)
    with spinner(f"reading {file.name}", quiet=as_json):  # layout detection of a side-by-side file matches features
        capture = read_capture(file, right, layout=layout, eyes=eyes, virtual_camera=camera)
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


def _table(title: str) -> Any:
    from rich.table import Table

    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    return table


def _print(table: Any) -> None:
    from rich.console import Console

    Console(highlight=False).print(table)


def _intrinsics_rows(table: Any, cam: dict[str, Any]) -> None:
    for side in ("left", "right"):
        k = cam[side]
        if k:
            table.add_row(
                f"{side} intrinsics",
                f"f={k['focal_px']:.2f} px (hfov {k['hfov_deg']:.1f} deg), c=({k['cx_px']:.1f}, {k['cy_px']:.1f}) px",
            )


def _virtual_row(table: Any, v: dict[str, Any] | None) -> None:
    if v:
        table.add_row(
            "virtual camera",
            f"pinhole {v['width']}x{v['height']}, hfov {v['hfov_deg']:.1f} deg, yaw {v['yaw_deg']:+.1f} deg, "
            f"pitch {v['pitch_deg']:+.1f} deg, f={v['focal_px']:.1f} px, {v['coverage']:.0%} inside the source",
        )


def _print_table(d: dict[str, Any]) -> None:
    table = _table(d["source"])
    table.add_row("format", d["format"])
    table.add_row("views", ", ".join(f"{v['name']} {v['width']}x{v['height']}" for v in d["views"]))
    cam = d["camera"]
    table.add_row("camera", " ".join(x for x in (cam["make"], cam["model"]) if x) or "-")
    table.add_row("baseline", _fmt(cam["baseline_m"] * 1000 if cam["baseline_m"] is not None else None, " mm"))
    table.add_row("convergence", _fmt(cam["convergence_deg"], " deg"))
    _intrinsics_rows(table, cam)
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
    _virtual_row(table, d["metadata"].get("virtual_camera"))
    eye = d["metadata"].get("eyes")
    if isinstance(eye, dict):
        table.add_row("eyes", f"{eye['order']} ({eye['strength']}): {eye['reason']}")
    if d["metadata"].get("untrusted"):
        table.add_row("note", d["metadata"]["untrusted"])
    _print(table)
    if isinstance(eye, dict) and eye.get("warning"):
        from rich.console import Console

        Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold yellow]warning: {eye['warning']}[/]")


def _print_clip_table(d: dict[str, Any]) -> None:
    meta = d["metadata"]
    table = _table(d["source"])
    codec = f"{meta['codec']} in {meta['container']}" if meta.get("codec") else "image files"
    table.add_row("format", f"{d['format']} ({codec})")
    table.add_row("layout", d["layout"])
    table.add_row("projection", d["projection"] + (" (views reprojected to pinhole)" if d["virtual_camera"] else ""))
    table.add_row("views", f"{d['width']}x{d['height']} each")
    exact = "" if meta.get("frame_count_exact", True) else " (estimated)"
    table.add_row("frames", f"{d['frame_count']}{exact} at {d['fps']:.3f} fps, {d['duration_s']:.2f} s")
    cam = d["camera"]
    table.add_row("baseline", _fmt(cam["baseline_m"] * 1000 if cam["baseline_m"] is not None else None, " mm"))
    table.add_row("field of view", _fmt(cam["hfov_deg"], " deg"))
    if cam["hero_eye"]:
        table.add_row("hero eye", cam["hero_eye"])
    if cam["disparity_adjustment"] is not None:
        table.add_row("disparity adjustment", f"{cam['disparity_adjustment']:+.4f} of the width")
    _intrinsics_rows(table, cam)
    eyes = d["eyes"]
    table.add_row(
        "eyes", " ".join(str(x) for x in (eyes.get("decision"), eyes.get("source") and f"({eyes['source']})") if x)
    )
    _virtual_row(table, d["virtual_camera"])
    squeeze = meta.get("squeeze") or {}
    if squeeze.get("note"):
        table.add_row("squeeze", f"{squeeze['note']}: {squeeze['reason']}")
    for key in ("conflict", "projection_conflict"):
        if meta.get(key):
            table.add_row("note", meta[key])
    applied = meta.get("rotation_applied")
    rotation = f"{d['rotation_deg']} deg" + (
        "" if not d["rotation_deg"] else " (applied)" if applied else " (not applied)"
    )
    table.add_row("rotation", rotation)
    audio = meta.get("audio_codecs") or []
    table.add_row("audio", ", ".join(audio) if d["has_audio"] else "none")
    colour = meta.get("colour")
    if isinstance(colour, dict):
        tagged = "tagged" if colour.get("matrix_tagged") else "assumed"
        table.add_row("colour", f"{colour['matrix']}, {colour['range']} range ({tagged})")
    _print(table)


def register(app: typer.Typer) -> None:
    """Add this area's commands to ``app``."""
    app.command("info")(info)
