"""Stereo videos in the web app: told from photos by content, checked at upload, streamed in segments.

Real videos from ``../shared/data/video`` go through a live server (real worker pools): the
event story (``read``, ``processing``, ``first-seconds`` before ``done``, ``progress`` with
each later segment), resuming after ``Last-Event-ID``, the segment files read back with
PyAV, bad videos answered 4xx with one line, and a delete that stops the processing.
"""

from __future__ import annotations

import gzip
import io
import time
from pathlib import Path

import numpy as np
import pytest

from parallax.server.clip_segments import decode_depth_grid
from parallax.server.clip_worker import ClipCheck, check_clip, clip_plan, upload_kind
from parallax.server.store import CLIP_STAGE

VIDEOS = {
    "spatial": "stereo_spatial.mp4",  # MV-HEVC, 10 frames at 30 fps, 160x120 per eye
    "street": "bidavideo-demo/sbs_2560x720_10fps.mp4",  # side by side, 10 frames at 10 fps, 1280x720 per eye
    "vr180": "vr180_blender_lr.mp4",  # VR180 equirect side by side, 100 frames at 30 fps
}


def _decode(data: bytes) -> list[np.ndarray]:
    import av

    with av.open(io.BytesIO(data)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


# -- what an upload is -------------------------------------------------------------------------


def test_upload_kind_goes_by_content_not_name(tmp_path, video_dir, captures_dir):
    assert upload_kind(video_dir / VIDEOS["spatial"]) == "clip"
    assert upload_kind(video_dir / VIDEOS["vr180"]) == "clip"
    assert upload_kind(captures_dir / "heic" / "vision-pro.HEIC") == "photo"  # ISO-BMFF too, but a still
    assert upload_kind(captures_dir / "mpo" / "sugarshack.mpo") == "photo"
    renamed = tmp_path / "holiday.mp4"  # a JPEG named like a video is a photo
    renamed.write_bytes((captures_dir / "sbs" / "calf-left-right.jpg").read_bytes())
    assert upload_kind(renamed) == "photo"
    hidden = tmp_path / "clip.jpg"  # a video named like a photo is a video
    hidden.write_bytes((video_dir / VIDEOS["street"]).read_bytes())
    assert upload_kind(hidden) == "clip"
    noise = tmp_path / "noise.mp4"  # neither by content: the name says which reader explains the problem
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    assert upload_kind(noise) == "clip"


def test_clip_plan_cuts_long_clips_and_steps_fast_ones(video_dir):
    from parallax.capture.clip_registry import read_clip

    clip = read_clip(video_dir / VIDEOS["vr180"])  # 100 frames at 30 fps = 3.33 s
    whole = clip_plan(clip, max_s=20.0, max_fps=30.0)
    assert whole["frames"] == 100 and whole["step"] == 1 and not whole["cut"] and whole["end_s"] is None
    cut = clip_plan(clip, max_s=1.5, max_fps=30.0)
    assert cut["cut"] and cut["frames"] == 45 and cut["duration_s"] == pytest.approx(1.5)
    slow = clip_plan(clip, max_s=20.0, max_fps=12.0)  # every 3rd frame: 10 fps
    assert slow["step"] == 3 and slow["fps"] == pytest.approx(10.0) and slow["frames"] == 34
    assert len(list(clip.frames(step=slow["step"], max_frames=slow["max_frames"]))) == slow["frames"]


def test_check_clip_names_the_file_as_uploaded(tmp_path, video_dir):
    data = (video_dir / VIDEOS["street"]).read_bytes()
    stored = tmp_path / "upload" / "a1b2.mp4"
    stored.parent.mkdir()
    stored.write_bytes(data[: len(data) // 2])
    job = ClipCheck(source=stored, display_name="my street.mp4", max_pixels=64_000_000, max_s=20.0, max_fps=30.0)
    from parallax.errors import InputFileError

    with pytest.raises(InputFileError) as err:
        check_clip(job)
    assert "my street.mp4" in str(err.value) and str(tmp_path) not in str(err.value) and "a1b2" not in str(err.value)
    stored.write_bytes(data)
    read = check_clip(job)
    assert read["kind"] == "clip" and read["format"] == "sbs-video" and (read["width"], read["height"]) == (1280, 720)
    assert read["processing"]["frames"] == 10 and read["processing"]["fps"] == 10.0


# -- the story of an upload --------------------------------------------------------------------


@pytest.mark.parametrize("which", ["spatial", pytest.param("street", marks=pytest.mark.slow), "vr180"])
def test_clip_upload_streams_segments_then_done(which, clip_server, clip_client, events_of, post_file, video_dir):
    r = post_file(clip_client, video_dir / VIDEOS[which])
    assert r.status_code == 201, r.text
    body = r.json()
    cid, read = body["id"], body["read"]
    assert read["event"] == "read" and read["kind"] == "clip"
    story = events_of(clip_client, cid)
    names = [e["event"] for e in story]
    assert [e["id"] for e in story] == list(range(1, len(story) + 1))
    assert names[:2] == ["read", "processing"] and names[-1] == "done" and names.count("first-seconds") == 1, names
    assert set(names[2:-1]) == {"first-seconds", "progress"} or names[2:-1] == ["first-seconds"], names
    at = names.index("first-seconds")  # frame counts may come before it; segments only after it
    assert not any("segment" in e for e in story[:at])
    first = story[at]
    view = first["view"]
    total = read["processing"]["frames"]
    assert first["frames_total"] == total == view["frames_total"]
    done_counts = [e["frames_done"] for e in story if "frames_done" in e]
    assert done_counts == sorted(done_counts) and done_counts[-1] == total
    segments = view["segments"] + [e["segment"] for e in story if e["event"] == "progress" and "segment" in e]
    assert [s["index"] for s in segments] == list(range(len(segments)))
    assert sum(s["frames"] for s in segments) == total == story[-1]["summary"]["frames"]
    fps = view["fps"]
    if total > 0.5 * fps:  # clips longer than the first segment (0.5 s here) stream in more than one part
        assert len(segments) > 1
    assert segments[0]["frames"] == min(total, round(0.5 * fps))
    base = f"/api/captures/{cid}/files/{CLIP_STAGE}"
    served = clip_client.get(f"{base}/view.json").json()
    assert served["segments"] == segments and served["kind"] == "clip"
    W, H = view["grid_width"], view["grid_height"]
    vw, vh = view["video"]["view_width"], view["video"]["view_height"]
    position = 0
    for seg in segments:
        assert seg["first_frame"] == position
        position += seg["frames"]
        frames = _decode(clip_client.get(f"{base}/{seg['video']}").content)
        assert len(frames) == seg["frames"] == len(seg["times_s"]), seg
        assert frames[0].shape == (vh, 2 * vw, 3)
        r = clip_client.get(f"{base}/{seg['depth']}")
        assert r.headers["content-encoding"] == "gzip"  # stored gzipped; the client inflates it
        size = W * H * 2
        assert len(r.content) == seg["frames"] * size
        grids = np.stack([decode_depth_grid(r.content[i * size : (i + 1) * size], W, H) for i in range(seg["frames"])])
        assert np.isfinite(grids).mean() > 0.5  # mostly valid depth, NaN where not
        assert np.nanmin(grids) > 0
    # the left half of the video is the left view, the right half the right view (of the rectified pair)
    left, right = frames[0][:, :vw].astype(float), frames[0][:, vw:].astype(float)
    assert abs(left.mean() - right.mean()) < 0.2 * left.mean() + 10


def test_clip_left_half_is_the_sources_left_view(clip_server, clip_client, events_of, post_file, video_dir):
    """The street video: the viewer's first frame (left half) is the source's first left frame, not the right."""
    from PIL import Image

    r = post_file(clip_client, video_dir / VIDEOS["street"], name="street.mp4")
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    story = events_of(clip_client, cid)
    view = next(e["view"] for e in story if e["event"] == "first-seconds")
    vw, vh = view["video"]["view_width"], view["video"]["view_height"]
    frame = _decode(clip_client.get(f"/api/captures/{cid}/files/clip/seg-000.mp4").content)[0]
    demo = video_dir / "bidavideo-demo"
    sources = [
        np.asarray(Image.open(sorted((demo / eye).glob("*.png"))[0]).convert("RGB").resize((vw, vh)), dtype=float)
        for eye in ("left", "right")
    ]
    shown = frame[:, :vw].astype(float)
    errors = [np.abs(shown - s).mean() for s in sources]
    assert errors[0] < 12 and errors[0] < 0.8 * errors[1], errors  # the left view, in its colours


def test_clip_events_resume_after_last_event_id(clip_server, clip_client, events_of, post_file, video_dir):
    r = post_file(clip_client, video_dir / VIDEOS["vr180"])
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    head = events_of(clip_client, cid, until="first-seconds")  # then the connection drops
    assert head[-1]["event"] == "first-seconds"
    rest = events_of(clip_client, cid, last_event_id=head[-1]["id"])
    assert rest and rest[0]["id"] == head[-1]["id"] + 1 and rest[-1]["event"] == "done"
    whole = events_of(clip_client, cid)
    assert whole == head + rest  # nothing lost, nothing twice
    assert events_of(clip_client, cid, last_event_id=whole[-1]["id"]) == []  # 204: seen it all


# -- bad videos --------------------------------------------------------------------------------


def _bad_videos(tmp: Path, video_dir: Path, captures_dir: Path, make_video) -> dict[str, tuple[Path, int, str]]:
    """name -> (file, expected status, pattern of the message)."""
    import av
    from PIL import Image

    street = (video_dir / VIDEOS["street"]).read_bytes()
    (tmp / "cut.mp4").write_bytes(street[: len(street) // 2])
    photo = np.asarray(Image.open(captures_dir / "sbs/Panasonic-DMC-GX8-left.jpg").resize((320, 240)))
    make_video(tmp / "holiday.mp4", [np.ascontiguousarray(np.roll(photo, 4 * k, axis=1)) for k in range(12)])
    with av.open(str(tmp / "voice.mp4"), "w") as out:
        stream = out.add_stream("aac", rate=48000)
        samples = (0.2 * np.sin(2 * np.pi * 440 * np.arange(48000) / 48000)).astype(np.float32)[None]
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = 48000
        for packet in [*stream.encode(frame), *stream.encode()]:
            out.mux(packet)
    (tmp / "mesh.mp4").write_bytes((video_dir / VIDEOS["vr180"]).read_bytes().replace(b"equi", b"mshp"))
    (tmp / "noise.mp4").write_bytes(np.random.default_rng(3).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    return {
        "truncated": (tmp / "cut.mp4", 422, r"cut\.mp4.*truncated or corrupt"),
        "mono": (tmp / "holiday.mp4", 422, r"holiday\.mp4.*mono video"),
        "audio only": (tmp / "voice.mp4", 422, r"voice\.mp4.*no video track"),
        "mesh projection": (tmp / "mesh.mp4", 415, r"mesh\.mp4.*mesh"),
        "random bytes": (tmp / "noise.mp4", 422, r"noise\.mp4"),
    }


def test_bad_videos_get_one_line_4xx_and_leave_nothing(clip_server, clip_client, post_file, video_dir, captures_dir,
                                                       make_video, tmp_path):  # fmt: skip
    import re

    before = set(clip_server.service.store.root.iterdir())
    for what, (path, status, pattern) in _bad_videos(tmp_path, video_dir, captures_dir, make_video).items():
        r = post_file(clip_client, path)
        assert r.status_code == status, (what, r.status_code, r.text)
        detail = r.json()["detail"]
        assert "\n" not in detail and re.search(pattern, detail, re.I), (what, detail)
        assert str(clip_server.data_dir) not in detail and "Traceback" not in detail
    assert set(clip_server.service.store.root.iterdir()) == before  # nothing of them stays


# -- limits, ownership, deletion ---------------------------------------------------------------


def test_videos_have_their_own_upload_limit(clip_server, clip_client, post_file, video_dir, tmp_path):
    from PIL import Image

    noise = np.random.default_rng(5).integers(0, 256, (300, 400, 3), dtype=np.uint8)  # ~360 KB as PNG
    Image.fromarray(noise).save(tmp_path / "big.png")
    r = post_file(clip_client, tmp_path / "big.png")
    assert r.status_code == 413 and "for photos" in r.json()["detail"], r.text  # a photo over 256 KiB
    r = post_file(clip_client, video_dir / VIDEOS["street"])  # 540 KB: a video, under the 2 MiB video limit
    assert r.status_code == 201, r.text
    big = b"\0" * (2 * 1024 * 1024 + 1)
    r = clip_client.post("/api/captures", files={"file": ("big.mp4", big, "video/mp4")})
    assert r.status_code == 413 and "limit of 2 MB for videos (0 MB for photos)" in r.json()["detail"], r.text
    r = clip_client.post(f"/api/captures/{'A' * 32}/contribution", content=b" " * (300 * 1024))
    assert r.status_code == 413  # other routes keep the photo limit


def test_clip_share_owner_and_contribution(clip_server, clip_client, events_of, post_file, video_dir):
    r = post_file(clip_client, video_dir / VIDEOS["spatial"])
    cid, token = r.json()["id"], r.json()["owner_token"]
    events_of(clip_client, cid)
    assert clip_client.get(f"/c/{cid}").status_code == 200
    meta = clip_client.get(f"/api/captures/{cid}").json()
    assert meta["kind"] == "clip" and "owner_token_sha256" not in meta and meta["events"][-1]["event"] == "done"
    body = {"consent": True, "license": "CC-BY-4.0", "allow_training": True}
    r = clip_client.post(f"/api/captures/{cid}/contribution", json=body, headers={"x-owner-token": token})
    # the corpus takes videos; this synthetic one fails its quality gates, and the answer says why
    assert r.status_code == 422 and "did not accept" in r.json()["detail"], r.text
    assert clip_client.delete(f"/api/captures/{cid}").status_code == 403  # not the owner
    assert clip_client.delete(f"/api/captures/{cid}", headers={"x-owner-token": token}).status_code == 204
    assert clip_client.get(f"/api/captures/{cid}/files/clip/seg-000.mp4").status_code == 404


def test_clip_files_only_by_their_fixed_names(clip_server, clip_client, events_of, post_file, video_dir):
    r = post_file(clip_client, video_dir / VIDEOS["spatial"])
    cid = r.json()["id"]
    events_of(clip_client, cid)
    base = f"/api/captures/{cid}/files"
    assert clip_client.get(f"{base}/clip/seg-000.mp4").headers["content-type"] == "video/mp4"
    for name in ("run.json", "seg-0.mp4", "seg-000.mp4.tmp", "..%2Fmeta.json", "seg-999.mp4"):
        assert clip_client.get(f"{base}/clip/{name}").status_code == 404, name
    assert clip_client.get(f"{base}/preview/seg-000.mp4").status_code == 404


@pytest.mark.slow
def test_deleting_a_clip_stops_its_processing(clip_server, clip_client, events_of, post_file, video_dir, caplog):
    import logging
    import re

    service = clip_server.service
    r = post_file(clip_client, video_dir / VIDEOS["vr180"])  # 45 frames here
    cid, token = r.json()["id"], r.json()["owner_token"]
    story = events_of(clip_client, cid, until="first-seconds")
    folder = service.store.root / cid
    with caplog.at_level(logging.INFO, logger="parallax.server"):
        assert clip_client.delete(f"/api/captures/{cid}", headers={"x-owner-token": token}).status_code == 204
        assert not folder.exists()
        # The video worker notices at its next frame and takes the next video.
        r = post_file(clip_client, video_dir / VIDEOS["spatial"])
        assert events_of(clip_client, r.json()["id"])[-1]["event"] == "done"
    stopped = [m for m in caplog.messages if m.startswith(f"capture {cid[:8]}: processing stopped after")]
    assert len(stopped) == 1, caplog.messages
    frames = int(re.search(r"after (\d+) frames", stopped[0]).group(1))
    assert story[-1]["frames_done"] <= frames < story[-1]["frames_total"]  # stopped early, not run to the end
    assert not folder.exists()  # nothing was written into the deleted capture afterwards


def test_a_processed_clip_counts_against_the_quota_and_expires(clip_server, clip_client, events_of, post_file,
                                                              video_dir):  # fmt: skip
    import asyncio

    from parallax.server.retention import folder_bytes

    service = clip_server.service
    r = post_file(clip_client, video_dir / VIDEOS["spatial"])
    cid = r.json()["id"]
    events_of(clip_client, cid)
    folder = service.store.root / cid
    assert (folder / "clip" / "seg-000.mp4").is_file()
    # Every capture's files are counted, the clip's segments included (measured as its events arrive).
    assert service.retention.used_bytes == sum(folder_bytes(p) for p in service.store.root.iterdir())
    saved = service.retention.expire_after_s, service.retention.clock
    service.retention.expire_after_s, service.retention.clock = 60.0, lambda: time.time() + 3600.0
    try:
        removed = asyncio.run_coroutine_threadsafe(service.sweep(), clip_server.app.state.loop).result(60)
    finally:
        service.retention.expire_after_s, service.retention.clock = saved
    assert cid in removed and not folder.exists()


def test_depth_files_are_gzip_of_one_grid_a_frame(clip_server, clip_client, events_of, post_file, video_dir):
    r = post_file(clip_client, video_dir / VIDEOS["spatial"])
    cid = r.json()["id"]
    view = next(e["view"] for e in events_of(clip_client, cid) if e["event"] == "first-seconds")
    raw = (clip_server.service.store.root / cid / "clip" / "seg-000.depth").read_bytes()
    grids = np.frombuffer(gzip.decompress(raw), "<u2")
    assert grids.size == view["segments"][0]["frames"] * view["grid_width"] * view["grid_height"]


@pytest.mark.parametrize(
    "setting,value",
    [
        ("max_video_upload_bytes", 0),
        ("video_max_s", 0),
        ("video_max_fps", -1.0),
        ("video_first_s", float("nan")),
        ("video_segment_s", True),
        ("video_side_px", 16),
        ("video_view_side_px", 10),
        ("video_grid_side_px", 8),
    ],
)
def test_video_settings_are_checked(tmp_path, setting, value):
    from parallax.errors import ParameterError
    from parallax.server import ServerConfig

    with pytest.raises(ParameterError, match=setting):
        ServerConfig(data_dir=tmp_path, **{setting: value})


def test_serve_video_options_are_checked(tmp_path, capsys):
    from parallax.cli.main import main
    from parallax.errors import ParameterError

    for args, option in (
        (["--max-video-seconds", "0"], "--max-video-seconds"),
        (["--max-video-upload-mb", "-1"], "--max-video-upload-mb"),
    ):
        assert main(["serve", "--data-dir", str(tmp_path), *args]) == ParameterError.exit_code
        err = capsys.readouterr().err
        assert option in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.slow
def test_a_contributed_video_is_in_the_corpus_as_clips_and_withdrawn_whole(
    clip_server, clip_client, events_of, post_file, video_dir
):
    from parallax.corpus.store import Corpus

    r = post_file(clip_client, video_dir / VIDEOS["street"])
    cid, token = r.json()["id"], r.json()["owner_token"]
    events_of(clip_client, cid)
    body = {"consent": True, "license": "CC-BY-4.0", "allow_training": True, "contributor": "carol"}
    headers = {"x-owner-token": token}
    r = clip_client.post(f"/api/captures/{cid}/contribution", json=body, headers=headers)
    assert r.status_code == 201, r.text
    record = r.json()
    assert record["status"] == "contributed" and record["sample_ids"] and record["sample_id"] == record["sample_ids"][0]
    corpus = Corpus.open(clip_server.service.config.corpus_dir)
    try:
        rows = {row["sample_id"]: row for row in corpus.catalog.active_samples()}
    finally:
        corpus.close()
    assert set(record["sample_ids"]) <= set(rows) and all(
        rows[i]["contributor"] == "carol" for i in record["sample_ids"]
    )
    r = clip_client.delete(f"/api/captures/{cid}/contribution", headers=headers)
    assert r.status_code == 200 and r.json()["status"] == "withdrawn", r.text
    corpus = Corpus.open(clip_server.service.config.corpus_dir)
    try:
        active = {row["sample_id"] for row in corpus.catalog.active_samples()}
    finally:
        corpus.close()
    assert not active & set(record["sample_ids"])
