"""The parts of ``parallax bench value``: metrics, pairs, the warp, statistics, settings, the held-out check."""

from __future__ import annotations

import math

import numpy as np
import pytest

from parallax.bench.value.evaluate import EvalScene
from parallax.bench.value.heldout import HeldOutLeakError, TrainRecord, check_held_out
from parallax.bench.value.metrics import depth_edge_mask, edge_gradient_error, psnr, ssim
from parallax.bench.value.pairs import Pair, random_crop, resize_to_width, right_disparity
from parallax.bench.value.settings import ValueSettings, parse_size, quick_settings
from parallax.bench.value.stats import arm_summary, paired_difference
from parallax.errors import ParameterError

torch = pytest.importorskip("torch")


def _image(seed: int, shape=(48, 64)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.random((shape[0] // 4, shape[1] // 4, 3))
    return np.kron(base, np.ones((4, 4, 1))).astype(np.float64)


# -- metrics -------------------------------------------------------------------------------------


def test_psnr_of_known_noise() -> None:
    a = np.full((20, 30, 3), 0.5)
    b = a + 0.1  # MSE 0.01 -> 20 dB
    assert psnr(b, a) == pytest.approx(20.0, abs=1e-9)
    assert psnr(a, a) == math.inf


def test_ssim_matches_scikit_image() -> None:
    skimage_metrics = pytest.importorskip("skimage.metrics")
    a = _image(1)
    b = np.clip(a + np.random.default_rng(2).normal(0, 0.05, a.shape), 0, 1)
    ours = ssim(b, a)
    ref = skimage_metrics.structural_similarity(
        b, a, channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0
    )
    assert ours == pytest.approx(ref, abs=1e-6)
    assert ssim(a, a) == pytest.approx(1.0)


def test_depth_edges_and_gradient_error() -> None:
    d = np.zeros((20, 30), dtype=np.float32)
    d[:, 15:] = 5.0  # one vertical depth edge between columns 14 and 15
    d[0, 0] = np.nan
    mask = depth_edge_mask(d, jump_px=1.0, radius_px=1)
    assert mask[:, 13:17].all() and not mask[:, :13].any() and not mask[:, 17:].any()
    assert not depth_edge_mask(np.full((5, 5), np.nan)).any()
    img = np.zeros((20, 30, 3))
    img[:, 15:] = 1.0
    assert edge_gradient_error(img, img, mask) == 0.0
    smeared = img.copy()
    smeared[:, 14:16] = 0.5  # the edge blurred over two columns
    assert edge_gradient_error(smeared, img, mask) > 0.05
    assert math.isnan(edge_gradient_error(img, img, np.zeros((20, 30), dtype=bool)))


def test_metrics_reject_mismatched_shapes() -> None:
    with pytest.raises(ParameterError, match="one size"):
        psnr(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)))


# -- pairs ---------------------------------------------------------------------------------------


def test_right_disparity_forward_warps_with_nearest_surface() -> None:
    d = np.full((4, 12), 2.0, dtype=np.float32)
    d[:, 6:8] = 4.0  # a nearer strip
    d[0, 0] = np.nan
    dr = right_disparity(d)
    # left x=6, 7 (d=4) land on right x=2, 3, where background x=4, 5 (d=2) land too: the nearer wins
    assert dr[1, 2] == 4.0 and dr[1, 3] == 4.0
    assert np.isnan(dr[1, 4]) and np.isnan(dr[1, 5])  # disoccluded: the strip hid them from the left camera
    assert dr[1, 6] == 2.0 and dr[1, 0] == 2.0
    assert np.isnan(dr[1, 10]) and np.isnan(dr[1, 11])  # seen by the right camera only


def test_resize_scales_disparity_and_keeps_multiples() -> None:
    left = (np.random.default_rng(0).random((100, 200, 3)) * 255).astype(np.uint8)
    d = np.full((100, 200), 10.0, dtype=np.float32)
    pair = resize_to_width(left, left, d, width=64, multiple=16)
    assert pair.left.shape == (32, 64, 3) and pair.left.dtype == np.float32
    assert np.nanmax(pair.disparity_left) == pytest.approx(10.0 * 64 / 200)
    crop = random_crop(left, left, d, crop=(32, 16), rng=np.random.default_rng(3))
    assert crop.left.shape == (16, 32, 3) and crop.disparity_right.shape == (16, 32)
    with pytest.raises(ParameterError):
        Pair(
            left=pair.left,
            right=pair.left[:, :10],
            disparity_left=pair.disparity_left,
            disparity_right=pair.disparity_right,
        )


# -- model ---------------------------------------------------------------------------------------


def test_warp_moves_rows_by_the_offset() -> None:
    from parallax.bench.value.model import warp_horizontal

    img = torch.arange(16, dtype=torch.float32).view(1, 1, 1, 16).expand(1, 1, 4, 16).contiguous()
    out = warp_horizontal(img, torch.full((1, 1, 4, 16), 3.0))
    assert torch.allclose(out[0, 0, 0, :13], img[0, 0, 0, 3:])
    assert torch.allclose(out[0, 0, 0, 13:], torch.full((3,), 15.0))  # border repeated


def test_model_learns_a_constant_shift() -> None:
    """On pairs whose right view is the left shifted by 3 px, the loss falls and the disparity approaches 3."""
    from parallax.bench.value.model import ViewSynthNet, view_synthesis_loss
    from parallax.bench.value.settings import ModelConfig

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = ViewSynthNet(ModelConfig(channels=(8, 8, 8, 8), refine_channels=4))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(60):
        wide = rng.random((4, 3, 32, 40)).astype(np.float32)
        wide = torch.from_numpy(np.repeat(np.repeat(wide[:, :, ::4, ::4], 4, 2), 4, 3)[:, :, :32, :40])
        left, right = wide[..., 3:35], wide[..., 0:32]  # right(x) = left(x - 3): d = 3
        batch = {
            "left": left,
            "right": right,
            "disparity_left": torch.full((4, 1, 32, 32), 3.0),
            "disparity_right": torch.full((4, 1, 32, 32), 3.0),
            "valid_left": torch.ones((4, 1, 32, 32), dtype=torch.bool),
            "valid_right": torch.ones((4, 1, 32, 32), dtype=torch.bool),
        }
        out = model(batch["left"])
        loss, _ = view_synthesis_loss(out, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:5])
    assert float(out["disparity_left"].detach().median()) == pytest.approx(3.0, abs=1.0)


def test_model_rejects_sizes_off_the_grid() -> None:
    from parallax.bench.value.model import ViewSynthNet

    with pytest.raises(ParameterError, match="multiples of 16"):
        ViewSynthNet()(torch.zeros(1, 3, 40, 40))


# -- statistics ----------------------------------------------------------------------------------


def _runs(values):
    return [{f"s{j}": {"m": v} for j, v in enumerate(row)} for row in values]


def test_summary_and_paired_bootstrap() -> None:
    a = _runs([[1.0, 2.0, 3.0], [1.2, 2.2, 3.2], [0.8, 1.8, 2.8]])
    b = _runs([[2.0, 3.0, 4.0], [2.2, 3.2, 4.2], [1.8, 2.8, 3.8]])  # exactly +1 everywhere
    scenes = ["s0", "s1", "s2"]
    s = arm_summary(a, "m", scenes)
    assert s["mean"] == pytest.approx(2.0) and s["std"] == pytest.approx(0.2)
    d = paired_difference(a, b, "m", scenes, resamples=500, seed=1)
    assert d["mean"] == pytest.approx(1.0) and d["ci_low"] == pytest.approx(1.0) and d["ci_high"] == pytest.approx(1.0)
    noisy = _runs([[2.5, 2.0, 4.5], [1.0, 2.9, 3.0], [0.5, 2.0, 3.9]])
    d1 = paired_difference(a, noisy, "m", scenes, resamples=500, seed=1)
    d2 = paired_difference(a, noisy, "m", scenes, resamples=500, seed=1)
    assert d1 == d2  # seeded
    assert d1["ci_low"] < d1["mean"] < d1["ci_high"]


def test_scenes_without_a_metric_are_left_out() -> None:
    a = [{"s0": {"m": 1.0}, "s1": {"m": math.nan}}]
    b = [{"s0": {"m": 2.0}, "s1": {"m": 5.0}}]
    d = paired_difference(a, b, "m", ["s0", "s1"], resamples=100)
    assert d["scenes"] == ["s0"] and d["mean"] == 1.0
    assert arm_summary(a, "other", ["s0"])["mean"] is None


# -- settings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"size": (100, 96)}, "multiples of 16"),
        ({"seeds": (0, 0)}, "distinct"),
        ({"real_weight": 1.0}, "strictly between 0 and 1"),
        ({"eval_scenes": ()}, "at least one held-out"),
        ({"train_scenes": ("a",), "eval_scenes": ("a",)}, "never trained on"),
        ({"steps": 0}, "steps must be"),
    ],
)
def test_settings_are_checked(changes, match) -> None:
    with pytest.raises(ParameterError, match=match):
        ValueSettings(**changes)


def test_settings_round_trip_and_size_parsing() -> None:
    q = quick_settings()
    d = q.to_dict()
    assert d["preset"] == "quick" and d["size"] == [64, 48] and d["model"]["channels"] == [16, 24, 32, 48]
    assert q.replace(steps=3).preset == "custom" and q.replace(device="cuda").preset == "quick"
    assert parse_size("128x96", multiple=16) == (128, 96)
    with pytest.raises(ParameterError, match="--size"):
        parse_size("128by96")


# -- held-out check ------------------------------------------------------------------------------


def _scene(contributor: str, sha: str, phash=(0, 0), files=("a.mpo",)) -> EvalScene:
    img = np.zeros((16, 16, 3), dtype=np.float32)
    d = np.zeros((16, 16), dtype=np.float32)
    return EvalScene(
        scene_id=contributor,
        pair=Pair(left=img, right=img, disparity_left=d, disparity_right=d),
        has_gt=False,
        contributor=contributor,
        content_sha256=sha,
        phash=phash,
        files=list(files),
    )


def test_held_out_check_finds_every_kind_of_leak() -> None:
    train = [
        TrainRecord(sample_id="s-1", contributor="alice", content_sha256="aa", original_name="x.mpo", phash=(0, 0))
    ]
    far = (0xFFFF_FFFF_FFFF_FFFF, 0xFFFF_FFFF_FFFF_FFFF)
    ok = check_held_out(train, [_scene("bob", "bb", phash=far, files=("y.mpo",))])
    assert ok["shared"] == 0 and ok["training_samples"] == 1
    for scene, what in (
        (_scene("alice", "bb", phash=far, files=("y.mpo",)), "contributor alice"),
        (_scene("bob", "aa", phash=far, files=("y.mpo",)), "pixels"),
        (_scene("bob", "bb", phash=far, files=("x.mpo",)), "file x.mpo"),
        (_scene("bob", "bb", phash=(0b111, 0), files=("y.mpo",)), "near-duplicate"),
    ):
        with pytest.raises(HeldOutLeakError, match=what):
            check_held_out(train, [scene])
