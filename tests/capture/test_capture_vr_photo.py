"""Google VR photo: both eyes (the right one from extended XMP), reprojected to a rectified pinhole pair, and damage."""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

from parallax.capture import VirtualCamera, detect_format, read_capture
from parallax.errors import InputFileError, NotStereoError

_EXT = b"http://ns.adobe.com/xmp/extension/\x00"


@pytest.fixture(scope="module")
def vr_path(captures_dir: Path) -> Path:
    return captures_dir / "vr" / "test.vr.jpg"


@pytest.fixture(scope="module")
def vr_capture(vr_path: Path):
    return read_capture(vr_path, virtual_camera=VirtualCamera(width=640))


def _segments(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of the JPEG header segments up to the first scan."""
    out, pos = [], 2
    while data[pos + 1] not in (0xDA, 0xD9):
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        out.append((pos, pos + 2 + length))
        pos += 2 + length
    return out


def _without(data: bytes, drop) -> bytes:
    kept, last = [], 0
    for start, end in _segments(data):
        if drop(data[start + 4 : end]):
            kept.append(data[last:start])
            last = end
    return b"".join(kept) + data[last:]


def test_vr_photo_is_found_by_content(vr_path):
    assert detect_format(vr_path) == "vr-photo"


def test_both_eyes_as_a_rectified_pinhole_pair(vr_capture):
    c = vr_capture
    assert c.format == "vr-photo" and c.left.shape == c.right.shape == (640, 640, 3)
    vr = c.metadata["vr"]
    assert vr["eye_size"] == [4096, 2048] and vr["crop_source"].startswith("GPano")
    assert vr["right_eye"] == "extended XMP (18 APP1 chunks)"
    assert vr["gpano"]["FullPanoWidthPixels"] == "4096"
    virtual = c.metadata["virtual_camera"]
    assert (virtual["hfov_deg"], virtual["yaw_deg"], virtual["pitch_deg"], virtual["width"]) == (90.0, 0.0, 0.0, 640)
    assert c.left_camera == c.right_camera and c.left_camera.focal_px == pytest.approx(320.0)
    # the right eye really is another view: rectified (rows agree) with positive disparity (left eye first)
    sift = cv2.SIFT_create(2000)
    ka, da = sift.detectAndCompute(cv2.cvtColor(c.left, cv2.COLOR_RGB2GRAY), None)
    kb, db = sift.detectAndCompute(cv2.cvtColor(c.right, cv2.COLOR_RGB2GRAY), None)
    pairs = [m[0] for m in cv2.BFMatcher().knnMatch(da, db, k=2) if len(m) == 2 and m[0].distance < 0.7 * m[1].distance]
    a = np.array([ka[m.queryIdx].pt for m in pairs])
    b = np.array([kb[m.trainIdx].pt for m in pairs])
    assert len(pairs) > 200
    assert np.median(np.abs(a[:, 1] - b[:, 1])) < 0.5
    dx = a[:, 0] - b[:, 0]
    assert np.median(dx) > 0.5 and np.mean(dx > 0) > 0.7


def test_virtual_camera_options(vr_path):
    c = read_capture(vr_path, virtual_camera=VirtualCamera(hfov_deg=60.0, yaw_deg=90.0, pitch_deg=-10.0, width=200))
    assert c.left.shape == (200, 200, 3)
    assert c.left_camera.hfov_deg == pytest.approx(60.0)
    assert c.metadata["virtual_camera"]["yaw_deg"] == 90.0


def test_missing_extended_chunk_is_an_error(vr_path, tmp_path):
    data = vr_path.read_bytes()
    chunks = [s for s in _segments(data) if data[s[0] + 4 : s[1]].startswith(_EXT)]
    assert len(chunks) == 18
    third = chunks[2]
    path = tmp_path / "gap.vr.jpg"
    path.write_bytes(data[: third[0]] + data[third[1] :])
    with pytest.raises(InputFileError, match=r"extended XMP is incomplete \(a chunk is missing at byte 130000"):
        read_capture(path)


def test_no_right_eye_is_not_stereo(vr_path, tmp_path):
    path = tmp_path / "one_eye.vr.jpg"
    path.write_bytes(_without(vr_path.read_bytes(), lambda body: body.startswith(_EXT)))
    with pytest.raises(NotStereoError, match="panorama with one eye"):
        read_capture(path)


def test_damaged_base64_is_an_error(vr_path, tmp_path):
    data = bytearray(vr_path.read_bytes())
    start = data.index(b'GImage:Data="') + len(b'GImage:Data="') + 100
    data[start] = ord("!")
    path = tmp_path / "bad.vr.jpg"
    path.write_bytes(bytes(data))
    with pytest.raises(InputFileError, match="not valid base64"):
        read_capture(path)
