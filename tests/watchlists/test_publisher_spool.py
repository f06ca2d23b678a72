"""AlertPublisher (and TrackEventPublisher) with the on-disk spool: an accepted alert is on disk, what Redis did not
get is replayed by the next publisher in order, a replay of an alert Redis has is not added twice, and
``deliverable`` follows Redis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from redisbus.settings import SpoolSettings
from redisbus.spool import Spool
from tests.redisbus.support import SpoolEvents, TcpRedis, stream_fields, wait_for
from tests.watchlists.support import make_alert, stream_alerts
from watchlists.publisher import SPOOL_KIND, AlertPublisher
from watchlists.settings import AlertSettings, TrackEventSettings
from watchlists.track_events import SPOOL_KIND as TRACK_KIND
from watchlists.track_events import STREAM_FIELD_TRACK, TrackEventPublisher, TrackSummary

FAST_RETRY = AlertSettings(retry_initial_s=0.02, retry_max_s=0.2)


def crop() -> np.ndarray[Any, np.dtype[np.uint8]]:
    return np.full((30, 40, 3), 120, np.uint8)


def test_alerts_accepted_while_redis_is_away_are_replayed_by_the_next_run(tmp_path: Path, tcp_redis: TcpRedis) -> None:
    client = tcp_redis.client()
    tcp_redis.stop()
    sent = [make_alert(index=i) for i in range(5)]
    with Spool(tmp_path / "spool", SpoolSettings()) as spool:
        publisher = AlertPublisher(client, FAST_RETRY, spool=spool).start()
        for alert in sent:
            assert publisher.submit(alert, crop())
        assert spool.keys(SPOOL_KIND) == [a.alert_id for a in sent]  # on disk when submit returned
        assert publisher.close(timeout=0.3) == 0  # none lost: kept for the next start
        assert publisher.stats().kept_at_close == 5

    tcp_redis.start()
    events = SpoolEvents()
    with Spool(tmp_path / "spool", SpoolSettings(), events) as spool:
        publisher = AlertPublisher(client, FAST_RETRY, spool=spool).start()
        wait_for(lambda: publisher.pending == 0)
        assert publisher.close() == 0
    arrived = stream_alerts(client)
    assert [a.alert_id for a in arrived] == [a.alert_id for a in sent]  # all, in order
    assert all(a.snapshot_key is not None and client.exists(a.snapshot_key) for a in arrived)
    assert events.replayed == ["alert"] * 5
    assert publisher.stats().published == 5
    client.close()


def test_a_replay_of_alerts_redis_has_already_adds_nothing(tmp_path: Path, tcp_redis: TcpRedis) -> None:
    """A crash after the write and before the spool removed the record: the record is replayed, and skipped."""
    client = tcp_redis.client()
    sent = [make_alert(index=i) for i in range(3)]
    with Spool(tmp_path, SpoolSettings()) as spool:
        with AlertPublisher(client, FAST_RETRY, spool=spool) as publisher:
            for alert in sent:
                publisher.submit(alert)
        # As if each removal had been lost in a crash: the records are back, as the spool would have kept them.
        for alert in sent:
            spool.append(SPOOL_KIND, alert.alert_id, alert.to_json().encode())
    with Spool(tmp_path, SpoolSettings()) as spool, AlertPublisher(client, FAST_RETRY, spool=spool) as publisher:
        wait_for(lambda: publisher.pending == 0)
    stats = publisher.stats()
    assert (stats.published, stats.duplicates) == (0, 3)
    assert [a.alert_id for a in stream_alerts(client)] == [a.alert_id for a in sent]  # each once
    client.close()


def test_deliverable_follows_redis(tmp_path: Path, tcp_redis: TcpRedis, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("redisbus.writer._PROBE_S", 0.05)  # the idle probe's period, shortened for the test
    client = tcp_redis.client()
    with Spool(tmp_path, SpoolSettings()) as spool, AlertPublisher(client, FAST_RETRY, spool=spool) as publisher:
        assert publisher.deliverable
        tcp_redis.stop()
        wait_for(lambda: not publisher.deliverable)  # found by the probe, with no alert to write
        assert publisher.submit(make_alert())
        tcp_redis.start()
        wait_for(lambda: publisher.deliverable and publisher.pending == 0)
    assert len(stream_alerts(client)) == 1
    client.close()


def test_track_events_wait_in_the_spool_too(tmp_path: Path, tcp_redis: TcpRedis) -> None:
    client = tcp_redis.client()
    tcp_redis.stop()
    settings = TrackEventSettings(enabled=True, retry_initial_s=0.02, retry_max_s=0.2)
    summary = TrackSummary.model_validate_json(
        '{"camera_id": "gate", "track_id": 7, "first_seen": "2024-07-01T12:00:00Z", "last_seen": '
        '"2024-07-01T12:00:04Z", "first_frame": 1, "last_frame": 90, "frames_seen": 80, "views_fused": 3, '
        '"detector_class": "car"}'
    )
    with Spool(tmp_path, SpoolSettings()) as spool:
        publisher = TrackEventPublisher(client, settings, spool=spool).start()
        assert publisher.submit(summary, crop())
        assert spool.keys(TRACK_KIND) == [summary.event_id]
        assert publisher.close(timeout=0.3) == 0
    tcp_redis.start()
    with Spool(tmp_path, SpoolSettings()) as spool:
        publisher = TrackEventPublisher(client, settings, spool=spool).start()
        wait_for(lambda: publisher.pending == 0)
        publisher.close()
    (fields,) = stream_fields(client, settings.stream)
    event = TrackSummary.from_json(fields[STREAM_FIELD_TRACK.encode()])
    assert event.event_id == summary.event_id
    assert event.best_snapshot_key is not None
    assert client.exists(event.best_snapshot_key)
    client.close()
