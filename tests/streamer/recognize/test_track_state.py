"""Crop quality gate, classification schedule, and the bounded per-camera track book."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray
from pydantic import ValidationError

from classifiers.settings import FusionSettings
from classifiers.types import Classification, HeadScores
from streamer.recognize.quality import CropQuality, GateResult, assess_quality
from streamer.recognize.schedule import Decision, ScheduleState, decide
from streamer.recognize.settings import QualitySettings, ScheduleSettings
from streamer.recognize.track_book import TrackBook


def textured_frame(height: int = 360, width: int = 640, seed: int = 0) -> NDArray[np.uint8]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def box(x1: float, y1: float, x2: float, y2: float) -> NDArray[np.float32]:
    return np.array([x1, y1, x2, y2], np.float32)


FRAME = textured_frame()
BLURRED = np.asarray(cv2.GaussianBlur(FRAME, (0, 0), 12), np.uint8)
FLAT = np.full_like(FRAME, 120)


@pytest.mark.parametrize(
    ("image", "b", "gate"),
    [
        pytest.param(FRAME, box(100, 100, 200, 180), GateResult.OK, id="large sharp inside"),
        pytest.param(FRAME, box(100, 100, 130, 180), GateResult.TOO_SMALL, id="narrow"),
        pytest.param(FRAME, box(100, 100, 200, 139), GateResult.TOO_SMALL, id="flat"),
        pytest.param(FRAME, box(-50, 100, 30, 180), GateResult.TOO_SMALL, id="mostly outside"),
        pytest.param(FRAME, box(1, 100, 100, 180), GateResult.CUT, id="left edge"),
        pytest.param(FRAME, box(100, 0, 200, 100), GateResult.CUT, id="top edge"),
        pytest.param(FRAME, box(540, 100, 639, 180), GateResult.CUT, id="right edge"),
        pytest.param(FRAME, box(100, 280, 200, 360), GateResult.CUT, id="bottom edge"),
        pytest.param(BLURRED, box(100, 100, 200, 180), GateResult.BLURRY, id="blurred"),
        pytest.param(FLAT, box(100, 100, 200, 180), GateResult.BLURRY, id="featureless"),
        pytest.param(FLAT, box(1, 100, 100, 180), GateResult.BLURRY, id="blurry beats cut"),
    ],
)
def test_quality_gate(image: NDArray[np.uint8], b: NDArray[np.float32], gate: GateResult) -> None:
    quality = assess_quality(image, b, QualitySettings())
    assert quality.gate is gate
    assert quality.ok is (gate is GateResult.OK)
    assert 0.0 < quality.score <= 1.0


def test_quality_score_prefers_larger_and_sharper_views() -> None:
    settings = QualitySettings()
    small = assess_quality(FRAME, box(100, 100, 150, 150), settings)
    large = assess_quality(FRAME, box(100, 100, 250, 250), settings)
    soft = assess_quality(np.asarray(cv2.GaussianBlur(FRAME, (0, 0), 2), np.uint8), box(100, 100, 250, 250), settings)
    cut = assess_quality(FRAME, box(0, 100, 150, 250), settings)
    assert large.score > small.score
    assert large.score > soft.score
    assert large.score > cut.score
    assert soft.sharpness < large.sharpness


def test_gate_can_be_relaxed() -> None:
    relaxed = QualitySettings(min_size=8, min_sharpness=0.0, edge_margin=0)
    assert assess_quality(FLAT, box(1, 100, 20, 120), relaxed).ok


OK = CropQuality(GateResult.OK, 80.0, 500.0, 0.4)
CUT = CropQuality(GateResult.CUT, 80.0, 500.0, 0.2)
BLURRY = CropQuality(GateResult.BLURRY, 80.0, 5.0, 0.01)
SMALL = CropQuality(GateResult.TOO_SMALL, 20.0, 0.0, 0.05)
S = ScheduleSettings(refresh_frames=10, growth=1.5, max_views=8, patience_frames=15)


@pytest.mark.parametrize(
    ("views", "since", "last_area", "settled", "quality", "area", "expected"),
    [
        # When to classify
        pytest.param(0, 1, 0.0, False, OK, 5000.0, Decision.CLASSIFY_NEW, id="new track, good view"),
        pytest.param(0, 14, 0.0, False, CUT, 5000.0, Decision.SKIP_QUALITY, id="new track at the edge waits"),
        pytest.param(0, 15, 0.0, False, CUT, 5000.0, Decision.CLASSIFY_PATIENCE, id="edge after patience"),
        pytest.param(0, 15, 0.0, False, BLURRY, 5000.0, Decision.CLASSIFY_PATIENCE, id="blurry after patience"),
        pytest.param(0, 100, 0.0, False, SMALL, 400.0, Decision.SKIP_QUALITY, id="too small never"),
        pytest.param(2, 3, 4000.0, False, OK, 6000.0, Decision.CLASSIFY_GROWN, id="box grew 1.5x"),
        pytest.param(2, 3, 4000.0, False, OK, 5900.0, Decision.SKIP_WAITING, id="grew less"),
        pytest.param(2, 10, 4000.0, False, OK, 4000.0, Decision.CLASSIFY_REFRESH, id="refresh due"),
        pytest.param(2, 9, 4000.0, False, OK, 4000.0, Decision.SKIP_WAITING, id="refresh not due"),
        pytest.param(2, 12, 4000.0, False, BLURRY, 4000.0, Decision.SKIP_QUALITY, id="refresh waits for a good view"),
        pytest.param(2, 15, 4000.0, False, BLURRY, 4000.0, Decision.CLASSIFY_PATIENCE, id="...but not forever"),
        # When to stop
        pytest.param(3, 50, 4000.0, True, OK, 9000.0, Decision.SKIP_SETTLED, id="settled: never again"),
        pytest.param(8, 50, 4000.0, False, OK, 9000.0, Decision.SKIP_MAX_VIEWS, id="max views reached"),
        pytest.param(7, 10, 4000.0, False, OK, 4000.0, Decision.CLASSIFY_REFRESH, id="one view left"),
    ],
)
def test_schedule_table(
    views: int,
    since: int,
    last_area: float,
    settled: bool,
    quality: CropQuality,
    area: float,
    expected: Decision,
) -> None:
    decision = decide(ScheduleState(views, since, last_area, settled), quality, area, S)
    assert decision is expected
    assert decision.classify is (expected.value in ("new", "grown", "refresh", "patience"))


def colour(red: float) -> Classification:
    probs = np.array([red, 1.0 - red], np.float32)
    return Classification({"color": HeadScores("color", ("red", "blue"), probs)})


@pytest.mark.parametrize(
    ("reds", "settled"),
    [
        pytest.param([0.95, 0.95, 0.95], True, id="three confident agreeing views"),
        pytest.param([0.95, 0.95], False, id="not yet stable"),
        pytest.param([0.6, 0.6, 0.6], False, id="agreeing but not confident"),
        pytest.param([0.75, 0.75, 0.75], False, id="fairly sure, three views"),
        pytest.param([0.75, 0.75, 0.75, 0.75, 0.75, 0.75], True, id="agreement builds confidence"),
        pytest.param([0.95, 0.95, 0.02, 0.02, 0.02], False, id="a flip restarts stability"),
        pytest.param([0.95, 0.95, 0.02, 0.02, 0.02, 0.02, 0.02], True, id="...until the new label holds"),
    ],
)
def test_track_settles_when_confident_and_stable(reds: list[float], settled: bool) -> None:
    book = TrackBook("cam", lost_frames=30, max_tracks=10, fusion=FusionSettings())
    settings = ScheduleSettings(stop_confidence=0.9, stable_views=3)
    record = book.observe(1, 0, 0.0, "car")
    for red in reds:
        record.schedule(1000.0)
        record.add_view(colour(red), 1.0, settings)
    assert record.settled is settled
    assert record.schedule_state().views == len(reds)
    assert record.pending_views == 0


def test_scheduled_views_count_before_their_results() -> None:
    book = TrackBook("cam", lost_frames=30, max_tracks=10, fusion=FusionSettings())
    record = book.observe(1, 0, 0.0, "car")
    record.schedule(2000.0)
    state = record.schedule_state()
    assert (state.views, state.frames_since_view, state.last_area) == (1, 0, 2000.0)
    assert decide(state, OK, 2000.0, S) is Decision.SKIP_WAITING  # not scheduled twice in one batch
    record.drop_view()
    assert record.schedule_state().views == 0


def test_book_expires_unseen_tracks_and_caps_their_number() -> None:
    book = TrackBook("cam", lost_frames=3, max_tracks=4, fusion=FusionSettings())
    for tick in range(1, 7):
        book.next_frame()
        book.observe(tick, tick, float(tick), "car")  # a new track per frame, each seen once
        ended = book.expire()
        assert len(book) <= 4
        if tick == 5:
            assert [r.track_id for r in ended] == [1]  # over the cap: the longest-unseen ends first
    book.next_frame()
    book.observe(6, 7, 7.0, "car")
    for _ in range(3):
        book.next_frame()
    assert [r.track_id for r in book.expire()] == [3, 4, 5]  # unseen for more than 3 frames
    assert 6 in book  # seen 3 frames ago
    assert [r.track_id for r in book.end_all()] == [6]
    assert len(book) == 0


def test_record_keeps_its_best_snapshot_as_a_bounded_copy() -> None:
    book = TrackBook("cam", lost_frames=30, max_tracks=10, fusion=FusionSettings())
    record = book.observe(1, 0, 0.0, "car")
    frame = textured_frame(800, 1200)
    record.offer_snapshot(frame, box(0, 0, 1000, 700), 0.5, frame_index=3)
    assert record.best_crop is not None
    assert max(record.best_crop.shape[:2]) == 512
    assert not np.shares_memory(record.best_crop, frame)
    record.offer_snapshot(frame, box(0, 0, 50, 50), 0.2, frame_index=4)  # worse: ignored
    assert record.best_frame == 3
    record.offer_snapshot(frame, box(0, 0, 120, 100), 0.6, frame_index=5)
    assert record.best_frame == 5
    assert record.best_crop.shape == (100, 120, 3)
    small = textured_frame(100, 200)
    record.offer_snapshot(small, box(0, 10, 200, 60), 0.7, frame_index=6)  # full width: a slice would be a view
    assert record.best_crop.shape == (50, 200, 3)
    assert not np.shares_memory(record.best_crop, small)


def test_record_counts_detector_classes() -> None:
    book = TrackBook("cam", lost_frames=30, max_tracks=10, fusion=FusionSettings())
    for i, name in enumerate(["car", "truck", "car"]):
        record = book.observe(9, i, float(i), name)
    assert record.detector_class == "car"
    assert (record.first_frame, record.last_frame, record.frames_seen) == (0, 2, 3)


@pytest.mark.parametrize(
    ("model", "fields", "error"),
    [
        (ScheduleSettings, {}, None),
        (ScheduleSettings, {"min_views_to_alert": 9, "max_views": 8}, "min_views_to_alert"),
        (ScheduleSettings, {"growth": 1.0}, "growth"),
        (ScheduleSettings, {"refresh_frames": 0}, "refresh_frames"),
        (ScheduleSettings, {"stop_confidence": 1.5}, "stop_confidence"),
        (QualitySettings, {}, None),
        (QualitySettings, {"min_size": 4}, "min_size"),
        (QualitySettings, {"min_sharpness": -1}, "min_sharpness"),
        (QualitySettings, {"blur": 3}, "blur"),
    ],
)
def test_settings(model: type[Any], fields: dict[str, Any], error: str | None) -> None:
    if error is None:
        model(**fields)
        return
    with pytest.raises(ValidationError, match=error):
        model(**fields)
