"""The root `vehiclewatch` group: every command attached, and help that works without the tools extra."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from streamer.cli.defaults import model_overrides
from streamer.cli.main import main
from tests.streamer.cli.without_tools import run_without_tools

COMMANDS = (
    "adapt",
    "alerts",
    "api",
    "bench",
    "classify",
    "config",
    "detect",
    "eval",
    "label",
    "run",
    "sightings",
    "train",
    "watchlist",
)


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    listed = result.output[result.output.index("Commands:") :].split()
    assert set(COMMANDS) <= set(listed)


@pytest.mark.parametrize(
    ("args", "usage"),
    [
        ([], "Usage: vehiclewatch [OPTIONS] COMMAND [ARGS]..."),
        (["train"], "Usage: vehiclewatch train [OPTIONS] [DATA]"),
        (["eval"], "Usage: vehiclewatch eval [OPTIONS] MODEL DATA"),
        (["watchlist", "evaluate"], "Usage: vehiclewatch watchlist evaluate [OPTIONS]"),
    ],
)
def test_help_works_without_the_tools_extra(args: list[str], usage: str) -> None:
    result = run_without_tools([*args, "--help"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(usage), result.stdout
    assert result.stderr == ""


def test_python_dash_m_streamer_is_the_same_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "streamer", "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "watchlist" in result.stdout


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (("yolov8n_640_dynbatch_dequant_fp32.onnx", "yolov8n_int8_640.onnx"), "yolov8n_640_dynbatch_dequant_fp32.onnx"),
        (("yolov8n_int8_640.onnx",), "yolov8n_int8_640.onnx"),
    ],
)
def test_models_folder_picks_the_measured_detector(tmp_path: Path, files: tuple[str, ...], expected: str) -> None:
    for name in files:
        (tmp_path / name).write_bytes(b"")
    assert Path(model_overrides(tmp_path, None, [])["detector"]["model"]).name == expected
