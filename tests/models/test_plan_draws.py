"""The optimiser re-run inside each draw: every draw's plan spends the total within the bounds, and its optimism."""

from __future__ import annotations

import numpy as np
import pytest

from models.allocation import sample_curves, solve_sampled
from models.plan_draws import draw_plans
from models.response import hill


class Noisy:
    """``beta·hill(x)`` whose draws scale beta and half saturation independently (so draws disagree on slopes)."""

    def __init__(self, beta: float, half: float, spread: float, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.beta, self.half = beta, half
        self.betas = beta * rng.lognormal(0.0, spread, 60)
        self.halves = half * rng.lognormal(0.0, spread, 60)

    def steady_state(self, daily_spend: float | np.ndarray) -> np.ndarray:
        return self.beta * hill(daily_spend, self.half, 1.0)

    def steady_state_draws(self, daily_spend: float) -> np.ndarray:
        return self.betas * hill(daily_spend, self.halves, 1.0)


def test_each_draw_plans_the_total_within_the_bounds_and_flatters_itself() -> None:
    curves = [Noisy(100, 80, 0.3, 1), Noisy(120, 120, 0.3, 2), Noisy(90, 60, 0.3, 3)]
    current = np.array([100.0, 100.0, 100.0])
    lower, upper = 0.5 * current, 2.0 * current
    plans = draw_plans(curves, lower, upper, 40)
    assert plans.n_draws == 40
    spends = plans.spends(330.0)
    assert spends.shape == (40, 3)
    assert np.allclose(spends.sum(axis=1), 330.0)
    assert np.all(spends >= lower - 1e-9) and np.all(spends <= upper + 1e-9)
    assert len({tuple(np.round(row, 3)) for row in spends}) > 1, "the draws disagree, so do their plans"
    chosen, _ = solve_sampled(curves, sample_curves(curves, lower, upper), 330.0)  # type: ignore[arg-type]
    optimism = plans.optimism(330.0, chosen).sum(axis=1)
    scale = float(sum(c.steady_state(x) for c, x in zip(curves, chosen, strict=True)))
    assert np.all(optimism >= -1e-3 * scale), "a draw's own plan is never worse in that draw than the chosen one"
    assert optimism.mean() > 1e-3 * scale


def test_no_uncertainty_means_no_optimism() -> None:
    sure = [Noisy(100, 80, 0.0, 1), Noisy(120, 120, 0.0, 2)]
    lower, upper = np.array([50.0, 50.0]), np.array([200.0, 200.0])
    plans = draw_plans(sure, lower, upper, 10)
    chosen, _ = solve_sampled(sure, sample_curves(sure, lower, upper), 250.0)  # type: ignore[arg-type]
    assert plans.optimism(250.0, chosen) == pytest.approx(np.zeros((10, 2)), abs=1e-2)
