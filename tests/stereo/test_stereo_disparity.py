"""One depth path: the CLI, the Python API and the corpus give the same disparity; dense by default, --strict."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from parallax.stereo.disparity import (
    EXTRAPOLATED_CONFIDENCE,
    disparity_of_pair,
    estimate_disparity,
    outside_right_view,
)


@pytest.fixture()
def pair_files(tmp_path, plain_wall):
    left, right, gt = plain_wall
    paths = (tmp_path / "wall-left.png", tmp_path / "wall-right.png")
    Image.fromarray(left).save(paths[0])
    Image.fromarray(right).save(paths[1])
    return paths, left, right, gt


def test_dense_by_default_strict_leaves_unmeasured_pixels_empty(plain_wall):
    left, right, gt = plain_wall
    dense = disparity_of_pair(left, right)
    strict = disparity_of_pair(left, right, strict=True)
    # dense: every pixel of this pair has a value; those seen by one camera only are extrapolated
    # from the background side and marked with a low confidence
    outside = outside_right_view(dense.disparity_px)
    assert outside[:, :5].all() and dense.valid.all()
    assert np.all(dense.confidence[outside] <= EXTRAPOLATED_CONFIDENCE)
    assert np.abs(dense.disparity_px[:, :5] - gt[:, :5]).mean() < 1.0  # the background, continued
    # strict: only measured pixels (left-right consistent matches inside the right view) have a value
    assert np.isnan(strict.disparity_px[outside]).all()
    assert np.array_equal(strict.valid, strict.measured) and strict.valid.mean() < dense.valid.mean()
    occluded_bg = np.zeros(gt.shape, bool)
    occluded_bg[45:155, 64:78] = True  # background strip just left of the wall, seen by the left camera only
    assert np.isnan(strict.disparity_px[occluded_bg]).mean() > 0.8
    # where strict has a value it is the dense one
    both = strict.valid
    np.testing.assert_array_equal(strict.disparity_px[both], dense.disparity_px[both])
    assert strict.settings["strict"] is True and dense.settings["strict"] is False


def test_cli_api_and_corpus_give_identical_disparity(tmp_path, pair_files):
    from parallax.capture import read_capture
    from parallax.cli.main import main
    from parallax.corpus.consent import Consent
    from parallax.corpus.ingest import CaptureItem, IngestSettings, process_capture
    from parallax.corpus.sample import decode_sample
    from parallax.io.maps import read_map
    from parallax.stereo.pipeline import compute_depth

    (left_path, right_path), left, right, _ = pair_files
    out = tmp_path / "cli.npy"
    assert main(["disparity", str(left_path), str(right_path), "-o", str(out)]) == 0
    cli = read_map(out)
    api = estimate_disparity(left, right)
    np.testing.assert_array_equal(cli, api)  # bit for bit, NaN where NaN
    depth = compute_depth(read_capture(left_path, right_path))
    np.testing.assert_array_equal(depth.disparity_px, api)
    assert depth.rectification.method == "none"

    consent = Consent(contributor="tester", license="CC-BY-4.0", allow_training=True, date="2026-03-01")
    item = CaptureItem(
        paths=(str(left_path), str(right_path)), original_name="wall-left.png + wall-right.png", input_key="k"
    )
    processed = process_capture(item, consent, IngestSettings(max_side_px=1280))
    assert processed.status == "ok", processed.reason
    sample = decode_sample(lambda name: processed.files[name], where="memory")
    # the corpus stores disparity as a 16-bit PNG in 1/64 px steps: the same values, quantised
    finite = np.isfinite(api)
    np.testing.assert_array_equal(np.isfinite(sample.disparity_px), finite)
    np.testing.assert_array_equal(sample.disparity_px[finite], np.round(api[finite] * 64) / 64)
    np.testing.assert_array_equal(sample.valid, depth.valid)


def test_cli_strict_flag(tmp_path, pair_files, capsys):
    from parallax.cli.main import main
    from parallax.io.maps import read_map

    (left_path, right_path), left, right, _ = pair_files
    dense, strict = tmp_path / "dense.pfm", tmp_path / "strict.pfm"
    assert main(["disparity", str(left_path), str(right_path), "-o", str(dense)]) == 0
    assert main(["disparity", str(left_path), str(right_path), "-o", str(strict), "--strict"]) == 0
    d, s = read_map(dense), read_map(strict)
    assert np.isfinite(d).mean() > np.isfinite(s).mean()
    np.testing.assert_array_equal(s, estimate_disparity(left, right, strict=True))
    depth = tmp_path / "z.npy"
    assert main(["depth", str(left_path), str(right_path), "-o", str(depth), "--strict", "--far-clip", "0"]) == 0
    assert "of pixels valid" in capsys.readouterr().out
    assert np.isnan(read_map(depth)).mean() == pytest.approx(np.isnan(s).mean(), abs=1e-6)
