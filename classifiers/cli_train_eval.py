"""``vehiclewatch train`` and ``vehiclewatch eval``: click commands, attached to the main group by the CLI package.

This module imports only click at load time: what the commands run (scikit-learn, matplotlib, tqdm, onnx: the
``tools`` extra) is imported when a command runs, so ``vehiclewatch --help`` and ``vehiclewatch train --help`` work
on an install without that extra; the CLI turns a missing package of it into one line, exit status 2.

Bad input (missing images, too few images per label, a backbone without an ``embedding`` output, unknown labels)
ends with one error line and exit status 2 (:class:`BadInput`), never a traceback; through ``vehiclewatch`` the
line is ``vehiclewatch: error: ...`` like every other command's (see ``streamer.cli.errors``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from classifiers.training.augment import AugmentConfig
    from classifiers.training.trainer import TrainResult

# classifiers.training.heads.HEAD_KINDS, written out so that --help needs no scikit-learn (a test compares them).
HEAD_KINDS_HELP = "prototype,logreg,mlp"


class BadInput(click.ClickException):
    """Input train or eval cannot use: one ``Error: ...`` line and exit status 2, the vehiclewatch convention."""

    exit_code = 2


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """Turns the errors bad input raises into :class:`BadInput` (one line, exit status 2)."""
    from pydantic import ValidationError

    from classifiers.training.errors import TrainingError
    from detectors.runtime import ModelLoadError

    try:
        yield
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        # pydantic prefixes messages of validators that raise ValueError with "Value error, ".
        message = str(err["msg"]).removeprefix("Value error, ")
        raise BadInput(f"{where + ': ' if where else ''}{message}") from exc
    except (TrainingError, ModelLoadError) as exc:
        raise BadInput(str(exc).splitlines()[0]) from exc


def _csv_list(value: str | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(v.strip() for v in value.split(",") if v.strip())


def _path(**kwargs: Any) -> click.Path:
    return click.Path(path_type=Path, **kwargs)


def _runtime_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option("--batch-size", default=32, show_default=True, help="Images per inference run."),
            click.option("--threads", default=0, show_default=True, help="ONNX Runtime threads (0 = default)."),
            click.option(
                "--providers", default="cpu", show_default=True, help="ONNX Runtime providers, comma-separated."
            ),
            click.option("--quiet", is_flag=True, help="No progress bars."),
        ]
    ):
        func = option(func)
    return func


@click.command("train")
@click.argument("data", required=False, type=_path(exists=True))
@click.option("-o", "--output", required=True, type=_path(dir_okay=False), help="ONNX file to write.")
@click.option("--backbone", type=_path(exists=True, dir_okay=False), help="Backbone ONNX with an `embedding` output.")
@click.option("--base", type=_path(exists=True, dir_okay=False), help="Model made by train, to add classes to.")
@click.option("--add", multiple=True, type=_path(exists=True), help="Labelled folder/CSV of images to add (repeat).")
@click.option("--label-column", help="CSV column with the class (default: label, class_name, class or color).")
@click.option("--path-column", default="path", show_default=True, help="CSV column with image paths.")
@click.option("--attribute-columns", help="Per-class CSV columns to keep, e.g. make,model,year (default: auto).")
@click.option("--task", help="Task metadata (default: make_model, color, make ... from the label column).")
@click.option("--holdout", default=0.0, show_default=True, help="Share of each class held out for eval.")
@click.option("--val-fraction", default=0.15, show_default=True, help="Share of training images for head choice.")
@click.option("--seed", type=int, help="Split/augmentation seed (default 0, or the base's).")
@click.option("--heads", help=f"Head kinds to try, comma-separated, from {HEAD_KINDS_HELP} (default: all).")
@click.option("--augment-copies", type=int, help="Augmented views per training image (default 2, or the base's).")
@click.option("--no-augment", is_flag=True, help="Train on original images only.")
@click.option(
    "--camera-augment",
    is_flag=True,
    help="Augmented views also imitate traffic cameras (down-scaling, JPEG, blur, colour casts, haze, noise).",
)
@click.option(
    "--cache-dir",
    type=_path(file_okay=False),
    help="Embedding cache (default: vehiclewatch/embeddings in $XDG_CACHE_HOME, else in ~/.cache).",
)
@click.option("--no-cache", is_flag=True, help="Do not read or write the embedding cache.")
@_runtime_options
def train_command(
    data: Path | None,
    output: Path,
    backbone: Path | None,
    base: Path | None,
    add: tuple[Path, ...],
    label_column: str | None,
    path_column: str,
    attribute_columns: str | None,
    task: str | None,
    holdout: float,
    val_fraction: float,
    seed: int | None,
    heads: str | None,
    augment_copies: int | None,
    no_augment: bool,
    camera_augment: bool,
    cache_dir: Path | None,
    no_cache: bool,
    batch_size: int,
    threads: int,
    providers: str,
    quiet: bool,
) -> None:
    """Train a classifier head on a backbone's embeddings from labelled images in DATA and write one ONNX file.

    DATA is a folder with labels.csv (path + label columns), a CSV file, or a folder with one sub-folder per class.
    With --holdout 0.2, a fifth of each class is held out and listed in OUTPUT.holdout.csv for `eval`.
    To add classes to a trained model: train --base model.onnx --add new_images/ -o model2.onnx.
    """
    with _one_line_errors():
        from classifiers.training import trainer
        from classifiers.training.cache import default_cache_dir

        config = trainer.TrainConfig(
            data=data,
            output=output,
            backbone=backbone,
            base=base,
            add=add,
            label_column=label_column,
            path_column=path_column,
            attribute_columns=_csv_list(attribute_columns),
            task=task,
            holdout_fraction=holdout,
            val_fraction=val_fraction,
            seed=seed,
            augment=_augment(no_augment, augment_copies, camera_augment),
            heads=_csv_list(heads),
            cache_dir=None if no_cache else (cache_dir or default_cache_dir()),
            batch_size=batch_size,
            threads=threads,
            providers=_csv_list(providers) or ("cpu",),
            progress=not quiet,
        )
        result = trainer.train(config)
    _print_train_result(result)


def _augment(no_augment: bool, copies: int | None, camera: bool) -> AugmentConfig | None:
    """The augmentation the flags ask for; None keeps the default (or the base model's)."""
    from classifiers.training.augment import AugmentConfig

    if no_augment:
        return AugmentConfig(copies=0)
    if copies is not None or camera:
        return AugmentConfig(copies=2 if copies is None else copies, camera=camera)
    return None


def _print_train_result(result: TrainResult) -> None:
    click.echo(f"wrote {result.output}: {len(result.labels)} classes, head {result.head}")
    click.echo(
        f"  trained on {result.train_images} images ({result.embedded_views} embedded views), "
        f"validation top-1 {100 * result.val_top1:.1f}% top-3 {100 * result.val_top3:.1f}% "
        f"on {result.val_images} images"
    )
    for score in result.candidates:
        click.echo(
            f"  candidate {score.name:<18} val top-1 {100 * score.top1:5.1f}%  top-3 {100 * score.top3:5.1f}%  "
            f"log-loss {score.log_loss:.3f}  fit {score.fit_seconds:.1f} s"
        )
    if result.added_labels:
        click.echo(f"  added classes: {', '.join(result.added_labels)}")
    click.echo(f"  time: {', '.join(f'{k} {v:.1f} s' for k, v in result.seconds.items())}")
    click.echo(f"  training list {result.train_csv}; summary {result.summary_json}")
    if result.holdout_csv is not None:
        click.echo(f"  held out {result.holdout_images} images: vehiclewatch eval {result.output} {result.holdout_csv}")


def _aliases(pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        dataset_label, sep, model_label = pair.partition("=")
        if not sep or not dataset_label.strip() or not model_label.strip():
            raise click.BadParameter(f"expected DATASET_LABEL=MODEL_LABEL, got {pair!r}", param_hint="--map")
        out[dataset_label.strip()] = model_label.strip()
    return out


def _near_pairs(pairs: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    if not pairs:
        from classifiers.evaluation.vehicles import DEFAULT_NEAR

        return DEFAULT_NEAR
    out = []
    for pair in pairs:
        a, sep, b = pair.partition("=")
        if not sep or not a.strip() or not b.strip():
            raise click.BadParameter(f"expected LABEL=LABEL, got {pair!r}", param_hint="--near")
        out.append((a.strip(), b.strip()))
    return tuple(out)


@click.command("eval")
@click.argument("model", type=_path(exists=True, dir_okay=False))
@click.argument("data", type=_path(exists=True))
@click.option("--label-column", help="CSV column with the true class (default: label, class_name, class or color).")
@click.option("--path-column", default="path", show_default=True, help="CSV column with image paths.")
@click.option("--output", "output_name", help="Model output to evaluate (default: the one matching the labels).")
@click.option("--map", "mapping", multiple=True, help="DATASET_LABEL=MODEL_LABEL alias (repeat), e.g. grey=gray.")
@click.option("--report-dir", type=_path(file_okay=False), help="Where to write report.json, CSV and PNGs.")
@click.option("--baseline", type=_path(exists=True, dir_okay=False), help="Compare with this model on shared labels.")
@click.option("--top-confused", default=15, show_default=True, help="Confused pairs to list.")
@click.option(
    "--group-column",
    help="Column naming each row's vehicle (e.g. same_as; empty: the row's own id): adds strict/near accuracy per "
    "crop and per vehicle, and confusion_vehicles.png.",
)
@click.option("--id-column", default="id", show_default=True, help="Column with each row's id (for --group-column).")
@click.option(
    "--near",
    "near_pairs",
    multiple=True,
    help="A=B label pair counted as right in near accuracy (repeat); default silver=grey and silver=white.",
)
@click.option(
    "--vehicle-fusion",
    type=click.Choice(["mean", "log"]),
    default="mean",
    show_default=True,
    help="Fuse a vehicle's crops by mean probabilities or mean log-probabilities.",
)
@click.option(
    "--vehicle-weights",
    type=click.Choice(["size", "equal"]),
    default="size",
    show_default=True,
    help="Weight of each crop in its vehicle: its shorter side, or equal.",
)
@click.option(
    "--crop-margin",
    default=0.0,
    show_default=True,
    help="Margin the images were cut with around the vehicle box (for a colour recogniser file; "
    "traffic_crops_dev: 0.1).",
)
@_runtime_options
def eval_command(
    model: Path,
    data: Path,
    label_column: str | None,
    path_column: str,
    output_name: str | None,
    mapping: tuple[str, ...],
    report_dir: Path | None,
    baseline: Path | None,
    top_confused: int,
    group_column: str | None,
    id_column: str,
    near_pairs: tuple[str, ...],
    vehicle_fusion: str,
    vehicle_weights: str,
    crop_margin: float,
    batch_size: int,
    threads: int,
    providers: str,
    quiet: bool,
) -> None:
    """Evaluate classifier MODEL on the labelled images in DATA (folder, labels.csv, or one folder per class).

    Prints top-1/3/5, macro precision/recall/F1, a per-class table, the most confused pairs and, for make+model
    classifiers, make-level accuracy; writes report.json, per_class.csv and PNG plots to --report-dir
    (default out/eval/<model>__<data>). MODEL may also be a colour recogniser file (.yaml, see docs/color.md).
    With --group-column, also per-vehicle strict and near accuracy.
    """
    with _one_line_errors():
        from classifiers.evaluation.report import format_text
        from classifiers.evaluation.runner import EvalConfig, evaluate

        # Default under out/, which the project's .gitignore keeps out of the repository.
        folder = report_dir or Path("out") / "eval" / f"{model.stem}__{data.stem if data.is_file() else data.name}"
        config = EvalConfig(
            model=model,
            data=data,
            label_column=label_column,
            path_column=path_column,
            output=output_name,
            aliases=_aliases(mapping),
            report_dir=folder,
            baseline=baseline,
            top_confused=top_confused,
            group_column=group_column,
            id_column=id_column,
            near=_near_pairs(near_pairs),
            vehicle_fusion=vehicle_fusion,
            vehicle_weights=vehicle_weights,
            crop_margin=crop_margin,
            batch_size=batch_size,
            threads=threads,
            providers=_csv_list(providers) or ("cpu",),
            progress=not quiet,
        )
        report = evaluate(config)
    click.echo(format_text(report))
    click.echo(f"report: {folder / 'report.json'}")


# The names the CLI package attaches as ``vehiclewatch train`` and ``vehiclewatch eval`` (streamer/cli/tools.py).
train = train_command
eval = eval_command  # shadows the builtin only inside this module, which never calls it
