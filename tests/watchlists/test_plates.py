"""Plate patterns with wildcards, and the plate field's score from a read."""

from __future__ import annotations

import pytest

from watchlists.plates import PlateError, PlateRead, is_partial, plate_regex, validate_plate_pattern


@pytest.mark.parametrize(
    ("text", "expected", "error"),
    [
        ("7xk-123", "7XK123", None),
        ("7XK 12?", "7XK12?", None),
        ("*7XK*", "*7XK*", None),
        ("**7XK***", "*7XK*", None),
        ("ab.12·3", "AB123", None),
        ("", None, "is empty"),
        ("  - ", None, "is empty"),
        ("??*", None, "needs at least one letter or digit"),
        ("7XK#1", None, "not '#'"),
        ("ÄBC1", None, "not 'Ä'"),
        ("A" * 17, None, "longer than 16"),
    ],
)
def test_patterns(text: str, expected: str | None, error: str | None) -> None:
    if error is not None:
        with pytest.raises(PlateError, match=error):
            validate_plate_pattern(text)
    else:
        assert validate_plate_pattern(text) == expected


@pytest.mark.parametrize(
    ("pattern", "plate", "fits"),
    [
        ("7XK123", "7XK123", True),
        ("7XK123", "7XK1234", False),
        ("*7XK*", "AB7XK9", True),
        ("*7XK*", "7XK", True),
        ("7XK*", "17XK", False),
        ("*42", "ABC142", True),
        ("7XK??2", "7XK482", True),
        ("7XK??2", "7XK4820", False),
    ],
)
def test_regex(pattern: str, plate: str, fits: bool) -> None:
    assert bool(plate_regex(pattern).match(plate)) is fits


def test_read_scores_by_confidence() -> None:
    pattern = plate_regex("*7XK*")
    assert PlateRead("7xk-123", 0.9).score(pattern) == pytest.approx(0.9)
    assert PlateRead("ABC123", 0.9).score(pattern) == pytest.approx(0.1)  # a confident read that does not fit
    assert PlateRead("ABC123", 0.2).score(pattern) == pytest.approx(0.8)  # an unreliable read proves little
    assert PlateRead("7xk-123", 0.9).text == "7XK123"
    assert is_partial("*7XK*")
    assert not is_partial("7XK")


@pytest.mark.parametrize(("text", "confidence"), [("", 0.5), ("7X?", 0.5), ("7XK", 1.5), ("7XK", -0.1)])
def test_bad_reads(text: str, confidence: float) -> None:
    with pytest.raises(PlateError):
        PlateRead(text, confidence)
