#!/usr/bin/env bash
# Every figure of issue #17 ("Ahead of the peers on a CPU") in one command, from the project root, on a quiet machine:
#   benchmarks/issue17.sh [VIDEO] [OUT]
# 1. peers side by side (speed, peak RSS): benchmarks/peers.py
# 2. the detector on every runtime x precision, and the choice: vehiclewatch bench --runtimes
# 3. cameras per box: vehiclewatch bench --cameras-per-box
# Each prints the machine's load average with its figures; tables, JSON and PNGs go to OUT (out/issue17).
# Environment: PEER_PYTHON (default /work/peer-venv/bin/python), MODELS (../shared/models), REPEAT (1),
# DETECT_FPS (5), RUNTIME_FRAMES (100), PEERS_ARGS (more arguments for peers.py, e.g.
# "--vehiclewatch-set detector.model=../shared/models/yolov8n_640_dynbatch_dequant_fp32.onnx"), CHOICE_DETECTOR.
set -euo pipefail
cd "$(dirname "$0")/.."
VIDEO=${1:-../shared/videos/anugoyal_traffic.mp4}
OUT=${2:-out/issue17}
MODELS=${MODELS:-../shared/models}
PY=.venv/bin/python
mkdir -p "$OUT"
echo "issue17: load average $(cut -d' ' -f1-3 /proc/loadavg) at start, $(nproc) CPUs" >&2

# shellcheck disable=SC2086
$PY benchmarks/peers.py --video "$VIDEO" --models "$MODELS" --out "$OUT/peers" --repeat "${REPEAT:-1}" \
    --peer-python "${PEER_PYTHON:-/work/peer-venv/bin/python}" ${PEERS_ARGS:-} | tee "$OUT/peers.md"

$PY -m streamer bench "$VIDEO" --models "$MODELS" --runtimes --frames "${RUNTIME_FRAMES:-100}" \
    --repeat "${REPEAT:-1}" --plot "$OUT/runtimes.png" --json-out "$OUT/runtimes.json" | tee "$OUT/runtimes.txt"

$PY -m streamer bench "$VIDEO" --models "$MODELS" --cameras-per-box --detect-fps "${DETECT_FPS:-5}" \
    --plot "$OUT/cameras_per_box.png" --json-out "$OUT/cameras_per_box.json" | tee "$OUT/cameras_per_box.txt"

# The same with the detector file --runtimes chose here (the fp32 weights, which OpenVINO runs in bf16).
CHOICE=${CHOICE_DETECTOR:-$MODELS/yolov8n_640_dynbatch_dequant_fp32.onnx}
if [ -f "$CHOICE" ]; then
    $PY -m streamer bench "$VIDEO" --models "$MODELS" --detector "$CHOICE" --cameras-per-box \
        --detect-fps "${DETECT_FPS:-5}" --plot "$OUT/cameras_per_box_choice.png" \
        --json-out "$OUT/cameras_per_box_choice.json" | tee "$OUT/cameras_per_box_choice.txt"
fi

echo "issue17: load average $(cut -d' ' -f1-3 /proc/loadavg) at end; figures in $OUT" >&2
