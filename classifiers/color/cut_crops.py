"""Cut the crops of a camera-crop labels file from the shared clips into a cache folder, reproducibly.

    python -m classifiers.color.cut_crops --labels tests/classifiers/data/traffic_crops_extra.csv \
        --videos ../shared/videos --dev ../shared/datasets/traffic_crops_dev -o out/color/traffic_crops_extra

The labels file holds no pixels: each row names a clip, a frame (0-based, in decoding order) and a detector box
(``classifiers.color.clip_frames``). This writes

- ``<out>/crops/<id>.png``: the box grown by 10 % on every side, clipped to the frame, lossless PNG;
- ``<out>/labels.csv``: the labels file's rows with ``crop_path`` (relative to ``<out>``), a labelled set for
  ``vehiclewatch eval`` and ``classifiers.color.build --extra``;
- with ``--dev``: ``<out>/combined.csv``, the dev set's rows (absolute ``crop_path``) followed by the extra rows:
  one labelled set of both, whose ``same_as`` groups a dev vehicle's extra views with its dev crops.

The crops are a cache (``out/`` is git-ignored): the clips stay in ``shared/``, never in the repository.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
from tqdm import tqdm  # type: ignore[import-untyped]

from classifiers.color.clip_frames import ClipError, cut_crop, iter_frames

CLIP_FILES: dict[str, str] = {
    "anugoyal": "anugoyal_traffic.mp4",
    "swdee": "swdee_cars.mp4",
    "canersu": "canersu_highway.mp4",
    "abhishek": "abhishek_highway.mp4",
    "ckuhn": "ckuhn_traffic.mp4",
}
"""The labelled clips' names and their files in ``shared/videos``."""

REQUIRED_COLUMNS = ("id", "clip", "frame", "x1", "y1", "x2", "y2", "color", "same_as")


class LabelsError(ValueError):
    """A labels file is missing, lacks a column, or has a row that cannot be cut (one line naming it)."""


def read_labels(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The columns and rows of a camera-crop labels file, checked (columns present, ids unique, numbers parse).

    Raises:
        LabelsError: as the class says.
    """
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = list(reader.fieldnames or ())
            rows = list(reader)
    except OSError as exc:
        raise LabelsError(f"cannot read labels file {path} ({exc.strerror})") from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise LabelsError(f"{path}: missing column(s) {', '.join(missing)}")
    seen: set[str] = set()
    for line, row in enumerate(rows, start=2):
        if row["id"] in seen:
            raise LabelsError(f"{path} line {line}: id {row['id']!r} appears twice")
        seen.add(row["id"])
        try:
            int(row["frame"])
            x1, y1, x2, y2 = (float(row[k]) for k in ("x1", "y1", "x2", "y2"))
        except ValueError as exc:
            raise LabelsError(f"{path} line {line}: frame and box must be numbers ({exc})") from exc
        if x2 <= x1 or y2 <= y1:
            raise LabelsError(f"{path} line {line}: empty box {x1, y1, x2, y2}")
    return columns, rows


def cut_all(
    rows: Sequence[Mapping[str, str]], videos: Path, folder: Path, clip_files: Mapping[str, str] = CLIP_FILES
) -> dict[str, Path]:
    """Cuts every row's crop into ``folder`` (``<id>.png``), decoding each clip once; returns id → PNG path.

    Raises:
        LabelsError: a row names an unknown clip, a frame past the clip's end, or a box outside the frame.
    """
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for clip in dict.fromkeys(row["clip"] for row in rows):
        if clip not in clip_files:
            raise LabelsError(f"unknown clip {clip!r} (known: {', '.join(clip_files)})")
        mine = [row for row in rows if row["clip"] == clip]
        by_frame: dict[int, list[Mapping[str, str]]] = {}
        for row in mine:
            by_frame.setdefault(int(row["frame"]), []).append(row)
        try:
            frames = iter_frames(videos / clip_files[clip], set(by_frame))
            for index, frame in tqdm(frames, total=len(by_frame), desc=f"cutting {clip}", unit="frame"):
                for row in by_frame[index]:
                    box = (float(row["x1"]), float(row["y1"]), float(row["x2"]), float(row["y2"]))
                    path = folder / f"{row['id']}.png"
                    cv2.imwrite(str(path), cut_crop(frame, box), [cv2.IMWRITE_PNG_COMPRESSION, 9])
                    written[row["id"]] = path
        except (ClipError, ValueError) as exc:
            raise LabelsError(f"clip {clip}: {exc}") from exc
    return written


def write_sets(
    columns: Sequence[str], rows: Sequence[Mapping[str, str]], out: Path, dev: Path | None
) -> tuple[Path, Path | None]:
    """Writes ``labels.csv`` (extra rows + ``crop_path``) and, with a dev set, ``combined.csv`` (see module doc)."""
    header = [*columns, "crop_path"] if "crop_path" not in columns else list(columns)
    extra = [{**row, "crop_path": f"crops/{row['id']}.png"} for row in rows]
    labels = out / "labels.csv"
    with labels.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(extra)
    if dev is None:
        return labels, None
    with (dev / "labels.csv").open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        dev_columns = list(reader.fieldnames or ())
        dev_rows = [{**row, "crop_path": str((dev / row["crop_path"]).resolve())} for row in reader]
    clash = {row["id"] for row in dev_rows} & {row["id"] for row in rows}
    if clash:
        raise LabelsError(f"ids in both the dev set and the labels file: {', '.join(sorted(clash)[:5])}")
    combined_header = list(dict.fromkeys([*dev_columns, *header]))
    combined = out / "combined.csv"
    with combined.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=combined_header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(dev_rows)
        writer.writerows({**row, "crop_path": str((out / row["crop_path"]).resolve())} for row in extra)
    return labels, combined


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m classifiers.color.cut_crops", description=__doc__.split("\n")[0])
    parser.add_argument("--labels", type=Path, default=Path("tests/classifiers/data/traffic_crops_extra.csv"))
    parser.add_argument("--videos", type=Path, default=Path("../shared/videos"))
    parser.add_argument("--dev", type=Path, default=None, help="traffic_crops_dev folder: also write combined.csv")
    parser.add_argument("-o", "--output", type=Path, default=Path("out/color/traffic_crops_extra"))
    args = parser.parse_args(argv)
    try:
        columns, rows = read_labels(args.labels)
        written = cut_all(rows, args.videos, args.output / "crops")
        labels, combined = write_sets(columns, rows, args.output, args.dev)
    except LabelsError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(written)} crops in {args.output / 'crops'}; labels {labels}" + (f"; {combined}" if combined else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
