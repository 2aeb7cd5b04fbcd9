"""The output-format registry behind ``parallax convert``.

Formats are chosen by ``--format NAME`` or, failing that, by the longest
matching extension of the output path (so ``x.lif.jpg`` is LIF, not JPEG).
Every write goes through :func:`parallax.io.atomic_output`: the file appears
whole or not at all.

A format declares what it needs. Every format has a ``writer`` of a
:class:`~parallax.stereo.types.DepthResult`. Formats that show the two views
as they are (side-by-side, over-under, JPS, anaglyph) also have a
``views_writer`` of the rectified pair alone: for a stereo capture the caller
rectifies and calls :func:`write_views_output`, and no disparity or depth is
computed for them (an RGB-D capture, which has no right view, still goes
through ``writer``, which synthesises one from depth).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from parallax.errors import OutputError, ParameterError
from parallax.io.atomic import atomic_output
from parallax.stereo.types import DepthResult

__all__ = [
    "OutputFormat",
    "OutputOptions",
    "BUILTIN_FORMATS",
    "find_format",
    "list_formats",
    "write_output",
    "write_views_output",
]


@dataclass(frozen=True, kw_only=True)
class OutputOptions:
    """Options every writer may read; writers ignore what does not apply to them.

    Parameters
    ----------
    extra : Mapping
        Format-specific options (e.g. ``{"preset": "portrait"}`` for quilts).
    """

    extra: Mapping[str, Any] = field(default_factory=dict)


Writer = Callable[[DepthResult, Path, OutputOptions], None]
#: ``views_writer(left, right, path, options)``: rectified ``HxWx3`` uint8 RGB views of one size.
ViewsWriter = Callable[[np.ndarray, np.ndarray, Path, OutputOptions], None]


@dataclass(frozen=True, kw_only=True)
class OutputFormat:
    """One output format.

    Parameters
    ----------
    name : str
        Name for ``--format``.
    extensions : tuple of str
        Lower-case extensions including the dot; multi-part ones (``.lif.jpg``) allowed.
    writer : str
        ``"module:function"`` of the writer, imported only when used.
    description : str
        One line for ``parallax convert --help``.
    by_extension : bool
        Whether the extension alone selects this format (``False`` for formats that
        share an extension with another and need ``--format``, e.g. splat ``.ply``).
    name_pattern : str, optional
        A regular expression over the lower-case file name that selects this
        format before any extension does (Looking Glass quilts are recognised by
        their ``_qs{cols}x{rows}a{aspect}`` name).
    views_writer : str, optional
        ``"module:function"`` of a writer that needs only the rectified views
        (``function(left, right, path, options)``), for formats that show the
        views unchanged; ``None`` when the format needs disparity or depth.
    """

    name: str
    extensions: tuple[str, ...]
    writer: str
    description: str
    by_extension: bool = True
    name_pattern: str | None = None
    views_writer: str | None = None

    @property
    def needs_depth(self) -> bool:
        """Whether writing a stereo capture in this format needs disparity/depth (else the rectified views do)."""
        return self.views_writer is None

    def load(self) -> Writer:
        """Import and return the writer function."""
        module, func = self.writer.split(":")
        return getattr(importlib.import_module(module), func)

    def load_views_writer(self) -> ViewsWriter:
        """Import and return the views writer.

        Raises
        ------
        ParameterError
            If the format needs depth (it has no views writer).
        """
        if self.views_writer is None:
            raise ParameterError(f"the {self.name} format needs disparity/depth; write a DepthResult with write_output")
        module, func = self.views_writer.split(":")
        return getattr(importlib.import_module(module), func)


# Keep in pipeline order. Later issues add rows here.
BUILTIN_FORMATS: tuple[OutputFormat, ...] = (
    OutputFormat(
        name="pointcloud",
        extensions=(".ply",),
        writer="parallax.scene.pointcloud:write_pointcloud_output",
        description="coloured point cloud, binary PLY (metres when depth is metric)",
    ),
    OutputFormat(
        name="disparity",
        extensions=(".pfm", ".npy"),
        writer="parallax.io.maps:write_disparity_output",
        description="disparity map: .pfm (+inf = no value), .npy (NaN), or .png 16-bit with --format disparity",
    ),
    OutputFormat(
        name="depth",
        extensions=(".pfm", ".npy", ".png"),
        writer="parallax.io.maps:write_depth_output",
        description="depth map (.pfm/.npy float32 metres or relative; .png 16-bit mm), by --format depth",
        by_extension=False,
    ),
    OutputFormat(
        name="preview",
        extensions=(".png",),
        writer="parallax.io.maps:write_preview_output",
        description="turbo-coloured depth preview PNG (near = red, no value = black), by --format",
        by_extension=False,
    ),
    # issue 4: meshes, splats and display formats (parallax.scene.mesh/splats/spz, parallax.render.*)
    OutputFormat(
        name="mesh",
        extensions=(".glb",),
        writer="parallax.scene.mesh:write_mesh_output",
        description="textured depth mesh, binary glTF 2.0 with the capture camera (metres when metric)",
    ),
    OutputFormat(
        name="splat",
        extensions=(".ply",),
        writer="parallax.scene.splats:write_splat_output",
        description="3D Gaussian splats, 3DGS PLY (one flat splat per pixel), by --format splat",
        by_extension=False,
    ),
    OutputFormat(
        name="spz",
        extensions=(".spz",),
        writer="parallax.scene.spz:write_spz_output",
        description="3D Gaussian splats, Niantic SPZ (gzip, quantised)",
    ),
    OutputFormat(
        name="lif",
        extensions=(".lif.jpg", ".lif"),
        writer="parallax.render.lif:write_lif_output",
        description="Leia LIF: JPEG with the right view and disparity maps appended",
    ),
    OutputFormat(
        name="quilt",
        extensions=(".png",),
        writer="parallax.render.quilt:write_quilt_output",
        description="Looking Glass quilt PNG named *_qs{cols}x{rows}a{aspect}.png, or by --format quilt "
        "(--option preset=portrait|go|16-landscape|...)",
        by_extension=False,
        name_pattern=r"_qs\d+x\d+a\d+(\.\d+)?\.png$",
    ),
    OutputFormat(
        name="sbs",
        extensions=(".sbs.png", ".sbs.jpg"),
        writer="parallax.render.stereo_formats:write_sbs_output",
        description="side-by-side, parallel (left view on the left)",
        views_writer="parallax.render.stereo_formats:write_sbs_views",
    ),
    OutputFormat(
        name="sbs-cross",
        extensions=(".cross.png", ".cross.jpg"),
        writer="parallax.render.stereo_formats:write_sbs_cross_output",
        description="side-by-side, cross-eyed (right view on the left)",
        views_writer="parallax.render.stereo_formats:write_sbs_cross_views",
    ),
    OutputFormat(
        name="over-under",
        extensions=(".ou.png", ".ou.jpg"),
        writer="parallax.render.stereo_formats:write_over_under_output",
        description="over-under (left view on top)",
        views_writer="parallax.render.stereo_formats:write_over_under_views",
    ),
    OutputFormat(
        name="jps",
        extensions=(".jps",),
        writer="parallax.render.stereo_formats:write_jps_output",
        description="JPS: JPEG side-by-side in cross-eyed order (right view first)",
        views_writer="parallax.render.stereo_formats:write_jps_views",
    ),
    OutputFormat(
        name="anaglyph",
        extensions=(".anaglyph.png", ".anaglyph.jpg"),
        writer="parallax.render.stereo_formats:write_anaglyph_output",
        description="red-cyan anaglyph, Dubois least-squares matrices in linear light",
        views_writer="parallax.render.stereo_formats:write_anaglyph_views",
    ),
    OutputFormat(
        name="wiggle",
        extensions=(".gif",),
        writer="parallax.render.animation:write_gif_output",
        description="looping parallax animation GIF, smooth camera sweep (--option frames=30)",
    ),
    OutputFormat(
        name="video",
        extensions=(".mp4",),
        writer="parallax.render.animation:write_mp4_output",
        description="parallax camera sweep, H.264 MP4 (needs parallax[video]; --option frames=60)",
    ),
)


def list_formats() -> tuple[OutputFormat, ...]:
    """All known output formats."""
    return BUILTIN_FORMATS


def find_format(path: str | Path, format: str | None = None) -> OutputFormat:
    """Pick the output format for ``path``, by ``format`` name first, else by extension.

    Raises
    ------
    OutputError
        If the name or the extension is unknown, listing the known ones.
    """
    formats = list_formats()
    if format is not None:
        for fmt in formats:
            if fmt.name == format.lower():
                return fmt
        names = ", ".join(f.name for f in formats)
        raise ParameterError(f"--format {format!r} is unknown; choose one of: {names}")
    name = Path(path).name.lower()
    for fmt in formats:
        if fmt.name_pattern is not None and re.search(fmt.name_pattern, name):
            return fmt
    best: OutputFormat | None = None
    best_len = 0
    for fmt in formats:
        if not fmt.by_extension:
            continue
        for ext in fmt.extensions:
            if name.endswith(ext) and len(ext) > best_len:
                best, best_len = fmt, len(ext)
    if best is None:
        exts = ", ".join(sorted({e for f in formats if f.by_extension for e in f.extensions}))
        raise OutputError(f"cannot tell the output format of {path}: unknown extension; use one of {exts} or --format")
    return best


def write_output(
    result: DepthResult, path: str | Path, *, format: str | None = None, options: OutputOptions | None = None
) -> Path:
    """Write ``result`` to ``path`` in the chosen format, atomically; return the path."""
    fmt = find_format(path, format)
    writer = fmt.load()
    path = Path(path)
    with atomic_output(path) as tmp:
        writer(result, tmp, options or OutputOptions())
    return path


def write_views_output(
    left: np.ndarray,
    right: np.ndarray,
    path: str | Path,
    *,
    format: str | None = None,
    options: OutputOptions | None = None,
) -> Path:
    """Write a rectified stereo pair to ``path`` in a format that needs no depth, atomically; return the path.

    The same file :func:`write_output` writes for a :class:`DepthResult` with these views.

    Raises
    ------
    ParameterError
        If the chosen format needs disparity or depth (``format.needs_depth``).
    """
    fmt = find_format(path, format)
    writer = fmt.load_views_writer()
    path = Path(path)
    with atomic_output(path) as tmp:
        writer(left, right, tmp, options or OutputOptions())
    return path
