"""`vehiclewatch watchlist calibrate`: fit, on labelled camera crops, the files that make alerts trustworthy.

Writes into ``--out``:

* ``calibration.yaml`` — per head a temperature or isotonic table (``classifiers.calibration``), each method chosen
  by clip-wise cross-validated log-loss, and the head's agreement exponent (how far agreeing views sharpen its
  fused per-track probability, fitted on the labelled vehicles), with provenance (data, folds, date);
* ``color_table.yaml`` — the measured colour table (``watchlist.color_table``);
* ``make_sizes.png`` — make accuracy against the box size, with the chosen ``abstain.make_min_box_side``;
* ``reliability_<head>_{before,after}.png`` — reliability diagrams, clip-wise cross-validated;
* with ``--exposure-sweep``, ``exposure.png`` and the colour exposure limits (``abstain.color_*``).

It prints the figures and the config lines that use the files. Like ``watchlist evaluate`` it needs the ``tools``
extra.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from streamer.cli.errors import clear_errors, needs_tools
from streamer.cli.watchlist_crops import CropArgs, classifier_settings, crop_options, read_labelled_crops

if TYPE_CHECKING:
    from classifiers.bank import ClassifierBank
    from watchlists.evaluation_calibrate import ServiceFit
    from watchlists.evaluation_vehicles import CropImages


def _exposure(bank: ClassifierBank, data: CropImages, out: Path) -> tuple[float, float, float]:
    from tqdm import tqdm  # type: ignore[import-untyped]

    from watchlists.evaluation_exposure import GAINS, choose_exposure_limits, exposure_sweep, plot_exposure
    from watchlists.evaluation_truth import head_truth
    from watchlists.field_weights import COLOR_HEAD

    labels = bank.heads.get(COLOR_HEAD)
    if labels is None:
        raise click.ClickException("--exposure-sweep needs a colour head (a colour model or --color-recognizer)")
    truth = head_truth(COLOR_HEAD, labels, [c.row for c in data.crops])
    total = len(GAINS) * int(((truth >= 0) & data.gated).sum())
    with tqdm(total=total, desc="exposure sweep", unit="crop", file=sys.stderr, leave=False) as bar:
        points = exposure_sweep(bank, data, truth, progress=bar.update)
    limits = choose_exposure_limits(points)
    plot_exposure(points, limits, out / "exposure.png")
    return limits


def _write(result: ServiceFit, data: CropImages, out: Path) -> None:
    from classifiers.calibration.file import save_calibration_file
    from watchlists.colors import save_color_table
    from watchlists.evaluation_plots import plot_calibration, plot_make_sizes
    from watchlists.evaluation_sizes import make_points

    save_calibration_file(result.calibration, out / "calibration.yaml")
    if result.color_table is not None:
        save_color_table(result.color_table, out / "color_table.yaml")
    sides, correct = make_points(data, result.raw)
    if len(sides):
        plot_make_sizes(sides, correct, out / "make_sizes.png", limit=result.fit.rules.make_min_box_side)
    plot_calibration(result.curves, out)


@click.command()
@crop_options
@click.option(
    "-o", "--out", type=click.Path(path_type=Path, file_okay=False), required=True, help="Folder for the files."
)
@click.option("--make-target", type=float, default=0.9, show_default=True, help="Make accuracy above the size limit.")
@click.option("--exposure-sweep", is_flag=True, help="Also measure colour under re-exposure (colour limits; ~1 min).")
def calibrate(out: Path, make_target: float, exposure_sweep: bool, **flags: Any) -> None:
    """Fit per-head calibration, the measured colour table and the abstention limits on labelled camera crops."""
    from streamer.service.config import configure_logging

    configure_logging("WARNING")
    args = CropArgs(**flags)
    if args.fold_column is None:
        raise click.UsageError("give --fold-column (e.g. clip): the calibration method is chosen clip-wise")
    with needs_tools("watchlist calibrate"), clear_errors():
        from tqdm import tqdm

        from classifiers.bank import ClassifierBank
        from watchlists.evaluation_calibrate import fit_for_service
        from watchlists.evaluation_fit import FitOptions
        from watchlists.evaluation_plots import calibration_rows, calibration_table

        data = read_labelled_crops(args)
        bank = ClassifierBank.from_settings(classifier_settings(args))
        out.mkdir(parents=True, exist_ok=True)
        options = FitOptions(make_target=make_target, rules=bank.abstain)
        with tqdm(total=int(data.gated.sum()), desc="classifying", unit="crop", file=sys.stderr, leave=False) as bar:
            result = fit_for_service(bank, data, options, source=str(args.data_path.resolve()), progress=bar.update)
        _write(result, data, out)
        limits = _exposure(bank, data, out) if exposure_sweep else None
    click.echo(calibration_table(calibration_rows(result.curves)))
    for head, calibration in sorted(result.calibration.heads.items()):
        fused = ""
        if calibration.agreement_exponent is not None and "fusion_vehicles" in calibration.measured:  # in sample
            m = calibration.measured
            fused = (
                f"; fused per track with agreement exponent {calibration.agreement_exponent:g} (vehicle log-loss "
                f"{m['fusion_log_loss_configured']:.3f} → {m['fusion_log_loss_fitted']:.3f} on "
                f"{m['fusion_vehicles']:.0f} multi-view vehicles)"
            )
        click.echo(
            f"{head}: {calibration.method}"
            + (f" T={calibration.temperature:g}" if calibration.temperature else "")
            + fused
        )
    click.echo(f"make: abstain below {result.fit.rules.make_min_box_side} px (target accuracy {make_target:g})")
    config = [
        "classifiers:",
        f"  calibration: {out / 'calibration.yaml'}",
        "  abstain:",
        f"    make_min_box_side: {result.fit.rules.make_min_box_side}",
    ]
    if limits is not None:
        click.echo(
            f"colour: abstain below {limits[0]:g} / above {limits[1]:g} luminance or above {limits[2]:g} clipped"
        )
        config += [
            f"    color_min_luminance: {limits[0]:g}",
            f"    color_max_luminance: {limits[1]:g}",
            f"    color_max_clipped: {limits[2]:g}",
        ]
    if result.color_table is not None:
        config += ["watchlist:", f"  color_table: {out / 'color_table.yaml'}"]
    click.echo("config:\n" + "\n".join(config))
