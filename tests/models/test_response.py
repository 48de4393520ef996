"""Response curves: adstock, Hill, the grid fit with block-bootstrap draws, recovery of known curves."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from models.adstock import geometric_adstock
from models.response import (
    ResponseCurve,
    ScaledResponse,
    adstock_matrix,
    block_bootstrap_weights,
    hill,
    hill_derivative,
    rate_on_resamples,
)
from xmo.simulator.world import build_world


def test_adstock_settles_at_constant_spend_and_carries_over() -> None:
    flat = geometric_adstock(np.full(30, 100.0), 0.5)
    np.testing.assert_allclose(flat, 100.0)
    pulse = geometric_adstock(np.array([100.0, 0, 0, 0]), 0.5)
    np.testing.assert_allclose(pulse, [100.0, 50.0, 25.0, 12.5])
    spend = np.array([10.0, 0.0, 30.0, 5.0])
    loop, level = [], spend[0]
    for s in spend:
        level = 0.3 * s + 0.7 * level
        loop.append(level)
    np.testing.assert_allclose(geometric_adstock(spend, 0.7), loop)
    np.testing.assert_allclose(adstock_matrix(spend, [0.0, 0.7])[1], loop)
    np.testing.assert_allclose(adstock_matrix(spend, [0.0, 0.7])[0], spend)


def test_hill_and_its_derivative() -> None:
    assert float(hill(300.0, 300.0, 1.7)) == pytest.approx(0.5)
    assert float(hill(0.0, 300.0, 1.7)) == 0.0
    assert float(hill(1e200, 1.0, 3.0)) == pytest.approx(1.0)
    x = np.array([10.0, 200.0, 900.0])
    numeric = (200 * hill(x + 1e-4, 300, 1.4) - 200 * hill(x - 1e-4, 300, 1.4)) / 2e-4
    np.testing.assert_allclose(hill_derivative(x, 200.0, 300.0, 1.4), numeric, rtol=1e-5)


def test_block_bootstrap_weights_resample_whole_days() -> None:
    weights = block_bootstrap_weights(30, 50, 7, seed=3)
    assert weights.shape == (50, 30)
    np.testing.assert_allclose(weights.sum(axis=1), 30.0)
    assert np.all(weights >= 0) and np.all(weights == np.round(weights))
    assert not np.allclose(weights, 1.0), "a resample is not the original days"
    np.testing.assert_array_equal(weights, block_bootstrap_weights(30, 50, 7, seed=3))


def simulated_curve(
    beta: float, half: float, decay: float, base: float, seed: int, days: int = 90, wiggle: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    spend = base * np.exp(rng.normal(0, wiggle, days))
    sessions = rng.poisson(beta * hill(geometric_adstock(spend, decay), half, 1.0))
    return spend, sessions


def test_fitted_curve_tracks_the_truth_within_the_spend_range() -> None:
    spend, sessions = simulated_curve(beta=400, half=300, decay=0.3, base=300, seed=1)
    curve = ResponseCurve(n_bootstrap=60).fit(spend, sessions)
    for level in (150.0, 300.0, 600.0):
        truth = 400 * hill(np.array(level), 300, 1.0)
        assert float(curve.steady_state(level)) == pytest.approx(float(truth), rel=0.1)
        low, high = curve.steady_state_interval(level)
        assert low < high
        assert low <= float(curve.steady_state(level)) * 1.02 and high >= float(curve.steady_state(level)) * 0.98
    assert curve.decay_ == pytest.approx(0.3, abs=0.1), "the carry-over is identified when spend varies"
    grid = np.linspace(0, 2000, 50)
    assert np.all(np.diff(curve.steady_state(grid)) >= -1e-9), "more spend never lowers the expected outcome"
    assert curve.bootstrap_params_.shape == (60, 3) and curve.bootstrap_weights_.shape == (60, 90)


def true_steady_state(world_curve, spend: float) -> float:  # type: ignore[no-untyped-def]
    """The simulator's steady state: its adstock ``a = s + decay·a`` settles at ``s / (1 - decay)``."""
    settled = spend / (1.0 - world_curve.adstock_decay)
    return float(world_curve.sessions(np.array([settled]))[0])


def test_fit_recovers_the_simulators_campaign_curves() -> None:
    """On a simulated world's campaigns (their own spend plans, Poisson sessions) the fit is near the truth."""
    world = build_world(seed=5, days=120, visitors_per_day=5000)
    rng = np.random.default_rng(0)
    errors = []
    for campaign in world.campaigns:
        spend = np.asarray(campaign.daily_spend)
        sessions = rng.poisson(campaign.expected_sessions())
        curve = ResponseCurve(n_bootstrap=20).fit(spend, sessions)
        level = float(spend[-28:].mean()) or float(spend.mean())
        for x in (0.75 * level, level, 1.25 * level):
            truth = true_steady_state(campaign.response, x)
            errors.append(abs(float(curve.steady_state(x)) - truth) / truth)
        assert curve.decay_ == pytest.approx(campaign.response.adstock_decay, abs=0.1), campaign.id
    assert np.median(errors) < 0.02
    assert np.max(errors) < 0.06


def test_bootstrap_interval_covers_the_truth_in_most_replications() -> None:
    """90 % intervals at the average spend cover the true steady state in most of 40 seeded replications."""
    covered = 0
    for seed in range(40):
        spend, sessions = simulated_curve(beta=120, half=250, decay=0.4, base=250, seed=100 + seed, days=60)
        curve = ResponseCurve(n_bootstrap=100, random_state=seed).fit(spend, sessions)
        low, high = curve.steady_state_interval(250.0)
        covered += low <= 60.0 <= high
    assert covered >= 33, f"covered {covered} of 40"


def test_flat_spend_gives_a_sane_curve_through_the_observed_level() -> None:
    rng = np.random.default_rng(4)
    spend = 500 * np.exp(rng.normal(0, 0.02, 40))
    sessions = rng.poisson(80, 40)
    curve = ResponseCurve(n_bootstrap=30).fit(spend, sessions)
    assert curve.spend_variation_ < 0.05
    assert float(curve.steady_state(500.0)) == pytest.approx(80, rel=0.1)
    assert 0.0 < curve.marginal(500.0) < 80 / 500, "the prior keeps it concave: below the average return"
    assert np.all(np.isfinite(curve.steady_state_draws(2000.0)))
    assert float(np.median(curve.steady_state_draws(1000.0))) < 3 * 80


def test_curve_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="7 days"):
        ResponseCurve().fit(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="negative"):
        ResponseCurve().fit(-np.ones(10), np.ones(10))
    with pytest.raises(ValueError, match="days with spend"):
        ResponseCurve().fit(np.zeros(10), np.ones(10))
    with pytest.raises(ValueError, match="same days"):
        ResponseCurve().fit(np.ones(10), np.ones(9))


def test_estimator_contract_and_reproducibility() -> None:
    spend, sessions = simulated_curve(beta=200, half=300, decay=0.2, base=300, seed=9, days=30)
    model = ResponseCurve(n_bootstrap=10, random_state=2)
    assert clone(model).get_params() == model.get_params()
    assert not hasattr(model, "beta_")
    a, b = clone(model).fit(spend, sessions), clone(model).fit(spend, sessions)
    np.testing.assert_array_equal(a.bootstrap_params_, b.bootstrap_params_)
    assert a.predict(spend).shape == spend.shape


def test_scaled_response_multiplies_draws_by_the_aligned_rate() -> None:
    spend, sessions = simulated_curve(beta=200, half=300, decay=0.2, base=300, seed=11, days=42)
    curve = ResponseCurve(n_bootstrap=40).fit(spend, sessions)
    conversions = np.random.default_rng(0).binomial(sessions, 0.05)
    rate, draws = rate_on_resamples(conversions, sessions, curve.bootstrap_weights_, prior_mean=0.05, prior_weight=100)
    assert rate == pytest.approx((conversions.sum() + 5) / (sessions.sum() + 100))
    assert draws.shape == (40,) and draws.std() > 0
    scaled = ScaledResponse(curve, rate, draws)
    np.testing.assert_allclose(scaled.steady_state(300.0), rate * curve.steady_state(300.0))
    np.testing.assert_allclose(scaled.steady_state_draws(300.0), curve.steady_state_draws(300.0) * draws)
    beta, half, shape = scaled.hill_parameters()
    assert beta == pytest.approx(curve.beta_ * rate) and half == curve.half_saturation_ and shape == curve.shape_
    no_conversions, _ = rate_on_resamples(np.zeros(42), sessions, curve.bootstrap_weights_, 0.02, 200)
    assert 0 < no_conversions < 0.02, "no conversions yet shrinks toward the prior, not to exactly zero"
