"""Looking Glass quilts: many views of one scene tiled into one image.

Layout (Looking Glass convention): ``cols x rows`` tiles of one view each; view
0 is the leftmost camera and sits in the **bottom-left** tile; views fill a
row left to right, rows go bottom to top, so the last view is top-right. Its
file name carries ``_qs{cols}x{rows}a{aspect}`` (``aspect`` = width / height of
one view), which is how Looking Glass software reads the layout.

File names: :func:`quilt_path` adds the suffix when a name lacks it
(``scene.png`` -> ``scene_qs8x6a0.75.png``); ``parallax convert --format quilt``
does this and prints the name it wrote. A name that carries a suffix which
disagrees with the preset is refused (the display would show garbage).

Presets (quilt size, tiling and view aspect from Looking Glass' device
templates in their Toolkit / Bridge):

============================  ==========  =====  ======
preset                        quilt (px)  tiles  aspect
============================  ==========  =====  ======
``portrait`` (Portrait)       3360x3360   8x6    0.75
``go`` (Looking Glass Go)     4092x4092   11x6   0.5625
``16-landscape`` (16" Spatial)5999x5999   7x7    1.77778
``16-portrait`` (16" Spatial) 5995x6000   11x6   0.5625
``32-landscape`` (32" Spatial)8190x8190   7x7    1.77778
``32-portrait`` (32" Spatial) 8184x8184   11x6   0.5625
``65`` (65", gen 2)           8192x8192   8x9    1.77778
``16-gen2`` (16", gen 2)      4096x4096   5x9    1.77778
============================  ==========  =====  ======

Views span camera positions ``start .. stop`` along the baseline (0 = left
camera, 1 = right camera), default -0.25 .. 1.25, re-converged on the median
disparity so the subject sits on the display plane. The source is centre-cropped
to the preset's aspect, then resized to the tile size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from parallax.errors import OutputError, ParameterError
from parallax.outputs.registry import OutputOptions
from parallax.render.options import option_float
from parallax.stereo.types import DepthResult

__all__ = [
    "QuiltPreset",
    "QUILT_PRESETS",
    "assemble_quilt",
    "get_preset",
    "quilt_origins",
    "quilt_path",
    "quilt_tile",
    "render_quilt",
    "write_quilt_output",
]


@dataclass(frozen=True, kw_only=True)
class QuiltPreset:
    """One Looking Glass display's quilt settings.

    Parameters
    ----------
    name : str
        Preset name for ``--preset``.
    display : str
        The display it is for.
    width, height : int
        Quilt size in pixels.
    cols, rows : int
        Tiling.
    aspect : float
        Width / height of one view (what goes into the file name).
    """

    name: str
    display: str
    width: int
    height: int
    cols: int
    rows: int
    aspect: float

    def __post_init__(self) -> None:
        if min(self.width, self.height, self.cols, self.rows) < 1 or not self.aspect > 0:
            raise ParameterError(f"quilt preset {self.name!r} needs positive sizes, tiling and aspect")

    @property
    def views(self) -> int:
        """Number of views (tiles)."""
        return self.cols * self.rows

    @property
    def tile_size(self) -> tuple[int, int]:
        """``(width, height)`` of one tile in pixels (the quilt size divided by the tiling, rounded down)."""
        return self.width // self.cols, self.height // self.rows

    @property
    def suffix(self) -> str:
        """The file-name suffix ``_qs{cols}x{rows}a{aspect}``."""
        return f"_qs{self.cols}x{self.rows}a{self.aspect:g}"


QUILT_PRESETS: dict[str, QuiltPreset] = {
    p.name: p
    for p in (
        QuiltPreset(
            name="portrait", display="Looking Glass Portrait", width=3360, height=3360, cols=8, rows=6, aspect=0.75
        ),
        QuiltPreset(name="go", display="Looking Glass Go", width=4092, height=4092, cols=11, rows=6, aspect=0.5625),
        QuiltPreset(
            name="16-landscape",
            display='Looking Glass 16" Spatial Display (landscape)',
            width=5999,
            height=5999,
            cols=7,
            rows=7,
            aspect=1.77778,
        ),
        QuiltPreset(
            name="16-portrait",
            display='Looking Glass 16" Spatial Display (portrait)',
            width=5995,
            height=6000,
            cols=11,
            rows=6,
            aspect=0.5625,
        ),
        QuiltPreset(
            name="32-landscape",
            display='Looking Glass 32" Spatial Display (landscape)',
            width=8190,
            height=8190,
            cols=7,
            rows=7,
            aspect=1.77778,
        ),
        QuiltPreset(
            name="32-portrait",
            display='Looking Glass 32" Spatial Display (portrait)',
            width=8184,
            height=8184,
            cols=11,
            rows=6,
            aspect=0.5625,
        ),
        QuiltPreset(
            name="65", display='Looking Glass 65" (gen 2)', width=8192, height=8192, cols=8, rows=9, aspect=1.77778
        ),
        QuiltPreset(
            name="16-gen2", display='Looking Glass 16" (gen 2)', width=4096, height=4096, cols=5, rows=9, aspect=1.77778
        ),
    )
}

_SUFFIX = re.compile(r"_qs(\d+)x(\d+)a(\d+(?:\.\d+)?)$", re.IGNORECASE)


def get_preset(name: str) -> QuiltPreset:
    """The preset called ``name`` (case-insensitive)."""
    try:
        return QUILT_PRESETS[str(name).lower()]
    except KeyError:
        raise ParameterError(f"quilt preset {name!r} is unknown; choose one of: {', '.join(QUILT_PRESETS)}") from None


def preset_for_path(path: str | Path) -> QuiltPreset | None:
    """The preset whose ``_qs{cols}x{rows}a{aspect}`` suffix ``path`` carries, if any.

    Raises
    ------
    OutputError
        If the name carries a suffix that no preset has.
    """
    match = _SUFFIX.search(Path(path).stem)
    if not match:
        return None
    cols, rows, aspect = int(match.group(1)), int(match.group(2)), float(match.group(3))
    for preset in QUILT_PRESETS.values():
        if (preset.cols, preset.rows) == (cols, rows) and abs(preset.aspect - aspect) <= 1e-3:
            return preset
    known = ", ".join(f"{p.name} ({p.suffix[1:]})" for p in QUILT_PRESETS.values())
    raise OutputError(f"{Path(path).name}: no quilt preset is {match.group(0)[1:]}; name it for one of: {known}")


def quilt_path(path: str | Path, preset: QuiltPreset) -> Path:
    """``path`` with the ``_qs{cols}x{rows}a{aspect}`` suffix before the extension (added if missing).

    Raises
    ------
    OutputError
        If ``path`` carries a ``_qs`` suffix that disagrees with ``preset``.
    """
    path = Path(path)
    stem = path.stem
    match = _SUFFIX.search(stem)
    if match:
        cols, rows, aspect = int(match.group(1)), int(match.group(2)), float(match.group(3))
        if (cols, rows) != (preset.cols, preset.rows) or abs(aspect - preset.aspect) > 1e-3:
            raise OutputError(
                f"{path.name} says {match.group(0)[1:]} but preset {preset.name!r} is {preset.suffix[1:]}; "
                f"rename it or choose the matching --preset"
            )
        return path
    return path.with_name(f"{stem}{preset.suffix}{path.suffix}")


def quilt_tile(index: int, cols: int, rows: int) -> tuple[int, int]:
    """``(row_from_top, col)`` of view ``index``: view 0 bottom-left, rows filled left to right, bottom to top."""
    if not 0 <= index < cols * rows:
        raise ParameterError(f"view index {index} is outside 0..{cols * rows - 1}")
    return rows - 1 - index // cols, index % cols


def assemble_quilt(views: np.ndarray, cols: int, rows: int, *, size: tuple[int, int] | None = None) -> np.ndarray:
    """Tile ``views`` (``V x h x w x 3`` uint8, leftmost camera first) into a quilt.

    Parameters
    ----------
    views : numpy.ndarray
        ``cols * rows`` views.
    cols, rows : int
        Tiling.
    size : (int, int), optional
        Quilt ``(width, height)``; at least ``cols*w x rows*h`` (the extra right/top
        margin stays black, as Looking Glass quilts of odd sizes do). Default: exact.
    """
    views = np.asarray(views)
    if views.ndim != 4 or views.shape[3] != 3 or views.dtype != np.uint8:
        raise ParameterError(f"views must be V x h x w x 3 uint8, got {views.shape} {views.dtype}")
    if views.shape[0] != cols * rows:
        raise ParameterError(f"a {cols}x{rows} quilt needs {cols * rows} views, got {views.shape[0]}")
    _, h, w, _ = views.shape
    width, height = size if size is not None else (cols * w, rows * h)
    if width < cols * w or height < rows * h:
        raise ParameterError(f"quilt size {width}x{height} is smaller than {cols}x{rows} tiles of {w}x{h}")
    quilt = np.zeros((height, width, 3), dtype=np.uint8)
    # Tiles start at the bottom edge: any spare pixel rows sit at the top.
    y_base = height - rows * h
    for i in range(cols * rows):
        r, c = quilt_tile(i, cols, rows)
        y0 = y_base + r * h
        quilt[y0 : y0 + h, c * w : (c + 1) * w] = views[i]
    return quilt


def render_quilt(
    result: DepthResult,
    preset: QuiltPreset,
    *,
    start: float = -0.25,
    stop: float = 1.25,
    source: str = "both",
    focus: float | str = "median",
) -> np.ndarray:
    """The quilt image (``H x W x 3`` uint8) of ``result`` for ``preset``.

    Views are evenly spaced from ``start`` (view 0, leftmost) to ``stop``; each
    is rendered straight into its tile (no per-view image is kept).
    """
    from parallax.render.synthesis import sweep_positions
    from parallax.render.views import prepare_views

    positions = sweep_positions(preset.views, start=start, stop=stop, kind="linear")
    src = prepare_views(result, size=preset.tile_size, aspect=preset.aspect, source=source, focus=focus)  # type: ignore[arg-type]
    return src.render(
        positions, out=np.zeros((preset.height, preset.width, 3), np.uint8), origins=quilt_origins(preset)
    )


def quilt_origins(preset: QuiltPreset) -> np.ndarray:
    """``V x 2`` top-left ``(row, column)`` of each view's tile in the quilt (layout of :func:`assemble_quilt`)."""
    tw, th = preset.tile_size
    y_base = preset.height - preset.rows * th
    corners = [quilt_tile(i, preset.cols, preset.rows) for i in range(preset.views)]
    return np.array([(y_base + r * th, c * tw) for r, c in corners], dtype=np.int64)


def write_quilt_output(result: DepthResult, path: Path, options: OutputOptions) -> None:
    """Registry writer: a Looking Glass quilt PNG (``--format quilt``).

    ``options.extra``: ``preset`` (default ``"portrait"``), ``start``/``stop``
    (camera positions of the first and last view), ``source`` (``"both"`` or
    ``"left"``). The caller names the file with :func:`quilt_path`.
    """
    preset = get_preset(options.extra.get("preset") or "portrait")
    start = option_float(options.extra, "start", -0.25)
    stop = option_float(options.extra, "stop", 1.25)
    quilt = render_quilt(result, preset, start=start, stop=stop, source=options.extra.get("source", "both"))
    Image.fromarray(quilt).save(path, format="PNG", compress_level=1)
