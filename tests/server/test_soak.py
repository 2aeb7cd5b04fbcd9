"""Soak: many concurrent uploads against ``parallax serve`` as users run it; no 5xx, no leaks, bounded memory.

The real command runs as a subprocess with its own temporary folder (``TMPDIR``), so
every temporary file it makes is seen. Three rounds, each of 24 concurrent uploads of
generated stereo pairs (two of them over 1 MB a file, which the server spools to a
temporary file) plus 4 of files that are not stereo; every good upload is
followed to the end of its processing, its viewer file fetched, and every other one
deleted by its owner (the rest downloaded as side-by-side). After each round: the server's memory (resident set of the
server process and its workers), its open file descriptors, the temporary folder and
the store are measured.

Bounds (stated here, checked below): no answer is a 5xx; after each round the
temporary folder holds nothing but multiprocessing's own socket folder (and is
empty once the server stopped), the store holds only the captures not deleted, with no
temporary or partial file; open descriptors do not grow from round 2 to round 3 by
more than 8; the resident memory after round 3 is at most 10% + 64 MB above round 2's
(the first round pays for imports, JIT and caches).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROUNDS = 3
GOOD = 24
BAD = 4


def _tree(pid: int) -> set[int]:
    found, todo = {pid}, [pid]
    while todo:
        parent = todo.pop()
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == parent and int(entry) not in found:
                    found.add(int(entry))
                    todo.append(int(entry))
    return found


def _rss_mb(pids: set[int]) -> float:
    total_kb = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            pass
    return total_kb / 1024


def _one_upload(base: str, seed: int, left: bytes, right: bytes) -> dict:
    import httpx

    statuses = []
    with httpx.Client(base_url=base, timeout=300) as http:
        files = {
            "file": (f"soak{seed}-left.png", left, "image/png"),
            "right": (f"soak{seed}-right.png", right, "image/png"),
        }
        r = http.post("/api/captures", files=files)
        statuses.append(r.status_code)
        if r.status_code != 201:
            return {"statuses": statuses, "detail": r.text}
        cid, token = r.json()["id"], r.json()["owner_token"]
        last = None
        with http.stream("GET", f"/api/captures/{cid}/events") as events:
            statuses.append(events.status_code)
            for line in events.iter_lines():
                if line.startswith("data: "):
                    last = json.loads(line[6:])["event"]
                    if last in ("done", "failed", "deleted"):
                        break
        statuses.append(http.get(f"/api/captures/{cid}/files/preview/left.jpg").status_code)
        deleted = seed % 2 == 0
        if deleted:
            statuses.append(http.delete(f"/api/captures/{cid}", headers={"x-owner-token": token}).status_code)
        else:
            statuses.append(http.get(f"/api/captures/{cid}/download/sbs").status_code)
        return {"statuses": statuses, "id": cid, "last": last, "deleted": deleted}


def _bad_upload(base: str, seed: int) -> dict:
    import httpx

    with httpx.Client(base_url=base, timeout=300) as http:
        body = f"not a photo {seed}\n".encode() * 200
        r = http.post("/api/captures", files={"file": (f"notes{seed}.txt", body, "text/plain")})
        return {"statuses": [r.status_code]}


@pytest.mark.slow
def test_soak_concurrent_uploads(tmp_path, stereo_pair):
    data, tmp = tmp_path / "data", tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONUNBUFFERED": "1"}
    args = ["serve", "--port", "0", "--data-dir", str(data), "--expire-after", "never", "--max-store-gb", "0"]
    args += ["--uploads-per-minute", "100000", "--actions-per-minute", "100000", "--no-refine", "--quiet"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "parallax", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
        start_new_session=True,
    )
    try:
        line = proc.stdout.readline()
        assert "http://" in line, (line, proc.poll())
        base = line[line.index("http://") :].split()[0].rstrip("/")
        # Most pairs are small; two a round are large enough (over 1 MB a file) to be spooled to disk.
        pairs = {
            seed: stereo_pair(seed, *((896, 672) if seed % GOOD < 2 else (256, 192))) for seed in range(ROUNDS * GOOD)
        }
        assert len(pairs[0][0]) > 1024 * 1024
        kept: set[str] = set()
        measured = []
        with ThreadPoolExecutor(GOOD + BAD) as pool:
            for round_ in range(ROUNDS):
                seeds = range(round_ * GOOD, (round_ + 1) * GOOD)
                good = [pool.submit(_one_upload, base, s, *pairs[s]) for s in seeds]
                bad = [pool.submit(_bad_upload, base, round_ * BAD + k) for k in range(BAD)]
                results = [f.result() for f in good]
                for outcome in results:
                    assert all(s < 500 for s in outcome["statuses"]), outcome
                    assert outcome["statuses"][:3] == [201, 200, 200] and outcome["last"] == "done", outcome
                    assert outcome["statuses"][3] == (204 if outcome["deleted"] else 200), outcome
                    if not outcome["deleted"]:
                        kept.add(outcome["id"])
                for outcome in (f.result() for f in bad):
                    assert outcome["statuses"] == [415], outcome
                pids = _tree(proc.pid)
                store = data / "captures"
                leftovers = [p for p in store.rglob(".*")]
                assert {p.name for p in store.iterdir()} == kept, "the store holds other captures than those kept"
                assert leftovers == [], f"temporary files left in the store: {leftovers[:5]}"
                # Only multiprocessing's own folder (the forkserver's socket, removed at exit) may be there.
                temporary = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*"))
                assert all(t.startswith("pymp-") for t in temporary) and len(temporary) <= 2, temporary
                measured.append(
                    {"rss_mb": _rss_mb(pids), "fds": len(os.listdir(f"/proc/{proc.pid}/fd")), "processes": len(pids)}
                )
        print("soak:", measured)  # shown with -s: the numbers behind the bounds
        r2, r3 = measured[1], measured[2]
        assert r3["fds"] <= r2["fds"] + 8, measured
        assert r3["rss_mb"] <= r2["rss_mb"] * 1.10 + 64, measured
        assert r3["processes"] == r2["processes"], measured  # no worker piling up
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdout.close()
        err = proc.stderr.read()
        proc.stderr.close()
    assert "Traceback" not in err, err
    assert list(tmp.iterdir()) == [], f"temporary files left after the server stopped: {list(tmp.iterdir())}"
