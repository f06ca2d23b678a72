"""Reading a Redis stream as a member of a consumer group (at-least-once delivery), whatever its messages carry.

* The group is created at start, idempotently (``XGROUP CREATE … MKSTREAM``; an existing group is kept).
* Messages this consumer received before and never acknowledged (it crashed) come first, then new ones
  (``XREADGROUP … >`` with block and count).
* The caller acknowledges (``XACK``) each message once it is handled; an unacknowledged message stays pending and
  comes back later.
* Every ``claim_idle_s / 2`` seconds, messages pending longer than ``claim_idle_s`` in *any* consumer of the group
  (a dead one, or a failed handler here) are taken over with ``XAUTOCLAIM`` and yielded again.
* Lost connections are retried with backoff, and a group that disappeared (Redis restarted without its data) is
  created again, reading the new stream from its start.

What a message means (an alert, a track event) is the caller's business: this module yields raw fields, so every
stream of the project is read the same way. Consumers of one group share the work: each message goes to one of them.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import redis

logger = logging.getLogger(__name__)

RETRY_INITIAL_S = 0.2
RETRY_MAX_S = 5.0

Fields = dict[bytes, bytes]
"""A stream entry's fields, as a client without ``decode_responses`` returns them."""


def default_consumer_name() -> str:
    """``<host>-<pid>``: unique per running process, stable for its life."""
    return f"{socket.gethostname()}-{os.getpid()}"


def text(value: bytes | str) -> str:
    """A Redis reply as ``str`` (message ids and keys come back as bytes from a client without decoding)."""
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True, slots=True)
class StreamMessage:
    """One message read from the stream: its id (to acknowledge) and its fields."""

    message_id: str
    fields: Fields


class StreamConsumer:
    """A consumer in a Redis stream consumer group that yields raw :class:`StreamMessage` s.

    Args:
        client: the Redis client.
        stream: the stream.
        group: consumer group; created at start if missing.
        consumer_name: this consumer's name in the group; default ``<host>-<pid>``. Reuse a name across restarts
            to get this consumer's unacknowledged messages back at once.
        start_id: where a *new* group starts: ``"$"`` only messages added from now on, ``"0"`` every message still
            in the stream. An existing group keeps its position.
        block_ms: how long one read waits for new messages; also how quickly a stop request is noticed.
        count: most messages per read.
        claim_idle_s: messages pending this long in another consumer are taken over (that consumer is taken for
            dead). Longer than the slowest handler, or a live consumer's message gets handled twice.
        noun: what one message is, for log lines ("alert").

    Example:
        >>> consumer = StreamConsumer(client, "vehiclewatch:tracks", "counter")  # doctest: +SKIP
        >>> for message in consumer.messages(stop_event):  # doctest: +SKIP
        ...     handle(message.fields)
        ...     consumer.ack(message.message_id)
    """

    def __init__(
        self,
        client: redis.Redis,
        stream: str,
        group: str,
        consumer_name: str | None = None,
        *,
        start_id: str = "$",
        block_ms: int = 1000,
        count: int = 16,
        claim_idle_s: float = 60.0,
        noun: str = "message",
    ) -> None:
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
        self.noun = noun
        self._own_cursor: str | None = "0"  # position in our own pending history; None once it is read
        self._next_claim = 0.0
        self._claim_cursor = "0-0"

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

    def messages(self, stop_event: threading.Event | None = None) -> Iterator[StreamMessage]:
        """Yields messages until ``stop_event`` is set; the caller acknowledges each with :meth:`ack`.

        Raises:
            redis.ResponseError: an error other than a missing group (e.g. the stream key holds another type).
        """
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
                logger.warning("reading %ss from Redis failed (%s); retrying in %.1f s", self.noun, exc, delay)
                stop.wait(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            delay = RETRY_INITIAL_S
            yield from batch

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

    # reading -----------------------------------------------------------------------------------------------------

    def _next_batch(self) -> list[StreamMessage]:
        if self._own_cursor is not None:
            # Our own unacknowledged history (from before a restart under the same name): an id reads it, ">" new.
            batch = self._read(self._own_cursor, block=None)
            if batch:
                self._own_cursor = batch[-1].message_id
                return batch
            self._own_cursor = None
        now = time.monotonic()
        if now >= self._next_claim:
            self._next_claim = now + self.claim_idle_s / 2
            claimed = self._autoclaim()
            if claimed:
                return claimed
        return self._read(">", block=self.block_ms)

    def _read(self, message_id: str, block: int | None) -> list[StreamMessage]:
        response: Any = self.client.xreadgroup(
            self.group, self.consumer_name, {self.stream: message_id}, count=self.count, block=block
        )
        if not response:
            return []
        # RESP2: [[stream, [(id, fields), ...]]]; RESP3: {stream: [[(id, fields), ...]]}
        entries = response[0][1] if isinstance(response, list) else next(iter(response.values()))[0]
        return self._present(entries)

    def _present(self, entries: list[tuple[bytes | str, Fields | None]]) -> list[StreamMessage]:
        """The entries still in the stream; pending ones trimmed away meanwhile (no fields) are acknowledged."""
        present = [StreamMessage(text(message_id), fields) for message_id, fields in entries if fields]
        gone = [text(message_id) for message_id, fields in entries if not fields]
        if gone:
            self.client.xack(self.stream, self.group, *gone)
        return present

    def _autoclaim(self) -> list[StreamMessage]:
        response: Any = self.client.xautoclaim(
            self.stream,
            self.group,
            self.consumer_name,
            min_idle_time=int(self.claim_idle_s * 1000),
            start_id=self._claim_cursor,
            count=self.count,
        )
        self._claim_cursor = text(response[0])
        claimed = self._present(response[1])
        if claimed:
            logger.warning("took over %d %s(s) left pending by a dead or failed consumer", len(claimed), self.noun)
        if self._claim_cursor != "0-0":
            self._next_claim = 0.0  # more to scan: continue on the next batch
        return claimed
