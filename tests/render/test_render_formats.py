"""Display formats written through the output registry and read back with their ecosystems' libraries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from parallax.errors import OutputError, ParameterError
from parallax.outputs.registry import OutputOptions, find_format, write_output
from parallax.render.quilt import QUILT_PRESETS, assemble_quilt, quilt_path, quilt_tile
from parallax.render.stereo_formats import (
    DUBOIS_RED_CYAN_LEFT,
    DUBOIS_RED_CYAN_RIGHT,
    anaglyph,
    over_under,
    side_by_side,
)


@pytest.mark.parametrize(
    "name, fmt",
    [
        ("x.glb", "mesh"),
        ("x.spz", "spz"),
        ("x.lif.jpg", "lif"),
        ("x.sbs.png", "sbs"),
        ("x.cross.jpg", "sbs-cross"),
        ("x.ou.png", "over-under"),
        ("x.jps", "jps"),
        ("x.anaglyph.png", "anaglyph"),
        ("x.gif", "wiggle"),
        ("x.mp4", "video"),
        ("x.ply", "pointcloud"),
    ],
)
def test_formats_are_found_by_extension(name, fmt):
    assert find_format(name).name == fmt


def test_splat_and_quilt_need_format():
    assert find_format("x.ply", "splat").name == "splat"
    assert find_format("x.png", "quilt").name == "quilt"


@pytest.mark.parametrize(
    "name, order", [("pair.sbs.png", "parallel"), ("pair.cross.png", "cross"), ("pair.ou.png", "ou")]
)
def test_two_view_layouts_read_back(tmp_path, cones_result, name, order):
    out = write_output(cones_result, tmp_path / name)
    img = np.asarray(Image.open(out).convert("RGB"))
    left, right = cones_result.image, cones_result.right_image
    h, w = left.shape[:2]
    if order == "ou":
        assert img.shape == (2 * h, w, 3)
        np.testing.assert_array_equal(img[:h], left)
        np.testing.assert_array_equal(img[h:], right)
    else:
        assert img.shape == (h, 2 * w, 3)
        first, second = (left, right) if order == "parallel" else (right, left)
        np.testing.assert_array_equal(img[:, :w], first)
        np.testing.assert_array_equal(img[:, w:], second)


def test_jps_reads_back_through_parallax_as_the_same_pair(tmp_path, cones_result):
    from parallax.capture import read_capture

    out = write_output(cones_result, tmp_path / "pair.jps")
    cap = read_capture(out)
    assert cap.format == "sbs-cross"
    # JPEG at quality 92: close, not equal; and the order is right (cross-eyed: right view first in the file)
    err = lambda a, b: np.abs(a.astype(int) - b).mean()  # noqa: E731
    assert err(cap.left, cones_result.image) < 6 and err(cap.right, cones_result.right_image) < 6
    assert err(cap.left, cones_result.image) < 0.5 * err(cap.left, cones_result.right_image)


def test_layout_helpers_reject_mismatched_views(cones_result):
    with pytest.raises(ParameterError, match="differ in shape"):
        side_by_side(cones_result.image, cones_result.right_image[:-2])
    with pytest.raises(ParameterError, match="order"):
        side_by_side(cones_result.image, cones_result.right_image, order="zigzag")  # type: ignore[arg-type]
    assert over_under(cones_result.image, cones_result.right_image).shape[0] == 2 * cones_result.image.shape[0]


def test_dubois_matrices_are_the_published_red_cyan_ones():
    np.testing.assert_array_equal(
        DUBOIS_RED_CYAN_LEFT, [[0.437, 0.449, 0.164], [-0.062, -0.062, -0.024], [-0.048, -0.050, -0.017]]
    )
    np.testing.assert_array_equal(
        DUBOIS_RED_CYAN_RIGHT, [[-0.011, -0.032, -0.007], [0.377, 0.761, 0.009], [-0.026, -0.093, 1.234]]
    )


def _solid(rgb: tuple[int, int, int]) -> np.ndarray:
    return np.full((4, 4, 3), rgb, dtype=np.uint8)


def test_anaglyph_values_in_linear_light():
    black, white = _solid((0, 0, 0)), _solid((255, 255, 255))
    np.testing.assert_array_equal(anaglyph(white, black)[0, 0], [255, 0, 0])  # left eye: red only
    np.testing.assert_array_equal(anaglyph(black, white)[0, 0], [0, 255, 255])  # right eye: cyan
    grey = _solid((128, 128, 128))
    assert np.abs(anaglyph(grey, grey)[0, 0].astype(int) - 128).max() <= 1  # neutral grey stays grey
    # 200 red -> linear 0.578 -> 0.437 * 0.578 = 0.253 -> sRGB 137 (a gamma-blind matrix would give 87)
    assert int(anaglyph(_solid((200, 0, 0)), black)[0, 0, 0]) == pytest.approx(137, abs=1)


def test_anaglyph_file_reads_back(tmp_path, cones_result):
    out = write_output(cones_result, tmp_path / "a.anaglyph.png")
    img = np.asarray(Image.open(out))
    np.testing.assert_array_equal(img, anaglyph(cones_result.image, cones_result.right_image))


def test_quilt_tile_order_bottom_left_is_view_zero():
    cols, rows = 4, 3
    views = np.stack([np.full((5, 7, 3), i * 10, np.uint8) for i in range(cols * rows)])
    quilt = assemble_quilt(views, cols, rows)
    assert quilt.shape == (rows * 5, cols * 7, 3)
    tile = lambda r, c: quilt[r * 5 : (r + 1) * 5, c * 7 : (c + 1) * 7]  # noqa: E731  (r from the top)
    assert (tile(rows - 1, 0) == 0).all()  # bottom-left: view 0
    assert (tile(rows - 1, cols - 1) == (cols - 1) * 10).all()  # bottom row left to right
    assert (tile(rows - 2, 0) == cols * 10).all()  # next row up
    assert (tile(0, cols - 1) == (cols * rows - 1) * 10).all()  # top-right: last view
    assert quilt_tile(0, cols, rows) == (rows - 1, 0)
    with pytest.raises(ParameterError, match="needs 12 views"):
        assemble_quilt(views[:5], cols, rows)


def test_quilt_presets_and_names():
    p = QUILT_PRESETS["portrait"]
    assert (p.width, p.height, p.cols, p.rows, p.aspect) == (3360, 3360, 8, 6, 0.75)
    assert p.tile_size == (420, 560) and p.views == 48
    assert QUILT_PRESETS["go"].suffix == "_qs11x6a0.5625"
    assert quilt_path("out/scene.png", p) == Path("out/scene_qs8x6a0.75.png")
    assert quilt_path("scene_qs8x6a0.75.png", p) == Path("scene_qs8x6a0.75.png")
    with pytest.raises(OutputError, match="preset 'portrait' is qs8x6a0.75"):
        quilt_path("scene_qs11x6a0.5625.png", p)


def test_quilt_file_of_a_real_capture(tmp_path, cactus_result):
    from parallax.render.synthesis import sweep_positions
    from parallax.render.views import prepare_views

    preset = QUILT_PRESETS["portrait"]
    out = write_output(
        cactus_result,
        tmp_path / "cactus_qs8x6a0.75.png",
        format="quilt",
        options=OutputOptions(extra={"preset": "portrait"}),
    )
    quilt = np.asarray(Image.open(out))
    assert quilt.shape == (3360, 3360, 3)
    tw, th = preset.tile_size
    views = prepare_views(cactus_result, size=(tw, th), aspect=preset.aspect).render(
        sweep_positions(48, start=-0.25, stop=1.25, kind="linear")
    )
    np.testing.assert_array_equal(quilt[3360 - th :, :tw], views[0])  # bottom-left = leftmost camera
    np.testing.assert_array_equal(quilt[:th, 3360 - tw :], views[47])  # top-right = rightmost camera
    assert np.abs(views[0].astype(int) - views[47]).mean() > 1  # the views really differ
    with pytest.raises(ParameterError, match="preset 'nope' is unknown"):
        write_output(cactus_result, tmp_path / "q.png", format="quilt", options=OutputOptions(extra={"preset": "nope"}))
    assert not (tmp_path / "q.png").exists()


def test_wiggle_gif_frames(tmp_path, cactus_result):
    out = write_output(
        cactus_result, tmp_path / "w.gif", options=OutputOptions(extra={"frames": "12", "max_size": "160"})
    )
    with Image.open(out) as gif:
        assert gif.n_frames == 12
        assert gif.size == (160, 90)
        assert gif.info.get("loop") == 0
        frames = []
        for i in range(gif.n_frames):
            gif.seek(i)
            frames.append(np.asarray(gif.convert("RGB")).astype(int))
    assert np.abs(frames[0] - frames[6]).mean() > 1  # a real sweep, ends differ


def test_mp4_frames_and_even_size(tmp_path, cactus_result):
    av = pytest.importorskip("av")
    out = write_output(
        cactus_result,
        tmp_path / "w.mp4",
        options=OutputOptions(extra={"frames": "10", "max_size": "161", "loops": "2"}),
    )
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    assert len(frames) == 20
    h, w = frames[0].shape[:2]
    assert w % 2 == 0 and h % 2 == 0 and max(w, h) <= 161


def test_lif_reads_back_through_parallax(tmp_path, cactus_result):
    from parallax.capture import read_capture
    from parallax.render.lif import decode_lif_disparity

    out = write_output(cactus_result, tmp_path / "c.lif.jpg")
    cap = read_capture(out)
    assert cap.format == "lif" and cap.is_stereo
    assert cap.left.shape == cactus_result.image.shape
    assert np.abs(cap.left.astype(int) - cactus_result.image).mean() < 3
    assert np.abs(cap.right.astype(int) - cactus_result.right_image).mean() < 3
    maps = {m.view: m for m in cap.maps}
    assert set(maps) == {"left", "right"}
    disp = decode_lif_disparity(maps["left"].data, cap.metadata["lif"])
    span = float(np.ptp(cactus_result.disparity_px))
    np.testing.assert_allclose(disp, cactus_result.disparity_px, atol=span / 255 * 0.51 + 1e-4)
    # Leia's convention holds: larger value = nearer
    assert np.corrcoef(maps["left"].data.ravel(), cactus_result.disparity_px.ravel())[0, 1] > 0.99
    assert decode_lif_disparity(maps["left"].data, {}) is None


@pytest.mark.parametrize(
    "name, extra, match",
    [
        ("w.gif", {"frames": "many"}, "frames='many' is not an integer"),
        ("w.gif", {"frames": "1"}, "frames=1 must be >= 2"),
        ("w.gif", {"source": "right"}, "source must be"),
        ("x.lif.jpg", {"quality": "0"}, "quality=0"),
        ("x.sbs.jpg", {"quality": "101"}, "quality must be in 1..100"),
        ("x.glb", {"max_vertices": "lots"}, "max_vertices"),
    ],
)
def test_bad_format_options_are_parameter_errors(tmp_path, cactus_result, name, extra, match):
    with pytest.raises(ParameterError, match=match):
        write_output(cactus_result, tmp_path / name, options=OutputOptions(extra=extra))
    assert list(tmp_path.iterdir()) == []


def test_quilt_option_errors(tmp_path, cactus_result):
    with pytest.raises(ParameterError, match="start='left'"):
        write_output(cactus_result, tmp_path / "q.png", format="quilt", options=OutputOptions(extra={"start": "left"}))
