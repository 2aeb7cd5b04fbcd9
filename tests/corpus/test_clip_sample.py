"""The ClipSample type and its folder layout: round trips, windows, hashes, atomicity, validation."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from parallax.corpus.clip_folder import ClipSampleWriter, encode_clip_sample
from parallax.corpus.clip_sample import (
    ClipFrame,
    ClipInfo,
    ClipSample,
    clip_content_sha256,
    open_clip_sample_dir,
    read_clip_sample_dir,
    write_clip_sample_dir,
)
from parallax.corpus.sample import write_sample_dir
from parallax.errors import InputFileError, OutputError, ParameterError
from parallax.stereo.types import Rectification

from .conftest import ALICE, make_sample

H, W = 24, 40
EXTRAS_INFO = {
    "flow": {"content": "forward optical flow of the left view to the next frame", "units": "px", "nodata": "NaN"},
    "occlusion": {"content": "left pixels the right view does not see", "nodata": "none"},
}


def _pose(t: float) -> np.ndarray:
    c, s = math.cos(0.1 * t), math.sin(0.1 * t)
    pose = np.eye(4)
    pose[:3, :3] = [[c, 0, s], [0, 1, 0], [-s, 0, c]]
    pose[:3, 3] = [0.05 * t, 0.0, 0.02 * t]
    return pose


def _frame(i: int, *, size: tuple[int, int] = (H, W), **over) -> ClipFrame:
    rng = np.random.default_rng(100 + i)
    h, w = size
    disparity = rng.uniform(-20, 60, (h, w)).astype(np.float32)
    disparity[0, : 3 + i] = np.nan
    flow = rng.normal(0, 3, (h, w, 2)).astype(np.float32)
    flow[-1, :5] = np.nan
    base = dict(
        timestamp_s=10.0 + i / 30.0,
        left=rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
        right=rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
        disparity_px=disparity,
        depth=rng.uniform(0.5, 30, (h, w)).astype(np.float32),
        confidence=rng.uniform(0, 1, (h, w)).astype(np.float32),
        K=[[50.0, 0, (w - 1) / 2], [0, 50.0, (h - 1) / 2], [0, 0, 1]],
        pose=_pose(i) if i != 2 else None,  # frame 2: tracking lost
        source_index=300 + 2 * i,
        extras={"flow": flow, "occlusion": disparity > 50},
    )
    base.update(over)
    return ClipFrame(**base)


def _info(**over) -> ClipInfo:
    base = dict(
        sample_id="c-test",
        fps=15.0,
        baseline_m=0.064,
        depth_is_metric=True,
        poses_are_metric=True,
        rectification=Rectification.identity(W, H, vertical_error_before_px=0.3, matches=55),
        source_kind="video",
        source_format="mv-hevc",
        layout="multiview",
        device="Apple iPhone 15 Pro",
        original_name="walk.mov",
        license="CC-BY-4.0",
        consent_id="c-1",
        contributor="alice",
        quality={"accepted": True, "reasons": []},
        lineage={"parallax_version": "0.1.0", "matcher": {"name": "default"}},
        camera_facts={"make": "Apple"},
        processing={"cut_start_s": 10.0, "frame_step": 2},
        extras_info=EXTRAS_INFO,
    )
    base.update(over)
    return ClipInfo(**base)


def _clip(n: int = 4, **info) -> ClipSample:
    return ClipSample(info=_info(**info), frames=tuple(_frame(i) for i in range(n)))


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def _same_info(a: ClipInfo, b: ClipInfo) -> None:
    assert a.rectification.to_dict() == b.rectification.to_dict()
    assert dataclasses.replace(a, rectification=None) == dataclasses.replace(b, rectification=None)


def _same_frame(a: ClipFrame, b: ClipFrame, disparity_scale: float) -> None:
    assert np.array_equal(a.left, b.left) and np.array_equal(a.right, b.right)
    fin = np.isfinite(b.disparity_px)
    assert np.array_equal(np.isfinite(a.disparity_px), fin)
    assert np.max(np.abs(a.disparity_px[fin] - b.disparity_px[fin])) <= 0.5 / disparity_scale + 1e-6
    assert np.max(np.abs(a.depth - b.depth)) <= 0.5 / 1000 + 1e-6
    assert np.max(np.abs(a.confidence - b.confidence)) <= 0.5 / 65535 + 1e-7
    assert np.array_equal(a.valid, b.valid)
    assert np.array_equal(a.extras["flow"], b.extras["flow"], equal_nan=True)  # float32 NPY: exact
    assert np.array_equal(a.extras["occlusion"], b.extras["occlusion"]) and a.extras["occlusion"].dtype == bool
    assert np.array_equal(a.K, b.K) and a.timestamp_s == b.timestamp_s and a.source_index == b.source_index
    assert (a.pose is None and b.pose is None) or np.array_equal(a.pose, b.pose)


def test_clip_folder_round_trip_keeps_every_field(tmp_path):
    clip = _clip()
    manifest = write_clip_sample_dir(clip, tmp_path / "c-test")
    back = read_clip_sample_dir(tmp_path / "c-test")
    _same_info(back.info, clip.info)
    assert back.frame_count == 4 and (back.width, back.height) == (W, H)
    for i, (a, b) in enumerate(zip(back.frames, clip.frames, strict=True)):
        _same_frame(a, b, manifest["files"][f"disparity/{i:06d}"]["scale"])
    assert np.array_equal(back.timestamps_s, clip.timestamps_s)
    assert np.array_equal(back.poses, clip.poses, equal_nan=True) and np.isnan(back.poses[2]).all()
    assert back.intrinsics.shape == (4, 3, 3)
    meta = json.loads((tmp_path / "c-test" / "meta.json").read_text())
    assert meta == manifest
    assert meta["format"] == "parallax-clip" and meta["frame_count"] == 4 and meta["fps"] == 15.0
    assert meta["source"]["kind"] == "video" and meta["source"]["layout"] == "multiview"
    assert meta["camera"]["poses"]["metric"] is True and meta["frames"][2]["pose"] is None
    # self-describing: every file on disk is listed with its hash, and every stream says what it holds
    assert _files(tmp_path / "c-test") == {e["path"] for e in meta["files"].values()} | {"meta.json"}
    assert set(meta["streams"]) == {"left", "right", "disparity", "depth", "confidence", "valid", "flow", "occlusion"}
    for name, stream in meta["streams"].items():
        assert stream["content"] and stream["encoding"] and "{index:06d}" in stream["path"], name
    assert meta["streams"]["flow"]["units"] == "px" and meta["streams"]["flow"]["shape"] == ["H", "W", 2]
    assert meta["streams"]["depth"]["units"] == "m"
    assert meta["files"]["disparity/000003"]["path"] == "disparity/000003.png"
    assert meta["files"]["flow/000001"]["encoding"] == "npy"


def test_window_reads_only_its_frames(tmp_path):
    clip = _clip(5)
    manifest = write_clip_sample_dir(clip, tmp_path / "c")
    for i in (0, 4):  # frames outside the window are damaged: a window must not need them
        (tmp_path / "c" / "left" / f"{i:06d}.png").write_bytes(b"not a png")
    reader = open_clip_sample_dir(tmp_path / "c")
    assert len(reader) == 5 and reader.extra_names == ("flow", "occlusion")
    assert np.array_equal(reader.timestamps_s, clip.timestamps_s)  # from meta.json alone
    assert np.array_equal(reader.poses, clip.poses, equal_nan=True)
    window = reader.read_frames(1, 4)
    assert len(window) == 3
    for i, frame in zip(range(1, 4), window, strict=True):
        _same_frame(frame, clip.frames[i], manifest["files"][f"disparity/{i:06d}"]["scale"])
    assert reader[-2].timestamp_s == clip.frames[3].timestamp_s
    bare = reader.read_frames(2, 3, extras=False)[0]
    assert bare.extras == {}
    only = reader.read_frame(1, extras=["flow"])
    assert set(only.extras) == {"flow"}
    with pytest.raises(InputFileError, match="SHA-256"):
        reader.read_frames(0, 2)
    with pytest.raises(ParameterError, match="not inside"):
        reader.read_frames(3, 7)
    with pytest.raises(ParameterError, match="no extra maps"):
        reader.read_frame(1, extras=["normals"])


def test_corrupt_or_missing_frame_file_is_caught(tmp_path):
    write_clip_sample_dir(_clip(), tmp_path / "c")
    npy = tmp_path / "c" / "flow" / "000002.npy"
    npy.write_bytes(npy.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(InputFileError, match=r"flow/000002.npy does not match its SHA-256"):
        read_clip_sample_dir(tmp_path / "c")
    assert read_clip_sample_dir(tmp_path / "c", verify=False).frame_count == 4  # unverified read still decodes
    (tmp_path / "c" / "valid" / "000001.png").unlink()
    with pytest.raises(InputFileError, match="missing"):
        read_clip_sample_dir(tmp_path / "c", verify=False)


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    # an exception while frames stream in (here: the source fails after two frames)
    with pytest.raises(RuntimeError, match="decoder died"):
        with ClipSampleWriter(tmp_path / "c", _info()) as writer:
            for i in range(4):
                if i == 2:
                    raise RuntimeError("decoder died")
                writer.add_frame(_frame(i))
    assert list(tmp_path.iterdir()) == []
    # a frame that does not fit the clip
    with pytest.raises(ParameterError, match="differs from the clip"):
        with ClipSampleWriter(tmp_path / "c", _info()) as writer:
            writer.add_frame(_frame(0))
            writer.add_frame(_frame(1, size=(H, W + 2)))
    assert list(tmp_path.iterdir()) == []
    # the final rename fails (e.g. the disk is gone)

    def broken_rename(src, dst):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "rename", broken_rename)
    with pytest.raises(OutputError, match="Input/output error"):
        write_clip_sample_dir(_clip(), tmp_path / "c")
    assert list(tmp_path.iterdir()) == []


def test_existing_folder_is_refused_and_left_alone(tmp_path):
    target = tmp_path / "c"
    target.mkdir()
    (target / "keep.txt").write_text("x")
    with pytest.raises(OutputError, match="already exists"):
        write_clip_sample_dir(_clip(), target)
    assert (target / "keep.txt").read_text() == "x" and [p.name for p in tmp_path.iterdir()] == ["c"]
    with pytest.raises(OutputError, match="does not exist"):
        write_clip_sample_dir(_clip(), tmp_path / "nope" / "c")


def test_writer_with_no_frame_writes_nothing(tmp_path):
    with pytest.raises(ParameterError, match="no frames"):
        with ClipSampleWriter(tmp_path / "c", _info()):
            pass
    assert list(tmp_path.iterdir()) == []


def test_streamed_and_whole_writes_are_byte_identical(tmp_path):
    clip = _clip()
    write_clip_sample_dir(clip, tmp_path / "a")
    with ClipSampleWriter(tmp_path / "b", clip.info) as writer:
        for frame in clip.frames:
            writer.add_frame(frame)
    files, manifest = encode_clip_sample(clip)
    assert writer.manifest == manifest
    for name in _files(tmp_path / "a"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
        if name != "meta.json":
            assert files[name] == (tmp_path / "a" / name).read_bytes()


def test_clip_round_trip_through_fsspec_memory():
    clip = _clip(2)
    write_clip_sample_dir(clip, "memory://clip-test/c")
    back = read_clip_sample_dir("memory://clip-test/c")
    _same_info(back.info, clip.info)
    assert np.array_equal(back.frames[1].right, clip.frames[1].right)
    window = open_clip_sample_dir("memory://clip-test/c").read_frames(1, 2)
    assert window[0].source_index == clip.frames[1].source_index


def test_foreign_folders_are_errors(tmp_path):
    with pytest.raises(InputFileError, match="does not exist"):
        read_clip_sample_dir(tmp_path / "nope")
    (tmp_path / "other").mkdir()
    with pytest.raises(InputFileError, match="no meta.json"):
        read_clip_sample_dir(tmp_path / "other")
    write_sample_dir(make_sample(ALICE, 1), tmp_path / "still")
    with pytest.raises(InputFileError, match="not a parallax-clip"):
        read_clip_sample_dir(tmp_path / "still")
    write_clip_sample_dir(_clip(2), tmp_path / "cut")
    meta = json.loads((tmp_path / "cut" / "meta.json").read_text())
    del meta["frames"]
    (tmp_path / "cut" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(InputFileError, match="not a complete clip manifest"):
        read_clip_sample_dir(tmp_path / "cut")


def test_content_hash_follows_pixels_and_order():
    clip = _clip(3)
    pairs = [(f.left, f.right) for f in clip.frames]
    assert clip_content_sha256(pairs) == clip_content_sha256([(a.copy(), b.copy()) for a, b in pairs])
    assert clip_content_sha256(pairs) != clip_content_sha256(pairs[::-1])
    assert clip_content_sha256(pairs) != clip_content_sha256(pairs[:2])


@pytest.mark.parametrize(
    ("frame_over", "message"),
    [
        ({"timestamp_s": -1.0}, "timestamp_s"),
        ({"timestamp_s": math.nan}, "timestamp_s"),
        ({"right": np.zeros((H + 1, W, 3), np.uint8)}, "differ in size"),
        ({"disparity_px": np.zeros((5, 5), np.float32)}, "shape"),
        ({"K": [[0, 0, 0], [0, 1, 0], [0, 0, 1]]}, "positive focal"),
        ({"pose": np.eye(3)}, "rigid"),
        ({"pose": np.diag([2.0, 1.0, 1.0, 1.0])}, "rigid"),
        ({"pose": np.diag([-1.0, 1.0, 1.0, 1.0])}, "rigid"),  # a reflection, not a rotation
        ({"source_index": -3}, "source_index"),
        ({"confidence": np.full((H, W), 2.0, np.float32)}, r"\[0, 1\]"),
        ({"extras": {"valid": np.zeros((H, W), bool)}}, "core file"),
    ],
)
def test_invalid_frames_are_refused(frame_over, message):
    with pytest.raises(ParameterError, match=message):
        _frame(0, **frame_over)


@pytest.mark.parametrize(
    ("info_over", "message"),
    [
        ({"sample_id": "../escape"}, "not a valid id"),
        ({"fps": 0.0}, "fps"),
        ({"source_kind": "real"}, "video or synthetic"),
        ({"license": ""}, "non-empty"),
        ({"baseline_m": None}, "depth_is_metric needs baseline_m"),
        ({"extras_info": {"flow": {"units": "px"}, "occlusion": {"content": "x"}}}, "'content' sentence"),
        ({"extras_info": {"Flow": {"content": "x"}}}, "lower-case"),
    ],
)
def test_invalid_clip_info_is_refused(info_over, message):
    with pytest.raises(ParameterError, match=message):
        _info(**info_over)


def test_frames_must_fit_one_clip():
    info = _info()
    frames = [_frame(i) for i in range(3)]
    with pytest.raises(ParameterError, match="no frames"):
        ClipSample(info=info, frames=())
    with pytest.raises(ParameterError, match="strictly increase"):
        ClipSample(info=info, frames=(frames[1], frames[0]))
    with pytest.raises(ParameterError, match="differs from the clip"):
        ClipSample(info=info, frames=(frames[0], _frame(1, size=(H + 2, W))))
    with pytest.raises(ParameterError, match="every frame or in none"):
        ClipSample(info=_info(depth_is_metric=False), frames=(frames[0], _frame(1, depth=None)))
    with pytest.raises(ParameterError, match="depth_is_metric needs a depth map"):
        ClipSample(info=info, frames=(_frame(0, depth=None),))
    with pytest.raises(ParameterError, match="differ from the first frame"):
        ClipSample(
            info=info,
            frames=(
                frames[0],
                dataclasses.replace(frames[1], extras={**frames[1].extras, "flow": frames[1].extras["flow"][..., 0]}),
            ),
        )
    with pytest.raises(ParameterError, match="not described"):
        ClipSample(info=_info(extras_info={"flow": EXTRAS_INFO["flow"]}), frames=(frames[0],))
    with pytest.raises(ParameterError, match="which the frames do not hold"):
        extra = {**EXTRAS_INFO, "normals": {"content": "unit normals"}}
        ClipSample(info=_info(extras_info=extra), frames=(frames[0],))
    with pytest.raises(ParameterError, match="not a ClipFrame"):
        ClipSample(info=info, frames=(frames[0], "frame"))


def test_read_stream_and_update_info(tmp_path):
    clip = _clip(3)
    with ClipSampleWriter(tmp_path / "c", clip.info) as writer:
        for frame in clip.frames:
            writer.add_frame(frame)
        writer.update_info(quality={"accepted": True, "reasons": [], "scores": {"frames": 3}})
        with pytest.raises(ParameterError, match="cannot change"):
            writer.update_info(sample_id="other")
    reader = open_clip_sample_dir(tmp_path / "c")
    assert reader.info.quality["scores"] == {"frames": 3}
    assert np.array_equal(reader.read_stream("right", 2), clip.frames[2].right)
    assert np.array_equal(reader.read_stream("flow", 1), clip.frames[1].extras["flow"], equal_nan=True)
    assert reader.read_stream("valid", 0).dtype == bool
    with pytest.raises(ParameterError, match="no stream"):
        reader.read_stream("normals", 0)
    with pytest.raises(ParameterError, match="outside"):
        reader.read_stream("left", 3)


def test_clip_samples_enter_the_corpus_like_stills(tmp_path):
    from parallax.corpus.consent import Consent
    from parallax.corpus.export import export_corpus
    from parallax.corpus.maintenance import verify, withdraw
    from parallax.corpus.sample_import import add_sample_dirs, split_sample_dirs
    from parallax.corpus.store import Corpus

    consent = Consent(contributor="alice", license="CC-BY-4.0", allow_training=True, date="2026-03-01")
    clip = _clip(3)
    folders = tmp_path / "inbox"
    folders.mkdir()
    write_clip_sample_dir(clip, folders / "c-test")
    write_sample_dir(make_sample(consent, 1, kind="real"), folders / "still")
    sample_dirs, others = split_sample_dirs([folders])
    assert [p.name for p in sample_dirs] == ["c-test", "still"] and others == []
    corpus = Corpus.init(tmp_path / "corpus")
    try:
        outcomes = add_sample_dirs(corpus, sample_dirs, consent)
        assert [o.status for o in outcomes] == ["accepted", "accepted"], outcomes
        again = add_sample_dirs(corpus, sample_dirs, consent)
        assert [o.status for o in again] == ["skipped", "skipped"]
        stored = read_clip_sample_dir(corpus.storage.path("c-test"))
        assert stored.info.consent_id == consent.consent_id and stored.frame_count == 3
        report = verify(corpus)
        assert report.ok and report.files_checked >= 3 * 8
        result = export_corpus(corpus, fmt="webdataset", out=str(tmp_path / "export"))
        assert sum(result.clip_samples.values(), []) == ["c-test"] and "c-test" in sum(result.samples.values(), [])
        (corpus.storage.path("c-test") / "flow" / "000001.npy").write_bytes(b"tampered")
        assert any("c-test" in p for p in verify(corpus).problems)
        assert set(withdraw(corpus, contributor="alice")) == {"c-test", "syn-alice-001"}
        assert not corpus.storage.path("c-test").exists()
    finally:
        corpus.close()
