"""The description parser: a table of real-style alert descriptions asserted field by field, and properties on any
text (never raises, every token gets exactly one role, unplaced ones are reported)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import shared_path
from watchlists.entries import WatchlistError
from watchlists.parser import FIELD_ROLES, ROLES, describe, parse_description, tokenize
from watchlists.vocabulary import Vocabulary

TODAY = datetime(2026, 11, 21, tzinfo=UTC)
KEYS = ("make", "model", "color", "color_shade", "body_type", "year", "year_min", "year_max", "plate", "uncertain")

# (description, expected fields (every key not given must be absent), expected unplaced tokens)
DESCRIPTIONS: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    # the issue's examples
    (
        "White 2015-2017 Toyota Camry sedan, partial plate 7XK",
        {
            "make": "Toyota",
            "model": "Camry",
            "color": "white",
            "body_type": "sedan",
            "year_min": 2015,
            "year_max": 2017,
            "plate": "*7XK*",
        },
        (),
    ),
    (
        "dark blue Chevy pickup",
        {"make": "Chevrolet", "color": "blue", "color_shade": "dark", "body_type": "pickup"},
        (),
    ),
    (
        "silver SUV, possibly a Honda CR-V",
        {"make": "Honda", "model": "CR-V", "color": "silver", "body_type": "suv", "uncertain": ["make", "model"]},
        (),
    ),
    # makes and aliases
    (
        "gold Beemer 3 Series, early 2000s",
        {"make": "BMW", "model": "3 Series", "color": "gold", "year_min": 2000, "year_max": 2003},
        (),
    ),
    ("Grey Merc C-Class, unknown plate", {"make": "Mercedes-Benz", "model": "C-Class", "color": "grey"}, ()),
    (
        "red VW Golf hatchback with roof rack, last seen northbound on I-5",
        {"make": "Volkswagen", "model": "Golf", "color": "red", "body_type": "hatchback"},
        ("roof", "rack", "last", "seen", "northbound", "on", "I-5"),
    ),
    ("burgundy Caddy Escalade 2018", {"make": "Cadillac", "model": "Escalade", "color": "maroon", "year": 2018}, ()),
    ("bright yellow Lambo", {"make": "Lamborghini", "color": "yellow", "color_shade": "bright"}, ()),
    (
        "silver Land Rover Range Rover, tag # L4ND",
        {"make": "Land Rover", "model": "Range Rover", "color": "silver", "plate": "L4ND"},
        (),
    ),
    ("Dodge Ram 1500 truck, black", {"make": "Dodge", "model": "Ram 1500", "body_type": "truck", "color": "black"}, ()),
    # a model alone names its make; everyday words need a vehicle context
    ("white Camry", {"make": "Toyota", "model": "Camry", "color": "white"}, ()),
    ("2016 Smart fortwo", {"make": "Smart", "model": "fortwo", "year": 2016}, ()),
    ("red Mini Cooper with white roof", {"make": "Mini", "model": "Cooper", "color": "red"}, ("white", "roof")),
    (
        "white Lincoln Town Car, seen on Lincoln Ave",
        {"make": "Lincoln", "model": "Town Car", "color": "white"},
        ("seen", "on", "Lincoln", "Ave"),
    ),
    ("Kia Soul, maybe green", {"make": "Kia", "model": "Soul", "color": "green", "uncertain": ["color"]}, ()),
    ("grey car heading for the escape ramp", {"color": "grey"}, ("heading", "for", "escape", "ramp")),
    # colours and shades
    (
        "navy blue minivan, possibly Honda Odyssey or similar",
        {
            "make": "Honda",
            "model": "Odyssey",
            "color": "blue",
            "color_shade": "dark",
            "body_type": "minivan",
            "uncertain": ["make", "model"],
        },
        (),
    ),
    (
        "light grey hatchback, partial plate 7XK??2",
        {"color": "grey", "color_shade": "light", "body_type": "hatchback", "plate": "*7XK??2*"},
        (),
    ),
    (
        "Charcoal GMC Sierra 1500, registration 5GHT 882",
        {"make": "GMC", "model": "Sierra 1500", "color": "grey", "color_shade": "dark", "plate": "5GHT882"},
        (),
    ),
    (
        "light blue VW Beetle convertible",
        {"make": "Volkswagen", "model": "Beetle", "color": "blue", "color_shade": "light", "body_type": "convertible"},
        (),
    ),
    (
        "Mazda CX-5 crossover, dark grey metallic",
        {"make": "Mazda", "model": "CX-5", "body_type": "suv", "color": "grey", "color_shade": "dark"},
        (),
    ),
    ("silver/grey Toyota Prius", {"make": "Toyota", "model": "Prius", "color": "silver"}, ("grey",)),
    (
        "dark colored sedan, possibly a Nissan",
        {"make": "Nissan", "body_type": "sedan", "uncertain": ["make"]},
        ("dark",),
    ),
    (
        "tan Chevy Silverado 1500 crew cab circa 2012",
        {
            "make": "Chevrolet",
            "model": "Silverado 1500",
            "color": "beige",
            "body_type": "pickup",
            "year_min": 2011,
            "year_max": 2013,
        },
        (),
    ),
    ("bus, white with blue stripe", {"body_type": "bus", "color": "white"}, ("blue", "stripe")),
    # police style, all capitals
    ("BLK DODGE CHARGER LIC 8ABC123", {"make": "Dodge", "model": "Charger", "color": "black", "plate": "8ABC123"}, ()),
    (
        "WHT FORD TRANSIT VAN TAG 9XJ-44?",
        {"make": "Ford", "model": "Transit", "color": "white", "body_type": "van", "plate": "9XJ44?"},
        (),
    ),
    # years and ranges
    (
        "Black '16 Ford F-150, plate starting with 4KD",
        {"make": "Ford", "model": "F-150", "color": "black", "year": 2016, "plate": "4KD*"},
        (),
    ),
    ("2010 or newer white Ford Escape", {"make": "Ford", "model": "Escape", "color": "white", "year_min": 2010}, ()),
    (
        "late model silver Jeep Grand Cherokee",
        {"make": "Jeep", "model": "Grand Cherokee", "color": "silver", "year_min": 2022},
        (),
    ),
    (
        "'90s green Jeep Wrangler, soft top",
        {"make": "Jeep", "model": "Wrangler", "color": "green", "year_min": 1990, "year_max": 1999},
        ("soft", "top"),
    ),
    (
        "2012 to 2014 Hyundai Sonata, gray",
        {"make": "Hyundai", "model": "Sonata", "color": "grey", "year_min": 2012, "year_max": 2014},
        (),
    ),
    ("pre-2010 red Toyota Tacoma", {"make": "Toyota", "model": "Tacoma", "color": "red", "year_max": 2009}, ()),
    (
        "older model brown Ford Ranger pickup",
        {"make": "Ford", "model": "Ranger", "color": "brown", "body_type": "pickup", "year_max": 2011},
        (),
    ),
    ("silver 2019 Tesla Model 3", {"make": "Tesla", "model": "Model 3", "color": "silver", "year": 2019}, ()),
    (
        "maroon Chrysler Town and Country minivan 2008-2010",
        {
            "make": "Chrysler",
            "model": "Town and Country",
            "color": "maroon",
            "body_type": "minivan",
            "year_min": 2008,
            "year_max": 2010,
        },
        (),
    ),
    (
        "Honda Civic coupe between 2006 and 2011",
        {"make": "Honda", "model": "Civic", "body_type": "coupe", "year_min": 2006, "year_max": 2011},
        (),
    ),
    ("orange Chevrolet Camaro '69", {"make": "Chevrolet", "model": "Camaro", "color": "orange", "year": 1969}, ()),
    ("2014+ black Jeep Cherokee", {"make": "Jeep", "model": "Cherokee", "color": "black", "year_min": 2014}, ()),
    ("2015-17 Nissan Rogue", {"make": "Nissan", "model": "Rogue", "year_min": 2015, "year_max": 2017}, ()),
    # plates
    (
        "maroon Nissan Altima?, tag ending in 42",
        {"make": "Nissan", "model": "Altima", "color": "maroon", "plate": "*42", "uncertain": ["model"]},
        (),
    ),
    ("blue Subaru WRX, plate contains 88", {"make": "Subaru", "model": "WRX", "color": "blue", "plate": "*88*"}, ()),
    ("white van, plate 6TRJ244", {"color": "white", "body_type": "van", "plate": "6TRJ244"}, ()),
    (
        "black Mercedes sprinter van, plate unknown",
        {"make": "Mercedes-Benz", "model": "Sprinter", "color": "black", "body_type": "van"},
        (),
    ),
    # uncertainty and unknowns
    ("green Subaru Outback, unknown model year", {"make": "Subaru", "model": "Outback", "color": "green"}, ()),
    ("red motorcycle, unknown make", {"color": "red", "body_type": "motorcycle"}, ()),
    ("white box truck, unknown make", {"color": "white", "body_type": "truck"}, ()),
    (
        "Volvo XC90 SUV, could be silver or white",
        {"make": "Volvo", "model": "XC90", "body_type": "suv", "color": "silver", "uncertain": ["color"]},
        ("white",),
    ),
    (
        "Possibly a white Lincoln Town Car",  # every field uncertain: taken as certain (note), or nothing would gate
        {"make": "Lincoln", "model": "Town Car", "color": "white"},
        (),
    ),
]


def test_the_table_is_large_enough() -> None:
    assert len(DESCRIPTIONS) >= 40


@pytest.mark.parametrize(("text", "expected", "unplaced"), DESCRIPTIONS, ids=[row[0][:40] for row in DESCRIPTIONS])
def test_descriptions(text: str, expected: dict[str, Any], unplaced: tuple[str, ...]) -> None:
    parsed = parse_description(text, today=TODAY)
    for key in KEYS:
        assert parsed.fields.get(key) == expected.get(key), f"{key} of {text!r}"
    assert tuple(token.text for token in parsed.unplaced) == unplaced
    entry = parsed.to_entry(priority="high", source="test")
    assert entry.description == text
    for key in KEYS:
        got = getattr(entry, key)
        want = expected.get(key)
        assert (list(got) if key == "uncertain" else got) == (want if want is not None or key != "uncertain" else [])


@pytest.mark.parametrize(
    ("text", "note"),
    [
        ("silver/grey Toyota Prius", "a second color 'grey' is not placed: an entry has one color"),
        ("white Camry", "make Toyota inferred from model Camry"),
        ("green Subaru Outback, unknown model year", "year: said to be unknown"),
        ("Grey Merc C-Class, unknown plate", "plate: said to be unknown"),
        ("dark colored sedan", "shade 'dark' without a colour is not placed"),
        ("Possibly a white Lincoln Town Car", "every field is uncertain (make, model, color): taken as certain"),
    ],
)
def test_notes(text: str, note: str) -> None:
    assert any(n.startswith(note) for n in parse_description(text, today=TODAY).notes)


def test_roles_of_a_description() -> None:
    parsed = parse_description("possibly a dark blue Chevy pickup, partial plate 7XK, seen leaving", today=TODAY)
    assert [(t.text, t.role) for t in parsed.tokens] == [
        ("possibly", "uncertainty"),
        ("a", "filler"),
        ("dark", "color"),
        ("blue", "color"),
        ("Chevy", "make"),
        ("pickup", "body_type"),
        ("partial", "plate"),
        ("plate", "plate"),
        ("7XK", "plate"),
        ("seen", "unplaced"),
        ("leaving", "unplaced"),
    ]


def test_nothing_to_match_is_an_error_naming_the_description() -> None:
    parsed = parse_description("seen leaving the scene at speed", today=TODAY)
    assert parsed.fields == {}
    with pytest.raises(WatchlistError, match=r"^description 'seen leaving the scene at speed': names no attribute"):
        parsed.to_entry()
    assert "(no field found)" in describe(parsed)


def test_to_entry_takes_overrides_and_suggests_an_id() -> None:
    parsed = parse_description("white Toyota Camry", today=TODAY)
    entry = parsed.to_entry(threshold=0.6, expires_at="2030-01-01T00:00:00Z")
    assert entry.id.startswith("white-toyota-camry-")
    assert len(entry.id) == len("white-toyota-camry-") + 4
    assert (entry.threshold, entry.expires_at) == (0.6, datetime(2030, 1, 1, tzinfo=UTC))
    assert parsed.to_entry("amber-1", model=None).model is None  # an override can drop a field


def test_late_model_follows_the_reference_date() -> None:
    assert parse_description("late model sedan", today=datetime(2030, 6, 1, tzinfo=UTC)).fields["year_min"] == 2026


def test_classifier_labels_extend_the_vocabulary() -> None:
    vocabulary = Vocabulary.build(
        ["Daihatsu", "Lada"],
        ["Chevrolet Express Cargo Van 2007", "AM General Hummer SUV 2000", "Ram C/V Cargo Van 2012"],
    )
    assert parse_description("white Daihatsu", vocabulary).fields == {"make": "Daihatsu", "color": "white"}
    assert parse_description("Chevy Express cargo van", vocabulary).fields == {
        "make": "Chevrolet",
        "model": "Express",
        "body_type": "van",
    }
    assert parse_description("AM General Hummer", vocabulary).fields == {"make": "AM General", "model": "Hummer"}
    assert "Daihatsu" not in Vocabulary.build().makes.values()


def test_real_label_sets() -> None:
    """With the make classifier's 397 makes and the Stanford Cars make+model+year labels of ../shared."""
    labels = shared_path("datasets/stanford_cars_dev/labels.csv")
    makes_model = shared_path("models/spectrico_make_mobilenetv3_224.onnx")
    import csv

    import onnxruntime as ort

    session = ort.InferenceSession(str(makes_model), providers=["CPUExecutionProvider"])
    makes = json.loads(session.get_modelmeta().custom_metadata_map["labels"])
    with labels.open(newline="") as handle:
        classes = sorted({row["class_name"] for row in csv.DictReader(handle)})
    vocabulary = Vocabulary.build(makes, classes)
    cases = {
        "silver Chevy Silverado 1500 extended cab": {
            "make": "Chevrolet",
            "model": "Silverado 1500",
            "body_type": "pickup",
            "color": "silver",
        },
        "red Ferrari 458 Italia": {"make": "Ferrari", "model": "458 Italia", "color": "red"},
        "white Daihatsu van": {"make": "Daihatsu", "body_type": "van", "color": "white"},
        "black Hyundai Genesis 2012": {"make": "Hyundai", "model": "Genesis", "year": 2012, "color": "black"},
    }
    for text, fields in cases.items():
        assert dict(parse_description(text, vocabulary, today=TODAY).fields) == fields, text


# --- properties ---------------------------------------------------------------------------------------------------

WORDS = st.sampled_from(
    [
        "white",
        "black",
        "dark",
        "navy",
        "blue",
        "light",
        "grey",
        "silver",
        "tan",
        "BLK",
        "Toyota",
        "Chevy",
        "VW",
        "Golf",
        "Camry",
        "CR-V",
        "F-150",
        "Lincoln",
        "Smart",
        "possibly",
        "maybe",
        "or",
        "similar",
        "unknown",
        "model",
        "year",
        "make",
        "plate",
        "partial",
        "tag",
        "starting",
        "ending",
        "with",
        "contains",
        "7XK",
        "??",
        "*",
        "7XK??",
        "2015",
        "2015-2017",
        "'16",
        "'90s",
        "early",
        "late",
        "mid",
        "between",
        "and",
        "to",
        "from",
        "pre-2010",
        "2010+",
        "circa",
        "newer",
        "sedan",
        "pickup",
        "truck",
        "SUV",
        "van",
        "on",
        "in",
        "the",
        "a",
        ",",
        "(",
        ")",
        "?",
        ".",
        ";",
        "/",
        "-",
    ]
)


def check_invariants(text: str) -> None:
    parsed = parse_description(text, today=TODAY)
    # every token of the text, in order, exactly once, with one known role
    assert [(t.text, t.start, t.end) for t in parsed.tokens] == tokenize(text)
    assert all(t.role in ROLES for t in parsed.tokens)
    assert [t for t in parsed.tokens if t.role == "unplaced"] == list(parsed.unplaced)
    for token in parsed.tokens:
        assert text[token.start : token.end] == token.text
    # a field is set only from tokens placed in it (or, for a make, inferred from its model)
    for role in FIELD_ROLES:
        keys = {"year": ("year", "year_min", "year_max"), "color": ("color",)}.get(role, (role,))
        if any(key in parsed.fields for key in keys) and not parsed.tokens_of(role):
            assert role == "make"
            assert any(n.startswith("make ") and "inferred" in n for n in parsed.notes)
    # the fields make an entry, or a one-line error naming the field
    if parsed.fields:
        parsed.to_entry("x")  # whatever was found makes a valid entry
    else:
        with pytest.raises(WatchlistError, match=r"^description .*: names no attribute to match") as caught:
            parsed.to_entry("x")
        assert "\n" not in str(caught.value)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_never_raises_nor_loses_a_token(text: str) -> None:
    check_invariants(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(WORDS, max_size=16).map(" ".join))
def test_description_like_text_never_raises_nor_loses_a_token(text: str) -> None:
    check_invariants(text)
