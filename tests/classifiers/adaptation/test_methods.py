"""The candidate methods and their honest (leave-one-vehicle-out) selection, on probability vectors."""

from __future__ import annotations

import numpy as np

from classifiers.adaptation.fit import FieldData, fit
from classifiers.adaptation.metric import CANT, VehicleViews, cross_fitted_thresholds, figures, outcomes
from classifiers.adaptation.select import held_out_outputs, select_method

LABELS = ("black", "grey", "silver", "white", "red")
GREY, SILVER = 1, 2


def _camera(vehicles: int, seed: int = 0, grey_for_silver: float = 4.0) -> FieldData:
    """Three views per vehicle; on this camera the head says 'grey' for every silver vehicle."""
    rng = np.random.default_rng(seed)
    probs, owner, truth = [], [], []
    for v in range(vehicles):
        label = (GREY, SILVER, SILVER, 0, 3, 4)[v % 6]
        truth.append(label)
        for _ in range(3):
            logits = rng.normal(0, 1, len(LABELS))
            logits[label] += 3.0
            if label == SILVER:
                logits[GREY] += grey_for_silver
            p = np.exp(logits)
            probs.append(p / p.sum())
            owner.append(v)
    return FieldData("color", LABELS, np.array(probs), VehicleViews(np.array(owner), np.array(truth)))


def test_a_systematic_camera_bias_is_fixed_and_measured_honestly() -> None:
    data = _camera(24)
    chosen = select_method(data)
    base, after = chosen.candidates["base"], chosen.candidates[chosen.method]
    assert chosen.method != "base"
    assert base.accuracy is not None
    assert base.accuracy < 0.8
    assert after.correct >= base.correct + 6
    assert after.utility > base.utility
    # Fresh silver vehicles from the same camera come out silver.
    fresh = _camera(12, seed=5)
    silver_views = fresh.views.truth[fresh.views.view_vehicle] == SILVER
    adapted = chosen.adaptation.adapt(fresh.probs[silver_views])
    assert (adapted.argmax(axis=1) == SILVER).mean() > 0.8
    assert (fresh.probs[silver_views].argmax(axis=1) == SILVER).mean() < 0.3


def test_with_few_labels_the_prior_moves_little() -> None:
    few, many = _camera(3), _camera(60)
    everything = np.ones(len(few.probs), bool)
    small = fit("prior", few, everything)
    large = fit("prior", many, np.ones(len(many.probs), bool))
    assert np.abs(small.bias).max() < np.abs(large.bias).max()


def test_memory_never_remembers_the_vehicle_it_is_scored_on() -> None:
    """Labels that are pure noise: in-sample the memory is perfect, held out it must fall to chance."""
    rng = np.random.default_rng(3)
    n_vehicles = 40
    owner = np.repeat(np.arange(n_vehicles), 3)
    centre = rng.dirichlet(np.ones(len(LABELS)) * 0.3, n_vehicles)
    probs = np.clip(centre[owner] + rng.normal(0, 0.002, (len(owner), len(LABELS))), 1e-4, None)
    probs /= probs.sum(axis=1, keepdims=True)
    truth = rng.integers(0, len(LABELS), n_vehicles)
    data = FieldData("color", LABELS, probs, VehicleViews(owner, truth))
    memory = fit("memory", data, np.ones(len(probs), bool))
    in_sample = figures(outcomes(memory.adapt(probs), data.views), data.views, 0.0)
    held = figures(outcomes(held_out_outputs("memory", data, memory), data.views), data.views, 0.0)
    assert in_sample.correct >= 0.7 * n_vehicles
    assert held.correct <= 0.45 * n_vehicles


def test_held_out_fits_never_see_their_vehicle() -> None:
    """Leave-one-vehicle-out of the fitted methods equals refitting without that vehicle by hand."""
    data = _camera(9)
    full = fit("head", data, np.ones(len(data.probs), bool))
    held = held_out_outputs("head", data, full)
    own = data.views.view_vehicle == 4
    by_hand = fit("head", data, ~own).adapt(data.probs[own])
    np.testing.assert_allclose(held[own], by_hand, atol=2e-3)


def test_thresholds_are_cross_fitted_and_cant_tell_votes_for_abstaining() -> None:
    # Confident right vehicles, and unsure ones the operator could not tell: the threshold should abstain on the
    # unsure ones, but each vehicle's own threshold is fitted without it.
    confident = np.array([[0.95, 0.05]] * 4)
    unsure = np.array([[0.55, 0.45]] * 4)
    probs = np.vstack([confident, unsure])
    data = VehicleViews(np.arange(8), np.array([0, 0, 0, 0, CANT, CANT, CANT, CANT]))
    found = outcomes(probs, data)
    thresholds = cross_fitted_thresholds(found)
    assert np.all((thresholds > 0.55) & (thresholds <= 0.95))
    result = figures(found, data, thresholds)
    assert (result.named, result.correct, result.named_cant_tell) == (4, 4, 0)
