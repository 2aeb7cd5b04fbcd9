#!/usr/bin/env bash
# Set up (if needed) and run the main job on a sample capture and a sample stereo video: read them, estimate
# disparity and depth, write maps, a point cloud, a depth preview and a mesh, a depth video and a frames folder
# with camera poses (transforms.json) to ./out/demo.
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
VIDEO="$DATA/video/bidavideo-demo/sbs_2560x720_10fps.mp4"
parallax info "$VIDEO"
parallax convert "$VIDEO" -o out/demo/street.depth.mp4 --option layout=rgbd
parallax convert "$VIDEO" -o out/demo/street-frames/ --format frames
ls -l out/demo
