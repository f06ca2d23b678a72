"""Synthetic traffic for the recognise-flow tests: textured cars crossing a frame, a classifier bank that counts
its calls, and a sink that keeps what it gets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from classifiers.bank import CameraKeys, ClassifierBank, CropResults, TrackKeys
from detectors.types import Detections
from watchlists.alerts import Alert
from watchlists.entries import WatchlistEntry
from watchlists.track_events import TrackSummary

H, W = 240, 640

CAR_BGR = {"red": (30, 30, 200), "blue": (200, 40, 30), "green": (40, 190, 40)}

ENTRIES = [WatchlistEntry(id="red-car", color="red"), WatchlistEntry(id="blue-car", color="blue")]


@dataclass(frozen=True)
class Car:
    """A textured car crossing the frame: from ``start`` on, ``speed`` px per frame, ``width`` px wide."""

    color: str
    start: int
    y: float
    speed: float = 8.0
    width: float = 80.0
    x0: float = 20.0
    frames: int = 40

    def box(self, frame: int) -> NDArray[np.float32] | None:
        if not self.start <= frame < self.start + self.frames:
            return None
        x = self.x0 + self.speed * (frame - self.start)
        return np.array([x, self.y, x + self.width, self.y + self.width * 0.6], np.float32)


def render(cars: Sequence[Car], frame: int, rng: np.random.Generator) -> tuple[NDArray[np.uint8], Detections]:
    """The cars on screen at ``frame`` over a noisy background, and their boxes."""
    placed = [(car.color, box) for car in cars if (box := car.box(frame)) is not None]
    return render_boxes(placed, rng)


def render_boxes(
    placed: Sequence[tuple[str, NDArray[np.float32]]], rng: np.random.Generator
) -> tuple[NDArray[np.uint8], Detections]:
    image = rng.integers(60, 120, (H, W, 3), dtype=np.uint8)
    for color, box in placed:
        x1, y1, x2, y2 = (int(v) for v in box)
        patch = np.empty((y2 - y1, x2 - x1, 3), np.int16)
        patch[:] = CAR_BGR[color]
        # Texture keeps the crop sharp for the quality gate; the colour still dominates for the classifier.
        patch += rng.integers(-25, 26, patch.shape, dtype=np.int16)
        image[y1:y2, x1:x2] = np.clip(patch, 0, 255).astype(np.uint8)
    n = len(placed)
    detections = Detections(
        boxes=np.array([box for _, box in placed], np.float32).reshape(n, 4),
        scores=np.full(n, 0.9, np.float32),
        class_ids=np.full(n, 2, np.int32),
        class_names=("car",) * n,
    )
    return image, detections


class CountingClassifier:
    """The real classifier bank, counting its batched calls."""

    def __init__(self, bank: ClassifierBank) -> None:
        self.bank = bank
        self.calls = 0
        self.fail_next = False
        self.cameras: CameraKeys | None = None
        self.tracks: TrackKeys | None = None

    def __len__(self) -> int:
        return len(self.bank)

    def classify_boxes(
        self,
        items: Sequence[tuple[NDArray[np.uint8], Detections]],
        *,
        cameras: CameraKeys | None = None,
        tracks: TrackKeys | None = None,
    ) -> CropResults:
        self.calls += 1
        self.cameras = cameras
        self.tracks = tracks
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("classifier failed")
        return self.bank.classify_boxes(items, cameras=cameras, tracks=tracks)


class Recorder:
    """Alert sink and track event sink that keeps what it gets."""

    def __init__(self) -> None:
        self.alerts: list[tuple[Alert, NDArray[np.uint8] | None]] = []
        self.events: list[tuple[TrackSummary, NDArray[np.uint8] | None]] = []

    def submit(self, item: Any, crop_bgr: NDArray[np.uint8] | None = None, timeout: float | None = None) -> bool:
        (self.alerts if isinstance(item, Alert) else self.events).append((item, crop_bgr))
        return True
