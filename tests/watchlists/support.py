"""Alerts for the Redis-backed watchlist tests (stream reads and a restartable Redis: tests.redisbus.support)."""

from __future__ import annotations

from datetime import UTC, datetime

import redis

from tests.redisbus.support import xrange
from watchlists.alerts import Alert, Box, EntryRef, LabelProb


def make_alert(entry_id: str = "red-van", index: int = 0, camera_id: str = "gate") -> Alert:
    return Alert(
        captured_at=datetime.now(UTC),
        camera_id=camera_id,
        frame_index=index,
        box=Box(x1=10, y1=20, x2=110, y2=90),
        detector_class="car",
        detector_confidence=0.9,
        classifications={"color": [LabelProb(label="red", prob=0.8)]},
        entry=EntryRef(id=entry_id, description="Red van"),
        score=0.8,
        field_scores={"color": 0.8},
    )


def stream_alerts(client: redis.Redis, stream: str = "vehiclewatch:alerts") -> list[Alert]:
    return [Alert.from_json(fields[b"alert"]) for _, fields in xrange(client, stream)]
