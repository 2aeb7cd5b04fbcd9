"""Writers that need only the rectified views: the registry declares them and writes them from the pair."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from parallax.errors import ParameterError
from parallax.outputs import find_format, list_formats, write_output, write_views_output
from parallax.stereo.types import DepthResult


@pytest.fixture()
def pair() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    left = rng.integers(0, 256, (24, 40, 3), dtype=np.uint8)
    return left, np.roll(left, -3, axis=1)


def test_views_writers_write_what_the_depth_result_writers_write(tmp_path, pair):
    left, right = pair
    h, w = left.shape[:2]
    result = DepthResult(
        image=left,
        right_image=right,
        disparity_px=np.full((h, w), 3.0, np.float32),
        confidence=np.ones((h, w), np.float32),
        depth=np.ones((h, w), np.float32),
        depth_is_metric=False,
    )
    view_formats = [f for f in list_formats() if not f.needs_depth]
    assert {f.name for f in view_formats} == {"sbs", "sbs-cross", "over-under", "jps", "anaglyph"}
    for fmt in view_formats:
        a = write_output(result, tmp_path / f"a{fmt.extensions[0]}", format=fmt.name)
        b = write_views_output(left, right, tmp_path / f"b{fmt.extensions[0]}", format=fmt.name)
        assert a.read_bytes() == b.read_bytes(), fmt.name
    with Image.open(tmp_path / "b.sbs.png") as sbs:  # read back: left view on the left
        np.testing.assert_array_equal(np.asarray(sbs)[:, :w], left)
        np.testing.assert_array_equal(np.asarray(sbs)[:, w:], right)


def test_a_format_that_needs_depth_refuses_views(tmp_path, pair):
    assert find_format("x.ply").needs_depth
    with pytest.raises(ParameterError, match="needs disparity/depth"):
        write_views_output(*pair, tmp_path / "x.ply")
    assert list(tmp_path.iterdir()) == []
