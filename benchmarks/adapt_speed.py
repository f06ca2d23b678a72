"""Seconds to adapt one camera on 200 labelled tracks (target: at most 180 s on a 2-core CPU).

Usage: python benchmarks/adapt_speed.py [--tracks 200] [--views 3] [--models ../shared/models]
       [--color-recognizer out/color/recognizer.yaml] [--out out/adapt_speed]

The 200 tracks are synthesised from the 70 real vehicles of ``../shared/datasets/traffic_crops_dev``: track k takes
vehicle k mod 70's views (cycling through them) with a camera-like augmentation per track (brightness, contrast,
a small shift of the cut, mirrored half of the time), and that vehicle's labels (make where legible, else can't
tell; colour; body type in the omz head's words). The whole ``adapt_camera`` is timed as ``vehiclewatch adapt run``
runs it: every crop through the real bank (make on the tight box, the colour recogniser, the omz type head) and
every candidate method measured leave-one-vehicle-out per field. Prints the seconds, split into scoring and fitting.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from adapt_clips import SHARED, labels_of, open_bank, read_dev
from numpy.typing import NDArray

from classifiers.adaptation.adapt import adapt_camera
from classifiers.adaptation.dataset import LabelledView, read_views, write_views
from classifiers.adaptation.store import AdaptationStore
from classifiers.types import HeadScores


def augment(image: NDArray[np.uint8], rng: np.random.Generator) -> NDArray[np.uint8]:
    """Another camera's look of the same vehicle: gain, contrast, a shifted cut, maybe mirrored."""
    h, w = image.shape[:2]
    dx, dy = (int(rng.integers(0, max(1, s // 12))) for s in (w, h))
    cut = image[dy : h - int(rng.integers(0, max(1, h // 12))), dx : w - int(rng.integers(0, max(1, w // 12)))]
    out = cut.astype(np.float32) * rng.uniform(0.8, 1.2) + rng.uniform(-15, 15)
    out = (out - out.mean()) * rng.uniform(0.85, 1.15) + out.mean()
    result: NDArray[np.uint8] = np.clip(out, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(result[:, ::-1]) if rng.random() < 0.5 else result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, default=200)
    parser.add_argument("--views", type=int, default=3)
    parser.add_argument("--models", type=Path, default=SHARED / "models")
    parser.add_argument("--color-recognizer", type=Path, default=Path("out/color/recognizer.yaml"))
    parser.add_argument("--out", type=Path, default=Path("out/adapt_speed"))
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    dev = read_dev()
    by_vehicle: dict[str, list[int]] = {}
    for i, v in enumerate(dev):
        by_vehicle.setdefault(v.vehicle, []).append(i)
    vehicles = sorted(by_vehicle)
    if args.out.exists():
        shutil.rmtree(args.out)
    rows: list[LabelledView] = []
    images: list[bytes | Path | None] = []
    for k in range(args.tracks):
        own = by_vehicle[vehicles[k % len(vehicles)]]
        for j in range(args.views):
            source = dev[own[(k // len(vehicles) + j) % len(own)]]
            ok, png = cv2.imencode(".png", augment(source.image, rng))
            assert ok
            rows.append(
                LabelledView(
                    path=Path("crops") / f"t{k:03d}_{j}.png",
                    camera_id="gate",
                    track=f"t{k:03d}",
                    time=1_765_000_000.0 + k,
                    labels=labels_of(source.row),
                    labelled_by="benchmark",
                    labelled_at="2026-12-06T00:00:00+00:00",
                )
            )
            images.append(png.tobytes())
    write_views(args.out / "labels", rows, images)
    views = read_views(args.out / "labels")
    bank = open_bank(args.models, args.color_recognizer)
    scoring = 0.0

    def timed(crops: Sequence[NDArray[np.uint8]]) -> list[dict[str, HeadScores]]:
        nonlocal scoring
        began = time.perf_counter()
        try:
            return bank.raw_scores(crops)
        finally:
            scoring += time.perf_counter() - began

    began = time.perf_counter()
    report = adapt_camera(views, timed, "gate", AdaptationStore(args.out / "store"), created_by="benchmark")
    total = time.perf_counter() - began
    print(report.summary())
    verdict = "met" if total <= 180 else "NOT met"
    print(
        f"adapt_camera on {args.tracks} tracks x {args.views} views ({len(views)} crops): {total:.1f} s "
        f"(scoring {scoring:.1f} s, fitting and measuring {total - scoring:.1f} s); target <= 180 s {verdict}; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
