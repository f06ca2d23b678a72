"""Milliseconds per crop of the real crop classifiers at several batch sizes (preprocessing + session.run).

Usage: python benchmarks/classifier_batch.py [--runtime auto|onnxruntime|openvino] [--precision fp32]
       [--providers cpu] [--batches 1 8 32] [--repeats 5]
Crops are real Stanford Cars images (../shared), resized by the classifier as in production.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from classifiers.onnx_classifier import OnnxClassifier
from classifiers.settings import ClassifierModelSettings

SHARED = Path(os.environ.get("VEHICLEWATCH_SHARED", Path(__file__).resolve().parent.parent.parent / "shared"))
MODELS = ("spectrico_make_mobilenetv3_224.onnx", "spectrico_color_mobilenetv3_224.onnx")


def load_crops(n: int) -> list[NDArray[np.uint8]]:
    root = SHARED / "datasets" / "stanford_cars_dev"
    with (root / "labels.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))[::97][:n]
    return [np.asarray(cv2.imread(str(root / row["path"])), np.uint8) for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--providers", nargs="+", default=["cpu"])
    parser.add_argument("--runtime", choices=("auto", "onnxruntime", "openvino"), default="auto")
    parser.add_argument("--precision", default="fp32", help="OpenVINO only: fp32, bf16, fp16 or auto.")
    parser.add_argument("--requests", type=int, default=2, help="OpenVINO only: parallel infer requests.")
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8, 32])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    args = parser.parse_args()
    crops = load_crops(max(args.batches))
    for name in args.models:
        for batch in args.batches:
            clf = OnnxClassifier(
                ClassifierModelSettings(
                    model=SHARED / "models" / name,
                    providers=tuple(args.providers),
                    max_batch=batch,
                    runtime=args.runtime,
                    precision=args.precision,
                    infer_requests=args.requests,
                )
            )
            clf.classify(crops[:batch])  # warm this batch shape
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                clf.classify(crops[:batch])
                times.append((time.perf_counter() - start) * 1000 / batch)
            print(
                f"{name:42s} {clf.runtime_name + ' ' + clf.device + ' ' + clf.precision:24s} batch {batch:3d}: "
                f"{statistics.median(times):6.2f} ms/crop (min {min(times):.2f})"
            )


if __name__ == "__main__":
    main()
