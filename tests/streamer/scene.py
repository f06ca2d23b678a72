"""A deterministic synthetic scene for service tests: a video with a coloured "car", and models that see it.

The detector finds one car box at a fixed place of every frame; the classifier names the box's dominant colour.
Frames are 64x64, the detector's input size, so the box lands on the frame where it is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from tests.synthetic_classifier import make_color_classifier
from tests.synthetic_detector import make_fixed_box_detector

BOX = (8, 8, 56, 56)
BGR = {"red": (0, 0, 255), "green": (0, 255, 0), "blue": (255, 0, 0)}


@dataclass(frozen=True)
class Scene:
    video: Path
    detector: Path
    classifier: Path
    watchlist: Path

    def settings(self, redis_url: str, **sections: Any) -> dict[str, Any]:
        """Service settings (as YAML-like sections) for this scene, with the metrics server on a free port."""
        base: dict[str, Any] = {
            "cameras": [{"id": "cam1", "source": str(self.video)}],
            "detector": {"model": str(self.detector), "providers": ["cpu"], "min_box_size": 8},
            "classifiers": {"models": [{"model": str(self.classifier), "providers": ["cpu"]}], "min_crop_size": 16},
            "watchlist": {"path": str(self.watchlist), "cooldown_s": 60},
            "redis": {"url": redis_url},
            "metrics": {"host": "127.0.0.1", "port": 0},
        }
        base.update(sections)
        return base


def write_car_video(path: Path, frames: int, color: str = "red", fps: float = 25.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (64, 64))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path}")
    for i in range(frames):
        image = np.full((64, 64, 3), 90 + (i % 5), np.uint8)
        cv2.rectangle(image, BOX[:2], (BOX[2] - 1, BOX[3] - 1), BGR[color], thickness=-1)
        writer.write(image)
    writer.release()
    return path


def make_scene(directory: Path, frames: int = 20, color: str = "red") -> Scene:
    watchlist = directory / "watchlist.yaml"
    watchlist.write_text(
        yaml.safe_dump(
            {
                "entries": [
                    {"id": "red-car", "description": "a red car", "color": "red"},
                    {"id": "blue-car", "description": "a blue car", "color": "blue"},
                ]
            }
        )
    )
    return Scene(
        video=write_car_video(directory / "cars.avi", frames, color),
        detector=make_fixed_box_detector(directory / "det.onnx", BOX, "car", 0.9),
        classifier=make_color_classifier(directory / "color.onnx"),
        watchlist=watchlist,
    )
