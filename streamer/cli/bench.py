"""`vehiclewatch bench`: the command; the benchmark itself (runs, figures, plot) is :mod:`streamer.bench`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from streamer.cli.defaults import model_overrides, require_detector
from streamer.cli.errors import clear_errors, needs_tools
from streamer.cli.options import classifier_option, color_recognizer_option, detector_option, models_option


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
    "--repeat", type=click.IntRange(1), default=1, show_default=True, help="End-to-end runs (medians are compared)."
)
@click.option("--watchlist", type=click.Path(path_type=Path, dir_okay=False), help="Watchlist to match (optional).")
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
    plot: Path | None,
    json_out: Path | None,
) -> None:
    """Benchmark the pipeline on the first frames of VIDEO against the detector alone on the same frames."""
    from streamer.bench import BenchOptions, run_benchmark
    from streamer.service.config import configure_logging

    configure_logging("WARNING")
    overrides = model_overrides(models, detector, classifiers, color_recognizer)
    require_detector(overrides)["max_batch"] = max_batch
    if no_classifiers:
        overrides["classifiers"] = {"models": []}
    with clear_errors():
        report = run_benchmark(
            BenchOptions(video=video, frames=frames, overrides=overrides, watchlist=watchlist, repeat=repeat),
            progress=lambda line: click.echo(f"bench: {line}", err=True),
        )
    click.echo(report.render())
    if plot is not None:
        with needs_tools("bench --plot"):
            report.plot(plot)
        click.echo(f"plot: {plot}")
    if json_out is not None:
        json_out.write_text(json.dumps(report.as_dict(), indent=2))
