"""Propose camera crops for labelling, from the shared clips, beside those ``traffic_crops_dev`` already labels.

    python -m classifiers.color.propose_crops --models ../shared/models --videos ../shared/videos \
        --dev ../shared/datasets/traffic_crops_dev -o out/color/propose

The detector and linker of ``classifiers.color.clip_tracks`` run on every frame (cached in ``-o``). The data
set's filter keeps a box when its score is above 0.35, its short side at least 48 px and it does not touch the
frame border. Each kept box belongs to a track; a track holding a box of a ``traffic_crops_dev`` row (IoU > 0.7,
same frame) is that dev vehicle's track. Candidates:

- *new vehicles*: tracks of no dev vehicle; up to ``--per-vehicle`` kept boxes each, evenly spaced in time (the
  data set's cap rule);
- *more views of dev vehicles*: up to ``--per-dev-vehicle`` kept boxes of each dev vehicle's track, at frames at
  least ``--min-gap`` frames from any of its dev crops, evenly spaced; their ``same_as`` proposal is the dev id,
  so no vehicle straddles two folds.

It writes ``candidates.csv`` (one row per crop: the box, the track, the proposed ``same_as``, the nearest dev
vehicle for tracks that may be fragments of one) and contact sheets (``sheets/<clip>_NN.png``: one row per
track, its dev crop first where it has one, each crop numbered). Labels are then given by eye, never by a
classifier; ``classifiers.color.cut_crops`` cuts the crops of the finished labels file again.
"""

from __future__ import annotations

import argparse
import csv
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from classifiers.color.clip_frames import clip_fps, touches_border
from classifiers.color.clip_tracks import ClipDetections, detect_clip, iou_matrix, link_tracks
from classifiers.color.crop_sheets import SheetRow, write_sheets
from classifiers.color.cut_crops import CLIP_FILES

log = logging.getLogger(__name__)

ID_PREFIX: dict[str, str] = {"anugoyal": "a", "swdee": "s", "canersu": "c", "abhishek": "h", "ckuhn": "n"}
"""The data set's id letter of each clip (``a0001`` is anugoyal's, ``h0000`` abhishek's)."""

MIN_SCORE = 0.35
MIN_SHORT_SIDE = 48.0
DEV_MATCH_IOU = 0.7

CANDIDATE_COLUMNS = (
    "id",
    "clip",
    "frame",
    "time_s",
    "x1",
    "y1",
    "x2",
    "y2",
    "det_class",
    "det_conf",
    "track",
    "same_as",
    "nearest_dev",
)


@dataclass(frozen=True)
class Candidate:
    clip: str
    frame: int
    time_s: float
    box: tuple[float, float, float, float]
    det_class: str
    det_conf: float
    track: int
    dev_vehicle: str
    nearest_dev: str


def kept_mask(detections: ClipDetections) -> NDArray[np.bool_]:
    """The data set's filter: score > 0.35, short side >= 48 px, not touching the border (boxes rounded to 0.1)."""
    height, width = detections.size
    boxes = np.round(detections.boxes, 1)  # as the labels file writes them, so the file passes the filter too
    short = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    border = np.asarray(
        [touches_border((float(b[0]), float(b[1]), float(b[2]), float(b[3])), height, width) for b in boxes], np.bool_
    ).reshape(-1)
    out: NDArray[np.bool_] = (detections.scores > MIN_SCORE) & (short >= MIN_SHORT_SIDE) & np.logical_not(border)
    return out


def dev_tracks(
    detections: ClipDetections, tracks: NDArray[np.int64], dev_rows: Sequence[dict[str, str]]
) -> dict[int, str]:
    """Track id → dev vehicle (``same_as`` or ``id``) for the tracks holding a dev row's box."""
    found: dict[int, str] = {}
    for row in dev_rows:
        rows = np.flatnonzero(detections.frames == int(row["frame"]))
        box = np.array([[float(row[k]) for k in ("x1", "y1", "x2", "y2")]])
        overlap = iou_matrix(box, detections.boxes[rows])[0] if len(rows) else np.zeros(0)
        if len(overlap) and overlap.max() > DEV_MATCH_IOU:
            found[int(tracks[rows[int(overlap.argmax())]])] = row["same_as"] or row["id"]
        else:
            log.warning("dev crop %s has no detection at IoU > %.1f in its frame", row["id"], DEV_MATCH_IOU)
    return found


def evenly(indices: NDArray[np.int64], count: int) -> NDArray[np.int64]:
    """At most ``count`` of ``indices`` (sorted by time), evenly spaced: ``round(linspace(0, n - 1, count))``."""
    if len(indices) <= count:
        return indices
    return indices[np.unique(np.round(np.linspace(0, len(indices) - 1, count)).astype(np.int64))]


def _nearest_dev(
    detections: ClipDetections, tracks: NDArray[np.int64], rows: NDArray[np.int64], owners: dict[int, str]
) -> str:
    """The dev vehicle whose boxes overlap this track's most (within 10 frames), as ``id (IoU)``, or ''."""
    best, name = 0.0, ""
    owned = np.isin(tracks, list(owners))
    for j in rows:
        near = np.flatnonzero(owned & (np.abs(detections.frames - detections.frames[j]) <= 10))
        if len(near):
            overlap = iou_matrix(detections.boxes[j : j + 1], detections.boxes[near])[0]
            if overlap.max() > best:
                best, name = float(overlap.max()), owners[int(tracks[near[int(overlap.argmax())]])]
    return f"{name} ({best:.2f})" if best >= 0.1 else ""


def clip_candidates(
    clip: str,
    detections: ClipDetections,
    fps: float,
    dev_rows: Sequence[dict[str, str]],
    *,
    per_vehicle: int,
    per_dev_vehicle: int,
    min_gap: int,
) -> list[Candidate]:
    """The candidates of one clip (see the module doc), in track order then time."""
    tracks = link_tracks(detections)
    owners = dev_tracks(detections, tracks, dev_rows)
    dev_frames: dict[str, list[int]] = {}
    for row in dev_rows:
        dev_frames.setdefault(row["same_as"] or row["id"], []).append(int(row["frame"]))
    kept = kept_mask(detections)
    out: list[Candidate] = []
    for track in np.unique(tracks[kept]):
        rows = np.flatnonzero(kept & (tracks == track))
        rows = rows[np.argsort(detections.frames[rows], kind="stable")]
        vehicle = owners.get(int(track), "")
        if vehicle:
            used = np.asarray(dev_frames[vehicle])
            far = np.array([np.abs(used - detections.frames[j]).min() >= min_gap for j in rows], bool)
            chosen, nearest = evenly(rows[far], per_dev_vehicle), vehicle
        else:
            chosen, nearest = evenly(rows, per_vehicle), _nearest_dev(detections, tracks, rows, owners)
        for j in chosen:
            frame = int(detections.frames[j])
            box = tuple(round(float(v), 1) for v in detections.boxes[j])
            out.append(
                Candidate(
                    clip,
                    frame,
                    frame / fps,
                    (box[0], box[1], box[2], box[3]),
                    detections.classes[j],
                    float(detections.scores[j]),
                    int(track),
                    vehicle,
                    nearest,
                )
            )
    return out


def write_candidates(candidates: Sequence[Candidate], path: Path) -> list[dict[str, str]]:
    """Writes ``candidates.csv`` (ids ``<clip's id letter>t<track>_<frame>``) and returns its rows."""
    rows = []
    for c in candidates:
        rows.append(
            {
                "id": f"{ID_PREFIX[c.clip]}t{c.track:03d}_{c.frame:04d}",
                "clip": c.clip,
                "frame": str(c.frame),
                "time_s": f"{c.time_s:.3f}",
                "x1": f"{c.box[0]:.1f}",
                "y1": f"{c.box[1]:.1f}",
                "x2": f"{c.box[2]:.1f}",
                "y2": f"{c.box[3]:.1f}",
                "det_class": c.det_class,
                "det_conf": f"{c.det_conf:.3f}",
                "track": str(c.track),
                "same_as": c.dev_vehicle,
                "nearest_dev": c.nearest_dev,
            }
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CANDIDATE_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m classifiers.color.propose_crops", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--models", type=Path, default=Path("../shared/models"))
    parser.add_argument("--videos", type=Path, default=Path("../shared/videos"))
    parser.add_argument("--dev", type=Path, default=Path("../shared/datasets/traffic_crops_dev"))
    parser.add_argument("-o", "--output", type=Path, default=Path("out/color/propose"))
    parser.add_argument("--per-vehicle", type=int, default=8)
    parser.add_argument("--per-dev-vehicle", type=int, default=3)
    parser.add_argument("--min-gap", type=int, default=3, help="frames between a new view and any dev crop")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    with (args.dev / "labels.csv").open(encoding="utf-8") as handle:
        dev = list(csv.DictReader(handle))
    candidates: list[Candidate] = []
    for clip, name in CLIP_FILES.items():
        cache = args.output / f"det_{Path(name).stem}.npz"
        if cache.exists():
            detections = ClipDetections.load(cache)
        else:
            from detectors.registry import open_detector
            from detectors.settings import DetectorSettings

            detector = open_detector(
                DetectorSettings(model=args.models / "yolov8n_int8_640.onnx", confidence=0.25, min_box_size=0)
            )
            detections = detect_clip(args.videos / name, detector)
            detections.save(cache)
        rows = [r for r in dev if r["clip"] == clip]
        found = clip_candidates(
            clip,
            detections,
            clip_fps(args.videos / name),
            rows,
            per_vehicle=args.per_vehicle,
            per_dev_vehicle=args.per_dev_vehicle,
            min_gap=args.min_gap,
        )
        log.info("%s: %d candidate crops", clip, len(found))
        candidates.extend(found)
    written = write_candidates(candidates, args.output / "candidates.csv")
    sheet_rows = [SheetRow.of(row, args.dev, dev) for row in written]
    paths = write_sheets(sheet_rows, args.videos, CLIP_FILES, args.output / "sheets")
    print(f"{len(written)} candidates in {args.output / 'candidates.csv'}; {len(paths)} contact sheets")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
