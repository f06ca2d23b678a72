"""Plate reads with per-character confidences against entry patterns: edit-distance tolerance, wildcards."""

from __future__ import annotations

import pytest

from watchlists.plate_match import judge_plate
from watchlists.plates import PlateError, PlateRead


def _read(text: str, *confs: float) -> PlateRead:
    chars = confs if confs else (0.9,) * len(text)
    total = 1.0
    for c in chars:
        total *= c
    return PlateRead(text, total, tuple(chars))


def test_exact_fit_counts_only_the_characters_the_pattern_names() -> None:
    read = _read("AB7XK1", 0.5, 0.5, 0.9, 0.9, 0.9, 0.5)
    # "*7XK*": only 7, X and K are judged; the unsure characters under the wildcards do not lower the score.
    assert judge_plate(read, "*7XK*").probability == pytest.approx(0.9**3)
    assert judge_plate(read, "AB7XK1").probability == pytest.approx(0.5**3 * 0.9**3)
    assert judge_plate(_read("7XK482"), "7XK??2").edits == 0


def test_one_substitution_is_forgiven_in_proportion_to_the_doubt() -> None:
    unsure = _read("7XK12B", 0.95, 0.95, 0.95, 0.95, 0.95, 0.4)
    sure = _read("7XK12B", 0.95, 0.95, 0.95, 0.95, 0.95, 0.99)
    a = judge_plate(unsure, "7XK128")
    b = judge_plate(sure, "7XK128")
    assert a.edits == b.edits == 1
    assert a.probability == pytest.approx(0.95**5 * 0.6 * 0.5)
    assert a.probability > 20 * b.probability  # a confident B is strong evidence against 8
    assert "within 1 edit" in a.note


def test_missing_and_extra_characters_are_edits() -> None:
    assert judge_plate(_read("7XK12"), "7XK123").edits == 1  # a character lost
    assert judge_plate(_read("I7XK123"), "7XK123").edits == 1  # the plate's border read as I
    assert judge_plate(_read("7XK123"), "*23").edits == 0  # "ends in 23"
    assert judge_plate(_read("7XK124"), "*23").edits == 1


def test_beyond_tolerance_does_not_fit() -> None:
    judged = judge_plate(_read("ABC999"), "7XK123")
    assert judged.probability == 0.0
    assert judged.edits == 6
    assert "tolerance 1" in judged.note
    assert judge_plate(_read("7XK1XX"), "7XK123", tolerance=2).probability > 0


def test_reads_without_character_confidences_keep_the_simple_rule() -> None:
    assert judge_plate(PlateRead("AB7XK1", 0.9), "*7XK*").probability == pytest.approx(0.9)
    assert judge_plate(PlateRead("ABC123", 0.9), "*7XK*").probability == pytest.approx(0.1)


def test_character_confidences_must_fit_the_text() -> None:
    with pytest.raises(PlateError, match="one confidence"):
        PlateRead("7XK", 0.5, (0.5, 0.5))
