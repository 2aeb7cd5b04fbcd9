"""Output formats of ``parallax convert``, found through a registry by extension or name.

Adding a format never touches the readers: write a function
``write(result: DepthResult, path: Path, options: OutputOptions) -> None`` in the
stage it belongs to (``scene`` for geometry, ``render`` for display formats) and
list it in :data:`parallax.outputs.registry.BUILTIN_FORMATS`. A format that shows
the views unchanged also gets a ``views_writer(left, right, path, options)``, so
that a stereo capture needs no depth run for it (:func:`write_views_output`).
"""

from parallax.outputs.registry import (
    OutputFormat,
    OutputOptions,
    find_format,
    list_formats,
    write_output,
    write_views_output,
)

__all__ = ["OutputFormat", "OutputOptions", "find_format", "list_formats", "write_output", "write_views_output"]
