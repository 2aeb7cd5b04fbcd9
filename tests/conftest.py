"""Shared test fixtures: the real captures in ../shared/data, read in place."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
CAPTURES = DATA / "captures"
STEREO_GT = DATA / "stereo-gt"


def pytest_configure(config: pytest.Config) -> None:
    if not DATA.is_dir():
        raise pytest.UsageError(f"test data not found at {DATA}; the tests read ../shared/data beside the project")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """``../shared/data`` (read-only; never copy from it into the repository)."""
    return DATA


@pytest.fixture(scope="session")
def captures_dir() -> Path:
    """``../shared/data/captures``."""
    return CAPTURES


@pytest.fixture(scope="session")
def stereo_gt_dir() -> Path:
    """``../shared/data/stereo-gt``."""
    return STEREO_GT
