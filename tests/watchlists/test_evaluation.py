"""Matching evaluation: truth from labels, alerts at the configured thresholds, the threshold curve; the evaluation
watchlists are the parser's output; a quick run on real Stanford Cars crops when ../shared is there."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import yaml

from classifiers.bank import ClassifierBank
from classifiers.settings import ClassifierSettings
from classifiers.training.dataset import load_labelled
from classifiers.training.embed import read_image
from classifiers.types import Classification, HeadScores
from tests.conftest import shared_path
from watchlists.entries import WatchlistEntry, load_watchlist
from watchlists.evaluation import classify_images, entry_truth, evaluate_matching, plot_report
from watchlists.matching import Matcher
from watchlists.parser import parse_description

DATA = Path(__file__).resolve().parent / "data"
MAKE_MODEL = ("Chevrolet Silverado 1500 Crew Cab 2012", "Chevrolet Express Van 2007", "Toyota Camry Sedan 2012")


def crop(probs: tuple[float, float, float]) -> Classification:
    return Classification({"make_model": HeadScores("make_model", MAKE_MODEL, np.array(probs, np.float32))})


ROWS = [
    {"make": "Chevrolet", "model": "Silverado 1500 Crew Cab", "year": "2012", "body_type": "Crew Cab"},
    {"make": "Chevrolet", "model": "Express Van", "year": "2007", "body_type": "Van"},
    {"make": "Toyota", "model": "Camry Sedan", "year": "2012", "body_type": "Sedan"},
    {"make": "Chevrolet", "model": "Silverado 1500 Crew Cab", "year": "2012", "body_type": "Crew Cab"},
]
CROPS = [crop((0.9, 0.05, 0.05)), crop((0.6, 0.3, 0.1)), crop((0.1, 0.1, 0.8)), crop((0.3, 0.3, 0.4))]


def test_truth_follows_the_matchers_reading_of_names() -> None:
    entry = WatchlistEntry(id="e", make="Chevy", model="Silverado", body_type="pickup", year_min=2010)
    truth, known, reason = entry_truth(entry, ROWS)
    assert (truth.tolist() if truth is not None else None, known.tolist(), reason) == (
        [True, False, False, True],
        [True] * 4,
        "",
    )
    unsure = [{"color": "white"}, {"color": "unsure"}, {"color": "silver"}]
    truth, known, _ = entry_truth(WatchlistEntry(id="w", color="white"), unsure)
    assert (truth.tolist() if truth is not None else None, known.tolist()) == (
        [True, False, False],
        [True, False, True],
    )
    none, _, reason = entry_truth(WatchlistEntry(id="p", color="red", plate="7XK"), unsure)
    assert (none, reason) == (None, "the set has no labels for plate")


def test_counts_at_configured_thresholds_and_the_curve(tmp_path: Path) -> None:
    entries = [
        WatchlistEntry(id="chevy", make="Chevrolet"),  # rows 0, 1, 3
        WatchlistEntry(id="pickup", body_type="pickup", threshold=0.8),  # rows 0, 3
        WatchlistEntry(id="red", color="red"),  # no colour labels
    ]
    report = evaluate_matching(Matcher(entries), CROPS, ROWS, "rows")
    chevy, pickup, red = report.entries
    # chevy scores 0.95, 0.9, 0.2, 0.6: alerts on rows 0, 1, 3, all right; pickup 0.9, 0.6, 0.1, 0.3 at 0.8: row 0
    assert (chevy.vehicles, chevy.alerts, chevy.counts.tp, chevy.counts.fp, chevy.counts.fn) == (3, 3, 3, 0, 0)
    assert (pickup.vehicles, pickup.alerts, pickup.counts.tp, pickup.counts.fn, pickup.threshold) == (2, 1, 1, 1, 0.8)
    assert (red.evaluable, red.reason) == (False, "the set has no labels for color")
    assert (report.overall.tp, report.overall.fp, report.overall.fn) == (4, 0, 1)
    assert report.overall.precision == 1.0
    assert report.overall.recall == pytest.approx(0.8)
    assert report.macro_recall == pytest.approx((1.0 + 0.5) / 2)
    at = {point.threshold: point for point in report.curve}
    # one threshold for all: at 0.5 pickup also alerts on the van (0.6); at 0.7 neither misfires, two are missed
    assert [at[0.5].precision, at[0.5].recall] == pytest.approx([0.8, 0.8])
    assert [at[0.7].precision, at[0.7].recall] == pytest.approx([1.0, 3 / 5])
    assert "overall (micro)" in report.text()
    assert report.as_dict()["entries"][0]["precision"] == 1.0
    assert plot_report(report, tmp_path / "p.png", 0.5).stat().st_size > 10_000


@pytest.mark.parametrize(
    "name", ["stanford_eval_watchlist.yaml", "traffic_colors_watchlist.yaml", "traffic_types_watchlist.yaml"]
)
def test_evaluation_watchlists_are_the_parsers_output(name: str) -> None:
    for entry in load_watchlist(DATA / name):
        parsed = parse_description(entry.description, today=datetime(2026, 11, 21, tzinfo=UTC))
        assert parsed.to_entry(entry.id) == entry, entry.id
    assert yaml.safe_load((DATA / name).read_text())["version"] == 2


def test_real_stanford_cars_crops() -> None:
    """A quick look (first 60 crops) with the make classifier: make entries alert, and mostly rightly."""
    data = load_labelled(shared_path("datasets/stanford_cars_dev"))
    model = shared_path("models/spectrico_make_mobilenetv3_224.onnx")
    items = data.items[:60]  # AM General, Acura, Aston Martin, Audi ...
    bank = ClassifierBank.from_settings(ClassifierSettings(models=({"model": str(model), "providers": ("cpu",)},)))
    classifications = classify_images(bank.classify_images, [i.path for i in items], read_image)
    entries = [
        WatchlistEntry(id=f"e{i}", make=make) for i, make in enumerate(("Acura", "Aston Martin", "Audi", "Toyota"))
    ]
    report = evaluate_matching(Matcher(entries), classifications, [i.row for i in items])
    assert report.overall.tp + report.overall.fn >= 20
    assert report.overall.precision is not None
    assert report.overall.precision >= 0.8
    assert report.overall.recall is not None
    assert report.overall.recall >= 0.6
