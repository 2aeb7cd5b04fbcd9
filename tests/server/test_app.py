"""The HTTP application: the viewer's anaglyph definition, rate limits on every mutating route,
the store's quota (507) and expiry, through a real HTTP client against a live server."""

from __future__ import annotations

import datetime as _dt

import numpy as np
import pytest

from parallax.server import ServerConfig
from parallax.server.security import RateLimiter


def test_the_viewer_gets_the_downloads_anaglyph_matrices(client):
    from parallax.render.stereo_formats import DUBOIS_RED_CYAN_LEFT, DUBOIS_RED_CYAN_RIGHT, anaglyph

    served = client.get("/api/config").json()["anaglyph"]
    assert served["method"] == "dubois-red-cyan" and served["color_space"] == "linear-srgb"
    np.testing.assert_array_equal(np.array(served["left"]), DUBOIS_RED_CYAN_LEFT)
    np.testing.assert_array_equal(np.array(served["right"]), DUBOIS_RED_CYAN_RIGHT)
    # What the viewer's shader computes with them (linear light, clipped, sRGB-encoded) is the download's anaglyph.
    rng = np.random.default_rng(4)
    left, right = rng.integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)

    def linear(image):
        c = image / 255.0
        return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)

    mixed = np.clip(linear(left) @ np.array(served["left"]).T + linear(right) @ np.array(served["right"]).T, 0, 1)
    encoded = np.where(mixed <= 0.0031308, 12.92 * mixed, 1.055 * mixed ** (1 / 2.4) - 0.055)
    np.testing.assert_array_equal(np.round(encoded * 255).astype(np.uint8), anaglyph(left, right))


# -- rate limits -----------------------------------------------------------------------------


@pytest.fixture()
def strict_actions(served):
    """The server's action limit set to 2 per minute for one test."""
    service = served.service
    saved = service.action_limiter
    service.action_limiter = RateLimiter(2, 60.0)
    yield
    service.action_limiter = saved


@pytest.fixture(scope="module")
def uploaded(post_pair, client):
    r = post_pair(11)
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    with client.stream("GET", f"/api/captures/{cid}/events") as events:
        for line in events.iter_lines():
            if line.startswith("event: ") and line[7:] in ("done", "failed"):
                break
    return cid, r.json()["owner_token"]


@pytest.mark.parametrize(
    "method,path,owner",
    [
        ("DELETE", "/api/captures/{cid}", True),
        ("POST", "/api/captures/{cid}/contribution", True),
        ("DELETE", "/api/captures/{cid}/contribution", True),
        ("GET", "/api/admin/corpus", False),
        ("POST", "/api/admin/corpus/export", False),
    ],
)
def test_every_mutating_route_is_rate_limited(client, uploaded, strict_actions, method, path, owner):
    cid, token = uploaded
    # Wrong tokens: nothing changes, but every attempt counts (token guessing is limited too).
    headers = {"x-owner-token": "not-the-token"} if owner else {"authorization": "Bearer not-the-admin-token"}
    url = path.format(cid=cid)
    assert [client.request(method, url, headers=headers).status_code for _ in range(2)] == [403, 403]
    r = client.request(method, url, headers=headers)
    assert r.status_code == 429, r.text
    assert int(r.headers["retry-after"]) >= 1 and "too many" in r.json()["detail"]
    assert client.get(f"/api/captures/{cid}").status_code == 200  # reading is not limited


def test_a_download_that_must_be_written_counts_a_cached_one_does_not(client, uploaded, strict_actions):
    cid, _ = uploaded
    assert client.get(f"/api/captures/{cid}/download/sbs").status_code == 200  # written: counts 1
    for _ in range(4):  # cached: free
        assert client.get(f"/api/captures/{cid}/download/sbs").status_code == 200
    assert client.get(f"/api/captures/{cid}/download/over-under").status_code == 200  # counts 2
    r = client.get(f"/api/captures/{cid}/download/jps")
    assert r.status_code == 429 and "downloads" in r.json()["detail"]


def test_uploads_are_rate_limited(client, served, post_pair):
    service = served.service
    saved = service.upload_limiter
    service.upload_limiter = RateLimiter(1, 60.0)
    try:
        post_pair(12)
        r = post_pair(12)
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    finally:
        service.upload_limiter = saved


# -- quota and expiry ------------------------------------------------------------------------


def test_a_full_store_answers_507_and_keeps_what_it_has(client, served, post_pair):
    retention = served.service.retention
    before = sorted(p.name for p in (served.data_dir / "captures").iterdir())
    saved = retention.max_bytes
    retention.max_bytes = retention.used_bytes + 1000  # a quota the next upload does not fit in
    try:
        r = post_pair(13)
        assert r.status_code == 507, r.text
        assert "storage is full" in r.json()["detail"]
    finally:
        retention.max_bytes = saved
    assert sorted(p.name for p in (served.data_dir / "captures").iterdir()) == before  # nothing lost, nothing left


def test_expired_captures_are_removed_and_the_page_is_told_when(client, served, post_pair, on_loop):
    r = post_pair(14)
    cid = r.json()["id"]
    retention = served.service.retention
    saved = retention.expire_after_s
    retention.expire_after_s = 3600.0
    try:
        meta = client.get(f"/api/captures/{cid}").json()
        created = _dt.datetime.fromisoformat(meta["created"])
        expires = _dt.datetime.fromisoformat(meta["expires"].replace("Z", "+00:00"))
        assert expires - created == _dt.timedelta(hours=1)
        assert cid not in on_loop(served.service.sweep())  # not expired yet
        retention.expire_after_s = 1e-3
        with client.stream("GET", f"/api/captures/{cid}/events") as events:  # processing done: not busy
            for line in events.iter_lines():
                if line.startswith("event: ") and line[7:] in ("done", "failed"):
                    break
        assert cid in on_loop(served.service.sweep())
    finally:
        retention.expire_after_s = saved
    assert client.get(f"/api/captures/{cid}").status_code == 404
    assert client.get(f"/c/{cid}").status_code == 404
    assert not (served.data_dir / "captures" / cid).exists()


def test_new_settings_are_validated(tmp_path):
    from parallax.errors import ParameterError

    for bad in ({"expire_after_s": 0}, {"expire_after_s": -5.0}, {"expire_after_s": True}, {"expire_after_s": "1d"}):
        with pytest.raises(ParameterError, match="expire_after_s"):
            ServerConfig(data_dir=tmp_path, **bad)
    for bad in ({"max_store_bytes": 0}, {"max_store_bytes": 1.5}):
        with pytest.raises(ParameterError, match="max_store_bytes"):
            ServerConfig(data_dir=tmp_path, **bad)
    with pytest.raises(ParameterError, match="actions_per_minute"):
        ServerConfig(data_dir=tmp_path, actions_per_minute=0)
    config = ServerConfig(data_dir=tmp_path, expire_after_s=86400, max_store_bytes=10**9)
    assert config.expire_after_s == 86400 and config.max_store_bytes == 10**9
