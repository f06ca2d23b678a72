"""The plate stage of the recognise flow: scheduled per track, bounded per batch, fused, matched, published.

A stand-in reader (it reads every crop as the same plate and advances a fake clock) keeps these tests fast and
independent of the OCR models; the reader itself is tested in tests/classifiers/plates.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from classifiers.bank import ClassifierBank
from classifiers.plates.types import PlateReading
from classifiers.settings import ClassifierSettings
from streamer.recognize.flow import Recognizer
from streamer.recognize.plates import PlateStage, open_plate_reader
from streamer.recognize.settings import PlateStageSettings, TrackingSettings
from streamer.service.config import load_settings
from streamer.service.metrics import Metrics
from streamer.service.startup import StartupError
from streamer.service.wiring import Service
from tests.streamer.recognize.support import Car, CountingClassifier, Recorder
from tests.streamer.recognize.test_track_recognizer import drive, sample
from tests.streamer.scene import make_scene
from tests.synthetic_classifier import make_color_classifier
from watchlists.cooldown import Cooldown
from watchlists.entries import WatchlistEntry
from watchlists.matching import Matcher

PLATE_ONLY = [WatchlistEntry(id="stolen-plate", plate="7XK12?"), WatchlistEntry(id="other", plate="ABC999")]


class FakeReader:
    """Reads every crop as ``text``; each call takes ``seconds`` on the shared fake clock."""

    def __init__(self, text: str = "7XK123", conf: float = 0.97, seconds: float = 0.0) -> None:
        self.text, self.conf, self.seconds = text, conf, seconds
        self.now = 0.0
        self.crops: list[int] = []

    def clock(self) -> float:
        return self.now

    def read(self, crops: Sequence[NDArray[np.uint8]]) -> list[PlateReading | None]:
        self.now += self.seconds
        self.crops.append(len(crops))
        return [PlateReading(self.text, (self.conf,) * len(self.text), (10.0, 60.0, 70.0, 75.0)) for _ in crops]


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> ClassifierBank:
    path = make_color_classifier(tmp_path_factory.mktemp("clf") / "color.onnx")
    return ClassifierBank.from_settings(ClassifierSettings(models=[{"model": str(path), "providers": ["cpu"]}]))


def make(
    bank: ClassifierBank, reader: FakeReader, events: bool = False, **plates: Any
) -> tuple[Recognizer, Recorder, Metrics]:
    sink, metrics = Recorder(), Metrics()
    settings = PlateStageSettings(enabled=True, **plates)
    recognizer = Recognizer(
        CountingClassifier(bank),
        Matcher(PLATE_ONLY),
        Cooldown(0.0),
        sink,
        metrics,
        TrackingSettings(plates=settings),
        events=sink if events else None,
        plates=PlateStage(reader, settings, metrics, clock=reader.clock),
    )
    return recognizer, sink, metrics


WIDE = [Car("red", 0, 20.0, width=170.0, speed=6.0), Car("blue", 45, 20.0, width=170.0, speed=6.0)]


def test_a_plate_only_entry_fires_once_per_track_with_the_plate(bank: ClassifierBank) -> None:
    reader = FakeReader(conf=0.99)
    recognizer, sink, metrics = make(bank, reader, events=True)
    drive(recognizer, {"cam": WIDE}, frames=90)
    recognizer.finish()
    alerts = [a for a, _ in sink.alerts]
    assert [a.entry.id for a in alerts] == ["stolen-plate", "stolen-plate"]
    assert len({a.track_id for a in alerts}) == 2
    first = alerts[0]
    assert first.plate_read is not None
    assert first.plate_read.text == "7XK123"
    assert first.plate_read.char_confidences == pytest.approx([0.99] * 6)
    assert first.plate_read.box.x1 >= 10.0  # moved from crop to frame pixels
    [plate] = [b for b in first.breakdown if b.field == "plate"]
    assert plate.head == "plate_reader"
    assert plate.note is not None
    assert "fits" in plate.note
    assert any(f.head == "plate_reader" for f in first.factors)
    # A confident plate read twice settles: the track's plate is read no more.
    assert sample(metrics, "vehiclewatch_plate_reads_total", camera="cam", result="read") == 4
    summaries = [e for e, _ in sink.events]
    assert len(summaries) == 2
    assert all(s.plate_read is not None and s.plate_read.text == "7XK123" for s in summaries)


def test_a_plate_that_does_not_fit_does_not_alert(bank: ClassifierBank) -> None:
    recognizer, sink, _ = make(bank, FakeReader(text="QQQ999"))
    drive(recognizer, {"cam": WIDE[:1]}, frames=45)
    assert sink.alerts == []


def test_small_boxes_are_not_read_and_reads_are_spaced(bank: ClassifierBank) -> None:
    reader = FakeReader(conf=0.5)  # never settles
    recognizer, _, metrics = make(bank, reader, every_frames=5, max_reads=100)
    drive(recognizer, {"cam": [Car("red", 0, 20.0, width=80.0)]}, frames=30)
    assert reader.crops == []
    drive(recognizer, {"cam": [Car("red", 0, 20.0, width=170.0, speed=6.0, frames=40)]}, frames=40)
    reads = sample(metrics, "vehiclewatch_plate_reads_total", camera="cam", result="read")
    assert 7 <= reads <= 9  # about every 5th of 40 frames
    recognizer2, _, metrics2 = make(bank, FakeReader(conf=0.5), every_frames=1, max_reads=3)
    drive(recognizer2, {"cam": WIDE[:1]}, frames=40)
    assert sample(metrics2, "vehiclewatch_plate_reads_total", camera="cam", result="read") == 3


def test_reading_is_bounded_per_batch_and_skips_are_counted(bank: ClassifierBank) -> None:
    two = [Car("red", 0, 10.0, width=170.0, speed=4.0), Car("blue", 0, 125.0, width=170.0, x0=400.0, speed=0.5)]
    # Each read takes 0.3 s against a 250 ms budget: after the first chunk (2 crops) the batch's rest is skipped.
    reader = FakeReader(conf=0.5, seconds=0.3)
    recognizer, _, metrics = make(bank, reader, every_frames=1, max_crops_per_batch=4, budget_ms=250.0)
    drive(recognizer, {"a": two, "b": two}, frames=6, batch=1)
    assert set(reader.crops) == {2}
    # Four tracks are due on each frame once the tracker has confirmed them (after the first frame or two).
    assert 8 <= sample(metrics, "vehiclewatch_plate_reads_skipped_total", reason="budget") <= 2 * 6
    # The limit: one crop per batch, the widest first; the others are counted.
    reader = FakeReader(conf=0.5)
    recognizer, _, metrics = make(bank, reader, every_frames=1, max_crops_per_batch=1)
    drive(recognizer, {"a": two}, frames=6)
    assert set(reader.crops) == {1}
    # Both cars are due on each frame once both are confirmed: one read, one skip.
    skipped = sample(metrics, "vehiclewatch_plate_reads_skipped_total", reason="limit")
    assert len(reader.crops) - 2 <= skipped <= len(reader.crops)


class BrokenReader(FakeReader):
    def read(self, crops: Sequence[NDArray[np.uint8]]) -> list[PlateReading | None]:
        raise RuntimeError("cannot read")


def test_a_failing_reader_costs_plates_not_alerts(bank: ClassifierBank, caplog: pytest.LogCaptureFixture) -> None:
    sink, metrics = Recorder(), Metrics()
    settings = PlateStageSettings(enabled=True)
    recognizer = Recognizer(
        CountingClassifier(bank),
        Matcher([WatchlistEntry(id="red-car", color="red")]),
        Cooldown(0.0),
        sink,
        metrics,
        TrackingSettings(plates=settings),
        plates=PlateStage(BrokenReader(), settings, metrics),
    )
    drive(recognizer, {"cam": WIDE[:1]}, frames=20)
    assert [a.entry.id for a, _ in sink.alerts] == ["red-car"]
    assert sink.alerts[0][0].plate_read is None
    assert sample(metrics, "vehiclewatch_plate_reads_skipped_total", reason="error") >= 1
    assert "plate reader failed" in caplog.text


def test_no_plate_stage_unless_enabled() -> None:
    assert open_plate_reader(PlateStageSettings()) is None


def test_without_the_extra_a_configured_plate_reader_fails_at_start_in_one_line(
    tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if rapidocr were not installed: importing it fails.
    for name in [n for n in sys.modules if n == "rapidocr" or n.startswith("rapidocr.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "rapidocr", None)
    scene = make_scene(tmp_path, frames=3)
    settings = scene.settings(redis_url)
    settings["tracking"] = {"plates": {"enabled": True}}
    service = Service(load_settings(None, settings))
    with pytest.raises(StartupError) as error:
        service.start()
    message = str(error.value)
    assert "pip install 'vehiclewatch[plates]'" in message
    assert "\n" not in message
