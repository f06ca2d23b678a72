"""`vehiclewatch bench`: the command; the benchmarks themselves (runs, figures, plots) are :mod:`streamer.bench`
(end to end against the detector alone), :mod:`streamer.bench_runtimes` (``--runtimes``) and
:mod:`streamer.bench_capacity` (``--cameras-per-box``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

import click

from streamer.cli.defaults import model_overrides, require_detector
from streamer.cli.errors import clear_errors, needs_tools
from streamer.cli.options import classifier_option, color_recognizer_option, detector_option, models_option


class _Report(Protocol):
    def render(self) -> str: ...

    def plot(self, path: Path) -> None: ...

    def as_dict(self) -> dict[str, Any]: ...


def _progress(line: str) -> None:
    click.echo(f"bench: {line}", err=True)


def _output(report: _Report, plot: Path | None, json_out: Path | None) -> None:
    click.echo(report.render())
    if plot is not None:
        with needs_tools("bench --plot"):
            report.plot(plot)
        click.echo(f"plot: {plot}")
    if json_out is not None:
        json_out.write_text(json.dumps(report.as_dict(), indent=2))


def _runtime_files(models: Path | None, detector: Path | None, overrides: dict[str, Any]) -> list[Path]:
    """The configured detector, and the fp32 file of the same weights when ``--models`` has it."""
    from streamer.bench_runtimes import FP32_DETECTOR

    files = [Path(require_detector(overrides)["model"])]
    if models is not None and detector is None and (models / FP32_DETECTOR).is_file():
        files.append(models / FP32_DETECTOR)
    return files


@click.command()
@click.argument("video", type=click.Path(path_type=Path, dir_okay=False))
@models_option
@detector_option
@classifier_option
@color_recognizer_option
@click.option("--no-classifiers", is_flag=True, help="Detector only (measures the pipeline's own overhead).")
@click.option("--max-batch", type=int, default=1, show_default=True, help="Detector batch (dynamic-batch models).")
@click.option(
    "--frames", type=click.IntRange(1), default=300, show_default=True, help="Most frames of VIDEO to use (both sides)."
)
@click.option(
    "--repeat",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="End-to-end runs (medians are compared); with --runtimes, rounds of every candidate.",
)
@click.option("--watchlist", type=click.Path(path_type=Path, dir_okay=False), help="Watchlist to match (optional).")
@click.option("--plates", is_flag=True, help="Read licence plates too (tracking.plates; needs the 'plates' extra).")
@click.option(
    "--runtimes",
    is_flag=True,
    help="Instead: the detector on every runtime x precision here (inferences/s, agreement with ONNX Runtime fp32).",
)
@click.option(
    "--cameras-per-box",
    is_flag=True,
    help="Instead: N paced copies of VIDEO in one service, N = 1, 2, ... until the cameras no longer keep up.",
)
@click.option(
    "--detect-fps",
    type=click.FloatRange(min=0.0, min_open=True),
    default=5.0,
    show_default=True,
    help="--cameras-per-box: frames/s each camera sends to the detector.",
)
@click.option(
    "--max-cameras", type=click.IntRange(1), default=8, show_default=True, help="--cameras-per-box: largest N tried."
)
@click.option(
    "--window-s",
    type=click.FloatRange(min=1.0),
    default=20.0,
    show_default=True,
    help="--cameras-per-box: seconds measured per N (after a 5 s warm-up).",
)
@click.option("--plot", type=click.Path(path_type=Path, dir_okay=False), help="Write a PNG of the figures.")
@click.option("--json-out", type=click.Path(path_type=Path, dir_okay=False), help="Write the figures as JSON.")
def bench(
    video: Path,
    models: Path | None,
    detector: Path | None,
    classifiers: tuple[Path, ...],
    color_recognizer: Path | None,
    no_classifiers: bool,
    max_batch: int,
    frames: int,
    repeat: int,
    watchlist: Path | None,
    plates: bool,
    runtimes: bool,
    cameras_per_box: bool,
    detect_fps: float,
    max_cameras: int,
    window_s: float,
    plot: Path | None,
    json_out: Path | None,
) -> None:
    """Benchmark the pipeline on the first frames of VIDEO against the detector alone on the same frames.

    With --runtimes, the detector on each runtime and precision instead; with --cameras-per-box, how many paced
    cameras one service keeps up with. Every report gives the machine's load average.
    """
    from streamer.service.config import configure_logging
    from streamer.sources.native_logging import quiet_native_logging

    configure_logging("WARNING")
    quiet_native_logging()  # FFmpeg's and OpenCV's own lines: the one-line error says what failed
    if runtimes and cameras_per_box:
        raise click.UsageError("--runtimes and --cameras-per-box are two benchmarks: give one")
    for output in (plot, json_out):  # made now, not found missing after minutes of measuring
        if output is not None:
            try:
                output.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise click.UsageError(f"cannot write {output}: {exc.strerror}") from None
    overrides = model_overrides(models, detector, classifiers, color_recognizer)
    require_detector(overrides)["max_batch"] = max_batch
    if no_classifiers:
        overrides["classifiers"] = {"models": []}
    if plates:
        overrides["tracking"] = {"plates": {"enabled": True}}
    report: _Report
    with clear_errors():
        if runtimes:
            from streamer.bench_runtimes import RuntimesOptions, run_runtimes

            files = _runtime_files(models, detector, overrides)
            report = run_runtimes(RuntimesOptions(video, frames, files, overrides, repeat), _progress)
        elif cameras_per_box:
            from streamer.bench_capacity import CapacityOptions, run_capacity

            if watchlist is not None:
                overrides["watchlist"] = {"path": str(watchlist)}
            options = CapacityOptions(video, overrides, detect_fps, max_cameras, window_s=window_s)
            report = run_capacity(options, _progress)
        else:
            from streamer.bench import BenchOptions, run_benchmark

            options_e2e = BenchOptions(video, frames, overrides, watchlist=watchlist, repeat=repeat)
            report = run_benchmark(options_e2e, _progress)
    _output(report, plot, json_out)
