"""Tracking on a real clip with the real models: one track per vehicle, one alert per watched vehicle, few calls.

The clip is the first two seconds of ``videos/swdee_cars.mp4`` (UK dual carriageway, oncoming traffic, 30 fps);
which vehicle is which comes from ``datasets/traffic_crops_dev/labels.csv``: boxes labelled by eye every 0.5 s,
grouped per physical vehicle (``same_as``), with their colour.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from classifiers.bank import ClassifierBank
from classifiers.crops import visible_short_sides
from classifiers.settings import ClassifierSettings
from detectors.settings import DetectorSettings
from detectors.types import Detections
from detectors.yolo import YoloDetector
from streamer.recognize.batch import DetectedBatch, DetectedFrame
from streamer.recognize.flow import Recognizer
from streamer.recognize.settings import TrackingSettings
from streamer.recognize.tracking import UNTRACKED
from streamer.service.metrics import Metrics
from streamer.sources.frames import Frame
from tests.conftest import shared_path
from watchlists.alerts import Alert
from watchlists.cooldown import Cooldown
from watchlists.entries import WatchlistEntry
from watchlists.matching import Matcher
from watchlists.track_events import TrackSummary

pytestmark = pytest.mark.shared

CLIP = "swdee"
LAST_FRAME = 60  # two seconds: seven vehicles, two of them red


class Recorder:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []
        self.events: list[TrackSummary] = []

    def submit(self, item: Any, crop_bgr: NDArray[np.uint8] | None = None, timeout: float | None = None) -> bool:
        (self.alerts if isinstance(item, Alert) else self.events).append(item)
        return True


@dataclass
class ClipRun:
    raw: list[Detections]
    tracked: list[Detections]
    frame_shape: tuple[int, int, int]
    recognizer: Recognizer
    sink: Recorder
    bank: ClassifierBank


@pytest.fixture(scope="module")
def clip_run() -> ClipRun:
    """Detects, tracks and recognizes the stretch once, as the pipeline would (one frame per batch)."""
    video = shared_path(f"videos/{CLIP}_cars.mp4")
    detector = YoloDetector.from_settings(
        DetectorSettings(model=shared_path("models/yolov8n_int8_640.onnx"), providers=("cpu",))
    )
    bank = ClassifierBank.from_settings(
        ClassifierSettings(
            models=[
                {"model": shared_path("models/spectrico_make_mobilenetv3_224.onnx"), "providers": ["cpu"]},
                {"model": shared_path("models/spectrico_color_mobilenetv3_224.onnx"), "providers": ["cpu"]},
            ]
        )
    )
    sink = Recorder()
    recognizer = Recognizer(
        bank,
        Matcher([WatchlistEntry(id="red-car", color="red")]),
        Cooldown(0.0),  # no camera-wide cooldown: each red vehicle must alert, once
        sink,
        Metrics(),
        TrackingSettings(),
        events=sink,
    )
    capture = cv2.VideoCapture(str(video))
    raw: list[Detections] = []
    tracked: list[Detections] = []
    shape: tuple[int, int, int] = (0, 0, 0)
    try:
        for index in range(LAST_FRAME + 1):
            ok, image = capture.read()
            assert ok, f"{video} ended at frame {index}"
            pixels = np.asarray(image, np.uint8)
            shape = (pixels.shape[0], pixels.shape[1], pixels.shape[2])
            found = detector.detect([pixels])[0]
            raw.append(found)
            frame = Frame("swdee", index, 1000.0 + index / 30, index / 30, pixels)
            batch = recognizer.track(DetectedBatch((DetectedFrame(frame, found),)))
            recognizer.recognize(batch)
            tracked.append(batch.frames[0].detections)
    finally:
        capture.release()
    recognizer.finish()
    return ClipRun(raw, tracked, shape, recognizer, sink, bank)


@dataclass(frozen=True)
class Sighting:
    vehicle: str
    color: str
    frame: int
    box: NDArray[np.float32]


def labelled_sightings() -> list[Sighting]:
    path = shared_path("datasets/traffic_crops_dev/labels.csv")
    with path.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["clip"] == CLIP and int(r["frame"]) <= LAST_FRAME]
    return [
        Sighting(
            vehicle=r["same_as"] or r["id"],
            color=r["color"],
            frame=int(r["frame"]),
            box=np.array([float(r[k]) for k in ("x1", "y1", "x2", "y2")], np.float32),
        )
        for r in rows
    ]


def iou(boxes: NDArray[np.float32], box: NDArray[np.float32]) -> NDArray[np.float32]:
    x1 = np.maximum(boxes[:, 0], box[0])
    y1 = np.maximum(boxes[:, 1], box[1])
    x2 = np.minimum(boxes[:, 2], box[2])
    y2 = np.minimum(boxes[:, 3], box[3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    result: NDArray[np.float32] = inter / (areas + (box[2] - box[0]) * (box[3] - box[1]) - inter)
    return result


def track_of(run: ClipRun, sighting: Sighting) -> int | None:
    """The track id of the tracked box that is the labelled box (IoU > 0.7), or None when there is none."""
    found = run.tracked[sighting.frame]
    if not len(found) or found.track_ids is None:
        return None
    overlaps = iou(found.boxes, sighting.box)
    best = int(np.argmax(overlaps))
    return int(found.track_ids[best]) if overlaps[best] > 0.7 else None


def vehicle_tracks(run: ClipRun) -> dict[str, set[int | None]]:
    tracks: dict[str, set[int | None]] = defaultdict(set)
    for sighting in labelled_sightings():
        if sighting.frame == 0:
            continue  # a track gets its id on its second frame (confirm_frames)
        tracks[sighting.vehicle].add(track_of(run, sighting))
    return tracks


def test_each_vehicle_keeps_one_track_while_visible(clip_run: ClipRun) -> None:
    tracks = vehicle_tracks(clip_run)
    assert len(tracks) >= 6
    for vehicle, ids in tracks.items():
        assert len(ids) == 1, f"vehicle {vehicle} changed track: {ids}"
        assert None not in ids, f"vehicle {vehicle} has no box with a track"
        assert UNTRACKED not in ids, f"vehicle {vehicle} is not tracked"
    ids_per_vehicle = [next(iter(ids)) for ids in tracks.values()]
    assert len(set(ids_per_vehicle)) == len(ids_per_vehicle), "two vehicles share a track"


def test_a_watched_vehicle_alerts_exactly_once(clip_run: ClipRun) -> None:
    tracks = vehicle_tracks(clip_run)
    red = {s.vehicle for s in labelled_sightings() if s.color == "red"}
    assert len(red) == 2
    red_tracks = {track for v in red for track in tracks[v] if track is not None}
    assert len(red_tracks) == 2
    alerted = [alert.track_id for alert in clip_run.sink.alerts if alert.track_id is not None]
    assert len(alerted) == len(clip_run.sink.alerts)
    assert sorted(alerted) == sorted(red_tracks)  # each red vehicle once, nothing else
    for alert in clip_run.sink.alerts:
        assert alert.views_fused is not None
        assert alert.views_fused >= 2
        assert alert.classifications["color"][0].label == "red"
    by_track = {event.track_id: event for event in clip_run.sink.events}
    for track in red_tracks:
        assert by_track[track].alerted_entries == ["red-car"]


def test_classifier_calls_drop_at_least_fivefold(clip_run: ClipRun) -> None:
    height, width = clip_run.frame_shape[:2]
    # What classifying every crop would cost: every box the classifier bank accepts, on every frame.
    every_crop = sum(
        int(np.count_nonzero(visible_short_sides(d.boxes, height, width) >= clip_run.bank.min_crop_size))
        for d in clip_run.raw
    )
    boxes = sum(len(d) for d in clip_run.raw)
    tracked_calls = clip_run.recognizer.crops_classified
    assert tracked_calls > 0
    assert every_crop / tracked_calls >= 5, f"{every_crop} crops vs {tracked_calls} classified ({boxes} boxes)"


def test_track_memory_stays_bounded_over_a_long_looping_run(clip_run: ClipRun) -> None:
    """The stretch's detections replayed 20 times (the clip looping); tracking and track memory only."""
    recognizer = Recognizer(
        ClassifierBank([]), None, Cooldown(0.0), Recorder(), Metrics(), TrackingSettings(max_tracks_per_camera=100)
    )
    blank = np.zeros(clip_run.frame_shape, np.uint8)
    most = 0
    index = 0
    for _ in range(20):
        for found in clip_run.raw:
            frame = Frame("loop", index, 1000.0 + index / 30, index / 30, blank)
            recognizer.process(DetectedBatch((DetectedFrame(frame, found),)))
            most = max(most, len(recognizer.book("loop")), recognizer.trackers.track_count("loop"))
            index += 1
    ended = recognizer.metrics.registry.get_sample_value("vehiclewatch_tracks_ended_total", {"camera": "loop"})
    assert ended is not None
    assert ended >= 60  # each loop's vehicles jump back: new tracks, the old ones forgotten
    assert most <= 20  # about one loop's vehicles plus those lost within the last second
