"""The recognition pipeline: camera buffers → batched detection → batched classification → matching → alerts.

Two stage threads joined by one bounded queue, so detection of the next batch overlaps classification of the
last one (on a GPU, or on a CPU with cores to spare):

    FrameBufferGroup --collect--> [detect thread] --DetectedBatch--> [recognize thread] --Alert--> AlertPublisher

With tracking on (the default), the recognize stage is ``streamer.recognize.track_recognizer.TrackingRecognizer``: boxes
are tracked and only scheduled views of each track are classified; `Recognizer` here classifies every box.

A failure on one batch is logged and counted and the pipeline goes on; a stuck consumer never blocks shutdown
(every blocking put and get has a timeout and checks the stop flag).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from classifiers.bank import CropResults
from classifiers.types import Classification
from detectors.letterbox import Letterbox
from detectors.types import Detections
from streamer.service.metrics import Metrics
from streamer.sources.buffers import FrameBufferGroup
from streamer.sources.frames import Frame
from watchlists.alerts import Alert, build_alert
from watchlists.cooldown import Cooldown
from watchlists.matching import Match, MatchSource

log = logging.getLogger(__name__)

_POLL_S = 0.1  # how often blocked stage threads look at the stop flag


class PipelineSettings(BaseModel):
    """How the stages hand work to each other."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    detected_queue_size: int = Field(
        default=4,
        ge=1,
        description=(
            "Detector batches waiting for classification. Small keeps latency and memory low; when it is full the "
            "detector waits, and live cameras drop their oldest frames instead (counted)."
        ),
    )


class StagedDetector(Protocol):
    """The detector as the pipeline drives it: three steps, so each one's time is measured on its own."""

    @property
    def max_batch(self) -> int: ...

    def preprocess(self, images: Sequence[NDArray[np.uint8]]) -> tuple[NDArray[Any], list[Letterbox]]: ...

    def infer(self, tensor: NDArray[Any]) -> NDArray[Any]: ...

    def postprocess(self, output: NDArray[Any], letterboxes: Sequence[Letterbox]) -> list[Detections]: ...


class BoxClassifier(Protocol):
    """The crop classifiers as the pipeline uses them (``classifiers.bank.ClassifierBank``)."""

    def __len__(self) -> int: ...

    def classify_boxes(self, items: Sequence[tuple[NDArray[np.uint8], Detections]]) -> CropResults: ...


class BatchRecognizer(Protocol):
    """The recognize stage's logic: `Recognizer` (every crop) or ``track_recognizer.TrackingRecognizer``."""

    def process(self, batch: DetectedBatch) -> list[Alert]:
        """Recognizes one detector batch; returns the alerts submitted."""
        ...

    def finish(self) -> None:
        """The sources are over: flush what is held per vehicle (ended tracks)."""
        ...


class AlertSink(Protocol):
    """Where alerts go (``watchlists.publisher.AlertPublisher``)."""

    def submit(self, alert: Alert, crop_bgr: NDArray[np.uint8] | None = None, timeout: float | None = None) -> bool: ...


@dataclass(frozen=True, slots=True, eq=False)
class DetectedFrame:
    """A frame with the vehicles the detector found in it."""

    frame: Frame
    detections: Detections


@dataclass(frozen=True, slots=True, eq=False)
class DetectedBatch:
    """The frames of one detector call, passed to the recognize stage together so their crops batch together."""

    frames: tuple[DetectedFrame, ...]


@dataclass(frozen=True, slots=True, eq=False)
class RecognizedVehicle:
    """One classified vehicle and the watchlist entries it matched (before the cooldown)."""

    frame: Frame
    detections: Detections
    box_index: int
    classification: Classification
    matches: tuple[Match, ...]


def crop_box(image: NDArray[np.uint8], box: NDArray[np.float32]) -> NDArray[np.uint8]:
    """The box's pixels (clipped to the image), for the alert's snapshot."""
    h, w = image.shape[:2]
    x1, y1 = max(int(box[0]), 0), max(int(box[1]), 0)
    x2, y2 = min(int(np.ceil(box[2])), w), min(int(np.ceil(box[3])), h)
    return np.ascontiguousarray(image[y1:y2, x1:x2])


class Recognizer:
    """Classifies a detector batch, matches it against the watchlist and submits the alerts.

    Pure logic with no thread of its own, so tests can drive it batch by batch.
    """

    def __init__(
        self,
        classifier: BoxClassifier,
        matcher: MatchSource | None,
        cooldown: Cooldown,
        sink: AlertSink,
        metrics: Metrics,
        top_k: int = 3,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.classifier = classifier
        self.matcher = matcher
        self.cooldown = cooldown
        self.sink = sink
        self.metrics = metrics
        self.top_k = top_k
        self.clock = clock

    def process(self, batch: DetectedBatch) -> list[Alert]:
        """Runs classification, matching and alerting for one batch; returns the alerts submitted."""
        if not any(len(item.detections) for item in batch.frames):
            return []
        vehicles = self.recognize(batch)
        alerts: list[Alert] = []
        started = time.perf_counter()
        for vehicle in vehicles:
            for match in vehicle.matches:
                alert = self._alert(vehicle, match)
                if alert is not None:
                    alerts.append(alert)
        if alerts:
            self.metrics.stage_seconds.labels("publish").observe(time.perf_counter() - started)
        return alerts

    def finish(self) -> None:
        """Nothing is held between batches."""

    def recognize(self, batch: DetectedBatch) -> list[RecognizedVehicle]:
        """Classifies every vehicle of the batch (one call per model) and matches each classification."""
        m = self.metrics
        if not len(self.classifier):
            return []
        started = time.perf_counter()
        results = self.classifier.classify_boxes([(item.frame.image, item.detections) for item in batch.frames])
        m.stage_seconds.labels("classify").observe(time.perf_counter() - started)
        m.batch_size.labels("classify").observe(results.classified)
        m.crops_classified.inc(results.classified)
        if results.skipped_small:
            m.crops_skipped.labels("too_small").inc(results.skipped_small)

        started = time.perf_counter()
        vehicles: list[RecognizedVehicle] = []
        for item, classifications in zip(batch.frames, results.frames, strict=True):
            for index, classification in enumerate(classifications):
                if classification is None:
                    continue
                matches = tuple(self.matcher.match(classification)) if self.matcher is not None else ()
                vehicles.append(RecognizedVehicle(item.frame, item.detections, index, classification, matches))
        m.stage_seconds.labels("match").observe(time.perf_counter() - started)
        now = self.clock()
        for item in batch.frames:
            m.detection_latency_seconds.observe(max(now - item.frame.captured_at, 0.0))
        return vehicles

    def _alert(self, vehicle: RecognizedVehicle, match: Match) -> Alert | None:
        frame = vehicle.frame
        entry_id = match.entry.id
        if not self.cooldown.allow(frame.camera_id, entry_id, now=frame.captured_at):
            self.metrics.alerts_suppressed.labels(entry_id).inc()
            return None
        detections = vehicle.detections
        box = detections.boxes[vehicle.box_index]
        alert = build_alert(
            match=match,
            camera_id=frame.camera_id,
            frame_index=frame.index,
            captured_at=frame.captured_at,
            box=(float(box[0]), float(box[1]), float(box[2]), float(box[3])),
            detector_class=detections.class_names[vehicle.box_index],
            detector_confidence=float(detections.scores[vehicle.box_index]),
            classification=vehicle.classification,
            top_k=self.top_k,
            track_id=None if detections.track_ids is None else int(detections.track_ids[vehicle.box_index]),
        )
        # submit() only refuses after waiting its timeout with max_pending alerts queued (Redis down for long):
        # the publisher counts and logs that, so there is nothing more to do here.
        self.sink.submit(alert, crop_box(frame.image, box))
        return alert


class Pipeline:
    """Runs the detect and recognize stages on their own threads until the sources end or `stop()` is called."""

    def __init__(
        self,
        frames: FrameBufferGroup,
        detector: StagedDetector,
        recognizer: BatchRecognizer,
        metrics: Metrics,
        settings: PipelineSettings,
        max_wait_s: float,
    ) -> None:
        self.frames = frames
        self.detector = detector
        self.recognizer = recognizer
        self.metrics = metrics
        self.max_batch = detector.max_batch
        self.max_wait_s = max_wait_s
        self._detected: queue.Queue[DetectedBatch | None] = queue.Queue(maxsize=settings.detected_queue_size)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.done = threading.Event()
        self.frames_detected = 0

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._detect_loop, name="detect", daemon=True),
            threading.Thread(target=self._recognize_loop, name="recognize", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stops both stages; work already detected is still recognized unless ``timeout`` runs out."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.1))

    def wait(self, timeout: float | None = None) -> bool:
        """Waits until every source ended and all their frames went through; True if so."""
        return self.done.wait(timeout)

    def detect(self, frames: Sequence[Frame]) -> DetectedBatch:
        """Runs the detector on frames of any cameras in one call, timing each step."""
        m = self.metrics
        started = time.perf_counter()
        tensor, letterboxes = self.detector.preprocess([f.image for f in frames])
        preprocessed = time.perf_counter()
        output = self.detector.infer(tensor)
        inferred = time.perf_counter()
        detections = self.detector.postprocess(output, letterboxes)
        m.stage_seconds.labels("preprocess").observe(preprocessed - started)
        m.stage_seconds.labels("detect").observe(time.perf_counter() - preprocessed)
        m.batch_size.labels("detect").observe(len(frames))
        log.debug("detector batch of %d: %.1f ms inference", len(frames), (inferred - preprocessed) * 1e3)
        for frame, found in zip(frames, detections, strict=True):
            m.frames_detected.labels(frame.camera_id).inc()
            for name in found.class_names:
                m.vehicles.labels(frame.camera_id, name).inc()
        return DetectedBatch(tuple(DetectedFrame(f, d) for f, d in zip(frames, detections, strict=True)))

    def _detect_loop(self) -> None:
        while not self._stop.is_set():
            frames = self.frames.collect(self.max_batch, self.max_wait_s, timeout=_POLL_S)
            if not frames:
                if self.frames.finished:
                    break
                continue
            try:
                batch = self.detect(frames)
            except Exception:
                self.metrics.stage_errors.labels("detect").inc()
                log.exception("detector failed on a batch of %d frames; going on", len(frames))
                continue
            self.frames_detected += len(frames)
            if not self._put(batch):
                return
        self._put(None)

    def _put(self, item: DetectedBatch | None) -> bool:
        while True:
            try:
                self._detected.put(item, timeout=_POLL_S)
                self.metrics.queue_depth.labels("detected").set(self._detected.qsize())
                return True
            except queue.Full:
                if self._stop.is_set():
                    return False

    def _finish(self) -> None:
        try:
            self.recognizer.finish()
        except Exception:
            self.metrics.stage_errors.labels("recognize").inc()
            log.exception("recognizer failed to finish its tracks")

    def _recognize_loop(self) -> None:
        while True:
            try:
                batch = self._detected.get(timeout=_POLL_S)
            except queue.Empty:
                if self._stop.is_set() and not any(t.is_alive() for t in self._threads[:1]):
                    break
                continue
            if batch is None:
                self._finish()
                self.done.set()
                break
            self.metrics.queue_depth.labels("detected").set(self._detected.qsize())
            try:
                self.recognizer.process(batch)
            except Exception:
                self.metrics.stage_errors.labels("recognize").inc()
                log.exception("recognition failed on a batch of %d frames; going on", len(batch.frames))
