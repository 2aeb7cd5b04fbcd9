"""Output formats of ``parallax convert``, found through a registry by extension or name.

Adding a format never touches the readers: write a function
``write(result: DepthResult, path: Path, options: OutputOptions) -> None`` in the
stage it belongs to (``scene`` for geometry, ``render`` for display formats) and
list it in :data:`parallax.outputs.registry.BUILTIN_FORMATS`.
"""

from parallax.outputs.registry import OutputFormat, OutputOptions, find_format, list_formats, write_output

__all__ = ["OutputFormat", "OutputOptions", "find_format", "list_formats", "write_output"]
