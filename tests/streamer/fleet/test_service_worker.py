"""The service as a fleet worker, in process: cameras start and stop with the registry, the metrics follow the
ownership (no stale state of a camera handed over), and stopping hands every camera over."""

from __future__ import annotations

from pathlib import Path

import redis
from prometheus_client import CollectorRegistry

from streamer.fleet.leases import LeaseTable
from streamer.fleet.registry import CameraRegistry, RegisteredCamera
from streamer.service.config import load_settings
from streamer.service.wiring import Service
from tests.redisbus.support import wait_for
from tests.streamer.scene import make_scene


def test_worker_service_follows_the_registry(tmp_path: Path, redis_url: str, redis_client: redis.Redis) -> None:
    scene = make_scene(tmp_path, frames=25)
    settings = scene.settings(redis_url, metrics={"enabled": False})
    settings["cameras"] = [{"id": "from-config", "source": str(scene.video)}]  # not read by a worker
    settings["fleet"] = {"worker": True, "worker_id": "w1", "lease_ttl_s": 1.5, "reload_interval_s": 0.5}
    loaded = load_settings(None, settings)
    registry = CameraRegistry(redis_client, loaded.fleet)
    camera = {"source": str(scene.video), "loop": True, "pace": True}
    registry.put(RegisteredCamera.model_validate({"id": "c1", **camera}))
    service = Service(loaded, CollectorRegistry())
    service.start()
    sample = service.registry.get_sample_value
    try:
        assert [r.camera_id for r in service.readers] == ["c1"]  # claimed in the first cycle, before ready
        assert service.health().ready
        wait_for(lambda: (sample("vehiclewatch_frames_detected_total", {"camera": "c1"}) or 0) > 2)
        assert sample("vehiclewatch_camera_owner", {"camera": "c1", "worker": "w1"}) == 1
        registry.put(RegisteredCamera.model_validate({"id": "c2", **camera}))
        wait_for(lambda: {r.camera_id for r in service.readers} == {"c1", "c2"})
        registry.remove(["c1"])
        wait_for(lambda: [r.camera_id for r in service.readers] == ["c2"])
        # once its frames are through and its lease released, the camera's state series is gone
        wait_for(lambda: sample("vehiclewatch_camera_owner", {"camera": "c1", "worker": "w1"}) is None)
        assert sample("vehiclewatch_camera_state", {"camera": "c1", "state": "stopped"}) is None
        assert sample("vehiclewatch_camera_owner", {"camera": "c1", "worker": "w1"}) is None
        assert sample("vehiclewatch_worker_cameras_owned", {"worker": "w1"}) == 1
        assert list(service.frames.buffers) == ["c2"]
    finally:
        service.stop()
    assert LeaseTable(redis_client, loaded.fleet.key_prefix).owners(["c1", "c2"]) == {}  # handed over
    assert sample("vehiclewatch_lease_releases_total", {"worker": "w1", "reason": "shutdown"}) == 1
    assert sample("vehiclewatch_lease_releases_total", {"worker": "w1", "reason": "removed"}) == 1
