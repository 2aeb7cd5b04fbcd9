"""``parallax info``: JSON facts for the samples, and one clear line plus a non-zero exit for bad input."""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from parallax.cli.main import main


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
    assert code == 2
    assert err.startswith("error: photo.jpg holds one view")
    assert "give a second view or a stereo file" in err


def test_info_shows_the_eye_order_and_takes_eyes(capsys, captures_dir):
    left, right = captures_dir / "sbs/Panasonic-DMC-GX8-left.jpg", captures_dir / "sbs/Panasonic-DMC-GX8-right.jpg"
    code, out, _ = _info(capsys, str(right), str(left), "--json")
    assert code == 0
    eyes = json.loads(out)["metadata"]["eyes"]
    assert eyes["swapped"] is True and "ground-plane" in eyes["reason"]
    code, out, _ = _info(capsys, str(right), str(left), "--eyes", "left-right")
    assert code == 0 and "eyes" in out and "given by the caller" in out
