"""``python -m parallax``: the same as the ``parallax`` command."""

import sys

from parallax.cli.main import main

sys.exit(main())
