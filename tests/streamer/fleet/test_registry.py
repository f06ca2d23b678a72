"""The camera registry on a real Redis: stored with credentials, shown without, malformed entries reported apart."""

from __future__ import annotations

import json
import time

import pytest
import redis

from streamer.fleet.registry import CameraRegistry, RegisteredCamera, RegistryError, parse_camera
from streamer.fleet.settings import FleetSettings

SECRET = "rtsp://admin:hunter2@10.0.0.5/stream?token=abc"


def test_put_load_and_change_notification(redis_client: redis.Redis) -> None:
    registry = CameraRegistry(redis_client, FleetSettings())
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(registry.channel)
    camera = parse_camera({"id": "gate", "source": SECRET, "detect_fps": 5, "labels": {"site": "north"}}, "test")
    assert registry.put(camera) == 1
    message = None
    deadline = time.monotonic() + 5
    while message is None and time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.5)  # the first call may only take the subscription's confirmation
    assert message is not None
    assert json.loads(message["data"]) == {"op": "put", "ids": ["gate"], "revision": 1}
    stored = registry.get("gate")
    assert stored == camera
    assert stored is not None
    assert stored.source.get_secret_value() == SECRET  # the worker needs the credentials
    assert stored.settings().source.get_secret_value() == SECRET
    assert "hunter2" not in repr(stored)
    assert "hunter2" not in str(stored.settings())
    with pytest.raises(RegistryError, match="already registered"):
        registry.put(camera, replace=False)
    assert registry.remove(["gate", "nope"]) == ["gate"]
    assert registry.load().cameras == {}
    pubsub.close()


def test_malformed_entries_are_reported_and_the_others_load(redis_client: redis.Redis) -> None:
    settings = FleetSettings()
    registry = CameraRegistry(redis_client, settings)
    registry.put(RegisteredCamera.model_validate({"id": "good", "source": "/videos/a.mp4"}))
    redis_client.hset(settings.registry_key, "junk", "{not json")
    redis_client.hset(settings.registry_key, "badscheme", json.dumps({"id": "badscheme", "source": "ftp://u:pw@h/x"}))
    redis_client.hset(settings.registry_key, "moved", json.dumps({"id": "other", "source": "/videos/b.mp4"}))
    snapshot = registry.load()
    assert list(snapshot.cameras) == ["good"]
    messages = {p.camera_id: p.message for p in snapshot.problems}
    assert set(messages) == {"junk", "badscheme", "moved"}
    assert "unsupported scheme 'ftp'" in messages["badscheme"]
    assert "pw" not in messages["badscheme"]
    assert "stored under another id" in messages["moved"]


def test_parse_camera_names_every_bad_key_without_the_secret() -> None:
    with pytest.raises(RegistryError) as caught:
        parse_camera({"id": "bad id", "source": "rtsp://u:hunter2@h/x", "detect_fps": -1, "colour": 1}, "camera x")
    text = str(caught.value)
    assert text.startswith("camera x: ")
    assert "id:" in text
    assert "detect_fps:" in text
    assert "colour: unknown key" in text
    assert "hunter2" not in text
