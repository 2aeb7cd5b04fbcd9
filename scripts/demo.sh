#!/usr/bin/env bash
# Set up (if needed) and run the main job on a sample capture: read it, estimate
# disparity and depth, write maps and a point cloud to ./out/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
DATA=${PARALLAX_DATA:-../shared/data}
IN="$DATA/captures/mpo/Panasonic-DMC-GX8.mpo"
mkdir -p out/demo
parallax info "$IN"
parallax rectify "$IN" -o out/demo/rectified
parallax disparity "$IN" -o out/demo/disparity.pfm
parallax depth "$IN" -o out/demo/depth.png
parallax convert "$IN" -o out/demo/cloud.ply
ls -l out/demo
