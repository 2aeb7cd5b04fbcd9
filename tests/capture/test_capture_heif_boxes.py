"""HEIF box parsing: cmex positions (baseline) from a synthetic meta box and from the real spatial photos."""

from __future__ import annotations

import struct

import pytest

from parallax.capture.heif_boxes import is_heif, parse_heif_layout


def _box(typ: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + typ + body


def _full(typ: bytes, version: int, flags: int, body: bytes) -> bytes:
    return _box(typ, bytes([version]) + flags.to_bytes(3, "big") + body)


def _spatial_meta(cmex_right: bytes, *, apple_uuid: bool) -> bytes:
    infe = lambda item: _full(b"infe", 2, 0, struct.pack(">HH", item, 0) + b"hvc1" + b"\x00")  # noqa: E731
    iinf = _full(b"iinf", 0, 0, struct.pack(">H", 2) + infe(1) + infe(2))
    left_cmex = bytes([0, 0, 0, 0])  # no position fields: (0, 0, 0)
    if apple_uuid:
        uuid = bytes.fromhex("4363e9145b7d4aab97aebea69803b434")
        props = _box(b"uuid", uuid + left_cmex) + _box(b"uuid", uuid + cmex_right)
    else:
        props = _box(b"cmex", left_cmex) + _box(b"cmex", cmex_right)
    ipco = _box(b"ipco", props)
    ipma = _full(
        b"ipma",
        0,
        0,
        struct.pack(">I", 2) + struct.pack(">HB", 1, 1) + bytes([0x01]) + struct.pack(">HB", 2, 1) + bytes([0x02]),
    )
    grpl = _box(b"grpl", _full(b"ster", 0, 0, struct.pack(">III", 9, 2, 1) + struct.pack(">I", 2)))
    meta = _full(b"meta", 0, 0, iinf + _box(b"iprp", ipco + ipma) + grpl)
    return _box(b"ftyp", b"heic" + b"\x00\x00\x00\x00" + b"mif1heic") + meta


@pytest.mark.parametrize("apple_uuid", [True, False])
def test_cmex_positions_and_quaternion(apple_uuid):
    # flags: pos_x | pos_z | orientation | large rotation fields
    flags = 0x01 | 0x04 | 0x08 | 0x10
    qx = int(0.1 * (1 << 30))
    right = bytes([0]) + flags.to_bytes(3, "big") + struct.pack(">ii", 64000, -500) + struct.pack(">iii", qx, 0, 0)
    data = _spatial_meta(right, apple_uuid=apple_uuid)
    assert is_heif(data[:32])
    layout = parse_heif_layout(data)
    assert layout.groups == [("ster", 9, (1, 2))]
    assert layout.item_types == {1: "hvc1", 2: "hvc1"}
    assert layout.extrinsics[1].position_um == (0, 0, 0)
    ext = layout.extrinsics[2]
    assert ext.position_um == (64000, 0, -500)
    w, x, y, z = ext.quaternion_wxyz
    assert x == pytest.approx(0.1) and w == pytest.approx((1 - 0.01) ** 0.5)


def test_damaged_boxes_give_an_empty_layout():
    data = _spatial_meta(bytes([0, 0, 0, 1]) + b"\x00", apple_uuid=False)  # pos_x flag but 1 byte
    layout = parse_heif_layout(data)
    assert 2 not in layout.extrinsics  # the short cmex is skipped, not guessed
    assert parse_heif_layout(b"\x00\x00\x00\x10ftypheic" + b"\xff" * 40).extrinsics == {}
    assert not is_heif(b"\xff\xd8\xff\xe0" + b"\x00" * 28)


def test_real_spatial_photo_layout(captures_dir):
    layout = parse_heif_layout((captures_dir / "heic/vision-pro.HEIC").read_bytes())
    (group,) = layout.groups
    assert group[0] == "ster"
    left, right = group[2]
    assert layout.extrinsics[left].position_um == (0, 0, 0)
    assert layout.extrinsics[right].position_um == (63774, 0, 0)
    assert layout.disparity_adjustment[left] == 293
