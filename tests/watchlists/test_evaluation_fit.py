"""What the evaluation fits, on synthetic data with known answers: the make size limit, the measured colour table
(and the matcher using it, with the shade judged only where the shade head did not abstain), the true labels per
head, and the colour exposure limits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from classifiers.calibration.abstention import CropFacts
from classifiers.color.labels import COLOR_LABELS
from classifiers.settings import AbstentionSettings
from classifiers.types import Classification, HeadScores
from watchlists.colors import ColorTable, color_weights, confusion_row, load_color_table, save_color_table
from watchlists.entries import WatchlistEntry
from watchlists.evaluation_exposure import ExposurePoints, choose_exposure_limits
from watchlists.evaluation_fit import (
    FitData,
    FitOptions,
    HeadData,
    choose_make_limit,
    fit_color_table,
    fit_fold,
    make_size_curve,
)
from watchlists.evaluation_truth import head_truth
from watchlists.matching import Matcher


@pytest.mark.parametrize(
    ("curve", "target", "min_rows", "expected"),
    [
        pytest.param([(0, 40, 0.6), (64, 20, 0.85), (88, 12, 0.95), (96, 6, 1.0)], 0.9, 10, 88, id="reaches target"),
        pytest.param([(0, 40, 0.6), (64, 20, 0.85), (88, 8, 0.95)], 0.9, 10, 64, id="best it can with enough rows"),
        pytest.param([(0, 40, 0.95), (64, 20, 1.0)], 0.9, 10, 0, id="right everywhere: no limit"),
        pytest.param([(0, 3, 1.0)], 0.9, 10, 0, id="too little data: no limit"),
        pytest.param([], 0.9, 10, 0, id="no data"),
    ],
)
def test_make_limit_from_the_curve(
    curve: list[tuple[int, int, float]], target: float, min_rows: int, expected: int
) -> None:
    assert choose_make_limit(curve, target, min_rows) == expected


def test_make_size_curve_counts_crops_at_or_above_each_size() -> None:
    sides = np.array([50.0, 60, 90, 100, 120])
    right = np.array([False, False, True, True, False])
    curve = make_size_curve(sides, right, (0, 60, 100, 130))
    assert [(size, count) for size, count, _ in curve] == [(0, 5), (60, 4), (100, 2), (130, 0)]
    assert [accuracy for _, _, accuracy in curve] == pytest.approx([0.4, 0.5, 0.5, float("nan")], nan_ok=True)


def test_colour_table_recovers_a_known_confusion() -> None:
    """The head says "silver" for silver cars and, as often, for grey ones: P(silver | says silver) is 1/2."""
    labels = ("silver", "grey", "white")
    rng = np.random.default_rng(0)
    truth, probs = [], []
    for true, said in [(0, 0)] * 200 + [(1, 0)] * 200 + [(1, 1)] * 300 + [(2, 2)] * 300:
        row = np.full(3, 0.03) + rng.uniform(0, 0.02, 3)
        row[said] = 0.94
        probs.append(row / row.sum())
        truth.append(true)
    head = HeadData(labels, np.asarray(probs), np.asarray(truth, np.int64))
    table = fit_color_table(head, head.probs, np.ones(len(truth), np.bool_), prior=1.0)
    assert table.rows["silver"]["silver"] == pytest.approx(0.5, abs=0.05)
    assert table.rows["grey"]["silver"] == pytest.approx(0.5, abs=0.05)
    assert table.rows["grey"]["grey"] == pytest.approx(1.0, abs=0.05)
    assert table.rows["white"]["white"] == pytest.approx(1.0, abs=0.05)
    assert "white" not in table.rows["silver"] or table.rows["silver"]["white"] < 0.05


def test_the_matcher_uses_a_measured_table_and_falls_back_to_the_hand_set_one(tmp_path: Path) -> None:
    table = ColorTable(rows={"silver": {"silver": 0.6, "grey": 0.3}}, provenance={"data": "x"})
    path = save_color_table(table, tmp_path / "t.yaml")
    assert load_color_table(path) == table
    assert color_weights("silver", None, ("silver", "grey", "white"), table).tolist() == pytest.approx([0.6, 0.3, 0])
    # Colours the table has no row for keep the hand-set partial credit.
    assert color_weights("grey", None, ("grey", "silver"), table).tolist() == pytest.approx([1.0, 0.4])
    assert confusion_row("silver", None, table) == {"grey": 0.3}
    probs = np.zeros(len(COLOR_LABELS), np.float32)
    probs[COLOR_LABELS.index("silver")] = 1.0
    silver = Classification({"color": HeadScores("color", COLOR_LABELS, probs)})
    assert Matcher([WatchlistEntry(id="s", color="silver")]).scores(silver)[0] == pytest.approx(1.0)
    measured = Matcher([WatchlistEntry(id="s", color="silver")], color_table=table)
    assert measured.scores(silver)[0] == pytest.approx(0.6)
    (path.parent / "bad.yaml").write_text("rows: {silver: {silver: high}}\n")
    with pytest.raises(ValueError, match=r"colour table .*bad\.yaml: rows\.silver\.silver"):
        load_color_table(path.parent / "bad.yaml")


def _blue(dark: float | None) -> Classification:
    probs = np.zeros(len(COLOR_LABELS), np.float32)
    probs[COLOR_LABELS.index("blue")] = 0.9
    probs[COLOR_LABELS.index("black")] = 0.1
    heads = {"color": HeadScores("color", COLOR_LABELS, probs)}
    if dark is not None:
        heads["color_shade"] = HeadScores("color_shade", ("dark", "light"), np.array([dark, 1 - dark], np.float32))
    return Classification(heads)


@pytest.mark.parametrize(
    ("dark", "expected"),
    [
        pytest.param(None, 0.9 + 0.1 * 0.4, id="shade head abstained: judged on the colour alone"),
        pytest.param(0.9, (0.9 + 0.1 * 0.4) * 0.9, id="decided dark"),
        pytest.param(0.1, (0.9 + 0.1 * 0.4) * 0.1, id="decided light"),
    ],
)
def test_a_dark_entry_is_judged_on_the_shade_head_only_where_it_answered(dark: float | None, expected: float) -> None:
    matcher = Matcher([WatchlistEntry(id="navy", color="navy")])
    assert matcher.scores(_blue(dark))[0] == pytest.approx(expected, abs=1e-5)
    assert Matcher([WatchlistEntry(id="navy", color="navy")], judge_shade=False).scores(_blue(0.1))[0] == (
        pytest.approx(0.9 + 0.1 * 0.4, abs=1e-5)
    )
    if dark is not None and dark > 0.5:
        (match,) = matcher.match(_blue(dark))
        assert match.field_scores["color"] == pytest.approx(0.9 + 0.1 * 0.4, abs=1e-5)
        assert [(f.head, f.fields) for f in match.factors] == [("color", ("color",)), ("color_shade", ("color",))]


def test_a_missing_make_head_makes_a_make_entry_unmatchable_like_today() -> None:
    """Abstention removes the head: a make entry cannot match on that view, a colour entry still can."""
    matcher = Matcher([WatchlistEntry(id="bmw", make="BMW"), WatchlistEntry(id="blue", color="blue")])
    assert matcher.scores(_blue(None)).tolist() == pytest.approx([0.0, 0.9 + 0.1 * 0.3])


def test_true_labels_per_head_read_like_entries() -> None:
    rows = [
        {"make": "Merc", "color": "gray", "body_type": "SUV"},
        {"make": "unknown", "color": "unsure", "body_type": "van"},
    ]
    assert head_truth("make", ("BMW", "Mercedes-Benz"), rows).tolist() == [1, -1]
    assert head_truth("color", COLOR_LABELS, rows).tolist() == [COLOR_LABELS.index("grey"), -1]
    assert head_truth("type", ("car", "bus", "truck", "van"), rows).tolist() == [0, 3]
    assert head_truth("color_shade", ("dark", "light"), rows).tolist() == [-1, -1]


def test_exposure_limits_stop_where_colour_turns_unreliable_but_spare_real_crops() -> None:
    rng = np.random.default_rng(0)
    luminance = rng.uniform(0, 255, 4000)
    right = rng.uniform(size=4000) < np.where((luminance < 30) | (luminance > 210), 0.2, 0.8)
    clipped = np.clip((luminance - 150) / 100, 0, 1)
    # The unmodified crops (gain 1) lie between 60 and 180; the re-exposed ones anywhere.
    gain = np.where((luminance > 60) & (luminance < 180) & (rng.uniform(size=4000) < 0.3), 1.0, 2.0)
    low, high, most = choose_exposure_limits(ExposurePoints(gain, luminance, clipped, right))
    assert low == pytest.approx(30, abs=4)
    assert high == pytest.approx(210, abs=4)
    assert 0 < most <= 1
    # A real crop read right at 240 moves the bright limit up to it: the limits never cut into real crops.
    luminance[0], gain[0], right[0] = 240.0, 1.0, True
    assert choose_exposure_limits(ExposurePoints(gain, luminance, clipped, right))[1] == 240


def repeated_calls(vehicles: int = 12, views: int = 4) -> FitData:
    """Vehicles whose views all make the same call, 0.7 sure, right for 2 in 3 vehicles: views that agree say no
    more than one view, so their fused colour should stay 0.7-ish (exponent 0)."""
    labels = ("red", "blue")
    probs, truth, names = [], [], []
    for v in range(vehicles):
        right = v % 3 != 0
        probs += [[0.7, 0.3] if right else [0.3, 0.7]] * views
        truth += [0] * views
        names += [f"v{v}"] * views
    rows = len(truth)
    return FitData(
        {"color": HeadData(labels, np.asarray(probs), np.asarray(truth, np.int64))},
        [CropFacts(100.0, 120.0, 0.0)] * rows,
        tuple("ab"[v % 2] for v in range(vehicles) for _ in range(views)),
        tuple(names),
    )


def test_each_fold_fits_how_far_agreeing_views_sharpen_a_head() -> None:
    data = repeated_calls()
    rows = np.ones(len(data.folds), np.bool_)
    rules = AbstentionSettings(enabled=False)
    fitted = fit_fold(data, rows, FitOptions(rules=rules, calibrate=False, color_table=False))
    colour = fitted.calibration.heads["color"]
    assert colour.agreement_exponent == 0.0
    assert colour.measured["fusion_vehicles"] == 12
    assert colour.measured["fusion_log_loss_fitted"] < colour.measured["fusion_log_loss_configured"]
    off = fit_fold(data, rows, FitOptions(rules=rules, calibrate=False, color_table=False, fusion=False))
    assert "color" not in off.calibration.heads
