"""``parallax info``: JSON facts for the samples, and one clear line plus a non-zero exit for bad input."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from parallax.cli.main import main
from parallax.errors import InputFileError, NotStereoError


def _info(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["info", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_info_json_gx8_mpo(capsys, captures_dir):
    code, out, _ = _info(capsys, str(captures_dir / "mpo/Panasonic-DMC-GX8.mpo"), "--json")
    assert code == 0
    d = json.loads(out)
    assert d["format"] == "mpo"
    assert [(v["width"], v["height"]) for v in d["views"]] == [(1824, 1368), (1824, 1368)]
    assert d["camera"]["baseline_m"] == pytest.approx(0.01)
    assert d["camera"]["convergence_deg"] == 0.0
    assert d["metadata"]["left"]["attributes"]["baseline_length_m"] == pytest.approx(0.01)


def test_info_json_vision_pro(capsys, captures_dir):
    code, out, _ = _info(capsys, str(captures_dir / "heic/vision-pro.HEIC"), "--json")
    assert code == 0
    d = json.loads(out)
    assert d["format"] == "heic-spatial"
    assert d["camera"]["left"]["focal_px"] == pytest.approx(1525.44, abs=0.01)
    assert d["camera"]["baseline_m"] == pytest.approx(0.0638, abs=1e-4)


def test_info_table_and_pair(capsys, captures_dir):
    code, out, _ = _info(
        capsys,
        str(captures_dir / "sbs/Panasonic-DMC-GX8-left.jpg"),
        str(captures_dir / "sbs/Panasonic-DMC-GX8-right.jpg"),
    )
    assert code == 0
    assert "pair" in out and "1824x1367" in out


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )


def _bad_files(tmp_path, captures_dir, stereo_views):
    rng = np.random.default_rng(3)
    (tmp_path / "random.jpg").write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    (tmp_path / "huge.png").write_bytes(_png_header_only(100000, 100000))
    mpo = (captures_dir / "mpo/sugarshack.mpo").read_bytes()
    (tmp_path / "cut.mpo").write_bytes(mpo[: len(mpo) - 10000])
    jpeg = (captures_dir / "sbs/calf-left-right.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 3])
    Image.fromarray(stereo_views[0]).save(tmp_path / "a.png")
    Image.fromarray(stereo_views[1][:90]).save(tmp_path / "b.png")
    Image.fromarray(stereo_views[0]).save(tmp_path / "one.mpo", format="JPEG")
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "folder").mkdir()


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (["random.jpg"], r"random\.jpg is named like a JPEG.* but its bytes are not one"),
        (["huge.png"], r"huge\.png claims .*refusing to decode it"),
        (["cut.mpo"], r"cut\.mpo is truncated: image 2 of 2"),
        (["cut.jpg"], r"cut\.jpg could not be decoded .*truncated"),
        (["a.png", "b.png"], r"a\.png \(128x96\) and .*b\.png \(128x90\) differ in size"),
        (["one.mpo"], r"one\.mpo holds one view.*give a second view or a stereo file"),
        (["photo"], r"photo does not exist"),
        (["folder"], r"folder is a folder"),
        (["empty.jpg"], r"empty\.jpg is empty"),
        (["a.png", "--layout", "diagonal"], r"layout must be one of"),
    ],
)
def test_bad_input_gives_one_line(capsys, tmp_path, captures_dir, stereo_views, args, pattern, monkeypatch):
    import re

    _bad_files(tmp_path, captures_dir, stereo_views)
    monkeypatch.chdir(tmp_path)
    code, out, err = _info(capsys, *args)
    assert code != 0
    assert "Traceback" not in err + out
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert re.search(pattern, lines[0]), lines[0]


def test_photo_holds_one_view_message(capsys, tmp_path, captures_dir, monkeypatch):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes((captures_dir / "sbs/Panasonic-DMC-GX8-left.jpg").read_bytes())
    monkeypatch.chdir(tmp_path)
    code, _, err = _info(capsys, "photo.jpg")
    assert code == NotStereoError.exit_code == InputFileError.exit_code
    assert err.startswith("error: photo.jpg holds one view")
    assert "give a second view or a stereo file" in err


# --- stereo videos and frame folders -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "stereo_spatial.mp4",
            {"format": "mv-hevc", "layout": "multiview", "projection": "rectilinear", "fps": 30.0, "frame_count": 10},
        ),
        (
            "testRoom1_1080Stereo.mp4",
            {"format": "equirect-video", "layout": "over-under", "projection": "equirectangular", "frame_count": 360},
        ),
        (
            "vr180_blender_lr.mp4",
            {"format": "equirect-video", "layout": "side-by-side", "projection": "equirectangular", "frame_count": 100},
        ),
        (
            "bidavideo-demo/sbs_2560x720_10fps.mp4",
            {"format": "sbs-video", "layout": "side-by-side", "fps": 10.0, "frame_count": 10, "width": 1280},
        ),
        ("bidavideo-demo", {"format": "frames", "layout": "separate", "frame_count": 10, "width": 1280}),
    ],
)
def test_info_json_for_clips(capsys, data_dir, name, expected):
    code, out, err = _info(capsys, str(data_dir / "video" / name), "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["kind"] == "clip" and d["stereo"]
    assert {k: d[k] for k in expected} == expected
    for key in ("fps", "frame_count", "duration_s", "camera", "eyes", "has_audio", "rotation_deg", "virtual_camera"):
        assert key in d
    if d["projection"] == "equirectangular":
        assert d["virtual_camera"]["hfov_deg"] == 90.0 and d["camera"]["left"]["hfov_deg"] == pytest.approx(90.0)


def test_info_json_spatial_video_camera_facts(capsys, data_dir):
    code, out, _ = _info(capsys, str(data_dir / "video/stereo_spatial.mp4"), "--json")
    d = json.loads(out)
    cam = d["camera"]
    assert cam["baseline_m"] == pytest.approx(0.01924) and cam["hfov_deg"] == pytest.approx(63.4)
    assert cam["hero_eye"] == "left" and cam["disparity_adjustment"] == pytest.approx(0.02)
    assert d["eyes"]["decision"] == "view 0 = left eye" and d["metadata"]["views_decoded"] == 2


def test_info_clip_options_and_table(capsys, data_dir, captures_dir):
    code, out, _ = _info(
        capsys, str(data_dir / "video/vr180_blender_lr.mp4"), "--fov", "60", "--yaw", "15", "--pitch", "-5", "--json"
    )
    v = json.loads(out)["virtual_camera"]
    assert code == 0 and (v["hfov_deg"], v["yaw_deg"], v["pitch_deg"]) == (60.0, 15.0, -5.0)
    code, out, _ = _info(capsys, str(data_dir / "video/stereo_spatial.mp4"))
    assert code == 0 and "19.24 mm" in out and "63.4 deg" in out and "view 0 = left eye" in out
    code, out, _ = _info(capsys, str(captures_dir / "vr/test.vr.jpg"), "--fov", "70", "--view-width", "300", "--json")
    d = json.loads(out)
    assert code == 0 and d["format"] == "vr-photo" and d["views"][0]["width"] == 300
    assert d["metadata"]["virtual_camera"]["hfov_deg"] == 70.0


def _remux(src, dst) -> None:
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        stream = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)


@pytest.fixture(scope="module")
def bad_videos(tmp_path_factory, data_dir, captures_dir) -> Path:
    import av

    from .conftest import write_video

    folder = tmp_path_factory.mktemp("bad_videos")
    video = data_dir / "video"
    data = (video / "vr180_blender_lr.mp4").read_bytes()
    (folder / "cut.mp4").write_bytes(data[: len(data) // 2])
    (folder / "mesh.mp4").write_bytes(data.replace(b"equi", b"mshp"))
    _remux(video / "stereo_spatial.mp4", folder / "one_view.mp4")
    photo = np.asarray(Image.open(captures_dir / "sbs/Panasonic-DMC-GX8-left.jpg").resize((320, 240)))
    write_video(folder / "mono.mp4", [np.ascontiguousarray(np.roll(photo, 3 * k, axis=1)) for k in range(4)])
    with av.open(str(folder / "audio.m4a"), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=48000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 4800), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 48000
        for packet in [*stream.encode(frame), *stream.encode()]:
            out.mux(packet)
    (folder / "noise.mkv").write_bytes(np.random.default_rng(4).integers(0, 256, 8192, dtype=np.uint8).tobytes())
    (folder / "empty.mov").write_bytes(b"")
    return folder


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("cut.mp4", r"cut\.mp4 is truncated or corrupt: its 'mdat' box .* copy or download the file again"),
        ("mono.mp4", r"mono\.mp4 is a mono video: .* give a stereo video, or force the packing"),
        ("one_view.mp4", r"one_view\.mp4 is an MV-HEVC spatial video whose second eye cannot be decoded"),
        ("mesh.mp4", r"mesh\.mp4 uses a mesh projection .* not read; export it as equirectangular"),
        ("audio.m4a", r"audio\.m4a holds no video track \(only audio tracks\)"),
        ("noise.mkv", r"noise\.mkv could not be opened as a video"),
        ("empty.mov", r"empty\.mov is empty \(0 bytes\); give a complete video file"),
    ],
)
def test_bad_videos_get_one_line(capsys, bad_videos, monkeypatch, name, pattern):
    import re

    monkeypatch.chdir(bad_videos)
    code, out, err = _info(capsys, name, "--json")
    assert code == InputFileError.exit_code and out == ""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err
    assert re.search(pattern, lines[0]), lines[0]


def test_bad_video_in_a_subprocess_prints_one_line_and_no_ffmpeg_noise(bad_videos):
    """FFmpeg logs through C stderr, which capsys cannot see: run the real command."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    for name in ("cut.mp4", "noise.mkv", "one_view.mp4"):
        run = subprocess.run(
            [sys.executable, "-m", "parallax", "info", str(bad_videos / name)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert run.returncode == InputFileError.exit_code and run.stdout == ""
        lines = [line for line in run.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr


def test_info_shows_the_eye_order_and_takes_eyes(capsys, captures_dir):
    left, right = captures_dir / "sbs/Panasonic-DMC-GX8-left.jpg", captures_dir / "sbs/Panasonic-DMC-GX8-right.jpg"
    code, out, _ = _info(capsys, str(right), str(left), "--json")
    assert code == 0
    eyes = json.loads(out)["metadata"]["eyes"]
    assert eyes["swapped"] is True and "ground-plane" in eyes["reason"]
    code, out, _ = _info(capsys, str(right), str(left), "--eyes", "left-right")
    assert code == 0 and "eyes" in out and "given by the caller" in out
