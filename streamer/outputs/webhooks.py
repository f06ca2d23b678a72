"""Webhooks: every alert of the stream POSTed as JSON to an HTTP endpoint, by a Redis consumer group.

Delivery is at least once: an alert is acknowledged in its group only after the endpoint answered 2xx, or after it
was written to the dead-letter stream; a deliverer stopped (or killed) mid-retry leaves the alert pending, and it is
sent again at the next start. Receivers de-duplicate on ``X-Vehiclewatch-Alert-Id`` (the alert's ``alert_id``).

Per alert: up to ``max_attempts`` POSTs, waiting ``backoff_initial_s`` doubling up to ``backoff_max_s`` between
them. Retried: connection errors, timeouts, 408, 425, 429 and 5xx. Any other 4xx means the endpoint refuses the
message itself; retrying would not help, so it goes to the dead-letter stream at once. Alerts are delivered in
stream order, one at a time per endpoint: while an endpoint is down, later alerts wait in the stream, not lost.

Signature: ``X-Vehiclewatch-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`` with the endpoint's
secret, and ``X-Vehiclewatch-Timestamp`` (Unix seconds) so a receiver can refuse replays. Only stdlib HTTP here:
webhooks need no extra.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

import redis

from common.redaction import redact_text
from redisbus.streams import StreamConsumer, StreamMessage
from streamer.outputs.settings import WebhookSettings
from watchlists.publisher import STREAM_FIELD_ALERT

log = logging.getLogger(__name__)

RETRIED_STATUSES = frozenset({408, 425, 429})
SIGNATURE_HEADER = "X-Vehiclewatch-Signature"
TIMESTAMP_HEADER = "X-Vehiclewatch-Timestamp"
ALERT_ID_HEADER = "X-Vehiclewatch-Alert-Id"


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one POST gave: ok, or why not, and whether trying again may help."""

    ok: bool
    retry: bool
    error: str = ""


@dataclass
class WebhookStats:
    delivered: int = 0
    attempts: int = 0
    failed_attempts: int = 0
    dead_lettered: int = 0


class WebhookDeliverer:
    """Delivers the alert stream to one endpoint, on a thread of its own.

    Args:
        client: Redis client (no ``decode_responses``).
        endpoint: the endpoint's settings.
        stream: the alert stream.
        dead_letter_stream: where alerts that could not be delivered go.
        wait: waits a backoff; returns True when stopping (tests pass a fake clock's wait). Default: the stop event.
        block_ms: how long one read of the stream blocks (also how quickly `stop` is noticed).
    """

    def __init__(
        self,
        client: redis.Redis,
        endpoint: WebhookSettings,
        stream: str,
        dead_letter_stream: str,
        *,
        wait: Callable[[float], bool] | None = None,
        block_ms: int = 1000,
    ) -> None:
        self.endpoint = endpoint
        self.client = client
        self.dead_letter_stream = dead_letter_stream
        self.secret = endpoint.secret_file.read_bytes().strip() if endpoint.secret_file is not None else None
        if self.secret is not None and not self.secret:
            raise ValueError(f"webhook {endpoint.name!r}: secret_file {endpoint.secret_file} is empty")
        group = endpoint.group or f"vehiclewatch:webhook:{endpoint.name}"
        # A stable name: after a restart this consumer gets its own unacknowledged alerts back at once.
        self.consumer = StreamConsumer(
            client,
            stream,
            group,
            f"{endpoint.name}@{socket.gethostname()}",
            block_ms=block_ms,
            count=16,
            claim_idle_s=max(600.0, endpoint.backoff_max_s * endpoint.max_attempts),
            noun="alert",
        )
        self._stop = threading.Event()
        self._wait = wait or self._stop.wait
        self._thread: threading.Thread | None = None
        self.stats = WebhookStats()
        self.shown_url = str(endpoint.url)  # redacted form

    def start(self) -> WebhookDeliverer:
        self.consumer.ensure_group()
        self._thread = threading.Thread(target=self.run, name=f"webhook-{self.endpoint.name}", daemon=True)
        self._thread.start()
        log.info("webhook %r: alerts to %s", self.endpoint.name, self.shown_url)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        """Delivers until stopped; one failing alert never stops the others."""
        while not self._stop.is_set():
            try:
                for message in self.consumer.messages(self._stop):
                    if self._deliver(message):
                        self.consumer.ack(message.message_id)
                    if self._stop.is_set():
                        return
            except Exception:  # e.g. the stream key holds another type: log, wait, go on
                log.exception("webhook %r: reading alerts failed; retrying", self.endpoint.name)
                self._stop.wait(1.0)

    # one alert ---------------------------------------------------------------------------------------------------

    def _deliver(self, message: StreamMessage) -> bool:
        """True when the alert is done with (delivered or dead-lettered); False when stopping mid-way."""
        body = message.fields.get(STREAM_FIELD_ALERT.encode())
        alert_id = ""
        try:
            if body is None:
                raise ValueError(f"no {STREAM_FIELD_ALERT!r} field")
            alert_id = str(json.loads(body)["alert_id"])
        except (ValueError, KeyError, TypeError) as exc:
            return self._dead_letter(message, body or b"", "", f"malformed alert message: {exc}", 0)
        delay = self.endpoint.backoff_initial_s
        attempt = Attempt(ok=False, retry=True)
        for number in range(1, self.endpoint.max_attempts + 1):
            attempt = self._post(body, alert_id)
            self.stats.attempts += 1
            if attempt.ok:
                self.stats.delivered += 1
                return True
            self.stats.failed_attempts += 1
            log.warning(
                "webhook %r: alert %s attempt %d/%d failed: %s",
                self.endpoint.name,
                alert_id,
                number,
                self.endpoint.max_attempts,
                attempt.error,
            )
            if not attempt.retry or number == self.endpoint.max_attempts:
                break
            if self._wait(delay):
                return False  # stopping: left pending, delivered after the restart
            delay = min(delay * 2, self.endpoint.backoff_max_s)
        return self._dead_letter(message, body, alert_id, attempt.error, number)

    def _post(self, body: bytes, alert_id: str) -> Attempt:
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", ALERT_ID_HEADER: alert_id, TIMESTAMP_HEADER: timestamp}
        if self.secret is not None:
            headers[SIGNATURE_HEADER] = sign(self.secret, timestamp, body)
        request = urllib.request.Request(
            self.endpoint.url.get_secret_value(), data=body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.endpoint.timeout_s) as response:
                response.read()
                return Attempt(ok=True, retry=False)
        except urllib.error.HTTPError as exc:
            retry = exc.code in RETRIED_STATUSES or exc.code >= 500
            return Attempt(ok=False, retry=retry, error=f"HTTP {exc.code}")
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            # The URL (which may hold a token) never goes into the message: the reason only, redacted.
            return Attempt(ok=False, retry=True, error=redact_text(str(reason)) or type(exc).__name__)

    def _dead_letter(self, message: StreamMessage, body: bytes, alert_id: str, error: str, attempts: int) -> bool:
        fields: dict[str, str | bytes] = {
            STREAM_FIELD_ALERT: body,
            "alert_id": alert_id,
            "webhook": self.endpoint.name,
            "error": error,
            "attempts": str(attempts),
            "message_id": message.message_id,
        }
        while not self._stop.is_set():
            try:
                self.client.xadd(self.dead_letter_stream, fields)  # type: ignore[arg-type]
                break
            except (redis.ConnectionError, redis.TimeoutError):
                self._stop.wait(1.0)
        else:
            return False
        self.stats.dead_lettered += 1
        log.error(
            "webhook %r: alert %s moved to %s after %d attempt(s): %s",
            self.endpoint.name,
            alert_id or message.message_id,
            self.dead_letter_stream,
            attempts,
            error,
        )
        return True
