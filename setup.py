"""Build hook of the Parallax package (all metadata lives in pyproject.toml).

A wheel must carry the web viewer's npm files (three.js, Spark), or ``parallax serve``
has no viewer to serve once installed. ``parallax/web/vendor.json`` lists them; this
hook copies exactly those from ``parallax/web/node_modules`` (installed by ``npm ci``
from the lockfile; scripts/setup.sh runs it) into ``parallax/web/vendor/`` (ignored by
git) before the package data is collected, where pyproject.toml's package-data picks
them up. An editable install serves them straight from node_modules and skips this.
No network is needed: the files come from the local npm install.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

WEB = Path(__file__).resolve().parent / "parallax" / "web"


def vendor_web_assets() -> None:
    """Copy the files of vendor.json from node_modules into parallax/web/vendor (replacing what was there)."""
    spec = json.loads((WEB / "vendor.json").read_text(encoding="utf-8"))
    wanted = sorted({*spec["files"].values(), *spec["licenses"].values()})
    source, target = WEB / "node_modules", WEB / "vendor"
    missing = [path for path in wanted if not (source / path).is_file()]
    if missing:
        if all((target / path).is_file() for path in wanted):
            return  # building from an sdist: already vendored
        raise SystemExit(
            f"error: the web viewer's npm files are missing ({', '.join(missing)}); run `npm ci` in parallax/web "
            "(scripts/setup.sh does) before building the package"
        )
    if target.exists():
        shutil.rmtree(target)
    for path in wanted:
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / path, target / path)


class BuildPyWithWebAssets(build_py):
    """build_py that vendors the web assets first (not for editable installs)."""

    def run(self) -> None:
        if not getattr(self, "editable_mode", False):
            vendor_web_assets()
            self.__dict__.pop("data_files", None)  # collect package data again, vendor/ included
        super().run()


class SdistWithWebAssets(sdist):
    """sdist that vendors the web assets first, so a wheel built from it needs no npm."""

    def run(self) -> None:
        vendor_web_assets()
        super().run()


setup(cmdclass={"build_py": BuildPyWithWebAssets, "sdist": SdistWithWebAssets})
