"""`vehiclewatch watchlist evaluate`: precision and recall of a watchlist's alerts on a labelled image set.

Per image (the default), or with ``--group-column`` per vehicle as an operator sees the alerts: each vehicle's
crops go through the classifier bank as the service runs it (per-model crop margins cut from the stored boxes,
calibration, abstention), are fused as the service fuses a track, and the watchlist is matched once per vehicle.
With ``--fold-column`` it is cross-validated by that column (e.g. ``clip``): everything fitted (calibration, the
make size limit, the measured colour table, the colour recogniser's pool) is fitted on the other folds and applied
to the held-out one (:mod:`watchlists.evaluation_cv`).

Kept apart from :mod:`streamer.cli.watchlist` because it needs the ``tools`` extra (the labelled-set reader, the
plots, progress bars): running it without the extra is one line, exit 2, while its ``--help`` and every other
watchlist command work without it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from streamer.cli.errors import clear_errors, needs_tools
from streamer.cli.watchlist_crops import CropArgs, classifier_settings, crop_options, read_labelled_crops

if TYPE_CHECKING:
    from classifiers.bank import ClassifierBank
    from classifiers.types import Classification
    from watchlists.evaluation import MatchingReport
    from watchlists.matching import Matcher

VEHICLE_THRESHOLDS: tuple[float, ...] = (*(round(0.05 * k, 2) for k in range(1, 20)), 0.97, 0.99)
"""The per-vehicle curve: 0.05 to 0.95, and two points above for high-precision operating points."""


def _classify_images(bank: ClassifierBank, paths: Sequence[Path], batch_size: int) -> list[Classification]:
    """Every image classified in batches, whole image = one crop, with a progress bar on stderr."""
    from classifiers.training.embed import read_image
    from watchlists.evaluation import classify_images

    with click.progressbar(length=len(paths), label="classifying", file=sys.stderr) as bar:
        return classify_images(bank.classify_images, paths, read_image, batch_size=batch_size, progress=bar.update)


def _per_image(args: CropArgs, matcher: Matcher) -> MatchingReport:
    """The per-image figures: each image classified whole."""
    from classifiers.bank import ClassifierBank
    from classifiers.training.dataset import load_labelled
    from watchlists.evaluation import evaluate_matching

    data = load_labelled(args.data_path, path_column=args.path_column)
    items = data.items[: args.limit] if args.limit else data.items
    bank = ClassifierBank.from_settings(classifier_settings(args))
    for problem in matcher.unmatchable_fields(bank.heads):
        click.echo(f"warning: {problem}", err=True)
    classifications = _classify_images(bank, [item.path for item in items], args.batch_size)
    return evaluate_matching(matcher, classifications, [item.row for item in items], str(args.data_path))


def _per_vehicle(args: CropArgs, matcher: Matcher, options: dict[str, Any], out_dir: Path | None) -> MatchingReport:
    """The per-vehicle figures (cross-validated with --fold-column), with their outputs written to ``out_dir``."""
    from tqdm import tqdm  # type: ignore[import-untyped]

    from classifiers.bank import ClassifierBank
    from watchlists.evaluation import evaluate_scores
    from watchlists.evaluation_cv import CVOptions, evaluate_vehicles
    from watchlists.evaluation_fit import FitOptions
    from watchlists.evaluation_outputs import summary_text, write_vehicle_outputs

    data = read_labelled_crops(args)
    bank = ClassifierBank.from_settings(classifier_settings(args))
    for problem in matcher.unmatchable_fields(bank.heads):
        click.echo(f"warning: {problem}", err=True)
    fit = FitOptions(
        calibrate=options["calibrate"] and args.calibration is None,
        color_table=options["fit_color_table"],
        make_limit=options["make_limit"] and args.abstain,
        fusion=options["fit_fusion"],
        rules=bank.abstain,
    )
    cv = CVOptions(fit=fit if options["fit"] else None, refit_color=options["refit_color"])
    passes = 2 * int(data.gated.sum())
    with tqdm(total=passes, desc="classifying", unit="crop", file=sys.stderr, leave=False) as bar:
        evaluation = evaluate_vehicles(bank, data, options["matcher_for"], cv, progress=bar.update)
    report = evaluate_scores(
        matcher,
        evaluation.scores,
        [v.row for v in evaluation.vehicles],
        str(args.data_path),
        VEHICLE_THRESHOLDS,
        heads=tuple(sorted(bank.heads)),
        unit="vehicles",
    )
    click.echo(summary_text(evaluation, data))
    if out_dir is not None:
        report = write_vehicle_outputs(report, evaluation, data, matcher, out_dir)
    return report


@click.command()
@crop_options
@click.option("--watchlist", "watchlist_path", required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--default-threshold", type=float, help="Threshold of entries without one (default: 0.5).")
@click.option(
    "--plot", type=click.Path(path_type=Path, dir_okay=False), help="PNG of precision/recall over thresholds."
)
@click.option("--json-out", type=click.Path(path_type=Path, dir_okay=False), help="Write the figures as JSON.")
@click.option(
    "--out-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Per vehicle: write the curve, the false alerts (PNG contact sheet, CSV, JSON), make against size and "
    "the reliability plots here.",
)
@click.option("--exact-colors", is_flag=True, help="No partial credit for confusable colours (to compare).")
@click.option(
    "--no-shade", "judge_shade", flag_value=False, default=True, help="Do not judge shades on the color_shade head."
)
@click.option(
    "--color-table",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Measured colour table (watchlist.color_table); with --fold-column each fold fits its own.",
)
@click.option("--no-fit", "fit", flag_value=False, default=True, help="With --fold-column: fit nothing per fold.")
@click.option("--no-calibrate", "calibrate", flag_value=False, default=True, help="Folds fit no calibration.")
@click.option("--no-color-fit", "fit_color_table", flag_value=False, default=True, help="Folds fit no colour table.")
@click.option("--no-make-limit", "make_limit", flag_value=False, default=True, help="Folds fit no make size limit.")
@click.option(
    "--no-fusion-fit",
    "fit_fusion",
    flag_value=False,
    default=True,
    help="Folds fit no per-head agreement exponent (tracks fused with tracking.fusion's).",
)
@click.option(
    "--keep-color-pool",
    "refit_color",
    flag_value=False,
    default=True,
    help="Use the colour recogniser's pool as written (in-sample on the clips it was built from).",
)
def evaluate(
    watchlist_path: Path,
    default_threshold: float | None,
    plot: Path | None,
    json_out: Path | None,
    out_dir: Path | None,
    exact_colors: bool,
    judge_shade: bool,
    color_table: Path | None,
    **flags: Any,
) -> None:
    """Precision and recall of the watchlist's alerts on a labelled image set, per entry and overall."""
    from streamer.service.config import configure_logging

    configure_logging("WARNING")
    started = time.perf_counter()
    options = {
        name: flags.pop(name)
        for name in ("fit", "calibrate", "fit_color_table", "make_limit", "fit_fusion", "refit_color")
    }
    args = CropArgs(**flags)
    with needs_tools("watchlist evaluate"), clear_errors():
        from watchlists.colors import ColorTable, load_color_table
        from watchlists.entries import load_watchlist
        from watchlists.evaluation import plot_report, timed, write_report
        from watchlists.matching import Matcher
        from watchlists.settings import DEFAULT_THRESHOLD

        entries = load_watchlist(watchlist_path)
        threshold = default_threshold or DEFAULT_THRESHOLD
        given = load_color_table(color_table) if color_table is not None else None

        def matcher_for(table: ColorTable | None) -> Matcher:
            return Matcher(
                entries,
                threshold,
                color_confusion=not exact_colors,
                color_table=table or given,
                judge_shade=judge_shade,
            )

        matcher = matcher_for(None)
        if args.group_column is None:
            report = _per_image(args, matcher)
        else:
            options["matcher_for"] = matcher_for
            options["fit_color_table"] = options["fit_color_table"] and given is None and not exact_colors
            report = _per_vehicle(args, matcher, options, out_dir)
        if plot is not None:
            report = replace(report, plot=str(plot_report(report, plot, matcher.default_threshold)))
    report = timed(report, started)
    click.echo(report.text())
    for line in report_notes(report):
        click.echo(line)
    if json_out is not None:
        write_report(report, json_out)


def report_notes(report: MatchingReport) -> list[str]:
    """Where the plots went, and the best operating point of the curve with precision at least 0.95."""
    lines = [f"plot: {report.plot}"] if report.plot else []
    best = [p for p in report.curve if p.precision is not None and p.precision >= 0.95 and p.recall is not None]
    if best:
        point = max(best, key=lambda p: (p.recall or 0.0, -p.threshold))
        lines.append(
            f"precision >= 0.95 on the curve: threshold {point.threshold:.2f} gives precision "
            f"{100 * (point.precision or 0):.1f}%, recall {100 * (point.recall or 0):.1f}% (read off this curve)"
        )
    return lines
