"""Where a :class:`~redisbus.writer.RedisWriter`'s items wait for Redis: in memory, or in the on-disk spool.

* :class:`MemoryBacklog` — a bounded queue; what is in it when the process dies is lost.
* :class:`SpoolBacklog` — one kind of record in a :class:`~redisbus.spool.Spool`: on disk before ``put`` returns,
  read back oldest first, removed once written; what is in it when the process dies is replayed at the next start.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from redisbus.spool import Spool, SpoolRecord

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True, eq=False)
class Taken(Generic[T]):
    """An item handed to the writer thread, with what it needs to finish it.

    Attributes:
        item: the item.
        submitted: Unix time it was submitted (by an earlier run, for a replay).
        record: its spool record, or None in memory.
    """

    item: T
    submitted: float
    record: SpoolRecord | None = None


class Backlog(Protocol[T]):
    """Items waiting for the writer thread; ``put`` on callers' threads, the rest on the writer's."""

    durable: bool
    """True when what is left at close (or at a crash) is kept for the next start."""

    def put(self, item: T, timeout: float) -> bool:
        """Adds an item, waiting up to ``timeout`` seconds for room; False when there was none."""

    def take(self, timeout: float) -> Taken[T] | None:
        """The next item, waiting up to ``timeout`` seconds; None when there is none."""

    def done(self, taken: Taken[T]) -> None:
        """The item is written (or dropped as unwritable): forget it."""

    def drain(self) -> list[T]:
        """At close: removes and returns what is left in memory (a durable backlog keeps it and returns [])."""

    @property
    def pending(self) -> int:
        """Items added and not yet done."""


class MemoryBacklog(Generic[T]):
    """A bounded in-memory queue."""

    durable = False

    def __init__(self, max_pending: int) -> None:
        self._queue: queue.Queue[Taken[T]] = queue.Queue(maxsize=max_pending)

    def put(self, item: T, timeout: float) -> bool:
        try:
            if timeout > 0:
                self._queue.put(Taken(item, time.time()), timeout=timeout)
            else:
                self._queue.put_nowait(Taken(item, time.time()))
        except queue.Full:
            return False
        return True

    def take(self, timeout: float) -> Taken[T] | None:
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def done(self, taken: Taken[T]) -> None:  # noqa: ARG002 - the queue counts, it needs no item
        self._queue.task_done()

    def drain(self) -> list[T]:
        left: list[T] = []
        while True:
            try:
                left.append(self._queue.get_nowait().item)
            except queue.Empty:
                return left
            self._queue.task_done()

    @property
    def pending(self) -> int:
        # The queue's own count, changed under its lock: never 0 between the thread's get() and the write.
        return self._queue.unfinished_tasks


@dataclass(frozen=True, slots=True, eq=False)
class Encoded:
    """An item as the spool stores it: its id, its body (JSON) and an optional attachment (a JPEG)."""

    key: str
    body: bytes
    attachment: bytes | None


class SpoolBacklog(Generic[T]):
    """One kind of record in the spool.

    Args:
        spool: the spool (shared with the other kinds).
        kind: which records are this writer's (``alert``, ``track``).
        encode: an item as the spool stores it.
        decode: the item back from its spooled body and attachment; raises ``ValueError`` when it cannot.
        evictable: the size cap may drop these records to make room for others (track events for alerts).
    """

    durable = True

    def __init__(
        self,
        spool: Spool,
        kind: str,
        encode: Callable[[T], Encoded],
        decode: Callable[[bytes, bytes | None], T],
        evictable: bool,
    ) -> None:
        self.spool = spool
        self.kind = kind
        self._encode = encode
        self._decode = decode
        self._evictable = evictable
        self.undecodable = 0

    def put(self, item: T, timeout: float) -> bool:  # noqa: ARG002 - waiting would not make room on disk
        encoded = self._encode(item)
        seq = self.spool.append(self.kind, encoded.key, encoded.body, encoded.attachment, self._evictable)
        return seq is not None

    def take(self, timeout: float) -> Taken[T] | None:
        deadline = time.monotonic() + timeout
        while (record := self.spool.next(self.kind, max(deadline - time.monotonic(), 0.0))) is not None:
            try:
                return Taken(self._decode(record.body, record.attachment), record.created, record)
            except ValueError as exc:
                # Written by another version, or damaged: retrying cannot help, and it must not block the rest.
                self.undecodable += 1
                logger.error("spooled %s %s cannot be read and is dropped: %s", self.kind, record.key, exc)
                self.spool.done(record)
        return None

    def done(self, taken: Taken[T]) -> None:
        if taken.record is not None:
            self.spool.done(taken.record)

    def drain(self) -> list[T]:
        return []

    @property
    def pending(self) -> int:
        return self.spool.pending(self.kind)
