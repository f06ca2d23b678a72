"""Per-camera adaptation on the shared clips, labelled as an operator would: first half labelled, second half tested.

Usage: python benchmarks/adapt_clips.py [--models ../shared/models] [--color-recognizer out/color/recognizer.yaml]
       [--out out/adapt_clips] [--min-vehicles 3] [--as-given] [--via-cli]

Each clip of ``../shared/datasets/traffic_crops_dev`` is one camera. Its vehicles (``same_as`` groups the views) whose
first view is in the first half of the clip (by ``time_s``) are labelled, as an operator labelling the vehicles seen
so far would: make where a badge is legible (else "can't tell"), colour (``unsure`` → can't tell), body type in the
body-type head's own words (the omz head's car/bus/truck/van; ``unsure`` → can't tell). The labels are written in
the dataset format (``classifiers.adaptation.dataset``) and read back; ``adapt_camera`` adapts each camera on them
(leave-one-vehicle-out selection, gated); the vehicles whose first view is in the second half are then judged per
vehicle with the camera's deployed version, against the base heads.

The bank is the project's default: the make model on the tight box (``crop_margin: 0``), the colour recogniser
(build it first: ``python -m classifiers.color.build --models ../shared/models -o out/color/recognizer.yaml``) at
0.05, the omz ``type`` head. By default each model gets its own cut of the box as the service cuts it
(``ClassifierBank.raw_scores(crops, boxes)``); ``--as-given`` gives every model the stored crop as it is.

``--via-cli`` takes the operator's own path through the commands instead of writing the dataset: each first-half
vehicle is labelled with ``vehiclewatch label crops <its folder> --camera <clip> --make .. --color .. --body-type ..``
(one process per vehicle; "can't tell" given as ``unknown``) into a history database under ``OUT/cli``; per clip,
``vehiclewatch label export --camera <clip>`` and ``vehiclewatch adapt run --labels <export> --camera <clip>`` build
and gate the adaptation (``benchmarks/operator_cli.py``). The export has no boxes, so ``adapt run`` scores each crop
as it is: this mode implies ``--as-given``, and its figures are those of the direct ``--as-given`` run.

``--cast CLIP B G R`` multiplies that clip's crops by per-channel gains: a simulated camera with a colour cast.

Prints a table and writes ``OUT/adapt_clips.json``, ``OUT/adapt_clips.png``, the labelled dataset
(``OUT/labels``; with ``--via-cli`` the commands' work folder ``OUT/cli``: history database, kept views, exports
``OUT/cli/export/<clip>``, reports ``OUT/cli/reports/<clip>``), the store (``OUT/store``), the ungated store
(``OUT/store_ungated``) and each camera's adaptation report (``OUT/reports/<clip>``).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from operator_cli import Vehicle, export_and_adapt, label_vehicles, subprocess_runner, write_config
from tqdm import tqdm  # type: ignore[import-untyped]

from classifiers.adaptation.adapt import adapt_camera
from classifiers.adaptation.dataset import LabelledView, read_views, write_views
from classifiers.adaptation.errors import NotEnoughLabelsError
from classifiers.adaptation.fields import CANT_TELL, FIELD_HEADS
from classifiers.adaptation.file import load_adaptation
from classifiers.adaptation.report import AdaptationReport, write_report
from classifiers.adaptation.store import AdaptationStore
from classifiers.bank import ClassifierBank
from classifiers.settings import ClassifierSettings
from classifiers.types import HeadScores
from watchlists.colors import confusion_row
from watchlists.evaluation_data import box_in_stored_crop

SHARED = Path(os.environ.get("VEHICLEWATCH_SHARED", Path(__file__).resolve().parent.parent.parent / "shared"))
STORED_MARGIN = 0.1
MAKE_MIN_BOX_SIDE = 88  # the service's make abstention (classifiers.abstain.make_min_box_side)
NEAR_WEIGHT = 0.3  # a colour counts as near when the truth's confusion row gives it at least this weight
# The dev set's body types in the omz head's words (watchlists.aliases.BODY_TYPE_FALLBACK; "other" is an estate).
BODY_TYPE = {"sedan": "car", "suv": "car", "hatchback": "car", "pickup": "car", "other": "car", "van": "van",
             "bus": "bus", "truck": "truck"}  # fmt: skip
HEAD_OF = {"make": "make", "color": "color", "body_type": "type"}


@dataclass(frozen=True)
class View:
    row: dict[str, str]
    image: NDArray[np.uint8]
    box: NDArray[np.float32]
    key: bytes
    vehicle: str
    clip: str
    time: float

    @property
    def short_side(self) -> float:
        return float(min(self.box[2] - self.box[0], self.box[3] - self.box[1]))


def image_key(image: NDArray[np.uint8]) -> bytes:
    return hashlib.sha1(image.tobytes() + str(image.shape).encode(), usedforsecurity=False).digest()


def labels_of(row: Mapping[str, str]) -> dict[str, str]:
    """The operator's labels for a row, in the heads' words."""
    make = row["make"].strip()
    color = row["color"].strip()
    body = row["body_type"].strip()
    return {
        "make": CANT_TELL if make in ("", "unknown") else make,
        "color": CANT_TELL if color in ("", "unsure") else color,
        "body_type": BODY_TYPE.get(body, CANT_TELL),
    }


def bank_settings(models: Path, recognizer: Path) -> dict[str, Any]:
    """The bank's ``classifiers`` section (also written into the config the commands read with ``--via-cli``)."""
    return {
        "models": [
            {"model": models / "spectrico_make_mobilenetv3_224.onnx", "crop_margin": 0.0, "providers": ["cpu"]},
            {"model": models / "omz_vehicle_attributes_0039_72.onnx", "heads": ["type"], "providers": ["cpu"]},
        ],
        "color_recognizer": {"file": recognizer, "providers": ["cpu"]},
        "crop_margin": 0.05,
    }


def open_bank(models: Path, recognizer: Path) -> ClassifierBank:
    return ClassifierBank.from_settings(ClassifierSettings(**bank_settings(models, recognizer)))


def read_dev(cast: Mapping[str, Sequence[float]] | None = None) -> list[View]:
    """Every labelled crop; ``cast``: clip → per-channel (B, G, R) gains applied to its crops (a simulated camera
    with a colour cast, the kind of systematic per-camera error adaptation is for)."""
    root = SHARED / "datasets" / "traffic_crops_dev"
    if not (root / "labels.csv").is_file():
        sys.exit(f"no {root}/labels.csv (set VEHICLEWATCH_SHARED)")
    with (root / "labels.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    views = []
    for row in rows:
        image = np.asarray(cv2.imread(str(root / row["crop_path"]), cv2.IMREAD_COLOR), np.uint8)
        if cast and row["clip"] in cast:
            gains = np.asarray(cast[row["clip"]], np.float32)
            image = np.clip(image.astype(np.float32) * gains, 0, 255).astype(np.uint8)
        box = box_in_stored_crop(row, image.shape, STORED_MARGIN)
        vehicle = row["same_as"].strip() or row["id"]
        views.append(View(row, image, box, image_key(image), vehicle, row["clip"], float(row["time_s"])))
    return views


def score_all(bank: ClassifierBank, views: Sequence[View], as_given: bool) -> dict[bytes, dict[str, HeadScores]]:
    out: dict[bytes, dict[str, HeadScores]] = {}
    for start in range(0, len(views), 32):
        chunk = views[start : start + 32]
        images = [v.image for v in chunk]
        scores = bank.raw_scores(images) if as_given else bank.raw_scores(images, [v.box for v in chunk])
        for view, s in zip(chunk, scores, strict=True):
            out[view.key] = s
        print(f"\rscoring {start + len(chunk)}/{len(views)}", end="", file=sys.stderr)
    print(file=sys.stderr)
    return out


def split(views: Sequence[View]) -> tuple[set[str], set[str]]:
    """(first-half vehicles, second-half vehicles): by the time of each vehicle's first view, per clip."""
    first: dict[str, float] = {}
    for v in views:
        first[v.vehicle] = min(first.get(v.vehicle, v.time), v.time)
    length = {c: max(v.time for v in views if v.clip == c) for c in {v.clip for v in views}}
    clip_of = {v.vehicle: v.clip for v in views}
    train = {k for k, t in first.items() if t < length[clip_of[k]] / 2}
    return train, set(first) - train


def write_labelled(views: Sequence[View], folder: Path) -> list[LabelledView]:
    """The first-half labels as the dataset an operator's labelling writes (the crops as read, so a simulated
    cast is in them), read back from disk."""
    if folder.exists():
        shutil.rmtree(folder)
    rows = [
        LabelledView(
            path=Path("crops") / v.clip / Path(v.row["crop_path"]).name,
            camera_id=v.clip,
            track=v.vehicle,
            time=v.time,
            labels=labels_of(v.row),
            labelled_by="benchmark",
            labelled_at="2026-12-06T00:00:00+00:00",
        )
        for v in views
    ]
    write_views(folder, rows, [_png(v.image) for v in views])
    return read_views(folder)


def operator_vehicles(views: Sequence[View]) -> list[Vehicle]:
    """The vehicles as an operator labels them with `vehiclewatch label crops`: a folder per vehicle, the values of
    its hand labels ("can't tell" given as ``unknown``, as ``labels_of`` reads them)."""
    by_vehicle: dict[tuple[str, str], list[View]] = {}
    for v in views:
        by_vehicle.setdefault((v.clip, v.vehicle), []).append(v)
    out = []
    for (clip, key), own in sorted(by_vehicle.items()):
        labels = labels_of(own[0].row)
        if any(labels_of(v.row) != labels for v in own):
            raise ValueError(f"the views of vehicle {key} ({clip}) disagree in labels.csv")
        out.append(Vehicle(clip, key, tuple((Path(v.row["crop_path"]).name, v.image) for v in own), labels))
    return out


def _png(image: NDArray[np.uint8]) -> bytes:
    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise ValueError("cannot encode a crop")
    return bytes(data.tobytes())


@dataclass
class Tally:
    vehicles: int = 0
    named: int = 0
    right: int = 0
    near: int = 0

    def row(self) -> dict[str, Any]:
        return {
            "vehicles": self.vehicles,
            "named": self.named,
            "right": self.right,
            "near": self.near,
            "accuracy": self.right / self.named if self.named else None,
            "near_accuracy": self.near / self.named if self.named else None,
            "coverage": self.named / self.vehicles if self.vehicles else None,
        }


def judge(
    views: Sequence[View],
    scores: Mapping[bytes, dict[str, HeadScores]],
    field: str,
    adaptation: Any,
    size_rule: bool,
) -> Tally:
    """Per vehicle: views fused by mean probabilities over the views that do not abstain, top label named."""
    head = HeadScores  # noqa: F841 (for readers: scores[key][HEAD_OF[field]] is a HeadScores)
    tally = Tally()
    by_vehicle: dict[str, list[View]] = {}
    for v in views:
        by_vehicle.setdefault(v.vehicle, []).append(v)
    for own in by_vehicle.values():
        truth = labels_of(own[0].row)[field]
        if truth == CANT_TELL:
            continue
        tally.vehicles += 1
        name = HEAD_OF[field]
        labels = scores[own[0].key][name].labels
        probs = np.stack([scores[v.key][name].probs for v in own])
        keep = np.ones(len(own), bool)
        if adaptation is not None and name in adaptation.heads:
            probs, abstain = adaptation.apply(name, labels, probs)
            keep &= ~abstain
        if size_rule and field == "make":
            keep &= np.array([v.short_side >= MAKE_MIN_BOX_SIDE for v in own])
        if not keep.any():
            continue
        said = labels[int(probs[keep].mean(axis=0).argmax())]
        tally.named += 1
        tally.right += said == truth
        near = said == truth or (field == "color" and confusion_row(truth, None).get(said, 0.0) >= NEAR_WEIGHT)
        tally.near += bool(near)
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, default=SHARED / "models")
    parser.add_argument("--color-recognizer", type=Path, default=Path("out/color/recognizer.yaml"))
    parser.add_argument("--out", type=Path, default=Path("out/adapt_clips"))
    parser.add_argument("--min-vehicles", type=int, default=3, help="Labelled vehicles a camera needs to adapt.")
    parser.add_argument("--as-given", action="store_true", help="Every model gets the stored crop as it is.")
    parser.add_argument(
        "--via-cli",
        action="store_true",
        help="Label through `vehiclewatch label crops` (one call per vehicle), export and `adapt run` per clip "
        "(implies --as-given: the export has no boxes).",
    )
    parser.add_argument(
        "--cast",
        nargs=4,
        action="append",
        metavar=("CLIP", "B", "G", "R"),
        default=[],
        help="Simulate a colour cast on CLIP's crops: per-channel gains (repeatable), e.g. canersu 0.6 0.95 1.2.",
    )
    args = parser.parse_args()
    if not args.color_recognizer.is_file():
        sys.exit(f"no {args.color_recognizer}: python -m classifiers.color.build --models {args.models} -o ...")
    as_given = args.as_given or args.via_cli  # an export from `label crops` has no boxes: crops scored as given
    began = time.perf_counter()
    views = read_dev({clip: [float(g) for g in gains] for clip, *gains in args.cast})
    bank = open_bank(args.models, args.color_recognizer)
    scores = score_all(bank, views, as_given)
    # Fitted on the crops as given, an adaptation is still served on the service's cuts of the box: judged there too.
    served_scores = score_all(bank, views, False) if as_given else scores
    train, test = split(views)
    store_root = args.out / "store"
    if store_root.exists():
        shutil.rmtree(store_root)
    store = AdaptationStore(store_root)
    ungated_store = AdaptationStore(args.out / "store_ungated")  # every chosen method published: what the gate stops
    if ungated_store.root.exists():
        shutil.rmtree(ungated_store.root)

    def classify_by_path(images: Sequence[NDArray[np.uint8]]) -> list[dict[str, HeadScores]]:
        return [scores[image_key(image)] for image in images]

    timing: dict[str, float] = {}
    if args.via_cli:
        work = args.out / "cli"
        if work.exists():
            shutil.rmtree(work)
        config = write_config(work, bank_settings(args.models, args.color_recognizer))
        run = subprocess_runner(work)
        first_half = operator_vehicles([v for v in views if v.vehicle in train])
        started = time.perf_counter()
        with tqdm(total=len(first_half), desc="vehiclewatch label crops", unit="vehicle", file=sys.stderr) as bar:
            label_vehicles(first_half, work, config, run, progress=bar.update)
        timing["label_crops_s"] = time.perf_counter() - started
    else:
        labelled_all = write_labelled([v for v in views if v.vehicle in train], args.out / "labels")

    results: dict[str, Any] = {}
    clips = sorted({v.clip for v in views})
    for clip in clips:
        report: AdaptationReport | None = None
        if args.via_cli:
            started = time.perf_counter()
            outcome = export_and_adapt(clip, work, config, run, store_root, args.min_vehicles)
            timing[f"export_adapt_{clip}_s"] = time.perf_counter() - started
            if outcome.report is not None:
                report = AdaptationReport.model_validate_json(outcome.report.read_text())
            note = report.reason if report else outcome.output.strip().splitlines()[-1]
            labelled = read_views(outcome.export)
        else:
            labelled = labelled_all
            try:
                report = adapt_camera(
                    labelled, classify_by_path, clip, store, created_by="benchmark", min_vehicles=args.min_vehicles
                )
                write_report(report, args.out / "reports" / clip)
                note = report.reason
            except NotEnoughLabelsError as exc:
                note = str(exc)
        adapted = {f: r.method for f, r in report.fields.items() if r.deployed} if report else {}
        ungated_methods: dict[str, str | None] = {}
        if report is not None:
            forced = adapt_camera(
                labelled, classify_by_path, clip, ungated_store, min_vehicles=args.min_vehicles, force=True
            )
            ungated_methods = {f: r.method for f, r in forced.fields.items() if r.method}
        path = store.current(clip)
        adaptation = load_adaptation(path) if path is not None else None
        path = ungated_store.current(clip)
        ungated = load_adaptation(path) if path is not None else None
        clip_test = [v for v in views if v.clip == clip and v.vehicle in test]
        clip_train = [v for v in views if v.clip == clip and v.vehicle in train]
        figures: dict[str, Any] = {}
        for field in FIELD_HEADS:
            for name, rule in ((field, False), *((("make_size_rule", True),) if field == "make" else ())):
                figures[name] = {
                    when: judge(clip_test, by, field, a, size_rule=rule).row()
                    for when, a, by in (
                        ("before", None, scores),
                        ("after", adaptation, scores),
                        ("ungated", ungated, scores),
                        ("before_served", None, served_scores),
                        ("after_served", adaptation, served_scores),
                    )
                }
        results[clip] = {
            "train_vehicles": len({v.vehicle for v in clip_train}),
            "test_vehicles": len({v.vehicle for v in clip_test}),
            "adapted": adapted,
            "ungated_methods": ungated_methods,
            "version": adaptation.version if adaptation else None,
            "note": note,
            "figures": figures,
            "lovo": {f: r.model_dump(mode="json") for f, r in report.fields.items()} if report else None,
            "other_cameras": {c: {f: x.model_dump() for f, x in d.items()} for c, d in report.other_cameras.items()}
            if report
            else None,
        }
    totals = pooled(results)
    seconds = time.perf_counter() - began
    args.out.mkdir(parents=True, exist_ok=True)
    summary = {
        "clips": results,
        "pooled": totals,
        "seconds": seconds,
        "as_given": as_given,
        "via_cli": args.via_cli,
        "timing": timing,
        "cast": {clip: gains for clip, *gains in args.cast},
        "loadavg": os.getloadavg(),
    }
    (args.out / "adapt_clips.json").write_text(json.dumps(summary, indent=2, default=str))
    print_table(results, totals)
    if as_given:
        print_served(results, totals)
    plot(results, totals, args.out / "adapt_clips.png")
    print(f"{seconds:.0f} s, load average {os.getloadavg()[0]:.1f}; wrote {args.out}/adapt_clips.json and .png")


def pooled(results: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in ("make", "make_size_rule", "color", "body_type"):
        out[field] = {}
        for when in ("before", "after", "ungated", "before_served", "after_served"):
            t = Tally()
            for clip in results.values():
                r = clip["figures"][field][when]
                t.vehicles += r["vehicles"]
                t.named += r["named"]
                t.right += r["right"]
                t.near += r["near"]
            out[field][when] = t.row()
    return out


def fmt(r: Mapping[str, Any], near: bool = False) -> str:
    if not r["vehicles"]:
        return "-"
    acc = "-" if r["accuracy"] is None else f"{r['right']}/{r['named']}"
    extra = f" near {r['near']}/{r['named']}" if near and r["named"] else ""
    return f"{acc}{extra} named {r['named']}/{r['vehicles']}"


def print_table(results: Mapping[str, Any], totals: Mapping[str, Any]) -> None:
    cols = ("make", "make_size_rule", "color", "body_type")
    print("second-half vehicles, per vehicle: right/named (colour: strict, near) and named/labelled")
    print("| clip | labelled (1st half) | tested | adapted | " + " | ".join(f"{c} before → after" for c in cols) + " |")
    print("|---|---|---|---|" + "---|" * len(cols))
    rows = [(c, r) for c, r in results.items()] + [("all", {"figures": totals})]
    for clip, r in rows:
        cells = []
        for c in cols:
            f = r["figures"][c]
            cells.append(
                f"{fmt(f['before'], c == 'color')} → {fmt(f['after'], c == 'color')} "
                f"(ungated {fmt(f['ungated'], c == 'color')})"
            )
        adapted = ", ".join(f"{k} {v}" for k, v in r.get("adapted", {}).items()) or ("-" if clip == "all" else "none")
        print(f"| {clip} | {r.get('train_vehicles', '')} | {r.get('test_vehicles', '')} | {adapted} | "
              + " | ".join(cells) + " |")  # fmt: skip
    for clip, r in results.items():
        ungated = ", ".join(f"{k} {v}" for k, v in r["ungated_methods"].items()) or "-"
        print(f"  {clip}: {r['note']} (chosen, ungated: {ungated})")


def print_served(results: Mapping[str, Any], totals: Mapping[str, Any]) -> None:
    """The same adaptations served as the service serves them: on each model's own cut of the box."""
    cols = ("make", "make_size_rule", "color", "body_type")
    print("\nthe same, served on the service's cuts of the box (fitted on the crops as given)")
    print("| clip | " + " | ".join(f"{c} before → after" for c in cols) + " |")
    print("|---|" + "---|" * len(cols))
    for clip, r in [*results.items(), ("all", {"figures": totals})]:
        f = r["figures"]
        cells = [f"{fmt(f[c]['before_served'], c == 'color')} → {fmt(f[c]['after_served'], c == 'color')}"
                 for c in cols]  # fmt: skip
        print(f"| {clip} | " + " | ".join(cells) + " |")


def plot(results: Mapping[str, Any], totals: Mapping[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = ("make", "color", "body_type")
    names = [*results, "all"]
    fig, axes = plt.subplots(1, len(cols), figsize=(5 * len(cols), 3.8))
    for ax, c in zip(axes, cols, strict=True):
        x = np.arange(len(names))
        for i, when in enumerate(("before", "after")):
            rows = [(results[n]["figures"] if n != "all" else totals)[c][when] for n in names]
            acc = [r["accuracy"] or 0.0 for r in rows]
            cov = [r["coverage"] or 0.0 for r in rows]
            ax.bar(x + (i - 0.5) * 0.38, acc, width=0.38, label=f"accuracy where named, {when}")
            ax.scatter(x + (i - 0.5) * 0.38, cov, marker="_", s=200, color="k", zorder=3)
        ax.set_xticks(x, names, rotation=30)
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{c} (second half; bars accuracy, ticks coverage)", fontsize=9)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
