"""Geometry benchmark: how trustworthy the 3D from real captures looks, with and without the clean-up.

For every real capture in ``../shared/data`` (photos of every format, frames of
the real stereo video ``video/bidavideo-demo``, and the stereo-gt pairs read as
two-file captures), at ``--max-size`` (default 1536 px, the web app's refined
depth; ``full`` = the CLI's default, the file's own size), this runs
:func:`parallax.compute_depth` twice in the same process:

* **now** -- the defaults (plain surfaces smoothed or no value, far clip);
* **raw** -- the same pipeline with ``plain_surfaces=False, far_clip_factor=None``:
  the matcher's values everywhere, the baseline the ratios compare against.

and reports per capture and for both:

* ``rough`` -- of the untextured pixels (grey-level std < 2 over 11 x 11), the share
  that are valid yet rough (valid disparity spread over 11 x 11 above 1 px)
  (:func:`parallax.bench.geometry.plain_roughness`);
* ``steep`` -- of those rough pixels, the share (of the untextured pixels) whose
  11 x 11 box one plane explains to 0.25 px RMS: steep smooth surfaces, not noise;
* ``valid`` -- the share of the view that is valid;
* ``edges`` -- boundary edges per 1000 faces of the GLB mesh (the mesh
  :func:`parallax.scene.mesh.depth_mesh` builds for ``parallax convert x.glb``);
* ``reach`` -- the mesh's largest vertex depth over its 95th percentile;
* ``splats`` -- splats in the default splat PLY, and its size in MB.

Run: ``.venv/bin/python benchmarks/geometry.py [--max-size 1536|full] [--only NAME ...] [--no-raw]``.
Exits 0 when the run completes (the numbers are reported, not judged here).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from parallax.errors import ParallaxError  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
#: The captures the issue names first, then captures nobody tuned on.
PHOTOS = [
    ("vision-pro", "captures/heic/vision-pro.HEIC", None),
    ("GOPR0", "captures/sbs/GOPR0.left-right.jpg", None),
    ("GX8", "captures/mpo/Panasonic-DMC-GX8.mpo", None),
    ("calf", "captures/sbs/calf-left-right.jpg", None),
    ("Cactus", "captures/lif/Cactus.jpg", None),
    ("sugarshack", "captures/mpo/sugarshack.mpo", None),
    ("frozenpond", "captures/mpo/frozenpond.mpo", None),
    ("spatial_photo", "captures/heic/spatial_photo.heic", None),
    ("super-mario", "captures/sbs/02-super-mario.jps", None),
]
VIDEO_FRAMES = (0, 5, 9)


def captures() -> list[tuple[str, Path, Path | None]]:
    """(name, file or left file, right file or None) of every capture the benchmark runs on."""
    out: list[tuple[str, Path, Path | None]] = [
        (name, DATA / left, None if right is None else DATA / right) for name, left, right in PHOTOS
    ]
    video = DATA / "video" / "bidavideo-demo"
    for i in VIDEO_FRAMES:
        out.append((f"bidavideo-{i}", video / "left" / f"left{i:06d}.png", video / "right" / f"right{i:06d}.png"))
    manifest = DATA / "stereo-gt" / "scenes.json"
    if manifest.is_file():
        for scene, info in sorted(json.loads(manifest.read_text())["scenes"].items()):
            folder = manifest.parent / scene
            out.append((scene, folder / info["left"], folder / info["right"]))
    return [c for c in out if c[1].is_file()]


def measure(result: Any) -> dict[str, float]:
    """The geometry measures of one DepthResult."""
    from parallax.bench.geometry import boundary_edges_per_1000_faces, depth_reach, plain_roughness
    from parallax.scene.mesh import depth_mesh, result_camera
    from parallax.scene.splats import ply_properties, splats_from_result

    rough = plain_roughness(result.image, result.disparity_px, result.valid)
    camera, _ = result_camera(result)
    mesh = depth_mesh(result.depth, camera, units=result.depth_units)
    splats, _, _ = splats_from_result(result)
    return {
        "rough": rough.rough_valid_share,
        "steep": rough.steep_valid_share,
        "plain": rough.plain_share,
        "valid": rough.valid_share,
        "edges": boundary_edges_per_1000_faces(mesh.faces),
        "reach": depth_reach(mesh.vertices[:, 2]),
        "splats": float(len(splats)),
        "splat_mb": len(splats) * len(ply_properties(0)) * 4 / 1e6,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-size", default="1536", help="longest side processed, px, or 'full' (default 1536)")
    parser.add_argument("--only", action="append", default=[], help="capture name (repeatable); default: all")
    parser.add_argument("--no-raw", action="store_true", help="skip the raw baseline (half the time)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args(argv)
    from parallax.capture import read_capture
    from parallax.stereo.pipeline import compute_depth

    side = None if args.max_size == "full" else int(args.max_size)
    rows: list[dict[str, Any]] = []
    header = (
        f"{'capture':30s} {'size':>10s} {'s':>6s} {'plain':>6s} {'rough':>6s} {'steep':>6s} {'raw':>6s} {'valid':>6s} "
        f"{'edges':>7s} {'raw':>7s} {'reach':>6s} {'raw':>7s} {'splats':>8s} {'MB':>6s}"
    )
    print(f"geometry at --max-size {args.max_size} (rough/valid: shares; edges: per 1000 faces; reach: max/p95)")
    print(header)
    for name, left, right in captures():
        if args.only and name not in args.only:
            continue
        try:
            capture = read_capture(left, right)
            t0 = time.perf_counter()
            now = compute_depth(capture, max_side_px=side)
            seconds = time.perf_counter() - t0
            row: dict[str, Any] = {"capture": name, "size": list(now.depth.shape), "seconds": seconds}
            row.update(measure(now))
            if not args.no_raw:
                raw = compute_depth(capture, max_side_px=side, plain_surfaces=False, far_clip_factor=None)
                row.update({f"raw_{k}": v for k, v in measure(raw).items()})
        except ParallaxError as exc:
            print(f"{name:30s} error: {exc}")
            continue
        rows.append(row)
        size = f"{row['size'][1]}x{row['size'][0]}"
        print(
            f"{name:30s} {size:>10s} {seconds:6.1f} {row['plain']:6.3f} {row['rough']:6.3f} {row['steep']:6.3f} "
            f"{_get(row, 'raw_rough', '6.3f')} "
            f"{row['valid']:6.3f} {row['edges']:7.1f} {_get(row, 'raw_edges', '7.1f')} {row['reach']:6.2f} "
            f"{_get(row, 'raw_reach', '7.2f')} {row['splats']:8.0f} {row['splat_mb']:6.1f}",
            flush=True,
        )
    if rows:
        print("mean rough share (now / raw):", _mean(rows, "rough"), "/", _mean(rows, "raw_rough"))
        print(
            "worst rough share now:",
            max(r["rough"] for r in rows),
            "; least valid share now:",
            min(r["valid"] for r in rows),
        )
        print("mean boundary edges per 1000 faces (now / raw):", _mean(rows, "edges"), "/", _mean(rows, "raw_edges"))
        print("largest mesh reach now:", max(r["reach"] for r in rows))
    if args.json is not None:
        from parallax.io.atomic import atomic_output

        with atomic_output(args.json) as tmp:
            tmp.write_text(json.dumps(rows, indent=2))
    return 0


def _get(row: dict[str, Any], key: str, fmt: str) -> str:
    return format(row[key], fmt) if key in row else "-"


def _mean(rows: list[dict[str, Any]], key: str) -> str:
    values = [r[key] for r in rows if key in r]
    return f"{np.mean(values):.3f}" if values else "-"


if __name__ == "__main__":
    sys.exit(main())
