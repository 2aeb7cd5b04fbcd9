"""``parallax view`` and ``parallax serve`` from the command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from parallax.cli.main import main
from parallax.errors import InputFileError, NotStereoError, ParameterError


def _cli(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "parallax.cli.main", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kwargs,
    )


def test_web_view_prints_url_and_serves_the_capture(captures_dir):
    import httpx

    proc = _cli("view", str(captures_dir / "mpo" / "sugarshack.mpo"), "--no-browser", "--no-refine")
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("http://127.0.0.1:"), (line, proc.stderr.read() if proc.poll() is not None else "")
        url, _, fragment = line.partition("#")
        assert fragment.startswith("owner=")
        capture_id = url.rsplit("/", 1)[1]
        base = url.split("/c/")[0]
        with httpx.Client(base_url=base, timeout=60) as http:
            page = http.get(f"/c/{capture_id}")
            assert page.status_code == 200 and "<canvas" in page.text
            events = []
            with http.stream("GET", f"/api/captures/{capture_id}/events") as r:
                for raw in r.iter_lines():
                    if raw.startswith("data: "):
                        events.append(json.loads(raw[6:])["event"])
                        if events[-1] in ("done", "failed"):
                            break
            assert events[-1] == "done" and "preview-ready" in events
            assert http.get(f"/api/captures/{capture_id}/files/preview/depth.f32").status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_web_view_missing_file_is_one_line_error(tmp_path, capsys):
    assert main(["view", str(tmp_path / "nope.mpo"), "--no-browser"]) == InputFileError.exit_code
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "nope.mpo" in err and "\n" not in err


def test_web_view_non_stereo_file_gives_the_reader_message(tmp_path):
    from PIL import Image

    path = tmp_path / "flat.jpg"
    Image.fromarray(np.random.default_rng(2).integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(path)
    proc = _cli("view", str(path), "--no-browser")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == NotStereoError.exit_code, (out, err)
    assert err.strip().startswith("error:") and "flat.jpg" in err and len(err.strip().splitlines()) == 1
    assert out == ""


def test_web_serve_needs_the_web_extra(monkeypatch, tmp_path):
    from parallax.errors import MissingDependencyError
    from parallax.server import ServerConfig, create_app

    monkeypatch.setitem(sys.modules, "fastapi", None)  # as if the extra were not installed
    with pytest.raises(MissingDependencyError, match=r"parallax\[web\]"):
        create_app(ServerConfig(data_dir=tmp_path))


def test_web_serve_rejects_a_bad_port(capsys):
    assert main(["serve", "--port", "70000"]) == ParameterError.exit_code
    assert "--port" in capsys.readouterr().err


def test_web_config_is_validated(tmp_path):
    from parallax.errors import ParameterError
    from parallax.server import ServerConfig

    with pytest.raises(ParameterError, match="max_upload_bytes"):
        ServerConfig(data_dir=tmp_path, max_upload_bytes=0)
    with pytest.raises(ParameterError, match="admin token"):
        ServerConfig(data_dir=tmp_path, admin_token="short")
