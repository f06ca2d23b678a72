"""Reads alerts from the Redis stream as a member of a consumer group (at-least-once delivery).

* The group is created at start, idempotently (``XGROUP CREATE … MKSTREAM``; an existing group is kept).
* Messages this consumer received before and never acknowledged (it crashed) come first, then new ones
  (``XREADGROUP … >`` with block and count).
* A message is acknowledged (``XACK``) only after its handler returned; if the handler raises, the message stays
  pending and comes back later.
* Every ``claim_idle_s / 2`` seconds, messages pending longer than ``claim_idle_s`` in *any* consumer of the group
  (a dead one, or a failed handler here) are taken over with ``XAUTOCLAIM`` and handled again.
* A malformed message (not an alert of a known schema) is logged, acknowledged and skipped; it never stops the
  consumer.
* Lost connections are retried with backoff, and a group that disappeared (Redis restarted without its data) is
  created again, reading the new stream from its start.

Consumers of one group share the work: each alert goes to one of them. Give each reader that must see every alert
(two ``alerts tail`` terminals) its own group.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import redis
from pydantic import ValidationError

from watchlists.alerts import Alert
from watchlists.publisher import STREAM_FIELD_ALERT
from watchlists.settings import DEFAULT_STREAM

logger = logging.getLogger(__name__)

DEFAULT_GROUP = "vehiclewatch"
DEFAULT_TAIL_GROUP = "vehiclewatch-tail"
RETRY_INITIAL_S = 0.2
RETRY_MAX_S = 5.0


def default_consumer_name() -> str:
    """``<host>-<pid>``: unique per running process, stable for its life."""
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One alert read from the stream, with the stream message id to acknowledge."""

    message_id: str
    alert: Alert


class AlertConsumer:
    """A consumer in a Redis stream consumer group that yields parsed :class:`Alert` s.

    Example:
        >>> consumer = AlertConsumer(client, group="dashboard")  # doctest: +SKIP
        >>> consumer.run(lambda alert: print(alert.entry.id), stop_event)  # doctest: +SKIP
    """

    def __init__(
        self,
        client: redis.Redis,
        stream: str = DEFAULT_STREAM,
        group: str = DEFAULT_GROUP,
        consumer_name: str | None = None,
        *,
        start_id: str = "$",
        block_ms: int = 1000,
        count: int = 16,
        claim_idle_s: float = 60.0,
    ) -> None:
        """
        Args:
            client: the Redis client.
            stream: the alert stream.
            group: consumer group; created at start if missing.
            consumer_name: this consumer's name in the group; default ``<host>-<pid>``. Reuse a name across
                restarts to get this consumer's unacknowledged messages back at once.
            start_id: where a *new* group starts: ``"$"`` only alerts added from now on, ``"0"`` every alert still
                in the stream. An existing group keeps its position.
            block_ms: how long one read waits for new alerts; also how quickly a stop request is noticed.
            count: most messages per read.
            claim_idle_s: messages pending this long in another consumer are taken over (that consumer is taken
                for dead). Longer than the slowest handler, or a live consumer's message gets handled twice.
        """
        if block_ms < 1 or count < 1 or claim_idle_s <= 0:
            raise ValueError("block_ms and count must be >= 1, claim_idle_s > 0")
        self.client = client
        self.stream = stream
        self.group = group
        self.consumer_name = consumer_name or default_consumer_name()
        self.start_id = start_id
        self.block_ms = block_ms
        self.count = count
        self.claim_idle_s = claim_idle_s
        self._own_cursor: str | None = "0"  # position in our own pending history; None once it is read
        self._next_claim = 0.0
        self._claim_cursor = "0-0"
        self.malformed = 0

    def ensure_group(self) -> bool:
        """Creates the consumer group (and the stream) unless it exists; True when it was created now."""
        try:
            self.client.xgroup_create(self.stream, self.group, id=self.start_id, mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" in str(exc):
                return False
            raise
        logger.info("created consumer group %r on stream %r from %s", self.group, self.stream, self.start_id)
        return True

    def ack(self, message_id: str) -> bool:
        """Acknowledges a message; False (logged) if Redis cannot be reached: the message will come back."""
        try:
            self.client.xack(self.stream, self.group, message_id)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            logger.warning("could not acknowledge %s (%s); it will be delivered again", message_id, exc)
            return False
        return True

    def deliveries(self, stop_event: threading.Event | None = None) -> Iterator[Delivery]:
        """Yields deliveries until ``stop_event`` is set; the caller acknowledges each with :meth:`ack`."""
        stop = stop_event if stop_event is not None else threading.Event()
        self.ensure_group()
        delay = RETRY_INITIAL_S
        while not stop.is_set():
            try:
                batch = self._next_batch()
            except redis.ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                logger.warning(
                    "consumer group %r of %r is gone (Redis restarted?): creating it again", self.group, self.stream
                )
                self._recreate_group(stop)
                continue
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                logger.warning("reading alerts from Redis failed (%s); retrying in %.1f s", exc, delay)
                stop.wait(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            delay = RETRY_INITIAL_S
            for message_id, fields in batch:
                alert = self._parse(message_id, fields)
                if alert is not None:
                    yield Delivery(message_id, alert)

    def _recreate_group(self, stop: threading.Event) -> None:
        try:
            # From "0": everything in a stream that started again after the restart is new to us.
            self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        except (redis.ConnectionError, redis.TimeoutError):
            stop.wait(RETRY_INITIAL_S)
        self._own_cursor = "0"
        self._claim_cursor = "0-0"

    def alerts(self, stop_event: threading.Event | None = None) -> Iterator[Alert]:
        """Yields alerts until ``stop_event`` is set, acknowledging each when the loop asks for the next one.

        So the body of ``for alert in consumer.alerts(stop):`` is the handler: leaving the loop by an exception
        leaves that alert pending, to be delivered again.
        """
        for delivery in self.deliveries(stop_event):
            yield delivery.alert
            self.ack(delivery.message_id)

    def run(self, handler: Callable[[Alert], None], stop_event: threading.Event) -> None:
        """Calls ``handler`` for each alert until ``stop_event`` is set; acknowledges after it returns.

        A handler exception is logged and the alert left pending (taken over again after ``claim_idle_s``).
        """
        for delivery in self.deliveries(stop_event):
            try:
                handler(delivery.alert)
            except Exception:
                logger.exception(
                    "alert handler failed on %s (alert %s); it stays pending and is retried after %.0f s",
                    delivery.message_id,
                    delivery.alert.alert_id,
                    self.claim_idle_s,
                )
                continue
            self.ack(delivery.message_id)

    # reading -----------------------------------------------------------------------------------------------------

    def _next_batch(self) -> list[tuple[str, dict[bytes, bytes]]]:
        if self._own_cursor is not None:
            # Our own unacknowledged history (from before a restart under the same name): an id reads it, ">" new.
            batch = self._read(self._own_cursor, block=None)
            if batch:
                self._own_cursor = batch[-1][0]
                return batch
            self._own_cursor = None
        now = time.monotonic()
        if now >= self._next_claim:
            self._next_claim = now + self.claim_idle_s / 2
            claimed = self._autoclaim()
            if claimed:
                return claimed
        return self._read(">", block=self.block_ms)

    def _read(self, message_id: str, block: int | None) -> list[tuple[str, dict[bytes, bytes]]]:
        response: Any = self.client.xreadgroup(
            self.group, self.consumer_name, {self.stream: message_id}, count=self.count, block=block
        )
        if not response:
            return []
        # RESP2: [[stream, [(id, fields), ...]]]; RESP3: {stream: [[(id, fields), ...]]}
        entries = response[0][1] if isinstance(response, list) else next(iter(response.values()))[0]
        return self._present(entries)

    def _present(
        self, entries: list[tuple[bytes | str, dict[bytes, bytes] | None]]
    ) -> list[tuple[str, dict[bytes, bytes]]]:
        """The entries still in the stream; pending ones trimmed away meanwhile (no fields) are acknowledged."""
        present = [(_text(message_id), fields) for message_id, fields in entries if fields]
        gone = [_text(message_id) for message_id, fields in entries if not fields]
        if gone:
            self.client.xack(self.stream, self.group, *gone)
        return present

    def _autoclaim(self) -> list[tuple[str, dict[bytes, bytes]]]:
        response: Any = self.client.xautoclaim(
            self.stream,
            self.group,
            self.consumer_name,
            min_idle_time=int(self.claim_idle_s * 1000),
            start_id=self._claim_cursor,
            count=self.count,
        )
        self._claim_cursor = _text(response[0])
        claimed = self._present(response[1])
        if claimed:
            logger.warning("took over %d alert(s) left pending by a dead or failed consumer", len(claimed))
        if self._claim_cursor != "0-0":
            self._next_claim = 0.0  # more to scan: continue on the next batch
        return claimed

    def _parse(self, message_id: str, fields: dict[bytes, bytes]) -> Alert | None:
        raw = fields.get(STREAM_FIELD_ALERT.encode())
        try:
            if raw is None:
                raise ValueError(f"no {STREAM_FIELD_ALERT!r} field")
            return Alert.from_json(raw)
        except (ValidationError, ValueError) as exc:
            self.malformed += 1
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            logger.error("skipping malformed alert message %s on %r: %s", message_id, self.stream, reason)
            self.ack(message_id)
            return None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def tail(
    client: redis.Redis,
    handler: Callable[[Alert], None],
    stop_event: threading.Event,
    *,
    stream: str = DEFAULT_STREAM,
    group: str = DEFAULT_TAIL_GROUP,
    consumer_name: str | None = None,
    start_id: str = "$",
) -> None:
    """Follows the alert stream, calling ``handler`` per alert until ``stop_event`` is set (``alerts tail``).

    Args:
        client: the Redis client.
        handler: called with each alert; acknowledged after it returns.
        stop_event: set it (e.g. from a SIGINT handler) to stop within about a second.
        stream: the alert stream.
        group: consumer group; tails sharing a group split the alerts between them.
        consumer_name: default ``<host>-<pid>``.
        start_id: for a new group: ``"$"`` new alerts only, ``"0"`` also those still in the stream.
    """
    AlertConsumer(client, stream, group, consumer_name, start_id=start_id).run(handler, stop_event)
