"""The test tree mirrors the package: tests/<area>/ for parallax/<area>/, nothing else."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "parallax"


def _folders(base: Path) -> set[Path]:
    return {
        p.relative_to(base)
        for p in base.rglob("*")
        if p.is_dir() and not any(part.startswith((".", "__")) or part == "node_modules" for part in p.parts)
    }


def test_every_test_folder_names_a_package_folder():
    tests = _folders(ROOT / "tests")
    assert tests, "no test folders found"
    stray = sorted(str(t) for t in tests if not (PACKAGE / t).is_dir())
    assert not stray, f"test folders with no parallax/ folder of the same path: {stray}; move the tests"


def test_every_top_level_package_has_its_test_folder():
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    missing = sorted(name for name in packages if not (ROOT / "tests" / name).is_dir())
    assert not missing, f"parallax/{missing} have no tests/<name>/ folder"
