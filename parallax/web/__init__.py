"""The web app's front end: pages, scripts, styles and the npm files they load (no Python code runs here).

``index.html`` and ``capture.html`` load ``src/*.js`` (plain ES modules) and, through an
import map, three.js and Spark from ``/vendor/...``. Which npm files those are is written
once, in ``vendor.json`` (URL under ``/vendor/`` -> path in ``node_modules``); the server
serves exactly those, from :data:`NODE_MODULES` in a checkout (after ``npm ci``) or from
:data:`VENDORED` in an installed wheel, where ``setup.py`` copied them at build time.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["WEB_ROOT", "NODE_MODULES", "VENDORED", "vendor_files", "vendor_root"]

#: This folder: the pages, ``src/`` and ``vendor.json``.
WEB_ROOT = Path(__file__).resolve().parent
#: npm's install folder (``npm ci`` here, from package-lock.json): a checkout.
NODE_MODULES = WEB_ROOT / "node_modules"
#: The files of ``vendor.json`` copied at build time: an installed wheel.
VENDORED = WEB_ROOT / "vendor"


def vendor_files(*, licenses: bool = False) -> dict[str, str]:
    """URL path under ``/vendor/`` -> path under ``node_modules`` (and ``vendor/``), from ``vendor.json``.

    With ``licenses=True`` the packages' licence files are included (shipped, not loaded).
    """
    spec = json.loads((WEB_ROOT / "vendor.json").read_text(encoding="utf-8"))
    files = dict(spec["files"])
    if licenses:
        files.update(spec["licenses"])
    return files


def vendor_root() -> Path | None:
    """Where the npm files are: :data:`NODE_MODULES` when it has them all, else :data:`VENDORED`; ``None`` if neither."""
    wanted = vendor_files().values()
    for root in (NODE_MODULES, VENDORED):
        if all((root / path).is_file() for path in wanted):
            return root
    return None
