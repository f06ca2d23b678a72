"""The recognize stage with tracking, on synthetic frames with a real (synthetic ONNX) classifier, and the service."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import redis

from classifiers.bank import ClassifierBank
from classifiers.settings import ClassifierSettings
from streamer.recognize.batch import DetectedBatch, DetectedFrame
from streamer.recognize.flow import Recognizer
from streamer.recognize.settings import TrackingSettings
from streamer.service.config import load_settings
from streamer.service.metrics import Metrics
from streamer.service.wiring import Service
from streamer.sources.frames import Frame
from tests.redisbus.support import stream_fields
from tests.streamer.recognize.support import ENTRIES, Car, CountingClassifier, Recorder, render, render_boxes
from tests.streamer.scene import make_scene
from tests.synthetic_classifier import make_color_classifier
from watchlists.alerts import Alert
from watchlists.cooldown import Cooldown
from watchlists.live import LiveMatcher
from watchlists.matching import Matcher
from watchlists.publisher import STREAM_FIELD_ALERT
from watchlists.track_events import STREAM_FIELD_CAMERA, STREAM_FIELD_TRACK, TrackSummary


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> ClassifierBank:
    path = make_color_classifier(tmp_path_factory.mktemp("clf") / "color.onnx")
    return ClassifierBank.from_settings(ClassifierSettings(models=[{"model": str(path), "providers": ["cpu"]}]))


@dataclass
class Run:
    recognizer: Recognizer
    classifier: CountingClassifier
    sink: Recorder
    metrics: Metrics
    tracked: list[DetectedBatch]
    boxes: int


def make_recognizer(
    bank: ClassifierBank, cooldown_s: float = 0.0, events: bool = False, **tracking: Any
) -> tuple[Recognizer, CountingClassifier, Recorder, Metrics]:
    classifier = CountingClassifier(bank)
    sink = Recorder()
    metrics = Metrics()
    recognizer = Recognizer(
        classifier,
        Matcher(ENTRIES),
        Cooldown(cooldown_s),
        sink,
        metrics,
        TrackingSettings(**tracking),
        events=sink if events else None,
    )
    return recognizer, classifier, sink, metrics


def drive(
    recognizer: Recognizer,
    cameras: Mapping[str, Sequence[Car]],
    frames: int,
    batch: int = 1,
    seed: int = 0,
) -> tuple[list[DetectedBatch], int]:
    """Runs ``frames`` frames of every camera through the recognizer, ``batch`` frames per camera per call."""
    rng = np.random.default_rng(seed)
    tracked: list[DetectedBatch] = []
    boxes = 0
    for start in range(0, frames, batch):
        items = []
        for i in range(start, min(start + batch, frames)):
            for camera, cars in cameras.items():
                image, detections = render(cars, i, rng)
                boxes += len(detections)
                items.append(DetectedFrame(Frame(camera, i, 1000.0 + i / 25, i / 25, image), detections))
        batch_in = recognizer.track(DetectedBatch(tuple(items)))
        recognizer.recognize(batch_in)
        tracked.append(batch_in)
    return tracked, boxes


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


TWO_RED_CARS = [Car("red", 0, 20.0), Car("red", 5, 130.0, speed=6.0)]


def test_few_classifier_calls_and_one_alert_per_track(bank: ClassifierBank) -> None:
    recognizer, classifier, sink, metrics = make_recognizer(bank)
    _, boxes = drive(recognizer, {"cam": TWO_RED_CARS}, frames=50)
    alerts = [alert for alert, _ in sink.alerts]
    assert [a.entry.id for a in alerts] == ["red-car", "red-car"]
    assert len({a.track_id for a in alerts}) == 2
    assert all(a.track_id is not None and a.views_fused is not None and a.views_fused >= 2 for a in alerts)
    assert all(a.classifications["color"][0].label == "red" for a in alerts)
    # Confident, stable labels stop being classified: a few views per car instead of one per frame.
    classified = int(sample(metrics, "vehiclewatch_crops_classified_total"))
    assert boxes == 80
    assert sample(metrics, "vehiclewatch_crops_detected_total", camera="cam") == boxes
    assert 4 <= classified <= 8
    assert sample(metrics, "vehiclewatch_track_schedule_total", decision="new") == 2
    assert sample(metrics, "vehiclewatch_track_schedule_total", decision="settled") > 30
    assert classifier.calls == classified  # one batched call per frame that had work


def test_cooldown_still_holds_across_tracks(bank: ClassifierBank) -> None:
    recognizer, _, sink, metrics = make_recognizer(bank, cooldown_s=60.0)
    drive(recognizer, {"cam": TWO_RED_CARS}, frames=50)
    assert len(sink.alerts) == 1
    # The second car is refused by the cooldown on every frame it is seen, but counted once.
    assert sample(metrics, "vehiclewatch_alerts_suppressed_total", entry="red-car") == 1


def test_cameras_batch_together_and_track_apart(bank: ClassifierBank) -> None:
    recognizer, classifier, sink, _ = make_recognizer(bank)
    cameras = {"a": [Car("red", 0, 40.0)], "b": [Car("blue", 0, 40.0)]}
    drive(recognizer, cameras, frames=30, batch=4)
    by_camera = {alert.camera_id: alert for alert, _ in sink.alerts}
    assert set(by_camera) == {"a", "b"}
    assert by_camera["a"].entry.id == "red-car"
    assert by_camera["b"].entry.id == "blue-car"
    assert by_camera["a"].track_id != by_camera["b"].track_id
    # Crops of both cameras and of every frame of a batch go through one call.
    assert classifier.calls <= 8


def test_alert_carries_the_best_snapshot_not_the_latest(bank: ClassifierBank) -> None:
    # The car drives away, shrinking: its first views are the largest, the alert (second view) comes later.
    recognizer, _, sink, _ = make_recognizer(bank)
    rng = np.random.default_rng(1)
    for i in range(30):
        width = 200.0 - 4 * i
        box = np.array([100.0 + 2 * i, 40.0, 100.0 + 2 * i + width, 40.0 + 0.6 * width], np.float32)
        image, detections = render_boxes([("red", box)], rng)
        recognizer.process(DetectedBatch((DetectedFrame(Frame("cam", i, 1000.0 + i / 25, i / 25, image), detections),)))
    ((alert, snapshot),) = sink.alerts
    assert snapshot is not None
    assert alert.frame_index >= 10
    assert alert.box.x2 - alert.box.x1 < 170
    assert snapshot.shape[1] >= 190  # an early, larger view


def test_track_summaries_when_tracks_end(bank: ClassifierBank) -> None:
    recognizer, _, sink, metrics = make_recognizer(bank, events=True, tracker={"lost_frames": 5})
    leaves = Car("red", 0, 20.0, frames=20)
    stays = Car("green", 0, 130.0, speed=2.0, frames=1000)
    drive(recognizer, {"cam": [leaves, stays]}, frames=30)
    ((event, crop),) = sink.events
    assert event.camera_id == "cam"
    assert (event.first_frame, event.last_frame, event.frames_seen) == (1, 19, 19)
    assert event.labels["color"][0].label == "red"
    assert event.views_fused >= 2
    assert event.alerted_entries == ["red-car"]
    assert event.detector_class == "car"
    assert crop is not None
    assert crop.shape[0] > 30
    assert sample(metrics, "vehiclewatch_active_tracks", camera="cam") == 1

    recognizer.finish()
    assert [e.labels["color"][0].label for e, _ in sink.events] == ["red", "green"]
    assert sink.events[1][0].alerted_entries == []
    assert sample(metrics, "vehiclewatch_active_tracks", camera="cam") == 0
    assert sample(metrics, "vehiclewatch_tracks_ended_total", camera="cam") == 2
    assert sample(metrics, "vehiclewatch_track_alerts_count") == 2
    assert sample(metrics, "vehiclewatch_track_alerts_sum") == 1
    assert sample(metrics, "vehiclewatch_track_label_changes_count") == 2


def test_a_failed_classification_is_tried_again(bank: ClassifierBank) -> None:
    recognizer, classifier, _, _ = make_recognizer(bank)
    car = [Car("red", 0, 20.0)]
    drive(recognizer, {"cam": car}, frames=1)
    classifier.fail_next = True
    rng = np.random.default_rng(0)
    image, detections = render(car, 1, rng)
    with pytest.raises(RuntimeError, match="classifier failed"):
        recognizer.process(DetectedBatch((DetectedFrame(Frame("cam", 1, 1000.04, 0.04, image), detections),)))
    (record,) = recognizer.book("cam").records()
    assert (record.pending_views, record.fusion.views) == (0, 0)
    image, detections = render(car, 2, rng)
    recognizer.process(DetectedBatch((DetectedFrame(Frame("cam", 2, 1000.08, 0.08, image), detections),)))
    assert record.fusion.views == 1


def test_memory_stays_bounded_over_a_long_looping_run(bank: ClassifierBank) -> None:
    recognizer, _, sink, metrics = make_recognizer(bank, tracker={"lost_frames": 10})
    # A 60-frame clip played 15 times over: each loop brings 4 cars (a red one among them).
    clip = [Car(("red", "blue", "green", "blue")[k], 12 * k, 20.0 + 45 * k, speed=10.0, frames=50) for k in range(4)]
    active: list[int] = []
    rng = np.random.default_rng(3)
    for i in range(900):
        image, detections = render(clip, i % 60, rng)
        frame = Frame("cam", i, 1000.0 + i / 25, i / 25, image)
        recognizer.process(DetectedBatch((DetectedFrame(frame, detections),)))
        active.append(len(recognizer.book("cam")))
        assert recognizer.trackers.track_count("cam") <= 8
    assert max(active) <= 8
    ended = sample(metrics, "vehiclewatch_tracks_ended_total", camera="cam")
    assert ended >= 55  # every loop's cars became new tracks and were forgotten
    assert len([a for a, _ in sink.alerts if a.entry.id == "red-car"]) >= 14  # the cooldown is 0 here


# --- the service ----------------------------------------------------------------------------------------------


def test_service_with_tracking_alerts_once_and_publishes_the_track(
    tmp_path: Path, redis_url: str, redis_client: redis.Redis
) -> None:
    scene = make_scene(tmp_path, frames=20, color="red")
    # The synthetic car is one flat colour: no texture for the sharpness check.
    tracking = {"quality": {"min_sharpness": 0.0}, "events": {"enabled": True, "stream": "test:tracks"}}
    service = Service(load_settings(None, scene.settings(redis_url, tracking=tracking)))
    service.start()
    try:
        assert service.wait(threading.Event())
    finally:
        service.stop()

    classified = service.registry.get_sample_value("vehiclewatch_crops_classified_total")
    assert classified is not None
    assert 2 <= classified <= 3  # 19 tracked boxes (the first one only starts the track)
    (fields,) = stream_fields(redis_client, "vehiclewatch:alerts")
    alert = Alert.from_json(fields[STREAM_FIELD_ALERT.encode()])
    assert alert.entry.id == "red-car"
    assert alert.track_id is not None
    assert alert.views_fused == 2
    assert alert.snapshot_key is not None
    assert redis_client.exists(alert.snapshot_key)

    # The camera's own state changes (streaming, then stopped at the clip's end) share the stream.
    entries = stream_fields(redis_client, "test:tracks")
    (fields,) = [entry for entry in entries if STREAM_FIELD_TRACK.encode() in entry]
    assert all(STREAM_FIELD_CAMERA.encode() in entry for entry in entries if entry is not fields)
    event = TrackSummary.from_json(fields[STREAM_FIELD_TRACK.encode()])
    assert event.track_id == alert.track_id
    assert event.alerted_entries == ["red-car"]
    assert event.frames_seen == 19
    assert event.best_snapshot_key is not None
    snapshot = redis_client.get(event.best_snapshot_key)
    assert isinstance(snapshot, bytes)
    decoded = cv2.imdecode(np.frombuffer(snapshot, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None
    assert decoded.shape == (48, 48, 3)


def test_a_reloaded_watchlist_reaches_tracks_already_classified(bank: ClassifierBank) -> None:
    live = LiveMatcher(Matcher([]))
    classifier, sink = CountingClassifier(bank), Recorder()
    recognizer = Recognizer(classifier, live, Cooldown(0.0), sink, Metrics(), TrackingSettings())
    car = Car("red", 0, 20.0, speed=4.0, frames=60)
    rng = np.random.default_rng(0)

    def step(i: int) -> None:
        image, detections = render([car], i, rng)
        frame = DetectedFrame(Frame("cam", i, 1000.0 + i / 25, i / 25, image), detections)
        recognizer.recognize(recognizer.track(DetectedBatch((frame,))))

    for i in range(30):
        step(i)
    assert sink.alerts == []
    calls_before = classifier.calls
    live.swap(Matcher(ENTRIES))  # e.g. an entry added through Redis
    step(30)
    assert [alert.entry.id for alert, _ in sink.alerts] == ["red-car"]
    assert classifier.calls == calls_before  # matched on the track's fused labels, not classified again
