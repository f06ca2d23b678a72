"""Confusion-aware colour similarity: how much a recognised colour supports a wanted one (for watchlist matching).

Cameras and people confuse some colours all the time. On ``traffic_crops_dev`` the labeller's own doubts and the
recogniser's cross-validated mistakes fall in two families:

- *light neutrals*: silver ≈ grey ≈ white (silver in sunlight reads white, light grey reads silver);
- *dark colours*: black ≈ dark blue ≈ dark grey (haze lifts blacks, a sky reflection turns dark paint blue).

``similarity(wanted, label, shade)`` gives 1 for the same colour and partial credit for those neighbours; the
wanted shade moves the credit to the family it belongs to (a *dark* grey is close to black, a *light* grey to
silver). ``match_score`` turns a recogniser's probabilities into the probability-like score a matcher thresholds:
``Σ P(label) · similarity(wanted, label)``. Partial credit stays at most :data:`MAX_PARTIAL` (0.5), so a vehicle
seen as 100 % a neighbouring colour reaches at most the default match threshold, never above it by itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from classifiers.color.labels import COLOR_LABELS, base_color
from classifiers.color.vocabulary import Lightness

MAX_PARTIAL = 0.5
"""Largest credit a neighbouring colour gets."""

# (colour, shade or None) → {neighbour: credit}. A shade without a row uses the colour's plain row.
_NEIGHBOUR_CREDIT: dict[tuple[str, Lightness | None], dict[str, float]] = {
    ("silver", None): {"grey": 0.5, "white": 0.5},
    ("silver", "light"): {"white": 0.5, "grey": 0.3},
    ("silver", "dark"): {"grey": 0.5, "white": 0.2},
    ("grey", None): {"silver": 0.5, "black": 0.3, "white": 0.2, "blue": 0.1},
    ("grey", "dark"): {"black": 0.5, "blue": 0.3, "silver": 0.2},
    ("grey", "light"): {"silver": 0.5, "white": 0.4},
    ("white", None): {"silver": 0.4, "grey": 0.2, "beige": 0.2},
    ("black", None): {"grey": 0.3, "blue": 0.3},
    ("blue", None): {"grey": 0.2, "black": 0.2, "purple": 0.2},
    ("blue", "dark"): {"black": 0.5, "grey": 0.3, "purple": 0.2},
    ("blue", "light"): {"silver": 0.3, "grey": 0.3},
    ("red", None): {"orange": 0.3, "brown": 0.2, "purple": 0.1},
    ("red", "dark"): {"brown": 0.4, "purple": 0.3, "black": 0.2},
    ("green", None): {"grey": 0.1, "blue": 0.1},
    ("green", "dark"): {"black": 0.3, "grey": 0.2, "blue": 0.2},
    ("yellow", None): {"gold": 0.5, "orange": 0.3, "beige": 0.2},
    ("orange", None): {"red": 0.3, "yellow": 0.3, "gold": 0.2},
    ("brown", None): {"beige": 0.3, "red": 0.3, "gold": 0.2, "black": 0.1},
    ("beige", None): {"gold": 0.4, "white": 0.3, "silver": 0.3, "brown": 0.3},
    ("gold", None): {"beige": 0.4, "yellow": 0.4, "brown": 0.2, "silver": 0.2},
    ("purple", None): {"blue": 0.3, "red": 0.3},
}


def _key(color: str) -> str:
    found = base_color(color)
    return found[0] if found is not None else " ".join(color.split()).casefold()


def similarity(wanted: str, label: str, shade: Lightness | None = None) -> float:
    """Credit (0..1) that a vehicle recognised as ``label`` gets for a wanted colour (``shade`` qualifies it).

    Names are compared through the colour vocabulary (``gray`` = ``grey``; ``navy`` is dark blue).

    Example:
        >>> similarity("grey", "black", "dark"), similarity("grey", "black", "light"), similarity("red", "red")
        (0.5, 0.0, 1.0)
    """
    found = base_color(wanted)
    want = found[0] if found is not None else _key(wanted)
    implied = found[1] if found is not None else None
    shade = shade or (implied if implied in ("dark", "light") else None)  # type: ignore[assignment]
    got = _key(label)
    if got == want:
        return 1.0
    row = _NEIGHBOUR_CREDIT.get((want, shade)) or _NEIGHBOUR_CREDIT.get((want, None), {})
    return min(row.get(got, 0.0), MAX_PARTIAL)


def similarity_matrix(labels: Sequence[str] = COLOR_LABELS, shade: Lightness | None = None) -> NDArray[np.float32]:
    """``[wanted, label]`` credits over ``labels`` (rows: wanted colour with ``shade``)."""
    return np.array([[similarity(w, x, shade) for x in labels] for w in labels], np.float32)


def match_score(
    probs: NDArray[np.floating] | Mapping[str, float],
    wanted: str,
    shade: Lightness | None = None,
    labels: Sequence[str] = COLOR_LABELS,
) -> float:
    """``Σ P(label) · similarity(wanted, label, shade)``: the evidence that the vehicle has the wanted colour.

    Args:
        probs: probabilities in ``labels`` order, or a mapping label → probability.
        wanted: the colour asked for (e.g. from a watchlist entry).
        shade: its shade, if the entry gives one ("dark blue").
        labels: the labels of ``probs`` when it is an array.
    """
    pairs = probs.items() if isinstance(probs, Mapping) else zip(labels, np.asarray(probs).tolist(), strict=True)
    return float(sum(float(p) * similarity(wanted, label, shade) for label, p in pairs))
