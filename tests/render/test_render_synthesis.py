"""View synthesis: a seeded synthetic scene with exact answers, real stereo-gt scenes, metrics."""

from __future__ import annotations

import numpy as np
import pytest

from parallax.errors import ParameterError
from parallax.render.quality import psnr, ssim
from parallax.render.synthesis import (
    fill_disparity,
    right_view_disparity,
    sweep_positions,
    synthesize_view,
    synthesize_views,
)

H, W = 64, 96
D_BG, D_FG = 4.0, 16.0
SQ_Y, SQ_X, SQ = slice(20, 44), slice(40, 64), 24
RED = np.array([255, 0, 0], dtype=np.uint8)


@pytest.fixture(scope="module")
def scene() -> dict:
    """Fronto-parallel red square at disparity 16 over a striped plane at disparity 4 (seeded)."""
    rng = np.random.default_rng(1234)
    base = rng.integers(0, 200, size=(W + 64, 3)).astype(np.uint8)

    def view(p: float) -> tuple[np.ndarray, np.ndarray]:
        # camera at position p sees the plane point u at x = u - p * D_BG, the square at x = u - p * D_FG
        xs = np.arange(W)
        img = base[np.clip(np.round(xs + p * D_BG).astype(int) + 32, 0, W + 63)][None].repeat(H, 0)
        disp = np.full((H, W), D_BG, np.float32)
        x0 = SQ_X.start - p * D_FG
        inside = (xs >= x0) & (xs < x0 + SQ)
        img[SQ_Y, inside] = RED
        disp[SQ_Y, inside] = D_FG
        return img, disp

    left, disp = view(0.0)
    right, disp_r = view(1.0)
    return {"left": left, "disp": disp, "right": right, "disp_r": disp_r, "view": view}


def _is_red(img: np.ndarray) -> np.ndarray:
    return np.all(img == RED, axis=-1)


@pytest.mark.parametrize("position", [1.0, 0.5, -0.25, 1.25])
def test_square_moves_exactly_without_cracks_or_bleeding(scene, position):
    view = synthesize_view(scene["left"], scene["disp"], position)
    expected_img, _ = scene["view"](position)
    red = _is_red(view)
    # the square lands exactly where the camera at `position` sees it: no crack inside, no red outside
    np.testing.assert_array_equal(red, _is_red(expected_img))
    # rows without the square: the plane moved by exactly position * 4 px, wherever the left view saw it
    shift = int(round(position * D_BG))
    cols = slice(0, W - shift) if shift >= 0 else slice(-shift, W)
    rows = np.r_[0 : SQ_Y.start, SQ_Y.stop : H]
    np.testing.assert_array_equal(view[rows][:, cols], expected_img[rows][:, cols])


def test_disocclusion_is_filled_from_the_background_side(scene):
    view = synthesize_view(scene["left"], scene["disp"], 1.0)
    # at position 1 the square moved 16 px left, the plane 4: columns 48..59 of its rows are disoccluded
    gap = view[SQ_Y, 48:60]
    assert not _is_red(gap).any()
    # filled with the plane's colour next to the hole on the far (background) side, never the square's
    np.testing.assert_array_equal(gap, np.broadcast_to(view[SQ_Y, 60:61], gap.shape))


def test_both_views_fill_each_others_holes(scene):
    alone = synthesize_view(scene["left"], scene["disp"], 1.0)
    both = synthesize_view(
        scene["left"], scene["disp"], 1.0, right_image=scene["right"], right_disparity_px=scene["disp_r"]
    )
    # at position 1 the right view sees everything: the result is the right view
    np.testing.assert_array_equal(both, scene["right"])
    assert np.any(alone != scene["right"])
    # halfway, the blend keeps the square exact and crack-free
    mid = synthesize_view(scene["left"], scene["disp"], 0.5, right_image=scene["right"])
    expected, _ = scene["view"](0.5)
    np.testing.assert_array_equal(_is_red(mid), _is_red(expected))


def test_right_view_disparity_matches_the_scene(scene):
    np.testing.assert_allclose(right_view_disparity(scene["disp"]), scene["disp_r"])


def test_fill_disparity_takes_the_background_side():
    d = np.array([[5.0, np.nan, np.nan, 9.0], [np.nan, 3.0, np.inf, 7.0], [np.nan] * 4], np.float32)
    out = fill_disparity(d)
    np.testing.assert_array_equal(out, [[5, 5, 5, 9], [3, 3, 3, 7], [3, 3, 3, 3]])


def test_views_batch_equals_single_views(scene):
    pos = [0.0, 0.3, 1.1]
    batch = synthesize_views(scene["left"], scene["disp"], pos)
    assert batch.shape == (3, H, W, 3)
    for i, p in enumerate(pos):
        np.testing.assert_array_equal(batch[i], synthesize_view(scene["left"], scene["disp"], p))
    np.testing.assert_array_equal(batch[0], scene["left"])


def test_views_render_into_a_canvas_at_their_origins(scene):
    pos = [0.0, 0.6, 1.2]
    stack = synthesize_views(scene["left"], scene["disp"], pos, right_image=scene["right"])
    canvas = np.full((2 * H + 3, 2 * W + 5, 3), 7, np.uint8)
    origins = [(H + 3, 0), (H + 3, W + 5), (0, 2)]
    got = synthesize_views(scene["left"], scene["disp"], pos, right_image=scene["right"], out=canvas, origins=origins)
    assert got is canvas
    for view, (r, c) in zip(stack, origins, strict=True):
        np.testing.assert_array_equal(canvas[r : r + H, c : c + W], view)
    assert np.all(canvas[H : H + 3, :] == 7)  # pixels outside the tiles are left as they were


@pytest.mark.parametrize(
    "out, origins, match",
    [
        (None, [(0, 0)], "origins was given without out"),
        (np.zeros((H, W, 3), np.uint8), None, "out was given without origins"),
        (np.zeros((H, W, 3), np.float32), [(0, 0)], "out must be an HxWx3 uint8"),
        (np.zeros((H, 2 * W, 3), np.uint8)[:, ::2], [(0, 0)], "C-contiguous"),
        (np.zeros((H, W, 3), np.uint8), [(0, 0), (0, 0)], "1 integer"),
        (np.zeros((H, W, 3), np.uint8), [(1, 0)], "outside out"),
    ],
)
def test_canvas_errors(scene, out, origins, match):
    with pytest.raises(ParameterError, match=match):
        synthesize_views(scene["left"], scene["disp"], [0.5], out=out, origins=origins)


def test_focus_keeps_its_plane_still(scene):
    view = synthesize_view(scene["left"], scene["disp"], 1.0, focus_disparity_px=D_FG)
    np.testing.assert_array_equal(_is_red(view), _is_red(scene["left"]))


def test_sweep_positions():
    cos = sweep_positions(8, start=-0.25, stop=1.25)
    assert cos[0] == pytest.approx(-0.25) and cos[4] == pytest.approx(1.25)
    np.testing.assert_allclose(cos[1:4], cos[7:4:-1], atol=1e-6)  # symmetric loop
    lin = sweep_positions(5, start=0, stop=1, kind="linear")
    np.testing.assert_allclose(lin, [0, 0.25, 0.5, 0.75, 1.0])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"disparity_px": np.zeros((3, 3), np.float32)}, "shape"),
        ({"position": float("nan")}, "position"),
        ({"right_disparity_px": np.zeros((H, W), np.float32)}, "without right_image"),
        ({"image": np.zeros((H, W), np.uint8)}, "HxWx3"),
        ({"edge_px": -1.0}, "edge_px"),
    ],
)
def test_synthesis_errors(scene, kwargs, match):
    args = {"image": scene["left"], "disparity_px": scene["disp"], "position": 1.0}
    args.update(kwargs)
    image, disp, pos = args.pop("image"), args.pop("disparity_px"), args.pop("position")
    with pytest.raises(ParameterError, match=match):
        synthesize_view(image, disp, pos, **args)


def test_other_input_errors(scene):
    with pytest.raises(ParameterError, match="positions is empty"):
        synthesize_views(scene["left"], scene["disp"], [])
    with pytest.raises(ParameterError, match="frames"):
        sweep_positions(1)
    with pytest.raises(ParameterError, match="kind"):
        sweep_positions(4, kind="bounce")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="right_image has shape"):
        synthesize_view(scene["left"], scene["disp"], 1.0, right_image=scene["left"][:10])


def _naive_backward(left: np.ndarray, disp: np.ndarray) -> np.ndarray:
    import cv2

    d = fill_disparity(disp)
    xs = np.arange(d.shape[1], dtype=np.float32)[None, :] + d
    ys = np.repeat(np.arange(d.shape[0], dtype=np.float32)[:, None], d.shape[1], axis=1)
    return cv2.remap(left, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@pytest.mark.parametrize("name", ["middlebury2001-tsukuba", "middlebury2003-cones", "middlebury2003-teddy"])
def test_right_view_from_left_beats_naive_baselines(gt_scene, name):
    left, right, disp, _ = gt_scene(name)
    ours = synthesize_view(left, disp, 1.0)
    backward = _naive_backward(left, disp)
    for metric in (psnr, ssim):
        mine = metric(ours, right)
        assert mine > metric(left, right), (name, metric.__name__)
        assert mine > metric(backward, right), (name, metric.__name__)


def test_metrics_against_scikit_image(gt_scene):
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    left, right, _, _ = gt_scene("middlebury2003-cones")
    assert psnr(left, right) == pytest.approx(peak_signal_noise_ratio(right, left, data_range=255), abs=1e-9)
    ref = structural_similarity(
        left, right, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=-1
    )
    # scikit-image averages over the interior (5-pixel border cropped); do the same
    inner = np.zeros(left.shape[:2], bool)
    inner[5:-5, 5:-5] = True
    assert ssim(left, right, mask=inner) == pytest.approx(ref, abs=2e-3)
    assert ssim(right, right) == pytest.approx(1.0)
    assert psnr(right, right) == float("inf")
    with pytest.raises(ParameterError, match="differ in shape"):
        ssim(left, right[:10])
    with pytest.raises(ParameterError, match="no pixel"):
        psnr(left, right, mask=np.zeros(left.shape[:2], bool))
