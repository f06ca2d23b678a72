"""How two spellings of one name are made comparable: case, accents and punctuation folded away.

Watchlists, descriptions and classifier labels write the same name in many ways (``"Mercedes-Benz"``,
``"mercedes benz"``, ``"CR-V"`` / ``"CRV"``, ``"Gray"`` / ``"gray"``). Every package that compares names goes
through these two functions, so a key computed on the classifier side (the colour vocabulary) and on the watchlist
side (make, colour and body-type aliases) is always the same key.

Example:
    >>> normalize("Citroën C4-Picasso"), compact("CR-V")
    ('citroen c4 picasso', 'crv')
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["compact", "normalize"]

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def normalize(name: str) -> str:
    """Lower-case accent-free words, single spaces between (``"Citroën C4-Picasso"`` → ``"citroen c4 picasso"``)."""
    folded = unicodedata.normalize("NFKD", name.casefold())
    ascii_only = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return _NON_ALNUM.sub(" ", ascii_only).strip()


def compact(name: str) -> str:
    """:func:`normalize` without the spaces: the form two names are compared in (``"CR-V"`` → ``"crv"``)."""
    return normalize(name).replace(" ", "")
