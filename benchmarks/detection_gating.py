"""Less detector work per frame, alert quality measured unchanged: detection every k-th frame and motion gating.

For each clip the detector runs once on every frame (cached under --cache); each schedule then picks the frames
the detector would see (`streamer.recognize.detect_gate.DetectionGate`, exactly as the service does) and the
recognise flow (tracking, make + colour classifiers, the evaluation watchlist, no cooldown) runs on those frames.
Against detecting every frame it reports:

- detector calls per frame;
- vehicles found: the share of the every-frame run's tracks (seen on at least --min-frames detected frames) that a
  track of the schedule's run overlaps (IoU >= 0.5 on a frame both detected);
- alerts raised: the share of the every-frame run's (entry, track) alerts that the schedule raises for the same
  entry on an overlapping track;
- true alerts raised: the same for the alerts that the hand labels of ``traffic_crops_dev`` confirm (a track is
  that set's vehicle when its box overlaps a labelled box, IoU >= 0.7, on the labelled frame; a colour entry is
  true when the colour label is that colour, a make entry when the legible make is that make), and the false alerts
  each schedule raises (labels contradict the entry). The every-frame run's unconfirmed alerts are mostly the
  classifiers' noise, which any change of frames reshuffles.

The row ``input sized to the frames`` is less detector work of another kind: every frame detected, with the
detector's input sized to the clip's frames (``detector.input_size: auto``, 384x640 for these 16:9 clips) instead
of the model's square 640x640 (``detector.input_size: model``, which every other row uses).

The detector is ``--detector`` (default: the file ``--models DIR`` takes, on the runtime ``auto`` picks).

Usage: python benchmarks/detection_gating.py [--clips anugoyal_traffic swdee_cars ...] [--plot gating.png]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from classifiers.bank import ClassifierBank
from classifiers.settings import ClassifierSettings
from detectors.registry import open_detector
from detectors.settings import DetectorSettings
from detectors.types import Detections
from streamer.recognize.batch import DetectedBatch, DetectedFrame
from streamer.recognize.detect_gate import DetectionGate
from streamer.recognize.flow import Recognizer
from streamer.recognize.settings import DetectionScheduleSettings, MotionGateSettings
from streamer.service.metrics import Metrics
from streamer.sources.frames import Frame
from watchlists.alerts import Alert
from watchlists.aliases import color_key, make_key
from watchlists.cooldown import Cooldown
from watchlists.entries import load_watchlist
from watchlists.matching import Matcher

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("VEHICLEWATCH_SHARED", ROOT.parent / "shared"))
CLIPS = ("anugoyal_traffic", "swdee_cars", "canersu_highway", "abhishek_highway", "ckuhn_traffic")
SCHEDULES: dict[str, DetectionScheduleSettings] = {
    "every frame": DetectionScheduleSettings(),
    "every 2nd": DetectionScheduleSettings(every=2),
    "every 3rd": DetectionScheduleSettings(every=3),
    "motion": DetectionScheduleSettings(motion=MotionGateSettings(enabled=True)),
    "motion + every 2nd": DetectionScheduleSettings(every=2, motion=MotionGateSettings(enabled=True)),
}
SCALED = {"every 2nd": 2, "every 3rd": 3, "motion + every 2nd": 2}
AGAIN = "every frame, again"
FITTED = "input sized to the frames"


@dataclass
class Run:
    """One schedule on one clip: which frames were detected, every track's boxes, the alerts."""

    detected: int = 0
    frames: int = 0
    boxes: dict[int, dict[int, NDArray[np.float32]]] = field(default_factory=dict)  # track -> frame -> box
    alerts: list[Alert] = field(default_factory=list)

    def submit(self, alert: Alert, crop_bgr: NDArray[np.uint8] | None = None, timeout: float | None = None) -> bool:  # noqa: ARG002
        self.alerts.append(alert)
        return True


def read_frames(path: Path) -> tuple[list[NDArray[np.uint8]], float]:
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    frames: list[NDArray[np.uint8]] = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(np.asarray(image, np.uint8))
    capture.release()
    return frames, fps


def detect_all(
    clip: str, images: Sequence[NDArray[np.uint8]], cache: Path, model: Path, fit_frames: bool = False
) -> list[Detections]:
    """Every frame's detections, from the cache when it has them (the detector is deterministic); with
    ``fit_frames`` the detector's input is sized to the frames (``input_size: auto``), else the model's own."""
    path = cache / f"{clip}_{model.stem}_{'fitted' if fit_frames else 'model'}.npz"
    if path.exists():
        data = np.load(path, allow_pickle=False)
        names = [str(n) for n in data["names"]]
        return [
            Detections(data[f"b{i}"], data[f"s{i}"], data[f"c{i}"], tuple(names[c] for c in data[f"c{i}"].tolist()))
            for i in range(len(images))
        ]
    settings = DetectorSettings(model=model, input_size="auto" if fit_frames else "model")
    detector = open_detector(settings, [images[0].shape[:2]] if images else [])
    found: list[Detections] = []
    for i, image in enumerate(images):
        found.extend(detector.detect([image]))
        if i % 50 == 0:
            print(f"  {clip}: detected {i}/{len(images)} frames", file=sys.stderr)
    names = sorted({n for d in found for n in d.class_names})
    index = {n: i for i, n in enumerate(names)}
    arrays: dict[str, NDArray[np.generic]] = {"names": np.asarray(names)}
    for i, d in enumerate(found):
        arrays[f"b{i}"], arrays[f"s{i}"] = d.boxes, d.scores
        arrays[f"c{i}"] = np.asarray([index[n] for n in d.class_names], np.int32)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]
    return detect_all(clip, images, cache, model, fit_frames)


def run_schedule(
    schedule: DetectionScheduleSettings,
    images: Sequence[NDArray[np.uint8]],
    found: Sequence[Detections],
    fps: float,
    bank: ClassifierBank,
    matcher: Matcher,
    scale: bool,
) -> Run:
    run = Run(frames=len(images))
    gate = DetectionGate(schedule)
    # As the service does: the camera's frame counts scaled to the frames it detects (``scale=False`` shows why).
    steps = {"cam": schedule.every if scale else 1}
    recognizer = Recognizer(bank, matcher, Cooldown(0.0), run, Metrics(), frame_steps=steps)
    for index, (image, detections) in enumerate(zip(images, found, strict=True)):
        frame = Frame("cam", index, 1000.0 + index / fps, index / fps, image)
        if not gate.decide(frame).detect:
            continue
        run.detected += 1
        tracked = recognizer.track(DetectedBatch((DetectedFrame(frame, detections),)))
        recognizer.recognize(tracked)
        d = tracked.frames[0].detections
        for track_id, box in zip(d.track_ids if d.track_ids is not None else (), d.boxes, strict=False):
            if track_id >= 0:
                run.boxes.setdefault(int(track_id), {})[index] = box
    recognizer.finish()
    return run


def iou(a: NDArray[np.float32], b: NDArray[np.float32]) -> float:
    w = max(min(a[2], b[2]) - max(a[0], b[0]), 0.0)
    h = max(min(a[3], b[3]) - max(a[1], b[1]), 0.0)
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def counterparts(reference: Run, other: Run) -> dict[int, set[int]]:
    """For each reference track, the other run's tracks that overlap it on a frame both detected."""
    matched: dict[int, set[int]] = {}
    for track, boxes in reference.boxes.items():
        for other_track, other_boxes in other.boxes.items():
            if any(iou(boxes[f], other_boxes[f]) >= 0.5 for f in boxes.keys() & other_boxes.keys()):
                matched.setdefault(track, set()).add(other_track)
    return matched


@dataclass(frozen=True)
class Vehicle:
    id: str
    color: str
    make: str


def labelled_vehicles(clip: str, reference: Run) -> dict[int, Vehicle]:
    """The reference run's tracks that are labelled vehicles of traffic_crops_dev, with their labels."""
    root = SHARED / "datasets/traffic_crops_dev"
    if not (root / "labels.csv").exists():
        return {}
    with (root / "labels.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if clip.startswith(r["clip"])]
    found: dict[int, Vehicle] = {}
    for row in rows:
        box = np.array([float(row[k]) for k in ("x1", "y1", "x2", "y2")], np.float32)
        frame = int(row["frame"])
        for track, boxes in reference.boxes.items():
            if frame in boxes and iou(boxes[frame], box) >= 0.7:
                found[track] = Vehicle(row["same_as"] or row["id"], row["color"], row["make"])
    return found


def judge(entry_id: str, vehicle: Vehicle, watchlist: dict[str, tuple[str | None, str | None]]) -> bool | None:
    """True/False when the vehicle's labels confirm/contradict the entry; None when they cannot tell."""
    color, make = watchlist[entry_id]
    verdicts: list[bool | None] = []
    if color is not None:
        verdicts.append(None if vehicle.color in ("unsure", "") else color_key(vehicle.color) == color_key(color))
    if make is not None:
        verdicts.append(None if vehicle.make in ("unknown", "") else make_key(vehicle.make) == make_key(make))
    if False in verdicts:
        return False
    return None if None in verdicts or not verdicts else True


def truth_compare(
    reference: Run, other: Run, vehicles: dict[int, Vehicle], watchlist: dict[str, tuple[str | None, str | None]]
) -> tuple[int, int, int]:
    """(reference true alerts, of those raised by ``other``, false alerts ``other`` raised)."""
    vehicle_of: dict[int, Vehicle] = {}
    for track, others in counterparts(reference, other).items():
        for o in others:
            if track in vehicles:
                vehicle_of[o] = vehicles[track]
    wanted = {(a.entry.id, vehicles[a.track_id]) for a in reference.alerts if a.track_id in vehicles}
    wanted = {(e, v) for e, v in wanted if judge(e, v, watchlist)}
    raised = {(a.entry.id, vehicle_of[a.track_id]) for a in other.alerts if a.track_id in vehicle_of}
    false = sum(
        1
        for a in other.alerts
        if a.track_id in vehicle_of and judge(a.entry.id, vehicle_of[a.track_id], watchlist) is False
    )
    return len(wanted), len(wanted & raised), false


def compare(reference: Run, other: Run, min_frames: int) -> tuple[int, int, int, int]:
    """(reference vehicles, found; reference alerts, raised)."""
    vehicles = {t for t, boxes in reference.boxes.items() if len(boxes) >= min_frames}
    matched = counterparts(reference, other)
    found = sum(1 for t in vehicles if matched.get(t))
    raised_by = {(a.entry.id, a.track_id) for a in other.alerts}
    wanted = {(a.entry.id, a.track_id) for a in reference.alerts if a.track_id is not None}
    raised = sum(1 for entry, t in wanted if any((entry, o) in raised_by for o in matched.get(t, ())))
    return len(vehicles), found, len(wanted), raised


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", nargs="+", default=list(CLIPS))
    parser.add_argument("--cache", type=Path, default=Path("out/gating_cache"))
    parser.add_argument("--min-frames", type=int, default=3)
    parser.add_argument("--watchlist", type=Path, default=ROOT / "tests/watchlists/data/traffic_colors_watchlist.yaml")
    parser.add_argument("--plot", type=Path)
    parser.add_argument("--detector", type=Path, default=SHARED / "models/yolov8n_640_dynbatch_dequant_fp32.onnx")
    args = parser.parse_args()
    models = SHARED / "models"
    bank = ClassifierBank.from_settings(
        ClassifierSettings(
            models=[
                {"model": models / "spectrico_make_mobilenetv3_224.onnx", "providers": ["cpu"]},
                {"model": models / "spectrico_color_mobilenetv3_224.onnx", "providers": ["cpu"]},
            ]
        )
    )
    entries = load_watchlist(args.watchlist)
    matcher = Matcher(entries)
    watchlist = {e.id: (e.color, e.make) for e in entries}
    names = [*SCHEDULES, *(f"{n}, scaled" for n in SCALED), AGAIN, FITTED]
    totals: dict[str, list[int]] = {name: [0] * 9 for name in names}
    print(
        f"{'clip':18} {'schedule':26} {'calls/frame':>11} {'vehicles found':>15} {'alerts raised':>14} "
        f"{'true alerts':>12} {'false':>6}"
    )
    for clip in args.clips:
        images, fps = read_frames(SHARED / f"videos/{clip}.mp4")
        found = detect_all(clip, images, args.cache, args.detector)
        runs = {name: run_schedule(s, images, found, fps, bank, matcher, False) for name, s in SCHEDULES.items()}
        for name in SCALED:
            runs[f"{name}, scaled"] = run_schedule(SCHEDULES[name], images, found, fps, bank, matcher, True)
        # The same schedule again: how far two identical runs agree (the classifiers' own noise floor).
        runs[AGAIN] = run_schedule(SCHEDULES["every frame"], images, found, fps, bank, matcher, True)
        fitted = detect_all(clip, images, args.cache, args.detector, fit_frames=True)
        runs[FITTED] = run_schedule(SCHEDULES["every frame"], images, fitted, fps, bank, matcher, True)
        reference = runs["every frame"]
        labelled = labelled_vehicles(clip, reference)
        for name, run in runs.items():
            vehicles, kept, alerts, raised = compare(reference, run, args.min_frames)
            true_alerts, true_raised, false = truth_compare(reference, run, labelled, watchlist)
            figures = (run.detected, run.frames, vehicles, kept, alerts, raised, true_alerts, true_raised, false)
            for i, value in enumerate(figures):
                totals[name][i] += value
            print(
                f"{clip:18} {name:26} {run.detected / run.frames:11.2f} {kept:>7}/{vehicles:<7} {raised:>6}/{alerts:<7}"
                f" {true_raised:>5}/{true_alerts:<6} {false:>6}"
            )
    print("all clips")
    for name, (detected, frames, vehicles, kept, alerts, raised, true_alerts, true_raised, false) in totals.items():
        share_v = kept / vehicles if vehicles else 1.0
        share_a = raised / alerts if alerts else 1.0
        share_t = true_raised / true_alerts if true_alerts else 1.0
        print(
            f"{'':18} {name:26} {detected / frames:11.2f} {share_v:>15.3f} {share_a:>14.3f} {share_t:>12.3f} {false:>6}"
            f"   ({kept}/{vehicles} vehicles, {raised}/{alerts} alerts, {true_raised}/{true_alerts} true alerts)"
        )
    if args.plot is not None:
        plot(totals, args.plot)


def plot(totals: dict[str, list[int]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(totals)
    calls = [t[0] / t[1] for t in totals.values()]
    vehicles = [t[3] / t[2] if t[2] else 1.0 for t in totals.values()]
    alerts = [t[7] / t[6] if t[6] else 1.0 for t in totals.values()]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.bar(x - 0.25, calls, 0.25, label="detector calls per frame")
    ax.bar(x, vehicles, 0.25, label="vehicles found (share)")
    ax.bar(x + 0.25, alerts, 0.25, label="true alerts raised (share)")
    ax.axhline(0.98, color="grey", linestyle="--", linewidth=1)
    ax.set_xticks(x, names)
    ax.set_title("Detection schedules against detecting every frame (dev clips)")
    ax.legend(loc="lower left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    print(f"plot: {path}")


if __name__ == "__main__":
    main()
