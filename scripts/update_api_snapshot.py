#!/usr/bin/env python
"""Record the public API: the ``__all__`` of every public module of ``parallax`` -> tests/api_snapshot.json.

tests/test_api_snapshot.py compares the live ``__all__`` lists with that file, so adding or
removing a public name is a deliberate act. After changing the API on purpose, run (from the
repository root, in the project's environment)::

    python scripts/update_api_snapshot.py

and commit the updated ``tests/api_snapshot.json``. ``--check`` only compares (exit 1 on a
difference), printing the same report as the test.

A module is public when no part of its dotted name starts with ``_``. A public module without
``__all__`` is recorded as ``null``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = ROOT / "tests" / "api_snapshot.json"
COMMAND = "python scripts/update_api_snapshot.py"


def public_modules() -> list[str]:
    """Dotted names of every public module and package of ``parallax``, sorted (packages are imported)."""
    import parallax

    names = ["parallax"]
    for info in pkgutil.walk_packages(parallax.__path__, "parallax.", onerror=_raise):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def _raise(name: str) -> None:
    raise ImportError(f"cannot import {name} while listing the public modules")


def live_api() -> dict[str, list[str] | None]:
    """``{module: sorted __all__ or None}`` of every public module (each module is imported)."""
    api: dict[str, list[str] | None] = {}
    for name in public_modules():
        names: Any = getattr(importlib.import_module(name), "__all__", None)
        api[name] = None if names is None else sorted(str(n) for n in names)
    return api


def read_snapshot(path: Path = SNAPSHOT) -> dict[str, list[str] | None]:
    """The recorded API (``{}`` when the file does not exist yet)."""
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def write_snapshot(api: dict[str, list[str] | None], path: Path = SNAPSHOT) -> None:
    """Write ``api`` as sorted, indented JSON (one name per line, so diffs and merges stay readable)."""
    path.write_text(json.dumps(api, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def describe_difference(recorded: dict[str, list[str] | None], live: dict[str, list[str] | None]) -> list[str]:
    """Human-readable lines for every difference between the recorded and the live API (empty when equal)."""
    lines: list[str] = []
    for module in sorted(set(recorded) | set(live)):
        if module not in live:
            lines.append(f"- module {module} is gone (it was public)")
            continue
        if module not in recorded:
            lines.append(f"+ module {module} is new: __all__ = {live[module]}")
            continue
        before, after = recorded[module], live[module]
        if before == after:
            continue
        if before is None or after is None:
            lines.append(f"~ {module}.__all__ was {before}, is now {after}")
            continue
        lines += [f"- {module}.{n} removed from __all__" for n in sorted(set(before) - set(after))]
        lines += [f"+ {module}.{n} added to __all__" for n in sorted(set(after) - set(before))]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 when the API differs")
    args = parser.parse_args(argv)
    live = live_api()
    changes = describe_difference(read_snapshot(), live)
    if args.check:
        print("\n".join(changes) if changes else f"{SNAPSHOT.relative_to(ROOT)} matches the live API")
        return 1 if changes else 0
    write_snapshot(live)
    print("\n".join(changes) if changes else "no change")
    print(f"wrote {SNAPSHOT.relative_to(ROOT)} ({len(live)} modules, {sum(len(v or ()) for v in live.values())} names)")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # snapshot this checkout's package, whatever else is installed
    sys.exit(main())
