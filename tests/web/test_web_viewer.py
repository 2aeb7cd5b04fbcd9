"""What the viewer puts on screen, measured in real Chromium: brightness of every mode, the anaglyph.

The canvas is read back (the renderer keeps its drawing buffer) and compared with the
files the server made: the displayed image region of a flat mode against the source view
resized to that region.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest

CAPTURE = ("mpo", "Panasonic-DMC-GX8.mpo")


def _canvas(page) -> np.ndarray:
    from PIL import Image

    url = page.evaluate("() => document.getElementById('view').toDataURL('image/png')")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))


def _mode(page, mode: str) -> np.ndarray:
    page.click(f"button[data-mode='{mode}']")
    page.wait_for_function(f"() => document.body.dataset.mode === {mode!r}")
    page.wait_for_function("() => !window.parallax.viewer.dirty", timeout=60_000)
    return _canvas(page)


def _image_box(canvas_shape: tuple[int, ...], image_aspect: float, margin_px: int = 2) -> tuple[slice, slice]:
    """Rows and columns of the letterboxed image in a flat mode (the shader's fit()), less a margin."""
    height, width = canvas_shape[:2]
    if width / height > image_aspect:
        w, h = round(height * image_aspect), height
    else:
        w, h = width, round(width / image_aspect)
    top, left = (height - h) // 2, (width - w) // 2
    return slice(top + margin_px, top + h - margin_px), slice(left + margin_px, left + w - margin_px)


def _resized(image: np.ndarray, box: tuple[slice, slice], margin_px: int = 2) -> np.ndarray:
    """``image`` resized to the whole displayed region, cropped by the same margin as the box."""
    from PIL import Image

    h = box[0].stop - box[0].start + 2 * margin_px
    w = box[1].stop - box[1].start + 2 * margin_px
    resized = np.asarray(Image.fromarray(image).resize((w, h), Image.Resampling.BILINEAR))
    return resized[margin_px:-margin_px, margin_px:-margin_px]


def _luma(image: np.ndarray) -> float:
    """Mean Rec. 709 luma of sRGB-encoded uint8 RGB, 0-255."""
    return float((image.astype(np.float64) @ np.array([0.2126, 0.7152, 0.0722])).mean())


@pytest.fixture(scope="module")
def shown(web_server, upload, wait_for, http, captures_dir):
    """(capture id, view.json, source left and right views as served) of a processed real capture."""
    from PIL import Image

    r = upload(captures_dir.joinpath(*CAPTURE))
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    wait_for(cid, "done")
    view = http.get(f"/api/captures/{cid}/files/preview/view.json").json()
    views = [
        np.asarray(Image.open(io.BytesIO(http.get(f"/api/captures/{cid}/files/preview/{name}").content)).convert("RGB"))
        for name in ("left.jpg", "right.jpg")
    ]
    return cid, view, views[0], views[1]


@pytest.fixture()
def viewer_page(browser_context, web_server, shown):
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.goto(f"{web_server.url}/c/{shown[0]}")
    page.wait_for_function("() => window.parallax && window.parallax.firstFrame", timeout=120_000)
    yield page
    page.close()
    assert errors == []


def test_web_viewer_flat_modes_keep_the_source_brightness(viewer_page, shown):
    _, view, left, right = shown
    for mode, source in (("left", left), ("right", right)):
        canvas = _mode(viewer_page, mode)
        box = _image_box(canvas.shape, view["image_width"] / view["image_height"])
        ratio = _luma(canvas[box]) / _luma(_resized(source, box))
        assert 0.9 < ratio < 1.1, f"{mode} mode: on-screen brightness is {ratio:.2f}x the source view's"
        # Not only the mean: the picture is the source view, pixel by pixel (JPEG and resampling aside).
        diff = np.abs(canvas[box].astype(np.int16) - _resized(source, box).astype(np.int16)).mean()
        assert diff < 6, f"{mode} mode differs from the source view by {diff:.1f} levels on average"


def test_web_viewer_anaglyph_is_the_downloaded_anaglyph(viewer_page, shown, http):
    from PIL import Image

    cid, view, _, _ = shown
    canvas = _mode(viewer_page, "anaglyph")
    box = _image_box(canvas.shape, view["image_width"] / view["image_height"])
    r = http.get(f"/api/captures/{cid}/download/anaglyph", params={"stage": "preview"})
    assert r.status_code == 200, r.text
    downloaded = _resized(np.asarray(Image.open(io.BytesIO(r.content)).convert("RGB")), box)
    shown_px = canvas[box].astype(np.float64)
    for channel in range(3):
        mean_shown, mean_downloaded = shown_px[..., channel].mean(), downloaded[..., channel].mean()
        assert abs(mean_shown - mean_downloaded) < 0.05 * mean_downloaded + 2, (channel, mean_shown, mean_downloaded)
    diff = np.abs(shown_px - downloaded).mean()
    assert diff < 6, f"the on-screen anaglyph differs from the downloaded one by {diff:.1f} levels on average"
