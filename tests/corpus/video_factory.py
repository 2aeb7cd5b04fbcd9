"""Real stereo videos for the clip ingest tests, written with PyAV (H.264 side by side), from real captures.

* :func:`gopro_pan` -- the GoPro shot ``captures/sbs/GOPR0.left-right.jpg`` (three people) seen through a
  window panning across it: a stereo clip with faces in every frame, with hand-annotated face boxes.
* :func:`bida_frames` -- the real frames of ``video/bidavideo-demo`` (an office), downsized.
* :func:`write_sbs_video` -- frames to a side-by-side MP4/MOV, optionally with container metadata
  (location, serial number, owner, free text) and an audio stream.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from parallax.capture import read_capture
from parallax.stereo.pipeline import downscale_capture

# The three faces of GOPR0.left-right.jpg at 1280x960 per view, annotated by hand (tests/corpus/test_clip_privacy.py),
# x0, y0, x1, y1 in pixels.
FACES_LEFT = np.array([[588, 402, 638, 470], [990, 488, 1038, 550], [770, 430, 814, 485]], float)
FACES_RIGHT = np.array([[564, 408, 612, 474], [981, 492, 1027, 547], [758, 430, 798, 480]], float)

#: Location, serial and owner values written into the test videos' metadata (must never be stored).
SECRETS = {
    "location": "+48.8584+002.2945+035.000/",
    "com.apple.quicktime.location.ISO6709": "+51.5007-000.1246+011.000/",
    "com.apple.quicktime.camera.serial": "SN-4242-7777",
    "com.apple.quicktime.author": "Jane Q Owner",
    "artist": "Jane Q Owner",
    "comment": "our secret holiday spot",
}
#: Byte strings that identify the secrets in any file (FFmpeg may rewrite the location's number format).
SECRET_BYTES = (b"48.8584", b"002.2945", b"51.5007", b"000.1246", b"SN-4242-7777", b"Jane Q Owner", b"secret holiday")


def gopro_pan(
    captures_dir: Path, *, frames: int = 8, pan_px: int = 12, crop: tuple[int, int] = (200, 960)
) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[tuple[np.ndarray, np.ndarray]]]:
    """Frames of a window panning across the GoPro shot, and the face boxes (left, right) in each frame.

    The window (``crop = (x0, width)`` of the 1280x960 views, full height) moves ``pan_px`` to the left
    per frame, so the faces move right in the frame.
    """
    capture = read_capture(captures_dir / "sbs" / "GOPR0.left-right.jpg")
    small, _ = downscale_capture(capture, 1280)
    x0, width = crop
    out, boxes = [], []
    for t in range(frames):
        a = x0 - pan_px * t
        if a < 0 or a + width > small.left.shape[1]:
            raise ValueError(f"frame {t} of the pan leaves the image; fewer frames or a smaller pan")
        out.append(
            (np.ascontiguousarray(small.left[:, a : a + width]), np.ascontiguousarray(small.right[:, a : a + width]))
        )
        shift = np.array([-a, 0, -a, 0], float)
        boxes.append((FACES_LEFT + shift, FACES_RIGHT + shift))
    return out, boxes


def bida_frames(video_dir: Path, *, width: int = 320) -> list[tuple[np.ndarray, np.ndarray]]:
    """The 10 real frame pairs of ``bidavideo-demo`` (PNG), downsized to ``width``."""
    folder = video_dir / "bidavideo-demo"
    out = []
    for i in range(10):
        views = []
        for side in ("left", "right"):
            bgr = cv2.imread(str(folder / side / f"{side}{i:06d}.png"), cv2.IMREAD_COLOR)
            size = (width, round(bgr.shape[0] * width / bgr.shape[1]))
            views.append(np.ascontiguousarray(cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)[:, :, ::-1]))
        out.append((views[0], views[1]))
    return out


def write_sbs_video(
    path: Path,
    frames: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    fps: int = 10,
    crf: int = 14,
    metadata: Mapping[str, str] | None = None,
    audio: bool = False,
    metadata_tags: bool = True,
) -> Path:
    """Write views side by side as H.264 (yuv420p, BT.709 tagged); ``.mov``, ``.mp4`` or ``.mkv`` by the name.

    A ``.mkv`` states its packing (Matroska ``StereoMode`` left-right), so even views without
    features to match are read as a stereo pair.

    ``metadata`` goes into the container: with ``metadata_tags`` as QuickTime ``mdta`` keys
    (``com.apple.quicktime.location.ISO6709``, serial, author ...), else in user data (MOV:
    ``location`` as ``\\u00a9xyz``). ``audio`` adds a second of AAC (a 440 Hz tone).
    """
    import av

    h, w = frames[0][0].shape[:2]
    options = {"movflags": "use_metadata_tags"} if metadata and metadata_tags else {}
    container = av.open(str(path), "w", options=options)
    for key, value in (metadata or {}).items():
        container.metadata[key] = value
    stream = container.add_stream("libx264", rate=fps, options={"crf": str(crf), "preset": "medium"})
    stream.width, stream.height, stream.pix_fmt = 2 * w, h, "yuv420p"
    if path.suffix == ".mkv":
        stream.metadata["stereo_mode"] = "left_right"
    stream.codec_context.color_primaries = 1
    stream.codec_context.color_trc = 1
    stream.codec_context.colorspace = 1
    sound = container.add_stream("aac", rate=48000) if audio else None
    for left, right in frames:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(np.hstack([left, right])), format="rgb24")
        frame = frame.reformat(format="yuv420p", dst_colorspace=1, dst_color_range=1)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    if sound is not None:
        t = np.arange(48000, dtype=np.float32) / 48000
        tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        for i in range(0, 48000 - 1024, 1024):
            chunk = av.AudioFrame.from_ndarray(tone[None, i : i + 1024], format="fltp", layout="mono")
            chunk.sample_rate = 48000
            chunk.pts = i
            chunk.time_base = Fraction(1, 48000)
            for packet in sound.encode(chunk):
                container.mux(packet)
        for packet in sound.encode():
            container.mux(packet)
    container.close()
    return path
