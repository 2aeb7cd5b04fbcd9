"""Corpus benchmark: ingest captures/minute (embedded, Ray 1 and 2 workers), export MB/s, loader samples/s,
and loader windows/s of clips, and clip ingest frames/s.

Usage::

    python benchmarks/corpus.py [--captures ../shared/data/captures] [--max-side 640] [--skip-ray]
                                [--clips-only] [--clip-width 640] [--clip-length 4] [--stride 4] [--repeat 3]
    python benchmarks/corpus.py --clip-ingest-only [--clip-max-side 320] [--clip-fps 5] [--skip-ray]

Clip ingest: the side-by-side office clip, the VR180 render and the 360 test room of
``../shared/data/video`` are ingested (cut, blurred, matched, tracked, written) by the
embedded engine and by Ray with 1 and 2 workers; frames/s counts the frames of the
planned clips, and each Ray rate is a ratio against the embedded rate of the same run.
Then one long clip (the test room as a single cut in 4 chunks) on Ray with 1 and 2
workers: the frames of one clip processed in parallel. Ray runs are preceded by a
warm-up run (worker start-up, JIT compilation, detector loading are not counted).

Every number is measured in this run; ratios are against a baseline measured in
the same run (Ray against embedded; the loader against decoding the same sample
folders directly with ``read_sample_dir``). Ray's start-up time is reported
separately and not counted in its captures/minute.

Clip windows: the real rectified frames of ``video/bidavideo-demo`` (10 frames,
disparity from the stills matcher), the same clip upside down (both views
flipped: still a rectified pair) and seeded synthetic clips, all at
``--clip-width``, are exported as WebDataset; the loader's windows/s (one
process) is compared with two direct reads of the same windows in the same run:
the clip sample folders (``ClipSampleReader.read_stream`` of left, right,
disparity and valid per frame, hashes not checked, as the loader does not check
them either) and the shard bytes (``tarfile`` plus the same PNG decoders, each
window's frames decoded on their own, no loader).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from parallax.corpus.consent import Consent  # noqa: E402
from parallax.corpus.export import export_corpus  # noqa: E402
from parallax.corpus.ingest import IngestSettings, discover  # noqa: E402
from parallax.corpus.sample import read_sample_dir  # noqa: E402
from parallax.corpus.store import Corpus  # noqa: E402

CONSENT = Consent(contributor="bench", license="CC-BY-4.0", allow_training=True, date="2026-01-01")


def _ingest(root: Path, items, settings: IngestSettings, engine: str, workers: int | None = None) -> tuple[float, dict]:
    corpus = Corpus.init(root)
    start = time.perf_counter()
    corpus.add(items, CONSENT, settings, engine=engine, ray_workers=workers)
    seconds = time.perf_counter() - start
    status = corpus.status()
    corpus.close()
    return seconds, status


def _folder_mb(path: Path, suffixes: tuple[str, ...]) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.suffix in suffixes) / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", default=str(ROOT.parent / "shared" / "data" / "captures"))
    parser.add_argument("--max-side", type=int, default=640)
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--clips-only", action="store_true", help="only the clip windows part")
    parser.add_argument("--clip-width", type=int, default=640)
    parser.add_argument("--clip-length", type=int, default=4)
    parser.add_argument("--stride", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3, help="clip windows: best of this many runs")
    parser.add_argument("--clip-ingest-only", action="store_true", help="only the clip ingest part")
    parser.add_argument("--skip-clip-ingest", action="store_true")
    parser.add_argument("--videos", default=str(ROOT.parent / "shared" / "data" / "video"))
    parser.add_argument("--clip-max-side", type=int, default=320)
    parser.add_argument("--clip-fps", type=float, default=5.0)
    args = parser.parse_args(argv)
    if args.clips_only:
        with tempfile.TemporaryDirectory() as tmp:
            return clip_windows(Path(tmp), args.clip_width, args.clip_length, args.stride, args.repeat)
    if args.clip_ingest_only:
        with tempfile.TemporaryDirectory() as tmp:
            return clip_ingest(Path(tmp), Path(args.videos), args.clip_max_side, args.clip_fps, args.skip_ray)
    items, _ = discover([args.captures])
    settings = IngestSettings(max_side_px=args.max_side)
    n = len(items)
    print(f"{n} captures from {args.captures}, stored at max side {args.max_side} px, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _ingest(tmp / "warm-up", items[:1], settings, "embedded")  # JIT compilation and detector loading
        secs, status = _ingest(tmp / "embedded", items, settings, "embedded")
        base = n / secs * 60
        print(
            f"ingest embedded      : {base:7.2f} captures/min ({secs:.1f} s; {status['samples']} samples, "
            f"{status['duplicates']} duplicates, {status['rejected']} rejected)"
        )
        if not args.skip_ray:
            from parallax.corpus.ray_engine import ensure_ray

            t0 = time.perf_counter()
            ray = ensure_ray(2)
            print(f"ray start-up         : {time.perf_counter() - t0:7.2f} s (not counted below)")
            for workers in (1, 2):
                secs, _ = _ingest(tmp / f"ray{workers}", items, settings, "ray", workers)
                rate = n / secs * 60
                print(
                    f"ingest ray {workers} worker{'s' if workers > 1 else ' '}: {rate:7.2f} captures/min "
                    f"({secs:.1f} s; x{rate / base:.2f} vs embedded)"
                )
            ray.shutdown()
        corpus = Corpus.open(tmp / "embedded")
        for fmt, suffix in (("webdataset", ".tar"), ("parquet", ".parquet")):
            t0 = time.perf_counter()
            export_corpus(corpus, fmt=fmt, out=str(tmp / fmt), shard_size="64MB")
            secs = time.perf_counter() - t0
            mb = _folder_mb(tmp / fmt, (suffix,))
            print(f"export {fmt:10s}    : {mb / secs:7.2f} MB/s ({mb:.1f} MB in {secs:.2f} s)")
        ids = [r["sample_id"] for r in corpus.catalog.active_samples()]
        corpus.close()
        t0 = time.perf_counter()
        for sid in ids:
            s = read_sample_dir(tmp / "embedded" / "samples" / sid)
            _ = (s.left, s.right, s.disparity_px, s.valid)
        direct = len(ids) / (time.perf_counter() - t0)
        try:
            from parallax.corpus.loader import CorpusDataset
        except ImportError as exc:  # MissingDependencyError is an ImportError
            print(f"loader               : skipped ({exc})")
            return 0
        ds = CorpusDataset(str(tmp / "webdataset"), split="train")
        ds_val = CorpusDataset(str(tmp / "webdataset"), split="val")
        ds_test = CorpusDataset(str(tmp / "webdataset"), split="test")
        t0 = time.perf_counter()
        count = sum(1 for d in (ds, ds_val, ds_test) for _ in d)
        loader = count / (time.perf_counter() - t0)
        print(f"read sample folders  : {direct:7.2f} samples/s (baseline: read_sample_dir, hashes checked)")
        print(f"loader (1 process)   : {loader:7.2f} samples/s (x{loader / direct:.2f} vs reading the folders)")
        code = clip_windows(tmp, args.clip_width, args.clip_length, args.stride, args.repeat)
        if code or args.skip_clip_ingest:
            return code
        return clip_ingest(tmp, Path(args.videos), args.clip_max_side, args.clip_fps, args.skip_ray)


def _clips(width: int):
    """The real bidavideo clip, its upside-down twin and 4 synthetic clips, 10 frames each, ``width`` pixels wide."""
    import cv2
    import numpy as np

    from parallax.corpus.clip_sample import ClipFrame, ClipInfo, ClipSample
    from parallax.stereo.disparity import estimate_disparity

    folder = ROOT.parent / "shared" / "data" / "video" / "bidavideo-demo"
    frames, flipped = [], []
    for i in range(10):
        views = []
        for side in ("left", "right"):
            bgr = cv2.imread(str(folder / side / f"{side}{i:06d}.png"), cv2.IMREAD_COLOR)
            size = (width, round(bgr.shape[0] * width / bgr.shape[1]))
            views.append(np.ascontiguousarray(cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)[:, :, ::-1]))
        left, right = views
        d = estimate_disparity(left, right, min_disparity=0, max_disparity=max(16, width // 8))
        f = 1000.0 * width / 1280
        K = [[f, 0, (width - 1) / 2], [0, f, (left.shape[0] - 1) / 2], [0, 0, 1]]
        frames.append(ClipFrame(timestamp_s=i / 10, left=left, right=right, disparity_px=d, K=K, source_index=i))
        up = [np.ascontiguousarray(a[::-1]) for a in (left, right, d)]
        flipped.append(ClipFrame(timestamp_s=i / 10, left=up[0], right=up[1], disparity_px=up[2], K=K, source_index=i))
    facts = dict(fps=10.0, source_format="frames", layout="separate", original_name="bidavideo-demo")
    rights = dict(license=CONSENT.license, consent_id=CONSENT.consent_id, contributor=CONSENT.contributor)
    clips = [
        ClipSample(info=ClipInfo(sample_id=sid, source_kind="video", **facts, **rights), frames=tuple(fr))
        for sid, fr in (("bida", frames), ("bida-upside-down", flipped))
    ]
    h = frames[0].height
    for n in range(4):
        rng = np.random.default_rng(n)
        texture = cv2.GaussianBlur(rng.integers(0, 256, (h, width + 80, 3), dtype=np.uint8), (0, 0), 2.0)
        out = []
        for i in range(10):
            x = 4 * i
            left = np.ascontiguousarray(texture[:, x + 16 : x + 16 + width])
            right = np.ascontiguousarray(texture[:, x + 32 : x + 32 + width])  # left(x) = right(x - 16)
            d = np.full((h, width), 16.0, np.float32)
            out.append(ClipFrame(timestamp_s=i / 10, left=left, right=right, disparity_px=d, K=K, pose=np.eye(4)))
        info = ClipInfo(
            sample_id=f"synthetic-{n}",
            source_kind="synthetic",
            **{**facts, "source_format": "synthetic", "layout": None, "original_name": f"synthetic-{n}"},
            **rights,
        )
        clips.append(ClipSample(info=info, frames=tuple(out)))
    return clips


def clip_windows(tmp: Path, width: int, length: int, stride: int, repeat: int = 3) -> int:
    """Loader windows/s against reading the same windows from the clip folders and from the shard bytes."""
    import tarfile

    from parallax.corpus import encoding as enc
    from parallax.corpus.clip_reader import open_clip_sample_dir

    corpus = Corpus.init(tmp / "clip-corpus")
    t0 = time.perf_counter()
    for clip in _clips(width):
        corpus.add_sample(clip, CONSENT)
    print(f"clips made           : {time.perf_counter() - t0:7.2f} s (6 clips of 10 frames, {width} px wide)")
    result = export_corpus(corpus, fmt="webdataset", out=str(tmp / "clip-wds"), shard_size="64MB")
    corpus.close()
    ids = [sid for ids in result.clip_samples.values() for sid in ids]
    windows = [(sid, s) for sid in ids for s in range(0, 10 - length + 1, stride)]
    streams = ("left", "right", "disparity", "valid")

    def folders() -> int:
        for sid, s in windows:
            reader = open_clip_sample_dir(tmp / "clip-corpus" / "samples" / sid, verify=False)
            _ = [[reader.read_stream(k, i) for k in streams] for i in range(s, s + length)]
        return len(windows)

    def shard_bytes() -> int:
        count = 0
        for shard in result.shards:
            with tarfile.open(tmp / "clip-wds" / shard["path"]) as tar:
                members = {m.name: m for m in tar.getmembers()}
                for key in shard["keys"]:
                    meta = json.loads(tar.extractfile(members[f"{key}.json"]).read())
                    for s in range(0, meta["frame_count"] - length + 1, stride):
                        for i in range(s, s + length):
                            raw = {k: tar.extractfile(members[f"{key}.{i:06d}.{k}.png"]).read() for k in streams}
                            enc.decode_rgb_png(raw["left"], name="left")
                            enc.decode_rgb_png(raw["right"], name="right")
                            enc.decode_map16(raw["disparity"], meta["files"][f"disparity/{i:06d}"], name="disparity")
                            enc.decode_mask_png(raw["valid"], name="valid", as_bool=True)
                        count += 1
        return count

    try:
        from parallax.corpus.loader import CorpusDataset
    except ImportError as exc:  # MissingDependencyError is an ImportError
        print(f"clip loader          : skipped ({exc})")
        return 0

    def loader() -> int:
        n = 0
        for split in ("train", "val", "test"):
            ds = CorpusDataset(str(tmp / "clip-wds"), split=split, clip_length=length, stride=stride)
            n += sum(1 for _ in ds)
        return n

    best = {"folders": 0.0, "shard bytes": 0.0, "loader": 0.0}
    for _ in range(repeat):  # interleaved, best of `repeat`: the machine is shared and noisy
        for name, run in (("folders", folders), ("shard bytes", shard_bytes), ("loader", loader)):
            t0 = time.perf_counter()
            n = run()
            if n != len(windows):
                print(f"window count differs: {name} read {n}, expected {len(windows)}")
                return 1
            best[name] = max(best[name], n / (time.perf_counter() - t0))
    rate = best["loader"]
    print(f"clip windows         : {len(windows)} windows of {length} frames, stride {stride}; best of {repeat}")
    print(f"read clip folders    : {best['folders']:7.2f} windows/s (baseline: read_stream of 4 maps per frame)")
    print(f"read shard bytes     : {best['shard bytes']:7.2f} windows/s (tarfile + the same decoders, no loader)")
    print(
        f"loader (1 process)   : {rate:7.2f} windows/s (x{rate / best['folders']:.2f} vs the folders, "
        f"x{rate / best['shard bytes']:.2f} vs the shard bytes)"
    )


def _clip_run(
    root: Path, items, settings: IngestSettings, engine: str, workers: int | None = None
) -> tuple[float, int]:
    """Ingest clip sources into a new corpus: seconds and frames processed (the planned clips' frames)."""
    corpus = Corpus.init(root)
    start = time.perf_counter()
    outcomes = corpus.add(items, CONSENT, settings, engine=engine, ray_workers=workers)
    seconds = time.perf_counter() - start
    frames = int(corpus.catalog.db.execute("SELECT COALESCE(SUM(frames), 0) FROM clip_sources").fetchone()[0])
    corpus.close()
    if any(o.status not in ("accepted", "rejected") for o in outcomes):
        raise SystemExit(f"unexpected outcomes: {outcomes}")
    return seconds, frames


def clip_ingest(tmp: Path, videos: Path, max_side: int, clip_fps: float, skip_ray: bool) -> int:
    """Clip ingest frames/s, embedded and Ray (1 and 2 workers), and one long clip's chunks on Ray (module docstring)."""
    import dataclasses

    inputs = [videos / "bidavideo-demo" / "sbs_2560x720_10fps.mp4", videos / "vr180_blender_lr.mp4",
              videos / "testRoom1_1080Stereo.mp4"]  # fmt: skip
    items, _ = discover(inputs)
    settings = IngestSettings(max_side_px=max_side, clip_fps=clip_fps)
    print(f"clip ingest: {', '.join(p.name for p in inputs)} at max side {max_side} px, {clip_fps:g} frames/s")
    _clip_run(tmp / "clip-warm-up", items[:1], settings, "embedded")  # JIT compilation and detector loading
    secs, frames = _clip_run(tmp / "clip-embedded", items, settings, "embedded")
    base = frames / secs
    print(f"clip ingest embedded : {base:7.2f} frames/s ({frames} frames in {secs:.1f} s)")
    if skip_ray:
        return 0
    from parallax.corpus.ray_engine import ensure_ray

    t0 = time.perf_counter()
    ray = ensure_ray(2)
    _clip_run(tmp / "clip-ray-warm-up", items[:1], settings, "ray", 2)
    print(f"ray start-up, warm-up: {time.perf_counter() - t0:7.2f} s (not counted below)")
    for workers in (1, 2):
        secs, frames = _clip_run(tmp / f"clip-ray{workers}", items, settings, "ray", workers)
        rate = frames / secs
        print(
            f"clip ingest ray {workers} wk: {rate:7.2f} frames/s ({frames} frames in {secs:.1f} s; "
            f"x{rate / base:.2f} vs embedded)"
        )
    room = [it for it in items if it.original_name.startswith("testRoom")]
    long = dataclasses.replace(settings, clip_max_s=3600.0, scene_cut=1.0, clip_chunk_frames=15)
    rates = {}
    for workers in (1, 2):
        secs, frames = _clip_run(tmp / f"clip-long{workers}", room, long, "ray", workers)
        rates[workers] = frames / secs
    print(
        f"one long clip on ray : {rates[1]:7.2f} frames/s with 1 worker, {rates[2]:.2f} with 2 "
        f"(x{rates[2] / rates[1]:.2f}; {frames} frames in one clip, chunks of 15 frames + 4 warm-up)"
    )
    ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
