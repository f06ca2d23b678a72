"""Abstention: the rules as a table, the crop facts they read, the bank dropping abstaining heads (with each
model's own crop margin), and fusion of a track whose views lack a head."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from classifiers.bank import ClassifierBank
from classifiers.calibration.abstention import CropFacts, abstaining_heads, apply_abstention, crop_facts
from classifiers.fusion import TrackFusion
from classifiers.settings import AbstentionSettings, ClassifierModelSettings, ClassifierSettings, FusionSettings
from classifiers.types import Classification, HeadScores
from tests.synthetic_classifier import COLORS_BGR, make_color_classifier
from tests.synthetic_detector import detections_of

RULES = AbstentionSettings(make_min_box_side=88, color_min_luminance=20, color_max_luminance=200, color_max_clipped=0.5)
OK = CropFacts(box_side=120, luminance=110, clipped=0.05)


def facts(**changes: float) -> CropFacts:
    return CropFacts(**{**{"box_side": OK.box_side, "luminance": OK.luminance, "clipped": OK.clipped}, **changes})


@pytest.mark.parametrize(
    ("heads", "crop", "top", "rules", "expected"),
    [
        pytest.param(("make", "color", "type"), OK, {}, RULES, set(), id="a good crop: nobody abstains"),
        pytest.param(
            ("make", "make_model", "color"), facts(box_side=87.9), {}, RULES, {"make", "make_model"}, id="small"
        ),
        pytest.param(("make",), facts(box_side=88), {}, RULES, set(), id="at the make limit"),
        pytest.param(
            ("color", "color_shade", "make"), facts(luminance=19), {}, RULES, {"color", "color_shade"}, id="dark"
        ),
        pytest.param(("color", "make"), facts(luminance=201), {}, RULES, {"color"}, id="blown out"),
        pytest.param(("color",), facts(luminance=200), {}, RULES, set(), id="at the bright limit"),
        pytest.param(("color",), facts(clipped=0.51), {}, RULES, {"color"}, id="clipped"),
        pytest.param(("color",), facts(luminance=float("nan")), {}, RULES, set(), id="no body region: no verdict"),
        pytest.param(("color_shade",), OK, {"color_shade": 0.6}, RULES, {"color_shade"}, id="shade undecided"),
        pytest.param(("color_shade",), OK, {"color_shade": 0.8}, RULES, set(), id="shade decided"),
        pytest.param(("type",), facts(box_side=10, luminance=0, clipped=1.0), {}, RULES, set(), id="type never"),
        pytest.param(
            ("make", "color"), facts(box_side=10, luminance=0), {}, AbstentionSettings(enabled=False), set(), id="off"
        ),
        pytest.param(("make",), facts(box_side=10), {}, AbstentionSettings(make_min_box_side=0), set(), id="limit 0"),
    ],
)
def test_abstention_rules(
    heads: tuple[str, ...], crop: CropFacts, top: dict[str, float], rules: AbstentionSettings, expected: set[str]
) -> None:
    assert set(abstaining_heads(heads, crop, top, rules)) == expected


def test_reasons_name_the_measurement() -> None:
    reasons = abstaining_heads(("make", "color"), facts(box_side=50, luminance=230, clipped=0.7), {}, RULES)
    assert reasons == {"make": "box 50 px < 88 px", "color": "exposure: mean luminance 230, 70 % clipped"}


def test_crop_facts_read_the_body_region_of_the_box() -> None:
    image = np.full((100, 200, 3), 128, np.uint8)
    image[20:80, 50:150] = 0  # a black vehicle on a mid-grey road
    black = crop_facts(image, np.array([50, 20, 150, 80], np.float32))
    assert (black.box_side, black.luminance, black.clipped) == (60, 0.0, 1.0)
    road = crop_facts(image, np.array([0, 0, 40, 100], np.float32))
    assert (road.box_side, road.luminance, road.clipped) == (40, 128.0, 0.0)
    # A box partly outside the frame: its visible part.
    assert crop_facts(image, np.array([-20, 90, 30, 130], np.float32)).box_side == 10


def test_abstained_heads_are_left_out_of_the_classification() -> None:
    colour = HeadScores("color", ("red", "blue"), np.array([0.9, 0.1], np.float32))
    make = HeadScores("make", ("Audi", "BMW"), np.array([0.8, 0.2], np.float32))
    both = Classification({"color": colour, "make": make})
    small, good = apply_abstention([both, both], [facts(box_side=40), OK], RULES)
    assert list(small.heads) == ["color"]
    assert good is both


def test_the_bank_drops_make_on_small_boxes_and_colour_on_dark_ones(tmp_path: Path) -> None:
    settings = ClassifierSettings(
        models=(
            ClassifierModelSettings(model=make_color_classifier(tmp_path / "c.onnx"), providers=("cpu",)),
            ClassifierModelSettings(
                model=make_color_classifier(tmp_path / "m.onnx", task="make", labels=("Audi", "BMW", "Citroen")),
                providers=("cpu",),
            ),
        ),
        min_crop_size=8,
        abstain=RULES,
    )
    bank = ClassifierBank.from_settings(settings)
    image = np.full((300, 300, 3), 120, np.uint8)
    image[10:110, 10:110] = COLORS_BGR["red"]  # 100 px: make and colour answer
    image[150:200, 150:200] = COLORS_BGR["red"]  # 50 px: make abstains
    image[200:300, 0:100] = 5  # 100 px, nearly black: colour abstains
    boxes = detections_of((10, 10, 110, 110), (150, 150, 200, 200), (0, 200, 100, 300))
    big, small, dark = bank.classify_boxes([(image, boxes)]).frames[0]
    assert big is not None
    assert small is not None
    assert dark is not None
    assert (sorted(big.heads), sorted(small.heads), sorted(dark.heads)) == (["color", "make"], ["color"], ["make"])
    assert big.heads["make"].top(1)[0].label == "Audi"  # the red channel's label
    off = bank.with_parts(abstain=AbstentionSettings(enabled=False)).classify_boxes([(image, boxes)]).frames[0]
    assert all(c is not None and sorted(c.heads) == ["color", "make"] for c in off)


def test_each_model_gets_its_own_crop_margin(tmp_path: Path) -> None:
    """A model with crop_margin 0 sees the tight box while the bank's margin brings context to the others."""
    image = np.zeros((200, 200, 3), np.uint8)
    image[:] = COLORS_BGR["blue"]
    image[90:110, 90:110] = COLORS_BGR["red"]
    tight = make_color_classifier(tmp_path / "tight.onnx", task="tight")
    wide = make_color_classifier(tmp_path / "wide.onnx", task="wide")
    settings = ClassifierSettings(
        models=(
            ClassifierModelSettings(model=tight, providers=("cpu",), crop_margin=0.0),
            ClassifierModelSettings(model=wide, providers=("cpu",)),
        ),
        crop_margin=1.0,
        min_crop_size=8,
    )
    (found,) = (
        ClassifierBank.from_settings(settings).classify_boxes([(image, detections_of((90, 90, 110, 110)))]).frames[0]
    )
    assert found is not None
    assert (found.heads["tight"].top(1)[0].label, found.heads["wide"].top(1)[0].label) == ("red", "blue")


def test_fusion_sharpens_a_head_by_the_views_that_judged_it() -> None:
    """A head absent from a view (it abstained) is fused over the views that have it, as if those were all."""
    colour = HeadScores("color", ("red", "blue"), np.array([0.8, 0.2], np.float32))
    make = HeadScores("make", ("Audi", "BMW"), np.array([0.8, 0.2], np.float32))
    mixed = TrackFusion(FusionSettings())
    mixed.add(Classification({"color": colour, "make": make}))
    for _ in range(3):
        mixed.add(Classification({"color": colour}))  # make abstained on three small views
    alone = TrackFusion(FusionSettings())
    alone.add(Classification({"make": make}))
    fused = mixed.fused()
    assert fused.heads["make"].probs == pytest.approx(alone.fused().heads["make"].probs)
    assert fused.heads["color"].probs[0] == pytest.approx(0.941, abs=1e-3)  # four agreeing views
