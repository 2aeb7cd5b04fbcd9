"""Stereo and depth video writers (parallax.render.video_formats): colours, encoder, errors."""

from __future__ import annotations

import numpy as np
import pytest

from parallax.errors import ParameterError
from parallax.render.video_formats import DepthColouriser, DepthVideoWriter, StereoVideoWriter, VideoEncoder

av = pytest.importorskip("av")


def test_depth_colours_keep_the_clip_range():
    colour = DepthColouriser(follow=0.1)
    ramp = np.tile(np.linspace(0, 10, 50, dtype=np.float32), (4, 1))
    first = colour(ramp)
    lo, hi = colour.range
    assert first[0, -1, 0] > first[0, -1, 2]  # near (large disparity) is red
    assert first[0, 0, 2] > first[0, 0, 0]  # far is blue
    jumped = colour(ramp + 5.0)  # a frame whose content moved: colours move only 10 % of the way
    assert colour.range[0] == pytest.approx(lo + 0.5, abs=1e-4) and colour.range[1] == pytest.approx(hi + 0.5, abs=1e-4)
    assert not np.array_equal(jumped, first)
    holes = ramp.copy()
    holes[:, :5] = np.nan
    assert np.all(colour(holes)[:, :5] == 0)  # no value is black
    with pytest.raises(ParameterError, match="follow"):
        DepthColouriser(follow=2.0)


def test_encoder_keeps_timestamps_and_even_sizes(tmp_path):
    path = tmp_path / "v.mp4"
    enc = VideoEncoder(path, fps=10)
    for i in range(4):
        enc.add(np.full((21, 33, 3), 40 * i, np.uint8), time_s=0.2 * i)  # every other frame of a 10 fps source
    enc.close()
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    assert [round(float(f.pts * f.time_base), 3) for f in frames] == [0.0, 0.2, 0.4, 0.6]
    assert (frames[0].width, frames[0].height) == (32, 20)
    enc = VideoEncoder(tmp_path / "w.mp4", fps=10)
    enc.add(np.zeros((20, 32, 3), np.uint8))
    with pytest.raises(ParameterError, match="one size"):
        enc.add(np.zeros((40, 32, 3), np.uint8))
    enc.abort()


def test_bad_writer_settings(tmp_path):
    with pytest.raises(ParameterError, match="layout"):
        StereoVideoWriter(tmp_path / "a.mp4", layout="cross", fps=10)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="layout"):
        DepthVideoWriter(tmp_path / "b.mp4", fps=10, layout="3d")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="fps"):
        VideoEncoder(tmp_path / "c.mp4", fps=0)
    with pytest.raises(ParameterError, match="crf"):
        VideoEncoder(tmp_path / "d.mp4", fps=10, crf=80)


def test_video_encoder_converts_with_the_matrix_it_tags(tmp_path):
    """BT.709 tagged, BT.709 converted: saturated colours come back as they went in (a BT.601 conversion
    decoded by the BT.709 tag turns pure red into (255, 23, 0) and pure green into (0, 215, 0))."""
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (200, 150, 50), (30, 60, 220), (128, 128, 128)]
    image = np.zeros((32, 16 * len(colours), 3), np.uint8)
    for i, colour in enumerate(colours):
        image[:, 16 * i : 16 * (i + 1)] = colour
    encoder = VideoEncoder(tmp_path / "colours.mp4", fps=10, crf=0)
    encoder.add(image)
    encoder.close()
    with av.open(str(tmp_path / "colours.mp4")) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.colorspace, stream.codec_context.color_range) == (1, 1)  # BT.709, limited
        decoded = next(container.decode(stream)).to_ndarray(format="rgb24")
    for i, colour in enumerate(colours):
        got = decoded[8:24, 16 * i + 4 : 16 * i + 12].reshape(-1, 3).mean(axis=0)
        assert np.abs(got - colour).max() < 4, (colour, got)
