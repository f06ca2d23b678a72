"""The stage runner: camera buffers → batched detection → the recognise flow, on two threads.

Two stage threads joined by one bounded queue, so detection of the next batch overlaps classification of the
last one (on a GPU, or on a CPU with cores to spare):

    FrameBufferGroup --collect--> [detect thread] --DetectedBatch--> [recognize thread: flow.Recognizer] --> sink

A failure on one batch is logged and counted and the pipeline goes on; a stuck consumer never blocks shutdown
(every blocking put and get has a timeout and checks the stop flag).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from detectors.base import Detector
from streamer.recognize.batch import DetectedBatch, DetectedFrame
from streamer.recognize.detect_gate import DetectionGates
from streamer.recognize.settings import PipelineSettings
from streamer.service.metrics import Metrics
from streamer.sources.buffers import FrameBufferGroup
from streamer.sources.frames import Frame
from watchlists.alerts import Alert

log = logging.getLogger(__name__)

_POLL_S = 0.1  # how often blocked stage threads look at the stop flag


class BatchRecognizer(Protocol):
    """The recognize stage's logic (``streamer.recognize.flow.Recognizer``)."""

    def process(self, batch: DetectedBatch) -> list[Alert]:
        """Recognizes one detector batch; returns the alerts submitted."""
        ...

    def finish(self) -> None:
        """The sources are over: flush what is held per vehicle (ended tracks)."""
        ...


class Pipeline:
    """Runs the detect and recognize stages on their own threads until the sources end or `stop()` is called."""

    def __init__(
        self,
        frames: FrameBufferGroup,
        detector: Detector,
        recognizer: BatchRecognizer,
        metrics: Metrics,
        settings: PipelineSettings,
        max_wait_s: float,
        gates: DetectionGates | None = None,
    ) -> None:
        self.frames = frames
        self.on_detected: Callable[[DetectedBatch], None] | None = None
        """Called on the detect thread with every detector batch (the web page's live previews); must be cheap."""
        self.detector = detector
        self.recognizer = recognizer
        self.metrics = metrics
        self.max_batch = detector.max_batch
        self.max_wait_s = max_wait_s
        self.gates = gates if gates is not None and gates.active else None
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
            if self.gates is not None:
                frames = self._gate(frames)
                if not frames:
                    continue
            try:
                batch = self.detect(frames)
            except Exception:
                self.metrics.stage_errors.labels("detect").inc()
                log.exception("detector failed on a batch of %d frames; going on", len(frames))
                continue
            self.frames_detected += len(frames)
            if self.on_detected is not None:
                try:
                    self.on_detected(batch)
                except Exception:
                    log.exception("the detected-frames hook failed; going on")
            if not self._put(batch):
                return
        self._put(None)

    def _gate(self, frames: Sequence[Frame]) -> list[Frame]:
        """The frames the detection gates let through; the others are counted by reason and go no further."""
        assert self.gates is not None
        kept, skipped = self.gates.select(frames)
        for frame, decision in skipped:
            self.metrics.frames_gated.labels(frame.camera_id, str(decision.reason)).inc()
        return kept

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
