"""Benchmark: time from upload to the first 3D frame in the browser, for the Vision Pro spatial photo and stereo videos.

Starts ``parallax serve``'s application in-process (default settings: a 512 px
first depth with the fast matcher, refinement in the background), drives Debian's
chromium (software WebGL) to the upload page, chooses the file and waits for the
page's first-frame marker (``window.parallax.firstFrame``, set after the first
WebGL frame of the depth mesh is drawn). The time runs from the moment the file
is chosen (the upload starts) to that frame, measured in the page.

Baseline, measured in the same run: the time until the refined depth is shown
(what a viewer without the fast first look would make people wait for).
The target is a first frame in under 3 s on 2 cores.

Stereo videos (``--videos``, default the three test videos of ``../shared/data/video``): the
time from choosing the file to the first frame of the playing 3D video (its first seconds,
processed while the rest follows), with the server's part (opening the video, fitting the
rectification, the first segment) and the time until the whole video is processed. These are
latencies reported as measured (no target, no baseline).

Usage::

    python benchmarks/web.py [--capture PATH] [--runs 3] [--screenshot out.png] [--videos A.mp4 B.mov | --no-videos]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CAPTURE = ROOT.parent / "shared" / "data" / "captures" / "heic" / "vision-pro.HEIC"
VIDEO_DIR = ROOT.parent / "shared" / "data" / "video"
DEFAULT_VIDEOS = (
    VIDEO_DIR / "stereo_spatial.mp4",
    VIDEO_DIR / "bidavideo-demo" / "sbs_2560x720_10fps.mp4",
    VIDEO_DIR / "vr180_blender_lr.mp4",
)
TARGET_S = 3.0


def _one_upload(context, url: str, capture: Path, wait_refined: bool, screenshot: Path | None) -> dict:
    page = context.new_page()
    try:
        page.goto(url + "/")
        page.set_input_files("#file", str(capture))
        page.wait_for_function("() => window.parallax && window.parallax.firstFrame", timeout=180_000)
        first = page.evaluate("() => window.parallax.firstFrame")
        events = page.evaluate("() => window.parallax.events")
        if screenshot is not None:
            page.locator("#view").screenshot(path=str(screenshot))
        result = {"first_frame_s": first["sinceUploadMs"] / 1000.0, "stage": first["stage"]}
        preview = next((e["view"] for e in events if e["event"] == "preview-ready"), {})
        result["server"] = preview.get("seconds", {})
        if wait_refined:
            page.wait_for_function("() => window.parallax.shown && window.parallax.shown.full", timeout=600_000)
            shown = page.evaluate("() => [window.parallax.shown.full, window.parallax.uploadStartedAt]")
            result["refined_s"] = (shown[0] - shown[1]) / 1000.0
        return result
    finally:
        page.close()


def _one_video(context, url: str, video: Path) -> dict:
    """Upload a stereo video through the page: time to its first 3D frame, and until it is all processed."""
    page = context.new_page()
    try:
        page.goto(url + "/")
        page.set_input_files("#file", str(video))
        page.wait_for_function("() => window.parallax && window.parallax.firstFrame", timeout=600_000)
        first = page.evaluate("() => window.parallax.firstFrame")
        page.wait_for_function("() => window.parallax.done", timeout=1_800_000)
        events = page.evaluate("() => window.parallax.events")
        started = page.evaluate("() => window.parallax.uploadStartedAt")
        read = next(e for e in events if e["event"] == "read")
        view = next(e["view"] for e in events if e["event"] == "first-seconds")
        done = events[-1]
        return {
            "first_frame_s": first["sinceUploadMs"] / 1000.0,
            "done_s": (page.evaluate("() => Date.now()") - started) / 1000.0 if started else float("nan"),
            "read_s": read.get("seconds", float("nan")),
            "rectification_s": view["seconds"]["rectification"],
            "first_segment_s": view["seconds"]["first"],
            "first_frames": view["segments"][0]["frames"],
            "frames": done.get("summary", {}).get("frames", 0),
            "frames_per_s": done.get("summary", {}).get("frames_per_s", float("nan")),
            "format": read["format"],
            "size": f"{read['width']}x{read['height']}",
        }
    finally:
        page.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--capture", type=Path, default=DEFAULT_CAPTURE, help="capture to upload")
    parser.add_argument("--runs", type=int, default=3, help="uploads to time (median reported)")
    parser.add_argument("--screenshot", type=Path, default=None, help="save the first 3D frame of the first run")
    parser.add_argument("--videos", type=Path, nargs="*", default=list(DEFAULT_VIDEOS), help="stereo videos to time")
    parser.add_argument("--no-videos", action="store_true", help="time the photo only")
    args = parser.parse_args(argv)
    videos = [] if args.no_videos else [v for v in args.videos if v.is_file()]
    if not args.capture.is_file():
        print(f"error: {args.capture} not found", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    from parallax.server import ServerConfig, create_app
    from parallax.server.local import launch_chromium, serve_in_thread

    with tempfile.TemporaryDirectory(prefix="parallax-bench-web-") as tmp:
        t0 = time.perf_counter()
        with serve_in_thread(create_app(ServerConfig(data_dir=Path(tmp) / "data"))) as url:
            startup = time.perf_counter() - t0
            with sync_playwright() as pw:
                context = launch_chromium(pw, Path(tmp) / "profile")
                # Warm the browser's cache of the viewer's scripts (a returning visitor's case).
                page = context.new_page()
                page.goto(url + "/")
                page.close()
                runs = []
                for i in range(args.runs):
                    run = _one_upload(
                        context,
                        url,
                        args.capture,
                        wait_refined=(i == args.runs - 1),
                        screenshot=args.screenshot if i == 0 else None,
                    )
                    runs.append(run)
                    print(
                        f"run {i + 1}: first 3D frame {run['first_frame_s']:.2f} s after upload "
                        f"(server: read {run['server'].get('read', float('nan')):.2f} s, "
                        f"depth {run['server'].get('depth', float('nan')):.2f} s)"
                        + (f"; refined depth shown {run['refined_s']:.1f} s after upload" if "refined_s" in run else "")
                    )
                video_runs = [(video, _one_video(context, url, video)) for video in videos]
                context.close()
    first = statistics.median(r["first_frame_s"] for r in runs)
    refined = runs[-1]["refined_s"]
    print(f"server start (worker warm-up): {startup:.1f} s")
    print(
        f"capture: {args.capture.name}; median first 3D frame: {first:.2f} s (target < {TARGET_S:.1f} s: "
        f"{'PASS' if first < TARGET_S else 'FAIL'}; {first / TARGET_S:.2f} x target)"
    )
    print(
        f"baseline (same run): refined depth shown after {refined:.1f} s; first look is {refined / first:.1f} x sooner"
    )
    for video, run in video_runs:
        print(
            f"video {video.name} ({run['format']}, {run['size']} per eye): first 3D frame {run['first_frame_s']:.2f} s "
            f"after upload (server: open {run['read_s']:.2f} s, rectification {run['rectification_s']:.2f} s, "
            f"first {run['first_frames']} frames ready {run['first_segment_s']:.2f} s after the job started); "
            f"all {run['frames']} frames processed {run['done_s']:.1f} s after upload ({run['frames_per_s']:.1f} frames/s)"
        )
    return 0 if first < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
