"""Matching entries against hand-made classifications: probability mass per field, product over heads."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest

from classifiers.types import Classification, HeadScores
from watchlists.colors import color_weights
from watchlists.entries import WatchlistEntry
from watchlists.matching import Matcher, parse_make_model_label
from watchlists.plates import PlateRead

MAKE_MODEL_LABELS = {
    "Honda Civic Sedan 2010": 0.15,
    "Honda Civic Sedan 2014": 0.20,
    "Honda Accord Sedan 2014": 0.10,
    "Honda|CR-V|2014": 0.05,
    "Toyota Camry Sedan 2012": 0.35,
    "BMW 3 Series Sedan 2012": 0.05,
    "Audi S4 Sedan 2012": 0.05,
    "Land Rover Range Rover SUV 2012": 0.05,
}


def classification(**heads: Mapping[str, float]) -> Classification:
    """``color={"red": 0.7, "blue": 0.3}`` → a Classification with that head."""
    return Classification(
        {
            name: HeadScores(name, tuple(probs), np.array(list(probs.values()), dtype=np.float32))
            for name, probs in heads.items()
        }
    )


def entry(**fields: object) -> WatchlistEntry:
    return WatchlistEntry.model_validate({"id": "e", **fields})


def score(watch: WatchlistEntry, crop: Classification, threshold: float = 0.01) -> float | None:
    matches = Matcher([watch], default_threshold=threshold).match(crop)
    return matches[0].score if matches else None


@pytest.mark.parametrize(
    ("fields", "heads", "expected"),
    [
        # make head: the mass of the make, aliases on both sides
        ({"make": "Honda"}, {"make": {"Honda": 0.6, "Acura": 0.3, "Toyota": 0.1}}, 0.6),
        ({"make": "honda"}, {"make": {"Honda": 0.6, "Acura": 0.4}}, 0.6),
        ({"make": "Merc"}, {"make": {"Mercedes-Benz": 0.7, "BMW": 0.3}}, 0.7),
        ({"make": "Mercedes-Benz"}, {"make": {"Mercedes": 0.7, "BMW": 0.3}}, 0.7),
        ({"make": "VW"}, {"make": {"Volkswagen": 0.55, "Skoda": 0.45}}, 0.55),
        ({"make": "Landrover"}, {"make": {"Land Rover": 0.8, "Jeep": 0.2}}, 0.8),
        # make from a make+model head: the sum over the make's models (top-1 here is a Toyota)
        ({"make": "Honda"}, {"make_model": MAKE_MODEL_LABELS}, 0.50),
        ({"make": "Land Rover"}, {"make_model": MAKE_MODEL_LABELS}, 0.05),
        # model: labels whose model is the entry's model or begins with it; year ranges sum over years
        ({"model": "Civic"}, {"make_model": MAKE_MODEL_LABELS}, 0.35),
        ({"make": "Honda", "model": "Civic"}, {"make_model": MAKE_MODEL_LABELS}, 0.35),
        ({"make": "Honda", "model": "Civic", "year_min": 2012}, {"make_model": MAKE_MODEL_LABELS}, 0.20),
        ({"make": "Honda", "year": 2014}, {"make_model": MAKE_MODEL_LABELS}, 0.35),
        ({"make": "Honda", "year_max": 2012}, {"make_model": MAKE_MODEL_LABELS}, 0.15),
        ({"make": "Honda", "model": "CRV"}, {"make_model": MAKE_MODEL_LABELS}, 0.05),
        ({"model": "CR-V"}, {"make_model": MAKE_MODEL_LABELS}, 0.05),
        ({"make": "BMW", "model": "3 Series"}, {"make_model": MAKE_MODEL_LABELS}, 0.05),
        ({"model": "Range Rover"}, {"make_model": MAKE_MODEL_LABELS}, 0.05),
        # colour: the mass of the colour, not just whether it is the top-1 (silver is), plus the partial credit of
        # the colours cameras confuse with it (grey: silver 0.4, white 0.3; see watchlists.colors)
        ({"color": "red"}, {"color": {"blue": 0.40, "red": 0.35, "green": 0.25}}, 0.35),
        ({"color": "grey"}, {"color": {"silver": 0.40, "grey": 0.35, "white": 0.25}}, 0.35 + 0.4 * 0.40 + 0.3 * 0.25),
        ({"color": "grey"}, {"color": {"gray": 0.35, "white": 0.65}}, 0.35 + 0.3 * 0.65),
        # body type, with the coarse fallback of the car/bus/truck/van head
        ({"body_type": "van"}, {"type": {"car": 0.2, "bus": 0.1, "truck": 0.1, "van": 0.6}}, 0.6),
        ({"body_type": "sedan"}, {"type": {"car": 0.7, "bus": 0.1, "truck": 0.1, "van": 0.1}}, 0.7),
        ({"body_type": "pickup"}, {"type": {"car": 0.7, "bus": 0.1, "truck": 0.1, "van": 0.1}}, 0.7),
        ({"body_type": "minivan"}, {"type": {"car": 0.7, "bus": 0.1, "truck": 0.1, "van": 0.1}}, 0.1),
        ({"body_type": "suv"}, {"body_type": {"suv": 0.6, "car": 0.4}}, 0.6),  # a finer head: no fallback
        # independent heads multiply
        (
            {"make": "Honda", "color": "red"},
            {"make": {"Honda": 0.8, "Ford": 0.2}, "color": {"red": 0.5, "blue": 0.5}},
            0.4,
        ),
        (
            {"make": "Honda", "color": "red", "body_type": "sedan"},
            {"make": {"Honda": 0.8, "Ford": 0.2}, "color": {"red": 0.5, "blue": 0.5}, "type": {"car": 0.5, "bus": 0.5}},
            0.2,
        ),
        # with a make head loaded too, make+model is judged jointly on the make+model head (not counted twice)
        (
            {"make": "Honda", "model": "Civic"},
            {"make": {"Honda": 0.5, "Toyota": 0.5}, "make_model": MAKE_MODEL_LABELS},
            0.35,
        ),
        # ... and make alone on the dedicated make head
        ({"make": "Honda"}, {"make": {"Honda": 0.9, "Toyota": 0.1}, "make_model": MAKE_MODEL_LABELS}, 0.9),
    ],
)
def test_scores(fields: dict[str, object], heads: dict[str, Mapping[str, float]], expected: float) -> None:
    assert score(entry(**fields), classification(**heads)) == pytest.approx(expected, abs=1e-6)


def test_model_matches_whole_words_only() -> None:
    crop = classification(make_model=MAKE_MODEL_LABELS)
    assert score(entry(model="S"), crop) is None  # "S" is not "S4"
    assert score(entry(model="S4"), crop) == pytest.approx(0.05)
    assert score(entry(model="Civ"), crop) is None


def test_field_scores_and_threshold() -> None:
    crop = classification(make={"Honda": 0.8, "Ford": 0.2}, color={"red": 0.5, "blue": 0.5})
    watch = entry(make="Honda", color="red")
    assert Matcher([watch], default_threshold=0.5).match(crop) == []  # 0.8 x 0.5 = 0.4
    [match] = Matcher([watch], default_threshold=0.4).match(crop)  # the threshold itself is enough
    assert match.score == pytest.approx(0.4)
    assert match.field_scores == pytest.approx({"make": 0.8, "color": 0.5})
    assert match.entry is watch
    [match] = Matcher([entry(make="Honda", color="red", threshold=0.35)], default_threshold=0.9).match(crop)
    assert match.score == pytest.approx(0.4)


def test_joint_field_scores_are_marginals() -> None:
    crop = classification(make_model=MAKE_MODEL_LABELS)
    [match] = Matcher([entry(make="Honda", model="Civic", year_min=2012)], default_threshold=0.1).match(crop)
    assert match.score == pytest.approx(0.20)
    assert match.field_scores == pytest.approx({"make": 0.50, "model": 0.35, "year": 0.85})


def test_matches_sorted_by_score_and_only_above_threshold() -> None:
    entries = [
        WatchlistEntry(id="blue", color="blue"),
        WatchlistEntry(id="red", color="red"),
        WatchlistEntry(id="redish", color="red", threshold=0.2),
        WatchlistEntry(id="honda", make="Honda"),  # no make head: never matches, never breaks the others
    ]
    crop = classification(color={"red": 0.3, "blue": 0.6, "white": 0.1})
    assert [(m.entry.id, round(m.score, 3)) for m in Matcher(entries, 0.25).match(crop)] == [
        ("blue", 0.6),
        ("red", 0.3),
        ("redish", 0.3),
    ]
    assert [m.entry.id for m in Matcher(entries, 0.5).match(crop)] == ["blue", "redish"]  # its own threshold


@pytest.mark.parametrize(
    ("fields", "heads", "reported"),
    [
        ({"color": "red"}, {"make": ["Honda"]}, ("color", "needs a 'color' classifier head, none is loaded")),
        ({"make": "Honda"}, {"color": ["red"]}, ("make", "needs a 'make' or 'make_model' classifier head")),
        ({"model": "Civic"}, {"make": ["Honda"]}, ("model", "needs a 'make_model' classifier head")),
        ({"make": "Honda", "year": 2012}, {"make": ["Honda"]}, ("year", "needs a 'make_model' classifier head")),
        ({"make": "Foobar"}, {"make": ["Honda", "BMW"]}, ("make", "make 'Foobar': no label of head 'make' matches")),
        ({"color": "silver"}, {"color": ["white", "gray"]}, ("color", "color 'silver': no label of head 'color'")),
        ({"body_type": "tractor"}, {"type": ["car", "van"]}, ("body_type", "body_type 'tractor': no label")),
        ({"year": 2012}, {"make_model": ["Honda Civic", "Honda Accord"]}, ("year", "its labels carry no model years")),
        ({"year": 1990}, {"make_model": list(MAKE_MODEL_LABELS)}, ("year", "year 1990: no label of head 'make_model'")),
        (
            {"year_min": 2030},
            {"make_model": list(MAKE_MODEL_LABELS)},
            ("year", "years 2030–…: no label of head 'make_model'"),
        ),
        (
            {"make": "Honda", "model": "Camry"},
            {"make_model": list(MAKE_MODEL_LABELS)},
            ("make+model", "no label of head 'make_model' has make 'Honda', model 'Camry' together"),
        ),
    ],
)
def test_unmatchable_fields(fields: dict[str, object], heads: dict[str, list[str]], reported: tuple[str, str]) -> None:
    matcher = Matcher([entry(**fields)])
    [problem] = matcher.unmatchable_fields(heads)
    assert problem.entry_id == "e"
    assert (problem.field, reported[1] in problem.reason) == (reported[0], True), problem.reason
    assert str(problem).startswith("watchlist entry 'e' can never match: ")
    # an unmatchable entry never matches, however sure the heads it can use are
    crop = classification(**{name: dict.fromkeys(labels, 1.0 / len(labels)) for name, labels in heads.items()})
    assert matcher.match(crop) == []


def test_matchable_entries_report_nothing() -> None:
    matcher = Matcher([entry(make="Honda", color="grey", body_type="sedan")])
    assert matcher.unmatchable_fields({"make": ["Honda"], "color": ["gray"], "type": ["car", "van"]}) == []


def test_unmatchable_entry_leaves_others_matching() -> None:
    matcher = Matcher([WatchlistEntry(id="a", color="red"), WatchlistEntry(id="b", make="Honda", color="red")])
    assert [p.entry_id for p in matcher.unmatchable_fields({"color": ["red", "blue"]})] == ["b"]
    assert [m.entry.id for m in matcher.match(classification(color={"red": 0.9, "blue": 0.1}))] == ["a"]


def test_plan_follows_changed_heads() -> None:
    matcher = Matcher([entry(color="red")], default_threshold=0.5)
    assert [m.score for m in matcher.match(classification(color={"red": 0.9, "blue": 0.1}))] == pytest.approx([0.9])
    # same head name, other labels (another colour model): masks are rebuilt
    assert [
        m.score for m in matcher.match(classification(color={"blue": 0.2, "green": 0.2, "red": 0.6}))
    ] == pytest.approx([0.6])
    # the head disappears: the entry cannot match
    assert matcher.match(classification(make={"Honda": 1.0})) == []


def test_vectorised_scores_equal_head_mass() -> None:
    """Many entries at once give the same scores as HeadScores.mass per entry and field."""
    rng = np.random.default_rng(0)
    colours = ("black", "white", "grey", "silver", "blue", "red", "green")
    makes = ("Honda", "Toyota", "BMW", "Audi", "Ford", "Mercedes-Benz")
    entries = [
        WatchlistEntry(id=f"e{i}", make=makes[i % len(makes)], color=colours[i % len(colours)]) for i in range(42)
    ]
    matcher = Matcher(entries, default_threshold=1e-9)
    for _ in range(5):
        make_probs = rng.dirichlet(np.ones(len(makes))).astype(np.float32)
        colour_probs = rng.dirichlet(np.ones(len(colours))).astype(np.float32)
        crop = Classification(
            {"make": HeadScores("make", makes, make_probs), "color": HeadScores("color", colours, colour_probs)}
        )
        got = {m.entry.id: m.score for m in matcher.match(crop)}
        for e in entries:
            colour = float(colour_probs @ color_weights(e.color or "", None, colours))
            expected = crop.heads["make"].mass(e.make.__eq__) * colour
            assert got[e.id] == pytest.approx(expected, rel=1e-5)


def test_default_threshold_is_checked() -> None:
    with pytest.raises(ValueError, match=r"default_threshold must be in \(0, 1\]"):
        Matcher([entry(make="BMW")], default_threshold=0.0)


@pytest.mark.parametrize(
    ("label", "make", "model", "year"),
    [
        ("Honda Civic Sedan 2012", "honda", ("civic", "sedan"), 2012),
        ("Honda|CR-V|2014", "honda", ("cr", "v"), 2014),
        ("Honda|CR-V", "honda", ("cr", "v"), None),
        ("AM General Hummer SUV 2000", "amgeneral", ("hummer", "suv"), 2000),
        ("Land Rover Range Rover SUV 2012", "landrover", ("range", "rover", "suv"), 2012),
        ("Mercedes-Benz C-Class Sedan 2012", "mercedesbenz", ("c", "class", "sedan"), 2012),
        ("Austin-Healey 3000", "austinhealey", ("3000",), None),  # 3000 is no model year
        ("Chevy Silverado 1500", "chevrolet", ("silverado", "1500"), None),
        ("Land Rover", "landrover", (), None),
    ],
)
def test_parse_make_model_label(label: str, make: str, model: tuple[str, ...], year: int | None) -> None:
    parsed = parse_make_model_label(label)
    assert (parsed.make, parsed.model, parsed.year) == (make, model, year)


def test_watchlist_makes_extend_the_multiword_makes() -> None:
    assert parse_make_model_label("Foo Bar Baz 2012").make == "foo"
    assert parse_make_model_label("Foo Bar Baz 2012", frozenset({"foobar"})).make == "foobar"
    crop = classification(make_model={"Foo Bar Baz 2012": 0.7, "Foo Qux 2012": 0.3})
    assert score(entry(make="Foo Bar"), crop) == pytest.approx(0.7)


def test_label_masks_are_built_once_per_set_of_heads(monkeypatch: pytest.MonkeyPatch) -> None:
    builds: list[tuple[str, ...]] = []
    build = Matcher._build_plan

    def counting(self: Matcher, signature: dict[str, tuple[str, ...]]) -> object:
        builds.append(tuple(signature))
        return build(self, signature)

    monkeypatch.setattr(Matcher, "_build_plan", counting)
    matcher = Matcher([entry(color="red")])
    with_make = classification(color={"red": 0.9, "blue": 0.1}, make={"Honda": 1.0})
    colour_only = classification(color={"red": 0.9, "blue": 0.1})
    for _ in range(3):  # crops alternating between two sets of heads
        assert len(matcher.match(with_make)) == 1
        assert len(matcher.match(colour_only)) == 1
    assert builds == [("color", "make"), ("color",)]


# --- version 2: partial colour credit, uncertain fields, plates, expiry, explanations ---------------------------------


def test_confusable_colours_get_partial_credit_and_the_breakdown_says_so() -> None:
    crop = classification(color={"white": 0.55, "silver": 0.35, "red": 0.10})
    [match] = Matcher([entry(color="silver")], default_threshold=0.5).match(crop, now=0.0)
    assert match.score == pytest.approx(0.35 + 0.4 * 0.55)
    [colour] = match.breakdown
    assert (colour.field, colour.wanted, colour.head, colour.uncertain) == ("color", "silver", "color", False)
    assert [(c.label, round(c.prob, 2), round(c.weight, 2)) for c in colour.labels] == [
        ("silver", 0.35, 1.0),
        ("white", 0.55, 0.4),
    ]
    # without the table only the colour's own mass counts
    assert Matcher([entry(color="silver")], 0.3, color_confusion=False).match(crop, now=0.0)[0].score == pytest.approx(
        0.35
    )
    # a shade picks its own row: dark blue gets more from black than plain blue does
    dark = classification(color={"black": 0.6, "blue": 0.4})
    assert score(entry(color="dark blue"), dark) == pytest.approx(0.4 + 0.4 * 0.6)
    assert score(entry(color="blue"), dark) == pytest.approx(0.4 + 0.3 * 0.6)


def test_a_colour_the_head_lacks_can_only_match_if_partial_credit_reaches_the_threshold() -> None:
    heads = {"color": ["red", "violet", "white"]}
    [problem] = Matcher([entry(color="pink")]).unmatchable_fields(heads)
    assert problem.field == "color"
    assert "partial credit from neighbouring colours (red 0.4, purple 0.4) reaches at most 0.40" in problem.reason
    assert Matcher([entry(color="pink", threshold=0.3)]).unmatchable_fields(heads) == []


def test_uncertain_fields_are_shown_but_do_not_gate() -> None:
    crop = classification(make={"Honda": 0.1, "Toyota": 0.9}, color={"silver": 0.9, "red": 0.1})
    watch = entry(color="silver", make="Honda", uncertain=["make"])
    [match] = Matcher([watch], default_threshold=0.5).match(crop, now=0.0)
    assert match.score == pytest.approx(0.9)  # silver only
    assert match.field_scores == pytest.approx({"make": 0.1, "color": 0.9})
    assert [(f.head, f.fields) for f in match.factors] == [("color", ("color",))]
    assert [(b.field, b.uncertain) for b in match.breakdown] == [("make", True), ("color", False)]
    # an uncertain field no head can judge is reported, but the entry still matches
    [problem] = Matcher([watch]).unmatchable_fields({"color": ["silver", "red"]})
    assert (problem.field, problem.fatal) == ("make", False)
    assert str(problem).startswith("watchlist entry 'e': uncertain field is not judged: ")
    assert len(Matcher([watch]).match(classification(color={"silver": 0.9, "red": 0.1}), now=0.0)) == 1


@pytest.mark.parametrize(
    ("fields", "plate", "expected"),
    [
        ({"color": "red", "plate": "*7XK*"}, None, 0.8),  # no plate reader: the plate is not judged
        ({"color": "red", "plate": "*7XK*"}, PlateRead("AB7XK1", 0.9), 0.8 * 0.9),
        ({"color": "red", "plate": "*7XK*"}, PlateRead("ABC123", 0.9), 0.8 * 0.1),
        ({"color": "red", "plate": "*7XK*", "uncertain": ["plate"]}, PlateRead("ABC123", 0.9), 0.8),
        ({"plate": "7XK1?3"}, PlateRead("7XK123", 0.95), 0.95),
        ({"plate": "7XK1?3"}, None, None),  # a plate-only entry needs a read
    ],
)
def test_plates(fields: dict[str, object], plate: PlateRead | None, expected: float | None) -> None:
    crop = classification(color={"red": 0.8, "blue": 0.2})
    matches = Matcher([entry(**fields)], default_threshold=0.01).match(crop, plate=plate, now=0.0)
    assert (matches[0].score if matches else None) == (pytest.approx(expected) if expected is not None else None)


def test_plate_breakdown_and_plate_only_report() -> None:
    crop = classification(color={"red": 0.8, "blue": 0.2})
    [match] = Matcher([entry(color="red", plate="*7XK*")], 0.1).match(crop, PlateRead("AB7XK1", 0.9), now=0.0)
    plate = match.breakdown[-1]
    assert (plate.field, plate.wanted, plate.head, plate.note) == (
        "plate",
        "*7XK* (partial)",
        "plate_reader",
        "read AB7XK1 (confidence 0.90) fits",
    )
    assert [f.head for f in match.factors] == ["color", "plate_reader"]
    [problem] = Matcher([entry(plate="7XK123")]).unmatchable_fields({"color": ["red"]})
    assert "its only certain field: it matches only with a plate reader" in problem.reason


def test_expired_entries_never_match() -> None:
    crop = classification(color={"red": 0.9, "blue": 0.1})
    watch = entry(color="red", expires_at="2026-01-01T00:00:00Z")
    expiry = watch.expires_ts
    matcher = Matcher([watch, WatchlistEntry(id="forever", color="red")])
    assert [m.entry.id for m in matcher.match(crop, now=expiry - 1)] == ["e", "forever"]
    assert [m.entry.id for m in matcher.match(crop, now=expiry)] == ["forever"]
    assert matcher.match(crop)[0].entry.id == "forever"  # default: the current time, long after 2026-01-01
    assert matcher.scores(crop, now=expiry).tolist() == pytest.approx([0.0, 0.9])
    assert (matcher.is_active("e", expiry - 1), matcher.is_active("e", expiry), matcher.is_active("nope", 0)) == (
        True,
        False,
        False,
    )


def test_body_type_from_make_model_labels() -> None:
    labels = {
        "Chevrolet Silverado 1500 Crew Cab 2012": 0.5,
        "Chevrolet Express Cargo Van 2007": 0.2,
        "Toyota Camry Sedan 2012": 0.2,
        "Acura Integra Type R 2001": 0.1,
    }
    crop = classification(make_model=labels)
    assert score(entry(body_type="pickup"), crop) == pytest.approx(0.5)
    assert score(entry(make="Chevy", body_type="van"), crop) == pytest.approx(0.2)
    assert score(entry(body_type="sedan", year=2012), crop) == pytest.approx(0.2)
    # with a body-type head loaded, that head judges it instead
    both = classification(make_model=labels, type={"car": 0.3, "van": 0.7})
    assert score(entry(body_type="van"), both) == pytest.approx(0.7)
    [problem] = Matcher([entry(body_type="van")]).unmatchable_fields({"make_model": ["Acura Integra Type R 2001"]})
    assert "its labels name no body types" in problem.reason


def test_match_carries_its_threshold_and_factors() -> None:
    crop = classification(make_model=MAKE_MODEL_LABELS, color={"red": 0.5, "blue": 0.5})
    [match] = Matcher([entry(make="Honda", model="Civic", color="red", threshold=0.1)]).match(crop, now=0.0)
    assert match.threshold == 0.1
    assert [(f.head, f.fields, round(f.score, 3)) for f in match.factors] == [
        ("make_model", ("make", "model"), 0.35),
        ("color", ("color",), 0.5),
    ]
    assert match.score == pytest.approx(np.prod([f.score for f in match.factors]))
