"""File plumbing shared by every stage: atomic writes and map files (PFM, 16-bit PNG, NPY).

This is a base layer: it imports nothing from the pipeline stages.
"""

from parallax.io.atomic import atomic_output

__all__ = ["atomic_output"]
