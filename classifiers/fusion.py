"""Temporal fusion: one label distribution per head for a tracked vehicle, from the classifications of its views.

How views are fused (per head): the quality-weighted average of the views' log-probabilities, sharpened by the
number of views that have the head (a head that abstained on a view is absent from it) to the power
``agreement_exponent``, then normalised:

    fused ∝ exp( n^γ · Σ wᵢ log max(pᵢ, floor_mass / labels) / Σ wᵢ )

γ is per head where one is set (``FusionSettings.head_exponents``, or fitted on labelled vehicles by
``vehiclewatch watchlist calibrate``: how far a head's agreeing views really raise its accuracy, measured per
vehicle).

- One view gives back its own distribution.
- Views that agree raise the confidence: four views each giving "red" 0.8 and "blue" 0.2 fuse to 0.94 with γ = 0.5
  (γ = 1 would treat the views as independent evidence, which consecutive frames of one vehicle are not; γ = 0 is
  the plain geometric mean, whose confidence never rises).
- One outlier view cannot flip a label that the other views agree on: it moves the average log-probability by
  1/n of its difference, and a floor (``floor_mass`` spread over the labels) caps how strongly a single view can
  veto a label it gives ~0 to.
- Better views count more: the weight is the crop's quality (size and sharpness), so a close, sharp view outweighs
  a distant, blurred one.

Make and model are kept consistent (`reconcile_make`): a ``make_model`` head's probabilities summed per make give
make probabilities. Without a ``make`` head they become one; with one, the two are combined (geometric pool) over
the makes the make+model head knows, the make head keeping its own mass on the makes it alone knows; then the
make+model probabilities are rescaled so that their per-make sums equal the combined make probabilities.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from classifiers.settings import FusionSettings
from classifiers.types import Classification, HeadScores

MAKE_HEAD = "make"
MAKE_MODEL_HEAD = "make_model"
_MAX_MAKE_WORDS = 4


class FusionError(ValueError):
    """Views of one track cannot be fused (their heads or labels differ)."""


def _normalise_log(log_p: NDArray[np.float64]) -> NDArray[np.float32]:
    shifted = np.exp(log_p - log_p.max())
    probs: NDArray[np.float32] = (shifted / shifted.sum()).astype(np.float32)
    return probs


@dataclass
class _HeadSum:
    labels: tuple[str, ...]
    log_sum: NDArray[np.float64]
    weight: float = 0.0
    views: int = 1
    """Views that had this head (a head that abstained on a view, e.g. make on a tiny crop, is absent there)."""


@dataclass
class TrackFusion:
    """The running fusion of one track's classifications.

    Example:
        >>> from classifiers.types import HeadScores
        >>> red = Classification({"color": HeadScores("color", ("red", "blue"), np.array([0.8, 0.2], np.float32))})
        >>> fusion = TrackFusion(FusionSettings())
        >>> for _ in range(4):
        ...     fusion.add(red, weight=1.0)
        >>> round(float(fusion.fused().heads["color"].probs[0]), 3)
        0.941
    """

    settings: FusionSettings
    views: int = 0
    label_changes: int = 0
    """How many times a head's fused top-1 label changed after its first view (flicker, summed over heads)."""
    _heads: dict[str, _HeadSum] = field(default_factory=dict)
    _fused: Classification | None = None
    _top: dict[str, str] = field(default_factory=dict)

    def add(self, classification: Classification, weight: float = 1.0) -> None:
        """Adds one view; ``weight`` > 0 is its quality (e.g. from `streamer.recognize.quality.CropQuality.score`).

        Raises:
            FusionError: a head's labels differ from those of earlier views, or the weight is not positive.
        """
        if not weight > 0.0:
            raise FusionError(f"view weight must be > 0, got {weight}")
        for name, scores in classification.heads.items():
            floor = self.settings.floor_mass / max(len(scores.labels), 1)
            log_p = np.log(np.maximum(scores.probs.astype(np.float64), floor))
            acc = self._heads.get(name)
            if acc is None:
                self._heads[name] = _HeadSum(scores.labels, weight * log_p, weight)
                continue
            if acc.labels != scores.labels:
                raise FusionError(f"head {name!r}: labels differ from the track's earlier views")
            acc.log_sum += weight * log_p
            acc.weight += weight
            acc.views += 1
        self.views += 1
        self._fused = None
        fused = self.fused()
        for name, top in top_labels(fused).items():
            previous = self._top.get(name)
            if previous is not None and previous != top:
                self.label_changes += 1
            self._top[name] = top

    def fused(self) -> Classification:
        """The fused classification (empty before the first view)."""
        if self._fused is None:
            # Each head is sharpened by the views that judged it: a head absent from a view (it abstained there)
            # gains no confidence from that view. Each head has its own exponent where one was fitted on vehicles.
            exponent = self.settings.exponent
            self._fused = Classification(
                {
                    name: HeadScores(
                        name, acc.labels, _normalise_log(acc.views ** exponent(name) * acc.log_sum / acc.weight)
                    )
                    for name, acc in self._heads.items()
                }
            )
        return self._fused

    def confidence(self) -> dict[str, float]:
        """Head → the fused top-1 probability."""
        return {name: float(scores.probs.max()) for name, scores in self.fused().heads.items()}


def fuse(views: Sequence[tuple[Classification, float]], settings: FusionSettings | None = None) -> Classification:
    """Fuses ``(classification, weight)`` views at once (see the module doc); the same as `TrackFusion`.

    Raises:
        FusionError: no views, a non-positive weight, or heads whose labels differ between views.
    """
    if not views:
        raise FusionError("no views to fuse")
    fusion = TrackFusion(settings or FusionSettings())
    for classification, weight in views:
        fusion.add(classification, weight)
    return fusion.fused()


def top_labels(classification: Classification) -> dict[str, str]:
    """Head → its top-1 label."""
    return {name: scores.labels[int(np.argmax(scores.probs))] for name, scores in classification.heads.items()}


# --- make / make+model consistency -----------------------------------------------------------------------------


def _key(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


def make_of(label: str, make_keys: Mapping[str, int]) -> int | None:
    """Index of the make a make+model label belongs to, or None.

    ``"Make|Model|Year"`` labels name their make explicitly; otherwise the longest run of leading words that is a
    known make wins (``"Land Rover Range Rover 2012"`` → Land Rover), so multi-word makes need no list.

    Args:
        label: the make+model label.
        make_keys: normalised make (lower-case letters and digits only) → its index.
    """
    if "|" in label:
        return make_keys.get(_key(label.split("|", 1)[0]))
    words = [w for w in re.split(r"[^0-9A-Za-z]+", label) if w]
    for count in range(min(_MAX_MAKE_WORDS, len(words)), 0, -1):
        index = make_keys.get(_key("".join(words[:count])))
        if index is not None:
            return index
    return None


def _makes_from_labels(labels: Sequence[str]) -> tuple[str, ...]:
    """Make names read off make+model labels alone: the explicit part, else the first word."""
    makes: dict[str, str] = {}
    for label in labels:
        name = label.split("|", 1)[0].strip() if "|" in label else (label.split() or [""])[0]
        if name:
            makes.setdefault(_key(name), name)
    return tuple(makes.values())


def reconcile_make(classification: Classification) -> Classification:
    """Makes the ``make`` and ``make_model`` heads agree (see the module doc); other heads pass through.

    Returns the classification unchanged when it has no ``make_model`` head.
    """
    heads = dict(classification.heads)
    make_model = heads.get(MAKE_MODEL_HEAD)
    if make_model is None:
        return classification
    make = heads.get(MAKE_HEAD)
    make_labels = make.labels if make is not None else _makes_from_labels(make_model.labels)
    keys = {_key(label): i for i, label in enumerate(make_labels)}
    owner = np.array([-1 if (m := make_of(lbl, keys)) is None else m for lbl in make_model.labels], np.intp)
    known = owner >= 0
    if not known.any():
        return classification
    mm_probs = make_model.probs.astype(np.float64)
    from_mm: NDArray[np.float64] = np.bincount(
        owner[known], weights=mm_probs[known], minlength=len(make_labels)
    ).astype(np.float64)
    if make is None:
        combined = from_mm / max(from_mm.sum(), 1e-12)
    else:
        combined = _pool_make(
            make.probs.astype(np.float64), from_mm, np.bincount(owner[known], minlength=len(keys)) > 0
        )
    heads[MAKE_HEAD] = HeadScores(MAKE_HEAD, make_labels, combined.astype(np.float32))
    # Each make's models are rescaled (keeping their ratios) so that the per-make sums follow the combined make
    # probabilities; labels whose make is unknown keep their probability, so the total stays 1.
    shared = from_mm > 0
    target = combined * shared
    target *= from_mm.sum() / max(target.sum(), 1e-12)
    scale = np.divide(target, from_mm, out=np.zeros_like(target), where=shared)
    adjusted = np.where(known, mm_probs * scale[np.maximum(owner, 0)], mm_probs)
    heads[MAKE_MODEL_HEAD] = HeadScores(
        MAKE_MODEL_HEAD, make_model.labels, (adjusted / adjusted.sum()).astype(np.float32)
    )
    return Classification(heads)


def _pool_make(
    make: NDArray[np.float64], from_mm: NDArray[np.float64], shared: NDArray[np.bool_]
) -> NDArray[np.float64]:
    """Both heads' make probabilities combined over the makes both know; the make head's own mass elsewhere."""
    mass = make[shared].sum()
    mm_mass = from_mm[shared].sum()
    out = make.copy()
    if mass <= 0 or mm_mass <= 0:
        return out
    pooled = np.sqrt((make[shared] / mass) * (from_mm[shared] / mm_mass))
    out[shared] = mass * pooled / max(pooled.sum(), 1e-12)
    return out
