"""Name normalisation: case, accents and punctuation folded, so every package compares names alike."""

from __future__ import annotations

import pytest

from common.names import compact, normalize


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("Honda", "honda"),
        ("  Land   Rover ", "land rover"),
        ("Mercedes-Benz", "mercedes benz"),
        ("CR-V", "cr v"),
        ("Citroën C4-Picasso", "citroen c4 picasso"),
        ("Škoda", "skoda"),
        ("O.S.C.A.", "o s c a"),
        ("Lynk & Co", "lynk co"),
        ("STRASSE", "strasse"),
        ("Straße", "strasse"),  # casefold, not lower
    ],
)
def test_normalize(raw: str, normalized: str) -> None:
    assert normalize(raw) == normalized


@pytest.mark.parametrize(("a", "b"), [("CR-V", "crv"), ("Landrover", "Land Rover"), ("Rolls Royce", "ROLLS-ROYCE")])
def test_compact_joins_spelling_variants(a: str, b: str) -> None:
    assert compact(a) == compact(b)
