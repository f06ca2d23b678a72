"""Webhooks against a real HTTP receiver and a real Redis: signed JSON, retries with backoff, each alert delivered
once per id, nothing lost while the receiver is down, dead letters after max_attempts.

The 60 s outage runs on a fake clock: the deliverer's backoff waits advance it instead of sleeping, and the
receiver's socket is closed (connection refused) until the fake clock passes 60 s. HTTP and Redis are real; only
the waiting is skipped, so the test takes about a second.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis

from streamer.outputs.settings import WebhookSettings
from streamer.outputs.webhooks import WebhookDeliverer
from watchlists.alerts import Alert, Box, EntryRef

STREAM = "vehiclewatch:alerts"
DEAD = "vehiclewatch:alerts:dead"
SECRET = b"webhook-secret-for-tests"


def make_alert(n: int) -> Alert:
    return Alert(
        captured_at=datetime.now(UTC),
        camera_id="gate",
        frame_index=n,
        box=Box(x1=0, y1=0, x2=10, y2=10),
        detector_class="car",
        detector_confidence=0.9,
        entry=EntryRef(id="stolen-civic", description="silver Honda Civic"),
        score=0.8,
    )


def publish(client: redis.Redis, n: int) -> list[str]:
    alerts = [make_alert(i) for i in range(n)]
    for alert in alerts:
        client.xadd(STREAM, {"alert": alert.to_json()})
    return [a.alert_id for a in alerts]


class Receiver:
    """A webhook receiver on loopback: ``answer(alert_id, attempt)`` gives the status; accepted ids are recorded."""

    def __init__(self, answer: Callable[[str, int], int], port: int = 0) -> None:
        self.answer = answer
        self.accepted: list[str] = []
        self.attempts: dict[str, int] = {}
        self.bad_signatures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                alert_id = self.headers["X-Vehiclewatch-Alert-Id"]
                stamp = self.headers["X-Vehiclewatch-Timestamp"]
                expected = "sha256=" + hmac.new(SECRET, f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(expected, self.headers["X-Vehiclewatch-Signature"]):
                    receiver.bad_signatures += 1
                assert json.loads(body)["alert_id"] == alert_id
                receiver.attempts[alert_id] = receiver.attempts.get(alert_id, 0) + 1
                status = receiver.answer(alert_id, receiver.attempts[alert_id])
                if 200 <= status < 300:
                    receiver.accepted.append(alert_id)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook?token=receiver-side-secret"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "hook.secret"
    path.write_bytes(SECRET + b"\n")
    return path


def endpoint(url: str, secret_file: Path, **overrides: Any) -> WebhookSettings:
    values: dict[str, Any] = {
        "name": "ops",
        "url": url,
        "secret_file": secret_file,
        "backoff_initial_s": 0.01,
        "backoff_max_s": 0.05,
        "timeout_s": 2,
        **overrides,
    }
    return WebhookSettings(**values)


def dead_letters(client: redis.Redis) -> list[dict[bytes, bytes]]:
    entries: Any = client.xrange(DEAD)
    return [fields for _, fields in entries]


def pending(client: redis.Redis) -> int:
    summary: Any = client.xpending(STREAM, "vehiclewatch:webhook:ops")
    return int(summary["pending"])


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture
def deliverers() -> Iterator[list[WebhookDeliverer]]:
    started: list[WebhookDeliverer] = []
    yield started
    for deliverer in started:
        deliverer.stop()


def test_a_receiver_failing_the_first_attempts_gets_each_alert_once(
    redis_client: redis.Redis, secret_file: Path, deliverers: list[WebhookDeliverer]
) -> None:
    receiver = Receiver(lambda _id, attempt: 503 if attempt <= 2 else 204)
    try:
        deliverer = WebhookDeliverer(redis_client, endpoint(receiver.url, secret_file), STREAM, DEAD, block_ms=50)
        deliverers.append(deliverer.start())
        ids = publish(redis_client, 5)
        wait_until(lambda: len(receiver.accepted) == 5)
        assert receiver.accepted == ids  # each once, in order
        assert all(receiver.attempts[i] == 3 for i in ids)
        assert receiver.bad_signatures == 0
        wait_until(lambda: pending(redis_client) == 0)
        assert redis_client.xlen(DEAD) == 0
    finally:
        receiver.close()


def test_nothing_is_lost_while_the_receiver_is_down_for_60_s(
    redis_client: redis.Redis, secret_file: Path, deliverers: list[WebhookDeliverer]
) -> None:
    # A port nobody listens on yet: connection refused until the receiver starts on it at fake t = 60 s.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    fake_now = [0.0]
    receiver: list[Receiver] = []
    late_ids: list[str] = []

    def fake_wait(seconds: float) -> bool:
        before = fake_now[0]
        fake_now[0] += seconds
        if before < 30 <= fake_now[0]:
            late_ids.extend(publish(redis_client, 3))  # alerts keep coming during the outage
        if fake_now[0] >= 60 and not receiver:
            receiver.append(Receiver(lambda _id, _n: 200, port))
        return False

    url = f"http://127.0.0.1:{port}/hook"
    # The defaults: 8 attempts, 1 s doubling to 30 s (1+2+4+8+16+30+30 = 91 s of patience).
    settings = endpoint(url, secret_file, backoff_initial_s=1.0, backoff_max_s=30.0)
    ids = publish(redis_client, 4)
    deliverer = WebhookDeliverer(redis_client, settings, STREAM, DEAD, wait=fake_wait, block_ms=50)
    deliverer.consumer.start_id = "0"  # the group is created after the first alerts were published
    deliverers.append(deliverer.start())
    try:
        wait_until(lambda: bool(receiver) and len(receiver[0].accepted) == 7)
        assert fake_now[0] >= 60
        assert receiver[0].accepted == ids + late_ids
        assert redis_client.xlen(DEAD) == 0
        assert deliverer.stats.failed_attempts >= 6  # the refused attempts during the outage
    finally:
        for r in receiver:
            r.close()


def test_an_alert_failing_max_attempts_goes_to_the_dead_letter_stream(
    redis_client: redis.Redis, secret_file: Path, deliverers: list[WebhookDeliverer], caplog: pytest.LogCaptureFixture
) -> None:
    receiver = Receiver(lambda _id, _n: 500)
    try:
        deliverer = WebhookDeliverer(
            redis_client, endpoint(receiver.url, secret_file, max_attempts=3), STREAM, DEAD, block_ms=50
        )
        deliverers.append(deliverer.start())
        ids = publish(redis_client, 2)
        wait_until(lambda: redis_client.xlen(DEAD) == 2)
        dead = dead_letters(redis_client)
        assert [fields[b"alert_id"].decode() for fields in dead] == ids
        assert dead[0][b"error"] == b"HTTP 500"
        assert dead[0][b"attempts"] == b"3"
        assert all(receiver.attempts[i] == 3 for i in ids)
        wait_until(lambda: pending(redis_client) == 0)
        assert "receiver-side-secret" not in caplog.text
    finally:
        receiver.close()


def test_a_refused_message_is_dead_lettered_at_once(
    redis_client: redis.Redis, secret_file: Path, deliverers: list[WebhookDeliverer]
) -> None:
    receiver = Receiver(lambda _id, _n: 400)
    try:
        deliverer = WebhookDeliverer(redis_client, endpoint(receiver.url, secret_file), STREAM, DEAD, block_ms=50)
        deliverers.append(deliverer.start())
        [alert_id] = publish(redis_client, 1)
        redis_client.xadd(STREAM, {"alert": b"not json"})
        wait_until(lambda: redis_client.xlen(DEAD) == 2)
        assert receiver.attempts == {alert_id: 1}
        assert b"malformed" in dead_letters(redis_client)[1][b"error"]
    finally:
        receiver.close()
