"""Command-line options shared by several commands (one definition, one help text)."""

from __future__ import annotations

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
    "MAX_SIZE",
    "MAX_SIZE_HELP",
    "EYES",
    "AS_JSON",
]

MAX_SIZE_HELP = "Process at a reduced size: longer side at most this many pixels (outputs get that size)."

RIGHT = typer.Argument(None, help="Right image, when FILE is the left one.")
FOCAL_PX = typer.Option(None, "--focal-px", help="Focal length in pixels (overrides the file).")
BASELINE_MM = typer.Option(None, "--baseline-mm", help="Baseline in millimetres (overrides the file).")
DOFFS = typer.Option(None, "--doffs", help="x-difference of the principal points, px (Middlebury doffs).")
MIN_DISPARITY = typer.Option(None, "--min-disparity", help="Smallest disparity to search, px (x_right = x_left - d).")
MAX_DISPARITY = typer.Option(None, "--max-disparity", help="Largest disparity to search, px.")
MATCHER = typer.Option("default", "--matcher", help="Matcher name (default, sgbm, sgbm-raw, onnx).")
MODEL = typer.Option(None, "--model", help="Weights file for a learned matcher (e.g. model.onnx).")
LAYOUT = typer.Option("auto", "--layout", help="How the views are packed (auto, sbs, sbs-cross, over-under ...).")
MAX_SIZE = typer.Option(None, "--max-size", help=MAX_SIZE_HELP)
EYES = typer.Option(
    "auto",
    "--eyes",
    help=(
        "Eye order: auto (check it from the stereo geometry; swap clearly reversed pairs), "
        "left-right (the first file or half is the left eye), right-left (it is the right eye)."
    ),
)
AS_JSON = typer.Option(
    False, "--json", help="Print a JSON summary (rectification, eye order, outputs) instead of text."
)
