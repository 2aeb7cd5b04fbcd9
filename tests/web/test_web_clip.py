"""A stereo video in the web app, in real Chromium: upload through the page, the 3D view plays, modes, colours.

The street video (side by side, 10 frames at 10 fps) is uploaded through the upload page to a
server that cuts it into two 0.5 s segments. The page must play it in 3D (the canvas and the frame
shown change over time, through both segments), switch modes, pause on a chosen frame, and show
that frame's views with the brightness of the video it was sent as (decoded here with PyAV), and its
anaglyph with the download's Dubois matrices.
"""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest

STREET = ("video", "bidavideo-demo", "sbs_2560x720_10fps.mp4")


def _canvas(page) -> np.ndarray:
    from PIL import Image

    url = page.evaluate("() => document.getElementById('view').toDataURL('image/png')")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))


def _assert_picture(image: np.ndarray, what: str) -> None:
    flat = image.reshape(-1, 3)
    colours = len(np.unique(flat[:: max(1, len(flat) // 50000)], axis=0))
    assert image.std() > 12 and colours > 500, f"{what}: canvas looks blank (std {image.std():.1f}, {colours} colours)"


def _luma(image: np.ndarray) -> float:
    return float((image.astype(np.float64) @ np.array([0.2126, 0.7152, 0.0722])).mean())


def _box(shape: tuple[int, ...], aspect: float, margin: int = 2) -> tuple[slice, slice]:
    """The letterboxed picture of a flat mode (the shader's fit()), less a margin."""
    height, width = shape[:2]
    w, h = (round(height * aspect), height) if width / height > aspect else (width, round(width / aspect))
    top, left = (height - h) // 2, (width - w) // 2
    return slice(top + margin, top + h - margin), slice(left + margin, left + w - margin)


def _resized(image: np.ndarray, box: tuple[slice, slice], margin: int = 2) -> np.ndarray:
    from PIL import Image

    h = box[0].stop - box[0].start + 2 * margin
    w = box[1].stop - box[1].start + 2 * margin
    return np.asarray(Image.fromarray(image).resize((w, h), Image.Resampling.BILINEAR))[margin:-margin, margin:-margin]


def _settled(page, mode: str | None = None) -> None:
    if mode is not None:
        page.wait_for_function(f"() => document.body.dataset.mode === {mode!r}")
    page.wait_for_function("() => !window.parallax.viewer.dirty", timeout=30_000)


@pytest.fixture(scope="module")
def clip_page(browser_context, clip_web_server, data_dir):
    """The capture page of the street video, uploaded through the upload page, once its first 3D frame is drawn."""
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.goto(clip_web_server.url + "/")
    page.set_input_files("#file", str(data_dir.joinpath(*STREET)))
    page.wait_for_url(re.compile(r"/c/[A-Za-z0-9_-]{32}$"), timeout=60_000)
    page.wait_for_function("() => window.parallax && window.parallax.firstFrame", timeout=180_000)
    yield page
    page.close()
    assert errors == [], errors


@pytest.mark.slow
def test_web_clip_plays_in_3d_through_its_segments(clip_page):
    page = clip_page
    first = page.evaluate("() => window.parallax.firstFrame")
    assert first["stage"] == "clip" and first["sinceUploadMs"] > 0
    assert page.evaluate("() => document.body.dataset.kind") == "clip"
    frames, pictures = set(), []
    for _ in range(6):
        page.wait_for_timeout(250)
        frames.add(page.evaluate("() => window.parallax.clip.frame"))
        pictures.append(_canvas(page))
    _assert_picture(pictures[-1], "3D video")
    assert len(frames) >= 3, frames  # it plays
    changes = [np.abs(a.astype(np.int16) - b).mean() for a, b in zip(pictures[:-1], pictures[1:], strict=True)]
    assert max(changes) > 0.5, changes  # and the picture follows the frames
    page.wait_for_function("() => window.parallax.done", timeout=180_000)
    assert page.evaluate("() => window.parallax.player.segments.length") == 2
    page.wait_for_function("() => window.parallax.clip.frame >= 5", timeout=30_000)  # the second segment plays
    page.wait_for_function("() => window.parallax.clip.frame < 5", timeout=30_000)  # and loops to the first
    # Photo-only modes are off, with the reason; the downloads appear once the video is processed.
    assert page.locator("button[data-mode='points']").is_disabled()
    assert "photos" in page.locator("button[data-mode='splat']").get_attribute("title")
    assert page.locator("#modes-note").is_visible()
    assert page.locator("a[data-format='sbs']").is_visible() and page.locator("a[data-format='frames']").is_visible()
    assert page.locator("#contribute").is_visible()  # videos are contributed like photos (as clips)


@pytest.mark.slow
def test_web_clip_modes_pause_and_colours(clip_page, clip_web_server):
    import av

    from parallax.render.stereo_formats import anaglyph

    page = clip_page
    page.click("#play")  # pause
    page.evaluate("() => window.parallax.player.seek(0.3)")
    page.wait_for_function("() => window.parallax.clip.frame === 3 && !window.parallax.player.playing")
    _settled(page)
    paused = _canvas(page)
    page.wait_for_timeout(400)
    assert np.array_equal(paused, _canvas(page))  # paused: the picture holds still
    for mode in ("wiggle", "sbs", "anaglyph", "right", "left", "3d"):
        page.click(f"button[data-mode='{mode}']")
        page.wait_for_function(f"() => document.body.dataset.mode === {mode!r}")
        _assert_picture(_canvas(page), f"{mode} mode")

    cid = page.url.rsplit("/", 1)[-1]
    view = page.evaluate("() => window.parallax.player.view")
    import httpx

    video = httpx.get(f"{clip_web_server.url}/api/captures/{cid}/files/clip/seg-000.mp4", timeout=60).content
    with av.open(io.BytesIO(video)) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    half = view["video"]["view_width"]
    left, right = decoded[3][:, :half], decoded[3][:, half:]
    aspect = view["image_width"] / view["image_height"]
    for mode, source in (("left", left), ("right", right)):
        page.click(f"button[data-mode='{mode}']")
        _settled(page, mode)
        canvas = _canvas(page)
        box = _box(canvas.shape, aspect)
        ratio = _luma(canvas[box]) / _luma(_resized(source, box))
        assert 0.9 < ratio < 1.1, f"{mode} mode: on-screen brightness is {ratio:.2f}x the video frame's"
        diff = np.abs(canvas[box].astype(np.int16) - _resized(source, box).astype(np.int16)).mean()
        assert diff < 8, f"{mode} mode differs from the video frame by {diff:.1f} levels on average"
    page.click("button[data-mode='anaglyph']")
    _settled(page, "anaglyph")
    canvas = _canvas(page)
    box = _box(canvas.shape, aspect)
    expected = _resized(anaglyph(left, right), box).astype(np.float64)
    shown = canvas[box].astype(np.float64)
    for channel in range(3):
        assert (
            abs(shown[..., channel].mean() - expected[..., channel].mean()) < 0.05 * expected[..., channel].mean() + 2
        )
    assert np.abs(shown - expected).mean() < 8
    # Play again: the frames move on.
    page.click("button[data-mode='3d']")
    page.click("#play")
    page.wait_for_function("() => window.parallax.player.playing && window.parallax.clip.frame !== 3", timeout=30_000)
