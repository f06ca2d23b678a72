"""Colours in matching: the partial credit of the colours cameras confuse, on top of the shared vocabulary."""

from __future__ import annotations

import numpy as np
import pytest

from classifiers.color.labels import COLOR_LABELS, base_color
from classifiers.color.vocabulary import COLOR_NAMES, color_key, split_color
from classifiers.types import Classification, HeadScores
from watchlists.colors import COLOR_CONFUSION, MAX_PARTIAL, color_weights, confusion_row
from watchlists.entries import WatchlistEntry
from watchlists.matching import Matcher


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


@pytest.mark.parametrize("name", sorted(COLOR_NAMES))
def test_entries_and_the_recogniser_read_every_colour_name_alike(name: str) -> None:
    """One vocabulary: an entry naming a colour gets full credit on the recogniser's label for that name, and only
    on it (none for a colour the recogniser cannot tell, such as pink)."""
    colour, shade = split_color(name)
    weights = color_weights(colour, shade, COLOR_LABELS)
    full = [label for label, weight in zip(COLOR_LABELS, weights.tolist(), strict=True) if weight >= 1.0]
    recognised = base_color(name)
    assert full == ([] if recognised is None else [recognised[0]])
