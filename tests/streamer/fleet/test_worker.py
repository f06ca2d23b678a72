"""The fleet coordinator on a real Redis, with a recording host instead of camera readers: sharing, balancing,
registry changes, malformed entries, Redis going away while cameras are owned, and coming back."""

from __future__ import annotations

import time
from pathlib import Path

import redis
from prometheus_client import CollectorRegistry

from streamer.fleet.registry import CameraRegistry, RegisteredCamera
from streamer.fleet.settings import FleetSettings
from streamer.fleet.wiring import fleet_client
from streamer.fleet.worker import FleetWorker
from streamer.service.metrics import Metrics
from streamer.sources.camera_state import CameraState, CameraStats
from streamer.sources.settings import CameraSettings
from tests.redisbus.support import TcpRedis

PREFIX = "test:fleet"


class Host:
    """Records which cameras the worker runs (a CameraHost without readers)."""

    def __init__(self) -> None:
        self.running: dict[str, CameraSettings] = {}
        self.started: list[str] = []
        self.stopped_at: dict[str, float] = {}

    def start_camera(self, settings: CameraSettings) -> None:
        assert settings.id not in self.running
        self.running[settings.id] = settings
        self.started.append(settings.id)

    def stop_camera(self, camera_id: str) -> None:
        self.running.pop(camera_id, None)
        self.stopped_at[camera_id] = time.monotonic()

    def camera_stats(self, camera_id: str) -> CameraStats | None:
        if camera_id not in self.running:
            return None
        return CameraStats(
            camera_id=camera_id,
            source="x",
            state=CameraState.STREAMING,
            state_reason="streaming",
            frames_read=10,
            frames_sent=10,
            frames_skipped=0,
            frames_dropped=0,
            restarts=0,
            last_frame_at=time.time(),
            last_error=None,
            faults=0,
        )


def settings(worker_id: str, **fields: object) -> FleetSettings:
    base: dict[str, object] = {
        "worker": True,
        "worker_id": worker_id,
        "key_prefix": PREFIX,
        "lease_ttl_s": 1.5,
        "reload_interval_s": 0.5,
    }
    return FleetSettings.model_validate(base | fields)


def worker(client: redis.Redis, worker_id: str, **fields: object) -> tuple[FleetWorker, Host]:
    host = Host()
    fleet = FleetWorker(settings(worker_id, **fields), client, host, Metrics(CollectorRegistry()))
    fleet.register()
    return fleet, host


def register(client: redis.Redis, *ids: str, **fields: object) -> CameraRegistry:
    registry = CameraRegistry(client, settings("cli"))
    registry.put_many([RegisteredCamera.model_validate({"id": i, "source": f"/v/{i}.mp4", **fields}) for i in ids])
    return registry


def owners(*hosts: Host) -> list[str]:
    return sorted(c for host in hosts for c in host.running)


def test_two_workers_share_and_balance(redis_client: redis.Redis) -> None:
    registry = register(redis_client, "a", "b", "c", "d")
    w1, h1 = worker(redis_client, "w1")
    w1.cycle()
    assert sorted(h1.running) == ["a", "b", "c", "d"]  # alone: it covers everything
    w2, h2 = worker(redis_client, "w2")
    for _ in range(4):
        w1.cycle()
        w2.cycle()
    assert len(h1.running) == 2
    assert len(h2.running) == 2
    assert owners(h1, h2) == ["a", "b", "c", "d"]  # each camera exactly once
    # the hand-over was graceful: released, then claimed (no take-over)
    assert w2.metrics.registry.get_sample_value("vehiclewatch_lease_takeovers_total", {"worker": "w2"}) is None
    # a removed camera stops; a disabled one stops; a changed one restarts with its new settings
    mine = sorted(h1.running)
    registry.remove([mine[0]])
    registry.put(RegisteredCamera.model_validate({"id": mine[1], "source": "/v/new.mp4"}))
    w1.cycle(notified=True)
    assert mine[0] not in h1.running
    assert str(h1.running[mine[1]].source) == "/v/new.mp4"
    assert h1.started.count(mine[1]) == 2
    w1.release_all()
    w2.release_all()
    assert not h1.running
    assert not h2.running


def test_malformed_entry_is_skipped_and_the_others_run(redis_client: redis.Redis) -> None:
    register(redis_client, "good1", "good2")
    redis_client.hset(f"{PREFIX}:cameras", "bad", '{"id": "bad", "source": "rtsp://u:pw@h/x", "detect_fps": -3}')
    w1, h1 = worker(redis_client, "w1")
    w1.cycle()
    assert sorted(h1.running) == ["good1", "good2"]
    assert w1.metrics.registry.get_sample_value("vehiclewatch_registry_problems") == 1
    w1.release_all()


def test_disabled_and_capacity(redis_client: redis.Redis) -> None:
    registry = register(redis_client, "a", "b", "c")
    registry.put(RegisteredCamera.model_validate({"id": "off", "source": "/v/off.mp4", "enabled": False}))
    w1, h1 = worker(redis_client, "w1", capacity=2)
    w1.cycle()
    w1.cycle()
    assert len(h1.running) == 2
    assert "off" not in h1.running
    w1.release_all()


def test_redis_lost_stops_cameras_before_their_leases_lapse_and_resumes(tmp_path: Path) -> None:
    server = TcpRedis(tmp_path)
    server.start()
    try:
        fleet_settings = settings("w1")
        client = fleet_client(server.client(), fleet_settings)
        register(client, "a", "b")
        host = Host()
        fleet = FleetWorker(fleet_settings, client, host, Metrics(CollectorRegistry()))
        fleet.register()
        fleet.cycle()
        assert sorted(host.running) == ["a", "b"]
        renewed_at = time.monotonic()  # the leases last at least until renewed_at + TTL
        lease_ends = {c: fleet.owned[c].valid_until for c in fleet.owned}
        server.stop()
        deadline = time.monotonic() + 3 * fleet_settings.lease_ttl_s
        while host.running and time.monotonic() < deadline:
            fleet.cycle()
            time.sleep(fleet_settings.reload_interval_s)
        assert host.running == {}
        for camera, stopped in host.stopped_at.items():
            assert stopped < lease_ends[camera], f"{camera} read past its lease"
        assert stopped >= renewed_at
        failures = fleet.metrics.registry.get_sample_value(
            "vehiclewatch_lease_renew_failures_total", {"worker": "w1", "reason": "redis"}
        )
        assert failures is not None
        assert failures >= 1
        # Redis comes back (empty, as a restarted server without persistence): the registry is written again
        server.start()
        register(client, "a", "b")
        deadline = time.monotonic() + 10
        while len(host.running) < 2 and time.monotonic() < deadline:
            fleet.cycle()
            time.sleep(0.1)
        assert sorted(host.running) == ["a", "b"]
        fleet.release_all()
    finally:
        if server.server is not None:
            server.stop()


def test_a_late_worker_gets_a_share(redis_client: redis.Redis) -> None:
    """4 cameras held 2 + 2 when a third worker arrives: one is handed over to it (fair share floor(4/3) = 1)."""
    register(redis_client, "a", "b", "c", "d")
    w2, h2 = worker(redis_client, "w2")
    w3, h3 = worker(redis_client, "w3")
    for _ in range(3):
        w2.cycle()
        w3.cycle()
    assert sorted(len(h.running) for h in (h2, h3)) == [2, 2]
    w1, h1 = worker(redis_client, "w1")
    for _ in range(4):
        for fleet in (w1, w2, w3):
            fleet.cycle()
    assert sorted(len(h.running) for h in (h1, h2, h3)) == [1, 1, 2]
    assert owners(h1, h2, h3) == ["a", "b", "c", "d"]


def test_a_dead_workers_cameras_are_claimed_at_once_by_workers_at_their_share(redis_client: redis.Redis) -> None:
    """The dead worker may still be registered when its leases lapse: its cameras are beyond anyone's shortfall,
    so the others claim them in their next cycle instead of waiting one more."""
    register(redis_client, "a", "b", "c", "d")
    w1, h1 = worker(redis_client, "w1")
    w2, h2 = worker(redis_client, "w2")
    for _ in range(3):
        w1.cycle()
        w2.cycle()
    assert sorted(len(h.running) for h in (h1, h2)) == [2, 2]
    for camera in list(w1.owned):  # w1 dies: its leases go, its registration (owned: 2) stays for now
        redis_client.delete(w1.leases.lease_key(camera))
    w2.cycle()
    assert sorted(h2.running) == ["a", "b", "c", "d"]


def test_eight_cameras_settle_within_one_of_each_other(redis_client: redis.Redis) -> None:
    register(redis_client, *(f"c{i}" for i in range(8)))
    w2, h2 = worker(redis_client, "w2")
    w3, h3 = worker(redis_client, "w3")
    for _ in range(3):
        w2.cycle()
        w3.cycle()
    w1, h1 = worker(redis_client, "w1")
    for _ in range(10):
        for fleet in (w1, w2, w3):
            fleet.cycle()
    assert sorted(len(h.running) for h in (h1, h2, h3)) == [2, 3, 3]
    assert len(owners(h1, h2, h3)) == 8
