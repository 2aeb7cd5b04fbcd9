"""Clip outputs read back: frames folder (PFM, poses, TUM, transforms.json), stereo and depth MP4s, audio,
atomic writes (parallax.outputs.clip_registry, clip_frames, trajectory; parallax.render.video_formats)."""

from __future__ import annotations

import dataclasses
import json
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from parallax.errors import InputFileError, OutputError, ParameterError
from parallax.io.maps import read_pfm
from parallax.outputs.clip_registry import ClipOutputOptions, find_clip_format, write_clip
from parallax.outputs.trajectory import OPENCV_TO_OPENGL, read_tum

av = pytest.importorskip("av")


def _decode(path: Path) -> tuple[list[np.ndarray], list[float], object]:
    with av.open(str(path)) as container:
        frames, times = [], []
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            times.append(float(frame.pts * frame.time_base))
        audio = [s for s in container.streams if s.type == "audio"]
        return frames, times, (audio[0].codec_context.name if audio else None)


def test_frames_folder_reads_back(small_run, small_clip_info, tmp_path):
    out = write_clip(small_run, tmp_path / "frames/", format="frames")
    assert out == tmp_path / "frames" and out.is_dir()
    clip_doc = json.loads((out / "clip.json").read_text())
    assert clip_doc["clip"]["frame_count"] == 5 and clip_doc["depth_units"] == "m" and clip_doc["pose_units"] == "m"
    assert clip_doc["intrinsics"]["focal_px"] == pytest.approx(small_clip_info.camera.focal_px)
    assert "residual_px" in clip_doc["rectification"]
    names = [f"{i:06d}" for i in range(5)]
    for name in names:
        left = cv2.imread(str(out / "left" / f"{name}.png"))
        right = cv2.imread(str(out / "right" / f"{name}.png"))
        assert left.shape == right.shape == (120, 160, 3)
        disparity = read_pfm(out / "disparity" / f"{name}.pfm")
        depth = read_pfm(out / "depth" / f"{name}.pfm")
        assert disparity.shape == depth.shape == (120, 160)
        truth = small_clip_info.disparity_px[int(name)]
        assert np.nanmedian(np.abs(disparity - truth)) < 0.5
        assert np.array_equal(np.isnan(depth), ~np.isfinite(depth))
    # dense by default (as for stills); a strict run leaves pixels seen by one camera without a value: +inf in PFM
    from parallax.capture.clip_registry import read_clip
    from parallax.stereo.clip_depth import clip_depth

    strict_run = clip_depth(
        read_clip(small_clip_info.folder, fps=small_clip_info.fps),
        focal_px=small_clip_info.camera.focal_px,
        baseline_m=small_clip_info.baseline_m,
        strict=True,
        max_frames=1,
    )
    strict_out = write_clip(strict_run, tmp_path / "strict/", format="frames")
    raw = (strict_out / "disparity" / "000000.pfm").read_bytes()
    pixels = np.frombuffer(raw[len(raw) - 4 * 160 * 120 :], "<f4")
    assert np.isposinf(pixels).sum() == np.isnan(read_pfm(strict_out / "disparity" / "000000.pfm")).sum() > 0

    poses = json.loads((out / "poses.json").read_text())
    assert poses["units"] == "m" and len(poses["frames"]) == 5
    assert [f["index"] for f in poses["frames"]] == list(range(5))
    c2w = [np.array(f["camera_to_world"]) for f in poses["frames"]]
    np.testing.assert_allclose(c2w[0], np.eye(4), atol=1e-9)
    assert np.linalg.norm(c2w[-1][:3, 3] - small_clip_info.poses[-1][:3, 3]) < 0.02

    tum = read_tum(out / "trajectory.txt")
    assert len(tum) == 5
    for (t, m), entry, matrix in zip(tum, poses["frames"], c2w, strict=True):
        assert t == pytest.approx(entry["timestamp_s"], abs=1e-6)
        np.testing.assert_allclose(m, matrix, atol=1e-6)
    lines = [ln for ln in (out / "trajectory.txt").read_text().splitlines() if not ln.startswith("#")]
    assert all(len(ln.split()) == 8 for ln in lines)

    transforms = json.loads((out / "transforms.json").read_text())  # a plain JSON reader
    assert transforms["camera_model"] == "OPENCV" and "diag(1, -1, -1, 1)" in transforms["parallax"]["axis_conversion"]
    frames = transforms["frames"]
    assert len(frames) == 10  # both views of 5 frames
    lefts = [f for f in frames if f["eye"] == "left"]
    rights = [f for f in frames if f["eye"] == "right"]
    assert len(lefts) == len(rights) == 5
    for f_left, f_right, matrix in zip(lefts, rights, c2w, strict=True):
        assert (out / f_left["file_path"]).is_file() and (out / f_right["file_path"]).is_file()
        gl = np.array(f_left["transform_matrix"])
        np.testing.assert_allclose(gl @ OPENCV_TO_OPENGL, matrix, atol=1e-9)  # the stated conversion undone
        right_cv = np.array(f_right["transform_matrix"]) @ OPENCV_TO_OPENGL
        np.testing.assert_allclose(right_cv[:3, 3] - matrix[:3, 3], matrix[:3, 0] * small_clip_info.baseline_m)
    intr = transforms if "fl_x" in transforms else frames[0]
    assert intr["w"] == 160 and intr["h"] == 120 and intr["fl_x"] == pytest.approx(small_clip_info.camera.focal_px)


@pytest.mark.parametrize(("suffix", "size"), [(".sbs.mp4", (120, 320)), (".ou.mp4", (240, 160))])
def test_stereo_videos_decode_with_every_frame_and_their_layout(small_run, tmp_path, suffix, size):
    out = write_clip(small_run, tmp_path / f"clip{suffix}")
    frames, times, audio = _decode(out)
    assert len(frames) == 5 and audio is None
    assert frames[0].shape[:2] == size
    assert times == pytest.approx([i / 30 for i in range(5)], abs=1e-3)
    first = next(iter(small_run.clip.frames(max_frames=1)))
    half = frames[0][:120, :160] if suffix == ".sbs.mp4" else frames[0][:120, :]
    other = frames[0][:120, 160:] if suffix == ".sbs.mp4" else frames[0][120:, :]
    # the left view is on the left / on top (H.264 in yuv420p of a noisy synthetic view: ~28 dB)
    assert cv2.PSNR(half, first.left) > 25
    assert cv2.PSNR(half, first.left) > cv2.PSNR(half, first.right) + 3
    assert cv2.PSNR(other, first.right) > cv2.PSNR(other, first.left) + 3


def test_anaglyph_video_is_the_dubois_anaglyph(small_run, tmp_path):
    from parallax.render.stereo_formats import anaglyph

    frames, _, _ = _decode(write_clip(small_run, tmp_path / "clip.anaglyph.mp4"))
    first = next(iter(small_run.clip.frames(max_frames=1)))
    assert len(frames) == 5 and frames[0].shape == (120, 160, 3)
    right_way = cv2.PSNR(frames[0], anaglyph(first.left, first.right))
    assert right_way > 25
    assert right_way > cv2.PSNR(frames[0], anaglyph(first.right, first.left)) + 2  # left eye red, right eye cyan


@pytest.mark.parametrize(("layout", "width"), [("depth", 160), ("rgbd", 320)])
def test_depth_video_decodes(small_run, tmp_path, layout, width):
    out = write_clip(small_run, tmp_path / "clip.depth.mp4", options=ClipOutputOptions(extra={"layout": layout}))
    frames, _, _ = _decode(out)
    assert len(frames) == 5 and frames[0].shape == (120, width, 3)
    preview = frames[2][:, -160:].astype(int)
    # the moving panel (3 m) is nearer than the back wall (8 m): redder
    assert preview[40:60, 40:60, 0].mean() > preview[10:20, 70:90, 0].mean()


def _audio_source(path: Path, codec: str, seconds: float) -> Path:
    rate = 48000
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "mono"
        fmt = "fltp" if codec == "aac" else "s16"
        n = int(seconds * rate)
        t = np.arange(n) / rate
        samples = np.sin(2 * np.pi * 440 * t).astype(np.float32)
        if fmt == "s16":
            samples = (samples * 20000).astype(np.int16)
        for start in range(0, n, 1024):
            frame = av.AudioFrame.from_ndarray(samples[None, start : start + 1024], format=fmt, layout="mono")
            frame.sample_rate = rate
            frame.pts = start
            frame.time_base = Fraction(1, rate)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


@pytest.mark.parametrize(
    ("codec", "name", "copied"), [("aac", "source.mp4", "aac"), ("pcm_s16le", "source.mkv", "aac")]
)
def test_audio_is_copied_for_the_chosen_range(small_clip_info, tmp_path, codec, name, copied):
    from parallax.capture.clip_registry import read_clip
    from parallax.stereo.clip_depth import clip_depth

    source = _audio_source(tmp_path / name, codec, 1.0)
    clip = dataclasses.replace(read_clip(small_clip_info.folder, fps=small_clip_info.fps), has_audio=True)
    run = clip_depth(clip, start_s=1 / 30, max_side_px=64)
    out = write_clip(run, tmp_path / "with-audio.sbs.mp4", options=ClipOutputOptions(audio_source=source))
    frames, _, audio = _decode(out)
    assert len(frames) == 4 and audio == copied
    with av.open(str(out)) as container:
        stream = container.streams.audio[0]
        packets = [p for p in container.demux(stream) if p.pts is not None]
        first = float(packets[0].pts * stream.time_base)
        last = float(packets[-1].pts * stream.time_base)
    assert first < 0.05 and 0.05 < last <= 4 / 30 + 0.15  # the audio of the video's 4 frames, from its start


def test_a_failing_conversion_leaves_nothing_behind(small_clip_info, tmp_path):
    from parallax.capture.clip_registry import read_clip
    from parallax.stereo.clip_depth import clip_depth

    broken = tmp_path / "broken"
    for eye in ("left", "right"):
        (broken / eye).mkdir(parents=True)
        for src in sorted((small_clip_info.folder / eye).glob("*.png")):
            (broken / eye / src.name).write_bytes(src.read_bytes())
    (broken / "right" / "000004.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    existing = out_dir / "keep.sbs.mp4"
    existing.write_bytes(b"what was here before")
    for target, fmt in ((existing, None), (out_dir / "frames", "frames"), (out_dir / "new.depth.mp4", None)):
        run = clip_depth(read_clip(broken, fps=30, eyes="left-right"), max_side_px=64)  # (auto would check frame 4)
        with pytest.raises(InputFileError):
            write_clip(run, target, format=fmt)
    assert sorted(p.name for p in out_dir.iterdir()) == ["keep.sbs.mp4"]  # no partial output, no temporaries
    assert existing.read_bytes() == b"what was here before"


def test_formats_are_found_by_name_and_extension(tmp_path):
    assert find_clip_format("a.sbs.mp4").name == "sbs"
    assert find_clip_format("a.OU.mp4").name == "over-under"
    assert find_clip_format("a.anaglyph.mp4").name == "anaglyph"
    assert find_clip_format("a.depth.mp4").name == "depth"
    assert find_clip_format("out/").name == "frames"
    assert find_clip_format("anything", "frames").folder
    with pytest.raises(OutputError, match=r"\.sbs\.mp4"):
        find_clip_format("a.mp4")
    with pytest.raises(OutputError, match="folder with --format frames"):
        find_clip_format("scene.ply")
    with pytest.raises(ParameterError, match="not a clip output"):
        find_clip_format("a.sbs.mp4", "mesh")


def test_a_folder_that_is_not_empty_is_refused_before_any_work(small_run, tmp_path):
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="not empty"):
        write_clip(small_run, target, format="frames")
    assert (target / "notes.txt").read_text() == "mine"


def test_bad_video_options_are_refused(small_run, tmp_path):
    with pytest.raises(ParameterError, match="crf"):
        write_clip(small_run, tmp_path / "a.sbs.mp4", options=ClipOutputOptions(extra={"crf": "99"}))
    with pytest.raises(ParameterError, match="preset"):
        write_clip(small_run, tmp_path / "a.sbs.mp4", options=ClipOutputOptions(extra={"preset": "warp"}))
    with pytest.raises(ParameterError, match="layout"):
        write_clip(small_run, tmp_path / "a.depth.mp4", options=ClipOutputOptions(extra={"layout": "3d"}))
    assert not list(tmp_path.iterdir())
