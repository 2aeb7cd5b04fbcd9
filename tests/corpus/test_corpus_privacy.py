"""Privacy before storage: faces unrecognisable in both views, no GPS/serial/comment metadata in any stored file."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from parallax.capture import read_capture
from parallax.corpus import DEFAULT_MAX_SIDE_PX
from parallax.corpus.ingest import discover
from parallax.corpus.privacy import (
    MtcnnFaceDetector,
    anonymise_pair,
    blur_boxes,
    camera_facts,
    load_detector,
    match_boxes,
)
from parallax.corpus.store import Corpus
from parallax.errors import InputFileError, ParameterError
from parallax.stereo.pipeline import downscale_capture

from .conftest import ALICE, read_meta

_ALLOWED_PNG_CHUNKS = {b"IHDR", b"IDAT", b"IEND", b"PLTE", b"sRGB", b"gAMA", b"pHYs"}


def _png_chunks(data: bytes) -> set[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, kinds = 8, set()
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kinds.add(data[pos + 4 : pos + 8])
        pos += 12 + length
    return kinds


def _hf_energy(image: np.ndarray, box: np.ndarray) -> float:
    x0, y0, x1, y1 = np.round(box).astype(int)
    grey = cv2.cvtColor(image[max(0, y0) : y1, max(0, x0) : x1], cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def _overlaps(box: np.ndarray, others: np.ndarray) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return any(o[0] <= cx <= o[2] and o[1] <= cy <= o[3] for o in others)


@pytest.fixture(scope="module")
def gopro_1280(captures_dir):
    capture = read_capture(captures_dir / "sbs" / "GOPR0.left-right.jpg")
    small, _ = downscale_capture(capture, DEFAULT_MAX_SIDE_PX)  # the default stored size
    return small


def test_three_faces_blurred_consistently_at_the_default_size(gopro_1280):
    detector = MtcnnFaceDetector()
    left, right = gopro_1280.left, gopro_1280.right
    faces_l, faces_r = detector.detect(left), detector.detect(right)
    assert len(faces_l) >= 3 and len(faces_r) >= 3  # the three people, seen in both views
    out_l, out_r, report = anonymise_pair(left, right, detector)
    assert report.faces_left >= 3 and report.faces_right >= 3
    # the detector no longer finds any of the faces
    assert not any(_overlaps(b, faces_l) for b in detector.detect(out_l))
    assert not any(_overlaps(b, faces_r) for b in detector.detect(out_r))
    # high-frequency detail (what a face is recognised by) is gone: Laplacian energy falls by > 90 %
    for view, blurred, faces in ((left, out_l, faces_l), (right, out_r, faces_r)):
        for box in faces:
            assert _hf_energy(blurred, box) < 0.1 * _hf_energy(view, box), box
    # the rest of the picture is untouched
    mask = np.ones(left.shape[:2], bool)
    for x0, y0, x1, y1 in np.array(report.boxes_left).astype(int):
        mask[max(0, y0 - 40) : y1 + 40, max(0, x0 - 40) : x1 + 40] = False
    assert np.array_equal(out_l[mask], left[mask])


def test_stored_gopro_views_have_no_recognisable_face(ingested):
    outcome = next(o for o in ingested["outcomes"] if o.original_name == "GOPR0.left-right.jpg")
    assert outcome.status == "accepted", outcome.reason
    meta = read_meta(ingested["root"], outcome.sample_id)
    assert meta["privacy"]["faces_blurred_left"] >= 3 and meta["privacy"]["faces_blurred_right"] >= 3
    folder = ingested["root"] / "samples" / outcome.sample_id
    detector = MtcnnFaceDetector()
    for view in ("left", "right"):
        stored = cv2.cvtColor(cv2.imread(str(folder / f"{view}.png")), cv2.COLOR_BGR2RGB)
        h = np.array(meta["camera"]["rectification"][f"H_{view}"])
        boxes = np.array(meta["privacy"][f"blurred_boxes_{view}"], dtype=float)
        corners = np.stack([boxes[:, [0, 1]], boxes[:, [2, 3]]], axis=1)  # n x 2 x 2
        mapped = cv2.perspectiveTransform(corners.reshape(-1, 1, 2), h).reshape(-1, 4)
        assert not any(_overlaps(b, mapped) for b in detector.detect(stored)), view


def test_right_view_boxes_follow_the_left_faces(gopro_1280):
    detector = MtcnnFaceDetector()
    faces_l = detector.detect(gopro_1280.left)
    found = match_boxes(gopro_1280.left, gopro_1280.right, faces_l)
    faces_r = detector.detect(gopro_1280.right)
    assert len(found) == len(faces_l)
    assert all(_overlaps(b, faces_r + np.array([-8, -8, 8, 8])) for b in found)


def test_no_stored_file_carries_metadata(ingested):
    files = [p for p in (ingested["root"] / "samples").rglob("*") if p.is_file()]
    assert files
    for path in files:
        data = path.read_bytes()
        if path.suffix == ".png":
            assert _png_chunks(data) <= _ALLOWED_PNG_CHUNKS, path
            with Image.open(path) as im:
                assert not im.getexif() and not im.info.get("xmp"), path
        elif path.name == "meta.json":
            text = data.decode()
            for word in ("GPS", "Serial", "MakerNote", "UserComment", "ImageDescription", "XPComment", "xmp", "Owner"):
                assert word.lower() not in text.lower(), (path, word)


def _jpeg_with_private_exif(image: np.ndarray, path: Path) -> None:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "TestMake", "TestModel"  # Make, Model: kept
    exif[0x010E] = "Holiday at 12 Secret Street"  # ImageDescription
    exif[0x013B] = "Jane Doe"  # Artist
    exif.get_ifd(0x8769).update(
        {0xA431: "SN-998877", 0xA435: "LENS-4455", 0x9286: b"ASCII\0\0\0my comment", 0x920A: 4.5}
    )
    exif.get_ifd(0x8825).update({1: "N", 2: (48.0, 51.0, 30.0), 3: "E", 4: (2.0, 17.0, 40.0)})
    Image.fromarray(image).save(path, quality=95, exif=exif.tobytes())


def test_gps_serial_owner_and_comments_never_reach_the_corpus(tmp_path, captures_dir, ingested):
    capture = read_capture(captures_dir / "mpo" / "frozenpond.mpo")
    folder = tmp_path / "in"
    folder.mkdir()
    _jpeg_with_private_exif(np.ascontiguousarray(capture.left), folder / "trip-left.jpg")
    _jpeg_with_private_exif(np.ascontiguousarray(capture.right), folder / "trip-right.jpg")
    corpus = Corpus.init(tmp_path / "c")
    (outcome,) = corpus.add(discover([folder])[0], ALICE, ingested["settings"])
    assert outcome.status == "accepted", outcome.reason
    stored = b"".join(p.read_bytes() for p in (tmp_path / "c").rglob("*") if p.is_file() and "samples" in p.parts)
    for secret in (b"SN-998877", b"LENS-4455", b"Secret Street", b"Jane Doe", b"my comment", b"GPS"):
        assert secret not in stored, secret
    meta = read_meta(tmp_path / "c", outcome.sample_id)
    assert meta["source"]["original_name"] == "trip-left.jpg + trip-right.jpg"
    corpus.close()


def test_camera_facts_keep_3d_facts_and_drop_private_keys():
    facts, dropped = camera_facts(
        {
            "camera": {"make": "Nintendo", "model": "3DS", "baseline_m": 0.035, "convergence_deg": 1.2},
            "metadata": {
                "exif": {
                    "GPSInfo": {"1": "N"},
                    "BodySerialNumber": "123",
                    "focal_length_mm": 4.0,
                    "UserComment": "hi",
                    "XPComment": "x",
                    "CameraOwnerName": "Jane",
                    "MakerNote": "...",
                },
                "xmp": "<x:xmpmeta/>",
            },
        }
    )
    assert facts == {
        "make": "Nintendo",
        "model": "3DS",
        "baseline_m": 0.035,
        "convergence_deg": 1.2,
        "focal_length_mm": 4.0,
    }
    assert set(dropped) == {
        "GPSInfo",
        "BodySerialNumber",
        "UserComment",
        "XPComment",
        "CameraOwnerName",
        "MakerNote",
        "xmp",
    }


def test_plug_in_detectors_by_path(tmp_path):
    with pytest.raises(InputFileError, match="does not exist"):
        load_detector(tmp_path / "missing.xml")
    bogus = tmp_path / "bogus.xml"
    bogus.write_text("<opencv_storage></opencv_storage>")
    if hasattr(cv2, "CascadeClassifier"):
        with pytest.raises(InputFileError, match="not an OpenCV cascade"):
            load_detector(bogus)
    else:
        with pytest.raises(ParameterError, match="no cascade classifier"):
            load_detector(bogus)
    onnx = tmp_path / "fake.onnx"
    onnx.write_bytes(b"not an onnx model")
    with pytest.raises(InputFileError, match="YuNet"):
        load_detector(onnx)
    with pytest.raises(ParameterError, match="cascade .xml or a YuNet"):
        load_detector(tmp_path / "weights.pt")
    with pytest.raises(ParameterError, match="no built-in plate detector"):
        load_detector(None, kind="plate")


def test_blur_is_heavy_inside_the_box_only():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    box = np.array([[40.0, 30.0, 100.0, 90.0]])
    out = blur_boxes(image, box)
    assert _hf_energy(out, box[0]) < 0.05 * _hf_energy(image, box[0])
    assert np.array_equal(out[:, 130:], image[:, 130:])
    json.dumps(anonymise_pair(image, image, load_detector(None))[2].to_dict())  # report is JSON-ready


def test_mtcnn_on_an_image_without_any_candidate_finds_no_face():
    # a smooth synthetic gradient: no pyramid scale yields a P-Net candidate (mtcnn-runtime then stacks nothing)
    from parallax.corpus.privacy import MtcnnFaceDetector

    y, x = np.mgrid[0:120, 0:160]
    image = np.dstack([200 + 0 * x, (x + y) % 256, 255 - x]).astype(np.uint8)
    assert MtcnnFaceDetector().detect(image).shape == (0, 4)
