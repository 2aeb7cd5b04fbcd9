"""The viewer files of a clip, segment by segment: written from known frames and read back."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from parallax.server.clip_segments import (
    SegmentWriter,
    clip_view,
    decode_depth_grid,
    encode_depth_grid,
    scaled_size,
)
from parallax.stereo.clip_types import FrameDepth
from parallax.stereo.types import DepthResult

W, H = 96, 64


def _frame(index: int, fps: float = 10.0) -> FrameDepth:
    """Left view red ramp, right view blue; depth 1 + index/10 on the left half, not valid on the right."""
    left = np.zeros((H, W, 3), np.uint8)
    left[..., 0] = np.linspace(40, 220, W, dtype=np.uint8)[None, :]
    left[..., 1] = 20 * index
    right = np.zeros((H, W, 3), np.uint8)
    right[..., 2] = 200
    valid = np.zeros((H, W), bool)
    valid[:, : W // 2] = True
    depth = np.where(valid, 1.0 + index / 10, np.nan).astype(np.float32)
    result = DepthResult(
        image=left,
        right_image=right,
        disparity_px=np.where(valid, 8.0, np.nan).astype(np.float32),
        confidence=valid.astype(np.float32),
        depth=depth,
        valid=valid,
        depth_is_metric=False,
    )
    return FrameDepth(index=index, timestamp_s=index / fps, result=result)


def _decode(path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def test_scaled_size_never_grows_and_can_be_even():
    assert scaled_size(1280, 720, 960) == (960, 540)
    assert scaled_size(100, 50, 960) == (100, 50)
    assert scaled_size(652, 652, 321, even=True) == (320, 320)  # even, and not over the side
    assert scaled_size(1281, 721, 640, even=True) == (640, 360)


def test_segments_round_trip(tmp_path):
    writer = SegmentWriter(tmp_path, fps=10.0, view_size=(48, 32), grid_size=(24, 16))
    frames = [_frame(i) for i in range(7)]
    for i, frame in enumerate(frames[:4]):
        writer.add(frame, i, frame.timestamp_s)
    first = writer.close()
    for i, frame in enumerate(frames[4:], 4):
        writer.add(frame, i, frame.timestamp_s)
    second = writer.close()
    assert [first["frames"], second["frames"]] == [4, 3]
    assert first["times_s"] == pytest.approx([0.0, 0.1, 0.2, 0.3]) and first["duration_s"] == pytest.approx(0.4)
    assert second["start_s"] == pytest.approx(0.4) and second["first_frame"] == 4
    assert second["times_s"] == pytest.approx([0.0, 0.1, 0.2])  # each segment's video starts at 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "seg-000.depth",
        "seg-000.mp4",
        "seg-001.depth",
        "seg-001.mp4",
    ]
    video = _decode(tmp_path / "seg-001.mp4")
    assert len(video) == 3 and video[0].shape == (32, 96, 3)
    left, right = video[1][:, :48].astype(float), video[1][:, 48:].astype(float)
    assert left[..., 0].mean() > 100 and right[..., 2].mean() > 170 and right[..., 0].mean() < 20  # left | right
    assert left[..., 1].mean() == pytest.approx(20 * 5, abs=6)  # frame 5, in order, colours kept
    data = gzip.decompress((tmp_path / "seg-001.depth").read_bytes())
    size = 24 * 16 * 2
    assert len(data) == 3 * size
    grids = np.stack([decode_depth_grid(data[i * size : (i + 1) * size], 24, 16) for i in range(3)])
    assert np.isnan(grids[:, :, 12:]).all()  # not valid: NaN
    np.testing.assert_allclose(grids[:, :, :11].mean(axis=(1, 2)), [1.4, 1.5, 1.6], rtol=4e-3)


def test_depth_grid_encoding_round_trip_to_8_significant_bits():
    rng = np.random.default_rng(2)
    grid = (np.exp(rng.normal(0, 1.5, (40, 60))) * rng.choice([1e-2, 1.0, 30.0], (40, 60))).astype(np.float32)
    grid[rng.random(grid.shape) < 0.1] = np.nan
    data = encode_depth_grid(grid)
    assert len(data) == grid.size * 2
    back = decode_depth_grid(data, 60, 40)
    assert np.array_equal(np.isnan(back), np.isnan(grid))
    ok = np.isfinite(grid) & (grid > 1e-3)  # float16's normal range (depths are metres or ~1)
    assert np.abs(back[ok] / grid[ok] - 1).max() <= 2.0**-8 + 2.0**-11  # float16, then 8 significant bits
    smooth = np.tile(np.linspace(1.0, 3.0, 60, dtype=np.float32), (40, 1))
    assert len(gzip.compress(encode_depth_grid(smooth))) < 0.5 * len(gzip.compress(smooth.astype("<f2").tobytes()))


def test_clip_view_describes_the_grid_and_first_segment(tmp_path):
    from parallax.stereo.types import Rectification

    writer = SegmentWriter(tmp_path, fps=10.0, view_size=(48, 32), grid_size=(24, 16))
    for i in range(3):
        writer.add(_frame(i), i, i / 10)

    class Clip:
        format, width, height, eyes = "sbs-video", W, H, {"decision": "left-right"}

    rect = Rectification(method="none", H_left=np.eye(3), H_right=np.eye(3), width=W, height=H)
    plan = {"fps": 10.0, "frames": 3, "duration_s": 0.3, "cut": False}
    view = clip_view(_frame(0).result, Clip, rect, plan, writer)
    assert (view["grid_width"], view["grid_height"]) == (24, 16) and view["camera_assumed"]
    assert view["depth_median"] == pytest.approx(1.1, abs=0.01) and view["depth_min"] == pytest.approx(1.0, abs=0.01)
    assert view["fx_px"] == pytest.approx(24 / 2 / np.tan(np.radians(30)), rel=1e-3)  # 60 degrees assumed
    assert view["video"] == {"codec": "h264", "width": 96, "height": 32, "view_width": 48, "view_height": 32}
    json.dumps(view)  # served as JSON


def test_an_aborted_segment_leaves_no_file(tmp_path):
    writer = SegmentWriter(tmp_path, fps=10.0, view_size=(48, 32), grid_size=(24, 16))
    writer.add(_frame(0), 0, 0.0)
    writer.abort()
    assert list(tmp_path.iterdir()) == []
