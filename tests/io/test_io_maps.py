"""Map files (parallax.io.maps): PFM, 16-bit PNG, NPY, preview; read back and error paths."""

from __future__ import annotations

import numpy as np
import pytest

from parallax.errors import InputFileError, OutputError, ParameterError
from parallax.io.maps import colorize, read_map, read_pfm, read_png16, write_map, write_pfm, write_png16, write_preview


@pytest.fixture()
def disparity():
    rng = np.random.default_rng(11)
    d = rng.uniform(-120.0, 300.0, size=(37, 53)).astype(np.float32)
    d[rng.random(d.shape) < 0.1] = np.nan
    return d


def test_pfm_round_trip_keeps_values_and_orientation(tmp_path, disparity):
    path = write_pfm(tmp_path / "d.pfm", disparity)
    raw = path.read_bytes()
    assert raw.startswith(b"Pf\n53 37\n-1.0\n")
    body = np.frombuffer(raw[len(b"Pf\n53 37\n-1.0\n") :], dtype="<f4").reshape(37, 53)
    assert np.array_equal(body[::-1], np.where(np.isnan(disparity), np.inf, disparity))  # bottom row first, +inf
    back = read_pfm(path)
    assert back.dtype == np.float32
    assert np.array_equal(np.isnan(back), np.isnan(disparity))
    assert np.array_equal(back[np.isfinite(back)], disparity[np.isfinite(disparity)])
    rgb = np.dstack([disparity, disparity * 2, disparity * 3])
    assert np.allclose(read_pfm(write_pfm(tmp_path / "c.pfm", rgb)), rgb, equal_nan=True)


def test_reads_a_real_big_file_pfm(stereo_gt_dir):
    gt = read_pfm(stereo_gt_dir / "eth3d-playground_1l" / "disp0.pfm")
    assert gt.shape == (490, 941)
    assert 0.4 < np.isfinite(gt).mean() < 0.6  # sparse ground truth, +inf -> NaN
    assert 1.0 < np.nanmin(gt) < np.nanmax(gt) < 64.0


def test_big_endian_pfm_is_read(tmp_path):
    data = np.arange(12, dtype=np.float32).reshape(3, 4)
    path = tmp_path / "be.pfm"
    path.write_bytes(b"Pf\n4 3\n1.0\n" + data[::-1].astype(">f4").tobytes())
    assert np.array_equal(read_pfm(path), data)


def test_png16_depth_in_millimetres(tmp_path):
    from PIL import Image

    depth = np.array([[0.5, 1.2341, np.nan], [70.0, 2.0, -1.0]], dtype=np.float32)
    path = write_png16(tmp_path / "z.png", depth, kind="depth")
    with Image.open(path) as img:
        raw = np.asarray(img)
        assert img.info["parallax:kind"] == "depth"
    assert raw.dtype == np.uint16
    assert raw.tolist() == [[500, 1234, 0], [65535, 2000, 0]]  # mm, capped, 0 = no value
    back, kind = read_png16(path)
    assert kind == "depth"
    assert np.allclose(back[0, :2], [0.5, 1.234]) and np.isnan(back[0, 2]) and np.isnan(back[1, 2])


def test_png16_disparity_round_trip(tmp_path, disparity):
    d = np.clip(disparity, -500, 500)
    back = read_map(write_map(tmp_path / "d.png", d, kind="disparity"))
    assert np.array_equal(np.isnan(back), np.isnan(d))
    assert np.nanmax(np.abs(back - d)) <= 1 / 128 + 1e-6


def test_png16_disparity_out_of_range_is_refused(tmp_path):
    target = tmp_path / "d.png"
    with pytest.raises(OutputError, match="pfm"):
        write_map(target, np.array([[600.0]]), kind="disparity")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_npy_round_trip(tmp_path, disparity):
    back = read_map(write_map(tmp_path / "d.npy", disparity, kind="disparity"))
    assert back.dtype == np.float32
    assert np.array_equal(back, disparity, equal_nan=True)


def test_preview_is_turbo_with_black_holes(tmp_path, disparity):
    from PIL import Image

    rgb = colorize(disparity)
    assert rgb.shape == disparity.shape + (3,) and rgb.dtype == np.uint8
    assert np.all(rgb[np.isnan(disparity)] == 0)
    near = np.unravel_index(np.nanargmax(disparity), disparity.shape)
    far = np.unravel_index(np.nanargmin(disparity), disparity.shape)
    assert rgb[near][0] > rgb[near][2] and rgb[far][2] > rgb[far][0]  # near red, far blue
    with Image.open(write_preview(tmp_path / "p.png", disparity)) as img:
        assert np.array_equal(np.asarray(img.convert("RGB")), rgb)


def test_map_error_paths(tmp_path, disparity):
    with pytest.raises(OutputError, match="extension"):
        write_map(tmp_path / "d.tiff", disparity, kind="disparity")
    with pytest.raises(OutputError, match="does not exist"):
        write_map(tmp_path / "missing" / "d.pfm", disparity, kind="disparity")
    with pytest.raises(ParameterError, match="HxW"):
        write_map(tmp_path / "d.npy", np.zeros((2, 2, 2)), kind="disparity")
    with pytest.raises(ParameterError, match="kind"):
        write_map(tmp_path / "d.png", disparity, kind="speed")
    bad = tmp_path / "bad.pfm"
    bad.write_bytes(b"P6\n1 1\n255\n\x00\x00\x00")
    with pytest.raises(InputFileError, match="not a PFM"):
        read_pfm(bad)
    short = tmp_path / "short.pfm"
    short.write_bytes(b"Pf\n10 10\n-1.0\n" + b"\x00" * 12)
    with pytest.raises(InputFileError, match="truncated"):
        read_pfm(short)
    with pytest.raises(InputFileError, match="cannot read"):
        read_pfm(tmp_path / "nothing.pfm")
    plain = tmp_path / "plain.png"
    from PIL import Image

    Image.fromarray(np.zeros((4, 4), dtype=np.uint16)).save(plain)
    with pytest.raises(InputFileError, match="parallax:kind"):
        read_png16(plain)
    with pytest.raises(InputFileError, match="extension"):
        read_map(tmp_path / "x.exr")


def test_existing_file_survives_a_failed_write(tmp_path):
    target = tmp_path / "d.png"
    target.write_bytes(b"precious")
    with pytest.raises(OutputError):
        write_map(target, np.array([[900.0]]), kind="disparity")
    assert target.read_bytes() == b"precious"
