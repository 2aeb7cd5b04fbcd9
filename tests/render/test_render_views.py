"""Views of DepthResults: disparity from depth (RGB-D), crops and resizes, formats without a right view."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from parallax.errors import ParameterError
from parallax.outputs.registry import write_output
from parallax.render.views import NOMINAL_DISPARITY_FRACTION, prepare_views, render_result_views, result_disparity
from parallax.stereo.types import DepthResult


def _rgbd(result: DepthResult, *, metric: bool) -> DepthResult:
    """The same scene as an RGB-D result: one view and depth, no disparity."""
    return DepthResult(
        image=result.image,
        right_image=None,
        disparity_px=None,
        confidence=result.confidence,
        depth=result.depth,
        depth_is_metric=metric,
        camera=result.camera if metric else None,
        baseline_m=result.baseline_m if metric else None,
        doffs_px=result.doffs_px if metric else 0.0,
        source=result.source,
    )


def test_metric_depth_gives_back_the_disparity(motorcycle_result):
    rgbd = _rgbd(motorcycle_result, metric=True)
    np.testing.assert_allclose(result_disparity(rgbd), motorcycle_result.disparity_px, rtol=1e-4, equal_nan=True)


def test_relative_depth_gets_a_nominal_disparity(cones_result):
    rgbd = _rgbd(cones_result, metric=False)
    d = result_disparity(rgbd)
    w = cones_result.image.shape[1]
    assert np.nanmedian(d) == pytest.approx(NOMINAL_DISPARITY_FRACTION * w, rel=1e-3)
    valid = np.isfinite(d)
    # nearer = larger disparity, as for the real one
    assert np.corrcoef(d[valid], cones_result.disparity_px[valid])[0, 1] > 0.95


def test_rgbd_result_still_makes_two_view_formats(tmp_path, motorcycle_result):
    rgbd = _rgbd(motorcycle_result, metric=True)
    out = write_output(rgbd, tmp_path / "m.sbs.png")
    img = np.asarray(Image.open(out))
    h, w = rgbd.image.shape[:2]
    np.testing.assert_array_equal(img[:, :w], rgbd.image)
    synth = img[:, w:]
    # the synthesised right view is close to the real one (GT disparity: measured PSNR well above identity)
    from parallax.render.quality import psnr

    assert psnr(synth, motorcycle_result.right_image) > psnr(rgbd.image, motorcycle_result.right_image) + 3


def test_prepare_views_crops_and_scales(cactus_result):
    src = prepare_views(cactus_result, size=(60, 80), aspect=0.75, focus="infinity")
    assert src.left.shape == (80, 60, 3) and src.right.shape == (80, 60, 3)
    # 320x180 cropped to 135x180 then shrunk by 60/135: disparities shrink by the same factor
    assert np.nanmax(src.disparity_px) == pytest.approx(np.nanmax(cactus_result.disparity_px) * 60 / 135, rel=0.02)
    assert src.focus_disparity_px == 0.0
    views = render_result_views(cactus_result, [0.0, 1.0], source="left")
    np.testing.assert_array_equal(views[0].shape, cactus_result.image.shape)
    with pytest.raises(ParameterError, match="source"):
        prepare_views(cactus_result, source="right")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="focus"):
        prepare_views(cactus_result, focus="near")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="aspect"):
        prepare_views(cactus_result, aspect=-1.0)
