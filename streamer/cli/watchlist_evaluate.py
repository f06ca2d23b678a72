"""`vehiclewatch watchlist evaluate`: precision and recall of a watchlist's alerts on a labelled image set.

Kept apart from :mod:`streamer.cli.watchlist` because it is the one watchlist command that needs the ``tools``
extra (the labelled-set reader and the plot): running it without the extra is one line, exit 2, while its
``--help`` and every other watchlist command work without it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from streamer.cli.defaults import MODELS_ENV, default_classifier_files, default_models_dir
from streamer.cli.errors import clear_errors, fail, needs_tools

if TYPE_CHECKING:
    from classifiers.bank import ClassifierBank
    from classifiers.types import Classification


def _classifier_files(models: Path | None, classifiers: Sequence[Path]) -> list[Path]:
    """The ``--classifier`` files, else the default make and colour classifiers of ``--models``."""
    files = list(classifiers)
    if not files and models is not None:
        files = default_classifier_files(models)
    if not files:
        fail(f"no classifier: give --classifier FILE or --models DIR (or set {MODELS_ENV})")
    return files


def _open_bank(files: Sequence[Path]) -> ClassifierBank:
    from classifiers.bank import ClassifierBank
    from classifiers.settings import ClassifierSettings

    settings = ClassifierSettings(models=tuple({"model": str(p), "providers": ("cpu",)} for p in files))
    return ClassifierBank.from_settings(settings)


def _classify(bank: ClassifierBank, paths: Sequence[Path], batch_size: int) -> list[Classification]:
    """Every image classified in batches, with a progress bar on stderr."""
    from classifiers.training.embed import read_image
    from watchlists.evaluation import classify_images

    with click.progressbar(length=len(paths), label="classifying", file=sys.stderr) as bar:
        return classify_images(bank.classify_images, paths, read_image, batch_size=batch_size, progress=bar.update)


@click.command()
@click.option(
    "--data",
    "data_path",
    required=True,
    type=click.Path(path_type=Path, exists=True),
    help="Labelled images: a labels.csv (columns make, model, year, body_type, color) or a folder holding one.",
)
@click.option("--watchlist", "watchlist_path", required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--models",
    type=click.Path(path_type=Path, file_okay=False),
    default=default_models_dir,
    help=f"Folder with the make and colour classifiers (the files run picks there; env {MODELS_ENV}).",
)
@click.option(
    "--classifier",
    "classifiers",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Classifier ONNX file (repeat); overrides --models.",
)
@click.option("--default-threshold", type=float, help="Threshold of entries without one (default: 0.5).")
@click.option(
    "--plot", type=click.Path(path_type=Path, dir_okay=False), help="PNG of precision/recall over thresholds."
)
@click.option("--json-out", type=click.Path(path_type=Path, dir_okay=False), help="Write the figures as JSON.")
@click.option("--limit", type=int, help="Use only the first N images (a quick look).")
@click.option("--path-column", default="path", show_default=True, help="CSV column with the image paths.")
@click.option("--exact-colors", is_flag=True, help="No partial credit for confusable colours (to compare).")
@click.option("--batch-size", type=int, default=32, show_default=True, help="Images per inference call.")
def evaluate(
    data_path: Path,
    watchlist_path: Path,
    models: Path | None,
    classifiers: tuple[Path, ...],
    default_threshold: float | None,
    plot: Path | None,
    json_out: Path | None,
    limit: int | None,
    path_column: str,
    exact_colors: bool,
    batch_size: int,
) -> None:
    """Precision and recall of the watchlist's alerts on a labelled image set, per entry and overall."""
    from streamer.service.config import configure_logging

    configure_logging("WARNING")
    started = time.perf_counter()
    files = _classifier_files(models, classifiers)
    with needs_tools("watchlist evaluate"), clear_errors():
        from classifiers.training.dataset import load_labelled
        from watchlists.entries import load_watchlist
        from watchlists.evaluation import evaluate_matching, plot_report, timed, write_report
        from watchlists.matching import Matcher
        from watchlists.settings import DEFAULT_THRESHOLD

        matcher = Matcher(
            load_watchlist(watchlist_path), default_threshold or DEFAULT_THRESHOLD, color_confusion=not exact_colors
        )
        data = load_labelled(data_path, path_column=path_column)
        items = data.items[:limit] if limit else data.items
        bank = _open_bank(files)
        for problem in matcher.unmatchable_fields(bank.heads):
            click.echo(f"warning: {problem}", err=True)
        classifications = _classify(bank, [item.path for item in items], batch_size)
        report = evaluate_matching(matcher, classifications, [item.row for item in items], str(data_path))
        if plot is not None:
            report = replace(report, plot=str(plot_report(report, plot, matcher.default_threshold)))
    report = timed(report, started)
    click.echo(report.text())
    if plot is not None:
        click.echo(f"plot: {plot}")
    if json_out is not None:
        write_report(report, json_out)
