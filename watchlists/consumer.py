"""Reads alerts from the Redis stream as a member of a consumer group (at-least-once delivery).

The group reading itself (idempotent group creation, own pending messages first, ``XREADGROUP`` with block and
count, ``XAUTOCLAIM`` of messages a dead consumer left, reconnecting, a group lost with a Redis restart) is
:class:`redisbus.streams.StreamConsumer`'s. This module adds what is particular to alerts:

* each message is parsed into an :class:`~watchlists.alerts.Alert` of a known schema;
* a malformed message (not such an alert) is logged, acknowledged and skipped; it never stops the consumer;
* :meth:`AlertConsumer.run` acknowledges an alert only after its handler returned; if the handler raises, the alert
  stays pending and comes back later (taken over after ``claim_idle_s``).

Consumers of one group share the work: each alert goes to one of them. Give each reader that must see every alert
(two ``alerts tail`` terminals) its own group.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import redis
from pydantic import ValidationError

from redisbus.streams import StreamConsumer, StreamMessage
from watchlists.alerts import Alert
from watchlists.publisher import STREAM_FIELD_ALERT
from watchlists.settings import DEFAULT_STREAM

logger = logging.getLogger(__name__)

DEFAULT_GROUP = "vehiclewatch"
DEFAULT_TAIL_GROUP = "vehiclewatch-tail"


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
        self.reader = StreamConsumer(
            client,
            stream,
            group,
            consumer_name,
            start_id=start_id,
            block_ms=block_ms,
            count=count,
            claim_idle_s=claim_idle_s,
            noun="alert",
        )
        self.malformed = 0

    @property
    def stream(self) -> str:
        """The alert stream."""
        return self.reader.stream

    @property
    def group(self) -> str:
        """The consumer group."""
        return self.reader.group

    @property
    def consumer_name(self) -> str:
        """This consumer's name in the group."""
        return self.reader.consumer_name

    def ensure_group(self) -> bool:
        """Creates the consumer group (and the stream) unless it exists; True when it was created now."""
        return self.reader.ensure_group()

    def ack(self, message_id: str) -> bool:
        """Acknowledges a message; False (logged) if Redis cannot be reached: the message will come back."""
        return self.reader.ack(message_id)

    def deliveries(self, stop_event: threading.Event | None = None) -> Iterator[Delivery]:
        """Yields deliveries until ``stop_event`` is set; the caller acknowledges each with :meth:`ack`."""
        for message in self.reader.messages(stop_event):
            alert = self._parse(message)
            if alert is not None:
                yield Delivery(message.message_id, alert)

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
                    self.reader.claim_idle_s,
                )
                continue
            self.ack(delivery.message_id)

    def _parse(self, message: StreamMessage) -> Alert | None:
        raw = message.fields.get(STREAM_FIELD_ALERT.encode())
        try:
            if raw is None:
                raise ValueError(f"no {STREAM_FIELD_ALERT!r} field")
            return Alert.from_json(raw)
        except (ValidationError, ValueError) as exc:
            self.malformed += 1
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            logger.error("skipping malformed alert message %s on %r: %s", message.message_id, self.stream, reason)
            self.ack(message.message_id)
            return None


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
