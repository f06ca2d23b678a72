"""`vehiclewatch api`: the recognise API alone, as a process: it serves, answers, and stops on SIGINT; bad input is
one line and exit 2."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.redisbus.support import free_port
from tests.streamer.web.support import TOKEN, png, red_car, write_tokens
from tests.synthetic_classifier import make_color_classifier

CLI = [sys.executable, "-c", "from streamer.cli.main import main; main()"]
ROOT = Path(__file__).resolve().parents[3]


def test_the_api_command_serves_until_interrupted(tmp_path: Path) -> None:
    port = free_port()
    model = make_color_classifier(tmp_path / "color.onnx")
    tokens = write_tokens(tmp_path / "tokens.yaml")
    command = [*CLI, "api", "--tokens", str(tokens), "--classifier", str(model), "--port", str(port)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        answer = None
        while answer is None and time.monotonic() < deadline:
            try:
                answer = httpx.post(
                    f"http://127.0.0.1:{port}/v1/recognize",
                    content=png(red_car()),
                    headers={"Authorization": f"Bearer {TOKEN}"},
                    timeout=10,
                )
            except httpx.ConnectError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                time.sleep(0.2)
        assert answer is not None
        assert answer.status_code == 200
        assert answer.json()["vehicles"][0]["heads"]["color"][0]["label"] == "red"
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    assert TOKEN not in stderr


def test_a_missing_tokens_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    model = make_color_classifier(tmp_path / "color.onnx")
    result = subprocess.run(
        [*CLI, "api", "--tokens", str(tmp_path / "absent.yaml"), "--classifier", str(model), "--port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip().splitlines()[-1]
        == f"vehiclewatch: error: tokens file not found: {tmp_path / 'absent.yaml'}"
    )
