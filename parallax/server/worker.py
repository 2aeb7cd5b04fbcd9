"""Work done in the server's worker processes: read, depth, viewer files, downloads.

Each function here runs in a process of a :class:`concurrent.futures.ProcessPoolExecutor`
(see :mod:`parallax.server.jobs`), never in the server's event loop. They report
progress by putting ``(capture_id, event)`` tuples on a queue handed to
:func:`init_worker`, and raise :class:`~parallax.errors.ParallaxError` subclasses
for anything the user caused (the server answers those 4xx with the message).

Files a stage writes (``<capture>/<stage>/``, ``stage`` in ``preview``, ``full``):

``left.jpg``, ``right.jpg``
    The rectified views the depth refers to (JPEG, quality 90).
``depth.f32``
    Viewer depth: little-endian float32, row-major, top row first, ``grid_width x
    grid_height`` values, along the optical axis (z), the same units as the
    DepthResult (metres when metric, else relative with median 1), made by
    :func:`viewer_depth`; NaN where the result is not ``valid`` (the viewer draws
    no triangle, point or splat there); the raw maps are in ``result.npz``.
``view.json``
    Sizes, intrinsics of the grid (pixels; the horizontal field of view
    :data:`~parallax.capture.types.ASSUMED_HFOV_DEG` when the capture has none,
    with ``camera_assumed: true``), depth range, timings.
``result.npz``
    The DepthResult itself (for downloads).
"""

from __future__ import annotations

import io
import json
import os
import signal
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from parallax.errors import InputFileError, OutputError, ParallaxError
from parallax.io.atomic import atomic_output
from parallax.server.config import ServerConfig

if TYPE_CHECKING:
    from parallax.capture.types import Capture
    from parallax.stereo.types import DepthResult

__all__ = [
    "ImageTooLargeError",
    "StageJob",
    "ExportJob",
    "init_worker",
    "emit",
    "warm_up",
    "probe_pixels",
    "run_stage",
    "run_export",
    "save_result",
    "load_result",
    "viewer_files",
    "viewer_depth",
]

_QUEUE: Any = None
_MAX_PIXELS: int = ServerConfig.max_pixels  # until init_worker sets the server's own limit


class ImageTooLargeError(InputFileError):
    """An image states more pixels than the server accepts (a possible decompression bomb)."""


@dataclass(frozen=True, kw_only=True)
class StageJob:
    """One depth computation for the web app.

    Parameters
    ----------
    capture_id : str
        Checked capture id (for progress events).
    folder : Path
        The capture's folder; the stage writes ``folder / stage``.
    source, right_source : Path
        The uploaded file(s) (``right_source`` for a two-file pair).
    display_name : str
        The name the user gave the file; replaces server paths in messages.
    stage : str
        ``"preview"`` or ``"full"``.
    max_side_px : int or None
        Longest side of the depth computation; ``None`` = full resolution.
    mesh_side_px : int
        Longest side of the viewer depth grid.
    matcher : str
        Matcher name for :func:`parallax.stereo.pipeline.compute_depth`.
    """

    capture_id: str
    folder: Path
    source: Path
    right_source: Path | None
    display_name: str
    stage: str
    max_side_px: int | None
    mesh_side_px: int
    matcher: str = "default"


@dataclass(frozen=True, kw_only=True)
class ExportJob:
    """One download: the stage's DepthResult written in one registry format."""

    folder: Path
    stage: str
    format: str
    path: Path


def init_worker(queue: Any, nice: int, max_pixels: int) -> None:
    """Initialise a worker process: progress queue, priority, pixel limit for Pillow, signals.

    A worker ignores SIGINT: Ctrl+C in a terminal reaches the whole process group, and the
    server stops its workers itself (SIGTERM) after finishing what it can.
    """
    global _QUEUE, _MAX_PIXELS
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _QUEUE = queue
    _MAX_PIXELS = int(max_pixels)
    if nice:
        os.nice(nice)
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = _MAX_PIXELS
    # Pillow only warns between 1x and 2x the limit: make that an error here too.
    warnings.simplefilter("error", Image.DecompressionBombWarning)


def warm_up(matchers: tuple[str, ...] = ("sgbm", "default")) -> int:
    """Import the pipeline and run it once on a tiny seeded pair, so the first real job
    pays neither imports nor JIT compilation; return the worker's pid."""
    from parallax.capture.types import Capture
    from parallax.stereo.pipeline import compute_depth

    rng = np.random.default_rng(0)
    texture = _blurred(rng.integers(0, 255, (96, 136, 3), dtype=np.uint8))
    capture = Capture(
        left=texture[:, 8:], right=np.ascontiguousarray(texture[:, :-8]), format="synthetic", source="warm-up"
    )
    for matcher in matchers:
        try:
            compute_depth(capture, matcher=matcher)
        except ParallaxError:
            pass  # e.g. too few features on noise: the imports and JIT happened anyway
    return os.getpid()


def _blurred(image: np.ndarray) -> np.ndarray:
    """A lightly blurred copy (noise that feature detectors and matchers can lock onto)."""
    import cv2

    return np.ascontiguousarray(cv2.GaussianBlur(image, (3, 3), 0))


def emit(capture_id: str, event: str, **data: Any) -> None:
    """Send a progress event of a capture to the server (a no-op outside a worker process)."""
    if _QUEUE is not None:
        _QUEUE.put((capture_id, {"event": event, **data}))


def probe_pixels(path: Path, display_name: str, max_pixels: int) -> None:
    """Refuse images whose headers state more than ``max_pixels`` pixels, before decoding any.

    Reads only headers (Pillow, with the HEIF opener registered); files Pillow cannot
    identify are left to the capture reader.

    Raises
    ------
    ImageTooLargeError
        Naming the file, the size found and the limit.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:  # HEIF files are then left to the reader
        pass
    too_large: tuple[int, int, int] | None = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                frames = min(int(getattr(im, "n_frames", 1) or 1), 16)
                for i in range(frames):
                    if i:
                        im.seek(i)
                    width, height = im.size
                    if width * height > max_pixels:
                        too_large = (i, width, height)
                        break
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, EOFError, SyntaxError):
        return  # unknown or broken headers: the capture reader gives the real message
    if too_large is not None:
        i, width, height = too_large
        raise ImageTooLargeError(
            f"{display_name}: image {i} is {width}x{height} = {width * height / 1e6:.1f} megapixels, "
            f"more than this server's limit of {max_pixels / 1e6:.1f}; send a smaller image"
        )


def _read(job: StageJob) -> Capture:
    from PIL import Image

    from parallax.capture import read_capture

    probe_pixels(job.source, job.display_name, _MAX_PIXELS)
    if job.right_source is not None:
        probe_pixels(job.right_source, job.display_name, _MAX_PIXELS)
    try:
        return read_capture(job.source, right_path=job.right_source, max_pixels=_MAX_PIXELS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLargeError(
            f"{job.display_name}: image is larger than this server's limit of {_MAX_PIXELS / 1e6:.1f} megapixels; "
            "send a smaller image"
        ) from exc
    except ParallaxError as exc:
        message = str(exc).replace(str(job.source), job.display_name)
        if job.right_source is not None:
            message = message.replace(str(job.right_source), job.display_name + " (right)")
        raise type(exc)(message) from None


def run_stage(job: StageJob) -> dict[str, Any]:
    """Read the capture, compute its depth at the job's size and write the stage's files.

    Emits ``read`` (after the file was read) and returns the contents of
    ``view.json``; the server announces ``<stage>-ready`` from that result.

    Raises
    ------
    ParallaxError
        From the reader (message with the user's file name) or the pipeline.
    """
    from parallax.stereo.pipeline import compute_depth

    t0 = time.perf_counter()
    capture = _read(job)
    t_read = time.perf_counter() - t0
    emit(
        job.capture_id,
        "read",
        stage=job.stage,
        format=capture.format,
        width=capture.width,
        height=capture.height,
        stereo=capture.is_stereo,
        seconds=round(t_read, 3),
    )
    t1 = time.perf_counter()
    kwargs: dict[str, Any] = {"matcher": job.matcher}
    if job.max_side_px:
        kwargs["max_side_px"] = job.max_side_px
    result = compute_depth(capture, **kwargs)
    t_depth = time.perf_counter() - t1
    out = job.folder / job.stage
    out.mkdir(exist_ok=True)
    t2 = time.perf_counter()
    view = viewer_files(result, out, mesh_side_px=job.mesh_side_px)
    save_result(result, out / "result.npz")
    rect = result.rectification
    view.update(
        stage=job.stage,
        capture={"format": capture.format, "width": capture.width, "height": capture.height},
        rectified=True if rect is None else bool(rect.rectified),
        rectification_warning="" if rect is None else rect.reason,
        eyes=capture.metadata.get("eyes"),
        seconds={"read": round(t_read, 3), "depth": round(t_depth, 3), "files": round(time.perf_counter() - t2, 3)},
    )
    with atomic_output(out / "view.json") as tmp:
        tmp.write_text(json.dumps(view), encoding="utf-8")
    return view


def viewer_depth(depth: np.ndarray, grid_size: tuple[int, int], valid: np.ndarray | None = None) -> np.ndarray:
    """Depth for the viewer mesh on a ``(width, height)`` grid: valid pixels only, isolated outliers removed.

    Parameters
    ----------
    depth : numpy.ndarray
        ``HxW`` float32 depth along z, NaN (or <= 0) = no value.
    grid_size : tuple of int
        ``(width, height)`` of the output grid (at most the input size).
    valid : numpy.ndarray, optional
        ``HxW`` bool, the pixels to use (``DepthResult.valid``); default: those with a depth.

    Returns
    -------
    numpy.ndarray
        ``grid_height x grid_width`` float32 depth; NaN where fewer than half of a
        cell's pixels are valid. Works on inverse depth: area-averaged over valid
        pixels, clipped to its 1st-99th percentile, then a 5x5 median (over the
        cell's valid neighbours) against the matcher's isolated outliers and streaks.

    Raises
    ------
    InputFileError
        When no pixel has a depth.
    """
    import cv2

    ok = np.isfinite(depth) & (depth > 0)
    if valid is not None:
        ok &= np.asarray(valid, dtype=bool)
    if not ok.any():
        raise InputFileError("no depth could be computed for this capture (no pixel matched); try another photo")
    inv: np.ndarray = np.where(ok, 1.0 / np.where(ok, depth, 1.0), 0.0).astype(np.float32)
    if grid_size != (depth.shape[1], depth.shape[0]):
        total = cv2.resize(inv, grid_size, interpolation=cv2.INTER_AREA)
        weight = cv2.resize(ok.astype(np.float32), grid_size, interpolation=cv2.INTER_AREA)
        ok = weight >= 0.5
        inv = np.where(ok, total / np.maximum(weight, 1e-6), 0.0).astype(np.float32)
    if not ok.any():
        raise InputFileError("no depth could be computed for this capture (no pixel matched); try another photo")
    lo, hi = np.percentile(inv[ok], [1.0, 99.0])
    lo = max(float(lo), float(hi) * 1e-3)
    inv = np.clip(inv, lo, hi).astype(np.float32)
    holes = ~ok
    if holes.any():  # give the median filter neighbours to work with; the holes stay holes
        inv[holes] = 0.0
        inv = cv2.inpaint(inv / np.float32(hi), holes.astype(np.uint8), 3, cv2.INPAINT_NS) * np.float32(hi)
        inv = np.clip(inv, lo, hi).astype(np.float32)
    inv = cv2.medianBlur(np.ascontiguousarray(inv, dtype=np.float32), 5)
    return np.where(ok, 1.0 / inv, np.nan).astype(np.float32)


def _jpeg(image: np.ndarray, path: Path) -> None:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="JPEG", quality=90)
    with atomic_output(path) as tmp:
        tmp.write_bytes(buf.getvalue())


def viewer_files(result: Any, out: Path, *, mesh_side_px: int) -> dict[str, Any]:
    """Write ``left.jpg``, ``right.jpg`` and ``depth.f32`` for the viewer; return the ``view.json`` fields.

    Parameters
    ----------
    result : DepthResult
        Depth of the rectified left view (NaN = no value).
    out : Path
        Folder to write into (exists).
    mesh_side_px : int
        Longest side of the depth grid (the viewer mesh has one vertex per value).
    """
    from parallax.capture.types import ASSUMED_HFOV_DEG, CameraIntrinsics

    height, width = result.depth.shape
    scale = min(1.0, mesh_side_px / max(width, height))
    grid_w, grid_h = max(2, round(width * scale)), max(2, round(height * scale))
    depth = viewer_depth(np.asarray(result.depth, dtype=np.float32), (grid_w, grid_h), np.asarray(result.valid))
    finite = depth[np.isfinite(depth)]
    camera = result.camera
    assumed = camera is None
    if camera is None:
        camera = CameraIntrinsics.from_hfov(hfov_deg=ASSUMED_HFOV_DEG, width=width, height=height)
    grid_cam = camera.scaled(grid_w / camera.width, grid_h / camera.height)
    with atomic_output(out / "depth.f32") as tmp:
        tmp.write_bytes(depth.astype("<f4").tobytes(order="C"))
    _jpeg(result.image, out / "left.jpg")
    has_right = result.right_image is not None
    if has_right:
        _jpeg(result.right_image, out / "right.jpg")
    return {
        "image_width": int(width),
        "image_height": int(height),
        "grid_width": int(grid_w),
        "grid_height": int(grid_h),
        "fx_px": float(grid_cam.focal_px),
        "fy_px": float(grid_cam.fy_px),
        "cx_px": float(grid_cam.cx_px),
        "cy_px": float(grid_cam.cy_px),
        "camera_assumed": assumed,
        "depth_is_metric": bool(result.depth_is_metric),
        "depth_units": "m" if result.depth_is_metric else "relative",
        "depth_min": float(finite.min()),
        "depth_max": float(finite.max()),
        "depth_median": float(np.median(finite)),
        "valid_fraction": float(np.asarray(result.valid).mean()),
        "grid_valid_fraction": float(finite.size / depth.size),
        "no_value": "NaN in depth.f32 (not valid: nothing is drawn there)",
        "has_right": has_right,
    }


def save_result(result: Any, path: Path) -> None:
    """Save a DepthResult as ``.npz`` (arrays) with its scalars as JSON inside."""
    arrays: dict[str, np.ndarray] = {
        "image": np.asarray(result.image),
        "confidence": np.asarray(result.confidence),
        "depth": np.asarray(result.depth),
        "valid": np.asarray(result.valid),
    }
    if result.right_image is not None:
        arrays["right_image"] = np.asarray(result.right_image)
    if result.disparity_px is not None:
        arrays["disparity_px"] = np.asarray(result.disparity_px)
    scalars = {
        "depth_is_metric": bool(result.depth_is_metric),
        "camera": None if result.camera is None else result.camera.to_dict(),
        "baseline_m": result.baseline_m,
        "doffs_px": float(result.doffs_px),
        "rectification": None if result.rectification is None else result.rectification.to_dict(),
        "source": result.source,
        "settings": json.loads(json.dumps(dict(result.settings), default=str)),
    }
    arrays["scalars_json"] = np.frombuffer(json.dumps(scalars).encode("utf-8"), dtype=np.uint8)
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as fh:
            # numpy's stubs let **kwds also fill savez's allow_pickle (bool), so mypy rejects a dict of arrays
            np.savez(fh, **arrays)  # type: ignore[arg-type]


def load_result(path: Path) -> DepthResult:
    """Inverse of :func:`save_result`: the DepthResult saved at ``path``."""
    from parallax.capture.types import CameraIntrinsics
    from parallax.stereo.types import DepthResult, Rectification

    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    scalars = json.loads(arrays.pop("scalars_json").tobytes().decode("utf-8"))
    cam = scalars["camera"]
    camera = None
    if cam is not None:
        camera = CameraIntrinsics(
            focal_px=cam["focal_px"],
            focal_y_px=cam["focal_y_px"],
            cx_px=cam["cx_px"],
            cy_px=cam["cy_px"],
            width=cam["width"],
            height=cam["height"],
        )
    rect = scalars["rectification"]
    return DepthResult(
        image=arrays["image"],
        right_image=arrays.get("right_image"),
        disparity_px=arrays.get("disparity_px"),
        confidence=arrays["confidence"],
        depth=arrays["depth"],
        valid=arrays["valid"] if "valid" in arrays else np.isfinite(arrays["depth"]),
        depth_is_metric=scalars["depth_is_metric"],
        camera=camera,
        baseline_m=scalars["baseline_m"],
        doffs_px=scalars["doffs_px"],
        rectification=None if rect is None else Rectification.from_dict(rect),
        source=scalars["source"],
        settings=scalars["settings"],
    )


def run_export(job: ExportJob) -> Path:
    """Write the stage's DepthResult in ``job.format`` to ``job.path`` (atomically); return the path."""
    from parallax.outputs.registry import write_output

    src = job.folder / job.stage / "result.npz"
    if not src.is_file():
        raise OutputError(f"the {job.stage} depth of this capture is not ready; wait for it and try again")
    result = load_result(src)
    return write_output(result, job.path, format=job.format)
