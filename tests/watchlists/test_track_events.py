"""Track summary events: the message, and publishing to their own stream on a real Redis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import redis
from pydantic import ValidationError
from redis.backoff import NoBackoff
from redis.retry import Retry

from classifiers.types import Classification, HeadScores
from tests.redisbus.support import stream_fields
from watchlists.settings import TrackEventSettings
from watchlists.track_events import STREAM_FIELD_TRACK, TrackEventPublisher, TrackSummary, build_summary


def summary(**overrides: Any) -> TrackSummary:
    colour = HeadScores("color", ("red", "blue", "white"), np.array([0.9, 0.07, 0.03], np.float32))
    fields: dict[str, Any] = {
        "camera_id": "gate",
        "track_id": 17,
        "first_seen": 1_700_000_000.25,
        "last_seen": 1_700_000_004.5,
        "first_frame": 100,
        "last_frame": 227,
        "frames_seen": 120,
        "views_fused": 4,
        "detector_class": "car",
        "classification": Classification({"color": colour}),
        "label_changes": 1,
        "alerted_entries": ["red-car"],
        "top_k": 2,
    }
    fields.update(overrides)
    return build_summary(**fields)


def test_summary_round_trips_through_json() -> None:
    event = summary()
    again = TrackSummary.from_json(event.to_json())
    assert again == event
    assert [p.label for p in event.labels["color"]] == ["red", "blue"]
    assert event.first_seen.tzinfo is not None
    assert (event.last_seen - event.first_seen).total_seconds() == pytest.approx(4.25)
    assert event.best_snapshot_key is None
    assert event.schema_version == 2


def test_summary_of_a_track_never_classified() -> None:
    event = summary(classification=None, views_fused=0, alerted_entries=None)
    assert event.labels == {}
    assert event.alerted_entries == []


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"track_id": -1}, "track_id"),
        ({"frames_seen": 0}, "frames_seen"),
        ({"views_fused": -1}, "views_fused"),
    ],
)
def test_summary_validation(overrides: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        summary(**overrides)


def test_malformed_event_is_rejected() -> None:
    with pytest.raises(ValueError, match="camera_id"):
        TrackSummary.from_json('{"schema_version": 1, "track_id": 1}')


def crop() -> np.ndarray[Any, np.dtype[np.uint8]]:
    image = np.zeros((40, 60, 3), np.uint8)
    image[..., 2] = 220
    return image


def test_publisher_writes_events_and_snapshots(redis_client: redis.Redis, redis_url: str) -> None:
    settings = TrackEventSettings(enabled=True, stream="test:tracks", snapshot_ttl_s=60)
    publisher = TrackEventPublisher(redis.Redis.from_url(redis_url), settings).start()
    assert publisher.submit(summary(), crop())
    assert publisher.submit(summary(track_id=18), None)
    assert publisher.close() == 0
    assert publisher.published == 2

    entries = stream_fields(redis_client, "test:tracks")
    assert len(entries) == 2
    events = [TrackSummary.from_json(fields[STREAM_FIELD_TRACK.encode()]) for fields in entries]
    assert [e.track_id for e in events] == [17, 18]
    assert entries[0][b"camera_id"] == b"gate"
    assert entries[0][b"event_id"] == events[0].event_id.encode()
    key = events[0].best_snapshot_key
    assert key is not None
    assert key.startswith("vehiclewatch:track-snapshot:")
    jpeg = redis_client.get(key)
    assert isinstance(jpeg, bytes)
    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None
    assert decoded.shape == (40, 60, 3)
    assert 0 < redis_client.ttl(key) <= 60
    assert events[1].best_snapshot_key is None


def test_snapshots_can_be_turned_off(redis_client: redis.Redis, redis_url: str) -> None:
    settings = TrackEventSettings(enabled=True, stream="test:tracks", snapshot=False)
    publisher = TrackEventPublisher(redis.Redis.from_url(redis_url), settings).start()
    publisher.submit(summary(), crop())
    publisher.close()
    (fields,) = stream_fields(redis_client, "test:tracks")
    assert TrackSummary.from_json(fields[STREAM_FIELD_TRACK.encode()]).best_snapshot_key is None
    assert redis_client.keys("vehiclewatch:track-snapshot:*") == []


def test_full_queue_drops_new_events_instead_of_blocking(redis_url: str) -> None:
    settings = TrackEventSettings(enabled=True, max_pending=2)
    publisher = TrackEventPublisher(redis.Redis.from_url(redis_url), settings)  # not started: nothing drains
    assert [publisher.submit(summary(track_id=i)) for i in range(4)] == [True, True, False, False]
    assert publisher.dropped == 2
    assert publisher.pending == 2
    assert publisher.close() == 0  # close starts the thread and drains what was queued
    assert publisher.published == 2
    assert not publisher.submit(summary())  # closed


def test_unreachable_redis_loses_events_at_close_without_hanging(tmp_path: Path) -> None:
    # No client-side retries: the publisher's own retry loop is under test (and the test stays fast).
    client = redis.Redis(unix_socket_path=str(tmp_path / "absent.sock"), retry=Retry(NoBackoff(), 0))
    settings = TrackEventSettings(enabled=True, retry_initial_s=0.01, retry_max_s=0.05)
    publisher = TrackEventPublisher(client, settings).start()
    publisher.submit(summary())
    publisher.submit(summary(track_id=2))
    assert publisher.close(timeout=0.5) == 2
    assert publisher.errors >= 1
    assert publisher.published == 0


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({}, None),
        ({"enabled": True, "stream": "x"}, None),
        ({"stream": ""}, "stream"),
        ({"max_pending": 0}, "max_pending"),
        ({"jpeg_quality": 101}, "jpeg_quality"),
        ({"streem": "x"}, "streem"),
    ],
)
def test_settings(fields: dict[str, Any], error: str | None) -> None:
    if error is None:
        assert TrackEventSettings(**fields).enabled is fields.get("enabled", False)
        return
    with pytest.raises(ValidationError, match=error):
        TrackEventSettings(**fields)


def test_a_bug_drops_one_event_not_the_publisher(
    redis_client: redis.Redis, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    write = TrackEventPublisher._write

    def buggy(self: TrackEventPublisher, item: Any) -> None:
        if item.event.track_id == 13:
            raise TypeError("a bug")
        write(self, item)

    monkeypatch.setattr(TrackEventPublisher, "_write", buggy)
    settings = TrackEventSettings(enabled=True, stream="test:tracks")
    publisher = TrackEventPublisher(redis.Redis.from_url(redis_url), settings).start()
    publisher.submit(summary(track_id=13))
    publisher.submit(summary(track_id=14))
    assert publisher.close() == 0
    events = [
        TrackSummary.from_json(f[STREAM_FIELD_TRACK.encode()]) for f in stream_fields(redis_client, "test:tracks")
    ]
    assert [e.track_id for e in events] == [14]
