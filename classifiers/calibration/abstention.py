"""Abstention: a head drops its claim when the crop cannot support it, so the field it judges counts as unknown.

A head that abstains is removed from the crop's :class:`~classifiers.types.Classification`, exactly as if no model
produced it: the watchlist matcher then treats the field as it treats a field no loaded head can judge (an entry
that needs it cannot match on this view; neither a "yes" nor a "no" is claimed), and track fusion fuses the head
over the views that kept it. The rules (:class:`~classifiers.settings.AbstentionSettings`):

======================  ===========================================================================================
heads                   abstain when
======================  ===========================================================================================
``make``, ``make_model``  the box's shorter side is below ``make_min_box_side`` (badges are not legible)
``color``, ``color_shade``  the body region's mean luminance is outside [``color_min_luminance``,
                        ``color_max_luminance``], or more than ``color_max_clipped`` of its pixels are clipped
``color_shade``         also: its top probability is below ``shade_min_confidence`` (the shade is not decided)
======================  ===========================================================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from classifiers.crops import ImageArray
from classifiers.settings import AbstentionSettings
from classifiers.types import Classification

MAKE_HEADS = frozenset({"make", "make_model"})
COLOR_HEADS = frozenset({"color", "color_shade"})
SHADE_HEAD = "color_shade"
CLIP_LOW = 4
CLIP_HIGH = 251
"""Luminance at or below ``CLIP_LOW`` / at or above ``CLIP_HIGH`` counts as clipped."""
BODY_REGION = (0.15, 0.85, 0.2, 0.85)
"""The body region inside the box (x from, x to, y from, y to, as fractions of the box): paint, little road."""


@dataclass(frozen=True, slots=True)
class CropFacts:
    """What the rules look at for one box.

    Attributes:
        box_side: the box's shorter side inside the frame, pixels, before any margin.
        luminance: mean luminance (0-255, BT.601) of the box's body region.
        clipped: share of the body region's pixels at or below ``CLIP_LOW`` or at or above ``CLIP_HIGH``.
    """

    box_side: float
    luminance: float
    clipped: float


def crop_facts(image: ImageArray, box: NDArray[np.floating]) -> CropFacts:
    """The facts of ``box`` (x1, y1, x2, y2 in ``image`` pixels) in the BGR ``image``."""
    height, width = image.shape[:2]
    x1, y1 = max(float(box[0]), 0.0), max(float(box[1]), 0.0)
    x2, y2 = min(float(box[2]), float(width)), min(float(box[3]), float(height))
    side = max(min(x2 - x1, y2 - y1), 0.0)
    fx1, fx2, fy1, fy2 = BODY_REGION
    bx1, bx2 = int(x1 + fx1 * (x2 - x1)), int(np.ceil(x1 + fx2 * (x2 - x1)))
    by1, by2 = int(y1 + fy1 * (y2 - y1)), int(np.ceil(y1 + fy2 * (y2 - y1)))
    region = image[by1:by2, bx1:bx2]
    if region.size == 0:
        return CropFacts(side, float("nan"), float("nan"))
    grey = cv2.cvtColor(np.ascontiguousarray(region), cv2.COLOR_BGR2GRAY)
    clipped = float(np.mean((grey <= CLIP_LOW) | (grey >= CLIP_HIGH)))
    return CropFacts(side, float(grey.mean()), clipped)


def abstaining_heads(
    heads: Sequence[str], facts: CropFacts, top: dict[str, float], rules: AbstentionSettings
) -> dict[str, str]:
    """Head → why it abstains, for the heads of one crop that abstain under ``rules``.

    Args:
        heads: the crop's head names.
        facts: the crop's size and exposure.
        top: head → its top probability (after calibration).
        rules: the limits.

    Example:
        >>> facts = CropFacts(box_side=50, luminance=120, clipped=0.0)
        >>> abstaining_heads(["make", "color"], facts, {"make": 0.9, "color": 0.8}, AbstentionSettings())
        {'make': 'box 50 px < 88 px'}
    """
    if not rules.enabled:
        return {}
    out: dict[str, str] = {}
    for head in heads:
        if head in MAKE_HEADS and facts.box_side < rules.make_min_box_side:
            out[head] = f"box {facts.box_side:.0f} px < {rules.make_min_box_side} px"
        elif head in COLOR_HEADS and _badly_exposed(facts, rules):
            out[head] = f"exposure: mean luminance {facts.luminance:.0f}, {100 * facts.clipped:.0f} % clipped"
        elif head == SHADE_HEAD and top.get(head, 1.0) < rules.shade_min_confidence:
            out[head] = f"undecided ({top[head]:.2f} < {rules.shade_min_confidence:g})"
    return out


def _badly_exposed(facts: CropFacts, rules: AbstentionSettings) -> bool:
    if np.isnan(facts.luminance):
        return False  # no body region to judge (a degenerate box): leave it to the classifier
    dark = facts.luminance < rules.color_min_luminance
    bright = facts.luminance > rules.color_max_luminance
    return dark or bright or facts.clipped > rules.color_max_clipped


def apply_abstention(
    classifications: Sequence[Classification], facts: Sequence[CropFacts], rules: AbstentionSettings
) -> list[Classification]:
    """Each classification without the heads that abstain on its crop."""
    out: list[Classification] = []
    for classification, crop in zip(classifications, facts, strict=True):
        heads = classification.heads
        top = {name: float(scores.probs.max()) for name, scores in heads.items()}
        dropped = abstaining_heads(tuple(heads), crop, top, rules)
        out.append(Classification({n: s for n, s in heads.items() if n not in dropped}) if dropped else classification)
    return out
