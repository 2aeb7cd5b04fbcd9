"""Shared test fixtures: the real captures in ../shared/data, read in place."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from parallax.capture.types import CameraIntrinsics
from parallax.stereo.types import DepthResult

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


# ---- DepthResults of real scenes and captures (render, scene and output tests)
def load_gt_scene(stereo_gt_dir: Path, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Left, right (uint8 RGB), GT disparity (float32, NaN = no value) and the scenes.json entry."""
    from parallax.bench.datasets import load_scenes

    spec = json.loads((stereo_gt_dir / "scenes.json").read_text())["scenes"][name]
    scene = next(load_scenes(stereo_gt_dir / "scenes.json", [name]))
    return scene.left, scene.right, np.array(scene.gt_disparity_px), spec


def result_from_gt(stereo_gt_dir: Path, name: str, *, scale: float = 1.0) -> DepthResult:
    """A DepthResult of a stereo-gt scene with its GT disparity (metric when calibrated), resized by ``scale``."""
    left, right, disp, spec = load_gt_scene(stereo_gt_dir, name)
    h, w = disp.shape
    if scale != 1.0:
        size = (round(w * scale), round(h * scale))
        left = cv2.resize(left, size, interpolation=cv2.INTER_AREA)
        right = cv2.resize(right, size, interpolation=cv2.INTER_AREA)
        disp = cv2.resize(disp, size, interpolation=cv2.INTER_NEAREST) * np.float32(size[0] / w)
        h, w = disp.shape
    calib = spec.get("calib")
    if calib:
        sx = scale
        camera = CameraIntrinsics(
            focal_px=calib["f"] * sx,
            cx_px=(calib["cx"] + 0.5) * sx - 0.5,
            cy_px=(calib["cy"] + 0.5) * sx - 0.5,
            width=w,
            height=h,
        )
        baseline_m = calib["baseline_mm"] / 1000.0
        doffs = calib["doffs"] * sx
        depth = camera.focal_px * baseline_m / (disp + doffs)
        metric = True
    else:
        camera, baseline_m, doffs = None, None, 0.0
        depth = 1.0 / disp
        depth = depth / np.nanmedian(depth)
        metric = False
    return DepthResult(
        image=left,
        right_image=right,
        disparity_px=disp.astype(np.float32),
        confidence=np.where(np.isfinite(disp), 1.0, 0.0).astype(np.float32),
        depth=depth.astype(np.float32),
        depth_is_metric=metric,
        camera=camera,
        baseline_m=baseline_m,
        doffs_px=doffs,
        source=name,
    )


@pytest.fixture(scope="session")
def cones_result(stereo_gt_dir: Path) -> DepthResult:
    """Middlebury 2003 Cones at half size (225x188), GT disparity, relative depth."""
    return result_from_gt(stereo_gt_dir, "middlebury2003-cones", scale=0.5)


@pytest.fixture(scope="session")
def motorcycle_result(stereo_gt_dir: Path) -> DepthResult:
    """Middlebury 2014 Motorcycle at 40 % (296x200), GT disparity, METRIC depth from its calibration."""
    return result_from_gt(stereo_gt_dir, "middlebury2014-motorcycle-q", scale=0.4)


@pytest.fixture(scope="session")
def cactus_result(captures_dir: Path) -> DepthResult:
    """Leia's Cactus.jpg read by Parallax, at 320x180, with its normalised disparity map scaled to 0..12 px."""
    from parallax.capture import read_capture

    cap = read_capture(captures_dir / "lif" / "Cactus.jpg")
    size = (320, 180)
    left = cv2.resize(cap.left, size, interpolation=cv2.INTER_AREA)
    right = cv2.resize(cap.right, size, interpolation=cv2.INTER_AREA)
    norm = cv2.resize(cap.maps[0].data, size, interpolation=cv2.INTER_AREA)
    disp = ((norm - norm.min()) / (norm.max() - norm.min()) * 12.0).astype(np.float32)
    depth = 1.0 / (disp + 2.0)
    return DepthResult(
        image=left,
        right_image=right,
        disparity_px=disp,
        confidence=np.ones_like(disp),
        depth=(depth / np.median(depth)).astype(np.float32),
        depth_is_metric=False,
        source="Cactus.jpg",
    )


@pytest.fixture(scope="session")
def gt_scene(stereo_gt_dir: Path):
    """``gt_scene(name) -> (left, right, disparity, spec)`` for a stereo-gt scene."""
    return lambda name: load_gt_scene(stereo_gt_dir, name)
