"""Labelled image sets: a ``labels.csv`` (path + label columns) or one sub-folder per class.

A ``labels.csv`` may name other columns too (``make``, ``model``, ``year`` ...). Columns whose value is the same for
every image of a class are kept as per-class attributes, so a make+model+year classifier can report make, model and
year separately.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from classifiers.training.errors import DatasetError

LABELS_CSV = "labels.csv"
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
# Label columns tried, in order, when the caller names none.
DEFAULT_LABEL_COLUMNS = ("label", "class_name", "class", "color")
# Columns kept as per-class attributes when they are constant within every class.
DEFAULT_ATTRIBUTE_COLUMNS = ("make", "model", "year", "body_type")
FOLDER_LABEL_COLUMN = "label"


@dataclass(frozen=True)
class LabelledImage:
    """One image with its label and the rest of its CSV row.

    Attributes:
        path: absolute path of the image file.
        label: the class name.
        row: every CSV column of the image (the path column holds ``path`` as given in the source).
    """

    path: Path
    label: str
    row: Mapping[str, str]


@dataclass(frozen=True)
class LabelledSet:
    """Labelled images from one source, with the columns that describe them.

    Attributes:
        source: the folder or CSV file they came from.
        label_column: the CSV column holding the class (``label`` for one-folder-per-class sets).
        path_column: the CSV column holding the image path.
        columns: every CSV column, in file order.
        attribute_columns: columns constant within each class, kept as per-class attributes.
        items: the images, in source order.
    """

    source: Path
    label_column: str
    path_column: str
    columns: tuple[str, ...]
    attribute_columns: tuple[str, ...]
    items: tuple[LabelledImage, ...]

    @property
    def labels(self) -> tuple[str, ...]:
        """The distinct labels, sorted (the order of a trained head's outputs)."""
        return tuple(sorted({item.label for item in self.items}))

    def counts(self) -> Counter[str]:
        return Counter(item.label for item in self.items)

    def subset(self, indices: Iterable[int]) -> LabelledSet:
        return LabelledSet(
            source=self.source,
            label_column=self.label_column,
            path_column=self.path_column,
            columns=self.columns,
            attribute_columns=self.attribute_columns,
            items=tuple(self.items[i] for i in indices),
        )

    def class_attributes(self) -> dict[str, dict[str, str]]:
        """``{column: {label: value}}`` for every attribute column."""
        out: dict[str, dict[str, str]] = {column: {} for column in self.attribute_columns}
        for item in self.items:
            for column in self.attribute_columns:
                out[column].setdefault(item.label, item.row.get(column, ""))
        return out


def merge_sets(sets: Sequence[LabelledSet]) -> LabelledSet:
    """One set holding the images of several (the first set's source and label column name the result).

    Attribute columns are those any set has (empty for classes from a set without them), minus those whose value
    differs within a class across sets.
    """
    if not sets:
        raise DatasetError("no labelled sets to merge")
    columns: list[str] = []
    for s in sets:
        columns.extend(c for c in s.columns if c not in columns)
    attributes: list[str] = []
    for s in sets:
        attributes.extend(c for c in s.attribute_columns if c not in attributes)
    merged = LabelledSet(
        source=sets[0].source,
        label_column=sets[0].label_column,
        path_column=sets[0].path_column,
        columns=tuple(columns),
        attribute_columns=tuple(attributes),
        items=tuple(item for s in sets for item in s.items),
    )
    # Two sources may disagree on a class's make/model: drop such columns rather than keep a wrong one.
    return LabelledSet(
        source=merged.source,
        label_column=merged.label_column,
        path_column=merged.path_column,
        columns=merged.columns,
        attribute_columns=_constant_columns(merged.items, attributes),
        items=merged.items,
    )


def _constant_columns(items: Sequence[LabelledImage], candidates: Sequence[str]) -> tuple[str, ...]:
    kept = []
    for column in candidates:
        seen: dict[str, str] = {}
        if all(seen.setdefault(item.label, item.row.get(column, "")) == item.row.get(column, "") for item in items):
            kept.append(column)
    return tuple(kept)


def load_labelled(
    source: Path,
    *,
    label_column: str | None = None,
    path_column: str = "path",
    attribute_columns: Sequence[str] | None = None,
) -> LabelledSet:
    """Reads a labelled image set.

    Args:
        source: a CSV file, a folder holding ``labels.csv``, or a folder with one sub-folder of images per class.
        label_column: the CSV column with the class; default: the first of ``label``, ``class_name``, ``class``,
            ``color`` that the CSV has. Ignored for one-folder-per-class sets.
        path_column: the CSV column with image paths, relative to the CSV's folder or absolute.
        attribute_columns: CSV columns to keep per class; each must be constant within every class. Default: those
            of ``make``, ``model``, ``year``, ``body_type`` that the CSV has and that are constant within classes.

    Raises:
        DatasetError: the source is missing or empty, a column is missing, a label is empty, or images are missing.
    """
    if source.is_file():
        return _load_csv(source, label_column, path_column, attribute_columns)
    if not source.is_dir():
        raise DatasetError(f"labelled data not found: {source}")
    if (source / LABELS_CSV).is_file():
        return _load_csv(source / LABELS_CSV, label_column, path_column, attribute_columns)
    return _load_folders(source)


def _load_csv(
    csv_path: Path, label_column: str | None, path_column: str, attribute_columns: Sequence[str] | None
) -> LabelledSet:
    with csv_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = tuple(reader.fieldnames or ())
        rows = list(reader)
    if not columns:
        raise DatasetError(f"{csv_path} is empty (expected a header with {path_column!r} and a label column)")
    if path_column not in columns:
        raise DatasetError(f"{csv_path} has no path column {path_column!r} (columns: {', '.join(columns)})")
    if label_column is None:
        label_column = next((c for c in DEFAULT_LABEL_COLUMNS if c in columns), None)
        if label_column is None:
            raise DatasetError(f"{csv_path}: name the label column (columns: {', '.join(columns)})")
    elif label_column not in columns:
        raise DatasetError(f"{csv_path} has no label column {label_column!r} (columns: {', '.join(columns)})")
    if not rows:
        raise DatasetError(f"{csv_path} lists no images")
    root = csv_path.parent
    items: list[LabelledImage] = []
    missing: list[str] = []
    for line, row in enumerate(rows, start=2):
        label = (row.get(label_column) or "").strip()
        if not label:
            raise DatasetError(f"{csv_path} line {line}: empty {label_column!r}")
        raw_path = (row.get(path_column) or "").strip()
        path = Path(raw_path) if Path(raw_path).is_absolute() else root / raw_path
        if not raw_path or not path.is_file():
            missing.append(raw_path or f"(empty path on line {line})")
            continue
        items.append(LabelledImage(path=path.resolve(), label=label, row=dict(row)))
    if missing:
        raise DatasetError(f"{csv_path}: {len(missing)} listed image(s) not found, first: {missing[0]}")
    candidates = [c for c in (attribute_columns or DEFAULT_ATTRIBUTE_COLUMNS) if c != label_column]
    if attribute_columns is not None:
        absent = [c for c in candidates if c not in columns]
        if absent:
            raise DatasetError(f"{csv_path} has no attribute column {absent[0]!r} (columns: {', '.join(columns)})")
    constant = _constant_columns(items, [c for c in candidates if c in columns])
    if attribute_columns is not None and len(constant) != len(candidates):
        varying = next(c for c in candidates if c not in constant)
        raise DatasetError(f"{csv_path}: attribute column {varying!r} varies within a class")
    return LabelledSet(
        source=csv_path,
        label_column=label_column,
        path_column=path_column,
        columns=columns,
        attribute_columns=constant,
        items=tuple(items),
    )


def _load_folders(root: Path) -> LabelledSet:
    items: list[LabelledImage] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()):
            relative = str(path.relative_to(root))
            items.append(
                LabelledImage(
                    path=path.resolve(), label=folder.name, row={"path": relative, FOLDER_LABEL_COLUMN: folder.name}
                )
            )
    if not items:
        raise DatasetError(f"{root} has no {LABELS_CSV} and no class sub-folders with images")
    return LabelledSet(
        source=root,
        label_column=FOLDER_LABEL_COLUMN,
        path_column="path",
        columns=("path", FOLDER_LABEL_COLUMN),
        attribute_columns=(),
        items=tuple(items),
    )


def require_per_class(data: LabelledSet, minimum: int, why: str) -> None:
    """Raises ``DatasetError`` naming the first label with fewer than ``minimum`` images."""
    counts = data.counts()
    short = sorted((n, label) for label, n in counts.items() if n < minimum)
    if short:
        n, label = short[0]
        more = f" ({len(short) - 1} more such labels)" if len(short) > 1 else ""
        raise DatasetError(f"label {label!r} has only {n} image(s); need at least {minimum} {why}{more}")


def stratified_split(labels: Sequence[str], fraction: float, seed: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Splits indices per class: about ``fraction`` of each class goes to the second part, at least one image
    on each side (so every class is both trained and tested), reproducibly for a given ``seed``.

    Returns:
        ``(kept, held_out)`` sorted index arrays.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"split fraction must be in (0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    by_class: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_class.setdefault(label, []).append(i)
    kept: list[int] = []
    held: list[int] = []
    for label in sorted(by_class):
        members = np.asarray(by_class[label])
        if len(members) < 2:
            raise DatasetError(f"label {label!r} has only {len(members)} image(s); a split needs at least 2")
        order = rng.permutation(members)
        n_held = min(max(round(fraction * len(members)), 1), len(members) - 1)
        held.extend(int(i) for i in order[:n_held])
        kept.extend(int(i) for i in order[n_held:])
    return np.asarray(sorted(kept), np.int64), np.asarray(sorted(held), np.int64)


def write_labels_csv(data: LabelledSet, path: Path) -> None:
    """Writes ``data`` as a ``labels.csv`` with absolute image paths, so it can be read from any folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(data.columns)
    for needed in (data.path_column, data.label_column):
        if needed not in columns:
            columns.append(needed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for item in data.items:
            row = {c: item.row.get(c, "") for c in columns}
            row[data.path_column] = str(item.path)
            row[data.label_column] = item.label
            writer.writerow(row)
