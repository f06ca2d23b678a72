"""Detector (and optionally make classifier) speed on each inference runtime, on the same frames, alone.

Every candidate detects the same frames one call at a time as the pipeline does (letterbox, inference and decoding;
batches of ``max_batch`` frames), in rounds in which the candidates take turns, so that a load change on a shared
machine hits them all alike; the figures are the median and the best round, with the load average printed beside
them. Nothing is asserted: the numbers are for reading, and only comparable within one run.

Usage: python benchmarks/runtimes.py [--video ../shared/videos/swdee_cars.mp4] [--frames 100] [--rounds 5]
       [--classifier]
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from classifiers.onnx_classifier import OnnxClassifier
from classifiers.settings import ClassifierModelSettings
from detectors.settings import DetectorSettings
from detectors.yolo import YoloDetector

SHARED = Path(os.environ.get("VEHICLEWATCH_SHARED", Path(__file__).resolve().parent.parent.parent / "shared"))
FP32 = "yolov8n_640_dynbatch_dequant_fp32.onnx"
INT8 = "yolov8n_int8_640.onnx"
MAKE = "spectrico_make_mobilenetv3_224.onnx"


@dataclass(frozen=True, slots=True)
class Candidate:
    """One model on one runtime, as the settings that open it."""

    label: str
    settings: dict[str, Any]


DETECTORS: tuple[Candidate, ...] = (
    Candidate("fp32 file, ONNX Runtime", {"model": FP32, "runtime": "onnxruntime"}),
    Candidate("fp32 file, OpenVINO fp32, 1 request", {"model": FP32, "runtime": "openvino", "precision": "fp32"}),
    Candidate("fp32 file, OpenVINO auto, 1 request", {"model": FP32, "runtime": "openvino"}),
    Candidate(
        "fp32 file, OpenVINO auto, batch 2 x 2 requests",
        {"model": FP32, "runtime": "openvino", "max_batch": 2, "infer_requests": 2},
    ),
    Candidate("int8 file, ONNX Runtime", {"model": INT8, "runtime": "onnxruntime"}),
    Candidate("int8 file, OpenVINO auto, 1 request", {"model": INT8, "runtime": "openvino"}),
)
CLASSIFIERS: tuple[Candidate, ...] = (
    Candidate("make, ONNX Runtime", {"model": MAKE, "runtime": "onnxruntime"}),
    Candidate("make, OpenVINO fp32, 1 request", {"model": MAKE, "runtime": "openvino", "infer_requests": 1}),
    Candidate("make, OpenVINO fp32, 2 requests", {"model": MAKE, "runtime": "openvino", "infer_requests": 2}),
    Candidate(
        "make, OpenVINO auto, 2 requests",
        {"model": MAKE, "runtime": "openvino", "precision": "auto", "infer_requests": 2},
    ),
)


def read_frames(video: Path, n: int) -> list[NDArray[np.uint8]]:
    capture = cv2.VideoCapture(str(video))
    frames: list[NDArray[np.uint8]] = []
    while len(frames) < n:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(np.asarray(frame, np.uint8))
    capture.release()
    if not frames:
        raise SystemExit(f"no frames in {video}")
    return frames


def stanford_crops(n: int) -> list[NDArray[np.uint8]]:
    root = SHARED / "datasets" / "stanford_cars_dev"
    with (root / "labels.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))[::37][:n]
    return [np.asarray(cv2.imread(str(root / row["path"])), np.uint8) for row in rows]


def open_detector_run(candidate: Candidate, frames: Sequence[NDArray[np.uint8]]) -> tuple[str, Callable[[], int]]:
    fields = {**candidate.settings, "model": SHARED / "models" / candidate.settings["model"], "providers": ("cpu",)}
    detector = YoloDetector.from_settings(DetectorSettings(**fields))
    batch = detector.max_batch

    def run() -> int:
        for start in range(0, len(frames), batch):
            detector.detect(frames[start : start + batch])
        return len(frames)

    return f"{detector.runtime_name} {detector.precision}", run


def open_classifier_run(candidate: Candidate, crops: Sequence[NDArray[np.uint8]]) -> tuple[str, Callable[[], int]]:
    fields = {**candidate.settings, "model": SHARED / "models" / candidate.settings["model"], "providers": ("cpu",)}
    classifier = OnnxClassifier(ClassifierModelSettings(**fields))

    def run() -> int:
        classifier.classify(crops)
        return len(crops)

    return f"{classifier.runtime_name} {classifier.precision}", run


def measure(
    candidates: Sequence[Candidate],
    opener: Callable[[Candidate, Sequence[NDArray[np.uint8]]], tuple[str, Callable[[], int]]],
    items: Sequence[NDArray[np.uint8]],
    rounds: int,
    unit: str,
) -> None:
    opened = [(candidate, *opener(candidate, items)) for candidate in candidates]
    for _, _, run in opened:
        run()  # warm every candidate once before timing
    rates: list[list[float]] = [[] for _ in opened]
    for round_ in range(rounds):
        order = list(range(len(opened)))
        order = order[round_ % len(order) :] + order[: round_ % len(order)]
        for i in order:
            started = time.perf_counter()
            count = opened[i][2]()
            rates[i].append(count / (time.perf_counter() - started))
    print(f"{'candidate':<48} {'runs on':<26} {unit + ' median':>16} {'best':>8}  rounds")
    for (candidate, runs_on, _), values in zip(opened, rates, strict=True):
        print(
            f"{candidate.label:<48} {runs_on:<26} {statistics.median(values):16.1f} {max(values):8.1f}  "
            + " ".join(f"{v:.1f}" for v in values)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, default=SHARED / "videos" / "swdee_cars.mp4")
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--classifier", action="store_true", help="also the make classifier on 64 Stanford crops")
    args = parser.parse_args()
    frames = read_frames(args.video, args.frames)
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())} at start, {os.cpu_count()} CPUs")
    print(f"detector alone on {len(frames)} frames of {args.video.name}:")
    measure(DETECTORS, open_detector_run, frames, args.rounds, "frames/s")
    if args.classifier:
        crops = stanford_crops(64)
        print(f"make classifier on {len(crops)} crops per call (max_batch 32):")
        measure(CLASSIFIERS, open_classifier_run, crops, args.rounds, "crops/s")
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())} at end")


if __name__ == "__main__":
    main()
