"""`vehiclewatch adapt run|list|rollback`: per-camera adapted heads from the operator's labels (issue 19).

``run`` opens the classifier bank (from ``--config``'s ``classifiers`` section, or the model flags), scores every
labelled view with the members' raw heads, and for each camera fits, measures (leave-one-vehicle-out) and publishes
a new version into the store only if it beats the current one (:func:`classifiers.adaptation.adapt_camera`).
Bad input (a missing dataset, a label the head does not know, too few labelled vehicles) is refused in one line
before anything is published.
"""

from __future__ import annotations

import getpass
import hashlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import numpy as np
from numpy.typing import NDArray

from streamer.cli.defaults import MODELS_ENV, model_overrides
from streamer.cli.errors import clear_errors, fail, needs_tools
from streamer.cli.options import classifier_option, color_recognizer_option, models_option

if TYPE_CHECKING:
    from classifiers.adaptation.store import AdaptationStore
    from classifiers.crops import ImageArray
    from classifiers.settings import ClassifierSettings
    from classifiers.types import HeadScores

store_option = click.option(
    "--store",
    "store_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help=(
        "Folder of the adapted head files (default: --config's classifiers.adaptation.dir, else adapted/ in the "
        "data directory: where the service reads them)."
    ),
)
config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Service config: its classifiers section opens the models and names the store (else the flags).",
)


def _store(store_dir: Path | None, config_path: Path | None) -> AdaptationStore:
    """``--store``, else the store the service of ``--config`` reads (``classifiers.adaptation``), else the default."""
    from classifiers.adaptation.settings import AdaptationSettings
    from classifiers.adaptation.store import AdaptationStore
    from common.paths import resolve_config_paths
    from streamer.service.adaptations import adaptations_root
    from streamer.service.config import read_yaml

    if store_dir is not None:
        return AdaptationStore(store_dir)
    section: dict[str, Any] = {}
    if config_path is not None:
        section = (read_yaml(config_path, ["classifiers"]).get("classifiers") or {}).get("adaptation") or {}
        section = resolve_config_paths(AdaptationSettings, section, config_path.parent)
    return AdaptationStore(adaptations_root(AdaptationSettings(**section)))


def _classifier_settings(
    config_path: Path | None, models: Path | None, classifiers: tuple[Path, ...], color_recognizer: Path | None
) -> ClassifierSettings:
    """The bank's settings: the config's ``classifiers`` section (paths relative to the file, as `run` and `label`
    read them), or the model flags."""
    from classifiers.settings import ClassifierSettings
    from common.paths import resolve_config_paths
    from streamer.service.config import read_yaml

    if config_path is not None:
        section = read_yaml(config_path, ["classifiers"]).get("classifiers") or {}
        if not section.get("models") and not section.get("color_recognizer"):
            fail(f"{config_path}: its classifiers section names no model")
        return ClassifierSettings(**resolve_config_paths(ClassifierSettings, section, config_path.parent))
    overrides = model_overrides(models, None, classifiers, color_recognizer).get("classifiers", {})
    if not overrides.get("models") and "color_recognizer" not in overrides:
        fail(f"no classifier: give --config FILE, --models DIR or --classifier FILE (or set {MODELS_ENV})")
    return ClassifierSettings(**overrides)


def _model_files(settings: ClassifierSettings) -> dict[str, str]:
    """Each model file's name → sha256 (the provenance of what was adapted)."""
    paths = [Path(m.model) for m in settings.models]
    if settings.color_recognizer is not None:
        paths.append(Path(settings.color_recognizer.file))
    out: dict[str, str] = {}
    for path in paths:
        h = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        out[path.name] = h.hexdigest()
    return out


class _Remembered:
    """The bank's raw scores, each crop scored once however many cameras are adapted in one run."""

    def __init__(self, score: Any) -> None:
        self.score = score
        self.seen: dict[bytes, dict[str, HeadScores]] = {}

    def __call__(
        self, crops: Sequence[ImageArray], boxes: Sequence[NDArray[np.float32]] | None = None
    ) -> list[dict[str, HeadScores]]:
        def key(i: int) -> bytes:
            box = b"" if boxes is None else np.asarray(boxes[i], np.float32).tobytes()
            return hashlib.sha1(crops[i].tobytes() + str(crops[i].shape).encode() + box, usedforsecurity=False).digest()

        keys = [key(i) for i in range(len(crops))]
        todo = [i for i, k in enumerate(keys) if k not in self.seen]
        if todo:
            given = [crops[i] for i in todo]
            found = self.score(given) if boxes is None else self.score(given, [boxes[i] for i in todo])
            for i, scores in zip(todo, found, strict=True):
                self.seen[keys[i]] = scores
        return [self.seen[k] for k in keys]


@click.group()
def adapt() -> None:
    """Adapt the heads to each camera from the operator's labels; list versions; roll back."""


@adapt.command("run")
@click.option(
    "--labels",
    "labels_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Labelled dataset folder (labels.csv + crops: the labels export or `vehiclewatch label`).",
)
@click.option("--camera", "cameras", multiple=True, help="Adapt only this camera; repeat for several (default: all).")
@config_option
@models_option
@classifier_option
@color_recognizer_option
@store_option
@click.option(
    "--report",
    "report_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write each camera's report.json and report.png to REPORT/<camera>/.",
)
@click.option("--min-vehicles", type=click.IntRange(1), default=5, show_default=True, help="Labelled vehicles needed.")
@click.option("--by", "created_by", help="Who adapts (recorded in the provenance; default: the user name).")
def adapt_run(**options: Any) -> None:
    """Fit, measure and (only if better) publish each camera's adapted heads."""
    with needs_tools("adapt run"), clear_errors():
        _run(**options)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _run(
    labels_dir: Path,
    cameras: tuple[str, ...],
    config_path: Path | None,
    models: Path | None,
    classifiers: tuple[Path, ...],
    color_recognizer: Path | None,
    store_dir: Path | None,
    report_dir: Path | None,
    min_vehicles: int,
    created_by: str | None,
) -> None:
    from tqdm import tqdm  # type: ignore[import-untyped]

    from classifiers.adaptation.adapt import adapt_camera, check_labels, labelled_vehicles
    from classifiers.adaptation.dataset import read_views
    from classifiers.adaptation.errors import NotEnoughLabelsError
    from classifiers.adaptation.report import write_report
    from classifiers.bank import ClassifierBank

    views = read_views(labels_dir)
    present = sorted({v.camera_id for v in views if v.labels})
    if not present:
        fail(f"{labels_dir}: no labelled view")
    unknown = [c for c in cameras if c not in present]
    if unknown:
        fail(f"no labelled view of camera {unknown[0]!r} in {labels_dir} (cameras there: {', '.join(present)})")
    chosen = list(cameras) or present
    # Every refusal before any model runs or anything is published.
    for camera in chosen:
        have = labelled_vehicles(views, camera)
        if have < min_vehicles:
            raise NotEnoughLabelsError(camera, have, min_vehicles)
    store = _store(store_dir, config_path)
    settings = _classifier_settings(config_path, models, classifiers, color_recognizer)
    bank = ClassifierBank.from_settings(settings)
    check_labels(views, bank.heads, source=str(labels_dir / "labels.csv"))
    base_models = _model_files(settings)
    score = _Remembered(bank.raw_scores)
    for camera in chosen:
        with tqdm(total=len(views), desc=f"scoring {camera}", unit="crop", file=sys.stderr, leave=False) as bar:
            report = adapt_camera(
                views, score, camera, store, created_by=created_by or _user(), min_vehicles=min_vehicles,
                base_models=base_models, progress=bar.update, classify_boxes=score,
            )  # fmt: skip
        click.echo(report.summary())
        if report_dir is not None:
            json_path, _ = write_report(report, report_dir / camera)
            click.echo(f"  report: {json_path} (+ report.png)")


@adapt.command("list")
@click.argument("camera", required=False)
@store_option
@config_option
def adapt_list(camera: str | None, store_dir: Path | None, config_path: Path | None) -> None:
    """Each camera's versions (* = current) with what made them."""
    from classifiers.adaptation.errors import AdaptationFileError
    from classifiers.adaptation.file import load_adaptation

    with clear_errors():
        store = _store(store_dir, config_path)
        cameras = [camera] if camera else store.cameras()
        if camera and not store.versions(camera):
            fail(f"camera {camera!r} has no adaptation in {store.root}")
        if not cameras:
            click.echo(f"no adaptation in {store.root}", err=True)
        for cam in cameras:
            try:
                current = store.current_version(cam)
            except AdaptationFileError as exc:
                current, problem = None, str(exc)
                click.echo(f"warning: {problem}", err=True)
            click.echo(f"{cam}: current {current or 'base model'}")
            for version in store.versions(cam):
                mark = "*" if version == current else " "
                try:
                    loaded = load_adaptation(store.root / cam / f"{version}.npz")
                except AdaptationFileError as exc:
                    click.echo(f"  {mark} {version}  unreadable: {exc}")
                    continue
                p = loaded.provenance
                methods = ", ".join(f"{h} {m}" for h, m in sorted(dict(p.get("methods", {})).items())) or "-"
                carried = dict(p.get("carried_from", {}))
                kept = f"; kept {', '.join(f'{h} from {v}' for h, v in sorted(carried.items()))}" if carried else ""
                click.echo(
                    f"  {mark} {version}  {p.get('created_at', '?')} by {p.get('created_by', '?')}: {methods}{kept}; "
                    f"{p.get('vehicles', '?')} vehicles, {p.get('views', '?')} views"
                )


@adapt.command("rollback")
@click.argument("camera")
@store_option
@config_option
def adapt_rollback(camera: str, store_dir: Path | None, config_path: Path | None) -> None:
    """Make the version before the current one current (from the first: the base model)."""
    with clear_errors():
        store = _store(store_dir, config_path)
        if not store.versions(camera):
            fail(f"camera {camera!r} has no adaptation in {store.root}")
        was = store.current_version(camera)
        if was is None:
            fail(f"camera {camera!r} already runs the base model: nothing to roll back")
        now = store.rollback(camera)
        click.echo(f"camera {camera}: {was} -> {now or 'base model'}")
