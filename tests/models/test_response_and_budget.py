from __future__ import annotations

import numpy as np
import pytest

from core.errors import InvalidInput
from models.budget import allocate_budget
from models.response import ResponseCurve, geometric_adstock, hill


def test_adstock_settles_at_constant_spend_and_carries_over() -> None:
    flat = geometric_adstock(np.full(30, 100.0), 0.5)
    np.testing.assert_allclose(flat, 100.0)
    pulse = geometric_adstock(np.array([100.0, 0, 0, 0]), 0.5)
    assert pulse[1] > 0 and pulse[2] < pulse[1] and pulse[3] < pulse[2]


def simulated_curve(beta: float, half: float, decay: float, base: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    spend = base * np.exp(rng.normal(0, 0.5, 90))
    sessions = rng.poisson(beta * hill(geometric_adstock(spend, decay), half, 1.0))
    return spend, sessions


def test_fitted_curve_tracks_the_truth_within_the_spend_range() -> None:
    spend, sessions = simulated_curve(beta=400, half=300, decay=0.3, base=300, seed=1)
    curve = ResponseCurve(n_bootstrap=30).fit(spend, sessions)
    for level in (150.0, 300.0, 600.0):
        truth = 400 * hill(np.array(level), 300, 1.0)
        assert float(curve.steady_state(level)) == pytest.approx(float(truth), rel=0.15)
        low, high = curve.steady_state_interval(level)
        assert low <= float(curve.steady_state(level)) * 1.02 and high >= float(curve.steady_state(level)) * 0.98
    grid = np.linspace(0, 2000, 50)
    assert np.all(np.diff(curve.steady_state(grid)) >= -1e-9), "more spend never lowers the expected outcome"


def test_curve_rejects_too_little_data() -> None:
    with pytest.raises(ValueError, match="7 days"):
        ResponseCurve().fit(np.ones(3), np.ones(3))


def test_budget_moves_to_the_unsaturated_campaign_and_respects_bounds() -> None:
    saturated = ResponseCurve(n_bootstrap=5).fit(*simulated_curve(100, 50, 0.0, 400, 2))
    hungry = ResponseCurve(n_bootstrap=5).fit(*simulated_curve(400, 2000, 0.0, 400, 3))
    plan = allocate_budget(
        {"saturated": saturated, "hungry": hungry},
        {"saturated": 400, "hungry": 400},
        total=800,
        min_ratio=0.5,
        max_ratio=2.0,
    )
    by_id = {a.campaign_id: a for a in plan.allocations}
    assert sum(a.recommended_spend for a in plan.allocations) == pytest.approx(800)
    assert by_id["hungry"].recommended_spend > 400 > by_id["saturated"].recommended_spend
    assert by_id["saturated"].recommended_spend >= 200 - 1e-6
    assert plan.expected_outcome_recommended >= plan.expected_outcome_baseline
    assert plan.expected_lift > 0


def test_budget_weights_and_errors() -> None:
    a = ResponseCurve(n_bootstrap=5).fit(*simulated_curve(200, 300, 0.0, 300, 4))
    b = ResponseCurve(n_bootstrap=5).fit(*simulated_curve(200, 300, 0.0, 300, 5))
    plan = allocate_budget({"a": a, "b": b}, {"a": 300, "b": 300}, 600, weights={"a": 0.10, "b": 0.01})
    by_id = {x.campaign_id: x for x in plan.allocations}
    assert by_id["a"].recommended_spend > by_id["b"].recommended_spend, "money follows conversions per session"
    with pytest.raises(InvalidInput):
        allocate_budget({"a": a}, {"a": 300}, total=-1)
    with pytest.raises(InvalidInput):
        allocate_budget({"a": a}, {"a": 300}, total=100, min_ratio=2.0)
