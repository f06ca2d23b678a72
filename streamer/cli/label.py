"""`vehiclewatch label crops|interactive|list|undo|export`: operators' labels from the command line, for sites
without the review page. Labels on loose crops go to the same labels table as the page's (no sighting; the crop is
copied into the labels folder so it survives). Values are checked against the labels the loaded heads know, so the
model flags (``--config``, ``--models`` or ``--classifier``) are needed to label; bad input changes nothing.
"""

from __future__ import annotations

import getpass
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from streamer.cli.defaults import MODELS_ENV, model_overrides
from streamer.cli.errors import clear_errors, fail
from streamer.cli.options import classifier_option, color_recognizer_option, models_option

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray
    from pydantic import BaseModel

    from classifiers.bank import ClassifierBank
    from streamer.history.labels import Label, LabelsStore

CROP_SUFFIXES = (".jpg", ".jpeg", ".png")
M = TypeVar("M", bound="BaseModel")


@dataclass
class Models:
    """The loaded heads: their labels per field, and the bank (to show the service's answer)."""

    vocabulary: dict[str, tuple[str, ...]]
    bank: ClassifierBank


def _section(config_path: Path, name: str, model: type[M]) -> M:
    """One section of the service's config (paths relative to the file, as `run` reads them)."""
    from pydantic import ValidationError

    from common.paths import resolve_config_paths
    from streamer.service.config import ConfigError, format_validation_error, read_yaml

    raw = read_yaml(config_path, [name]).get(name) or {}
    try:
        return model(**resolve_config_paths(model, raw, config_path.parent))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, f"{config_path} ({name})")) from None


def _labels_store(config_path: Path | None, database: str | None) -> LabelsStore:
    try:
        from streamer.history.labels import LabelsStore, labels_dir
        from streamer.history.store import SightingsStore, database_url
    except ImportError as exc:
        fail(f"label needs the web extra (pip install 'vehiclewatch[web]'): {exc.name} is missing")
    from streamer.history.settings import HistorySettings

    history = _section(config_path, "history", HistorySettings) if config_path is not None else HistorySettings()
    if database is not None:
        history = history.model_copy(update={"database": HistorySettings(database=database).database})
    return LabelsStore.open(SightingsStore.open(database_url(history)), labels_dir(history))


def _models(
    config_path: Path | None, models: Path | None, classifiers: tuple[Path, ...], color_recognizer: Path | None
) -> Models:
    """The classifier bank the flags name (the model flags win over the config's); bad input when none."""
    from classifiers.bank import ClassifierBank
    from classifiers.settings import ClassifierSettings
    from streamer.history.label_fields import vocabulary_of

    overrides = model_overrides(models, None, classifiers, color_recognizer)
    if overrides.get("classifiers", {}).get("models") or color_recognizer is not None:
        settings = ClassifierSettings(**overrides["classifiers"])
    elif config_path is not None:
        settings = _section(config_path, "classifiers", ClassifierSettings)
    else:
        settings = None
    if settings is None or not (settings.models or settings.color_recognizer):
        fail(
            "no classifier to check labels against: give --config (its classifiers), --classifier FILE or "
            f"--models DIR (or set {MODELS_ENV})"
        )
    bank = ClassifierBank.from_settings(settings)
    vocabulary = vocabulary_of(bank.heads)
    if not vocabulary:
        fail("the loaded classifiers have no make, color or body type head")
    return Models(vocabulary, bank)


def _crops(folder: Path) -> list[Path]:
    if not folder.is_dir():
        fail(f"not a folder: {folder}")
    found = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in CROP_SUFFIXES)
    if not found:
        fail(f"no crops ({', '.join(CROP_SUFFIXES)}) in {folder}")
    return found


def _track_namer(folder: Path, pattern: str | None) -> Callable[[Path], str]:
    """The vehicle key of a crop: the folder's name (one vehicle per folder), or what REGEX finds in the file's name
    (its first group, else the whole match)."""
    if pattern is None:
        return lambda _: folder.resolve().name
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        fail(f"--track-from-name: not a regular expression: {exc}")

    def name(path: Path) -> str:
        match = regex.search(path.name)
        if match is None:
            fail(f"--track-from-name '{pattern}' does not match {path.name}")
        return match.group(1) if regex.groups else match.group(0)

    return name


def _read(path: Path) -> NDArray[np.uint8]:
    import cv2
    import numpy as np

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        fail(f"cannot decode image: {path}")
    return np.asarray(image, np.uint8)


def _line(label: Label) -> str:
    values = " / ".join(label.value(f) or "—" for f in ("make", "color", "body_type"))
    parts = [f"#{label.id}", label.camera_id, label.track, values]
    if label.verdict:
        parts.append(label.verdict + (f" ({','.join(label.wrong_fields)})" if label.wrong_fields else ""))
    parts.append(f"by {label.labelled_by} {label.labelled_at:%Y-%m-%d %H:%M:%S}")
    if label.undone_at is not None:
        parts.append(f"undone by {label.undone_by}")
    return "  ".join(parts)


config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Service config (its history database and classifiers).",
)
database_option = click.option("--database", help="SQLAlchemy URL of the history (default: the config's, or SQLite).")
by_option = click.option("--by", "who", help="Who labels (default: cli:<your user name>).")
camera_option = click.option("--camera", "camera_id", required=True, help="The camera the crops come from.")


def track_option(default: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return click.option(
        "--track-from-name",
        "track_pattern",
        help=f"REGEX finding the vehicle in a crop's file name (its first group); default: {default}.",
    )


def _who(who: str | None) -> str:
    return who or f"cli:{getpass.getuser()}"


@click.group()
def label() -> None:
    """Label vehicles (for `vehiclewatch adapt`, `train`, `eval`): crops in folders, or the history's labels."""


@label.command()
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
@camera_option
@track_option("the folder is one vehicle")
@click.option("--make")
@click.option("--color")
@click.option("--body-type")
@by_option
@config_option
@database_option
@models_option
@classifier_option
@color_recognizer_option
def crops(
    folder: Path,
    camera_id: str,
    track_pattern: str | None,
    make: str | None,
    color: str | None,
    body_type: str | None,
    who: str | None,
    config_path: Path | None,
    database: str | None,
    models: Path | None,
    classifiers: tuple[Path, ...],
    color_recognizer: Path | None,
) -> None:
    """Label every crop in FOLDER with the same values (e.g. one vehicle per folder); 'unknown' = can't tell."""
    from streamer.history.label_fields import check_fields

    with clear_errors():
        loaded = _models(config_path, models, classifiers, color_recognizer)
        fields = check_fields({"make": make, "color": color, "body_type": body_type}, loaded.vocabulary)
        if not any(fields.values()):
            fail("nothing to label: give --make, --color or --body-type (a value, or 'unknown')")
        files = _crops(folder)
        track_of = _track_namer(folder, track_pattern)
        tracks = {path: track_of(path) for path in files}
        for path in files:
            _read(path)  # every crop decodes before anything is stored
        store = _labels_store(config_path, database)
        try:
            made = [store.label_crop(camera_id, tracks[p], p, fields, _who(who), loaded.vocabulary).id for p in files]
        finally:
            store.history.close()
    click.echo(
        f"labelled {len(made)} crop(s) of {len(set(tracks.values()))} vehicle(s) on camera {camera_id}: "
        f"labels #{made[0]}–#{made[-1]}"
    )


def _answers(bank: ClassifierBank, image: NDArray[np.uint8]) -> dict[str, tuple[str, float]]:
    from classifiers.adaptation.fields import FIELD_HEADS

    found = bank.classify_images([image])[0]
    if found is None:
        return {}
    top = found.top(1)
    out: dict[str, tuple[str, float]] = {}
    for field, heads in FIELD_HEADS.items():
        head = next((h for h in heads if top.get(h)), None)
        if head is not None:
            out[field] = (top[head][0].label, top[head][0].prob)
    return out


class Command(Enum):
    """What the operator may type instead of a value."""

    UNDO = "u"
    SKIP = "s"


def _ask(field: str, answer: tuple[str, float] | None, vocabulary: dict[str, tuple[str, ...]]) -> str | Command | None:
    """One field's value: Enter = the service's answer, '?' = can't tell, '-' = not given, 'u' undo, 's' skip."""
    from streamer.history.label_fields import LabelError, check_fields

    shown = f" [{answer[0]}]" if answer else ""
    while True:
        typed = click.prompt(f"  {field}{shown}", default="", show_default=False).strip()
        if typed in ("u", "s"):
            return Command(typed)
        if typed == "-":
            return None
        if not typed:
            return answer[0] if answer else None
        try:
            return check_fields({field: typed}, vocabulary)[field]
        except LabelError as exc:
            click.echo(f"  {exc} (nothing stored; try again)", err=True)


@label.command()
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
@camera_option
@track_option("each crop is a vehicle of its own")
@by_option
@config_option
@database_option
@models_option
@classifier_option
@color_recognizer_option
def interactive(
    folder: Path,
    camera_id: str,
    track_pattern: str | None,
    who: str | None,
    config_path: Path | None,
    database: str | None,
    models: Path | None,
    classifiers: tuple[Path, ...],
    color_recognizer: Path | None,
) -> None:
    """Label the crops in FOLDER one at a time: per field, Enter accepts the service's answer, '?' = can't tell,
    '-' = not given, a value corrects it; 'u' undoes the last label, 's' skips the crop. Each crop is its own
    vehicle unless --track-from-name groups them."""
    from streamer.history.label_fields import FIELDS

    with clear_errors():
        loaded = _models(config_path, models, classifiers, color_recognizer)
        files = _crops(folder)
        track_of = _track_namer(folder, track_pattern) if track_pattern else (lambda p: p.stem)
        store = _labels_store(config_path, database)
    made: list[tuple[int, int]] = []  # (label id, crop index): what 'u' undoes, and where it goes back to
    index = 0
    try:
        while index < len(files):
            path = files[index]
            image = _read(path)
            answers = _answers(loaded.bank, image)
            shown = " · ".join(f"{f} {a[0]} {a[1]:.0%}" for f, a in answers.items()) or "no answer"
            click.echo(f"[{index + 1}/{len(files)}] {path}  (vehicle {track_of(path)})  service: {shown}")
            fields: dict[str, str | None] = {}
            for field in FIELDS:
                value = _ask(field, answers.get(field), loaded.vocabulary)
                if isinstance(value, Command):
                    break
                fields[field] = value
            if value is Command.UNDO:
                if made:
                    label_id, index = made.pop()
                    click.echo(f"  undone label #{store.undo(label_id, _who(who)).id}")
                else:
                    click.echo("  nothing to undo", err=True)
                continue
            if value is Command.SKIP:
                index += 1
                continue
            if any(fields.values()):
                stored = store.label_crop(camera_id, track_of(path), path, fields, _who(who), loaded.vocabulary)
                made.append((stored.id, index))
                click.echo(f"  label #{stored.id}: {' / '.join(v or '—' for v in fields.values())}")
            index += 1
    finally:
        store.history.close()
    click.echo(f"{len(made)} label(s) made", err=True)


@label.command("list")
@click.option("--camera")
@click.option("--all", "include_undone", is_flag=True, help="Undone labels too.")
@click.option("--json", "as_json", is_flag=True)
@config_option
@database_option
def list_labels(
    camera: str | None, include_undone: bool, as_json: bool, config_path: Path | None, database: str | None
) -> None:
    """Labels, newest first; conflicts (labels of one vehicle that disagree) are listed after them."""
    with clear_errors():
        store = _labels_store(config_path, database)
        try:
            found = store.find(camera, include_undone=include_undone)
            conflicts = store.conflicts(camera)
        finally:
            store.history.close()
    if as_json:
        click.echo(json.dumps([x.model_dump(mode="json") for x in found], indent=2))
        return
    for one in found:
        click.echo(_line(one))
    for c in conflicts:
        click.echo(f"conflict: {c.camera_id} {c.track} {c.field}: " + " vs ".join(c.values), err=True)
    click.echo(f"{len(found)} label(s), {len(conflicts)} conflict(s)", err=True)


@label.command()
@click.argument("label_id", type=int)
@by_option
@config_option
@database_option
def undo(label_id: int, who: str | None, config_path: Path | None, database: str | None) -> None:
    """Undo label LABEL_ID (it is kept, marked undone)."""
    with clear_errors():
        store = _labels_store(config_path, database)
        try:
            click.echo(_line(store.undo(label_id, _who(who))))
        finally:
            store.history.close()


@label.command()
@click.argument("out_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--camera", help="One camera's labels (default: all).")
@click.option(
    "--named",
    type=click.Choice(["make", "color", "body_type"]),
    help="Only vehicles with a value named for this field: a set `train --label-column FIELD` takes as it is.",
)
@config_option
@database_option
def export(
    out_dir: Path, camera: str | None, named: str | None, config_path: Path | None, database: str | None
) -> None:
    """Write the labels as a dataset into OUT_DIR (new or empty): labels.csv + crops, for adapt, train and eval."""
    from streamer.history.label_export import export_labels

    with clear_errors():
        store = _labels_store(config_path, database)
        try:
            summary = export_labels(store, out_dir, camera, named)
        finally:
            store.history.close()
    click.echo(f"{summary.rows} view(s) of {summary.tracks} vehicle(s) from {summary.labels} label(s) → {summary.path}")
    if summary.conflicted_fields:
        click.echo(f"{summary.conflicted_fields} conflicted field(s) left empty (labels disagree)", err=True)
    for why, count in summary.left_out.items():
        click.echo(f"left out: {count} view(s): {why}", err=True)
