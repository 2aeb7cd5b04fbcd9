"""LIF structure (parse/pack round trip) and reader, on Cactus.jpg and on files built with pack_lif."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from parallax.capture import read_capture
from parallax.capture.lif import LifField, is_lif, lif_json, pack_lif, parse_lif
from parallax.errors import InputFileError, NotStereoError, ParameterError


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def test_cactus_round_trips_byte_for_byte(captures_dir):
    data = (captures_dir / "lif/Cactus.jpg").read_bytes()
    host, fields = parse_lif(data, name="Cactus.jpg")
    assert [f.type for f in fields] == [0, 1, 1000001, 1000002, 1000003, 7]
    assert host.endswith(b"\xff\xd9") and fields[3].data[:2] == b"\xff\xd8"
    assert pack_lif(host, fields) == data
    assert is_lif(data[:64], data[-64:], len(data))
    ftype, meta = lif_json(fields)
    assert ftype == 7 and len(meta["views"]) == 2


def test_written_stereo_lif_reads_back(stereo_views, tmp_path, jpeg_of):
    left, right = stereo_views
    disparity = np.tile(np.linspace(0, 255, 128).astype(np.uint8), (96, 1))
    meta = {
        "views": [
            {"albedoId": -1, "xLocation": 0, "disparityId": 1000001},
            {"albedoId": 1000002, "xLocation": 1, "disparityId": 1000003},
        ]
    }
    fields = [
        LifField(type=1000001, data=_png(disparity)),
        LifField(type=1000002, data=jpeg_of(right)),
        LifField(type=1000003, data=_png(disparity[:, ::-1].copy())),
        LifField(type=7, data=json.dumps(meta).encode()),
    ]
    path = tmp_path / "written.jpg"
    path.write_bytes(pack_lif(jpeg_of(left), fields))
    capture = read_capture(path)
    assert capture.format == "lif" and capture.right.shape == (96, 128, 3)
    assert capture.metadata["lif"] == meta
    lmap, rmap = capture.maps
    np.testing.assert_allclose(lmap.data, disparity / 255.0, atol=1e-6)
    np.testing.assert_allclose(rmap.data, disparity[:, ::-1] / 255.0, atol=1e-6)
    assert "host_size" in capture.metadata and "left_resized_from" not in capture.metadata


def test_lif5_mono_with_inverse_depth_is_rgbd(stereo_views, tmp_path, jpeg_of):
    left = stereo_views[0]
    code = np.full((96, 128), 255, np.uint8)
    code[:, :64] = 0
    meta = {
        "views": [
            {
                "image": {"blob_id": -1},
                "inv_z_map": {"blob_id": 1000010, "min": 0.1, "max": 0.5},
                "width_px": 128,
                "height_px": 96,
                "focal_px": 100.0,
                "position": [0, 0, 0],
            }
        ]
    }
    data = pack_lif(
        jpeg_of(left), [LifField(type=1000010, data=_png(code)), LifField(type=8, data=json.dumps(meta).encode())]
    )
    path = tmp_path / "mono.lif"
    path.write_bytes(data)
    capture = read_capture(path)
    assert capture.right is None and capture.format == "lif"
    (inv,) = capture.maps
    assert inv.kind == "inverse-depth"
    # Leia viewer mapping: inv_z = max + n * (min - max)
    np.testing.assert_allclose(inv.data[:, 0], 0.5, atol=1e-6)
    np.testing.assert_allclose(inv.data[:, -1], 0.1, atol=1e-6)
    assert capture.left_camera.focal_px == pytest.approx(100.0)


def test_lif_without_second_view_or_map_is_not_stereo(stereo_views, tmp_path, jpeg_of):
    path = tmp_path / "bare.jpg"
    path.write_bytes(
        pack_lif(jpeg_of(stereo_views[0]), [LifField(type=8, data=b'{"views": [{"image": {"blob_id": -1}}]}')])
    )
    with pytest.raises(NotStereoError, match="one view and no depth map"):
        read_capture(path)


def test_damaged_lif_regions(stereo_views, tmp_path, jpeg_of):
    good = pack_lif(jpeg_of(stereo_views[0]), [LifField(type=1000002, data=jpeg_of(stereo_views[1]))])
    # a field that claims more bytes than the region holds
    bad = bytearray(good)
    host_len = len(jpeg_of(stereo_views[0]))
    bad[host_len + 8 : host_len + 12] = (10**7).to_bytes(4, "big")
    path = tmp_path / "bad.jpg"
    path.write_bytes(bytes(bad))
    with pytest.raises(InputFileError, match="runs past the region's end"):
        read_capture(path)
    # broken JSON
    path.write_bytes(pack_lif(jpeg_of(stereo_views[0]), [LifField(type=7, data=b"{nope")]))
    with pytest.raises(InputFileError, match="not valid JSON"):
        read_capture(path)


def test_lif_field_and_pack_validation():
    with pytest.raises(ParameterError):
        LifField(type=-1, data=b"")
    with pytest.raises(ParameterError):
        pack_lif(b"PNG", [])
    with pytest.raises(InputFileError):
        parse_lif(b"\xff\xd8" + b"\x00" * 20 + b"\x1e\x1a")
