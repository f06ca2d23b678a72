"""The alert message: versioned JSON round trip, UTC times, time-sortable ids, built from a match."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from pydantic import ValidationError

from classifiers.types import Classification, HeadScores, LabelScore
from watchlists.alerts import (
    Alert,
    Box,
    EntryRef,
    LabelProb,
    LabelShare,
    alert_json_schema,
    build_alert,
    label_prob,
    label_share,
    new_alert_id,
)
from watchlists.entries import WatchlistEntry
from watchlists.matching import LabelContribution, Match, Matcher


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
    assert data["schema_version"] == 4
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
        ({"schema_version": 5}, "schema_version"),
        ({"schema_version": 1, "threshold": 2.0}, "threshold"),
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
        # The camera's make head is adapted; a head the vehicle's classification lacks is left out.
        decided_by={"make": "gate/v0002", "color": "base", "type": "base"},
    )
    assert alert.decided_by == {"make": "gate/v0002", "color": "base"}
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


def test_version_1_messages_still_parse() -> None:
    """A message written before version 2 (no priority, threshold, factors or breakdown) reads with defaults."""
    data = json.loads(make_alert().to_json())
    for key in ("threshold", "factors", "breakdown"):
        del data[key]
    data["entry"] = {"id": "stolen-civic", "description": "Silver Honda Civic"}
    alert = Alert.from_json(json.dumps(data | {"schema_version": 1}))
    assert (alert.schema_version, alert.entry.priority, alert.threshold, alert.breakdown) == (1, "normal", None, [])


def test_build_alert_carries_the_entry_and_the_breakdown() -> None:
    """A real match: entry priority/source/plate/expiry, threshold, factors and per-field labels go into the alert."""
    entry = WatchlistEntry(
        id="amber-7",
        description="silver Honda, partial plate 7XK",
        make="Honda",
        color="silver",
        plate="*7XK*",
        priority="critical",
        source="CA DOJ",
        expires_at=datetime(2030, 1, 1, tzinfo=UTC),
    )
    classification = Classification(
        {
            "make": HeadScores("make", ("Honda", "Ford"), np.array([0.8, 0.2], np.float32)),
            "color": HeadScores("color", ("white", "silver", "red"), np.array([0.5, 0.45, 0.05], np.float32)),
        }
    )
    [match] = Matcher([entry], default_threshold=0.4).match(classification, now=0.0)
    alert = build_alert(
        match=match,
        camera_id="gate",
        frame_index=1,
        captured_at=1_700_000_000.0,
        box=(0, 0, 10, 10),
        detector_class="car",
        detector_confidence=0.9,
        classification=classification,
    )
    assert alert.entry == EntryRef(
        id="amber-7",
        description="silver Honda, partial plate 7XK",
        priority="critical",
        source="CA DOJ",
        plate="*7XK*",
        expires_at=datetime(2030, 1, 1, tzinfo=UTC),
    )
    colour = 0.45 + 0.4 * 0.5  # silver itself, and white's partial credit
    assert alert.score == pytest.approx(0.8 * colour, rel=1e-5)
    assert alert.threshold == 0.4
    assert [(f.head, f.fields, round(f.score, 4)) for f in alert.factors] == [
        ("make", ["make"], 0.8),
        ("color", ["color"], round(colour, 4)),
    ]
    make, color, plate = alert.breakdown
    assert (make.field, make.wanted, make.head, [x.label for x in make.labels]) == ("make", "Honda", "make", ["Honda"])
    assert [x.label for x in color.labels] == ["silver", "white"]
    assert [v for x in color.labels for v in (x.prob, x.weight)] == pytest.approx([0.45, 1.0, 0.5, 0.4])
    assert (plate.field, plate.wanted, plate.head, plate.score, plate.note) == (
        "plate",
        "*7XK* (partial)",
        None,
        None,
        "not judged: no plate read",
    )
    assert Alert.from_json(alert.to_json()) == alert


def test_json_schema_describes_every_field() -> None:
    schema = alert_json_schema()
    assert schema["properties"]["schema_version"]["enum"] == [1, 2, 3, 4]
    assert set(schema["required"]) >= {"captured_at", "camera_id", "entry", "score"}
    assert "breakdown" in schema["properties"]
    assert "FieldExplanation" in schema["$defs"]


def test_labels_have_one_internal_type_and_keep_their_two_wire_shapes() -> None:
    """A contribution is a LabelScore with a weight; on the wire LabelProb and LabelShare keep their published
    names and fields (a share is a label with probability, plus its weight), values clipped to [0, 1]."""
    contribution = LabelContribution("silver", 1.0000001, 0.4)
    assert isinstance(contribution, LabelScore)
    assert label_prob(LabelScore("red", 1.0000001)) == LabelProb(label="red", prob=1.0)
    assert label_share(contribution) == LabelShare(label="silver", prob=1.0, weight=0.4)
    assert json.loads(label_share(contribution).model_dump_json()) == {"label": "silver", "prob": 1.0, "weight": 0.4}
    defs = alert_json_schema()["$defs"]
    assert list(defs["LabelProb"]["properties"]) == ["label", "prob"]
    assert list(defs["LabelShare"]["properties"]) == ["label", "prob", "weight"]
