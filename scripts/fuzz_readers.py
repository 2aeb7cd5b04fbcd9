#!/usr/bin/env python3
"""Seeded, bounded mutation fuzzing of every Parallax reader (stills and clips).

Each mutant of a seed file is opened with the reader Parallax would pick for it
(``read_capture`` for stills; ``read_clip`` and a few decoded frames for videos).
A mutant passes when it yields a ``Capture`` / frames or raises a
``ParallaxError``; anything else (another exception, a hang past the time limit,
memory past the limit) is a finding. Mutations: bit flips, truncation, size
fields inflated (JPEG segment lengths, ISO-BMFF box sizes, LIF field sizes, and
random 32-bit words), chunks duplicated, chunks deleted, tails corrupted.

The mutants run in a child process under an address-space limit; the parent
kills the child when one mutant runs past the time limit and reports it as a
hang, then carries on with the next mutant in a fresh child.

Usage::

    python scripts/fuzz_readers.py --seed 1 --count 400            # all seed files
    python scripts/fuzz_readers.py --seed 7 --count 50 --only heic  # one family
    python scripts/fuzz_readers.py --replay heic:vision-pro.HEIC:dup:506456969   # one finding, with its traceback

Exit status: 0 when there are no findings, 1 otherwise; ``--json`` prints a report.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"

#: Seed files by family: small real files first (decoding cost bounds the run time).
SEEDS: dict[str, list[str]] = {
    "mpo": ["captures/mpo/sugarshack.mpo", "captures/mpo/frozenpond.mpo"],
    "heic": ["captures/heic/vision-pro.HEIC", "captures/heic/spatial_photo.heic"],
    "heic-depth": ["captures/heic/pug.heic"],
    "lif": ["captures/lif/Cactus.jpg"],
    "jps": ["captures/sbs/02-super-mario.jps"],
    "vr": ["captures/vr/test.vr.jpg"],
    "mv-hevc": ["video/stereo_spatial.mp4"],
    "sbs-video": ["video/bidavideo-demo/sbs_2560x720_10fps.mp4"],
    "vr180": ["video/vr180_blender_lr.mp4"],
    "360-tb": ["video/testRoom1_1080Stereo.mp4"],
}
VIDEO_FAMILIES = {"mv-hevc", "sbs-video", "vr180", "360-tb"}
MUTATIONS = ("flip", "trunc", "inflate", "dup", "delete", "tail")


@dataclass(frozen=True)
class Mutant:
    family: str
    seed_file: str
    kind: str
    rng_seed: int

    @property
    def key(self) -> str:
        """``family:seed-file:kind:rng_seed``, e.g. ``heic:vision-pro.HEIC:dup:506456969`` (see :meth:`from_key`)."""
        return f"{self.family}:{Path(self.seed_file).name}:{self.kind}:{self.rng_seed}"

    @classmethod
    def from_key(cls, key: str) -> Mutant:
        """The mutant a :attr:`key` names (to replay a finding)."""
        family, name, kind, rng_seed = key.split(":")
        seed_file = next(f for f in SEEDS[family] if Path(f).name == name)
        return cls(family=family, seed_file=seed_file, kind=kind, rng_seed=int(rng_seed))

    def data(self) -> bytes:
        """The mutated bytes."""
        return mutate((DATA / self.seed_file).read_bytes(), self.kind, random.Random(self.rng_seed))


def _size_fields(data: bytes) -> list[tuple[int, int, str]]:
    """Offsets of length fields the formats use: (offset, width in bytes, byte order)."""
    fields: list[tuple[int, int, str]] = []
    n = len(data)
    # JPEG segments: FF xx LL LL (big-endian 16-bit length) for APPn/DQT/DHT/SOF/SOS/COM
    i = 0
    while len(fields) < 4000:
        i = data.find(b"\xff", i)
        if i < 0 or i + 4 > n:
            break
        marker = data[i + 1]
        if 0xC0 <= marker <= 0xFE and marker not in (0xD8, 0xD9) and not 0xD0 <= marker <= 0xD7:
            fields.append((i + 2, 2, ">"))
        i += 2
    # ISO-BMFF boxes: 32-bit big-endian size followed by a 4-letter type
    for j in range(min(n - 8, 4_000_000)):
        t = data[j + 4 : j + 8]
        if t.isalpha() and t.isascii():
            size = struct.unpack(">I", data[j : j + 4])[0]
            if 8 <= size <= n - j or size == 1:
                fields.append((j, 4, ">"))
    # LIF tail: [u32 size][0x1E 0x1A] and field headers inside the region
    if data.endswith(b"\x1e\x1a") and n >= 6:
        fields.append((n - 6, 4, ">"))
    return fields


def mutate(data: bytes, kind: str, rng: random.Random) -> bytes:
    """One seeded mutation of ``data``."""
    b = bytearray(data)
    n = len(b)
    if kind == "flip":
        for _ in range(rng.randint(1, 16)):
            # bias towards headers: half of the flips land in the first 64 KiB
            pos = rng.randrange(min(n, 65536)) if rng.random() < 0.5 else rng.randrange(n)
            b[pos] ^= 1 << rng.randrange(8)
        return bytes(b)
    if kind == "trunc":
        return bytes(b[: rng.randrange(1, n)])
    if kind == "inflate":
        fields = _size_fields(data)
        for _ in range(rng.randint(1, 3)):
            if fields and rng.random() < 0.85:
                off, width, order = rng.choice(fields)
            else:
                off, width, order = rng.randrange(max(1, n - 4)), 4, rng.choice("<>")
            big = rng.choice([0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 0x10000000, 0xFFFF, 0xFFFE, 0, 1, 7])
            fmt = {2: "H", 4: "I"}[width]
            value = big & ((1 << (8 * width)) - 1)
            b[off : off + width] = struct.pack(order + fmt, value)
        return bytes(b)
    if kind == "dup":
        start = rng.randrange(n)
        length = rng.randint(1, min(65536, n - start))
        at = rng.randrange(n)
        return bytes(b[:at] + b[start : start + length] + b[at:])
    if kind == "delete":
        start = rng.randrange(n)
        length = rng.randint(1, min(65536, n - start))
        return bytes(b[:start] + b[start + length :])
    if kind == "tail":
        length = rng.randint(1, min(4096, n))
        b[n - length :] = bytes(rng.randrange(256) for _ in range(length))
        return bytes(b)
    raise ValueError(f"unknown mutation {kind!r}")


def plan(seed: int, count: int, only: set[str] | None) -> list[Mutant]:
    """``count`` mutants spread over the seed files (and mutation kinds), fixed by ``seed``."""
    rng = random.Random(seed)
    files = [(fam, f) for fam, fs in SEEDS.items() for f in fs if (only is None or fam in only) and (DATA / f).exists()]
    if not files:
        return []
    return [
        Mutant(family=fam, seed_file=f, kind=MUTATIONS[i % len(MUTATIONS)], rng_seed=rng.randrange(2**31))
        for i, (fam, f) in ((i, files[i % len(files)]) for i in range(count))
    ]


def _open(path: Path, family: str) -> str:
    """Open ``path`` as Parallax would; return a short outcome."""
    from parallax.capture import read_capture
    from parallax.capture.clip_registry import is_clip_path, read_clip

    if family in VIDEO_FAMILIES or is_clip_path(path):
        clip = read_clip(path)
        frames = sum(1 for _ in clip.frames(max_frames=3))
        return f"clip {clip.format} {frames} frames"
    capture = read_capture(path)
    return f"capture {capture.format} {capture.width}x{capture.height}"


def _child(mutants: list[Mutant], memory_mb: int, workdir: Path) -> None:
    """Run ``mutants`` one by one; print one JSON line per mutant (flushed) on stdout."""
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import warnings

    warnings.simplefilter("ignore")  # decoder warnings are not findings; exceptions are
    from parallax.errors import ParallaxError

    for m in mutants:
        data = m.data()
        path = workdir / ("mutant" + Path(m.seed_file).suffix)
        path.write_bytes(data)
        start = time.monotonic()
        try:
            outcome, ok = _open(path, m.family), True
        except ParallaxError as exc:
            outcome, ok = f"{type(exc).__name__}: {exc}"[:300], True
        except BaseException as exc:  # the finding itself: any other exception, MemoryError included
            tb = traceback.extract_tb(exc.__traceback__)
            where = f"{tb[-1].filename}:{tb[-1].lineno}" if tb else "?"
            outcome, ok = f"{type(exc).__name__}: {exc} at {where}"[:400], False
        print(json.dumps({"key": m.key, "ok": ok, "outcome": outcome, "s": round(time.monotonic() - start, 3)}))
        sys.stdout.flush()


def run(mutants: list[Mutant], *, time_limit_s: float, memory_mb: int) -> list[dict]:
    """Run all mutants in child processes; return one record per mutant."""
    results: list[dict] = []
    todo = list(mutants)
    with tempfile.TemporaryDirectory(prefix="parallax-fuzz-") as tmp:
        while todo:
            batch_file = Path(tmp) / "batch.json"
            batch_file.write_text(json.dumps([asdict(m) for m in todo]))
            cmd = [
                sys.executable,
                __file__,
                "--child",
                str(batch_file),
                "--memory-mb",
                str(memory_mb),
                "--workdir",
                tmp,
            ]
            env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
            err_file = open(Path(tmp) / "stderr.txt", "w+b")  # a file, not a pipe: a chatty child never blocks
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err_file, env=env)
            assert proc.stdout is not None
            done = 0
            os.set_blocking(proc.stdout.fileno(), False)
            buf = ""
            deadline = time.monotonic() + time_limit_s + 20.0  # the first mutant pays the imports
            while True:
                chunk = proc.stdout.read()
                if chunk:
                    buf += chunk.decode()
                    *lines, buf = buf.split("\n")
                    for line in lines:
                        if line.strip():
                            results.append(json.loads(line))
                            done += 1
                            deadline = time.monotonic() + time_limit_s
                if proc.poll() is not None:
                    rest = (proc.stdout.read() or b"").decode()
                    for line in (buf + rest).split("\n"):
                        if line.strip():
                            results.append(json.loads(line))
                            done += 1
                    break
                if time.monotonic() > deadline:
                    proc.kill()
                    proc.wait()
                    results.append({"key": todo[done].key, "ok": False, "outcome": f"hang: over {time_limit_s:g} s"})
                    done += 1
                    break
                time.sleep(0.01)
            if done < len(todo) and proc.returncode not in (0, -9):
                err_file.seek(0)
                err = err_file.read().decode(errors="replace")[-400:]
                results.append(
                    {"key": todo[done].key, "ok": False, "outcome": f"child died ({proc.returncode}): {err}"}
                )
                done += 1
            err_file.close()
            todo = todo[done:]
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--count", type=int, default=400)
    ap.add_argument("--only", default=None, help="comma-separated families: " + ",".join(SEEDS))
    ap.add_argument("--time-limit", type=float, default=20.0, help="seconds one mutant may take")
    ap.add_argument("--memory-mb", type=int, default=6144, help="address-space limit of the fuzzing process")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--replay", default=None, help="run one mutant in this process, by its key, and show the traceback")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        _child([Mutant(**m) for m in json.loads(args.child.read_text())], args.memory_mb, args.workdir)
        return 0
    if args.replay:
        mutant = Mutant.from_key(args.replay)
        with tempfile.TemporaryDirectory(prefix="parallax-fuzz-") as tmp:
            path = Path(tmp) / ("mutant" + Path(mutant.seed_file).suffix)
            path.write_bytes(mutant.data())
            print(_open(path, mutant.family))  # a finding raises here, with its traceback
        return 0
    only = set(args.only.split(",")) if args.only else None
    mutants = plan(args.seed, args.count, only)
    start = time.monotonic()
    results = run(mutants, time_limit_s=args.time_limit, memory_mb=args.memory_mb)
    findings = [r for r in results if not r["ok"]]
    report = {
        "seed": args.seed,
        "mutants": len(results),
        "findings": findings,
        "seconds": round(time.monotonic() - start, 1),
        "slowest": sorted(results, key=lambda r: -r.get("s", 0))[:5],
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{len(results)} mutants in {report['seconds']} s, {len(findings)} findings")
        for f in findings:
            print(f"  {f['key']}: {f['outcome']}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
