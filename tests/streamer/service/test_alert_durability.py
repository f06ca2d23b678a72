"""Fault test (issue 14): no alert is lost when Redis is away and the service dies meanwhile.

Real components throughout: `vehiclewatch run` as a subprocess on a looping synthetic clip whose car matches a
watchlist entry (an alert every detected frame), publishing to a `redis-server` process with its append-only file.
Redis is stopped for 60 s while alerts keep firing; during the outage the service reports itself degraded and is
killed with SIGKILL; Redis comes back; the service is started again on the same spool. Then every alert the
killed service had accepted (its log names each one, once the spool has it) is in the stream exactly once.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
import yaml

from redisbus.settings import SpoolSettings
from redisbus.spool import Spool
from streamer.service.config import load_settings
from streamer.service.startup import StartupError
from streamer.service.wiring import Service
from tests.redisbus.server import RedisServer
from tests.redisbus.support import wait_for, xrange
from tests.streamer.scene import make_scene

OUTAGE_S = 60.0  # what the issue asks for
KILL_AFTER_S = 20.0  # into the outage: alerts have piled up in the spool by then
ACCEPTED = re.compile(r"alert (\S+) for entry 'red-car' on camera 'cam1' accepted")
METRICS = re.compile(r"metrics on http://127\.0\.0\.1:(\d+)/metrics")
STREAM = "vehiclewatch:alerts"


class RunningService:
    """`vehiclewatch run --config …` in a subprocess, its log read on a thread (alert ids accepted, metrics port)."""

    def __init__(self, config: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streamer", "run", "--config", str(config), "--quiet"],
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.accepted: list[str] = []
        self.metrics_port: int | None = None
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._lock:
                self.lines.append(line)
                if found := ACCEPTED.search(line):
                    self.accepted.append(found.group(1))
                elif found := METRICS.search(line):
                    self.metrics_port = int(found.group(1))

    def accepted_count(self) -> int:
        with self._lock:
            return len(self.accepted)

    def log(self) -> str:
        with self._lock:
            return "".join(self.lines)

    def readiness(self) -> tuple[int, dict[str, object]]:
        """``/readyz``: status code and body."""
        assert self.metrics_port is not None
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/readyz", timeout=5) as response:
                return int(response.status), json.loads(response.read())
        except urllib.error.HTTPError as error:
            return int(error.code), json.loads(error.read())

    def metric(self, name: str, labels: str = "") -> float:
        """A sample of /metrics: ``name`` with exactly ``labels`` (e.g. ``kind="alert"``)."""
        assert self.metrics_port is not None
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as response:
            text = response.read().decode()
        series = f"{name}{{{labels}}}" if labels else name
        found = re.search(rf"^{re.escape(series)} (\S+)$", text, re.M)
        assert found is not None, f"{series} not in /metrics"
        return float(found.group(1))

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self._reader.join(timeout=10)  # the log up to the kill

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)
        self._reader.join(timeout=10)


def wait_until(condition: Callable[[], bool], timeout: float, what: str, service: RunningService) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert service.process.poll() is None, f"the service exited while waiting for {what}:\n{service.log()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{service.log()[-4000:]}"
        time.sleep(0.2)


def stream_ids(server: RedisServer) -> Counter[str]:
    """The consumer: how many times each alert id is in the stream."""
    client = redis.Redis(port=server.port, socket_timeout=5)
    try:
        return Counter(fields[b"alert_id"].decode() for _, fields in xrange(client, STREAM))
    finally:
        client.close()


def write_config(tmp_path: Path, redis_url: str) -> Path:
    scene = make_scene(tmp_path, frames=25, color="red")
    config = {
        "cameras": [{"id": "cam1", "source": str(scene.video), "loop": True, "pace": True, "detect_fps": 4}],
        "detector": {"model": str(scene.detector), "providers": ["cpu"], "min_box_size": 8},
        "classifiers": {"models": [{"model": str(scene.classifier), "providers": ["cpu"]}], "min_crop_size": 16},
        # No cooldown and no tracking: every detected frame of the red car is an alert (4 a second).
        "watchlist": {"path": str(scene.watchlist), "cooldown_s": 0, "redis_entries": False},
        "tracking": {"enabled": False},
        "alerts": {"retry_initial_s": 0.05, "retry_max_s": 1.0},
        "redis": {"url": redis_url, "retries": 0, "socket_timeout_s": 2, "spool": {"dir": str(tmp_path / "spool")}},
        "metrics": {"host": "127.0.0.1", "port": 0},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_alerts_survive_a_redis_outage_and_a_sigkill_of_the_service(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis")
    server.start()
    config = write_config(tmp_path, server.url)
    first = RunningService(config)
    second: RunningService | None = None
    try:
        wait_until(lambda: len(stream_ids(server)) >= 3, 60, "alerts in Redis before the outage", first)
        wait_until(lambda: first.metrics_port is not None, 10, "the metrics port", first)
        assert first.readiness()[0] == 200

        server.stop(graceful=True)  # the outage: what Redis had acknowledged is in its append-only file
        outage_started = time.monotonic()
        before_outage = first.accepted_count()
        wait_until(lambda: first.readiness()[0] == 503, 15, "/readyz to report the outage", first)
        status, body = first.readiness()
        assert (status, body["status"]) == (503, "degraded")
        assert body["alerts_deliverable"] is False
        assert first.metric("vehiclewatch_alerts_deliverable") == 0.0
        wait_until(lambda: first.accepted_count() >= before_outage + 10, 30, "alerts during the outage", first)
        time.sleep(max(KILL_AFTER_S - (time.monotonic() - outage_started), 0.0))
        assert first.metric("vehiclewatch_spool_pending", 'kind="alert"') >= 10
        first.kill()
        accepted = list(first.accepted)
        during_outage = len(accepted) - before_outage
        time.sleep(max(OUTAGE_S - (time.monotonic() - outage_started), 0.0))

        server.start()
        second = RunningService(config)
        wait_until(lambda: set(accepted) <= set(stream_ids(server)), 60, "every accepted alert in Redis", second)
        wait_until(lambda: second.metrics_port is not None, 10, "the metrics port", second)
        assert second.metric("vehiclewatch_alerts_deliverable") == 1.0
        assert second.metric("vehiclewatch_spool_replayed_total", 'kind="alert"') >= during_outage
        second.stop()
        counts = stream_ids(server)
    finally:
        for service in (first, second):
            if service is not None and service.process.poll() is None:
                service.process.kill()
                service.process.wait()
        server.stop()

    print(
        f"alerts accepted before the kill: {len(accepted)} ({during_outage} during the outage); "
        f"in the stream afterwards: {len(counts)} distinct, {sum(counts.values())} entries"
    )
    assert during_outage >= 10
    assert "from an earlier run: replaying them to Redis" in second.log()
    assert [alert_id for alert_id in accepted if counts[alert_id] != 1] == []  # each exactly once
    assert max(counts.values()) == 1  # and nothing twice, of the second run either


def http_json(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return int(error.code), json.loads(error.read())


def test_health_is_degraded_while_alerts_cannot_be_delivered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("redisbus.writer._PROBE_S", 0.1)  # the idle probe's period (2 s), shortened for the test
    server = RedisServer(tmp_path / "redis")
    server.start()
    scene = make_scene(tmp_path, frames=5)
    settings = scene.settings(
        server.url,
        cameras=[{"id": "cam1", "source": str(scene.video), "loop": True, "pace": True, "detect_fps": 1}],
        redis={"url": server.url, "retries": 0, "socket_timeout_s": 1, "spool": {"dir": str(tmp_path / "spool")}},
    )
    service = Service(load_settings(None, settings))
    service.start()
    try:
        assert service.http is not None
        base = f"http://127.0.0.1:{service.http.port}"
        assert http_json(base + "/readyz")[0] == 200
        server.stop()
        wait_for(lambda: http_json(base + "/readyz")[0] == 503, timeout=15)
        status, body = http_json(base + "/readyz")
        assert body["status"] == "degraded"
        assert body["alerts_deliverable"] is False
        assert body["degraded"] == ["alerts cannot be delivered: Redis does not take writes"]
        status, body = http_json(base + "/healthz")
        assert (status, body["status"]) == (200, "degraded")  # alive: restarting would not bring Redis back
        assert service.registry.get_sample_value("vehiclewatch_alerts_deliverable") == 0.0
        server.start()
        wait_for(lambda: http_json(base + "/readyz")[0] == 200, timeout=15)
        assert service.registry.get_sample_value("vehiclewatch_alerts_deliverable") == 1.0
    finally:
        service.stop()
        server.stop()


def test_a_second_service_on_the_same_spool_is_refused_at_start(tmp_path: Path, redis_url: str) -> None:
    scene = make_scene(tmp_path, frames=2)
    spool_dir = tmp_path / "spool"
    settings = scene.settings(redis_url, redis={"url": redis_url, "spool": {"dir": str(spool_dir)}})
    with Spool(spool_dir, SpoolSettings()):  # held by a running service
        service = Service(load_settings(None, settings))
        with pytest.raises(StartupError, match=r"spool .* is in use by another running vehiclewatch"):
            service.start()
    assert not service.health().ready
