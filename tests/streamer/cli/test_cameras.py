"""`vehiclewatch cameras` on a real Redis: add, update, list, remove, import; bad input is one line and exit 2, and
no listing or error shows a camera's password."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
import yaml
from click.testing import CliRunner

from streamer.cli.main import main
from streamer.fleet.registry import CameraRegistry
from streamer.fleet.settings import FleetSettings

SECRET_URL = "rtsp://admin:hunter2@10.0.0.5/stream?token=abc"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv("VEHICLEWATCH_REDIS__URL", raising=False)
    return CliRunner()


def test_add_update_list_remove(
    runner: CliRunner, redis_url: str, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = ["--redis-url", redis_url]
    monkeypatch.setenv("GATE_URL", SECRET_URL)
    added = runner.invoke(
        main, ["cameras", "add", "gate", "--source-env", "GATE_URL", "--detect-fps", "5", "--label", "site=north", *r]
    )
    assert added.exit_code == 0, added.output
    assert "registered camera gate (rtsp://***:***@10.0.0.5/stream?token=***)" in added.output
    registry = CameraRegistry(redis_client, FleetSettings())
    stored = registry.get("gate")
    assert stored is not None
    assert stored.source.get_secret_value() == SECRET_URL
    assert stored.detect_fps == 5
    assert stored.labels == {"site": "north"}

    again = runner.invoke(main, ["cameras", "add", "gate", "/videos/x.mp4", *r])
    assert again.exit_code == 2
    assert again.output.strip() == (
        "vehiclewatch: error: camera 'gate' is already registered in redis:vehiclewatch:fleet:cameras "
        "(use `cameras update`)"
    )

    changes = ["--disable", "--label", "lane=2", "--unlabel", "site", "--set", "buffer_size=8"]
    updated = runner.invoke(main, ["cameras", "update", "gate", *changes, *r])
    assert updated.exit_code == 0, updated.output
    stored = registry.get("gate")
    assert stored is not None
    assert not stored.enabled
    assert stored.labels == {"lane": "2"}
    assert stored.buffer_size == 8
    assert stored.source.get_secret_value() == SECRET_URL  # kept

    listed = runner.invoke(main, ["cameras", "list", *r])
    assert listed.exit_code == 0, listed.output
    assert "hunter2" not in listed.output
    line = next(line for line in listed.output.splitlines() if line.startswith("gate"))
    assert line.split()[:5] == ["gate", "no", "-", "-", "disabled"]
    as_json = json.loads(runner.invoke(main, ["cameras", "list", "--json", *r]).stdout)
    assert as_json["cameras"][0]["source"] == "rtsp://***:***@10.0.0.5/stream?token=***"

    removed = runner.invoke(main, ["cameras", "remove", "gate", "ghost", *r])
    assert removed.exit_code == 2
    assert "removed camera gate" in removed.output
    assert removed.output.strip().splitlines()[-1] == "vehiclewatch: error: not registered: ghost"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bad", "ftp://u:hunter2@host/x"], "unsupported scheme 'ftp'"),
        (["bad id", "/videos/x.mp4"], "camera 'bad id': id: String should match pattern"),
        (["cam", "/videos/x.mp4", "--detect-fps", "-1"], "detect_fps: Input should be greater than 0"),
        (["cam", "rtsp://h/x", "--loop"], "loop applies to video files only"),
        (["cam"], "give the camera's SOURCE"),
        (["cam", "/v.mp4", "--label", "oops"], "--label 'oops': write key=value"),
    ],
)
def test_bad_input_is_one_line(runner: CliRunner, redis_url: str, args: list[str], message: str) -> None:
    result = runner.invoke(main, ["cameras", "add", *args, "--redis-url", redis_url])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("vehiclewatch: error: ")
    assert message in lines[0]
    assert "hunter2" not in result.output


def test_import_a_config_file(runner: CliRunner, tmp_path: Path, redis_url: str, redis_client: redis.Redis) -> None:
    (tmp_path / "videos").mkdir()
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "cameras": [
                    {"id": "a", "source": "videos/a.mp4", "loop": True},
                    {"id": "b", "source": "rtsp://viewer:${CAM_PW}@cam.example/1"},
                    {"id": "c", "source": "/v/c.mp4", "colour": "red"},
                ],
                "detector": {"model": "${MODEL_NOT_NEEDED_HERE}"},
            }
        )
    )
    result = runner.invoke(main, ["cameras", "import", str(config), "--redis-url", redis_url], env={"CAM_PW": "pw9"})
    assert result.exit_code == 2
    assert "registered 2 camera(s)" in result.output
    assert "cameras[2] ('c'): colour: unknown key" in result.output
    assert result.output.strip().splitlines()[-1] == "vehiclewatch: error: 1 invalid camera(s) skipped"
    snapshot = CameraRegistry(redis_client, FleetSettings()).load()
    assert sorted(snapshot.cameras) == ["a", "b"]
    assert snapshot.cameras["a"].source.get_secret_value() == str(tmp_path / "videos" / "a.mp4")
    assert snapshot.cameras["b"].source.get_secret_value() == "rtsp://viewer:pw9@cam.example/1"
