"""``parallax serve`` and ``parallax view`` as a user runs them: start, serve, stop on a signal.

Each test starts the real command as a subprocess (its own process group, as a shell
job is), waits until it serves, signals it and checks within 5 s that no process it
started remains (its descendants, found by walking /proc before the signal) and that
nothing printed a traceback. SIGINT goes to the whole group, as Ctrl+C in a terminal
does; SIGTERM to the command only, as ``kill`` does.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from parallax.cli.serve_cmds import parse_duration_s
from parallax.errors import ParameterError


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` now (children, their children, ...)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in _children(todo.pop()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def running(pid: int) -> bool:
    """Whether ``pid`` is a process that has not ended (a zombie waiting to be reaped has ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _start(*args: str, cwd: Path) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "parallax", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    line = proc.stdout.readline()
    if "http://" not in line:
        proc.kill()
        raise AssertionError(f"no URL printed: {line!r} {proc.communicate(timeout=30)}")
    return proc, line.strip()


def _stop_and_check(proc: subprocess.Popen, sig: int, *, group: bool) -> str:
    started = descendants(proc.pid)
    assert len(started) >= 3, started  # the forkserver and the worker pools
    if group:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and (proc.poll() is None or any(running(p) for p in started)):
        time.sleep(0.1)
    left = {p for p in started if running(p)}
    try:
        assert proc.poll() is not None, "the command did not stop within 5 s"
        assert not left, f"processes left running 5 s after the signal: {left}"
    finally:
        for p in left:
            os.kill(p, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
    _, err = proc.communicate(timeout=30)
    assert "Traceback" not in err and "Error" not in err.replace("error:", ""), err
    assert proc.returncode == 0, (proc.returncode, err)
    return err


@pytest.mark.slow
@pytest.mark.parametrize("sig,group", [(signal.SIGTERM, False), (signal.SIGINT, True)], ids=["kill", "ctrl-c"])
def test_view_stops_cleanly(captures_dir, tmp_path, sig, group):
    import httpx

    proc, url = _start("view", str(captures_dir / "mpo" / "Panasonic-DMC-GX8.mpo"), "--no-browser", cwd=tmp_path)
    base, _, rest = url.partition("/c/")
    cid = rest.split("#", 1)[0]
    # It serves: the page, and the first depth arrives. The refinement is still running when the signal comes.
    with httpx.Client(base_url=base, timeout=60) as http:
        assert http.get(f"/c/{cid}").status_code == 200
        with http.stream("GET", f"/api/captures/{cid}/events") as r:
            for line in r.iter_lines():
                if line == "event: refining":
                    break
    _stop_and_check(proc, sig, group=group)


@pytest.mark.slow
def test_view_of_a_video_stops_cleanly_while_it_is_processed(data_dir, tmp_path):
    import httpx

    proc, url = _start("view", str(data_dir / "video" / "vr180_blender_lr.mp4"), "--no-browser", cwd=tmp_path)
    base, _, rest = url.partition("/c/")
    cid = rest.split("#", 1)[0]
    # Its first seconds play; the rest of the video is being processed when the signal comes.
    with httpx.Client(base_url=base, timeout=120) as http:
        with http.stream("GET", f"/api/captures/{cid}/events") as r:
            for line in r.iter_lines():
                assert line not in ("event: failed", "event: done"), line
                if line == "event: first-seconds":
                    break
        assert http.get(f"/api/captures/{cid}/files/clip/seg-000.mp4").status_code == 200
    _stop_and_check(proc, signal.SIGTERM, group=False)


@pytest.mark.slow
def test_serve_stops_cleanly_and_says_what_it_does(tmp_path):
    import httpx

    proc, line = _start("serve", "--port", "0", "--data-dir", str(tmp_path / "data"), cwd=tmp_path)
    base = re.search(r"http://\S+?/", line).group(0)
    assert httpx.get(base, timeout=30).status_code == 200
    err = _stop_and_check(proc, signal.SIGTERM, group=False)
    lines = err.strip().splitlines()
    assert "starting" in lines[0] and "expire after 7 days" in lines[0] and "quota 20 GB" in lines[0], lines
    assert "stopping" in lines[-2] and lines[-1].endswith("stopped"), lines


def test_serve_port_in_use_is_one_line(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "parallax", "serve", "--port", str(port), "--data-dir", str(tmp_path), "-q"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode != 0 and proc.stdout == ""
    assert proc.stderr.strip().startswith("error:") and f"port {port}" in proc.stderr and "in use" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "text,seconds", [("90s", 90), ("30m", 1800), ("24h", 86400), ("7d", 604800), ("2w", 1209600), ("1.5h", 5400)]
)
def test_expire_after_durations(text, seconds):
    assert parse_duration_s(text) == seconds
    assert parse_duration_s("never") is None


@pytest.mark.parametrize("text", ["", "7", "0d", "-1h", "1y", "soon"])
def test_expire_after_rejects_other_text(text):
    with pytest.raises(ParameterError, match=r"--expire-after .*90s, 30m, 24h, 7d"):
        parse_duration_s(text)
