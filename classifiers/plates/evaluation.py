"""Evaluating the plate reader on a labelled set (``labels.csv``: path, plate, x, y, w, h, region).

Figures, overall and per region: **found** (the read's text box lies on the labelled plate: at least half of it
inside the plate box), **exact** (the read equals the label), **char accuracy** (1 − character error rate, edit
distance over the label's length, floored at 0; an image with no read counts as all characters wrong), and time
per image. A character confusion table (label character → read character, '-' for a missed or extra one) and a
PNG go with them.

The degraded-track experiment (`track_experiment`) makes several degraded views of each image (scaled down,
JPEG-compressed, blurred, with seeded randomness), reads each, and compares the exact rate of single views with
that of the views fused per image (`classifiers.plates.fusion`), as a track of those views would be.
"""

from __future__ import annotations

import csv
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from classifiers.plates.fusion import PlateFusion, align, edit_distance
from classifiers.plates.reader import PlateReader
from classifiers.plates.types import PlateReading
from classifiers.training.embed import read_image

Progress = Callable[[Iterable[object]], Iterable[object]]


@dataclass(frozen=True, slots=True)
class PlateLabel:
    """One labelled image."""

    path: Path
    plate: str
    box: tuple[float, float, float, float]
    region: str


def load_labels(data: Path) -> list[PlateLabel]:
    """The labels of a folder with ``labels.csv`` (or the CSV itself); ValueError when unusable."""
    csv_path = data / "labels.csv" if data.is_dir() else data
    if not csv_path.is_file():
        raise ValueError(f"{csv_path} not found (a plates set has labels.csv: path, plate, x, y, w, h, region)")
    root = csv_path.parent
    labels: list[PlateLabel] = []
    with csv_path.open(newline="") as f:
        for row in csv.DictReader(f):
            try:
                x, y, w, h = (float(row[k]) for k in ("x", "y", "w", "h"))
                labels.append(PlateLabel(root / row["path"], row["plate"].upper(), (x, y, x + w, y + h), row["region"]))
            except (KeyError, ValueError) as exc:
                raise ValueError(f"{csv_path}: bad row {row}: {exc}") from None
    if not labels:
        raise ValueError(f"{csv_path} has no rows")
    return labels


def found(read_box: tuple[float, float, float, float], plate_box: tuple[float, float, float, float]) -> bool:
    """Whether at least half of the read's text box lies inside the labelled plate box."""
    ix = max(0.0, min(read_box[2], plate_box[2]) - max(read_box[0], plate_box[0]))
    iy = max(0.0, min(read_box[3], plate_box[3]) - max(read_box[1], plate_box[1]))
    area = max((read_box[2] - read_box[0]) * (read_box[3] - read_box[1]), 1e-6)
    return ix * iy / area >= 0.5


def _o0(text: str) -> str:
    """The text with O and 0 made one (many plate alphabets, e.g. Slovak and German, do not tell them apart)."""
    return text.replace("O", "0")


def char_accuracy(truth: str, read: str | None) -> float:
    """1 − CER, floored at 0."""
    if not read:
        return 0.0
    return max(0.0, 1.0 - edit_distance(truth, read) / len(truth))


@dataclass(slots=True)
class Tally:
    """Running figures of one group of images."""

    images: int = 0
    read: int = 0
    found: int = 0
    exact: int = 0
    exact_o0: int = 0
    char_accuracy: float = 0.0

    def add(self, label: PlateLabel, reading: PlateReading | None) -> None:
        self.images += 1
        self.read += reading is not None
        self.found += reading is not None and found(reading.box, label.box)
        self.exact += reading is not None and reading.text == label.plate
        self.exact_o0 += reading is not None and _o0(reading.text) == _o0(label.plate)
        self.char_accuracy += char_accuracy(label.plate, reading.text if reading else None)

    def figures(self) -> dict[str, float]:
        n = max(self.images, 1)
        return {
            "images": self.images,
            "read_rate": self.read / n,
            "found_rate": self.found / n,
            "exact": self.exact / n,
            "exact_o_is_0": self.exact_o0 / n,
            "char_accuracy": self.char_accuracy / n,
        }


@dataclass(slots=True)
class PlateEvaluation:
    """Results of `evaluate`."""

    overall: Tally = field(default_factory=Tally)
    regions: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    confusions: Counter[tuple[str, str]] = field(default_factory=Counter)
    rows: list[dict[str, object]] = field(default_factory=list)
    seconds_per_image: float = 0.0
    seconds_detect_per_image: float = 0.0
    seconds_recognize_per_line: float = 0.0

    def report(self) -> dict[str, object]:
        return {
            "overall": self.overall.figures(),
            "regions": {k: v.figures() for k, v in sorted(self.regions.items())},
            "seconds_per_image": self.seconds_per_image,
            "seconds_detect_per_image": self.seconds_detect_per_image,
            "seconds_recognize_per_line": self.seconds_recognize_per_line,
            "top_confusions": [{"label": a, "read": b, "count": n} for (a, b), n in self.confusions.most_common(20)],
        }


def _confusions(truth: str, read: str) -> Iterable[tuple[str, str]]:
    for i, j in align(truth, read):
        a = truth[i] if i is not None else "-"
        b = read[j] if j is not None else "-"
        if a != b:
            yield a, b


def evaluate(
    reader: PlateReader,
    labels: Sequence[PlateLabel],
    progress: Progress = iter,
    readers: Mapping[str, PlateReader] | None = None,
) -> PlateEvaluation:
    """Reads every labelled image (whole image as the crop) and tallies the figures.

    ``readers``: per region, the reader to use (e.g. with that region's formats only, as a camera in that
    country would be configured); other regions use ``reader``.
    """
    readers = readers or {}
    result = PlateEvaluation()
    reader.times.detect = reader.times.recognize = 0.0
    reader.times.crops = reader.times.lines = 0
    started = time.perf_counter()
    for item in progress(labels):
        assert isinstance(item, PlateLabel)
        reading = readers.get(item.region, reader).read([read_image(item.path)])[0]
        result.overall.add(item, reading)
        result.regions[item.region].add(item, reading)
        text = reading.text if reading else ""
        result.confusions.update(_confusions(item.plate, text))
        result.rows.append(
            {
                "path": str(item.path.name),
                "region": item.region,
                "plate": item.plate,
                "read": text,
                "confidence": round(reading.confidence, 4) if reading else "",
                "found": bool(reading and found(reading.box, item.box)),
            }
        )
    n = max(len(labels), 1)
    result.seconds_per_image = (time.perf_counter() - started) / n
    result.seconds_detect_per_image = reader.times.detect / n
    result.seconds_recognize_per_line = reader.times.recognize / max(reader.times.lines, 1)
    return result


def degrade(
    image: NDArray[np.uint8], rng: np.random.Generator, scales: tuple[float, float] = (0.3, 0.6)
) -> NDArray[np.uint8]:
    """One degraded view: scaled to a random share in ``scales``, blurred (σ 0.4-1.2 px), JPEG quality 15-45."""
    scale = rng.uniform(*scales)
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    blurred = cv2.GaussianBlur(small, (0, 0), rng.uniform(0.4, 1.2))
    ok, data = cv2.imencode(".jpg", blurred, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(15, 46))])
    assert ok
    return np.asarray(cv2.imdecode(data, cv2.IMREAD_COLOR), np.uint8)


@dataclass(slots=True)
class TrackExperiment:
    """Exact rates over degraded views: single views vs the views of one image fused."""

    views: int = 0
    single_exact: int = 0
    tracks: int = 0
    fused_exact: int = 0
    best_single_exact: int = 0
    regions: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0, 0]))

    def report(self) -> dict[str, object]:
        return {
            "tracks": self.tracks,
            "views_per_track": self.views / max(self.tracks, 1),
            "single_view_exact": self.single_exact / max(self.views, 1),
            "most_confident_view_exact": self.best_single_exact / max(self.tracks, 1),
            "fused_exact": self.fused_exact / max(self.tracks, 1),
            "regions": {
                k: {"single_view_exact": v[0] / max(v[1], 1), "fused_exact": v[2] / max(v[3], 1)}
                for k, v in sorted(self.regions.items())
            },
        }


def track_experiment(
    reader: PlateReader,
    labels: Sequence[PlateLabel],
    views: int = 5,
    seed: int = 0,
    progress: Progress = iter,
    readers: Mapping[str, PlateReader] | None = None,
    scales: tuple[float, float] = (0.3, 0.6),
) -> TrackExperiment:
    """Per image, ``views`` degraded views read one by one and fused (weight: each view's scale, as a quality)."""
    rng = np.random.default_rng(seed)
    result = TrackExperiment()
    for item in progress(labels):
        assert isinstance(item, PlateLabel)
        image = read_image(item.path)
        crops = [degrade(image, rng, scales) for _ in range(views)]
        readings = (readers or {}).get(item.region, reader).read(crops)
        fusion = PlateFusion()
        region = result.regions[item.region]
        for crop, reading in zip(crops, readings, strict=True):
            result.views += 1
            region[1] += 1
            if reading is not None:
                hit = reading.text == item.plate
                result.single_exact += hit
                region[0] += hit
                fusion.add(reading, crop.shape[1] / image.shape[1])
        fused = fusion.fused()
        result.tracks += 1
        region[3] += 1
        hit = fused is not None and fused.text == item.plate
        result.fused_exact += hit
        region[2] += hit
        best = max((r for r in readings if r is not None), key=lambda r: r.confidence, default=None)
        result.best_single_exact += best is not None and best.text == item.plate
    return result


def write_outputs(result: PlateEvaluation, out: Path, experiment: TrackExperiment | None = None) -> list[Path]:
    """``report.json``, ``reads.csv``, ``confusions.csv`` and ``plates.png`` in ``out``."""
    import json

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    report = result.report()
    if experiment is not None:
        report["track_experiment"] = experiment.report()
    paths = [out / "report.json", out / "reads.csv", out / "confusions.csv", out / "plates.png"]
    paths[0].write_text(json.dumps(report, indent=2) + "\n")
    with paths[1].open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["path", "region", "plate", "read", "confidence", "found"])
        writer.writeheader()
        writer.writerows(result.rows)
    with paths[2].open("w", newline="") as f:
        writer2 = csv.writer(f)
        writer2.writerow(["label", "read", "count"])
        for (a, b), n in result.confusions.most_common():
            writer2.writerow([a, b, n])
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    groups = ["all", *sorted(result.regions)]
    tallies = [result.overall, *(result.regions[g] for g in groups[1:])]
    metrics = ["found_rate", "exact", "char_accuracy"]
    x = np.arange(len(groups))
    for k, metric in enumerate(metrics):
        left.bar(x + (k - 1) * 0.27, [t.figures()[metric] for t in tallies], 0.27, label=metric)
    left.set_xticks(x, [f"{g} ({t.images})" for g, t in zip(groups, tallies, strict=True)])
    left.set_ylim(0, 1)
    left.legend()
    left.set_title("plate reader per region")
    top = result.confusions.most_common(15)
    right.barh([f"{a}→{b}" for (a, b), _ in top][::-1], [n for _, n in top][::-1])
    right.set_title("most common character errors (label→read, '-': none)")
    fig.tight_layout()
    fig.savefig(paths[3], dpi=100)
    plt.close(fig)
    return paths
