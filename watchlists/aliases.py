"""How names from watchlists and from classifier labels are made comparable: normalisation and alias tables.

Both sides go through the same functions, so ``"Mercedes"`` in a watchlist, ``"Mercedes-Benz"`` from one classifier
and ``"mercedes benz"`` from another all become the key ``"mercedesbenz"``.

* :func:`normalize` folds case and accents and turns every run of non-alphanumeric characters (spaces, hyphens,
  dots, slashes) into one space: ``"CR-V"`` → ``"cr v"``.
* :func:`compact` drops the spaces as well, so spelling variants meet: ``"CR-V"``, ``"CRV"`` and ``"cr v"`` are all
  ``"crv"``; ``"Landrover"`` and ``"Land Rover"`` are both ``"landrover"``.
* :func:`make_key`, :func:`color_key`, :func:`body_type_key` apply the alias table of their field on top; the
  colour names are the shared colour vocabulary's (:mod:`classifiers.color.vocabulary`), so the colour recogniser
  and the watchlists resolve them alike.

:func:`normalize` and :func:`compact` are :mod:`common.names`'s, the one implementation both sides use.

Example:
    >>> make_key("Chevy") == make_key("chevrolet")
    True
    >>> color_key("gray") == color_key("Grey")
    True
"""

from __future__ import annotations

from collections.abc import Mapping

from classifiers.color.vocabulary import color_key
from common.names import compact, normalize

__all__ = [
    "BODY_TYPE_ALIASES",
    "BODY_TYPE_FALLBACK",
    "MAKE_ALIASES",
    "MULTIWORD_MAKES",
    "body_type_fallback",
    "body_type_key",
    "color_key",
    "compact",
    "make_key",
    "normalize",
]


def _table(groups: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """``{canonical: (alias, ...)}`` → ``{compact alias: compact canonical}`` (the canonical maps to itself)."""
    table: dict[str, str] = {}
    for canonical, aliases in groups.items():
        key = compact(canonical)
        for alias in (canonical, *aliases):
            table[compact(alias)] = key
    return table


# Makes: nicknames and short forms people write in watchlists. Spelling variants that differ only in spaces,
# hyphens or case ("Landrover", "Mercedes Benz", "ROLLS-ROYCE") need no entry: compact() already joins them.
MAKE_ALIASES: dict[str, tuple[str, ...]] = {
    "Alfa Romeo": ("Alfa",),
    "Aston Martin": ("Aston",),
    "BMW": ("Beemer", "Beamer", "Bimmer"),
    "Cadillac": ("Caddy",),
    "Chevrolet": ("Chevy", "Chev"),
    "Citroen": ("Citroën",),
    "Jaguar": ("Jag",),
    "Lamborghini": ("Lambo",),
    "Land Rover": ("Landrover",),
    "Mercedes-Benz": ("Mercedes", "Merc", "Benz", "MB"),
    "Rolls-Royce": ("Rolls", "Rolls Royce"),
    "Skoda": ("Škoda",),
    "Volkswagen": ("VW", "Volks"),
}

# Makes whose name has more than one word. A make_model label written with spaces ("Land Rover Range Rover SUV
# 2012") is split into make and model by the longest known make at its start; a one-word make needs no entry.
# The list follows the 397 makes of the Spectrico make classifier and Stanford Cars; watchlist makes are added to it.
MULTIWORD_MAKES: tuple[str, ...] = (
    "Alfa Romeo",
    "AM General",
    "Arctic Cat",
    "Armstrong Siddeley",
    "Aston Martin",
    "Austin-Healey",
    "David Brown",
    "De Tomaso",
    "Dual-Ghia",
    "East Lancs",
    "Facel Vega",
    "Frazer-Nash",
    "General Motors",
    "Great Wall",
    "International Harvester",
    "Iran Khodro",
    "John Deere",
    "Land Rover",
    "Lynk & Co",
    "Mercedes-Benz",
    "Polski Fiat",
    "Rayton-Fissore",
    "Rene Bonnet",
    "Rolls-Royce",
    "Santa Matilde",
    "Sebring-Vanguard",
    "Vanden Plas",
    "W Motors",
)

# Body types: common names, then the pickup cab styles of Stanford Cars ("Crew Cab", "SuperCab").
BODY_TYPE_ALIASES: dict[str, tuple[str, ...]] = {
    "sedan": ("saloon",),
    "suv": ("sport utility", "sport utility vehicle", "crossover"),
    "hatchback": ("hatch",),
    "wagon": ("estate", "station wagon"),
    "convertible": ("cabriolet", "cabrio", "roadster"),
    "pickup": (
        "pick up",
        "pickup truck",
        "crew cab",
        "club cab",
        "extended cab",
        "regular cab",
        "quad cab",
        "supercab",
    ),
    "minivan": ("mpv", "people carrier"),
    "van": ("cargo van",),
    "truck": ("lorry", "hgv"),
    "bus": ("coach",),
}

# What a coarse body-type head (OpenVINO vehicle-attributes: car / bus / truck / van) calls a finer body type. Used
# only when the head has no label for the finer type itself: a pickup counts as "car" there because that model's
# "truck" means heavy goods vehicles; a minivan counts as "van".
BODY_TYPE_FALLBACK: dict[str, str] = {
    "sedan": "car",
    "suv": "car",
    "hatchback": "car",
    "coupe": "car",
    "convertible": "car",
    "wagon": "car",
    "pickup": "car",
    "minivan": "van",
}

_MAKES = _table(MAKE_ALIASES)
_BODY_TYPES = _table(BODY_TYPE_ALIASES)
_BODY_FALLBACK = {compact(k): compact(v) for k, v in BODY_TYPE_FALLBACK.items()}


def make_key(name: str) -> str:
    """The comparison key of a make: aliases resolved (``"VW"`` → ``"volkswagen"``)."""
    key = compact(name)
    return _MAKES.get(key, key)


def body_type_key(name: str) -> str:
    """The comparison key of a body type: synonyms resolved (``"saloon"`` → ``"sedan"``)."""
    key = compact(name)
    return _BODY_TYPES.get(key, key)


def body_type_fallback(key: str) -> str | None:
    """The coarse body type (``"car"``, ``"van"``) that a :func:`body_type_key` falls back to, if any."""
    return _BODY_FALLBACK.get(key)
