"""A looping vehicle on a real clip: a plate-only watchlist entry fires once per track, with the real plate reader.

No shared clip shows a readable plate, so a rendered plate is composited onto one real vehicle of
``videos/swdee_cars.mp4`` (oncoming traffic, so the plate goes on the lower middle of its front), on every frame
of its stretch, at the box the real detector found there. The stretch is played twice in a row, as a looping
file source would: two tracks, two alerts, not one per frame; the other vehicles carry no plate and never match.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from classifiers.bank import ClassifierBank
from classifiers.settings import ClassifierSettings
from detectors.settings import DetectorSettings
from detectors.types import Detections
from detectors.yolo import YoloDetector
from streamer.recognize.batch import DetectedBatch, DetectedFrame
from streamer.recognize.flow import Recognizer
from streamer.recognize.plates import PlateStage, open_plate_reader
from streamer.recognize.settings import PlateStageSettings, TrackingSettings
from streamer.service.metrics import Metrics
from streamer.sources.frames import Frame
from tests.classifiers.plates.synthetic import plate_image
from tests.conftest import shared_path
from tests.streamer.recognize.test_tracking_real import Recorder
from tests.synthetic_classifier import make_color_classifier
from watchlists.alerts import Alert
from watchlists.cooldown import Cooldown
from watchlists.entries import WatchlistEntry
from watchlists.matching import Matcher

pytestmark = pytest.mark.shared
pytest.importorskip("rapidocr", reason="the plate reader needs the 'plates' extra (pip install -e '.[plates]')")

PLATE = "7XK123"
START, MOST = 16, 24  # the stretch: from frame 16, the vehicle followed while it stays whole in the frame


def _iou(a: NDArray[np.float32], b: NDArray[np.float32]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return float(inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter))


def _stretch() -> list[tuple[NDArray[np.uint8], Detections]]:
    """The frames of one vehicle's stretch with the plate on it, and the real detector's boxes of each frame."""
    detector = YoloDetector.from_settings(
        DetectorSettings(model=shared_path("models/yolov8n_int8_640.onnx"), providers=("cpu",))
    )
    capture = cv2.VideoCapture(str(shared_path("videos/swdee_cars.mp4")))
    frames: list[tuple[NDArray[np.uint8], Detections]] = []
    followed: NDArray[np.float32] | None = None
    try:
        for index in range(START + MOST):
            ok, image = capture.read()
            assert ok
            if index < START:
                continue
            pixels = np.ascontiguousarray(image, np.uint8)
            found = detector.detect([pixels])[0]
            if not len(found):
                break
            boxes = found.boxes
            if followed is None:  # the widest vehicle whole in the frame
                whole = boxes[boxes[:, 3] < pixels.shape[0] - 8]
                followed = whole[np.argmax(whole[:, 2] - whole[:, 0])]
            else:
                overlaps = [_iou(followed, b) for b in boxes]
                if max(overlaps) < 0.3 or boxes[int(np.argmax(overlaps))][3] >= pixels.shape[0] - 4:
                    break
                followed = boxes[int(np.argmax(overlaps))]
            x1, y1, x2, y2 = (int(v) for v in followed)
            plate = plate_image(PLATE, width=int((x2 - x1) * 0.45))
            ph, pw = plate.shape[:2]
            px, py = (x1 + x2 - pw) // 2, y2 - ph - int((y2 - y1) * 0.06)
            pixels[py : py + ph, px : px + pw] = plate
            frames.append((pixels, found))
    finally:
        capture.release()
    assert len(frames) >= 12, "the vehicle left the frame too soon to be a test"
    return frames


def test_a_looping_vehicle_with_a_plate_only_entry_fires_once_per_track(tmp_path_factory: Any) -> None:
    frames = _stretch()
    bank = ClassifierBank.from_settings(
        ClassifierSettings(
            models=[
                {"model": str(make_color_classifier(tmp_path_factory.mktemp("clf") / "c.onnx")), "providers": ["cpu"]}
            ]
        )
    )
    # A generous budget: this checks once-per-track on a busy 2-core test machine, not the bounds (see test_plates).
    plates = PlateStageSettings(
        enabled=True, reader={"min_center_y": 0.35, "max_upscale": 1.0, "threads": 1}, budget_ms=5000.0
    )
    reader = open_plate_reader(plates)
    assert reader is not None
    metrics, sink = Metrics(), Recorder()
    recognizer = Recognizer(
        bank,
        Matcher([WatchlistEntry(id="amber-plate", plate=PLATE), WatchlistEntry(id="partial", plate="*K12?")]),
        Cooldown(0.0),
        sink,
        metrics,
        TrackingSettings(plates=plates),
        events=sink,
        plates=PlateStage(reader, plates, metrics),
    )
    # The clip loops after a pause longer than the tracker's horizon (frames where the detector finds nothing):
    # the vehicle comes round again as a new track. Played back to back, the tracker may carry the id over the cut
    # (the vehicle is at nearly the same place), which is the tracker's business, not the plate stage's.
    pause = [(frames[0][0], Detections.empty())] * (recognizer.settings.tracker.lost_frames + 2)
    for index, (pixels, found) in enumerate([*frames, *pause, *frames]):
        frame = Frame("swdee", index, 1000.0 + index / 30, index / 30, pixels)
        recognizer.recognize(recognizer.track(DetectedBatch((DetectedFrame(frame, found),))))
    recognizer.finish()
    by_entry: dict[str, list[Alert]] = {}
    for alert in sink.alerts:
        by_entry.setdefault(alert.entry.id, []).append(alert)
    assert set(by_entry) == {"amber-plate", "partial"}, [(a.entry.id, a.plate_read) for a in sink.alerts]
    for alerts in by_entry.values():
        assert len(alerts) == 2  # once per pass of the vehicle, not once per frame
        assert len({a.track_id for a in alerts}) == 2
        for alert in alerts:
            assert alert.plate_read is not None
            assert alert.plate_read.text == PLATE
    plated = [e for e in sink.events if e.plate_read is not None]
    assert len(plated) == 2
    reads = metrics.registry.get_sample_value("vehiclewatch_plate_reads_total", {"camera": "swdee", "result": "read"})
    assert reads is not None
    assert reads >= 4
