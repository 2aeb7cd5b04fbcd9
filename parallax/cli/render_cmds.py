"""CLI: ``parallax synthesize`` — a new view of a stereo capture.

``parallax synthesize FILE|LEFT RIGHT --position P [--source left|both]
[--disparity D.pfm] -o view.png``

Without ``--disparity`` the capture goes through the depth pipeline (rectify,
match) and the view is of the rectified pair. With ``--disparity`` the two
views are taken as they are (already rectified, e.g. written by ``parallax
rectify``) and ``D`` (PFM/PNG/NPY, pixels of the left view, ``x_right = x_left - d``)
is their disparity. Position 0 = left camera, 1 = right camera.
"""

from __future__ import annotations

from pathlib import Path

import typer

from parallax.cli import options as opt
from parallax.cli.progress import spinner
from parallax.errors import ParameterError

__all__ = ["register", "synthesize_cmd"]

_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")


def synthesize_cmd(
    file: Path = typer.Argument(..., help="Stereo capture (MPO, HEIC, LIF, side-by-side ...) or the left image."),
    right: Path | None = opt.RIGHT,
    position: float = typer.Option(
        ..., "--position", "-p", help="Camera position: 0 = left camera, 1 = right, beyond extrapolates."
    ),
    output: Path = typer.Option(..., "-o", "--output", help="Output image (.png, .jpg ...)."),
    source: str = typer.Option("both", "--source", help="Warp the 'left' view only, or 'both' views."),
    disparity: Path | None = typer.Option(
        None, "--disparity", help="Disparity of the (rectified) left view: .pfm, .png (16-bit), .npy."
    ),
    focus_px: float = typer.Option(
        0.0, "--focus-px", help="Disparity (px) of the plane that stays still; 0 = plain camera translation."
    ),
    layout: str = opt.LAYOUT,
    max_size: int | None = opt.MAX_SIZE,
    eyes: str = opt.EYES,
) -> None:
    """Synthesise the view at a camera position along the baseline."""
    import numpy as np
    from PIL import Image

    from parallax.io.atomic import atomic_output, check_writable_dir
    from parallax.render.synthesis import synthesize_view

    if source not in ("left", "both"):
        raise ParameterError(f"--source must be 'left' or 'both', got {source!r}")
    if output.suffix.lower() not in _IMAGE_EXTENSIONS:
        raise ParameterError(
            f"-o {output}: unknown image extension {output.suffix!r}; use one of {', '.join(_IMAGE_EXTENSIONS)}"
        )
    check_writable_dir(output)
    if disparity is not None:
        from parallax.cli.stereo_cmds import read_input
        from parallax.io.maps import read_map

        # the disparity belongs to the first view given, so auto keeps the order
        with spinner(f"reading {file.name}"):
            capture = read_input(file, right, layout, "left-right" if eyes == "auto" else eyes)
        left_img, right_img = capture.left, capture.right
        disp = read_map(disparity, kind="disparity")
        if disp.shape != left_img.shape[:2]:
            raise ParameterError(
                f"--disparity {disparity} is {disp.shape[1]}x{disp.shape[0]} but the left view is "
                f"{left_img.shape[1]}x{left_img.shape[0]}; give the disparity of this (rectified) view"
            )
    else:
        from parallax.cli.stereo_cmds import emit_warnings, run_pipeline, stereo_warnings
        from parallax.render.views import result_disparity

        result = run_pipeline(file, right, layout=layout, max_size=max_size, eyes=eyes)
        emit_warnings(stereo_warnings(result.rectification, result.settings.get("eyes")))
        left_img, right_img = result.image, result.right_image
        disp = result_disparity(result)
    if not np.isfinite(disp).any():
        raise ParameterError(f"{file}: the disparity map has no value; nothing to warp")
    with spinner(f"synthesising the view at position {position:g}"):
        view = synthesize_view(
            np.asarray(left_img),
            disp,
            position,
            right_image=np.asarray(right_img) if (source == "both" and right_img is not None) else None,
            focus_disparity_px=focus_px,
        )
    with atomic_output(output) as tmp:
        fmt = "JPEG" if output.suffix.lower() in (".jpg", ".jpeg") else None
        Image.fromarray(view).save(tmp, format=fmt or Image.registered_extensions()[output.suffix.lower()])
    typer.echo(
        f"wrote {output} (position {position:g}, {view.shape[1]}x{view.shape[0]}, source {source if right_img is not None else 'left'})"
    )


def register(app: typer.Typer) -> None:
    """Add ``synthesize`` to ``app``."""
    app.command("synthesize")(synthesize_cmd)
