"""The naive loop a user would write first: per frame, detect, then classify every vehicle crop.

One frame at a time: read → letterbox → YOLOv8n fp32 on ONNX Runtime (``yolov8n_640_dynbatch_dequant_fp32.onnx``)
→ decode → class-aware NMS (cars, motorcycles, buses, trucks; confidence 0.35, IoU 0.45 as vehiclewatch's defaults)
→ every crop through the make and the colour classifier (one ``session.run`` per model per frame). No tracking, no
threads, no batching across frames. Timed from the second frame (the first warms the sessions up). Prints one
JSON line: frames/s, crops classified, peak RSS, load average.

Usage:
    .venv/bin/python benchmarks/peer_naive.py --video CLIP [--frames 0] [--json-out out/peers/naive.json]

Standalone (numpy, OpenCV, ONNX Runtime; nothing of the project), so it runs in any environment that has them.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from peer_common import (
    CropClassifier,
    Image,
    Progress,
    crop,
    decode_yolov8,
    emit,
    letterbox,
    load_average,
    read_frames,
    result,
    session,
)

SHARED = Path(os.environ.get("VEHICLEWATCH_SHARED", Path(__file__).resolve().parent.parent.parent / "shared"))
MODELS = SHARED / "models"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, default=SHARED / "videos" / "anugoyal_traffic.mp4")
    parser.add_argument("--frames", type=int, default=0, help="Most frames to read (0: all).")
    parser.add_argument("--detector", type=Path, default=MODELS / "yolov8n_640_dynbatch_dequant_fp32.onnx")
    parser.add_argument(
        "--classifiers",
        type=Path,
        nargs="+",
        default=[MODELS / "spectrico_make_mobilenetv3_224.onnx", MODELS / "spectrico_color_mobilenetv3_224.onnx"],
    )
    parser.add_argument("--confidence", type=float, default=0.35)
    parser.add_argument("--iou", type=float, default=0.45)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    loadavg = load_average()
    detector = session(args.detector)
    input_name = detector.get_inputs()[0].name
    size = int(detector.get_inputs()[0].shape[2])
    classifiers = [CropClassifier(path) for path in args.classifiers]

    frames = crops = 0
    progress = Progress("peer_naive", args.frames)
    opened = started = time.perf_counter()
    for index, frame in enumerate(read_frames(args.video, args.frames)):
        if index == 1:  # the first frame warmed the sessions up: time from here, as vehiclewatch does
            started, frames, crops = time.perf_counter(), 0, 0
        boxed = letterbox(frame, size)
        output = np.asarray(detector.run(None, {input_name: boxed.tensor})[0], np.float32)
        boxes = decode_yolov8(output, boxed, confidence=args.confidence, iou=args.iou)
        images: list[Image] = [c for box in boxes.xyxy if (c := crop(frame, box.tolist())) is not None]
        for classifier in classifiers:
            classifier.classify(images)
        crops += len(images)
        frames += 1
        progress.update(frames)
    seconds = time.perf_counter() - started
    emit(
        result(
            "naive loop (ORT fp32, every crop)",
            frames,
            seconds,
            loadavg,
            warmup_s=round(started - opened, 3),
            detector=args.detector.name,
            runtime="onnxruntime",
            classifiers=[p.name for p in args.classifiers],
            crops_classified=crops,
        ),
        args.json_out,
    )


if __name__ == "__main__":
    main()
