"""A package that ships: the wheel carries the web viewer, and an installed wheel serves it.

The wheel is built from a copy of the checkout's files (what git tracks, plus new files
it does not ignore), the way CI's clean clone would build it, with the npm install of
``parallax/web/node_modules`` beside it (setup.py vendors from there). It is installed
into a fresh virtual environment outside the checkout with ``--no-deps --no-index``
(nothing is downloaded; torch cannot be pulled); the dependencies come from this test
run's environment through a ``.pth`` line, after the venv's own site-packages, so the
``parallax`` imported is the wheel's.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from parallax.web import NODE_MODULES, WEB_ROOT, vendor_files

ROOT = Path(__file__).resolve().parents[2]
_IMPORTS = re.compile(r"""(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"'\s]+)["']""")
_IMPORTMAP = re.compile(r'<script type="importmap">(.*?)</script>', re.S)


def _copy_checkout(dest: Path) -> None:
    """The files a clean clone has (git's tracked and unignored files), without the build outputs."""
    if (ROOT / ".git").exists() and shutil.which("git"):
        listed = subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout.decode()
        names = [n for n in listed.split("\0") if n]
    else:
        skip = {".git", ".venv", "node_modules", "build", "dist", "__pycache__", "vendor"}
        names = [
            str(p.relative_to(ROOT))
            for p in ROOT.rglob("*")
            if p.is_file() and not skip.intersection(p.relative_to(ROOT).parts)
        ]
    for name in names:
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    (dest / "parallax" / "web" / "node_modules").symlink_to(NODE_MODULES.resolve(), target_is_directory=True)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the checkout (no build isolation: the build tools are installed)."""
    if not NODE_MODULES.is_dir():
        pytest.fail("parallax/web/node_modules is missing; run scripts/setup.sh (npm ci)")
    root = tmp_path_factory.mktemp("wheel")
    _copy_checkout(root / "src")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(root / "dist"),
            str(root / "src"),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = (root / "dist").glob("parallax-*.whl")
    return built


def _import_closure() -> set[str]:
    """URL paths under /vendor/ that the pages load, following every import from the pages' scripts."""
    import json

    imports: dict[str, str] = {}
    todo: list[str] = []
    for page in ("index.html", "capture.html"):
        html = (WEB_ROOT / page).read_text(encoding="utf-8")
        for block in _IMPORTMAP.findall(html):
            imports.update(json.loads(block)["imports"])
        todo += re.findall(r'<script type="module" src="([^"]+)"', html)
    root = vendor_files()
    seen: set[str] = set()
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        if url.startswith("/src/"):
            text = (WEB_ROOT / url[1:]).read_text(encoding="utf-8")
        elif url.startswith("/vendor/") and url[len("/vendor/") :] in root:
            text = (NODE_MODULES / root[url[len("/vendor/") :]]).read_text(encoding="utf-8")
        else:
            raise AssertionError(f"{url} is loaded by the viewer but not served (add it to parallax/web/vendor.json)")
        for spec in _IMPORTS.findall(text):
            if spec.startswith(("./", "../")):
                resolved = os.path.normpath(os.path.join(os.path.dirname(url), spec))
            elif spec in imports:
                resolved = imports[spec]
            else:
                prefix = max((k for k in imports if k.endswith("/") and spec.startswith(k)), key=len, default=None)
                if prefix is None:
                    raise AssertionError(f"{url} imports {spec!r}, which the import map does not resolve")
                resolved = imports[prefix] + spec[len(prefix) :]
            todo.append(resolved)
    return {u[len("/vendor/") :] for u in seen if u.startswith("/vendor/")}


def test_vendor_list_is_exactly_what_the_pages_import():
    assert _import_closure() == set(vendor_files())


def test_wheel_carries_the_web_assets_and_nothing_of_node_modules(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        web = {n[len("parallax/web/") :] for n in names if n.startswith("parallax/web/")}
    expected = {"__init__.py", "index.html", "capture.html", "vendor.json"}
    expected |= {f"src/{p.name}" for p in (WEB_ROOT / "src").iterdir() if p.suffix in (".js", ".css")}
    expected |= {f"vendor/{path}" for path in vendor_files(licenses=True).values()}
    assert web == expected
    assert not any("node_modules" in n for n in names)
    assert wheel.stat().st_size < 4 * 1024 * 1024


@pytest.mark.slow
def test_installed_wheel_serves_the_viewer_outside_the_checkout(wheel, tmp_path):
    import httpx

    venv = tmp_path / "venv"
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    site = Path(
        subprocess.check_output(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
    )
    (site / "parallax_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    where = subprocess.check_output(
        [python, "-c", "import parallax.web; print(parallax.web.WEB_ROOT)"], cwd=tmp_path, env=env, text=True
    ).strip()
    assert Path(where).is_relative_to(venv), where  # the wheel's copy, not the checkout
    proc = subprocess.Popen(
        [venv / "bin" / "parallax", "serve", "--port", "0", "--data-dir", str(tmp_path / "data"), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    try:
        line = proc.stdout.readline()
        assert "http://" in line, (line, proc.poll())
        base = line[line.index("http://") :].split()[0].rstrip("/")
        with httpx.Client(base_url=base, timeout=30) as http:
            page = http.get("/")
            assert page.status_code == 200 and 'type="importmap"' in page.text
            scripts = re.findall(r'src="(/src/[^"]+)"', page.text) + [
                f"/src/{p.name}" for p in (WEB_ROOT / "src").iterdir()
            ]
            for url in sorted(set(scripts)) + [f"/vendor/{u}" for u in vendor_files()]:
                r = http.get(url)
                assert r.status_code == 200, url
                if url.endswith(".js"):
                    assert "javascript" in r.headers["content-type"], url
            assert http.get("/vendor/three/build/three.cjs").status_code == 404  # only what the viewer loads
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "Traceback" not in err, err
