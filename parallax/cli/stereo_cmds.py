"""CLI: ``parallax rectify``, ``parallax disparity``, ``parallax depth``.

Each reads a capture (one file, or a left and a right file), and writes its
output atomically: on any error nothing is left half-written and an existing
file is untouched. Disparity and depth refer to the rectified left view that
``parallax rectify`` writes (with the same ``--max-size``).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from parallax.cli import options as opt
from parallax.cli.progress import spinner
from parallax.errors import OutputError, ParameterError

__all__ = [
    "register",
    "read_input",
    "depth_options",
    "run_pipeline",
    "describe_depth",
    "describe_validity",
    "stereo_warnings",
    "emit_warnings",
    "summary",
]


def read_input(file: Path, right: Path | None, layout: str = "auto", eyes: str = "auto") -> Any:
    """Read a capture with :func:`parallax.capture.read_capture` (eye order checked unless fixed by ``eyes``)."""
    from parallax.capture import read_capture

    return read_capture(file, right, layout=layout, eyes=eyes)


def stereo_warnings(rectification: Any, eyes: Any) -> list[str]:
    """Warning lines for a pair that is not rectified, and for an unclear or contested eye order."""
    lines = []
    if rectification is not None and not rectification.rectified:
        lines.append(
            f"warning: the pair is NOT rectified -- {rectification.reason}; "
            "disparity and depth from it are unreliable (is it a stereo pair of one moment, from two cameras side by side?)"
        )
    if isinstance(eyes, dict) and eyes.get("warning"):
        lines.append(f"warning: {eyes['warning']}")
    return lines


def emit_warnings(lines: list[str]) -> None:
    """Print warning lines on stderr, in bold yellow on a terminal."""
    from rich.console import Console
    from rich.markup import escape

    console = Console(stderr=True, highlight=False, soft_wrap=True)
    for line in lines:
        console.print(f"[bold yellow]{escape(line)}[/]")


def summary(result: Any = None, *, rectification: Any = None, eyes: Any = None, **extra: Any) -> str:
    """The ``--json`` document: rectification (with its residual and ``rectified``), eye order, warnings, extras."""
    if result is not None:
        rectification = result.rectification
        eyes = result.settings.get("eyes")
    doc: dict[str, Any] = {
        "rectified": None if rectification is None else bool(rectification.rectified),
        "rectification": None if rectification is None else rectification.to_dict(),
        "eyes": eyes,
        "warnings": stereo_warnings(rectification, eyes),
    }
    if result is not None:
        doc["depth_is_metric"] = bool(result.depth_is_metric)
        doc["settings"] = json.loads(json.dumps(dict(result.settings), default=str))
    doc.update(extra)
    return json.dumps(doc, indent=2, default=str)


@contextlib.contextmanager
def _progress(message: str, *, quiet: bool = False) -> Iterator[None]:
    """A spinner on stderr while long work runs (silent when stderr is not a terminal, or ``quiet``: --json)."""
    with spinner(message, quiet=quiet):
        yield


def depth_options(focal_px: float | None, baseline_mm: float | None, doffs: float | None) -> dict[str, float | None]:
    """Turn the CLI's depth flags into :func:`compute_depth` keywords (baseline mm -> m)."""
    if baseline_mm is not None and not baseline_mm > 0:
        raise ParameterError(f"--baseline-mm must be positive, got {baseline_mm}; give the camera distance in mm")
    if focal_px is not None and not focal_px > 0:
        raise ParameterError(f"--focal-px must be positive, got {focal_px}; give the focal length in pixels")
    return {
        "focal_px": focal_px,
        "baseline_m": None if baseline_mm is None else baseline_mm / 1000.0,
        "doffs_px": doffs,
    }


def run_pipeline(
    file: Path,
    right: Path | None,
    *,
    layout: str = "auto",
    matcher: str = "default",
    model: Path | None = None,
    min_disparity: float | None = None,
    max_disparity: float | None = None,
    max_size: int | None = None,
    focal_px: float | None = None,
    baseline_mm: float | None = None,
    doffs: float | None = None,
    strict: bool = False,
    far_clip: float = 4.0,
    eyes: str = "auto",
    capture: Any = None,
    quiet: bool = False,
) -> Any:
    """Read, rectify, match and compute depth, with a progress spinner; return the DepthResult.

    The same :func:`parallax.compute_depth` (and so the same disparity) as the Python
    API, the web app and the corpus. ``capture``: the Capture of ``file`` when the caller
    has read it already (it is not read again).
    """
    from parallax.stereo.pipeline import compute_depth

    depth_kw = depth_options(focal_px, baseline_mm, doffs)
    if not (far_clip == 0 or far_clip > 1):
        raise ParameterError(f"--far-clip must be 0 (off) or above 1, got {far_clip}; e.g. --far-clip 4")
    options = {"model": str(model)} if model is not None else None
    if capture is None:
        with _progress(f"reading {file.name}", quiet=quiet):
            capture = read_input(file, right, layout, eyes)
    with _progress(f"rectifying and matching {file.name} ({capture.width}x{capture.height})", quiet=quiet):
        return compute_depth(
            capture,
            matcher=matcher,
            min_disparity=min_disparity,
            max_disparity=max_disparity,
            max_side_px=max_size,
            matcher_options=options,
            strict=strict,
            far_clip_factor=far_clip or None,
            focal_px=depth_kw["focal_px"],
            baseline_m=depth_kw["baseline_m"],
            doffs_px=depth_kw["doffs_px"],
        )


def describe_depth(result: Any) -> str:
    """One line saying whether depth is metric or relative, and why."""
    settings = result.settings
    if result.depth_is_metric:
        if result.disparity_px is None:
            return f"depth is METRIC (metres), from the file's {settings.get('depth_source', 'depth map')}"
        return (
            f"depth is METRIC (metres): focal {result.camera.focal_px:.1f} px ({settings.get('focal_source')}), "
            f"baseline {result.baseline_m * 1000:.1f} mm ({settings.get('baseline_source')}), "
            f"doffs {result.doffs_px:.2f} px"
        )
    if result.disparity_px is None:
        return (
            f"depth is RELATIVE (no metric scale; median 1, larger = farther), from the file's "
            f"{settings.get('depth_source', 'depth map')}"
        )
    hint = "" if "metric_refused" in settings else "; pass --focal-px and --baseline-mm for metres"
    return f"depth is RELATIVE (no metric scale; median 1, larger = farther): {settings.get('depth_reason', '')}{hint}"


def describe_validity(result: Any) -> str:
    """One line: how many pixels are valid, and what was left out (far clip, plain surfaces, strict)."""
    settings = result.settings
    parts = [f"{float(result.valid.mean()):.1%} of pixels valid"]
    clip = settings.get("far_clip")
    if clip and clip.get("clipped_share"):
        unit = " m" if clip.get("units") == "m" else " (relative)"
        parts.append(
            f"{clip['clipped_share']:.2%} clipped as farther than {clip['max_depth']:.4g}{unit} "
            f"({clip['factor']:g}x the 95th percentile; --far-clip 0 keeps them)"
        )
    plain = settings.get("plain_surfaces")
    if plain and plain.get("no_value_share"):
        parts.append(f"{plain['no_value_share']:.2%} untextured with nothing to support a surface (no value)")
    if settings.get("strict"):
        parts.append("strict: only measured pixels")
    return "; ".join(parts)


def _check_map_path(output: Path) -> None:
    from parallax.io.atomic import check_writable_dir
    from parallax.io.maps import MAP_EXTENSIONS

    if output.suffix.lower() not in MAP_EXTENSIONS:
        raise OutputError(f"cannot write {output}: unknown extension {output.suffix!r}; use .pfm, .png or .npy")
    check_writable_dir(output)


def _prepare_dir(output: Path) -> bool:
    """Make sure ``output`` is a writable folder; create it (not its parents). Return True if created."""
    from parallax.io.atomic import check_writable_dir

    if output.exists() and not output.is_dir():
        raise OutputError(f"cannot write into {output}: it is a file, not a folder; give a folder")
    if output.is_dir():
        check_writable_dir(output / "left.png")
        return False
    check_writable_dir(output)  # the parent must exist and be writable
    try:
        output.mkdir()
    except OSError as exc:
        raise OutputError(f"cannot create folder {output}: {exc.strerror}; choose another path") from exc
    return True


def _encode_png(rgb: Any) -> bytes:
    import cv2
    import numpy as np

    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]))
    if not ok:  # pragma: no cover - only fails on invalid arrays
        raise OutputError("cannot encode a PNG")
    return buf.tobytes()


def rectify_cmd(
    file: Path = typer.Argument(..., help="Stereo capture (MPO, HEIC, LIF, side-by-side ...) or the left image."),
    right: Path | None = opt.RIGHT,
    output: Path = typer.Option(..., "-o", "--output", help="Folder for left.png, right.png, rectification.json."),
    layout: str = opt.LAYOUT,
    max_size: int | None = opt.MAX_SIZE,
    eyes: str = opt.EYES,
    as_json: bool = opt.AS_JSON,
) -> None:
    """Rectify a stereo pair: write the rectified views and how they were made (and how well)."""
    from pathlib import PurePath

    from parallax.io.atomic import atomic_output
    from parallax.stereo.pipeline import rectify_capture

    created = _prepare_dir(output)
    done = False
    try:
        with _progress(f"reading {file.name}", quiet=as_json):
            capture = read_input(file, right, layout, eyes)
        with _progress(f"rectifying {file.name}", quiet=as_json):
            pair, scale = rectify_capture(capture, max_side_px=max_size)
        rect = pair.rectification.to_dict()
        # base names only: a user's folder names are private
        source = " + ".join(PurePath(p).name for p in capture.source.split(" + "))
        rect.update({"source": source, "scale": scale, "eyes": capture.metadata.get("eyes")})
        payloads = {
            "left.png": _encode_png(pair.left),
            "right.png": _encode_png(pair.right),
            "rectification.json": (json.dumps(rect, indent=2) + "\n").encode(),
        }
        # all three temporary files are written before any is moved into place
        with contextlib.ExitStack() as stack:
            for name, payload in payloads.items():
                stack.enter_context(atomic_output(output / name)).write_bytes(payload)
        done = True
    finally:
        if created and not done:
            with contextlib.suppress(OSError):
                output.rmdir()
    r = pair.rectification
    eye = capture.metadata.get("eyes")
    written = [str(output / n) for n in ("left.png", "right.png", "rectification.json")]
    emit_warnings(stereo_warnings(r, eye))
    if as_json:
        typer.echo(summary(rectification=r, eyes=eye, outputs=written, scale=scale))
        return

    def px(v: float | None) -> str:
        return "unknown" if v is None else f"{v:.2f} px"

    state = "rectified" if r.rectified else "NOT rectified"
    typer.echo(
        f"{state} ({r.method}, {r.model or 'identity'}): vertical error {px(r.vertical_error_before_px)} -> "
        f"{px(r.residual_median_px)} median, {px(r.residual_p90_px)} 90th percentile over {r.residual_matches} "
        f"fresh matches; {r.width}x{r.height}; wrote {output}/left.png, right.png, rectification.json"
    )


def disparity_cmd(
    file: Path = typer.Argument(..., help="Stereo capture or the left image."),
    right: Path | None = opt.RIGHT,
    output: Path = typer.Option(
        ..., "-o", "--output", help="Disparity map: .pfm (+inf = no value), .png (16-bit), .npy."
    ),
    min_disparity: float | None = opt.MIN_DISPARITY,
    max_disparity: float | None = opt.MAX_DISPARITY,
    matcher: str = opt.MATCHER,
    model: Path | None = opt.MODEL,
    layout: str = opt.LAYOUT,
    max_size: int | None = opt.MAX_SIZE,
    strict: bool = opt.STRICT,
    eyes: str = opt.EYES,
    as_json: bool = opt.AS_JSON,
) -> None:
    """Estimate disparity of the rectified left view (x_right = x_left - d, pixels)."""
    import numpy as np

    from parallax.io.maps import write_map

    _check_map_path(output)
    result = run_pipeline(
        file,
        right,
        layout=layout,
        matcher=matcher,
        model=model,
        min_disparity=min_disparity,
        max_disparity=max_disparity,
        max_size=max_size,
        strict=strict,
        eyes=eyes,
        quiet=as_json,
    )
    if result.disparity_px is None:
        raise OutputError(
            f"{file} holds one view and a depth map, so it has no disparity; use 'parallax depth' instead"
        )
    write_map(output, result.disparity_px, kind="disparity")
    d = result.disparity_px
    valid = np.isfinite(d)
    span = f"{np.nanmin(d):.1f} .. {np.nanmax(d):.1f} px" if valid.any() else "no values"
    h, w = d.shape
    emit_warnings(stereo_warnings(result.rectification, result.settings.get("eyes")))
    if as_json:
        typer.echo(summary(result, outputs=[str(output)], valid_fraction=float(valid.mean())))
        return
    typer.echo(f"disparity {w}x{h}, {valid.mean():.1%} with a value, range {span}; wrote {output}")


def depth_cmd(
    file: Path = typer.Argument(..., help="Stereo capture, RGB-D photo, or the left image."),
    right: Path | None = opt.RIGHT,
    output: Path = typer.Option(
        ..., "-o", "--output", help="Depth map: .pfm/.npy (float; metres when metric), .png (16-bit mm)."
    ),
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
    as_json: bool = opt.AS_JSON,
) -> None:
    """Compute depth of the rectified left view: metres when focal length and baseline are known."""
    from parallax.io.maps import write_map

    _check_map_path(output)
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
        strict=strict,
        far_clip=far_clip,
        eyes=eyes,
        quiet=as_json,
    )
    write_map(output, result.depth, kind="depth" if result.depth_is_metric else "relative-depth")
    h, w = result.depth.shape
    emit_warnings(stereo_warnings(result.rectification, result.settings.get("eyes")))
    if as_json:
        typer.echo(summary(result, outputs=[str(output)], valid_fraction=float(result.valid.mean())))
        return
    typer.echo(describe_depth(result))
    typer.echo(f"depth {w}x{h}: {describe_validity(result)}; wrote {output}")


def register(app: typer.Typer) -> None:
    """Add ``rectify``, ``disparity`` and ``depth`` to ``app``."""
    app.command("rectify")(rectify_cmd)
    app.command("disparity")(disparity_cmd)
    app.command("depth")(depth_cmd)
