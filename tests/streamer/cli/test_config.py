"""`vehiclewatch config check|reference`."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from streamer.cli.main import main


def test_check_prints_the_validated_config_with_secrets_hidden(tmp_path: Path) -> None:
    video = tmp_path / "a.mp4"
    video.write_bytes(b"")
    path = tmp_path / "config.yaml"
    path.write_text(
        f"cameras: [{{id: gate, source: '{video}'}}]\n"
        "detector: {model: det.onnx}\n"
        "redis: {url: 'redis://127.0.0.1:6379/0', password: hunter2}\n"
    )
    result = CliRunner().invoke(main, ["config", "check", str(path)])
    assert result.exit_code == 0, result.output
    settings = json.loads(result.output)
    assert settings["cameras"][0]["id"] == "gate"
    assert "hunter2" not in result.output


def test_check_hides_credentials_inside_urls(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "cameras: [{id: gate, source: 'rtsp://admin:s3cret@127.0.0.1:8554/cam'}]\n"
        "detector: {model: det.onnx}\n"
        "redis: {url: 'redis://user:hunter2@127.0.0.1:6379/0'}\n"
    )
    result = CliRunner().invoke(main, ["config", "check", str(path)])
    assert result.exit_code == 0, result.output
    settings = json.loads(result.output)
    assert settings["cameras"][0]["source"] == "rtsp://***:***@127.0.0.1:8554/cam"
    assert "hunter2" not in result.output
    assert "s3cret" not in result.output


def test_check_of_a_bad_key_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("cameras: [{id: gate, source: a.mp4}]\ndetector: {model: det.onnx}\nnope: 1\n")
    result = CliRunner().invoke(main, ["config", "check", str(path)])
    assert result.exit_code == 2
    assert result.output.startswith("vehiclewatch: error: ")
    assert "nope" in result.output
    assert result.output.count("\n") == 1


def test_reference_lists_every_section() -> None:
    result = CliRunner().invoke(main, ["config", "reference"])
    assert result.exit_code == 0, result.output
    for key in ("cameras", "detector.model", "classifiers.models", "watchlist.path", "redis.url"):
        assert f"`{key}`" in result.output
