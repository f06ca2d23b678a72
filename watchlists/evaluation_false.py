"""The false alerts of a per-vehicle evaluation, as an operator would see them: a list and a contact sheet.

Each false alert is one (vehicle, entry) pair whose score reached the entry's threshold although the vehicle's
labels say it is not what the entry describes. The list (CSV and JSON) gives the vehicle, its labels, the entry,
the score and the top labels of the fused classification; the contact sheet shows each such vehicle's best view
(the snapshot its alert would carry) with the same facts in its caption.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from classifiers.crops import ImageArray
from watchlists.evaluation import entry_truth
from watchlists.evaluation_vehicles import VehicleView
from watchlists.matching import Matcher

LABEL_COLUMNS = ("color", "make", "body_type")
SHEET_COLUMNS = 6


@dataclass(frozen=True)
class FalseAlert:
    """One false alert: the vehicle, what it really is, the entry it wrongly matched, and what was seen."""

    vehicle: str
    fold: str
    entry: str
    score: float
    threshold: float
    labels: str
    """The vehicle's labels (colour, make, body type)."""
    seen: str
    """The fused classification's top label and probability per head."""
    views: int
    image: str
    """The vehicle's best view."""


def _labels(row: Mapping[str, str]) -> str:
    return ", ".join(f"{c} {row.get(c, '')}" for c in LABEL_COLUMNS if row.get(c))


def _seen(vehicle: VehicleView) -> str:
    if vehicle.fused is None:
        return "-"
    tops = vehicle.fused.top(1)
    return ", ".join(f"{head} {top[0].label} {top[0].prob:.2f}" for head, top in tops.items() if top)


def false_alerts(
    matcher: Matcher, vehicles: Sequence[VehicleView], scores: NDArray[np.float64], paths: Sequence[Path]
) -> list[FalseAlert]:
    """Every false alert at the entries' thresholds, highest score first.

    Args:
        matcher: the watchlist (entries and thresholds).
        vehicles: the evaluated vehicles.
        scores: ``(vehicles, entries)``.
        paths: each crop's image file (indexed by the vehicles' crop indices).
    """
    rows = [v.row for v in vehicles]
    found: list[FalseAlert] = []
    for column, entry in enumerate(matcher.entries):
        truth, known, _ = entry_truth(entry, rows)
        if truth is None:
            continue
        threshold = matcher.threshold(entry)
        for i in np.flatnonzero((scores[:, column] >= threshold) & (scores[:, column] > 0) & known & ~truth):
            v = vehicles[int(i)]
            found.append(
                FalseAlert(
                    v.vehicle,
                    v.fold,
                    entry.id,
                    round(float(scores[i, column]), 3),
                    threshold,
                    _labels(v.row),
                    _seen(v),
                    v.views,
                    str(paths[v.best_crop]),
                )
            )
    found.sort(key=lambda a: (-a.score, a.vehicle, a.entry))
    return found


def write_false_alerts(alerts: Sequence[FalseAlert], csv_path: Path, json_path: Path) -> None:
    """The list as CSV and as JSON."""
    fields = list(FalseAlert.__dataclass_fields__)
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(asdict(a) for a in alerts)
    json_path.write_text(json.dumps([asdict(a) for a in alerts], indent=2) + "\n", encoding="utf-8")


def contact_sheet(alerts: Sequence[FalseAlert], path: Path, *, limit: int = 60, title: str = "") -> Path | None:
    """A PNG grid of the false alerts' best views with their captions; None when there is none."""
    from matplotlib.figure import Figure  # the tools extra

    shown = list(alerts[:limit])
    if not shown:
        return None
    rows = (len(shown) + SHEET_COLUMNS - 1) // SHEET_COLUMNS
    fig = Figure(figsize=(2.6 * SHEET_COLUMNS, 3.4 * rows + 0.6))
    axes = np.atleast_1d(fig.subplots(rows, SHEET_COLUMNS)).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, alert in zip(axes, shown, strict=False):
        image = _thumbnail(Path(alert.image))
        if image is not None:
            ax.imshow(image)
        seen = "\n".join(part[:34] for part in alert.seen.split(", "))
        caption = f"{alert.vehicle} → {alert.entry} {alert.score:.2f}\nis: {alert.labels[:40]}\nseen:\n{seen}"
        ax.set_title(caption, fontsize=6.5, loc="left")
    more = f" (first {limit} of {len(alerts)})" if len(alerts) > limit else ""
    fig.suptitle(title or f"false alerts{more}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def _thumbnail(path: Path) -> ImageArray | None:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        return None
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), np.uint8)
