#!/usr/bin/env bash
# Set up (if needed) and run the main job on a sample capture: read it, estimate
# disparity and depth, write maps, a point cloud, a depth preview and a mesh to ./out/demo.
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
parallax convert "$IN" -o out/demo/preview.png --format preview --max-size 1024
parallax convert "$IN" -o out/demo/scene.glb --max-size 1024
ls -l out/demo
