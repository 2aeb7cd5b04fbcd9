"""Command-line options shared by several commands (one definition, one help text)."""

from __future__ import annotations

from typing import Any

import typer

__all__ = [
    "RIGHT",
    "FOCAL_PX",
    "BASELINE_MM",
    "DOFFS",
    "MIN_DISPARITY",
    "MAX_DISPARITY",
    "MATCHER",
    "MODEL",
    "LAYOUT",
    "EYES",
    "FOV",
    "YAW",
    "PITCH",
    "VIEW_WIDTH",
    "FPS",
    "MAX_SIZE",
    "MAX_SIZE_HELP",
    "clip_read_kwargs",
    "STRICT",
    "FAR_CLIP",
    "AS_JSON",
]

MAX_SIZE_HELP = (
    "Process at a reduced size: longer side at most this many pixels (outputs get that size). "
    "Clips: the matching size (default 640); outputs keep the views' size."
)

RIGHT = typer.Argument(None, help="Right image, when FILE is the left one.")
FOCAL_PX = typer.Option(None, "--focal-px", help="Focal length in pixels (overrides the file).")
BASELINE_MM = typer.Option(None, "--baseline-mm", help="Baseline in millimetres (overrides the file).")
DOFFS = typer.Option(None, "--doffs", help="x-difference of the principal points, px (Middlebury doffs).")
MIN_DISPARITY = typer.Option(None, "--min-disparity", help="Smallest disparity to search, px (x_right = x_left - d).")
MAX_DISPARITY = typer.Option(None, "--max-disparity", help="Largest disparity to search, px.")
MATCHER = typer.Option("default", "--matcher", help="Matcher name (default, sgbm, sgbm-raw, onnx).")
MODEL = typer.Option(None, "--model", help="Weights file for a learned matcher (e.g. model.onnx).")
LAYOUT = typer.Option(
    "auto",
    "--layout",
    help="How the views are packed: auto, sbs, sbs-cross, over-under, under-over; "
    "videos also sbs-half, ou-half (squeezed views, stretched back); stills also pair, rgbd.",
)
EYES = typer.Option(
    "auto",
    "--eyes",
    help="Eye order: auto (check it from the stereo geometry; swap clearly reversed pairs), left-right (the first "
    "stored view -- first file, left/top half, view 0, left/ -- is the left eye) or right-left (it is the right eye).",
)
FOV = typer.Option(90.0, "--fov", help="360°/VR180 sources: field of view of the pinhole view, degrees (10-170).")
YAW = typer.Option(0.0, "--yaw", help="360°/VR180 sources: view direction, degrees right of the centre (-180..180).")
PITCH = typer.Option(0.0, "--pitch", help="360°/VR180 sources: view direction, degrees above the horizon (-90..90).")
VIEW_WIDTH = typer.Option(
    None,
    "--view-width",
    help="360°/VR180 sources: width (= height) of the pinhole view in pixels (default: as sharp as the source).",
)
FPS = typer.Option(None, "--fps", help="Frame folders: frame rate (default 30, stated as assumed).")
MAX_SIZE = typer.Option(None, "--max-size", help=MAX_SIZE_HELP)


def clip_read_kwargs(
    *,
    layout: str = "auto",
    eyes: str = "auto",
    fov: float = 90.0,
    yaw: float = 0.0,
    pitch: float = 0.0,
    view_width: int | None = None,
    fps: float | None = None,
) -> dict[str, Any]:
    """The keyword arguments of :func:`parallax.capture.clip_registry.read_clip` for the shared options."""
    return {
        "layout": layout,
        "eyes": eyes,
        "hfov_deg": fov,
        "yaw_deg": yaw,
        "pitch_deg": pitch,
        "view_width": view_width,
        "fps": fps,
    }


STRICT = typer.Option(
    False,
    "--strict",
    help="Only pixels measured by a left-right consistent match get a value (default: dense; pixels seen by "
    "one camera only are extrapolated from the background side with a low confidence).",
)
FAR_CLIP = typer.Option(
    4.0,
    "--far-clip",
    help="Pixels deeper than this many times the 95th percentile of the depth are not valid (0 = keep them).",
)
AS_JSON = typer.Option(
    False, "--json", help="Print a JSON summary (rectification, eye order, outputs) instead of text."
)
