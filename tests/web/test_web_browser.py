"""The web app in a real browser: Debian's chromium driven by Playwright, software WebGL.

Upload a real capture through the page, wait for the 3D view, check the canvas shows
a picture, drag and see it change, switch every mode, download a GLB and read it back,
and use the owner's controls.
"""

from __future__ import annotations

import base64
import io
import re
import time

import numpy as np
import pytest


def _canvas(page) -> np.ndarray:
    """The viewer canvas as an HxWx3 uint8 array (the renderer keeps its drawing buffer)."""
    from PIL import Image

    url = page.evaluate("() => document.getElementById('view').toDataURL('image/png')")
    data = base64.b64decode(url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _assert_picture(image: np.ndarray, what: str) -> None:
    """Not blank: many distinct colours and real contrast (a cleared canvas has one colour)."""
    flat = image.reshape(-1, 3)
    colours = len(np.unique(flat[:: max(1, len(flat) // 50000)], axis=0))
    assert image.std() > 12 and colours > 500, f"{what}: canvas looks blank (std {image.std():.1f}, {colours} colours)"


def _settle(page, mode: str | None = None) -> None:
    if mode is not None:
        page.wait_for_function(f"() => document.body.dataset.mode === {mode!r}")
    page.wait_for_function("() => window.parallax.viewer && !window.parallax.viewer.dirty", timeout=60_000)


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


@pytest.fixture()
def page(browser_context):
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.errors = errors
    yield page
    page.close()


@pytest.mark.slow
def test_web_browser_upload_view_drag_modes_download(page, web_server, captures_dir, tmp_path):
    page.goto(web_server.url + "/")
    assert page.locator("#file").count() == 1
    page.set_input_files("#file", str(captures_dir / "heic" / "vision-pro.HEIC"))
    page.wait_for_url(re.compile(r"/c/[A-Za-z0-9_-]{32}$"), timeout=60_000)
    page.wait_for_function("() => window.parallax && window.parallax.firstFrame", timeout=120_000)
    _settle(page)
    first = _canvas(page)
    _assert_picture(first, "3D view")
    timing = page.evaluate("() => window.parallax.firstFrame")
    assert timing["stage"] == "preview" and timing["sinceUploadMs"] > 0

    # Drag: the viewpoint orbits, so the picture changes.
    box = page.locator("#view").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    _settle(page)
    before = _canvas(page)
    page.mouse.down()
    page.mouse.move(cx + 220, cy + 80, steps=10)
    page.mouse.up()
    _settle(page)
    dragged = _canvas(page)
    _assert_picture(dragged, "after dragging")
    assert _diff(before, dragged) > 4, "dragging did not change the picture"

    # Every mode draws a picture; the flat modes differ from each other as they should.
    shots = {}
    for mode in ("left", "right", "anaglyph", "sbs", "points", "splat", "3d"):
        page.click(f"button[data-mode='{mode}']")
        _settle(page, mode)
        shots[mode] = _canvas(page)
        deadline = time.monotonic() + 30
        while mode == "splat" and shots[mode].std() < 12 and time.monotonic() < deadline:
            page.wait_for_timeout(250)  # Spark sorts the splats in a worker, then redraws
            shots[mode] = _canvas(page)
        _assert_picture(shots[mode], f"mode {mode}")
    assert _diff(shots["left"], shots["right"]) > 2, "left and right views are identical"
    red_left = np.corrcoef(shots["anaglyph"][..., 0].ravel(), shots["left"].mean(axis=2).ravel())[0, 1]
    assert red_left > 0.9, "the anaglyph's red channel is not the left view"
    assert _diff(shots["sbs"], shots["left"]) > 4 and _diff(shots["points"], shots["3d"]) > 1
    page.click("button[data-mode='wiggle']")
    page.wait_for_function("() => document.body.dataset.mode === 'wiggle'")
    a = _canvas(page)
    # the viewpoint swings with a period of 2/3 s: sample across a period, so that a slow machine
    # that happens to take the second shot one period later does not see the same picture
    diffs = []
    for _ in range(5):
        page.wait_for_timeout(130)
        page.wait_for_function(
            "(n) => window.parallax.viewer.frames > n", arg=page.evaluate("() => window.parallax.viewer.frames") + 1
        )
        diffs.append(_diff(a, _canvas(page)))
    assert max(diffs) > 0.5, f"wiggle mode does not move ({diffs})"

    # Download the GLB mesh and read it back.
    import trimesh

    with page.expect_download(timeout=120_000) as info:
        page.click("a[data-format='mesh']")
    glb = tmp_path / "capture.glb"
    info.value.save_as(glb)
    assert info.value.suggested_filename.endswith(".glb")
    scene = trimesh.load(glb)
    vertices = (
        sum(len(g.vertices) for g in scene.geometry.values()) if hasattr(scene, "geometry") else len(scene.vertices)
    )
    assert vertices > 1000

    # Share link: the page's URL, shown for copying.
    assert page.input_value("#share-url") == page.url
    assert page.errors == []


@pytest.mark.slow
def test_web_browser_owner_contributes_withdraws_and_deletes(page, web_server, captures_dir, http, admin_token):
    page.goto(web_server.url + "/")
    page.set_input_files("#file", str(captures_dir / "heic" / "spatial_photo.heic"))
    page.wait_for_url(re.compile(r"/c/[A-Za-z0-9_-]{32}$"), timeout=60_000)
    capture_id = page.url.rsplit("/", 1)[1]
    page.wait_for_function("() => window.parallax && window.parallax.firstFrame", timeout=120_000)
    assert page.is_visible("#owner") and page.is_visible("#contribute")
    # Contribution is opt-in: without the consent box ticked nothing is sent.
    page.click("#contribute-button")
    assert http.get(f"/api/captures/{capture_id}").json()["contribution"] is None
    page.check("#consent")
    page.select_option("#license", "CC-BY-4.0")
    page.click("#contribute-button")
    page.wait_for_selector("#contributed:not([hidden])", timeout=120_000)
    assert "CC-BY-4.0" in page.inner_text("#contributed-text")
    record = http.get(f"/api/captures/{capture_id}").json()["contribution"]
    assert record["status"] == "contributed" and record["license"] == "CC-BY-4.0"
    listing = http.get("/api/admin/corpus", headers={"authorization": f"Bearer {admin_token}"}).json()["samples"]
    assert any(s["license"] == "CC-BY-4.0" and s["original_name"] == "spatial_photo.heic" for s in listing)
    page.click("#withdraw")
    page.wait_for_function("() => document.getElementById('contributed-text').textContent.startsWith('Withdrawn')")
    listing = http.get("/api/admin/corpus", headers={"authorization": f"Bearer {admin_token}"}).json()["samples"]
    assert not any(s["original_name"] == "spatial_photo.heic" for s in listing)
    page.click("#delete")
    assert "Really" in page.inner_text("#delete")
    page.click("#delete")
    page.wait_for_url(web_server.url + "/", timeout=30_000)
    assert http.get(f"/api/captures/{capture_id}").status_code == 404
    assert page.errors == []


def test_web_browser_capture_page_without_owner_token_hides_owner_controls(page, web_server, upload, captures_dir):
    capture_id = upload(captures_dir / "mpo" / "sugarshack.mpo").json()["id"]
    page.goto(f"{web_server.url}/c/{capture_id}")
    page.wait_for_function("() => window.parallax && window.parallax.firstFrame", timeout=120_000)
    assert not page.is_visible("#owner")
    assert page.is_visible("a[data-format='mesh']")


def test_web_browser_upload_page_fits_a_phone(browser_context, web_server):
    page = browser_context.new_page()
    try:
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(web_server.url + "/")
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
        box = page.locator("#drop").bounding_box()
        assert box["width"] <= 390 and box["height"] >= 150  # a large tap target
    finally:
        page.close()


def test_web_browser_reports_a_non_stereo_file(page, web_server, tmp_path):
    from PIL import Image

    path = tmp_path / "flat.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(path)
    page.goto(web_server.url + "/")
    page.set_input_files("#file", str(path))
    page.wait_for_selector("#error:not([hidden])", timeout=60_000)
    assert "flat.png" in page.inner_text("#error")
    assert page.url == web_server.url + "/"


def test_web_browser_rgbd_capture_disables_two_view_modes(page, web_server, upload, captures_dir):
    capture_id = upload(captures_dir / "heic" / "pug.heic").json()["id"]
    page.goto(f"{web_server.url}/c/{capture_id}")
    page.wait_for_function("() => window.parallax && window.parallax.firstFrame", timeout=120_000)
    _settle(page)
    _assert_picture(_canvas(page), "RGB-D 3D view")
    for mode in ("anaglyph", "sbs", "right"):
        assert page.is_disabled(f"button[data-mode='{mode}']"), mode
    for mode in ("3d", "left", "points"):
        assert page.is_enabled(f"button[data-mode='{mode}']"), mode
    assert page.errors == []


@pytest.mark.slow
def test_web_browser_backdrop_fills_holes_and_cracks_seen_from_the_capture_camera(page, web_server, captures_dir):
    """GOPR0's plain sky has no valid depth and its people stand out by depth jumps: from the capture
    camera the backdrop shows the photo there, not the page's dark clear colour."""
    page.goto(web_server.url + "/")
    page.set_input_files("#file", str(captures_dir / "sbs" / "GOPR0.left-right.jpg"))
    page.wait_for_function("() => window.parallax && window.parallax.firstFrame", timeout=180_000)
    _settle(page)
    page.click("button[data-mode='left']")
    _settle(page, "left")
    flat = _canvas(page)
    page.click("button[data-mode='3d']")
    _settle(page, "3d")
    view = _canvas(page)
    clear = np.array([17, 19, 24])  # the viewer's clear colour (0x111318)
    ys, xs = np.nonzero(np.abs(flat.astype(int) - clear).max(axis=2) > 6)  # where the photo is
    h, w = ys.max() - ys.min(), xs.max() - xs.min()
    box = (slice(ys.min() + h // 10, ys.max() - h // 10), slice(xs.min() + w // 10, xs.max() - w // 10))

    def dark_share(image: np.ndarray) -> float:  # the clear colour exactly (dark photo pixels rarely are)
        return float(np.all(image[box] == clear, axis=2).mean())

    with_backdrop = dark_share(view)
    page.evaluate("() => { const v = window.parallax.viewer; v.backdrop.visible = false; v.dirty = true; }")
    _settle(page)
    without = dark_share(_canvas(page))
    assert without > 0.002, f"the mesh alone leaves no hole here ({without:.4f}); the test shows nothing"
    assert with_backdrop < 0.25 * without and with_backdrop < 0.002, (with_backdrop, without)
    assert page.errors == []
