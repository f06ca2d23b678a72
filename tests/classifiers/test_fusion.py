"""Temporal fusion of a track's classifications, and make / make+model reconciliation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from classifiers.fusion import FusionError, TrackFusion, fuse, make_of, reconcile_make, top_labels
from classifiers.settings import FusionSettings
from classifiers.types import Classification, HeadScores

COLORS = ("red", "blue", "white", "black")


def view(*probs: float, head: str = "color", labels: Sequence[str] = COLORS) -> Classification:
    p = np.array(probs, np.float32)
    return Classification({head: HeadScores(head, tuple(labels), p / p.sum())})


RED = view(0.8, 0.1, 0.05, 0.05)
RED_WEAK = view(0.55, 0.25, 0.1, 0.1)
BLUE_OUTLIER = view(0.02, 0.9, 0.04, 0.04)
RED_ZERO = view(0.0, 0.9, 0.05, 0.05)


def red_prob(classification: Classification) -> float:
    return float(classification.heads["color"].probs[0])


@pytest.mark.parametrize(
    ("views", "top", "min_conf", "max_conf"),
    [
        pytest.param([(RED, 1.0)], "red", 0.8, 0.8, id="one view is itself"),
        pytest.param([(RED, 1.0)] * 2, "red", 0.9, 0.95, id="two agreeing views raise confidence"),
        pytest.param([(RED, 1.0)] * 4, "red", 0.97, 1.0, id="four agreeing views raise it more"),
        pytest.param([(RED_WEAK, 1.0)] * 4, "red", 0.75, 0.95, id="weak but agreeing views become confident"),
        pytest.param([(RED, 1.0)] * 4 + [(BLUE_OUTLIER, 1.0)], "red", 0.8, 1.0, id="one outlier does not flip"),
        pytest.param([(BLUE_OUTLIER, 1.0)] + [(RED, 1.0)] * 4, "red", 0.8, 1.0, id="order does not matter"),
        pytest.param([(RED, 1.0)] * 3 + [(RED_ZERO, 1.0)], "red", 0.5, 1.0, id="a zero probability is no veto"),
        pytest.param([(RED_WEAK, 0.1), (BLUE_OUTLIER, 1.0)], "blue", 0.5, 1.0, id="the sharper view outweighs"),
        pytest.param([(RED_WEAK, 1.0), (BLUE_OUTLIER, 0.05)], "red", 0.5, 1.0, id="a poor view counts little"),
    ],
)
def test_fusion_table(views: list[tuple[Classification, float]], top: str, min_conf: float, max_conf: float) -> None:
    fused = fuse(views)
    assert top_labels(fused) == {"color": top}
    confidence = float(fused.heads["color"].probs.max())
    assert min_conf - 1e-6 <= confidence <= max_conf + 1e-6
    assert float(fused.heads["color"].probs.sum()) == pytest.approx(1.0, abs=1e-5)


def test_confidence_rises_with_each_agreeing_view() -> None:
    fusion = TrackFusion(FusionSettings())
    confidences = []
    for _ in range(6):
        fusion.add(RED_WEAK, 1.0)
        confidences.append(fusion.confidence()["color"])
    assert confidences == sorted(confidences)
    assert confidences[0] == pytest.approx(0.55, abs=1e-5)
    assert confidences[-1] > 0.8


def test_geometric_mean_without_agreement_gain_keeps_confidence() -> None:
    fused = fuse([(RED, 1.0)] * 5, FusionSettings(agreement_exponent=0.0))
    assert red_prob(fused) == pytest.approx(0.8, abs=1e-5)


def test_label_changes_count_flicker() -> None:
    fusion = TrackFusion(FusionSettings())
    fusion.add(RED_WEAK, 1.0)
    assert fusion.label_changes == 0
    fusion.add(BLUE_OUTLIER, 1.0)  # now blue leads
    fusion.add(RED, 1.0)
    fusion.add(RED, 1.0)  # back to red
    assert top_labels(fusion.fused()) == {"color": "red"}
    assert fusion.label_changes == 2
    assert fusion.views == 4


def test_heads_fuse_independently() -> None:
    both = Classification({**RED.heads, **view(0.1, 0.9, head="make", labels=("Audi", "BMW")).heads})
    fused = fuse([(both, 1.0), (both, 1.0)])
    assert top_labels(fused) == {"color": "red", "make": "BMW"}


@pytest.mark.parametrize(
    ("views", "message"),
    [
        pytest.param([], "no views", id="no views"),
        pytest.param([(RED, 0.0)], "weight must be > 0", id="zero weight"),
        pytest.param([(RED, float("nan"))], "weight must be > 0", id="nan weight"),
        pytest.param([(RED, 1.0), (view(1, 1, labels=("red", "blue")), 1.0)], "'color': labels differ", id="labels"),
    ],
)
def test_fusion_errors(views: list[tuple[Classification, float]], message: str) -> None:
    with pytest.raises(FusionError, match=message):
        fuse(views)


# --- make / make+model ------------------------------------------------------------------------------------------

MAKES = ("Audi", "BMW", "Land Rover", "Tesla")
MAKE_KEYS = {"audi": 0, "bmw": 1, "landrover": 2, "tesla": 3}


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Audi A4 Sedan 2012", 0),
        ("BMW 3 Series 2010", 1),
        ("Land Rover Range Rover SUV 2012", 2),
        ("Land|Range Rover|2012", None),
        ("Land Rover|Defender|1995", 2),
        ("bmw|X5|", 1),
        ("Lada Niva", None),
        ("", None),
    ],
)
def test_make_of(label: str, expected: int | None) -> None:
    assert make_of(label, MAKE_KEYS) == expected


MM_LABELS = ("Audi A4 2012", "Audi Q7 2012", "BMW X5 2010", "Land Rover Range Rover 2012", "Lada Niva 1990")


def make_model(*probs: float) -> HeadScores:
    p = np.array(probs, np.float64)
    return HeadScores("make_model", MM_LABELS, (p / p.sum()).astype(np.float32))


def make(*probs: float) -> HeadScores:
    p = np.array(probs, np.float64)
    return HeadScores("make", MAKES, (p / p.sum()).astype(np.float32))


def per_make(scores: HeadScores) -> dict[str, float]:
    keys = {label.lower(): i for i, label in enumerate(("Audi", "BMW", "Land Rover", "Lada"))}
    sums: dict[str, float] = {}
    for label, p in zip(scores.labels, scores.probs, strict=True):
        name = "Land Rover" if label.startswith("Land Rover") else label.split()[0]
        if name.lower() in keys:
            sums[name] = sums.get(name, 0.0) + float(p)
    return sums


def test_make_model_alone_gives_a_make_head() -> None:
    result = reconcile_make(Classification({"make_model": make_model(0.3, 0.2, 0.1, 0.3, 0.1)}))
    derived = result.heads["make"]
    as_dict = dict(zip(derived.labels, derived.probs.tolist(), strict=True))
    assert as_dict["Audi"] == pytest.approx(0.5, abs=1e-5)
    assert as_dict["BMW"] == pytest.approx(0.1, abs=1e-5)
    assert as_dict["Lada"] == pytest.approx(0.1, abs=1e-5)
    assert result.heads["make_model"].probs == pytest.approx(make_model(0.3, 0.2, 0.1, 0.3, 0.1).probs, abs=1e-5)


def test_make_and_make_model_agree_after_reconciling() -> None:
    # The make head is torn between Audi and BMW; the make+model head is sure of an Audi model.
    result = reconcile_make(
        Classification({"make": make(0.45, 0.45, 0.05, 0.05), "make_model": make_model(0.5, 0.3, 0.1, 0.05, 0.05)})
    )
    combined = dict(zip(MAKES, result.heads["make"].probs.tolist(), strict=True))
    assert top_labels(result)["make"] == "Audi"
    assert combined["Audi"] > 0.45 > combined["BMW"]
    # Tesla is unknown to the make+model head: the make head keeps its mass on it.
    assert combined["Tesla"] == pytest.approx(0.05, abs=1e-5)
    assert sum(combined.values()) == pytest.approx(1.0, abs=1e-5)
    # Each make's models now sum to the combined make probability, scaled by the mass of the makes both know.
    mm = result.heads["make_model"]
    sums = per_make(mm)
    known = combined["Audi"] + combined["BMW"] + combined["Land Rover"]
    lada = float(mm.probs[MM_LABELS.index("Lada Niva 1990")])
    for name in ("Audi", "BMW", "Land Rover"):
        assert sums[name] == pytest.approx(combined[name] / known * (1 - lada), abs=1e-4)
    assert lada == pytest.approx(0.05, abs=1e-5)  # a model of a make the make head lacks keeps its probability
    # A make's models keep their ratio.
    assert float(mm.probs[0] / mm.probs[1]) == pytest.approx(0.5 / 0.3, rel=1e-4)
    assert float(mm.probs.sum()) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    "heads",
    [
        pytest.param({"color": RED.heads["color"]}, id="no make_model head"),
        pytest.param({"make": make(1, 1, 1, 1)}, id="make head only"),
        pytest.param(
            {"make": make(1, 1, 1, 1), "make_model": HeadScores("make_model", ("Lada Niva",), np.ones(1, np.float32))},
            id="no shared make",
        ),
    ],
)
def test_reconcile_leaves_other_classifications_alone(heads: dict[str, HeadScores]) -> None:
    classification = Classification(heads)
    assert reconcile_make(classification) is classification
