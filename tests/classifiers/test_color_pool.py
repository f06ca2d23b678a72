"""Colour vocabulary, member label maps with abstention, the log-linear pool and its grouped cross-validation, and
the confusion-aware similarity."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from classifiers.color.labels import COLOR_LABELS, INDEX, base_color, label_map
from classifiers.color.pool import PoolParams, fit_pool, grouped_cross_val, pool_log_probs
from classifiers.color.similarity import MAX_PARTIAL, match_score, similarity, similarity_matrix

OMZ = ("white", "gray", "yellow", "red", "green", "blue", "black")
SPECTRICO = (
    "black white grey silver blue red green brown beige golden bordeaux yellow violet orange".split()  # noqa: SIM905
)


@pytest.mark.parametrize(
    ("label", "expected"),
    [("Gray", ("grey", None)), ("bordeaux", ("red", "dark")), ("golden", ("gold", None)), ("navy", ("blue", "dark"))],
)
def test_base_color(label: str, expected: tuple[str, str | None]) -> None:
    assert base_color(label) == expected


def test_unknown_colours_are_none() -> None:
    assert base_color("pink") is None
    with pytest.raises(ValueError, match="none of the labels"):
        label_map(["car", "bus"])


def test_spectrico_covers_the_vocabulary_and_folds_bordeaux_into_red() -> None:
    lm = label_map(SPECTRICO)
    assert lm.missing == ()
    probs = np.zeros((1, len(SPECTRICO)), np.float32)
    probs[0, SPECTRICO.index("bordeaux")] = 0.6
    probs[0, SPECTRICO.index("red")] = 0.4
    out = lm.apply(probs, floor=0.0)
    assert out[0, INDEX["red"]] == pytest.approx(1.0)


def test_a_member_without_silver_abstains_between_silver_and_white() -> None:
    lm = label_map(OMZ)
    assert set(lm.missing) == {"silver", "brown", "beige", "gold", "orange", "purple"}
    probs = np.zeros((1, len(OMZ)), np.float32)
    probs[0, OMZ.index("white")] = 0.7
    probs[0, OMZ.index("gray")] = 0.3
    out = lm.apply(probs)
    assert out[0, INDEX["silver"]] == pytest.approx(out[0, INDEX["white"]])  # neither for nor against silver
    assert out[0, INDEX["silver"]] > out[0, INDEX["grey"]]
    assert out.sum() == pytest.approx(1.0)
    assert out.min() > 0  # floored: no member can veto a colour


def test_label_map_shape_checked() -> None:
    with pytest.raises(ValueError, match="shape"):
        label_map(OMZ).apply(np.zeros((2, 3), np.float32))


def synthetic_members(n: int, seed: int) -> tuple[list[np.ndarray[Any, Any]], np.ndarray[Any, Any]]:
    """Two noisy members over 4 colours: the first twice as informative as the second."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    members = []
    for strength in (2.0, 1.0):
        logits = rng.normal(0, 1, (n, 4))
        logits[np.arange(n), y] += strength
        members.append(logits - np.log(np.exp(logits).sum(axis=1, keepdims=True)))
    return members, y


def test_pool_fits_more_weight_to_the_better_member() -> None:
    members, y = synthetic_members(2000, 0)
    params = fit_pool(members, y)
    assert params.weights[0] > params.weights[1] > 0
    assert params.biases[0] == 0.0  # the reference colour
    pooled = pool_log_probs(members, params).argmax(axis=1)
    alone = members[0].argmax(axis=1)
    assert (pooled == y).mean() >= (alone == y).mean()


def test_pool_biases_stay_zero_for_colours_without_examples() -> None:
    members, y = synthetic_members(500, 1)
    y = np.where(y == 3, -1, y)  # colour 3 never labelled (and -1 rows are ignored)
    params = fit_pool(members, y)
    assert params.biases[3] == 0.0


def test_pool_learns_a_prior() -> None:
    # Uninformative members and a data set that is mostly colour 2: the bias carries the prior.
    n = 400
    flat = [np.full((n, 4), np.log(0.25))]
    y = np.where(np.arange(n) % 4 == 0, 1, 2)
    params = fit_pool(flat, y, bias_penalty=0.0)
    probs = np.exp(pool_log_probs(flat, params))[0]
    assert probs[2] == pytest.approx(0.75, abs=0.02)


def test_grouped_cross_val_never_fits_on_the_held_out_group() -> None:
    # Group "b" is labelled against the members' evidence; a pool fitted with it would learn that, one without
    # it cannot, so "b" is predicted as the members say.
    members, y = synthetic_members(600, 2)
    groups = np.where(np.arange(600) < 300, "a", "b")
    flipped = np.where(groups == "b", (members[0].argmax(axis=1) + 1) % 4, y)
    probs, fitted = grouped_cross_val(members, flipped, groups.tolist())
    assert set(fitted) == {"a", "b"}
    held_b = groups == "b"
    assert (probs[held_b].argmax(axis=1) == members[0][held_b].argmax(axis=1)).mean() > 0.7


def test_grouped_cross_val_with_extra_set() -> None:
    members, y = synthetic_members(300, 3)
    extra_members, extra_y = synthetic_members(200, 4)
    groups = ["a", "b", "c"] * 100
    probs, fitted = grouped_cross_val(members, y, groups, extra=(extra_members, extra_y, 0.5))
    assert probs.shape == (300, 4)
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert len(fitted) == 3


@pytest.mark.parametrize(
    ("members", "params", "error"),
    [
        ([np.zeros((2, 4))], PoolParams((1.0, 1.0), (0.0,) * 4), "member weights"),
        ([np.zeros((2, 3))], PoolParams((1.0,), (0.0,) * 4), r"\(N, 4\)"),
    ],
)
def test_pool_shape_errors(members: list[np.ndarray[Any, Any]], params: PoolParams, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        pool_log_probs(members, params)


def test_fit_needs_labelled_rows() -> None:
    with pytest.raises(ValueError, match="no rows"):
        fit_pool([np.zeros((3, 4))], np.full(3, -1))


@pytest.mark.parametrize(
    ("wanted", "label", "shade", "expected"),
    [
        ("silver", "silver", None, 1.0),
        ("gray", "grey", None, 1.0),
        ("silver", "grey", None, 0.5),
        ("silver", "white", None, 0.5),
        ("grey", "black", "dark", 0.5),
        ("grey", "black", "light", 0.0),
        ("navy", "black", None, 0.5),  # navy is dark blue
        ("blue", "black", "dark", 0.5),
        ("blue", "black", None, 0.2),
        ("black", "blue", None, 0.3),
        ("red", "blue", None, 0.0),
        ("teal", "teal", None, 1.0),  # unknown colours match only themselves
    ],
)
def test_similarity(wanted: str, label: str, shade: Any, expected: float) -> None:
    assert similarity(wanted, label, shade) == pytest.approx(expected)


def test_partial_credit_is_capped_and_the_diagonal_is_one() -> None:
    matrix = similarity_matrix()
    assert np.all(np.diag(matrix) == 1.0)
    off = matrix[~np.eye(len(COLOR_LABELS), dtype=bool)]
    assert off.max() <= MAX_PARTIAL


def test_match_score_sums_credit() -> None:
    probs = np.zeros(len(COLOR_LABELS), np.float32)
    probs[INDEX["grey"]] = 0.6
    probs[INDEX["silver"]] = 0.4
    assert match_score(probs, "silver") == pytest.approx(0.4 + 0.6 * 0.5)
    assert match_score({"black": 0.8, "blue": 0.2}, "blue", "dark") == pytest.approx(0.2 + 0.8 * 0.5)
