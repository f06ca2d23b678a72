"""Colours: base colour and shade, and the partial credit of the colours cameras confuse."""

from __future__ import annotations

import numpy as np
import pytest

from classifiers.color.labels import COLOR_LABELS
from classifiers.types import Classification, HeadScores
from watchlists.aliases import color_key
from watchlists.colors import COLOR_CONFUSION, MAX_PARTIAL, color_weights, confusion_row, split_color
from watchlists.entries import WatchlistEntry
from watchlists.matching import Matcher


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


def test_weights_give_full_credit_to_the_colour_and_partial_to_neighbours() -> None:
    labels = ("white", "grey", "silver", "red", "black", "gray")
    assert color_weights("silver", None, labels).tolist() == pytest.approx([0.4, 0.4, 1.0, 0.0, 0.0, 0.4])
    assert color_weights("blue", "dark", ("black", "blue")).tolist() == pytest.approx([0.4, 1.0])
    assert color_weights("blue", None, ("black", "blue")).tolist() == pytest.approx([0.3, 1.0])
    assert color_weights("red", "dark", ("bordeaux", "red", "brown")).tolist() == pytest.approx([1.0, 1.0, 0.2])
    assert color_weights("teal", None, ("green", "blue")).tolist() == [0.0, 0.0]


def test_partial_credit_alone_stays_below_the_default_threshold() -> None:
    """Apart from shades that are another label (dark red is maroon), no neighbour reaches MAX_PARTIAL's bound."""
    for (colour, shade), row in COLOR_CONFUSION.items():
        for neighbour, weight in row.items():
            assert color_key(neighbour) != color_key(colour)
            if (colour, shade, neighbour) != ("red", "dark", "maroon"):
                assert 0 < weight <= MAX_PARTIAL < 0.5, (colour, shade, neighbour)


def test_a_shade_without_a_row_uses_the_base_colour() -> None:
    assert confusion_row("silver", "metallic") == COLOR_CONFUSION[("silver", None)]
    assert confusion_row("Gray", "dark") == COLOR_CONFUSION[("grey", "dark")]


def test_maroon_is_judged_as_dark_red_on_a_head_that_folds_it_into_red() -> None:
    matcher = Matcher([WatchlistEntry(id="maroon", color="burgundy")])
    assert matcher.unmatchable_fields({"color": COLOR_LABELS}) == []
    probs = np.zeros(len(COLOR_LABELS), np.float32)
    probs[COLOR_LABELS.index("red")] = 0.9
    probs[COLOR_LABELS.index("black")] = 0.1
    (match,) = matcher.match(Classification({"color": HeadScores("color", COLOR_LABELS, probs)}))
    assert match.score == pytest.approx(0.9, abs=0.05)
    # A head with a label of its own keeps it: maroon is then not plain red.
    assert color_weights("maroon", None, ("red", "bordeaux")).tolist() == pytest.approx([0.4, 1.0])
