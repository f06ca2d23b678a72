"""The matcher's precomputed plan for one set of classifier heads: every entry's label weights, built once.

Matching runs per crop on the hot path; everything that depends only on the entries and on the heads' label lists
(which head judges which field, each label's weight, which entries can match at all and why not) is computed here
once per set of heads, so a crop costs one ``probs @ weights`` product per head for all entries together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from watchlists.colors import confusion_row
from watchlists.entry_model import WatchlistEntry
from watchlists.field_weights import (
    COLOR_HEAD,
    SHADE_HEAD,
    WANTED_HEAD,
    ColorScoring,
    LabelKeys,
    Weights,
    describe_field,
    field_weights,
    pick_heads,
    shade_weights,
)
from watchlists.match_result import UnmatchableField


@dataclass(frozen=True, slots=True)
class HeadGroup:
    """All entries judged on one head: column j of ``weights`` is entry ``columns[j]``'s joint label weights."""

    head: str
    weights: Weights
    columns: NDArray[np.intp]


@dataclass(frozen=True, slots=True)
class FieldWeights:
    """One judged field of an entry: the head that judges it and its labels' weights."""

    field: str
    head: str
    weights: Weights
    uncertain: bool


@dataclass(frozen=True)
class Plan:
    """Everything :meth:`watchlists.matching.Matcher.match` needs for one set of heads, computed once."""

    signature: dict[str, tuple[str, ...]]
    groups: tuple[HeadGroup, ...]
    matchable: NDArray[np.bool_]
    field_weights: tuple[tuple[FieldWeights, ...], ...]
    """Per entry: every judged field's label weights, for the field scores and breakdown of a match."""
    factor_heads: tuple[tuple[tuple[str, tuple[str, ...]], ...], ...]
    """Per entry: (head, certain fields on it) of each factor."""
    unmatchable: tuple[UnmatchableField, ...]


def build_plan(
    entries: Sequence[WatchlistEntry],
    thresholds: Sequence[float] | NDArray[np.float64],
    signature: dict[str, tuple[str, ...]],
    *,
    known_makes: frozenset[str],
    colors: ColorScoring,
) -> Plan:
    """The plan for the heads of ``signature`` (head name → labels).

    Args:
        entries: the watchlist's entries.
        thresholds: each entry's threshold, in entry order.
        signature: head name → its labels.
        known_makes: compact forms of the watchlist's makes (multi-word makes in make+model labels).
        colors: how colours are scored (partial credit, a measured table, shades).
    """
    label_keys = {head: LabelKeys(head, labels, known_makes) for head, labels in signature.items()}
    columns: dict[str, list[tuple[int, Weights]]] = {}
    matchable = np.zeros(len(entries), dtype=np.bool_)
    all_weights: list[tuple[FieldWeights, ...]] = []
    factor_heads: list[tuple[tuple[str, tuple[str, ...]], ...]] = []
    unmatchable: list[UnmatchableField] = []
    for index, entry in enumerate(entries):
        problems, weights = entry_weights(entry, label_keys, colors)
        all_weights.append(tuple(weights))
        joint, fields_on = _joint_weights(weights)
        factor_heads.append(tuple((head, tuple(names)) for head, names in fields_on.items()))
        if not any(problem.fatal for problem in problems):
            problem = joint_problem(entry, joint, fields_on, float(thresholds[index]), colors)
            if problem is not None:
                problems.append(problem)
        unmatchable.extend(problems)
        if any(problem.fatal for problem in problems):
            continue
        matchable[index] = True
        for head, mask in joint.items():
            columns.setdefault(head, []).append((index, mask))
    groups = tuple(
        HeadGroup(
            head,
            np.stack([mask for _, mask in cols], axis=1).astype(np.float32),
            np.array([index for index, _ in cols], dtype=np.intp),
        )
        for head, cols in columns.items()
    )
    return Plan(signature, groups, matchable, tuple(all_weights), tuple(factor_heads), tuple(unmatchable))


def entry_weights(
    entry: WatchlistEntry, label_keys: Mapping[str, LabelKeys], colors: ColorScoring
) -> tuple[list[UnmatchableField], list[FieldWeights]]:
    """Each judged field's label weights, and a problem for each field no loaded head can judge.

    A dark/light colour shade is one more factor on the ``color_shade`` head (listed under the field ``color``)
    where that head is present; where it abstained the shade is not judged, neither for nor against.
    """
    problems: list[UnmatchableField] = []
    weights: list[FieldWeights] = []
    for name, head in pick_heads(entry, label_keys).items():
        uncertain = name in entry.uncertain
        if head is None:
            loaded = ", ".join(repr(h) for h in label_keys) or "none"
            reason = (
                f"{describe_field(entry, name)}: needs a {WANTED_HEAD[name]} classifier head, none is loaded "
                f"(loaded heads: {loaded})"
            )
            problems.append(UnmatchableField(entry.id, name, reason, fatal=not uncertain))
            continue
        mask, note = field_weights(entry, name, label_keys[head], colors)
        if not mask.any():
            why = note or f"no label of head {head!r} matches it"
            problems.append(UnmatchableField(entry.id, name, f"{describe_field(entry, name)}: {why}", not uncertain))
            continue
        weights.append(FieldWeights(name, head, mask, uncertain))
    shade = shade_weights(entry, label_keys, colors)
    if shade is not None and any(item.field == "color" for item in weights):
        weights.append(FieldWeights("color", SHADE_HEAD, shade, False))
    return problems, weights


def _joint_weights(weights: Sequence[FieldWeights]) -> tuple[dict[str, Weights], dict[str, list[str]]]:
    """Per head, the product of its certain fields' weights (fields on one head are judged jointly), and the
    fields it judges."""
    joint: dict[str, Weights] = {}
    fields_on: dict[str, list[str]] = {}
    for item in weights:
        if item.uncertain:
            continue
        joint[item.head] = joint[item.head] * item.weights if item.head in joint else item.weights
        fields_on.setdefault(item.head, []).append(item.field)
    return joint, fields_on


def joint_problem(
    entry: WatchlistEntry,
    joint: Mapping[str, Weights],
    fields_on: Mapping[str, list[str]],
    threshold: float,
    colors: ColorScoring | None = None,
) -> UnmatchableField | None:
    """The reason an entry can never reach its threshold although each field alone can be judged, if any."""
    empty = [head for head, weights in joint.items() if not weights.any()]
    if empty:
        names = fields_on[empty[0]]
        described = ", ".join(describe_field(entry, name) for name in names)
        reason = f"no label of head {empty[0]!r} has {described} together"
        return UnmatchableField(entry.id, "+".join(names), reason)
    best = float(np.prod([weights.max() for weights in joint.values()])) if joint else 1.0
    if best < threshold and entry.color is not None and "color" not in entry.uncertain:
        table = colors.table if colors is not None else None
        row = ", ".join(
            f"{name} {weight:g}" for name, weight in confusion_row(entry.color, entry.color_shade, table).items()
        )
        reason = (
            f"{describe_field(entry, 'color')}: no label of head {COLOR_HEAD!r} matches it; partial credit from "
            f"neighbouring colours ({row}) reaches at most {best:.2f}, below its threshold {threshold:g}"
        )
        if table is not None and table.row(entry.color) is not None:
            reason = (
                f"{describe_field(entry, 'color')}: in the measured colour table its labels are the colour too "
                f"rarely (credit from other colours: {row}); the score reaches at most {best:.2f}, below its "
                f"threshold {threshold:g}"
            )
        return UnmatchableField(entry.id, "color", reason)
    return None
