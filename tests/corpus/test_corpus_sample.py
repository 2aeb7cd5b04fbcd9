"""The Sample type and its folder layout: round trips, hashes, validation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from parallax.corpus import encoding as enc
from parallax.corpus.sample import Sample, read_sample_dir, write_sample_dir
from parallax.errors import InputFileError, OutputError, ParameterError
from parallax.stereo.types import Rectification

from .conftest import ALICE, make_sample


def _sample(**over) -> Sample:
    rng = np.random.default_rng(3)
    h, w = 30, 50
    disparity = rng.uniform(-120, 300, (h, w)).astype(np.float32)
    disparity[0, :7] = np.nan
    base = dict(
        sample_id="s-test",
        left=rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
        right=rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
        disparity_px=disparity,
        depth=rng.uniform(0.5, 40, (h, w)).astype(np.float32),
        confidence=rng.uniform(0, 1, (h, w)).astype(np.float32),
        K=[[500.0, 0, 24.5], [0, 500.0, 14.5], [0, 0, 1]],
        baseline_m=0.063,
        depth_is_metric=True,
        rectification=Rectification.identity(w, h, vertical_error_before_px=0.2, matches=40),
        source_format="mpo",
        device="Nintendo 3DS",
        original_name="a.mpo",
        license="CC-BY-4.0",
        consent_id="c-1",
        contributor="alice",
        quality={"accepted": True, "reasons": []},
        lineage={"parallax_version": "0.1.0", "matcher": {"name": "sgm"}},
        camera_facts={"make": "Nintendo"},
        extras={"occlusion": disparity > 200, "normals": rng.normal(size=(h, w, 3)).astype(np.float32)},
    )
    base.update(over)
    return Sample(**base)


def test_sample_folder_round_trip_keeps_every_field(tmp_path):
    sample = _sample()
    manifest = write_sample_dir(sample, tmp_path / "s-test")
    back = read_sample_dir(tmp_path / "s-test")
    assert np.array_equal(back.left, sample.left) and np.array_equal(back.right, sample.right)
    finite = np.isfinite(sample.disparity_px)
    assert np.array_equal(np.isfinite(back.disparity_px), finite)
    assert (
        np.max(np.abs(back.disparity_px[finite] - sample.disparity_px[finite]))
        <= 0.5 / manifest["files"]["disparity"]["scale"]
    )
    assert np.max(np.abs(back.depth - sample.depth)) <= 0.5 / manifest["files"]["depth"]["scale"] + 1e-6
    assert np.max(np.abs(back.confidence - sample.confidence)) <= 0.5 / 65535 + 1e-7
    assert np.array_equal(back.valid, finite)
    assert np.array_equal(back.extras["occlusion"], sample.extras["occlusion"])
    assert np.array_equal(back.extras["normals"], sample.extras["normals"])
    assert np.allclose(back.K, sample.K) and back.baseline_m == 0.063 and back.depth_is_metric
    assert back.rectification.method == "none" and back.rectification.matches == 40
    assert (back.license, back.consent_id, back.contributor, back.original_name) == (
        "CC-BY-4.0",
        "c-1",
        "alice",
        "a.mpo",
    )
    assert back.lineage["matcher"] == {"name": "sgm"} and back.camera_facts == {"make": "Nintendo"}
    meta = json.loads((tmp_path / "s-test" / "meta.json").read_text())
    assert meta == manifest
    assert set(meta["files"]) == {
        "left",
        "right",
        "disparity",
        "depth",
        "confidence",
        "valid",
        "extra_occlusion",
        "extra_normals",
    }


def test_disparity_scale_adapts_to_large_disparities(tmp_path):
    big = np.full((10, 12), 2000.5, dtype=np.float32)
    manifest = write_sample_dir(
        _sample(disparity_px=np.pad(big, ((10, 10), (19, 19)), constant_values=-700.25), extras={}), tmp_path / "big"
    )
    scale = manifest["files"]["disparity"]["scale"]
    assert scale < 64 and 2000.5 * scale < 32767
    back = read_sample_dir(tmp_path / "big")
    assert abs(float(back.disparity_px[15, 25]) - 2000.5) <= 0.5 / scale
    assert abs(float(back.disparity_px[0, 0]) + 700.25) <= 0.5 / scale


def test_sample_round_trip_through_fsspec_memory():
    sample = make_sample(ALICE, 1)
    write_sample_dir(sample, "memory://corpus-test/syn")
    back = read_sample_dir("memory://corpus-test/syn")
    assert np.array_equal(back.right, sample.right) and back.source_kind == "synthetic"
    assert back.lineage["seed"] == 1001


def test_writing_is_deterministic(tmp_path):
    a = write_sample_dir(_sample(), tmp_path / "a")
    b = write_sample_dir(_sample(), tmp_path / "b")
    assert a == b
    assert (tmp_path / "a" / "meta.json").read_bytes() == (tmp_path / "b" / "meta.json").read_bytes()


def test_existing_folder_is_refused_and_left_alone(tmp_path):
    target = tmp_path / "s"
    target.mkdir()
    (target / "keep.txt").write_text("x")
    with pytest.raises(OutputError, match="already exists"):
        write_sample_dir(_sample(), target)
    assert (target / "keep.txt").read_text() == "x"
    assert [p.name for p in tmp_path.iterdir()] == ["s"]  # no staging folder left behind


def test_corrupt_file_is_caught_by_its_hash(tmp_path):
    write_sample_dir(_sample(), tmp_path / "s")
    png = tmp_path / "s" / "left.png"
    png.write_bytes(png.read_bytes()[:-20] + b"\0" * 20)
    with pytest.raises(InputFileError, match="SHA-256"):
        read_sample_dir(tmp_path / "s")


def test_missing_and_foreign_folders_are_errors(tmp_path):
    with pytest.raises(InputFileError, match="does not exist"):
        read_sample_dir(tmp_path / "nope")
    (tmp_path / "other").mkdir()
    with pytest.raises(InputFileError, match="no meta.json"):
        read_sample_dir(tmp_path / "other")
    (tmp_path / "other" / "meta.json").write_text('{"format": "something"}')
    with pytest.raises(InputFileError, match="not a parallax-sample"):
        read_sample_dir(tmp_path / "other")
    write_sample_dir(_sample(), tmp_path / "gone")
    (tmp_path / "gone" / "valid.png").unlink()
    with pytest.raises(InputFileError, match="missing"):
        read_sample_dir(tmp_path / "gone")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("sample_id", "../escape", "not a valid id"),
        ("right", np.zeros((31, 50, 3), np.uint8), "differ in size"),
        ("disparity_px", np.zeros((5, 5), np.float32), "shape"),
        ("K", [[0, 0, 0], [0, 1, 0], [0, 0, 1]], "positive focal"),
        ("baseline_m", -1.0, "positive number"),
        ("source_kind", "scraped", "real, synthetic or video"),
        ("license", "", "non-empty"),
        ("confidence", np.full((30, 50), 2.0, np.float32), r"\[0, 1\]"),
        ("extras", {"Bad Name": np.zeros((30, 50), bool)}, "lower-case"),
    ],
)
def test_invalid_samples_are_refused(field, value, message):
    with pytest.raises(ParameterError, match=message):
        _sample(**{field: value})


def test_metric_depth_needs_a_baseline():
    with pytest.raises(ParameterError, match="depth_is_metric"):
        _sample(baseline_m=None)


def test_pixel_hash_ignores_container_but_not_pixels():
    a = np.zeros((4, 4, 3), np.uint8)
    b = a.copy()
    assert enc.pixel_sha256(a, b) == enc.pixel_sha256(a.copy(), b.copy())
    b[0, 0, 0] = 1
    assert enc.pixel_sha256(a, b) != enc.pixel_sha256(a, a)


def test_map_encoding_marks_nan_as_zero():
    values = np.array([[math.nan, 0.0, -3.25]], dtype=np.float32)
    e = enc.choose_encoding("disparity", values)
    data = enc.encode_map16(values, e)
    import cv2

    raw = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16 and raw[0, 0] == 0 and raw[0, 1] == 32768 and raw[0, 2] == 32768 - 208
    back = enc.decode_map16(data, e, name="x")
    assert math.isnan(back[0, 0]) and back[0, 2] == -3.25
