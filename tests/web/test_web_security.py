"""Security rules of the web app, each shown through an HTTP client against a live server.

Every test here fails when its rule is removed from parallax/server/.
"""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import pytest

from parallax.server import ServerConfig
from parallax.server.security import RateLimiter
from parallax.server.store import ID_BYTES, ID_PATTERN, CaptureNotFoundError, new_capture_id

MB = 1024 * 1024


def _jpeg(path: Path, width: int = 96, height: int = 64) -> Path:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(path, format="JPEG")
    return path


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width x height`` pixels but holds almost no data (a bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + chunk(b"IEND", b"")
    )


def _reader_message(path: Path, display_name: str) -> str:
    from parallax.capture import read_capture
    from parallax.errors import ParallaxError

    with pytest.raises(ParallaxError) as info:
        read_capture(path)
    return " ".join(str(info.value).replace(str(path), display_name).split())


# -- upload size ---------------------------------------------------------------------------


def test_web_default_upload_limit_is_64_mb(tmp_path):
    assert ServerConfig(data_dir=tmp_path).max_upload_bytes == 64 * MB


def test_web_upload_over_limit_declared_is_413(http):
    body = b"\0" * (4 * MB + 1)
    r = http.post("/api/captures", files={"file": ("big.jpg", body, "image/jpeg")})
    assert r.status_code == 413
    assert "limit of 4 MB" in r.json()["detail"]


def test_web_upload_over_limit_streamed_is_413(http):
    # No Content-Length (chunked): the server counts the bytes as they arrive.
    def chunks():
        yield b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="big.jpg"\r\n\r\n'
        for _ in range(6):
            yield b"\0" * MB
        yield b"\r\n--xyz--\r\n"

    r = http.post("/api/captures", content=chunks(), headers={"content-type": "multipart/form-data; boundary=xyz"})
    assert r.status_code == 413
    assert "limit of 4 MB" in r.json()["detail"]


# -- reader errors -------------------------------------------------------------------------


def test_web_non_stereo_file_answers_4xx_with_reader_message(http, upload, tmp_path):
    path = _jpeg(tmp_path / "single-view.jpg")
    r = upload(path, name="holiday.jpg")
    assert 400 <= r.status_code < 500
    detail = r.json()["detail"]
    stored = _reader_message(path, "holiday.jpg")  # what the reader says about these bytes
    expected = re.sub(r"\S*single-view\.jpg", "holiday.jpg", stored)
    assert detail == expected
    assert str(tmp_path) not in detail and "/captures/" not in detail  # no server paths leak


def test_web_corrupt_file_answers_4xx_with_reader_message(http, upload, captures_dir, tmp_path):
    truncated = tmp_path / "cut.HEIC"
    truncated.write_bytes((captures_dir / "heic" / "vision-pro.HEIC").read_bytes()[:4000])
    r = upload(truncated, name="cut.HEIC")
    assert 400 <= r.status_code < 500
    assert r.json()["detail"] == _reader_message(truncated, "cut.HEIC")


def test_web_unknown_bytes_answer_415(http, upload, tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_bytes(b"just some text, not a photo\n" * 20)
    r = upload(junk)
    assert r.status_code == 415
    assert r.json()["detail"] == _reader_message(junk, "notes.txt")


def test_web_failed_upload_leaves_nothing_behind(http, upload, web_server, tmp_path):
    before = set((web_server.data_dir / "captures").iterdir())
    r = upload(_jpeg(tmp_path / "one.jpg"))
    assert r.status_code >= 400
    assert set((web_server.data_dir / "captures").iterdir()) == before


def test_web_decompression_bomb_refused_413(http, tmp_path):
    # 9000 x 9000 = 81 MP claimed in 100 bytes: above the server's 64 MP limit.
    r = http.post("/api/captures", files={"file": ("bomb.png", _png_claiming(9000, 9000), "image/png")})
    assert r.status_code == 413
    assert "9000x9000" in r.json()["detail"] and "megapixels" in r.json()["detail"]


# -- ids and paths -------------------------------------------------------------------------


def test_web_capture_ids_have_at_least_128_random_bits(http, upload, captures_dir):
    assert ID_BYTES * 8 >= 128
    ids = {new_capture_id() for _ in range(2000)}
    assert len(ids) == 2000 and all(ID_PATTERN.fullmatch(i) for i in ids)
    # 32 characters of a 64-letter alphabet = 192 bits; every position varies.
    assert all(len({i[k] for i in ids}) > 40 for k in range(31))
    r = upload(captures_dir / "mpo" / "sugarshack.mpo")
    assert r.status_code == 201, r.text
    assert ID_PATTERN.fullmatch(r.json()["id"])


def test_web_malformed_id_never_reaches_the_file_system(http, web_server):
    # A folder that exists, with a record, but whose name is not an id: never served.
    evil = web_server.data_dir / "captures" / "evil"
    evil.mkdir()
    (evil / "meta.json").write_text("{}")
    try:
        assert http.get("/api/captures/evil").status_code == 404
        assert http.get("/c/evil").status_code == 404
    finally:
        (evil / "meta.json").unlink()
        evil.rmdir()
    store = web_server.service.store
    for bad in ("../../etc/passwd", "..", "a" * 31, "a" * 33, "a" * 31 + "/", "a" * 31 + ".", "", None):
        with pytest.raises(CaptureNotFoundError):
            store.dir_for(bad)


def test_web_symlink_out_of_data_dir_is_refused(http, web_server, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "meta.json").write_text('{"id": "x", "owner_token_sha256": ""}')
    link = web_server.data_dir / "captures" / ("A" * 32)
    link.symlink_to(outside, target_is_directory=True)
    try:
        assert http.get(f"/api/captures/{'A' * 32}").status_code == 404
    finally:
        link.unlink()


def test_web_only_whitelisted_files_are_served(http, upload, wait_for, captures_dir):
    cid = upload(captures_dir / "mpo" / "sugarshack.mpo").json()["id"]
    wait_for(cid, "preview-ready")
    assert http.get(f"/api/captures/{cid}/files/preview/view.json").status_code == 200
    for name in ("meta.json", "result.npz", "..%2Fmeta.json", "source.mpo"):
        assert http.get(f"/api/captures/{cid}/files/preview/{name}").status_code == 404, name
    assert http.get(f"/api/captures/{cid}/files/other/left.jpg").status_code == 404


# -- headers -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/api/config", "/api/captures/nope", "/src/none.js"])
def test_web_security_headers_on_every_response(http, path):
    r = http.get(path)
    csp = r.headers.get("content-security-policy", "")
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    assert directives.get("default-src") == "'self'"
    assert directives.get("script-src", "").split()[0] == "'self'"
    assert "'unsafe-inline'" not in csp and "*" not in csp and "http" not in csp
    assert directives.get("object-src") == "'none'" and directives.get("frame-ancestors") == "'none'"
    assert r.headers.get("x-content-type-options") == "nosniff"
    assert r.headers.get("referrer-policy") == "no-referrer"


# -- owner and admin -----------------------------------------------------------------------


def test_web_only_owner_can_delete(http, upload, captures_dir):
    r = upload(captures_dir / "mpo" / "sugarshack.mpo")
    cid, token = r.json()["id"], r.json()["owner_token"]
    assert len(token) >= 40
    assert http.delete(f"/api/captures/{cid}").status_code == 403
    assert http.delete(f"/api/captures/{cid}", headers={"x-owner-token": token[:-1] + "x"}).status_code == 403
    other = upload(captures_dir / "mpo" / "sugarshack.mpo").json()
    assert http.delete(f"/api/captures/{cid}", headers={"x-owner-token": other["owner_token"]}).status_code == 403
    assert http.get(f"/api/captures/{cid}").status_code == 200
    assert http.delete(f"/api/captures/{cid}", headers={"x-owner-token": token}).status_code == 204
    assert http.get(f"/api/captures/{cid}").status_code == 404
    assert http.get(f"/c/{cid}").status_code == 404


def test_web_owner_token_is_not_stored_in_clear(http, upload, captures_dir, web_server):
    r = upload(captures_dir / "mpo" / "sugarshack.mpo").json()
    record = (web_server.data_dir / "captures" / r["id"] / "meta.json").read_text()
    assert r["owner_token"] not in record
    assert r["owner_token"] not in http.get(f"/api/captures/{r['id']}").text


def test_web_contribution_needs_owner(http, upload, captures_dir):
    cid = upload(captures_dir / "mpo" / "sugarshack.mpo").json()["id"]
    body = {"consent": True, "license": "CC-BY-4.0", "allow_training": True}
    assert http.post(f"/api/captures/{cid}/contribution", json=body).status_code == 403
    assert http.delete(f"/api/captures/{cid}/contribution").status_code == 403


@pytest.mark.parametrize("method,path", [("GET", "/api/admin/corpus"), ("POST", "/api/admin/corpus/export")])
def test_web_admin_endpoints_need_admin_token(http, admin_token, method, path):
    assert http.request(method, path).status_code == 403
    assert http.request(method, path, headers={"authorization": "Bearer wrong-token-wrong-token"}).status_code == 403
    assert http.request(method, path, headers={"authorization": f"Basic {admin_token}"}).status_code == 403
    ok = http.request(method, path, headers={"authorization": f"Bearer {admin_token}"})
    assert ok.status_code == 200, ok.text


# -- rate limit ----------------------------------------------------------------------------


def test_web_upload_rate_limit_429(http, upload, web_server, tmp_path):
    service = web_server.service
    saved = service.upload_limiter
    service.upload_limiter = RateLimiter(2, 60.0)
    try:
        junk = tmp_path / "x.txt"
        junk.write_bytes(b"not a photo")
        assert upload(junk).status_code == 415
        assert upload(junk).status_code == 415
        r = upload(junk)
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) >= 1
        assert "too many uploads" in r.json()["detail"]
    finally:
        service.upload_limiter = saved


def test_web_rate_limiter_window_slides_per_client():
    now = [0.0]
    limiter = RateLimiter(2, 60.0, clock=lambda: now[0])
    assert limiter.check("a") == 0 and limiter.check("a") == 0
    assert limiter.check("a") == 60
    assert limiter.check("b") == 0  # other clients are not affected
    now[0] = 30.0
    assert limiter.check("a") == 30
    now[0] = 60.5
    assert limiter.check("a") == 0


def test_web_json_body_must_be_object(http, upload, captures_dir):
    r = upload(captures_dir / "mpo" / "sugarshack.mpo").json()
    bad = http.post(
        f"/api/captures/{r['id']}/contribution",
        content=b"[1, 2]",
        headers={"x-owner-token": r["owner_token"], "content-type": "application/json"},
    )
    assert bad.status_code == 400
    assert "JSON object" in bad.json()["detail"]


@pytest.mark.parametrize(
    "name,expected",
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        (".hidden.HEIC", "hidden.heic"),
        ("photo left-right.JPG", "photo_left-right.jpg"),
        ("x.<script>", "x"),
        ("", "upload"),
    ],
)
def test_web_upload_names_stay_inside_the_capture_folder(tmp_path, name, expected):
    from parallax.server.store import CaptureStore

    folder = tmp_path / "cap"
    folder.mkdir()
    path = CaptureStore.upload_path(folder, name)
    assert path.parent == folder / "upload" and path.name == expected
    assert CaptureStore.upload_path(folder, name, "right").name.startswith("pair-right")
