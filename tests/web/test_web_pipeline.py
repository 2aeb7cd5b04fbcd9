"""The processing behind the page: progress events, first look then refinement, viewer files, downloads."""

from __future__ import annotations

import io
import json

import httpx
import numpy as np
import pytest


def _events(client, capture_id: str) -> list[dict]:
    seen = []
    with client.stream("GET", f"/api/captures/{capture_id}/events", timeout=300) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data: "):
                seen.append(json.loads(line[6:]))
                if seen[-1]["event"] in ("done", "failed"):
                    break
    return seen


@pytest.fixture(scope="module")
def refined(refining_server, captures_dir):
    """(client, capture id, events) of sugarshack.mpo processed to the end."""
    with httpx.Client(base_url=refining_server.url, timeout=300) as client:
        path = captures_dir / "mpo" / "sugarshack.mpo"
        r = client.post("/api/captures", files={"file": (path.name, path.read_bytes())})
        assert r.status_code == 201, r.text
        assert r.json()["read"]["event"] == "read" and r.json()["read"]["format"] == "mpo"
        cid = r.json()["id"]
        yield client, cid, _events(client, cid)


def test_web_first_look_then_refined_depth(refined):
    client, cid, events = refined
    names = [e["event"] for e in events]
    assert names == ["read", "preview-ready", "refining", "full-ready", "done"], names
    preview = next(e["view"] for e in events if e["event"] == "preview-ready")
    full = next(e["view"] for e in events if e["event"] == "full-ready")
    # Longest sides: at most the configured sizes (rectification may crop a little).
    assert 96 <= max(preview["grid_width"], preview["grid_height"]) <= 128
    assert 240 <= max(full["grid_width"], full["grid_height"]) <= 320
    assert preview["capture"] == full["capture"] == {"format": "mpo", "width": 640, "height": 480}
    # Late subscribers get the whole story replayed.
    assert [e["event"] for e in _events(client, cid)] == names


def test_web_viewer_files_match_view_json(refined):
    from PIL import Image

    client, cid, _ = refined
    for stage in ("preview", "full"):
        view = client.get(f"/api/captures/{cid}/files/{stage}/view.json").json()
        depth = np.frombuffer(client.get(f"/api/captures/{cid}/files/{stage}/depth.f32").content, dtype="<f4")
        assert depth.size == view["grid_width"] * view["grid_height"]
        finite = depth[np.isfinite(depth)]  # NaN = not valid: the viewer draws nothing there
        assert finite.size / depth.size == pytest.approx(view["grid_valid_fraction"]) and finite.size > 0.6 * depth.size
        assert finite.min() > 0
        assert view["depth_min"] == pytest.approx(finite.min()) and view["depth_max"] == pytest.approx(finite.max())
        for name in ("left.jpg", "right.jpg"):
            image = Image.open(io.BytesIO(client.get(f"/api/captures/{cid}/files/{stage}/{name}").content))
            assert image.size == (view["image_width"], view["image_height"])
        assert view["fx_px"] > 0 and 0 <= view["cx_px"] < view["grid_width"]


def test_web_events_are_read_back_from_disk_after_a_restart(refined, refining_server):
    client, cid, events = refined
    refining_server.service.jobs._events.pop(cid)  # as if the server had restarted
    replay = _events(client, cid)
    assert replay == events  # the same story with the same ids (events.jsonl in the capture's folder)
    assert [e["id"] for e in replay] == [1, 2, 3, 4, 5]


@pytest.mark.slow
def test_web_every_registry_format_downloads(refined, tmp_path):
    from parallax.outputs.registry import list_formats

    client, cid, _ = refined
    offered = client.get("/api/config").json()["formats"]
    assert {f["name"] for f in offered} == {f.name for f in list_formats()}
    for fmt in offered:
        r = client.get(f"/api/captures/{cid}/download/{fmt['name']}")
        assert r.status_code == 200, (fmt["name"], r.text[:200])
        disposition = r.headers["content-disposition"]
        assert "attachment" in disposition and f"sugarshack-full-{fmt['name']}{fmt['extension']}" in disposition
        assert len(r.content) > 100, fmt["name"]
        again = client.get(f"/api/captures/{cid}/download/{fmt['name']}")  # cached: same bytes
        assert again.content == r.content


def test_web_downloads_read_back(refined, tmp_path):
    import trimesh
    from plyfile import PlyData

    from parallax.capture import read_capture

    client, cid, _ = refined
    glb = trimesh.load(io.BytesIO(client.get(f"/api/captures/{cid}/download/mesh").content), file_type="glb")
    assert sum(len(g.vertices) for g in glb.geometry.values()) > 1000
    ply = PlyData.read(io.BytesIO(client.get(f"/api/captures/{cid}/download/pointcloud").content))
    assert ply["vertex"].count > 1000
    lif = tmp_path / "x.lif.jpg"
    lif.write_bytes(client.get(f"/api/captures/{cid}/download/lif").content)
    assert read_capture(lif).is_stereo
    preview_ply = client.get(f"/api/captures/{cid}/download/pointcloud", params={"stage": "preview"})
    assert PlyData.read(io.BytesIO(preview_ply.content))["vertex"].count < ply["vertex"].count


def test_web_download_errors(refined):
    client, cid, _ = refined
    r = client.get(f"/api/captures/{cid}/download/exe")
    assert r.status_code == 400 and "mesh" in r.json()["detail"]
    assert client.get(f"/api/captures/{cid}/download/mesh", params={"stage": "other"}).status_code == 400
    assert client.get(f"/api/captures/{'B' * 32}/download/mesh").status_code == 404


def test_web_viewer_depth_keeps_holes_and_drops_outliers():
    from parallax.errors import InputFileError
    from parallax.server.worker import viewer_depth

    y, x = np.mgrid[0:120, 0:160].astype(np.float32)
    plane = 1.0 / (0.5 + 0.004 * x + 0.002 * y)  # a slanted plane: inverse depth is linear
    depth = plane.copy()
    depth[40:70, 60:100] = np.nan  # a hole (pixels that are not valid)
    depth[5, 5] = 50.0  # an outlier
    valid = np.isfinite(depth)
    valid[100:120, 0:40] = False  # not valid although it has a depth
    out = viewer_depth(depth, (80, 60), valid)
    assert out.shape == (60, 80)
    # not valid stays without a value (the viewer draws nothing there), the rest is positive
    assert np.isnan(out[22:33, 32:48]).all() and np.isnan(out[52:, :18]).all()
    assert np.isfinite(out).mean() > 0.8 and (out[np.isfinite(out)] > 0).all()
    expected = 1.0 / (0.5 + 0.004 * (2 * np.arange(80) + 0.5)[None, :] + 0.002 * (2 * np.arange(60) + 0.5)[:, None])
    inner = np.isfinite(out)
    inner[:3], inner[-3:], inner[:, :3], inner[:, -3:] = False, False, False, False
    assert np.abs(out[inner] / expected[inner] - 1).max() < 0.06  # no step at the hole's edge
    assert out[2, 2] < 2 * expected[2, 2]  # the outlier is gone
    with pytest.raises(InputFileError, match="no depth"):
        viewer_depth(np.full((10, 10), np.nan, np.float32), (10, 10))
    with pytest.raises(InputFileError, match="no depth"):
        viewer_depth(plane, (80, 60), np.zeros(plane.shape, bool))


def test_web_two_file_pair_upload(upload, wait_for, captures_dir, http):
    left = captures_dir / "sbs" / "Panasonic-DMC-GX8-left.jpg"
    r = upload(left, right=captures_dir / "sbs" / "Panasonic-DMC-GX8-right.jpg")
    assert r.status_code == 201, r.text
    assert r.json()["read"]["format"] == "pair" and r.json()["read"]["stereo"] is True
    events = wait_for(r.json()["id"], "done")
    assert [e["event"] for e in events][-2:] == ["preview-ready", "done"]
    meta = http.get(f"/api/captures/{r.json()['id']}").json()
    assert meta["original_name"] == "Panasonic-DMC-GX8-left.jpg + Panasonic-DMC-GX8-right.jpg"


def test_web_rgbd_capture_has_no_right_view(upload, wait_for, captures_dir, http):
    r = upload(captures_dir / "heic" / "pug.heic")
    assert r.status_code == 201, r.text
    assert r.json()["read"]["stereo"] is False
    cid = r.json()["id"]
    view = next(e["view"] for e in wait_for(cid, "done") if e["event"] == "preview-ready")
    assert view["has_right"] is False
    assert http.get(f"/api/captures/{cid}/files/preview/left.jpg").status_code == 200
    assert http.get(f"/api/captures/{cid}/files/preview/right.jpg").status_code == 404
