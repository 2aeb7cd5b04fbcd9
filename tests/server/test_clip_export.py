"""Downloads of a stereo video: written on demand through ``write_clip``, read back with PyAV and zipfile."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from parallax.server.clip_export import clip_formats
from parallax.server.security import RateLimiter


def _frames(data: bytes) -> list[np.ndarray]:
    import av

    with av.open(io.BytesIO(data)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


@pytest.fixture(scope="module")
def spatial(clip_server, clip_client, events_of, post_file, video_dir):
    """(capture id, owner token, the run's summary, view.json) of the processed MV-HEVC spatial video."""
    r = post_file(clip_client, video_dir / "stereo_spatial.mp4")
    assert r.status_code == 201, r.text
    story = events_of(clip_client, r.json()["id"])
    assert story[-1]["event"] == "done", story[-1]
    view = next(e["view"] for e in story if e["event"] == "first-seconds")
    return r.json()["id"], r.json()["owner_token"], story[-1]["summary"], view


def test_clip_formats_are_the_clip_outputs():
    from parallax.outputs.clip_registry import CLIP_FORMATS

    offered = {f["name"]: f["extension"] for f in clip_formats()}
    assert offered == {f.name: (".frames.zip" if f.folder else f.extensions[0]) for f in CLIP_FORMATS}
    assert {"sbs", "anaglyph", "depth", "frames"} <= set(offered)


def test_clip_config_lists_clip_downloads(clip_client):
    config = clip_client.get("/api/config").json()
    assert [f["name"] for f in config["clip_formats"]] == [f["name"] for f in clip_formats()]
    assert config["max_video_upload_bytes"] == 2 * 1024 * 1024 and config["video"]["max_s"] == 1.5


@pytest.mark.parametrize("name", ["sbs", "anaglyph", "depth"])
def test_clip_video_downloads_decode_with_every_frame(name, spatial, clip_client):
    cid, _, summary, view = spatial
    r = clip_client.get(f"/api/captures/{cid}/download/{name}")
    assert r.status_code == 200, r.text
    ext = {f["name"]: f["extension"] for f in clip_formats()}[name]
    assert f'filename="stereo_spatial{ext}"' in r.headers["content-disposition"]
    frames = _frames(r.content)
    assert len(frames) == summary["frames"] == 10
    width, height = view["image_width"], view["image_height"]
    expected_w = {"sbs": 2 * width, "anaglyph": width, "depth": width}[name]
    assert frames[0].shape == (height - height % 2, expected_w - expected_w % 2, 3)
    if name == "sbs":  # the synthetic clip: left frames are red ~200, right ~80 (video/README.md)
        half = frames[0].shape[1] // 2
        assert frames[0][:, :half, 0].mean() > frames[0][:, half:, 0].mean() + 60


def test_clip_frames_download_is_a_zip_of_the_frames_folder(spatial, clip_server, clip_client):
    cid, _, summary, _ = spatial
    r = clip_client.get(f"/api/captures/{cid}/download/frames")
    assert r.status_code == 200, r.text
    assert 'filename="stereo_spatial.frames.zip"' in r.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(r.content)) as archive:
        names = archive.namelist()
        assert all(n.startswith("stereo_spatial.frames/") for n in names), names[:3]
        count = summary["frames"]
        for folder, ext in (("left", ".png"), ("right", ".png"), ("disparity", ".pfm"), ("depth", ".pfm")):
            assert len([n for n in names if f"/{folder}/" in n and n.endswith(ext)]) == count, folder
        poses = json.loads(archive.read("stereo_spatial.frames/poses.json"))
        transforms = json.loads(archive.read("stereo_spatial.frames/transforms.json"))
        trajectory = archive.read("stereo_spatial.frames/trajectory.txt").decode().splitlines()
        clip = json.loads(archive.read("stereo_spatial.frames/clip.json"))
    assert len(poses["frames"]) == count and len(transforms["frames"]) == 2 * count  # both views of every frame
    assert len([line for line in trajectory if line and not line.startswith("#")]) == count
    assert clip["rectification"]["method"] in ("none", "calibrated", "uncalibrated")
    exports = clip_server.service.store.root / cid / "exports"
    assert not [p.name for p in exports.iterdir() if p.name.startswith(".")]  # no unzipped copy or temporary left


def test_clip_downloads_wait_for_processing_and_name_their_formats(clip_client, post_file, video_dir, spatial,
                                                                   events_of):  # fmt: skip
    r = clip_client.get(f"/api/captures/{spatial[0]}/download/glb")  # a photo format
    assert r.status_code == 400 and "for a video" in r.json()["detail"] and "sbs" in r.json()["detail"]
    r = post_file(clip_client, video_dir / "vr180_blender_lr.mp4")
    busy = r.json()["id"]
    r = clip_client.get(f"/api/captures/{busy}/download/sbs")
    assert r.status_code == 409 and "still being processed" in r.json()["detail"]
    events_of(clip_client, busy)


def test_new_clip_downloads_are_rate_limited(clip_server, clip_client, post_file, events_of, video_dir):
    service = clip_server.service
    r = post_file(clip_client, video_dir / "stereo_spatial.mp4")
    cid = r.json()["id"]
    events_of(clip_client, cid)
    saved = service.action_limiter
    service.action_limiter = RateLimiter(1, 60.0)
    try:
        assert clip_client.get(f"/api/captures/{cid}/download/over-under").status_code == 200
        assert clip_client.get(f"/api/captures/{cid}/download/over-under").status_code == 200  # cached: not counted
        r = clip_client.get(f"/api/captures/{cid}/download/anaglyph")  # must be written first: counted
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1, r.text
    finally:
        service.action_limiter = saved


@pytest.mark.slow
def test_street_video_downloads_have_every_frame(clip_client, events_of, post_file, video_dir):
    r = post_file(clip_client, video_dir / "bidavideo-demo" / "sbs_2560x720_10fps.mp4")
    cid = r.json()["id"]
    story = events_of(clip_client, cid)
    assert story[-1]["event"] == "done"
    for name in ("sbs", "depth"):
        frames = _frames(clip_client.get(f"/api/captures/{cid}/download/{name}").content)
        assert len(frames) == story[-1]["summary"]["frames"] == 10
    depth = frames[0].astype(float)
    assert depth.std() > 20  # a colourised depth preview, not a blank frame
