"""The recognise flow's steps one by one (select, classify, fuse, match, alert policy) and the flow with tracking
off (every box a one-view track), on synthetic frames with a real (synthetic ONNX) classifier."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from classifiers.bank import ClassifierBank
from classifiers.settings import ClassifierSettings
from detectors.types import Detections
from streamer.recognize.alert_policy import AlertPolicy
from streamer.recognize.batch import DetectedBatch, DetectedFrame
from streamer.recognize.classify import classify_views
from streamer.recognize.flow import Recognizer
from streamer.recognize.fuse import drop_views, fuse_views
from streamer.recognize.match import match_tracks
from streamer.recognize.select import select_views
from streamer.recognize.settings import TrackingSettings
from streamer.recognize.track_book import TrackBook, TrackRecord
from streamer.recognize.tracking import UNTRACKED
from streamer.service.metrics import Metrics
from streamer.sources.frames import Frame
from tests.streamer.recognize.support import ENTRIES, CountingClassifier, Recorder, render_boxes
from tests.synthetic_classifier import make_color_classifier
from watchlists.cooldown import Cooldown
from watchlists.entries import WatchlistEntry
from watchlists.live import LiveMatcher
from watchlists.matching import Matcher

RED = np.array([40, 40, 160, 112], np.float32)
BLUE = np.array([300, 60, 420, 132], np.float32)
TINY = np.array([500, 10, 520, 22], np.float32)  # under the bank's min_crop_size


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> ClassifierBank:
    path = make_color_classifier(tmp_path_factory.mktemp("clf") / "color.onnx")
    return ClassifierBank.from_settings(ClassifierSettings(models=[{"model": str(path), "providers": ["cpu"]}]))


def frame_of(placed: list[tuple[str, NDArray[np.float32]]], index: int = 0, camera: str = "cam") -> DetectedFrame:
    image, detections = render_boxes(placed, np.random.default_rng(index))
    return DetectedFrame(Frame(camera, index, 1000.0 + index, index / 25, image), detections)


def tracked(item: DetectedFrame, ids: list[int]) -> DetectedFrame:
    return DetectedFrame(item.frame, item.detections.with_track_ids(np.asarray(ids, np.int64)))


class Books:
    def __init__(self, lost_frames: int = 30) -> None:
        self.books: dict[str, TrackBook] = {}
        self.lost_frames = lost_frames

    def __call__(self, camera_id: str) -> TrackBook:
        if camera_id not in self.books:
            self.books[camera_id] = TrackBook(camera_id, self.lost_frames, 100, TrackingSettings().fusion)
        return self.books[camera_id]


# --- select ------------------------------------------------------------------------------------------------------


def test_select_one_view_takes_every_box_without_the_gate() -> None:
    item = tracked(frame_of([("red", RED), ("blue", BLUE)]), [1, 2])
    books, metrics = Books(), Metrics()
    selection = select_views(DetectedBatch((item,)), books, TrackingSettings(), metrics, classify=True, one_view=True)
    [chosen] = selection.to_classify
    assert chosen.detections.track_ids is not None
    assert chosen.detections.track_ids.tolist() == [1, 2]
    assert chosen.detections.column("quality").tolist() == [1.0, 1.0]
    assert [r.track_id for r in selection.seen] == [1, 2]
    assert all(r.best_crop is not None for r in selection.seen)
    assert metrics.registry.get_sample_value("vehiclewatch_crops_detected_total", {"camera": "cam"}) == 2


def test_select_leaves_untracked_boxes_out_and_weights_by_quality() -> None:
    item = tracked(frame_of([("red", RED), ("blue", BLUE)]), [7, UNTRACKED])
    selection = select_views(
        DetectedBatch((item,)), Books(), TrackingSettings(), Metrics(), classify=True, one_view=False
    )
    [chosen] = selection.to_classify
    assert chosen.detections.track_ids is not None
    assert chosen.detections.track_ids.tolist() == [7]
    assert 0.0 < float(chosen.detections.column("quality")[0]) <= 1.0
    assert [r.track_id for r in selection.seen] == [7]
    np.testing.assert_array_equal(selection.seen[0].last_box, RED)


def test_select_without_classifiers_still_follows_tracks() -> None:
    item = tracked(frame_of([("red", RED)]), [3])
    selection = select_views(
        DetectedBatch((item,)), Books(), TrackingSettings(), Metrics(), classify=False, one_view=False
    )
    assert selection.to_classify == ()
    assert [r.track_id for r in selection.seen] == [3]


# --- classify and fuse -------------------------------------------------------------------------------------------


def test_classify_adds_a_column_aligned_with_the_boxes(bank: ClassifierBank) -> None:
    item = tracked(frame_of([("red", RED), ("blue", TINY), ("blue", BLUE)]), [1, 2, 3])
    item = DetectedFrame(item.frame, item.detections.with_columns(quality=np.ones(3, np.float32)))
    metrics = Metrics()
    [classified], count = classify_views(bank, [item], metrics)
    labels = [
        None if c is None else c.heads["color"].top(1)[0].label for c in classified.detections.column("classification")
    ]
    assert labels == ["red", None, "blue"]
    assert count == 2
    assert metrics.registry.get_sample_value("vehiclewatch_crops_skipped_total", {"reason": "too_small"}) == 1


def test_classify_tells_the_classifier_each_frames_camera_and_tracks(bank: ClassifierBank) -> None:
    classifier = CountingClassifier(bank)
    item = tracked(frame_of([("red", RED), ("blue", BLUE)]), [4, 7])
    item = DetectedFrame(item.frame, item.detections.with_columns(quality=np.ones(2, np.float32)))
    classify_views(classifier, [item], Metrics())
    assert classifier.cameras == [item.frame.camera_id]  # the colour recogniser adapts per camera
    assert classifier.tracks == [[4, 7]]


def test_fuse_adds_views_and_gives_back_unused_schedules(bank: ClassifierBank) -> None:
    books = Books()
    item = tracked(frame_of([("red", RED), ("blue", TINY)]), [1, 2])
    selection = select_views(DetectedBatch((item,)), books, TrackingSettings(), Metrics(), classify=True, one_view=True)
    classified, _ = classify_views(bank, selection.to_classify, Metrics())
    updated = fuse_views(classified, books, one_view=True)
    red, tiny = books("cam").get(1), books("cam").get(2)
    assert updated == {red}
    assert red.fusion.views == 1
    assert red.fused is not None
    assert red.pending_views == 0
    assert tiny.fusion.views == 0
    assert tiny.fused is None
    assert tiny.pending_views == 0


def test_a_failed_classification_frees_the_schedule() -> None:
    books = Books()
    item = tracked(frame_of([("red", RED)]), [1])
    selection = select_views(
        DetectedBatch((item,)), books, TrackingSettings(), Metrics(), classify=True, one_view=False
    )
    assert books("cam").get(1).pending_views == 1
    drop_views(selection.to_classify, books)
    assert books("cam").get(1).pending_views == 0


# --- match and alert policy --------------------------------------------------------------------------------------


def classified_tracks(bank: ClassifierBank, books: Books, one_view: bool) -> list[TrackRecord]:
    item = tracked(frame_of([("red", RED), ("blue", BLUE)]), [1, 2])
    selection = select_views(
        DetectedBatch((item,)), books, TrackingSettings(), Metrics(), classify=True, one_view=one_view
    )
    classified, _ = classify_views(bank, selection.to_classify, Metrics())
    fuse_views(classified, books, one_view=one_view)
    return list(selection.seen)


def test_match_again_when_the_watchlist_changes(bank: ClassifierBank) -> None:
    books = Books()
    seen = classified_tracks(bank, books, one_view=True)
    live = LiveMatcher(Matcher([ENTRIES[0]]))
    match_tracks(live, seen, set(seen), Metrics())
    assert [[m.entry.id for m in r.matches] for r in seen] == [["red-car"], []]
    live.swap(Matcher(ENTRIES))
    match_tracks(live, seen, set(), Metrics())  # no new views: the new revision alone matches again
    assert [[m.entry.id for m in r.matches] for r in seen] == [["red-car"], ["blue-car"]]


def test_alert_policy_once_per_track_and_cooldown_counted_once(bank: ClassifierBank) -> None:
    books = Books()
    seen = classified_tracks(bank, books, one_view=False)
    red = [r for r in seen if r.track_id == 1]
    match_tracks(Matcher([WatchlistEntry(id="red-car", color="red")]), red, set(red), Metrics())
    sink, metrics = Recorder(), Metrics()
    policy = AlertPolicy(Cooldown(3600.0), sink, metrics, min_views=1, top_k=3, one_view=False)
    [alert] = policy.consider(red)
    assert alert.track_id == 1
    assert alert.views_fused == 1
    assert sink.alerts[0][1] is not None  # the track's best snapshot
    assert policy.consider(red) == []  # once per track
    other = books("cam").observe(9, 1, 1001.0, "car")
    other.fused, other.matches = red[0].fused, red[0].matches
    assert red[0].fused is not None
    other.fusion.add(red[0].fused)
    assert policy.consider([other]) == []
    assert policy.consider([other]) == []
    assert metrics.registry.get_sample_value("vehiclewatch_alerts_suppressed_total", {"entry": "red-car"}) == 1


def test_alert_policy_waits_for_min_views(bank: ClassifierBank) -> None:
    seen = classified_tracks(bank, Books(), one_view=False)
    match_tracks(Matcher(ENTRIES), seen, set(seen), Metrics())
    policy = AlertPolicy(Cooldown(0.0), Recorder(), Metrics(), min_views=2, top_k=3, one_view=False)
    assert policy.consider(seen) == []


# --- the flow with tracking off ----------------------------------------------------------------------------------


def test_tracking_off_every_box_is_a_one_view_track(bank: ClassifierBank) -> None:
    classifier, sink, metrics = CountingClassifier(bank), Recorder(), Metrics()
    recognizer = Recognizer(
        classifier, Matcher(ENTRIES), Cooldown(0.0), sink, metrics, TrackingSettings(enabled=False), events=sink
    )
    for index in range(3):
        recognizer.process(DetectedBatch((frame_of([("red", RED), ("blue", BLUE), ("red", TINY)], index),)))
    alerts = [alert for alert, _ in sink.alerts]
    # Every classifiable box of every frame is classified once and alerts on its own, with no track to name.
    assert classifier.calls == 3
    assert recognizer.crops_classified == 6
    assert sorted(a.entry.id for a in alerts) == ["blue-car"] * 3 + ["red-car"] * 3
    assert all(a.track_id is None and a.views_fused is None for a in alerts)
    assert all(crop is not None and crop.size for _, crop in sink.alerts)
    assert sink.events == []  # no track summaries without tracking
    assert len(recognizer.book("cam")) == 0  # one-view tracks end with their batch
    assert metrics.registry.get_sample_value("vehiclewatch_tracks_ended_total", {"camera": "cam"}) is None


def test_tracking_off_keeps_the_camera_cooldown(bank: ClassifierBank) -> None:
    sink = Recorder()
    recognizer = Recognizer(bank, Matcher(ENTRIES), Cooldown(60.0), sink, Metrics(), TrackingSettings(enabled=False))
    for index in range(3):
        recognizer.process(DetectedBatch((frame_of([("red", RED)], index),)))
    assert [alert.entry.id for alert, _ in sink.alerts] == ["red-car"]


def test_detections_columns_follow_filtering() -> None:
    detections = Detections(
        np.zeros((3, 4), np.float32), np.ones(3, np.float32), np.zeros(3, np.int32), ("a", "b", "c")
    ).with_columns(quality=np.array([0.1, 0.2, 0.3], np.float32))
    kept = detections.filter(np.array([True, False, True]))
    assert kept.column("quality").tolist() == pytest.approx([0.1, 0.3])
    with pytest.raises(KeyError, match="no data column 'classification'"):
        kept.column("classification")
    with pytest.raises(ValueError, match="data column 'x' must have 3 rows"):
        detections.with_columns(x=np.zeros(2))
