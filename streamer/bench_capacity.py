"""`vehiclewatch bench --cameras-per-box`: how many cameras one machine keeps up with.

N copies of the video run as N file cameras of one service, each paced at the clip's own frame rate (``pace``, like
a live camera: frames the pipeline cannot take in time are dropped, newest wins) and looped, with the configured
``detect_fps``; everything else is the service as configured (tracking, classifiers, an embedded Redis). After a
warm-up, each camera's counters are read over a fixed window. N keeps up when every camera's frames handled by the
detection stage (detected, or passed over by a detection schedule) reach 90 % of its target rate (``detect_fps``,
or the clip's rate when lower or unset) and no camera dropped more than 1 % of the frames it sent on. N grows by
one from 1 until it does not keep up (or ``max_cameras``); the figure is the largest N that kept up. Each step costs
``warmup_s + window_s`` plus the start and stop of the service, so the whole run is bounded.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2

from streamer.service.config import load_settings
from streamer.service.wiring import Service

MIN_RATE_SHARE = 0.9
MAX_DROPPED_SHARE = 0.01
_COUNTERS = ("read", "skipped", "gated", "detected", "dropped")


@dataclass(frozen=True, slots=True)
class CapacityOptions:
    video: Path
    overrides: dict[str, Any]
    detect_fps: float | None = 5.0
    max_cameras: int = 8
    warmup_s: float = 5.0
    window_s: float = 20.0


@dataclass(frozen=True, slots=True)
class CameraFigures:
    """One camera's rates over the window, in frames/s, and its dropped frames."""

    camera: str
    read_fps: float
    handled_fps: float
    """Frames the detection stage took: detected, or passed over by a detection schedule."""
    detected_fps: float
    dropped: int
    sent: int
    """Frames sent on to detection (handled + dropped)."""


@dataclass(frozen=True, slots=True)
class CapacityStep:
    """The service with ``cameras`` cameras."""

    cameras: int
    target_fps: float
    window_s: float
    figures: list[CameraFigures]
    loadavg: tuple[float, ...] = ()

    @property
    def min_handled_fps(self) -> float:
        return min((f.handled_fps for f in self.figures), default=0.0)

    @property
    def mean_detected_fps(self) -> float:
        return sum(f.detected_fps for f in self.figures) / len(self.figures) if self.figures else 0.0

    @property
    def dropped(self) -> int:
        return sum(f.dropped for f in self.figures)

    @property
    def kept_up(self) -> bool:
        if not self.figures:
            return False
        rate_ok = self.min_handled_fps >= MIN_RATE_SHARE * self.target_fps
        drops_ok = all(f.dropped <= MAX_DROPPED_SHARE * max(f.sent, 1) for f in self.figures)
        return rate_ok and drops_ok


@dataclass(frozen=True, slots=True)
class CapacityReport:
    video: str
    clip_fps: float
    detect_fps: float | None
    steps: list[CapacityStep] = field(default_factory=list)

    @property
    def cameras_per_box(self) -> int:
        """The largest N that kept up (steps run in increasing N and stop at the first that does not)."""
        return max((step.cameras for step in self.steps if step.kept_up), default=0)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for step, figures in zip(self.steps, out["steps"], strict=True):
            figures.update(
                kept_up=step.kept_up,
                min_handled_fps=step.min_handled_fps,
                mean_detected_fps=step.mean_detected_fps,
                dropped=step.dropped,
            )
        out["cameras_per_box"] = self.cameras_per_box
        return out

    def render(self) -> str:
        rate = f"detect_fps {self.detect_fps:g}" if self.detect_fps else "every frame"
        lines = [
            f"video            {self.video} ({self.clip_fps:.1f} frames/s, paced, looped; {rate} per camera)",
            "cameras  target/s  min handled/s  mean detected/s  dropped  kept up  load average (1, 5, 15 min)",
        ]
        for step in self.steps:
            load = " ".join(f"{v:.2f}" for v in step.loadavg)
            lines.append(
                f"{step.cameras:7d}  {step.target_fps:8.2f}  {step.min_handled_fps:13.2f}"
                f"  {step.mean_detected_fps:15.2f}  {step.dropped:7d}  {'yes' if step.kept_up else 'NO':>7}  {load}"
            )
        lines.append(
            f"cameras per box  {self.cameras_per_box} (every camera at >= {MIN_RATE_SHARE:.0%} of its target rate, "
            f"<= {MAX_DROPPED_SHARE:.0%} of its frames dropped; {os.cpu_count()} CPUs)"
        )
        return "\n".join(lines)

    def plot(self, path: Path) -> None:
        """A PNG: per-camera rates against the number of cameras, the target rate as a line."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6.5, 4))
        counts = [step.cameras for step in self.steps]
        ax.plot(counts, [s.min_handled_fps for s in self.steps], "o-", label="slowest camera, handled/s")
        ax.plot(counts, [s.mean_detected_fps for s in self.steps], "s--", label="mean camera, detected/s")
        if self.steps:
            ax.axhline(self.steps[0].target_fps, color="grey", linestyle=":", label="target per camera")
            ax.axhline(MIN_RATE_SHARE * self.steps[0].target_fps, color="#c44e52", linestyle=":", label="keeps up")
        ax.set_xlabel("cameras in one service")
        ax.set_ylabel("frames/s per camera")
        ax.set_xticks(counts)
        ax.set_title(f"cameras per box: {self.cameras_per_box} ({Path(self.video).name})")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)


def clip_rate(video: Path) -> float:
    capture = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG)
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    capture.release()
    return fps if 0.0 < fps < 1000.0 else 25.0


def _per_camera(service: Service) -> dict[str, dict[str, float]]:
    """Each camera's frame counters (read, skipped, gated, detected, dropped), summed over their other labels."""
    totals: dict[str, dict[str, float]] = {}
    for metric in service.registry.collect():
        for sample in metric.samples:
            kind = sample.name.removeprefix("vehiclewatch_frames_").removesuffix("_total")
            camera = sample.labels.get("camera")
            if kind in _COUNTERS and sample.name.endswith("_total") and camera is not None:
                counters = totals.setdefault(camera, dict.fromkeys(_COUNTERS, 0.0))
                counters[kind] += sample.value
    return totals


def measure(options: CapacityOptions, cameras: int, target_fps: float) -> CapacityStep:
    """The service with ``cameras`` paced copies of the video: each camera's rates over the window."""
    camera: dict[str, Any] = {"source": str(options.video), "pace": True, "loop": True}
    if options.detect_fps:
        camera["detect_fps"] = options.detect_fps
    overrides = {
        **options.overrides,
        "cameras": [{**camera, "id": f"cam{i + 1}"} for i in range(cameras)],
        "redis": {"url": None, "embedded_port": 0, "embedded_persist": False, "spool": {"enabled": False}},
        "metrics": {"enabled": False},
    }
    service = Service(load_settings(None, overrides))
    service.start()
    try:
        time.sleep(options.warmup_s)
        before, started = _per_camera(service), time.monotonic()
        time.sleep(options.window_s)
        after, window = _per_camera(service), time.monotonic() - started
    finally:
        service.stop()
    figures = []
    for name in sorted(after, key=lambda c: int(c.removeprefix("cam")) if c.removeprefix("cam").isdigit() else 0):
        delta = {k: after[name][k] - before.get(name, {}).get(k, 0.0) for k in _COUNTERS}
        handled = delta["detected"] + delta["gated"]
        figures.append(
            CameraFigures(
                camera=name,
                read_fps=round(delta["read"] / window, 3),
                handled_fps=round(handled / window, 3),
                detected_fps=round(delta["detected"] / window, 3),
                dropped=int(delta["dropped"]),
                sent=int(handled + delta["dropped"]),
            )
        )
    return CapacityStep(cameras, target_fps, round(window, 3), figures, tuple(round(v, 2) for v in os.getloadavg()))


def run_capacity(options: CapacityOptions, progress: Callable[[str], None] = lambda _: None) -> CapacityReport:
    """Steps N = 1, 2, ... until N cameras no longer keep up (or ``max_cameras``)."""
    fps = clip_rate(options.video)
    target = min(options.detect_fps, fps) if options.detect_fps else fps
    report = CapacityReport(str(options.video), fps, options.detect_fps)
    for cameras in range(1, options.max_cameras + 1):
        progress(f"{cameras} camera(s): {options.warmup_s:g} s warm-up, then {options.window_s:g} s measured ...")
        step = measure(options, cameras, target)
        report.steps.append(step)
        progress(
            f"{cameras} camera(s): slowest camera {step.min_handled_fps:.2f}/s of {target:.2f}/s, "
            f"{step.dropped} dropped: {'keeps up' if step.kept_up else 'does NOT keep up'} "
            f"(load {step.loadavg[0]:.2f})"
        )
        if not step.kept_up:
            break
    return report
