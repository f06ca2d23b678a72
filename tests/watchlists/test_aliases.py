"""The alias tables: watchlist spellings meet classifier labels (normalisation itself: tests/common/test_names.py)."""

from __future__ import annotations

import pytest

from watchlists.aliases import body_type_fallback, body_type_key, color_key, make_key


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("Chevy", "Chevrolet"),
        ("chevy", "CHEVROLET"),
        ("VW", "Volkswagen"),
        ("vw", "Volkswagen"),
        ("Mercedes", "Mercedes-Benz"),
        ("Merc", "Mercedes-Benz"),
        ("Benz", "Mercedes-Benz"),
        ("Mercedes Benz", "Mercedes-Benz"),
        ("Beemer", "BMW"),
        ("Bimmer", "BMW"),
        ("Landrover", "Land Rover"),
        ("land-rover", "Land Rover"),
        ("Caddy", "Cadillac"),
        ("Alfa", "Alfa Romeo"),
        ("Citroën", "Citroen"),
        ("Rolls", "Rolls-Royce"),
    ],
)
def test_make_aliases(alias: str, canonical: str) -> None:
    assert make_key(alias) == make_key(canonical)


@pytest.mark.parametrize(("a", "b"), [("Honda", "Toyota"), ("Mini", "Mercedes-Benz"), ("Austin", "Austin-Healey")])
def test_different_makes_stay_different(a: str, b: str) -> None:
    assert make_key(a) != make_key(b)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("grey", "gray", True),
        ("Gray", "GREY", True),
        ("golden", "gold", True),
        ("bordeaux", "maroon", True),
        ("violet", "purple", True),
        ("silver", "grey", False),  # a neighbouring shade, not a synonym
        ("beige", "brown", False),
    ],
)
def test_color_aliases(a: str, b: str, same: bool) -> None:
    assert (color_key(a) == color_key(b)) is same


@pytest.mark.parametrize(
    ("raw", "key", "coarse"),
    [
        ("Sedan", "sedan", "car"),
        ("saloon", "sedan", "car"),
        ("SUV", "suv", "car"),
        ("hatch", "hatchback", "car"),
        ("Coupe", "coupe", "car"),
        ("Crew Cab", "pickup", "car"),
        ("pick-up", "pickup", "car"),
        ("estate", "wagon", "car"),
        ("Minivan", "minivan", "van"),
        ("lorry", "truck", None),
        ("coach", "bus", None),
        ("van", "van", None),
    ],
)
def test_body_types(raw: str, key: str, coarse: str | None) -> None:
    assert body_type_key(raw) == key
    assert body_type_fallback(body_type_key(raw)) == coarse
