"""The shade (dark/light) of a recognised colour, from the paint statistic's lightness."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from classifiers.color.labels import COLOR_LABELS, INDEX
from classifiers.color.paint import PaintStats, paint_probabilities
from classifiers.color.similarity import similarity

# Paint L* (after white balance) at which a colour turns from light to dark, and the softness of that step.
_SHADE_MIDPOINT: dict[str, float] = {"blue": 38.0, "red": 38.0, "green": 38.0, "purple": 38.0}
# On traffic_crops_dev the paint of mid-grey and dark-grey cars measured alike (L* 16-38 for both, exposure
# decides), so the recogniser does not claim a shade for grey.
_SHADE_UNJUDGED = frozenset({"grey"})
_SHADE_SOFTNESS = 6.0
_ALWAYS_DARK = frozenset({"black"})
_ALWAYS_LIGHT = frozenset({"white", "silver", "beige"})


def dark_probability(stats: PaintStats, color: str) -> float:
    """Probability that paint measured as ``stats`` is a dark shade of ``color`` (from its lightness L*)."""
    if color in _ALWAYS_DARK:
        return 1.0
    if color in _ALWAYS_LIGHT:
        return 0.0
    midpoint = _SHADE_MIDPOINT.get(color, 50.0)
    return float(1.0 / (1.0 + math.exp((stats.lab[0] - midpoint) / _SHADE_SOFTNESS)))


def judged_dark_probability(
    probs: NDArray[np.float32], stats: PaintStats | None, *, has_reference: bool, chroma_threshold: float
) -> float | None:
    """The dark probability of the most probable colour, or None where the shade cannot be judged: no paint
    statistic, grey, or a paint measurement that found another colour (glass, a shadow)."""
    color = COLOR_LABELS[int(np.argmax(probs))]
    if stats is None or color in _SHADE_UNJUDGED:
        return None
    if color in _ALWAYS_DARK or color in _ALWAYS_LIGHT:
        return dark_probability(stats, color)
    # The paint's lightness only speaks for the shade when the paint measurement found this colour (or a
    # close one); otherwise it measured something else (glass, a shadow) and the shade stays open.
    own = paint_probabilities(stats, has_reference=has_reference, chroma_threshold=chroma_threshold)
    if similarity(color, COLOR_LABELS[int(np.argmax(own))]) < 0.3 and own[INDEX[color]] < 0.2:
        return None
    return dark_probability(stats, color)
