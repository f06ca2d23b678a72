"""What the peer loops (``benchmarks/peer_*.py``) share: reading frames, a crop classifier run as a user would run
it, YOLO letterbox / decode / NMS written the usual way, progress lines and the figures every result carries.

It imports only numpy, OpenCV and ONNX Runtime (never the project), so the peer scripts run in their own virtual
environment (Ultralytics and torch live in ``/work/peer-venv``, never in the project's) as well as in the project's.
"""

from __future__ import annotations

import ast
import json
import os
import platform
import resource
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

VEHICLE_CLASS_IDS = (2, 3, 5, 7)
"""COCO car, motorcycle, bus, truck."""

Image = NDArray[np.uint8]


def load_average() -> tuple[float, float, float]:
    """The machine's 1, 5 and 15 minute load averages (printed with every figure: the machine is shared)."""
    one, five, fifteen = os.getloadavg()
    return round(one, 2), round(five, 2), round(fifteen, 2)


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def read_frames(video: Path, limit: int) -> Iterator[Image]:
    """The first ``limit`` frames of ``video`` (all of them when ``limit`` is 0), decoded one at a time as a camera
    loop would read them (never all held in memory, which would dominate the peak RSS)."""
    capture = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG)
    if not capture.isOpened():
        raise SystemExit(f"cannot open video {video}")
    count = 0
    try:
        while limit <= 0 or count < limit:
            ok, frame = capture.read()
            if not ok:
                break
            count += 1
            yield np.asarray(frame, np.uint8)
    finally:
        capture.release()


class Progress:
    """A line on stderr every ``every_s`` seconds: frames done, of how many, frames/s so far."""

    def __init__(self, name: str, total: int, every_s: float = 5.0) -> None:
        self.name = name
        self.total = total
        self.every_s = every_s
        self.started = time.perf_counter()
        self._last = self.started

    def update(self, done: int) -> None:
        now = time.perf_counter()
        if now - self._last >= self.every_s:
            self._last = now
            of = f"/{self.total}" if self.total > 0 else ""
            rate = done / (now - self.started)
            print(f"{self.name}: {done}{of} frames, {rate:.1f} frames/s", file=sys.stderr, flush=True)


def session(path: Path) -> ort.InferenceSession:
    """An ONNX Runtime CPU session with the library's defaults, as a user would open one."""
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def model_metadata(path: Path) -> dict[str, str]:
    """An ONNX file's ``metadata_props``."""
    return dict(session(path).get_modelmeta().custom_metadata_map)


class CropClassifier:
    """An image classifier ONNX file preprocessed per its own metadata (``input_size``, ``mean``, ``scale`` or
    ``std``, ``color_order``; stretch resize), the first labelled output's top-1 label per crop."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.session = session(path)
        meta = dict(self.session.get_modelmeta().custom_metadata_map)
        height, width = (int(v) for v in meta.get("input_size", "224x224").split("x"))
        self.size = (width, height)
        self.mean = np.array([float(v) for v in meta.get("mean", "0,0,0").split(",")], np.float32)
        if "std" in meta:
            self.scale = 1.0 / np.array([float(v) for v in meta["std"].split(",")], np.float32)
        else:
            self.scale = np.full(3, float(meta.get("scale", "1.0")), np.float32)
        self.rgb = meta.get("color_order", "RGB").upper() == "RGB"
        self.labels: list[str] = list(json.loads(meta["labels"]))
        self.input_name = self.session.get_inputs()[0].name
        self.output_name = self.session.get_outputs()[0].name

    def preprocess(self, crop: Image) -> NDArray[np.float32]:
        resized = cv2.resize(crop, self.size, interpolation=cv2.INTER_LINEAR)
        if self.rgb:
            resized = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)
        x = (resized.astype(np.float32) - self.mean) * self.scale
        return np.ascontiguousarray(x.transpose(2, 0, 1))

    def classify(self, crops: Sequence[Image]) -> list[str]:
        """Top-1 label of each crop: one ``session.run`` for all of them."""
        if not crops:
            return []
        batch = np.stack([self.preprocess(crop) for crop in crops])
        scores = np.asarray(self.session.run([self.output_name], {self.input_name: batch})[0])
        return [self.labels[int(i)] for i in scores.argmax(axis=1)]


def crop(frame: Image, box: Sequence[float]) -> Image | None:
    """The ``x1, y1, x2, y2`` box of ``frame`` (clipped), or None when nothing is left."""
    height, width = frame.shape[:2]
    x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
    x2, y2 = min(width, round(box[2])), min(height, round(box[3]))
    if x2 - x1 < 2 or y2 - y1 < 2:
        return None
    return frame[y1:y2, x1:x2]


@dataclass(frozen=True, slots=True)
class Letterboxed:
    tensor: NDArray[np.float32]
    ratio: float
    pad: tuple[float, float]


def letterbox(frame: Image, size: int = 640) -> Letterboxed:
    """Ultralytics-style letterbox (centred, grey 114) to a ``[1, 3, size, size]`` RGB 0..1 tensor."""
    height, width = frame.shape[:2]
    ratio = min(size / height, size / width)
    new_w, new_h = round(width * ratio), round(height * ratio)
    pad_x, pad_y = (size - new_w) / 2, (size - new_h) / 2
    resized = cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    top, left = round(pad_y - 0.1), round(pad_x - 0.1)
    canvas = cv2.copyMakeBorder(
        resized, top, size - new_h - top, left, size - new_w - left, cv2.BORDER_CONSTANT, value=(114, 114, 114)
    )
    rgb = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)
    tensor = np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], np.float32) / np.float32(255.0)
    return Letterboxed(tensor, ratio, (float(left), float(top)))


@dataclass(frozen=True, slots=True)
class Boxes:
    xyxy: NDArray[np.float32] = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    scores: NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, np.float32))
    class_ids: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))


def decode_yolov8(
    output: NDArray[np.float32],
    boxed: Letterboxed,
    classes: Sequence[int] = VEHICLE_CLASS_IDS,
    confidence: float = 0.35,
    iou: float = 0.45,
) -> Boxes:
    """``[1, 4 + C, N]`` YOLOv8 output → the kept classes' boxes in frame pixels after class-aware NMS."""
    rows = output[0]
    wanted = np.asarray(classes)
    scores_all = rows[4 + wanted]
    best = scores_all.argmax(axis=0)
    scores = scores_all[best, np.arange(rows.shape[1])]
    keep = scores >= confidence
    if not keep.any():
        return Boxes()
    cx, cy, w, h = rows[:4, keep]
    xywh = np.stack([cx - w / 2, cy - h / 2, w, h], axis=1)
    kept_scores = scores[keep]
    kept_classes = wanted[best[keep]]
    indices = cv2.dnn.NMSBoxesBatched(xywh.tolist(), kept_scores.tolist(), kept_classes.tolist(), confidence, iou)
    index = np.asarray(indices, np.int64).reshape(-1)
    xyxy = xywh[index].copy()
    xyxy[:, 2:] += xyxy[:, :2]
    xyxy[:, [0, 2]] -= boxed.pad[0]
    xyxy[:, [1, 3]] -= boxed.pad[1]
    xyxy /= boxed.ratio
    return Boxes(xyxy.astype(np.float32), kept_scores[index].astype(np.float32), kept_classes[index].astype(np.int64))


def parse_names(raw: str) -> dict[int, str]:
    """Ultralytics' ``names`` metadata (a Python dict literal) as ``{id: name}``."""
    value = ast.literal_eval(raw)
    if isinstance(value, dict):
        return {int(k): str(v) for k, v in value.items()}
    return dict(enumerate(str(v) for v in value))


def result(
    name: str, frames: int, seconds: float, loadavg_start: tuple[float, float, float], **extra: Any
) -> dict[str, Any]:
    """The figures every peer reports (one JSON object)."""
    return {
        "name": name,
        "frames": frames,
        "seconds": round(seconds, 3),
        "fps": round(frames / seconds, 3) if seconds > 0 else 0.0,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "loadavg_start": list(loadavg_start),
        "loadavg_end": list(load_average()),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        **extra,
    }


def emit(figures: dict[str, Any], json_out: Path | None) -> None:
    """Prints the figures as one line and writes them to ``json_out`` when given."""
    text = json.dumps(figures)
    print(text, flush=True)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(figures, indent=2) + "\n")
