"""`vehiclewatch plates eval`: the plate reader's figures on a labelled set (see `classifiers.plates.evaluation`)."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group("plates")
def plates_group() -> None:
    """Licence plates: evaluate the plate reader (needs the 'plates' and 'tools' extras)."""


@plates_group.command("eval")
@click.argument("data", type=click.Path(path_type=Path, exists=True))
@click.option("-o", "--output", type=click.Path(path_type=Path, file_okay=False), help="Folder for report/PNG.")
@click.option("--limit", type=int, default=0, help="Read only this many images, spread over the set (0: all).")
@click.option("--track-views", type=int, default=0, show_default=True, help="Degraded views per simulated track.")
@click.option("--track-images", type=int, default=0, help="Images for the track experiment (0: all).")
@click.option(
    "--track-scale",
    type=(float, float),
    default=(0.3, 0.6),
    show_default=True,
    help="Range of the share each degraded view is scaled to.",
)
@click.option("--no-formats", is_flag=True, help="Read without plate formats (no re-ranking, no look-alike fixes).")
@click.option(
    "--all-formats", is_flag=True, help="Every region's formats for every image (default: the image's region's only)."
)
@click.option(
    "--finder-regions",
    type=click.IntRange(0, 16),
    default=None,
    help="Plate-like regions given a closer look per image (default: the reader's setting; 0: none).",
)
@click.option(
    "--read-stretch",
    type=click.FloatRange(0.5, 3.0),
    default=None,
    help="How many times wider squat text lines are read (default: the reader's setting; 1: as they are).",
)
@click.option(
    "--read-stretch-below",
    type=click.FloatRange(0.0),
    default=None,
    help="Lines narrower than this (width/height) are widened (default: the reader's setting).",
)
@click.option(
    "--read-min-width",
    type=click.IntRange(32, 640),
    default=None,
    help="Least width a batch of lines is padded to (default: the reader's setting).",
)
@click.option("--threads", type=int, default=0, show_default=True, help="ONNX Runtime threads (0: its default).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def plates_eval(
    data: Path,
    output: Path | None,
    limit: int,
    track_views: int,
    track_images: int,
    track_scale: tuple[float, float],
    no_formats: bool,
    all_formats: bool,
    finder_regions: int | None,
    read_stretch: float | None,
    read_stretch_below: float | None,
    read_min_width: int | None,
    threads: int,
    quiet: bool,
) -> None:
    """Plate found rate, exact plate and character accuracy, per region, on DATA (a folder with labels.csv)."""
    from tqdm import tqdm  # type: ignore[import-untyped]

    from classifiers.plates.evaluation import Progress, evaluate, load_labels, track_experiment, write_outputs
    from classifiers.plates.reader import PlateReader
    from classifiers.plates.settings import PlateReaderSettings

    labels = every = load_labels(data)
    if limit:
        labels = labels[:: max(1, len(labels) // limit)][:limit]
    overrides: dict[str, object] = {"formats": {}} if no_formats else {}
    if finder_regions is not None:
        overrides["finder_regions"] = finder_regions
    if read_stretch is not None:
        overrides["read_stretch"] = read_stretch
    if read_stretch_below is not None:
        overrides["read_stretch_below"] = read_stretch_below
    if read_min_width is not None:
        overrides["read_min_width"] = read_min_width
    settings = PlateReaderSettings(threads=threads, **overrides)
    reader = PlateReader(settings)

    def progress(what: str) -> Progress:
        return lambda items: tqdm(items, desc=what, disable=quiet, leave=False)

    # A camera is configured with its country's formats: by default each image is read with its region's only.
    readers = {} if no_formats or all_formats else {r: reader.with_formats({r: f}) for r, f in settings.formats.items()}
    result = evaluate(reader, labels, progress=progress("read"), readers=readers)
    experiment = None
    if track_views:
        chosen = every[:: max(1, len(every) // track_images)][:track_images] if track_images else every
        experiment = track_experiment(
            reader,
            chosen,
            track_views,
            progress=progress("tracks"),
            readers=readers,
            scales=track_scale,
        )
    report = result.report()
    if experiment is not None:
        report["track_experiment"] = experiment.report()
    click.echo(json.dumps(report, indent=2))
    if output is not None:
        for path in write_outputs(result, output, experiment):
            click.echo(f"wrote {path}")
