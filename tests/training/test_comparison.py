"""Paired bootstrap comparison of two models and the promotion verdict."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import log_loss, roc_auc_score

from core.errors import InvalidInput
from training.comparison import compare_predictions, promotion_verdict


def _world(n: int = 6000, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, their true probabilities, and a blurred (worse) copy of those probabilities."""
    rng = np.random.default_rng(seed)
    truth = 1 / (1 + np.exp(-rng.normal(-2.0, 1.2, n)))
    labels = (rng.random(n) < truth).astype(int)
    blurred = 1 / (1 + np.exp(-(np.log(truth / (1 - truth)) * 0.4 + rng.normal(-1.2, 0.8, n))))
    return labels, truth, blurred


def test_point_estimates_match_scikit_learn() -> None:
    labels, truth, blurred = _world()
    result = compare_predictions(labels, blurred, truth, n_boot=60)
    assert result["log_loss"].champion == pytest.approx(log_loss(labels, blurred))
    assert result["log_loss"].challenger == pytest.approx(log_loss(labels, truth))
    assert result["roc_auc"].challenger == pytest.approx(roc_auc_score(labels, truth))
    assert result["roc_auc"].advantage == pytest.approx(roc_auc_score(labels, truth) - roc_auc_score(labels, blurred))


def test_a_clearly_better_challenger_wins() -> None:
    labels, truth, blurred = _world()
    result = compare_predictions(labels, blurred, truth)
    assert result["log_loss"].significantly_better and result["roc_auc"].significantly_better
    assert result["log_loss"].ci_low <= result["log_loss"].advantage <= result["log_loss"].ci_high
    promote, reasons = promotion_verdict(result)
    assert promote and "significantly on at least one" in reasons[-1]
    assert reasons[0].startswith("log_loss ") and "95% CI" in reasons[0]


def test_a_clearly_worse_challenger_loses() -> None:
    labels, truth, blurred = _world()
    promote, reasons = promotion_verdict(compare_predictions(labels, truth, blurred))
    assert not promote and "significantly worse on log_loss and roc_auc" in reasons[-1]


def test_an_identical_challenger_is_noise_not_a_winner() -> None:
    labels, truth, _ = _world()
    jitter = np.clip(truth + np.random.default_rng(3).normal(0, 1e-6, len(truth)), 0, 1)
    result = compare_predictions(labels, truth, jitter)
    assert result["log_loss"].ci_low <= 0 <= result["log_loss"].ci_high
    promote, _ = promotion_verdict(result)
    assert not promote


def test_the_bootstrap_is_reproducible_and_checks_its_input() -> None:
    labels, truth, blurred = _world(800)
    assert compare_predictions(labels, blurred, truth, seed=5) == compare_predictions(labels, blurred, truth, seed=5)
    with pytest.raises(InvalidInput, match="same length"):
        compare_predictions(labels, truth[:-1], truth)
    with pytest.raises(InvalidInput, match="with and without conversions"):
        compare_predictions(np.zeros(10), np.full(10, 0.1), np.full(10, 0.2))
    with pytest.raises(InvalidInput, match="finite"):
        compare_predictions(labels, np.full(len(labels), np.nan), truth)
    with pytest.raises(InvalidInput, match="at least 50"):
        compare_predictions(labels, truth, truth, n_boot=10)
