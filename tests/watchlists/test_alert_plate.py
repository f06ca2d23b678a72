"""The plate in alerts and track summaries (alert schema 3): present when read, left out of the JSON when not."""

from __future__ import annotations

import json

from tests.watchlists.test_alerts import make_alert
from watchlists.alerts import Alert, Box, PlateReadOut
from watchlists.track_events import TrackSummary, build_summary

PLATE = PlateReadOut(
    text="7XK123",
    confidence=0.81,
    char_confidences=[0.99, 0.95, 0.9, 0.99, 0.98, 0.97],
    box=Box(x1=1, y1=2, x2=30, y2=9),
    reads=3,
)


def test_an_alert_without_a_plate_has_no_plate_key() -> None:
    text = make_alert().to_json()
    assert "plate_read" not in json.loads(text)
    assert Alert.from_json(text).plate_read is None


def test_an_alert_with_a_plate_round_trips() -> None:
    alert = make_alert(plate_read=PLATE)
    data = json.loads(alert.to_json())
    assert data["schema_version"] == 4
    assert data["plate_read"]["text"] == "7XK123"
    assert data["plate_read"]["char_confidences"][2] == 0.9
    assert Alert.from_json(alert.to_json()) == alert


def test_track_summaries_carry_the_plate() -> None:
    common = {
        "camera_id": "cam",
        "track_id": 3,
        "first_seen": 1.0,
        "last_seen": 2.0,
        "first_frame": 0,
        "last_frame": 25,
        "frames_seen": 20,
        "views_fused": 2,
        "detector_class": "car",
        "classification": None,
    }
    plain = build_summary(**common)  # type: ignore[arg-type]
    assert "plate_read" not in json.loads(plain.to_json())
    plated = build_summary(**common, plate_read=PLATE)  # type: ignore[arg-type]
    assert TrackSummary.from_json(plated.to_json()).plate_read == PLATE
