#!/usr/bin/env bash
# Set up Parallax on a fresh machine: system packages, a virtual environment in .venv,
# the package with its test extras. Safe to run again (it only adds what is missing).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
# Debian packages: libusb for Open3D, chromium + fonts for the browser tests, libllvm19 for
# Mitsuba's llvm variant; Node.js and npm only where the machine has no npm yet.
APT_PACKAGES=(libusb-1.0-0 chromium fonts-dejavu-core libllvm19)
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(nodejs npm)

if [ ${#APT_PACKAGES[@]} -gt 0 ]; then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip >/dev/null
# Build tools the tests use to build the wheel without network (pip wheel --no-build-isolation).
python -m pip install -q "setuptools>=77" >/dev/null
# The CPU build of torch first, pinned, so nothing later pulls a CUDA build.
python -m pip install -q "torch==2.13.0"
# [dev] includes [test], which pins ruff and mypy for scripts/check.sh (a new release must not change the verdict).
python -m pip install -q -e ".[dev]"
# The corpus face detector's weights ship in mtcnn-runtime; --no-deps because it declares opencv-python
# (non-headless), which would clash with opencv-python-headless. Its runtime needs (onnxruntime) come from [corpus].
python -m pip install -q --no-deps "mtcnn-runtime>=1.0"

# The web viewer's front end (three.js, Spark) from npm with its lockfile into parallax/web/node_modules;
# `parallax serve` serves it from there through an import map (no CDN, works offline), and building a
# wheel copies the files the viewer loads (parallax/web/vendor.json) into the package (setup.py).
(cd parallax/web && npm ci --no-audit --no-fund --loglevel=error)
