"""`vehiclewatch bench`: the whole pipeline on a video file against the detector alone on the same frames.

Both run in one process, one after the other and then the detector alone once more, so the ratio
end-to-end / detector-alone compares like with like on a shared, noisy machine. The ratio is the pipeline's own
cost (decoding, queues, batching, classification when enabled, matching, publishing to a real Redis).

Both sides see exactly the same frames. The service reads files only, whole, so when the video is longer than
``--frames`` its first frames are written to a temporary clip (MJPG) that the end-to-end runs read, and the
detector-alone runs use the frames decoded back from that clip; a video no longer than that is used as it is.
The report gives each side's frame count, and says so if they ever differ.

With classifiers, the pipeline runs twice on the same video, tracking off (every crop classified) and on (each
track classified on its best views only), and the report gives classifier calls per detected vehicle-frame and per
second for both, and their ratio: the saving tracking brings.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from detectors.base import Detector
from detectors.registry import open_detector
from streamer.bench_models import ModelRuntime, describe_models
from streamer.service.config import ServiceSettings, load_settings
from streamer.service.metrics import STAGES
from streamer.service.wiring import Service


@dataclass(frozen=True, slots=True)
class BenchOptions:
    video: Path
    frames: int
    overrides: dict[str, Any]
    watchlist: Path | None = None
    compare_tracking: bool = True
    """With classifiers: run end to end with tracking off and on (else once, as configured)."""
    repeat: int = 1
    """End-to-end runs, each followed by a detector-alone run; medians are compared."""


@dataclass(frozen=True, slots=True)
class StageTime:
    calls: int
    ms_per_call: float
    ms_per_frame: float


@dataclass(frozen=True, slots=True)
class TrackingRun:
    """One end-to-end run's classification cost, tracking on or off."""

    tracking: bool
    end_to_end_fps: float
    frames: int
    seconds: float
    vehicle_frames: int
    crops_classified: int
    alerts: int

    @property
    def calls_per_vehicle_frame(self) -> float:
        """Crops classified per vehicle box detected (each model runs once per crop)."""
        return self.crops_classified / self.vehicle_frames if self.vehicle_frames else 0.0

    @property
    def calls_per_second(self) -> float:
        return self.crops_classified / self.seconds if self.seconds else 0.0


@dataclass(frozen=True, slots=True)
class BenchReport:
    """The figures of one benchmark run."""

    video: str
    detector: str
    classifiers: list[str]
    max_batch: int
    frames_detector_alone: int
    frames_end_to_end: int
    """Frames the last end-to-end run detected (every run's count is in ``end_to_end_frames``)."""
    decode_fps: float
    detector_alone_fps: list[float]
    end_to_end_runs: list[float]
    end_to_end_frames: list[int] = field(default_factory=list)
    """Frames each end-to-end run detected (tracking off and on both counted), in run order."""
    clip: str = ""
    """What both sides read: the video itself, or the temporary clip of its first frames."""
    stages: dict[str, StageTime] = field(default_factory=dict)
    vehicles: int = 0
    crops_classified: int = 0
    alerts: int = 0
    tracking_runs: list[TrackingRun] = field(default_factory=list)
    models: list[ModelRuntime] = field(default_factory=list)
    """The runtime, precision and device each model ran on in the service."""
    loadavg_start: tuple[float, ...] = ()
    loadavg_end: tuple[float, ...] = ()
    """The machine's 1/5/15-minute load averages before and after the runs (the figures depend on them)."""

    @property
    def tracking_saving(self) -> float | None:
        """Calls per vehicle-frame with tracking off / with it on, when both ran."""
        runs = {run.tracking: run for run in self.tracking_runs}
        if True not in runs or False not in runs or not runs[True].calls_per_vehicle_frame:
            return None
        return runs[False].calls_per_vehicle_frame / runs[True].calls_per_vehicle_frame

    @property
    def same_frames(self) -> bool:
        """Whether every end-to-end run detected exactly the frames the detector-alone runs timed."""
        counts = self.end_to_end_frames or [self.frames_end_to_end]
        return all(count == self.frames_detector_alone for count in counts)

    @property
    def detector_fps(self) -> float:
        return float(np.median(self.detector_alone_fps))

    @property
    def end_to_end_fps(self) -> float:
        return float(np.median(self.end_to_end_runs))

    @property
    def ratio(self) -> float:
        return self.end_to_end_fps / self.detector_fps if self.detector_fps else 0.0

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["detector_alone_fps_median"] = self.detector_fps
        out["end_to_end_fps_median"] = self.end_to_end_fps
        out["ratio"] = self.ratio
        out["same_frames"] = self.same_frames
        for run, figures in zip(self.tracking_runs, out["tracking_runs"], strict=True):
            figures["calls_per_vehicle_frame"] = run.calls_per_vehicle_frame
            figures["calls_per_second"] = run.calls_per_second
        out["tracking_saving"] = self.tracking_saving
        return out

    def render(self) -> str:
        lines = [
            f"video            {self.video}",
            f"frames           {self.frames_detector_alone} detector alone, {self.frames_end_to_end} end-to-end"
            + (f" ({self.clip})" if self.clip else ""),
            f"detector         {self.detector} (batch {self.max_batch})",
            f"classifiers      {', '.join(self.classifiers) or 'none'}",
            *(f"runtime          {model.render()}" for model in self.models),
            f"load average     {' '.join(f'{v:.2f}' for v in self.loadavg_start)} at start, "
            + f"{' '.join(f'{v:.2f}' for v in self.loadavg_end)} at end (1, 5, 15 min; {os.cpu_count()} CPUs)",
            f"decode alone     {self.decode_fps:8.1f} frames/s",
            f"detector alone   {self.detector_fps:8.1f} frames/s  median (runs: "
            + f"{', '.join(f'{v:.1f}' for v in self.detector_alone_fps)}; {self.frames_detector_alone} frames)",
            f"end-to-end       {self.end_to_end_fps:8.1f} frames/s  median (runs: "
            + f"{', '.join(f'{v:.1f}' for v in self.end_to_end_runs)}; {self.frames_end_to_end} frames)",
            f"ratio            {self.ratio:8.3f}  (median end-to-end / median detector alone)",
            *(
                []
                if self.same_frames
                else [f"WARNING          end-to-end runs detected {self.end_to_end_frames} frames: not like with like"]
            ),
            f"vehicles {self.vehicles}, crops classified {self.crops_classified}, alerts {self.alerts}",
            "stage            calls   ms/call  ms/frame",
        ]
        for name, t in self.stages.items():
            lines.append(f"  {name:<12} {t.calls:7d} {t.ms_per_call:9.2f} {t.ms_per_frame:9.2f}")
        if self.tracking_runs:
            lines.append("tracking  frames/s  vehicle-frames  classifier calls  calls/vehicle-frame  calls/s  alerts")
            for run in self.tracking_runs:
                lines.append(
                    f"  {'on ' if run.tracking else 'off'}   {run.end_to_end_fps:8.1f}  {run.vehicle_frames:14d}"
                    f"  {run.crops_classified:16d}  {run.calls_per_vehicle_frame:19.3f}  {run.calls_per_second:7.1f}"
                    f"  {run.alerts:6d}"
                )
            saving = self.tracking_saving
            if saving is not None:
                lines.append(f"tracking saving  {saving:.1f}x fewer classifier calls per detected vehicle-frame")
        return "\n".join(lines)

    def plot(self, path: Path) -> None:
        """A PNG: throughput side by side, where an end-to-end frame's time goes, and (with classifiers) the
        classifier calls per detected vehicle-frame with tracking off and on."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        panels = 3 if self.tracking_runs else 2
        fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4))
        left, middle = axes[0], axes[1]
        names = ["decode alone", "detector alone", "end-to-end"]
        values = [self.decode_fps, self.detector_fps, self.end_to_end_fps]
        bars = left.bar(names, values, color=["#999999", "#4c72b0", "#dd8452"])
        left.bar_label(bars, fmt="%.1f")
        left.set_ylabel("frames/s (median)")
        left.set_title(f"ratio end-to-end / detector = {self.ratio:.3f}")
        stage_names = list(self.stages)
        middle.barh(stage_names, [self.stages[s].ms_per_frame for s in stage_names], color="#55a868")
        middle.set_xlabel("ms per frame (summed over calls)")
        middle.set_title("pipeline stages")
        if self.tracking_runs:
            right = axes[2]
            labels = [f"tracking {'on' if run.tracking else 'off'}" for run in self.tracking_runs]
            bars = right.bar(labels, [run.calls_per_vehicle_frame for run in self.tracking_runs], color="#8172b2")
            right.bar_label(bars, fmt="%.3f")
            right.set_ylabel("classifier calls per detected vehicle-frame")
            saving = self.tracking_saving
            right.set_title(f"{saving:.1f}x fewer with tracking" if saving else "classifier calls")
        classifiers = ", ".join(Path(name).stem for name in self.classifiers) or "none"
        fig.suptitle(f"{Path(self.video).name} | {Path(self.detector).stem} | classifiers: {classifiers}", fontsize=10)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)


def decode_frames(video: Path, limit: int) -> tuple[list[NDArray[np.uint8]], float, bool]:
    """The first ``limit`` frames of ``video``, the decode rate in frames/s, and whether more frames follow."""
    capture = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG)
    if not capture.isOpened():
        raise ValueError(f"cannot open video {video}")
    frames: list[NDArray[np.uint8]] = []
    started = time.perf_counter()
    try:
        while len(frames) < limit:
            ok, image = capture.read()
            if not ok:
                break
            frames.append(np.asarray(image, np.uint8))
        elapsed = time.perf_counter() - started
        more = len(frames) == limit and bool(capture.grab())
    finally:
        capture.release()
    if not frames:
        raise ValueError(f"no frame could be decoded from {video}")
    return frames, len(frames) / elapsed, more


def write_clip(frames: Sequence[NDArray[np.uint8]], path: Path, fps: float) -> Path:
    """``frames`` as an MJPG video at ``path`` (every frame a key frame: nothing depends on frames left out)."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write the benchmark clip {path}")
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()
    return path


@dataclass(frozen=True, slots=True)
class BenchClip:
    """What both sides of the benchmark run on: a file for the service, and the same frames decoded from it."""

    path: Path
    frames: list[NDArray[np.uint8]]
    decode_fps: float
    description: str


def prepare_clip(video: Path, limit: int, folder: Path) -> BenchClip:
    """The first ``limit`` frames of ``video`` as a file and as decoded frames, identical for both sides.

    A video with no more than ``limit`` frames is used as it is. A longer one is cut: its first frames are written
    to ``folder`` and decoded back, so the detector alone times the very pixels the service will read.
    """
    frames, decode_fps, more = decode_frames(video, limit)
    if not more:
        return BenchClip(video, frames, decode_fps, f"the whole video, {len(frames)} frames")
    capture = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG)
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    capture.release()
    clip = write_clip(frames, folder / f"{video.stem}_first{limit}.avi", fps if 0.0 < fps < 1000.0 else 25.0)
    decoded, clip_fps, _ = decode_frames(clip, limit)
    if len(decoded) != len(frames):
        raise RuntimeError(f"the benchmark clip {clip} holds {len(decoded)} frames, not {len(frames)}")
    return BenchClip(clip, decoded, clip_fps, f"its first {limit} frames, as an MJPG clip both sides read")


def time_detector(detector: Detector, frames: Sequence[NDArray[np.uint8]], batch: int) -> float:
    """Frames/s of preprocessing, inference and decoding alone, in batches as the pipeline would send them."""
    started = time.perf_counter()
    for start in range(0, len(frames), batch):
        detector.detect(frames[start : start + batch])
    return len(frames) / (time.perf_counter() - started)


def _histogram_totals(service: Service, name: str) -> dict[str, tuple[float, float]]:
    totals: dict[str, list[float]] = {}
    for metric in service.registry.collect():
        if metric.name != name:
            continue
        for sample in metric.samples:
            stage = sample.labels.get("stage", "")
            if sample.name.endswith("_sum"):
                totals.setdefault(stage, [0.0, 0.0])[0] = sample.value
            elif sample.name.endswith("_count"):
                totals.setdefault(stage, [0.0, 0.0])[1] = sample.value
    return {stage: (v[0], v[1]) for stage, v in totals.items()}


def _counter_total(service: Service, name: str) -> int:
    value = service.registry.get_sample_value(name)
    if value is not None:
        return int(value)
    total = 0.0
    for metric in service.registry.collect():
        for sample in metric.samples:
            if sample.name == name:
                total += sample.value
    return int(total)


def run_end_to_end(options: BenchOptions, source: Path, tracking: bool | None = None) -> tuple[Service, float, int]:
    """The service on the video file ``source`` as fast as it goes; ``tracking`` overrides the configured on/off."""
    overrides: dict[str, Any] = {
        **options.overrides,
        "cameras": [{"id": "bench", "source": str(source), "pace": False}],
        "redis": {"url": None, "embedded_port": 0, "embedded_persist": False, "spool": {"enabled": False}},
        "metrics": {"enabled": False},
    }
    if options.watchlist is not None:
        overrides["watchlist"] = {"path": str(options.watchlist)}
    if tracking is not None:
        overrides["tracking"] = {**overrides.get("tracking", {}), "enabled": tracking}
    service = Service(load_settings(None, overrides))
    service.start()
    if service.pipeline is None or service.started_at is None:
        raise RuntimeError("pipeline did not start")
    service.pipeline.wait()
    elapsed = time.monotonic() - service.started_at
    frames = service.pipeline.frames_detected
    service.stop()
    return service, frames / elapsed, frames


def run_benchmark(options: BenchOptions, progress: Callable[[str], None] = lambda _: None) -> BenchReport:
    """Runs the benchmark; ``progress`` gets a line as each run starts and ends (it takes minutes on a CPU)."""
    settings = load_settings(None, {**options.overrides, "cameras": [{"id": "bench", "source": str(options.video)}]})
    loadavg_start = _loadavg()
    with tempfile.TemporaryDirectory(prefix="vehiclewatch-bench-") as folder:
        clip = prepare_clip(options.video, options.frames, Path(folder))
        progress(f"decoded {len(clip.frames)} frames ({clip.decode_fps:.0f} frames/s): {clip.description}")
        report = _measure(options, settings, clip, progress)
    return replace(report, loadavg_start=loadavg_start, loadavg_end=_loadavg())


def _loadavg() -> tuple[float, ...]:
    return tuple(round(value, 2) for value in os.getloadavg())


def _measure(
    options: BenchOptions, settings: ServiceSettings, clip: BenchClip, progress: Callable[[str], None]
) -> BenchReport:
    """Detector-alone runs bracketing every end-to-end run, all on ``clip``; the figures of them all."""
    # Sized to the clip's frames as the service sizes it to its cameras' (detector.input_size: auto).
    detector = open_detector(settings.detector, [clip.frames[0].shape[:2]] if clip.frames else [])
    batch = detector.max_batch

    def detector_alone() -> float:
        fps = time_detector(detector, clip.frames, batch)
        progress(f"detector alone: {fps:.1f} frames/s ({len(clip.frames)} frames)")
        return fps

    # Detector-alone runs bracket every end-to-end run, and medians are compared: on a shared machine the load
    # changes from minute to minute, and this keeps both figures under the same conditions.
    detector_runs = [detector_alone()]
    e2e_runs: list[float] = []
    e2e_frames: list[int] = []
    runs: list[TrackingRun] = []
    compare = options.compare_tracking and bool(settings.classifiers.models)
    for repeat in range(options.repeat):
        runs = []
        # Off first, then on: the report's main figures are those of the run with tracking on (the default).
        for tracking in (False, True) if compare else (None,):
            label = "" if tracking is None else f", tracking {'on' if tracking else 'off'}"
            progress(f"end-to-end run {repeat + 1}/{options.repeat}{label} ...")
            service, e2e_fps, frames = run_end_to_end(options, clip.path, tracking)
            progress(f"end-to-end: {e2e_fps:.1f} frames/s ({frames} frames)")
            e2e_frames.append(frames)
            if tracking is not None:
                runs.append(_tracking_run(service, tracking, e2e_fps, frames))
        e2e_runs.append(e2e_fps)
        detector_runs.append(detector_alone())
    return BenchReport(
        video=str(options.video),
        detector=settings.detector.model.name,
        classifiers=[m.model.name for m in settings.classifiers.models],
        max_batch=batch,
        frames_detector_alone=len(clip.frames),
        frames_end_to_end=e2e_frames[-1],
        decode_fps=clip.decode_fps,
        detector_alone_fps=detector_runs,
        end_to_end_runs=e2e_runs,
        end_to_end_frames=e2e_frames,
        clip=clip.description,
        stages=_stages(service, e2e_frames[-1]),
        vehicles=_counter_total(service, "vehiclewatch_vehicles_detected_total"),
        crops_classified=_counter_total(service, "vehiclewatch_crops_classified_total"),
        alerts=_counter_total(service, "vehiclewatch_alerts_total"),
        tracking_runs=runs,
        models=describe_models(service),
    )


def _stages(service: Service, frames: int) -> dict[str, StageTime]:
    """Per pipeline stage of ``service``'s run: calls, ms per call and ms per frame."""
    stages: dict[str, StageTime] = {}
    totals = _histogram_totals(service, "vehiclewatch_stage_seconds")
    for stage in STAGES:
        seconds, calls = totals.get(stage, (0.0, 0.0))
        if calls:
            stages[stage] = StageTime(int(calls), seconds / calls * 1e3, seconds / max(frames, 1) * 1e3)
    return stages


def _tracking_run(service: Service, tracking: bool, fps: float, frames: int) -> TrackingRun:
    return TrackingRun(
        tracking=tracking,
        end_to_end_fps=fps,
        frames=frames,
        seconds=frames / fps if fps else 0.0,
        vehicle_frames=_counter_total(service, "vehiclewatch_vehicles_detected_total"),
        crops_classified=_counter_total(service, "vehiclewatch_crops_classified_total"),
        alerts=_counter_total(service, "vehiclewatch_alerts_total"),
    )
