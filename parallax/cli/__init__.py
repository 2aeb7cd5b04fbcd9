"""The command line (``parallax``): see :mod:`parallax.cli.main`."""
