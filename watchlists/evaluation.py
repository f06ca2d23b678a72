"""How well a watchlist's alerts would be right: matching evaluated on a labelled image set.

Each image of the set (a ``labels.csv`` with ``make``, ``model``, ``year``, ``body_type`` and/or ``color`` columns,
e.g. ``shared/datasets/stanford_cars_dev``) is classified once by the loaded classifiers, as the service classifies
a crop (make and make+model heads reconciled as for a tracked vehicle), and matched against every entry.

* Truth: an image *is* an entry's vehicle when its labels satisfy every certain field of the entry (make and body
  type through the alias tables, the model as the matcher reads it — "Silverado 1500" is a "Silverado" —, the year
  in the range, the colour's base). An image labelled ``unknown``/``unsure`` for one of those fields is left out of
  that entry's figures. An entry whose certain fields the set has no column for (a plate, a colour on a set without
  colours) is reported as not evaluable.
* Alert: the entry's score reaches its threshold (its own, or the watchlist default).
* Per entry: precision (alerts that were right), recall (vehicles that raised an alert), and the counts; overall:
  the same over all (image, entry) pairs (micro average), and the mean of the per-entry figures (macro).
* The curve: overall precision and recall with one threshold for every entry, from 0.05 to 0.95.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from classifiers.fusion import reconcile_make
from classifiers.types import Classification
from watchlists.aliases import body_type_key, color_key, compact, make_key, normalize
from watchlists.entry_model import WatchlistEntry
from watchlists.make_model_labels import in_range, model_matches
from watchlists.matching import Matcher

CURVE_THRESHOLDS: tuple[float, ...] = tuple(round(0.05 * k, 2) for k in range(1, 20))
FIELD_COLUMNS: dict[str, str] = {
    "make": "make",
    "model": "model",
    "year": "year",
    "body_type": "body_type",
    "color": "color",
}
"""Entry field → the dataset column that gives its truth."""


@dataclass(frozen=True, slots=True)
class Counts:
    """Alerts and vehicles of one entry (or all): true positives, false positives, false negatives."""

    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float | None:
        """Right alerts / alerts; None without alerts."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        """Vehicles alerted / vehicles; None without vehicles."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None


@dataclass(frozen=True)
class EntryResult:
    """One entry's figures at its configured threshold."""

    entry_id: str
    description: str
    threshold: float
    evaluable: bool
    reason: str = ""
    vehicles: int = 0
    """Images that are the entry's vehicle."""
    alerts: int = 0
    counts: Counts = field(default_factory=lambda: Counts(0, 0, 0))


@dataclass(frozen=True)
class CurvePoint:
    """Overall figures with one threshold for every entry."""

    threshold: float
    precision: float | None
    recall: float | None
    alerts: int


@dataclass(frozen=True)
class MatchingReport:
    """The result of :func:`evaluate_matching`."""

    dataset: str
    images: int
    heads: tuple[str, ...]
    entries: tuple[EntryResult, ...]
    overall: Counts
    macro_precision: float | None
    macro_recall: float | None
    curve: tuple[CurvePoint, ...]
    seconds: float = 0.0
    plot: str | None = None
    unit: str = "images"
    """What a row is: an image (crop), or a vehicle (its crops fused)."""

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["overall"] = _counts_dict(self.overall)
        data["entries"] = [
            {**{k: v for k, v in asdict(e).items() if k != "counts"}, **_counts_dict(e.counts)} for e in self.entries
        ]
        return data

    def text(self) -> str:
        """The figures as a table for the terminal."""
        lines = [
            f"dataset {self.dataset}: {self.images} {self.unit}, heads {', '.join(self.heads)}",
            f"{'entry':28} {'thr':>5} {'vehicles':>8} {'alerts':>7} {'TP':>5} {'FP':>5} {'FN':>5} {'precision':>9} "
            f"{'recall':>7}",
        ]
        for e in self.entries:
            if not e.evaluable:
                lines.append(f"{e.entry_id[:28]:28} not evaluable: {e.reason}")
                continue
            c = e.counts
            lines.append(
                f"{e.entry_id[:28]:28} {e.threshold:5.2f} {e.vehicles:8d} {e.alerts:7d} {c.tp:5d} {c.fp:5d} {c.fn:5d} "
                f"{_pct(c.precision):>9} {_pct(c.recall):>7}"
            )
        o = self.overall
        lines.append(
            f"{'overall (micro)':28} {'':5} {o.tp + o.fn:8d} {o.tp + o.fp:7d} {o.tp:5d} {o.fp:5d} {o.fn:5d} "
            f"{_pct(o.precision):>9} {_pct(o.recall):>7}"
        )
        lines.append(
            f"{'mean of entries (macro)':28} {'':5} {'':8} {'':7} {'':5} {'':5} {'':5} {_pct(self.macro_precision):>9} "
            f"{_pct(self.macro_recall):>7}"
        )
        lines.append(
            "one threshold for all entries: "
            + ", ".join(
                f"{p.threshold:.2f}: P {_pct(p.precision)} R {_pct(p.recall)}"
                for p in self.curve
                if p.threshold in (0.3, 0.5, 0.7)
            )
        )
        return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _counts_dict(counts: Counts) -> dict[str, Any]:
    return {"tp": counts.tp, "fp": counts.fp, "fn": counts.fn, "precision": counts.precision, "recall": counts.recall}


def _field_truth(entry: WatchlistEntry, name: str, value: str) -> bool:
    if not value.strip():
        return False
    if name == "make":
        return make_key(value) == make_key(entry.make or "")
    if name == "model":
        return model_matches(compact(entry.model or ""), tuple(normalize(value).split()))
    if name == "year":
        first, last = entry.year_range or (None, None)
        return value.strip().isdigit() and in_range(int(value), first, last)
    if name == "body_type":
        return body_type_key(value) == body_type_key(entry.body_type or "")
    return color_key(value) == color_key(entry.color or "")


UNKNOWN_VALUES: frozenset[str] = frozenset({"", "unknown", "unsure", "unk", "n/a", "na", "?"})
"""Label values that say the labeller could not tell: such a row is left out of that entry's figures."""


def entry_truth(
    entry: WatchlistEntry, rows: Sequence[Mapping[str, str]]
) -> tuple[NDArray[np.bool_] | None, NDArray[np.bool_], str]:
    """Which rows are the entry's vehicle (all certain fields hold), which rows can tell (no field labelled
    unknown), or None and why the set cannot tell at all."""
    columns = set(rows[0]) if rows else set()
    known = np.ones(len(rows), dtype=np.bool_)
    missing = [name for name in entry.certain_fields() if FIELD_COLUMNS.get(name) not in columns]
    if missing:
        return None, known, f"the set has no labels for {', '.join(missing)}"
    truth = np.ones(len(rows), dtype=np.bool_)
    for name in entry.certain_fields():
        column = FIELD_COLUMNS[name]
        values = [row.get(column, "") for row in rows]
        known &= np.array([value.strip().lower() not in UNKNOWN_VALUES for value in values], dtype=np.bool_)
        truth &= np.array([_field_truth(entry, name, value) for value in values], dtype=np.bool_)
    return truth, known, ""


def _counts(alerts: NDArray[np.bool_], truth: NDArray[np.bool_]) -> Counts:
    return Counts(int((alerts & truth).sum()), int((alerts & ~truth).sum()), int((~alerts & truth).sum()))


def evaluate_matching(
    matcher: Matcher,
    classifications: Sequence[Classification],
    rows: Sequence[Mapping[str, str]],
    dataset: str = "",
    thresholds: Sequence[float] = CURVE_THRESHOLDS,
) -> MatchingReport:
    """Scores every classification against every entry and compares the alerts with the labels.

    Args:
        matcher: the watchlist (entry thresholds and the default as configured).
        classifications: one per image, as the service would match it.
        rows: the labels of each image (CSV columns).
        dataset: shown in the report.
        thresholds: the global thresholds of the curve.
    """
    if len(classifications) != len(rows):
        raise ValueError(f"{len(classifications)} classifications for {len(rows)} labelled rows")
    heads = tuple(sorted(classifications[0].heads)) if classifications else ()
    return evaluate_scores(matcher, score_matrix(matcher, classifications), rows, dataset, thresholds, heads=heads)


def score_matrix(matcher: Matcher, classifications: Sequence[Classification | None]) -> NDArray[np.float64]:
    """``(rows, entries)`` scores; a row without a classification (nothing classified) scores 0 everywhere."""
    # Expiry plays no part in an offline evaluation: every entry is scored.
    scores = np.zeros((len(classifications), len(matcher.entries)), np.float64)
    for i, classification in enumerate(classifications):
        if classification is not None:
            scores[i] = matcher.scores(classification, now=float("-inf"))
    return scores


def evaluate_scores(
    matcher: Matcher,
    scores: NDArray[np.float64],
    rows: Sequence[Mapping[str, str]],
    dataset: str = "",
    thresholds: Sequence[float] = CURVE_THRESHOLDS,
    *,
    heads: tuple[str, ...] = (),
    unit: str = "images",
) -> MatchingReport:
    """The figures of :func:`evaluate_matching` from scores already computed (``(rows, entries)``, e.g. each
    cross-validation fold matched with what it fitted); ``matcher`` gives the entries and their thresholds."""
    entries = matcher.entries
    if scores.shape != (len(rows), len(entries)):
        raise ValueError(f"scores must be ({len(rows)}, {len(entries)}), got {scores.shape}")
    results: list[EntryResult] = []
    evaluable: list[int] = []
    truths: list[NDArray[np.bool_]] = []
    knowns: list[NDArray[np.bool_]] = []
    for index, entry in enumerate(entries):
        result, truth, known = _entry_result(entry, matcher.threshold(entry), scores[:, index], rows)
        results.append(result)
        if truth is not None:
            evaluable.append(index)
            truths.append(truth)
            knowns.append(known)
    judged = [r for r in results if r.evaluable]
    overall = Counts(
        sum(r.counts.tp for r in judged), sum(r.counts.fp for r in judged), sum(r.counts.fn for r in judged)
    )
    precisions = [r.counts.precision for r in judged if r.counts.precision is not None]
    recalls = [r.counts.recall for r in judged if r.counts.recall is not None]
    curve = _curve(scores[:, evaluable], truths, knowns, thresholds) if evaluable else ()
    return MatchingReport(
        dataset=dataset,
        images=len(rows),
        heads=heads,
        entries=tuple(results),
        overall=overall,
        macro_precision=float(np.mean(precisions)) if precisions else None,
        macro_recall=float(np.mean(recalls)) if recalls else None,
        curve=curve,
        unit=unit,
    )


def _entry_result(
    entry: WatchlistEntry, threshold: float, scores: NDArray[np.float64], rows: Sequence[Mapping[str, str]]
) -> tuple[EntryResult, NDArray[np.bool_] | None, NDArray[np.bool_]]:
    """One entry's figures at its threshold, with which rows it truly describes (None when the labels cannot
    judge it) and which rows can tell."""
    truth, known, reason = entry_truth(entry, rows)
    if truth is None:
        return EntryResult(entry.id, entry.description, threshold, False, reason), None, known
    # Rows whose labels cannot tell neither count for nor against the entry.
    alerts = (scores >= threshold) & (scores > 0) & known
    truth &= known
    counts = _counts(alerts, truth)
    result = EntryResult(entry.id, entry.description, threshold, True, "", int(truth.sum()), int(alerts.sum()), counts)
    return result, truth, known


def _curve(
    scores: NDArray[np.float64],
    truths: Sequence[NDArray[np.bool_]],
    knowns: Sequence[NDArray[np.bool_]],
    thresholds: Sequence[float],
) -> tuple[CurvePoint, ...]:
    """Overall precision and recall over the evaluable entries (columns of ``scores``) at each global threshold."""
    truth_matrix = np.stack(truths, axis=1)
    sub = np.where(np.stack(knowns, axis=1), scores, 0.0)
    curve: list[CurvePoint] = []
    for threshold in thresholds:
        counts = _counts((sub >= threshold) & (sub > 0), truth_matrix)
        curve.append(CurvePoint(float(threshold), counts.precision, counts.recall, counts.tp + counts.fp))
    return tuple(curve)


def plot_report(report: MatchingReport, path: Path, default_threshold: float) -> Path:
    """A PNG: overall precision and recall against one threshold for all entries (left), and each entry's
    precision/recall at its configured threshold (right)."""
    from matplotlib.figure import Figure  # the tools extra; only the evaluation needs it

    fig = Figure(figsize=(12, 5))
    left, right = fig.subplots(1, 2)
    xs = [p.threshold for p in report.curve]
    left.plot(xs, [np.nan if p.precision is None else p.precision for p in report.curve], "o-", label="precision")
    left.plot(xs, [np.nan if p.recall is None else p.recall for p in report.curve], "s-", label="recall")
    left.axvline(default_threshold, color="grey", linestyle="--", label=f"default threshold {default_threshold:g}")
    left.set_xlabel("threshold (same for every entry)")
    left.set_ylabel("overall (micro) precision / recall")
    left.set_ylim(0, 1.02)
    left.set_xlim(0, 1)
    left.grid(alpha=0.3)
    left.legend(loc="lower left")
    left.set_title(f"{report.images} {report.unit}, {sum(e.evaluable for e in report.entries)} entries")
    judged = [e for e in report.entries if e.evaluable and e.counts.recall is not None]
    ps = [e.counts.precision if e.counts.precision is not None else 0.0 for e in judged]
    rs = [e.counts.recall or 0.0 for e in judged]
    right.scatter(rs, ps, s=30)
    for e, r, p in zip(judged, rs, ps, strict=True):
        right.annotate(e.entry_id, (r, p), fontsize=6, xytext=(3, 3), textcoords="offset points")
    right.set_xlabel("recall")
    right.set_ylabel("precision (0 when it never alerted)")
    right.set_xlim(-0.02, 1.05)
    right.set_ylim(-0.02, 1.05)
    right.grid(alpha=0.3)
    right.set_title("each entry at its configured threshold")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def classify_images(
    classify: Callable[[Sequence[NDArray[np.uint8]]], list[Classification]],
    paths: Sequence[Path],
    read: Callable[[Path], NDArray[np.uint8]],
    *,
    batch_size: int = 32,
    progress: Callable[[int], None] | None = None,
) -> list[Classification]:
    """Classifies image files in batches (whole image = one crop), with make and make+model reconciled."""
    out: list[Classification] = []
    for start in range(0, len(paths), batch_size):
        images = [read(p) for p in paths[start : start + batch_size]]
        out.extend(reconcile_make(c) for c in classify(images))
        if progress is not None:
            progress(len(images))
    return out


def write_report(report: MatchingReport, path: Path) -> None:
    """The report as JSON."""
    path.write_text(json.dumps(report.as_dict(), indent=2) + "\n")


def timed(report: MatchingReport, started: float) -> MatchingReport:
    """The report with the seconds since ``started`` (``time.perf_counter()``)."""
    return replace(report, seconds=round(time.perf_counter() - started, 1))
