"""Plate formats: re-ranking and look-alike fixes only where a format demands them."""

from __future__ import annotations

import pytest

from classifiers.plates.formats import PlateFormats
from classifiers.plates.settings import DEFAULT_FORMATS
from classifiers.plates.types import ALPHABET, PlateReading

BR = PlateFormats.compile({"br": DEFAULT_FORMATS["br"]})
EU = PlateFormats.compile({"eu": DEFAULT_FORMATS["eu"]})
US = PlateFormats.compile({"us": DEFAULT_FORMATS["us"]})


def _rows(text: str, second: dict[int, tuple[str, float]] | None = None) -> list[list[float]]:
    rows = []
    for i, ch in enumerate(text):
        row = [0.0] * len(ALPHABET)
        row[ALPHABET.index(ch)] = 0.7
        if second and i in second:
            other, p = second[i]
            row[ALPHABET.index(other)] = p
        rows.append(row)
    return rows


def test_a_fitting_read_is_left_alone() -> None:
    assert BR.fix("ABC1234", [0.9] * 7, []) == ("ABC1234", (0.9,) * 7, "br")
    # A Mercosur plate's letter in the fifth place is allowed: it is not "fixed" to a digit.
    assert BR.fix("ABC1D23", [0.9] * 7, [])[0] == "ABC1D23"


def test_look_alikes_are_swapped_where_the_format_demands_it() -> None:
    # Brazil: three letters then digits; the 0 in a letter's place is an O, the B in a digit's place an 8.
    text, confs, region = BR.fix("N0P12B4", [0.9] * 7, _rows("N0P12B4", {1: ("O", 0.2), 5: ("8", 0.25)}))
    assert (text, region) == ("NOP1284", "br")
    assert confs[1] == pytest.approx(0.2)
    assert confs[5] == pytest.approx(0.25)


def test_an_emblem_read_as_a_character_is_dropped() -> None:
    # Slovak plates: the coat of arms between BA and 738 is often read as a character, with low confidence.
    text, _, region = EU.fix("BA2738DE", [0.9, 0.9, 0.3, 0.9, 0.9, 0.9, 0.9, 0.9], [])
    assert (text, region) == ("BA738DE", "eu")


def test_us_plates_need_a_digit() -> None:
    assert US.region_of("TEXAS") is None
    assert US.region_of("SANDERO") is None
    assert US.region_of("7XKL123") == "us"
    # A state name has no trace of a digit: the format does not invent one (S → 5).
    assert US.fix("TEXAS", [0.99] * 5, _rows("TEXAS", {4: ("5", 0.001)})) == ("TEXAS", (0.99,) * 5, None)


def test_no_formats_fixes_nothing() -> None:
    assert PlateFormats.compile({}).fix("N0P1234", [0.9] * 7, []) == ("N0P1234", (0.9,) * 7, None)


def test_an_invalid_format_names_its_region() -> None:
    with pytest.raises(ValueError, match="region 'xx'"):
        PlateFormats.compile({"xx": ["[A-Z"]})


def test_readings_validate() -> None:
    reading = PlateReading("AB12", (0.9, 0.9, 0.5, 1.0), (0, 0, 10, 5))
    assert reading.confidence == pytest.approx(0.405)
    assert reading.min_confidence == 0.5
    with pytest.raises(ValueError, match="upper-case"):
        PlateReading("ab12", (0.9,) * 4, (0, 0, 1, 1))
    with pytest.raises(ValueError, match="one confidence"):
        PlateReading("AB12", (0.9,), (0, 0, 1, 1))


def test_a_doubtful_character_late_in_a_read_is_swapped_however_many_look_alikes_come_before_it() -> None:
    # Slovak BA268IM read BA2681M: B, A, 2, 6 and 8 all have look-alikes, but only the 1 is in doubt (I 0.2);
    # the format fixes it rather than dropping a character to fit a looser format.
    rows = _rows("BA2681M", {5: ("I", 0.2)})
    text, confs, region = EU.fix("BA2681M", [0.93, 0.92, 0.93, 0.98, 0.99, 0.71, 0.96], rows)
    assert (text, region) == ("BA268IM", "eu")
    assert confs[5] == pytest.approx(0.2)
