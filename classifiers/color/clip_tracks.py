"""Every frame of a clip through the detector, and its boxes linked into tracks, as ``traffic_crops_dev`` did it.

Used to propose camera crops for labelling (``classifiers.color.propose_crops``) and to tell which crops show the
same vehicle. The method is the data set README's:

- detector ``yolov8n_int8_640.onnx``, COCO car, motorcycle, bus and truck, score above 0.25 on every frame,
  class-agnostic NMS at 0.45 (``cv2.dnn.NMSBoxes``);
- boxes linked frame to frame by IoU > 0.3 against each track's constant-velocity prediction, with gaps of up to
  8 frames (greedy, highest IoU first).

A track is a *proposal*: whether two tracks are one vehicle (a parked car whose detections dropped out) is decided
by eye.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm  # type: ignore[import-untyped]

from classifiers.color.clip_frames import iter_frames
from detectors.base import Detector

LINK_IOU = 0.3
MAX_GAP = 8
NMS_IOU = 0.45


@dataclass(frozen=True)
class ClipDetections:
    """All boxes of a clip: one row per box.

    Attributes:
        frames: ``(N,)`` frame index of each box.
        boxes: ``(N, 4)`` ``x1, y1, x2, y2`` in frame pixels.
        scores: ``(N,)`` detector confidence.
        classes: ``(N,)`` detector class name.
        size: ``(height, width)`` of the frames.
        frame_count: frames decoded.
    """

    frames: NDArray[np.int64]
    boxes: NDArray[np.float32]
    scores: NDArray[np.float32]
    classes: tuple[str, ...]
    size: tuple[int, int]
    frame_count: int

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            path,
            frames=self.frames,
            boxes=self.boxes,
            scores=self.scores,
            classes=np.asarray(self.classes, dtype=str),
            size=np.asarray(self.size),
            frame_count=np.asarray(self.frame_count),
        )

    @classmethod
    def load(cls, path: Path) -> ClipDetections:
        with np.load(path) as data:
            return cls(
                data["frames"].astype(np.int64),
                data["boxes"].astype(np.float32),
                data["scores"].astype(np.float32),
                tuple(str(c) for c in data["classes"]),
                (int(data["size"][0]), int(data["size"][1])),
                int(data["frame_count"]),
            )


def class_agnostic_nms(boxes: NDArray[np.float32], scores: NDArray[np.float32], iou: float = NMS_IOU) -> list[int]:
    """Indices kept by NMS over all classes together (``cv2.dnn.NMSBoxes``), best first."""
    if len(boxes) == 0:
        return []
    xywh = [[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])] for b in boxes]
    kept = cv2.dnn.NMSBoxes(xywh, [float(s) for s in scores], 0.0, iou)
    return [int(i) for i in np.asarray(kept).ravel()]


def detect_clip(video: Path, detector: Detector, *, progress: bool = True) -> ClipDetections:
    """Every frame of ``video`` through ``detector`` (its own score threshold), then class-agnostic NMS."""
    frames: list[int] = []
    boxes: list[NDArray[np.float32]] = []
    scores: list[float] = []
    classes: list[str] = []
    size = (0, 0)
    count = 0
    for index, frame in tqdm(iter_frames(video), desc=f"detecting {video.name}", unit="frame", disable=not progress):
        size = (frame.shape[0], frame.shape[1])
        count = index + 1
        found = detector.detect([frame])[0]
        for i in class_agnostic_nms(found.boxes, found.scores):
            frames.append(index)
            boxes.append(found.boxes[i])
            scores.append(float(found.scores[i]))
            classes.append(found.class_names[i])
    return ClipDetections(
        np.asarray(frames, np.int64),
        np.asarray(boxes, np.float32).reshape(-1, 4),
        np.asarray(scores, np.float32),
        tuple(classes),
        size,
        count,
    )


def iou_matrix(a: NDArray[np.floating], b: NDArray[np.floating]) -> NDArray[np.float64]:
    """``(len(a), len(b))`` intersection over union of ``x1, y1, x2, y2`` boxes."""
    a64, b64 = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    x1 = np.maximum(a64[:, None, 0], b64[None, :, 0])
    y1 = np.maximum(a64[:, None, 1], b64[None, :, 1])
    x2 = np.minimum(a64[:, None, 2], b64[None, :, 2])
    y2 = np.minimum(a64[:, None, 3], b64[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a64[:, 2] - a64[:, 0]) * (a64[:, 3] - a64[:, 1])
    area_b = (b64[:, 2] - b64[:, 0]) * (b64[:, 3] - b64[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    out: NDArray[np.float64] = np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)
    return out


@dataclass
class _Track:
    box: NDArray[np.float64]
    velocity: NDArray[np.float64]
    frame: int


def link_tracks(detections: ClipDetections, *, link_iou: float = LINK_IOU, max_gap: int = MAX_GAP) -> NDArray[np.int64]:
    """A track id for each box of ``detections`` (the module doc's linker); ids count from 0 in order of birth."""
    ids = np.full(len(detections.frames), -1, np.int64)
    tracks: dict[int, _Track] = {}
    for frame in np.unique(detections.frames):
        rows = np.flatnonzero(detections.frames == frame)
        live = [t for t, tr in tracks.items() if frame - tr.frame <= max_gap]
        predicted = np.asarray(
            [tracks[t].box + tracks[t].velocity * (frame - tracks[t].frame) for t in live], np.float64
        ).reshape(-1, 4)
        overlap = iou_matrix(predicted, detections.boxes[rows])
        pairs = sorted(
            ((overlap[i, j], i, j) for i in range(len(live)) for j in range(len(rows)) if overlap[i, j] > link_iou),
            reverse=True,
        )
        used_t: set[int] = set()
        used_r: set[int] = set()
        for _, i, j in pairs:
            if i in used_t or j in used_r:
                continue
            used_t.add(i)
            used_r.add(j)
            track = tracks[live[i]]
            box = detections.boxes[rows[j]].astype(np.float64)
            track.velocity = 0.5 * track.velocity + 0.5 * (box - track.box) / (frame - track.frame)
            track.box, track.frame = box, int(frame)
            ids[rows[j]] = live[i]
        for j in range(len(rows)):
            if j not in used_r:
                new = len(tracks)
                tracks[new] = _Track(detections.boxes[rows[j]].astype(np.float64), np.zeros(4), int(frame))
                ids[rows[j]] = new
    return ids
