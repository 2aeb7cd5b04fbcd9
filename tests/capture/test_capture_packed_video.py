"""Frame-packed stereo video: the real side-by-side street video against its PNG frames, layouts, squeezed views,
Matroska / MPEG-TS, colour tags, rotation, and bad input."""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from parallax.capture.clip_registry import find_clip_reader, read_clip
from parallax.capture.video_io import decode_frames, frame_to_rgb
from parallax.errors import InputFileError, NotStereoError

from .conftest import write_video


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10.0 * np.log10(255.0**2 / mse)


@pytest.fixture(scope="module")
def bida(data_dir: Path) -> Path:
    return data_dir / "video" / "bidavideo-demo"


@pytest.fixture(scope="module")
def small_pairs(bida: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """Three real stereo pairs, 640x360 per eye."""
    out = []
    for i in range(3):
        views = []
        for eye in ("left", "right"):
            image = np.asarray(Image.open(bida / eye / f"{eye}{i:06d}.png"))[..., :3]
            views.append(cv2.resize(image, (640, 360), interpolation=cv2.INTER_AREA))
        out.append((views[0], views[1]))
    return out


def test_side_by_side_street_video_matches_its_png_frames(bida):
    clip = read_clip(bida / "sbs_2560x720_10fps.mp4")
    assert (clip.format, clip.layout, clip.projection) == ("sbs-video", "side-by-side", "rectilinear")
    assert (clip.width, clip.height, clip.frame_count, clip.fps, clip.duration_s) == (1280, 720, 10, 10.0, 1.0)
    assert clip.eyes["decision"] == "left half = left eye" and clip.eyes["source"].startswith("content")
    assert clip.metadata["colour"] == {
        "matrix": "bt709",
        "matrix_tagged": True,
        "range": "limited",
        "range_tagged": True,
    }
    scores = []
    for frame in clip.frames():
        for eye, view in (("left", frame.left), ("right", frame.right)):
            png = np.asarray(Image.open(bida / eye / f"{eye}{frame.index:06d}.png"))[..., :3]
            scores.append(_psnr(view, png))
    assert len(scores) == 20
    assert min(scores) >= 38.0 and np.mean(scores) >= 39.5, (min(scores), np.mean(scores))


def test_layout_and_eyes_options(bida):
    path = bida / "sbs_2560x720_10fps.mp4"
    png_right = np.asarray(Image.open(bida / "right" / "right000000.png"))[..., :3]
    png_left = np.asarray(Image.open(bida / "left" / "left000000.png"))[..., :3]
    crossed = read_clip(path, layout="sbs-cross")
    assert crossed.eyes["source"] == "given by the caller (layout=sbs-cross)"
    # a stated order is kept unless the stereo geometry overwhelmingly says otherwise, as here (eyes=auto)
    assert crossed.eyes["check"]["swapped"] is True and crossed.eyes["check"]["strength"] == "overwhelming"
    assert _psnr(crossed.first_frame().left, png_left) > 38
    forced = read_clip(path, eyes="right-left")
    assert forced.eyes["decision"] == "left half = right eye (forced)"
    assert _psnr(forced.first_frame().left, png_right) > 38


def test_colour_is_converted_with_the_stream_tags(tmp_path):
    """The same colours encoded with BT.601 and with BT.709 tags both come back; a fixed matrix would miss one."""
    rng = np.random.default_rng(5)
    patches = rng.integers(30, 226, (4, 8, 3), dtype=np.uint8)
    image = cv2.resize(patches, (128, 64), interpolation=cv2.INTER_NEAREST)
    frame = np.hstack([image, image])
    for space in (5, 1):
        path = write_video(tmp_path / f"tags{space}.mp4", [frame] * 2, colorspace=space)
        decoded = next(decode_frames(path, name=path.name))
        right = frame_to_rgb(decoded.frame)
        wrong = frame_to_rgb(decoded.frame, {"matrix": "bt709" if space == 5 else "bt601", "range": "limited"})
        centres = (slice(4, 60, 16), slice(8, 256, 16))
        assert np.abs(right[centres].astype(int) - frame[centres]).max() <= 4
        assert np.abs(wrong[centres].astype(int) - frame[centres]).max() >= 10


def test_squeezed_side_by_side_is_stretched_back(tmp_path, small_pairs):
    frames = [
        np.hstack([cv2.resize(v, (320, 360), interpolation=cv2.INTER_AREA) for v in pair]) for pair in small_pairs
    ]
    clip = read_clip(write_video(tmp_path / "clip.mp4", frames))
    assert clip.layout == "side-by-side-half" and (clip.width, clip.height) == (640, 360)
    assert (
        "display aspect" in clip.metadata["squeeze"]["reason"]
        and "320x360 to 640x360" in clip.metadata["squeeze"]["note"]
    )
    first = clip.first_frame()
    assert _psnr(first.left, small_pairs[0][0]) > 24 and _psnr(first.right, small_pairs[0][1]) > 24
    as_full = read_clip(tmp_path / "clip.mp4", layout="sbs")
    assert as_full.layout == "side-by-side" and as_full.width == 320


def test_squeezed_over_under_and_name_tags(tmp_path, small_pairs):
    frames = [
        np.vstack([cv2.resize(v, (640, 180), interpolation=cv2.INTER_AREA) for v in pair]) for pair in small_pairs
    ]
    clip = read_clip(write_video(tmp_path / "movie.mp4", frames))
    assert (clip.format, clip.layout, clip.width, clip.height) == ("ou-video", "over-under-half", 640, 360)
    assert _psnr(clip.first_frame().left, small_pairs[0][0]) > 24
    # a full-width side-by-side file whose name says "half"
    full = [np.hstack(pair) for pair in small_pairs]
    tagged = read_clip(write_video(tmp_path / "trip_hsbs.mp4", full))
    assert tagged.layout == "side-by-side-half" and tagged.metadata["squeeze"]["reason"].startswith("file name tag")


def test_sample_aspect_ratio_gives_square_pixels(tmp_path, small_pairs):
    import av

    frames = [
        np.hstack([cv2.resize(v, (320, 360), interpolation=cv2.INTER_AREA) for v in pair]) for pair in small_pairs
    ]
    path = tmp_path / "anamorphic.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10, options={"crf": "12", "preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        from fractions import Fraction

        stream.codec_context.sample_aspect_ratio = Fraction(2, 1)
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    clip = read_clip(path)
    assert clip.metadata["sample_aspect"] == pytest.approx(2.0)
    assert (clip.width, clip.height) == (640, 360) and clip.metadata["squeeze"]["stretch_x"] == pytest.approx(2.0)


@pytest.mark.parametrize(("suffix", "codec"), [(".mkv", "libx264"), (".webm", "libvpx-vp9")])
def test_matroska_stereo_mode_gives_the_packing(tmp_path, small_pairs, suffix, codec):
    frames = [np.hstack([pair[1], pair[0]]) for pair in small_pairs]  # right view on the left
    options = {"crf": "12", "preset": "ultrafast"} if codec == "libx264" else {"deadline": "realtime", "cpu-used": "8"}
    path = write_video(
        tmp_path / f"clip{suffix}", frames, codec=codec, options=options, stream_metadata={"stereo_mode": "right_left"}
    )
    clip = read_clip(path)
    assert (
        clip.metadata["packing"]["source"] == "Matroska StereoMode" and clip.eyes["decision"] == "left half = right eye"
    )
    assert not clip.metadata["frame_count_exact"] and clip.frame_count == 3
    assert _psnr(clip.first_frame().left, small_pairs[0][0]) > 30


def test_mpeg_ts_side_by_side_from_content(tmp_path, small_pairs):
    path = write_video(tmp_path / "clip.ts", [np.hstack(p) for p in small_pairs])
    assert find_clip_reader(path).name == "packed-video"
    clip = read_clip(path)
    assert clip.metadata["container_kind"] == "mpeg-ts" and clip.layout == "side-by-side"
    assert clip.eyes["decision"] == "left half = left eye"
    assert len(list(clip.frames())) == 3


def test_truncated_matroska_is_an_error_when_iterated(tmp_path, small_pairs):
    frames = [np.hstack(small_pairs[i % 3]) for i in range(40)]
    path = write_video(tmp_path / "long.mkv", frames)
    data = path.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 3])
    clip = read_clip(cut)
    with pytest.raises(InputFileError, match=r"ended at .* truncated"):
        list(clip.frames())


def test_a_180_degree_display_rotation_turns_the_frame_and_swaps_the_eyes(bida, tmp_path):
    source = bida / "sbs_2560x720_10fps.mp4"
    data = bytearray(source.read_bytes())
    tkhd = data.index(b"tkhd")
    matrix_at = tkhd + 4 + 4 + 20 + 16  # type, version/flags, v0 times/id/reserved/duration, reserved/layer/...
    assert struct.unpack(">9i", data[matrix_at : matrix_at + 36])[:5] == (65536, 0, 0, 0, 65536)
    data[matrix_at : matrix_at + 36] = struct.pack(">9i", -65536, 0, 0, 0, -65536, 0, 0, 0, 1 << 30)
    path = tmp_path / "upside_down.mp4"
    path.write_bytes(bytes(data))
    clip = read_clip(path, layout="sbs")
    assert clip.rotation_deg == 180 and clip.metadata["rotation_applied"]
    plain = read_clip(source, layout="sbs").first_frame()
    turned = clip.first_frame()
    np.testing.assert_array_equal(turned.left, plain.right[::-1, ::-1])
    np.testing.assert_array_equal(turned.right, plain.left[::-1, ::-1])


def test_mono_video_is_refused(tmp_path, captures_dir):
    photo = np.asarray(Image.open(captures_dir / "sbs/Panasonic-DMC-GX8-left.jpg").resize((640, 480)))
    frames = [np.ascontiguousarray(np.roll(photo, 4 * k, axis=1)) for k in range(25)]
    path = write_video(tmp_path / "holiday.mp4", frames)
    with pytest.raises(NotStereoError, match=r"mono video: .* do not match as a stereo pair"):
        read_clip(path)
    assert read_clip(path, layout="sbs").layout == "side-by-side"  # forcing it is the user's call


def test_audio_only_file_is_refused(tmp_path):
    import av

    path = tmp_path / "voice.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=48000)
        samples = (0.2 * np.sin(2 * np.pi * 440 * np.arange(48000) / 48000)).astype(np.float32)[None]
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = 48000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with pytest.raises(InputFileError, match=r"holds no video track \(only audio tracks\)"):
        read_clip(path)


def test_random_bytes_empty_and_truncated(tmp_path, bida):
    rng = np.random.default_rng(2)
    (tmp_path / "noise.mp4").write_bytes(rng.integers(0, 256, 20000, dtype=np.uint8).tobytes())
    with pytest.raises(InputFileError, match=r"could not be opened as a video .*despite its \.mp4 name"):
        read_clip(tmp_path / "noise.mp4")
    (tmp_path / "empty.mkv").write_bytes(b"")
    with pytest.raises(InputFileError, match=r"empty \(0 bytes\); give a complete video file"):
        read_clip(tmp_path / "empty.mkv")
    data = (bida / "sbs_2560x720_10fps.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFileError, match=r"truncated or corrupt: its 'mdat' box"):
        read_clip(tmp_path / "cut.mp4")
