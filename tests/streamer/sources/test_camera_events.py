"""Camera state changes as events: metrics, and "camera down"/"back up" on the track events stream (real Redis)."""

from __future__ import annotations

import redis
from prometheus_client import CollectorRegistry

from streamer.service.metric_hooks import CameraMetrics
from streamer.service.metrics import Metrics
from streamer.sources.buffers import FrameBufferGroup
from streamer.sources.camera import CameraReader, CameraState
from streamer.sources.camera_state import AvailabilityTracker, CameraStateChange
from tests.redisbus.support import stream_fields, wait_for
from tests.streamer.sources.support import SECRET, ScriptedFactory, start_reader, wait_until
from watchlists.settings import TrackEventSettings
from watchlists.track_events import STREAM_FIELD_CAMERA, CameraEvent, TrackEventPublisher

S = CameraState


def _change(previous: CameraState, state: CameraState, camera: str = "gate") -> CameraStateChange:
    return CameraStateChange(camera, previous, state, "why", 0.0)


def test_only_coming_up_going_down_and_stopping_are_news() -> None:
    tracker = AvailabilityTracker()
    news = [
        tracker.is_news(_change(before, after))
        for before, after in [
            (S.NOT_STARTED, S.CONNECTING),
            (S.CONNECTING, S.RECONNECTING),  # never came up: down
            (S.RECONNECTING, S.CONNECTING),
            (S.CONNECTING, S.RECONNECTING),  # still down: a retry, not news
            (S.RECONNECTING, S.CONNECTING),
            (S.CONNECTING, S.STREAMING),  # up
            (S.STREAMING, S.RECONNECTING),  # down
            (S.RECONNECTING, S.STOPPED),  # stopped
        ]
    ]
    assert news == [False, True, False, False, False, True, True, True]
    assert tracker.is_news(_change(S.CONNECTING, S.RECONNECTING, camera="other"))  # per camera


def test_camera_down_and_up_reach_metrics_and_the_stream(
    readers: list[CameraReader], redis_client: redis.Redis, redis_url: str
) -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.declare_camera("gate")
    events = TrackEventPublisher(redis.Redis.from_url(redis_url), TrackEventSettings(enabled=True, stream="t:ev"))
    events.start()
    # frames, a read error (down), then frames again after reconnecting (up)
    factory = ScriptedFactory(["frame", "frame", "error"], ["frame"])
    group = FrameBufferGroup()
    reader = start_reader(
        readers,
        group,
        CameraMetrics(metrics, events),
        id="gate",
        source=f"rtsp://admin:{SECRET}@127.0.0.1:9/s",
        backoff_initial_s=0.05,
        backoff_max_s=0.1,
        source_factory=factory,
    )
    wait_until(lambda: factory.opened == 2 and reader.state is S.STREAMING, what="the second connection")
    reader.stop()
    assert events.close() == 0

    fields = stream_fields(redis_client, "t:ev")
    camera_events = [CameraEvent.model_validate_json(entry[STREAM_FIELD_CAMERA.encode()]) for entry in fields]
    assert [(e.previous, e.state) for e in camera_events] == [
        ("connecting", "streaming"),
        ("streaming", "reconnecting"),
        ("connecting", "streaming"),
        ("streaming", "stopped"),
    ]
    assert {entry[b"camera_id"] for entry in fields} == {b"gate"}
    down, up = camera_events[1:3]
    assert "read failed" in down.reason
    assert up.reason.startswith("streaming again after ")  # how long it was down
    assert up.at >= down.at
    assert SECRET not in b"".join(b"".join(entry.values()) for entry in fields).decode()

    def changes(state: str) -> float | None:
        return registry.get_sample_value("vehiclewatch_camera_state_changes_total", {"camera": "gate", "state": state})

    wait_for(lambda: changes("stopped") == 1.0)
    assert changes("streaming") == 2.0
    assert changes("reconnecting") == 1.0
    assert registry.get_sample_value("vehiclewatch_camera_state", {"camera": "gate", "state": "stopped"}) == 1.0
