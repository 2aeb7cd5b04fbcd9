"""The public API is recorded: every ``__all__`` of every public module matches tests/api_snapshot.json.

Removing (or adding) a public name is a deliberate act: change the code, then regenerate the
snapshot with ``python scripts/update_api_snapshot.py`` and commit it with the change.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _snapshot_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("update_api_snapshot", ROOT / "scripts" / "update_api_snapshot.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


tool = _snapshot_tool()


@pytest.fixture(scope="module")
def live() -> dict[str, list[str] | None]:
    return tool.live_api()


def test_public_api_matches_the_snapshot(live):
    recorded = tool.read_snapshot()
    assert recorded, f"{tool.SNAPSHOT} is missing; create it with: {tool.COMMAND}"
    changes = tool.describe_difference(recorded, live)
    assert not changes, (
        "the public API (the __all__ of the public modules) differs from tests/api_snapshot.json:\n  "
        + "\n  ".join(changes)
        + f"\nIf this is deliberate, regenerate the snapshot with `{tool.COMMAND}` and commit it with the change; "
        "otherwise restore the names (a removed name breaks users' code)."
    )


def test_every_name_in_every_all_exists(live):
    missing = [
        f"{module}.{name}"
        for module, names in live.items()
        for name in names or ()
        if not hasattr(importlib.import_module(module), name)
    ]
    assert not missing, f"names listed in __all__ but not defined: {', '.join(missing)}"


def test_no_all_lists_a_name_twice():
    twice = []
    for module in tool.public_modules():
        names = list(getattr(importlib.import_module(module), "__all__", ()))
        twice += [f"{module}.{n}" for n in sorted({n for n in names if names.count(n) > 1})]
    assert not twice, f"listed twice in __all__: {', '.join(twice)}"


def test_the_comparison_names_removed_and_added_names():
    recorded = {"parallax.a": ["keep", "old"], "parallax.b": ["x"], "parallax.c": None}
    live = {"parallax.a": ["keep", "new"], "parallax.c": ["y"], "parallax.d": []}
    assert tool.describe_difference(recorded, live) == [
        "- parallax.a.old removed from __all__",
        "+ parallax.a.new added to __all__",
        "- module parallax.b is gone (it was public)",
        "~ parallax.c.__all__ was None, is now ['y']",
        "+ module parallax.d is new: __all__ = []",
    ]
    assert tool.describe_difference(live, live) == []
