from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.metrics import log_loss

from core.errors import InvalidInput
from models.calibration import EPS, Calibrator, choose_calibration
from training.evaluation import expected_calibration_error


def outcomes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """True conversion probabilities (skewed low, like sessions) and simulated 0/1 outcomes."""
    rng = np.random.default_rng(seed)
    true_p = rng.beta(0.6, 3.0, n)
    return true_p, (rng.random(n) < true_p).astype(int)


def logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1 - p))


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def test_isotonic_fixes_a_squared_score() -> None:
    true_valid, y_valid = outcomes(8000, 1)
    true_test, y_test = outcomes(8000, 2)
    raw_valid, raw_test = true_valid**2, true_test**2
    calibrated = Calibrator("isotonic").fit(raw_valid, y_valid).transform(raw_test)
    raw_ece = expected_calibration_error(y_test, raw_test)
    assert raw_ece > 0.05, "the raw score is badly calibrated to begin with"
    assert expected_calibration_error(y_test, calibrated) < raw_ece / 3
    assert log_loss(y_test, calibrated) < log_loss(y_test, np.clip(raw_test, EPS, 1 - EPS)) - 0.01
    grid = np.linspace(0, 1, 201)
    mapped = Calibrator("isotonic").fit(raw_valid, y_valid).transform(grid)
    assert np.all(np.diff(mapped) >= 0), "isotonic calibration keeps the ranking"
    assert mapped.min() >= EPS and mapped.max() <= 1 - EPS


def test_choose_calibration_picks_a_calibration_for_a_miscalibrated_score() -> None:
    true_valid, y_valid = outcomes(8000, 3)
    true_test, y_test = outcomes(8000, 4)
    chosen = choose_calibration(true_valid**2, y_valid, folds=5, seed=0)
    assert chosen.method != "none"
    assert set(chosen.scores_) == {"none", "sigmoid", "isotonic"}
    assert chosen.scores_[chosen.method] < chosen.scores_["none"]
    raw_ece = expected_calibration_error(y_test, true_test**2)
    assert expected_calibration_error(y_test, chosen.transform(true_test**2)) < raw_ece / 3


def test_platt_fixes_a_logit_scaled_score() -> None:
    true_valid, y_valid = outcomes(10_000, 5)
    true_test, y_test = outcomes(10_000, 6)
    overconfident_valid = sigmoid(2 * logit(true_valid) + 1)
    overconfident_test = sigmoid(2 * logit(true_test) + 1)
    platt = Calibrator("sigmoid").fit(overconfident_valid, y_valid)
    # the inverse of z -> 2z + 1 is z -> 0.5z - 0.5
    assert platt.coef_ == pytest.approx(0.5, abs=0.05)
    assert platt.intercept_ == pytest.approx(-0.5, abs=0.1)
    calibrated = platt.transform(overconfident_test)
    np.testing.assert_allclose(calibrated, true_test, atol=0.03)
    assert log_loss(y_test, calibrated) < log_loss(y_test, overconfident_test) - 0.02
    assert choose_calibration(overconfident_valid, y_valid).method in {"sigmoid", "isotonic"}


def test_a_calibrated_score_is_left_alone() -> None:
    for seed in range(3):
        true_p, y = outcomes(5000, 10 + seed)
        chosen = choose_calibration(true_p, y, seed=seed)
        probe = np.linspace(0.01, 0.9, 50)
        assert chosen.method == "none" or np.max(np.abs(chosen.transform(probe) - probe)) < 0.03, chosen.scores_
    # "none" returns the very same numbers
    p = np.array([0.0, 0.2, 1.0])
    np.testing.assert_array_equal(Calibrator("none").fit(p, [0, 1, 1]).transform(p), p)


@pytest.mark.parametrize("method", ["isotonic", "sigmoid", "none"])
def test_json_round_trip_gives_the_same_probabilities(method: str) -> None:
    true_p, y = outcomes(3000, 20)
    calibrator = Calibrator(method).fit(true_p**1.5, y)  # type: ignore[arg-type]
    calibrator.scores_ = {"none": 0.4, "isotonic": 0.3}
    restored = Calibrator.from_dict(json.loads(json.dumps(calibrator.to_dict())))
    probe = np.random.default_rng(21).random(500)
    assert restored.method == method
    assert restored.scores_ == calibrator.scores_
    np.testing.assert_array_equal(restored.transform(probe), calibrator.transform(probe))


def test_chosen_calibrator_round_trips_with_its_scores() -> None:
    true_p, y = outcomes(4000, 22)
    chosen = choose_calibration(true_p**2, y)
    restored = Calibrator.from_dict(json.loads(json.dumps(chosen.to_dict())))
    assert restored.method == chosen.method and restored.scores_ == chosen.scores_
    np.testing.assert_array_equal(restored.transform(true_p), chosen.transform(true_p))


def test_bad_input_is_invalid_input() -> None:
    p = np.array([0.1, 0.4, 0.8, 0.3])
    with pytest.raises(InvalidInput, match="both classes"):
        Calibrator("isotonic").fit(p, [0, 0, 0, 0])
    with pytest.raises(InvalidInput, match="one label per probability"):
        Calibrator("sigmoid").fit(p, [0, 1, 1])
    with pytest.raises(InvalidInput, match=r"\[0, 1\]"):
        Calibrator("isotonic").fit([0.1, 1.2, 0.3, 0.5], [0, 1, 0, 1])
    with pytest.raises(InvalidInput, match=r"\[0, 1\]"):
        Calibrator("sigmoid").fit([0.1, np.nan, 0.3, 0.5], [0, 1, 0, 1])
    with pytest.raises(InvalidInput, match="0/1"):
        Calibrator("isotonic").fit(p, [0, 2, 1, 0])
    with pytest.raises(InvalidInput, match="unknown calibration method"):
        Calibrator("beta").fit([0.1, 0.9], [0, 1])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"\[0, 1\]"):
        Calibrator("none").transform([-0.1])
    with pytest.raises(InvalidInput, match="folds"):
        choose_calibration(p, [0, 1, 0, 1], folds=1)
    with pytest.raises(InvalidInput, match="both classes"):
        choose_calibration(p, [1, 1, 1, 1])
    with pytest.raises(InvalidInput, match="malformed"):
        Calibrator.from_dict({"method": "sigmoid", "coef": 1.0})
    with pytest.raises(InvalidInput, match="increasing"):
        Calibrator.from_dict({"method": "isotonic", "x": [0.5, 0.1], "y": [0.1, 0.2]})
    with pytest.raises(NotFittedError):
        Calibrator("isotonic").transform(p)


def test_too_few_conversions_to_cross_validate_means_none() -> None:
    p = np.linspace(0.05, 0.5, 40)
    y = np.zeros(40, dtype=int)
    y[-1] = 1
    chosen = choose_calibration(p, y)
    assert chosen.method == "none"
    assert set(chosen.scores_) == {"none"}


def test_a_reversed_score_is_never_turned_upside_down() -> None:
    # A model whose validation scores rank sessions backwards (an overfit on few conversions): Platt scaling
    # would fit a negative slope, beat "none" on log loss and reverse the ranking on every later session.
    true_valid, y_valid = outcomes(4000, 9)
    reversed_valid = sigmoid(-logit(true_valid) - 3)
    assert Calibrator("sigmoid").fit(reversed_valid, y_valid).keeps_order is False
    chosen = choose_calibration(reversed_valid, y_valid, folds=5, seed=0)
    assert chosen.method != "sigmoid" and chosen.keeps_order
    assert chosen.scores_["sigmoid"] == float("inf"), "a Platt fit that reversed the ranking is ruled out"
    grid = np.linspace(0.001, 0.999, 101)
    assert np.all(np.diff(chosen.transform(grid)) >= 0), "the chosen calibration keeps the model's ranking"


def test_the_calibrator_follows_the_scikit_learn_estimator_contract() -> None:
    from sklearn.base import clone

    calibrator = Calibrator("sigmoid")
    assert calibrator.get_params() == {"method": "sigmoid"} and vars(calibrator) == {"method": "sigmoid"}
    fitted = calibrator.fit(np.array([0.1, 0.4, 0.8, 0.3, 0.7, 0.2]), [0, 0, 1, 0, 1, 1])
    assert fitted is calibrator and fitted.coef_ > 0
    fresh = clone(fitted)
    assert fresh.get_params() == {"method": "sigmoid"} and not fresh.fitted
    unchecked = Calibrator("beta")  # type: ignore[arg-type]
    assert unchecked.get_params() == {"method": "beta"}, "__init__ only stores; fit checks"
