"""The shared colour vocabulary: names, synonyms, shades, report codes and folding, as both sides read them."""

from __future__ import annotations

import pytest

from classifiers.color.labels import COLOR_LABELS, base_color
from classifiers.color.vocabulary import (
    COLORS,
    FOLDED_INTO,
    REPORT_CODES,
    SHADES,
    color_key,
    color_name,
    color_word,
    resolve_color,
    shade_key,
    split_color,
)


@pytest.mark.parametrize(
    ("text", "expected", "error"),
    [
        ("blue", ("blue", None), None),
        ("Dark Blue", ("blue", "dark"), None),
        ("dk blue", ("blue", "dark"), None),
        ("navy", ("blue", "dark"), None),
        ("navy blue", None, "names more than one colour"),  # two colour words in one phrase
        ("light-grey", ("grey", "light"), None),
        ("gray", ("grey", None), None),
        ("Charcoal", ("grey", "dark"), None),
        ("metallic silver", ("silver", "metallic"), None),
        ("burgundy", ("maroon", None), None),
        ("teal", ("teal", None), None),  # unknown colours are kept as written
        ("light navy", None, "'navy' is already dark, not light"),
        ("dark light blue", None, "names two shades"),
        ("dark", None, "names a shade ('dark') but no colour"),
        ("red blue", None, "names more than one colour (red, blue)"),
    ],
)
def test_split_color(text: str, expected: tuple[str, str | None] | None, error: str | None) -> None:
    if error is not None:
        with pytest.raises(ValueError, match=error.replace("(", r"\(").replace(")", r"\)")):
            split_color(text)
    else:
        assert split_color(text) == expected


def test_the_recogniser_scores_every_colour_but_the_folded_ones_and_pink() -> None:
    assert set(COLOR_LABELS) <= set(COLORS)
    assert set(COLORS) - set(COLOR_LABELS) == {*FOLDED_INTO, "pink"}
    assert all(into in COLOR_LABELS for into, _ in FOLDED_INTO.values())


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Gray", "grey"),
        ("golden", "gold"),
        ("Violet", "purple"),
        ("bordeaux", "maroon"),
        ("burgundy", "maroon"),
        ("navy", "navy"),  # a shaded name keeps its own key: a head's "navy" is not every blue
        ("Teal", "teal"),
        ("light-blue", "lightblue"),
    ],
)
def test_color_key_resolves_synonyms_only(name: str, key: str) -> None:
    assert color_key(name) == key


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("navy", ("blue", "dark")),
        ("Charcoal", ("grey", "dark")),
        ("cream", ("beige", "light")),
        ("tan", ("beige", None)),
        ("burgundy", ("maroon", None)),
        ("pink", ("pink", None)),
        ("blk", None),  # report codes are read in written descriptions only
        ("teal", None),
    ],
)
def test_color_name(name: str, expected: tuple[str, str | None] | None) -> None:
    assert color_name(name) == expected


def test_report_codes_and_shade_words() -> None:
    assert all(color in COLORS for color in REPORT_CODES.values())
    assert color_word("BLK") == ("black", None)
    assert color_word("Navy") == ("blue", "dark")
    assert (shade_key("Dk"), shade_key("lt"), shade_key("met"), shade_key("blue")) == (
        "dark",
        "light",
        "metallic",
        None,
    )
    assert SHADES == ("dark", "light", "bright", "metallic")


@pytest.mark.parametrize(
    ("color", "known", "expected"),
    [
        ("maroon", {"red", "black"}, ("red", "dark")),  # folded where the head has no maroon
        ("maroon", {"red", "maroon"}, ("maroon", None)),  # kept where it has
        ("pink", {"red", "purple"}, None),
        ("grey", {"grey"}, ("grey", None)),
    ],
)
def test_resolve_color(color: str, known: set[str], expected: tuple[str, str | None] | None) -> None:
    assert resolve_color(color, None, known) == expected


@pytest.mark.parametrize(
    ("label", "expected"),
    [("maroon", ("red", "dark")), ("Burgundy", ("red", "dark")), ("cream", ("beige", "light")), ("BLK", None)],
)
def test_the_recogniser_reads_member_labels_through_the_vocabulary(
    label: str, expected: tuple[str, str | None] | None
) -> None:
    assert base_color(label) == expected
