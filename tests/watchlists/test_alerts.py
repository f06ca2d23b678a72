"""The alert message: versioned JSON round trip, UTC times, time-sortable ids, built from a match."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from pydantic import ValidationError

from classifiers.types import Classification, HeadScores
from watchlists.alerts import Alert, Box, EntryRef, build_alert, new_alert_id
from watchlists.entries import WatchlistEntry
from watchlists.matching import Match


def make_alert(**overrides: object) -> Alert:
    fields: dict[str, object] = {
        "captured_at": datetime(2024, 7, 1, 12, 0, 0, 250000, tzinfo=UTC),
        "camera_id": "gate",
        "frame_index": 1234,
        "box": Box(x1=410, y1=220.5, x2=690, y2=400),
        "detector_class": "car",
        "detector_confidence": 0.91,
        "classifications": {"make": [{"label": "Honda", "prob": 0.82}]},
        "entry": EntryRef(id="stolen-civic", description="Silver Honda Civic"),
        "score": 0.71,
        "field_scores": {"make": 0.82},
    }
    fields.update(overrides)
    return Alert.model_validate(fields)


def test_json_round_trip() -> None:
    alert = make_alert(snapshot_key="vehiclewatch:snapshot:x", published_at=datetime(2024, 7, 1, 12, 0, 1, tzinfo=UTC))
    text = alert.to_json()
    assert "\n" not in text
    assert Alert.from_json(text) == alert
    assert Alert.from_json(text.encode()) == alert
    data = json.loads(text)
    assert data["schema_version"] == 1
    assert data["track_id"] is None
    assert data["box"] == {"x1": 410.0, "y1": 220.5, "x2": 690.0, "y2": 400.0}
    assert data["captured_at"] == "2024-07-01T12:00:00.250000Z"


def test_times_are_utc() -> None:
    paris = timezone(timedelta(hours=2))
    alert = make_alert(captured_at=datetime(2024, 7, 1, 14, 0, tzinfo=paris))
    assert alert.captured_at == datetime(2024, 7, 1, 12, 0, tzinfo=UTC)
    assert alert.captured_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"schema_version": 2}, "schema_version"),
        ({"captured_at": datetime(2024, 7, 1, 12, 0)}, "timezone"),  # naive datetimes are refused
        ({"surprise": 1}, "Extra inputs are not permitted"),
        ({"score": 1.5}, "score"),
        ({"frame_index": -1}, "frame_index"),
    ],
)
def test_bad_alerts_are_refused(change: dict[str, object], message: str) -> None:
    data = json.loads(make_alert().to_json()) | {
        k: v.isoformat() if isinstance(v, datetime) else v for k, v in change.items()
    }
    with pytest.raises(ValidationError, match=message):
        Alert.from_json(json.dumps(data))


def test_ids_are_unique_uuid7_and_sorted_by_time() -> None:
    ids = [new_alert_id() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)  # a counter keeps ids of one millisecond in order
    assert all(uuid.UUID(i).version == 7 for i in ids)
    later = time.time() + 10
    assert new_alert_id(now=later) > ids[-1]
    assert uuid.UUID(new_alert_id(now=later + 1)).int >> 80 == int((later + 1) * 1000)  # 48-bit Unix milliseconds


def test_default_alert_ids_differ() -> None:
    assert make_alert().alert_id != make_alert().alert_id


def test_build_alert_from_a_match() -> None:
    entry = WatchlistEntry(id="red-honda", description="Red Honda", make="Honda", color="red")
    classification = Classification(
        {
            "make": HeadScores("make", ("Honda", "Ford", "BMW", "Audi"), np.array([0.7, 0.2, 0.06, 0.04], np.float32)),
            "color": HeadScores("color", ("red", "blue"), np.array([0.9, 0.1], np.float32)),
        }
    )
    match = Match(entry, 0.63, {"make": 0.7, "color": 0.9})
    alert = build_alert(
        match=match,
        camera_id="gate",
        frame_index=7,
        captured_at=1_700_000_000.5,
        box=np.array([1.5, 2, 30, 40], np.float32),  # a row of Detections.boxes
        detector_class="car",
        detector_confidence=0.8,
        classification=classification,
        top_k=3,
    )
    assert alert.captured_at == datetime.fromtimestamp(1_700_000_000.5, UTC)
    assert alert.entry == EntryRef(id="red-honda", description="Red Honda")
    assert [s.label for s in alert.classifications["make"]] == ["Honda", "Ford", "BMW"]
    assert alert.classifications["color"][0].prob == pytest.approx(0.9)
    assert alert.box == Box(x1=1.5, y1=2, x2=30, y2=40)
    assert (alert.score, alert.field_scores, alert.track_id, alert.snapshot_key) == (
        0.63,
        match.field_scores,
        None,
        None,
    )
    assert Alert.from_json(alert.to_json()) == alert
