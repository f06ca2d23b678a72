"""The ByteTrack wrapper: stable ids, input order kept, duplicates merged, lost tracks forgotten (bounded memory)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from detectors.types import Detections
from streamer.recognize.settings import TrackerSettings
from streamer.recognize.tracking import UNTRACKED, ByteTracker, CameraTrackers, merge_duplicates


def boxes(
    rows: Sequence[Sequence[float]], scores: Sequence[float] | None = None, names: Sequence[str] = ()
) -> Detections:
    n = len(rows)
    names = tuple(names) or ("car",) * n
    return Detections(
        boxes=np.array(rows, np.float32).reshape(n, 4),
        scores=np.array(scores if scores is not None else [0.9] * n, np.float32),
        class_ids=np.array([7 if name == "truck" else 2 for name in names], np.int32),
        class_names=names,
    )


def car_at(x: float, y: float = 100.0, size: float = 60.0) -> list[float]:
    return [x, y, x + size, y + size * 0.75]


def run(tracker: ByteTracker, frames: Sequence[Detections]) -> list[Detections]:
    return [tracker.update(frame) for frame in frames]


def test_ids_are_stable_while_vehicles_move_and_new_tracks_wait_for_confirmation() -> None:
    tracker = ByteTracker(TrackerSettings())
    frames = [boxes([car_at(10 + 8 * i), car_at(400 - 6 * i, y=300)]) for i in range(30)]
    out = run(tracker, frames)
    assert out[0].track_ids is not None
    assert out[0].track_ids.tolist() == [UNTRACKED, UNTRACKED]  # confirm_frames=2: no id on the first sighting
    ids = {tuple(d.track_ids.tolist()) for d in out[1:] if d.track_ids is not None}
    assert len(ids) == 1
    (first, second) = ids.pop()
    assert first != second
    assert min(first, second) >= 0
    assert tracker.track_count == 2


def test_output_keeps_the_input_order_and_boxes() -> None:
    tracker = ByteTracker(TrackerSettings())
    a, b, c = car_at(10), car_at(200), car_at(400)
    run(tracker, [boxes([a, b, c]), boxes([a, b, c])])
    ordered = tracker.update(boxes([a, b, c]))
    shuffled = tracker.update(boxes([c, a, b]))
    assert ordered.track_ids is not None
    assert shuffled.track_ids is not None
    assert shuffled.track_ids.tolist() == [ordered.track_ids[2], ordered.track_ids[0], ordered.track_ids[1]]
    np.testing.assert_array_equal(shuffled.boxes, boxes([c, a, b]).boxes)


def test_low_scored_box_keeps_its_track_but_starts_none() -> None:
    settings = TrackerSettings(activation_confidence=0.6, high_confidence=0.5)
    tracker = ByteTracker(settings)
    out = run(tracker, [boxes([car_at(10 + 5 * i)], [0.9]) for i in range(3)])
    assert out[-1].track_ids is not None
    tracked_id = int(out[-1].track_ids[0])
    # The score dips under the first-pass threshold (occlusion): the second pass keeps the id.
    dipped = tracker.update(boxes([car_at(25), car_at(600)], [0.4, 0.4]))
    assert dipped.track_ids is not None
    assert dipped.track_ids.tolist() == [tracked_id, UNTRACKED]


def test_lost_tracks_are_forgotten_and_a_returning_vehicle_gets_a_new_id() -> None:
    tracker = ByteTracker(TrackerSettings(lost_frames=5))
    out = run(tracker, [boxes([car_at(10)]) for _ in range(3)])
    assert out[-1].track_ids is not None
    old_id = int(out[-1].track_ids[0])
    run(tracker, [Detections.empty() for _ in range(6)])
    assert tracker.track_count == 0
    back = run(tracker, [boxes([car_at(10)]) for _ in range(3)])
    assert back[-1].track_ids is not None
    assert int(back[-1].track_ids[0]) > old_id


def test_memory_stays_bounded_over_a_long_run_of_passing_vehicles() -> None:
    tracker = ByteTracker(TrackerSettings(lost_frames=10))
    counts = []
    seen: set[int] = set()
    for frame in range(3000):
        # A new vehicle enters every 20 frames and crosses the frame in 60: about three on screen at once.
        rows = [
            car_at(-60 + 20 * (frame - start), y=50 + 40 * ((start // 20) % 5)) for start in range(0, frame + 1, 20)
        ]
        rows = [r for r in rows if r[0] < 1280]
        out = tracker.update(boxes(rows) if rows else Detections.empty())
        if out.track_ids is not None:
            seen.update(int(i) for i in out.track_ids if i != UNTRACKED)
        counts.append(tracker.track_count)
    assert len(seen) >= 140  # ids keep coming...
    assert max(counts) <= 8  # ...but memory holds only those on screen or recently lost


@pytest.mark.parametrize(
    ("rows", "scores", "names", "iou", "kept"),
    [
        pytest.param([[0, 0, 100, 80], [1, 0, 100, 79]], [0.8, 0.4], ["car", "truck"], 0.7, ["car"], id="car+truck"),
        pytest.param([[0, 0, 100, 80], [1, 0, 100, 79]], [0.3, 0.6], ["car", "truck"], 0.7, ["truck"], id="best wins"),
        pytest.param([[0, 0, 100, 80], [60, 0, 160, 80]], [0.8, 0.8], ["car", "car"], 0.7, ["car", "car"], id="apart"),
        pytest.param([[0, 0, 100, 80], [1, 0, 100, 79]], [0.8, 0.4], ["car", "truck"], 1.0, ["car", "truck"], id="off"),
        pytest.param([[0, 0, 100, 80]], [0.8], ["bus"], 0.7, ["bus"], id="single"),
    ],
)
def test_merge_duplicates(
    rows: list[list[float]], scores: list[float], names: list[str], iou: float, kept: list[str]
) -> None:
    assert list(merge_duplicates(boxes(rows, scores, names), iou).class_names) == kept


def test_cross_class_duplicates_make_one_track() -> None:
    trackers = CameraTrackers(TrackerSettings())
    for i in range(5):
        out = trackers.update("cam", boxes([car_at(10 + i), car_at(11 + i)], [0.9, 0.5], ["car", "truck"]))
    assert len(out) == 1
    assert trackers.track_count("cam") == 1


def test_one_tracker_per_camera_with_distinct_ids() -> None:
    trackers = CameraTrackers(TrackerSettings())
    same_place = boxes([car_at(10)])
    for _ in range(3):
        a = trackers.update("a", same_place)
        b = trackers.update("b", same_place)
    assert a.track_ids is not None
    assert b.track_ids is not None
    assert a.track_ids[0] != b.track_ids[0]
    assert set(trackers.cameras) == {"a", "b"}
    trackers.prepare(["c", "a"])  # made up front for a known camera; existing ones are kept
    assert set(trackers.cameras) == {"a", "b", "c"}
    assert trackers.track_count("c") == 0
    assert trackers.track_count("a") == trackers.track_count("b") == 1
    assert trackers.track_count("never seen") == 0


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({}, None),
        ({"activation_confidence": 0.6, "high_confidence": 0.5}, None),
        ({"activation_confidence": 0.4, "high_confidence": 0.5}, "activation_confidence"),
        ({"min_iou": 0.0}, "min_iou"),
        ({"lost_frames": 0}, "lost_frames"),
        ({"confirm_frames": 0}, "confirm_frames"),
        ({"merge_iou": 1.5}, "merge_iou"),
        ({"algorithm": "sort"}, "algorithm"),
        ({"lost_frame": 3}, "lost_frame"),
    ],
)
def test_settings(fields: dict[str, Any], error: str | None) -> None:
    if error is None:
        TrackerSettings(**fields)
        return
    with pytest.raises(ValidationError, match=error):
        TrackerSettings(**fields)
