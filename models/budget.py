"""Budget allocation across campaigns with fitted response curves, within bounds around today's spend."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from core.errors import InvalidInput
from models.response import ResponseCurve


@dataclass(frozen=True)
class CampaignAllocation:
    """The recommendation for one campaign (daily amounts; the baseline is today's split scaled to the total)."""

    campaign_id: str
    baseline_spend: float
    recommended_spend: float
    expected_outcome_baseline: float
    expected_outcome_recommended: float
    interval_recommended: tuple[float, float]
    marginal_outcome_per_unit: float

    @property
    def change_ratio(self) -> float:
        return self.recommended_spend / self.baseline_spend if self.baseline_spend else float("inf")


@dataclass(frozen=True)
class BudgetPlan:
    """A reallocation of a daily budget and what it is expected to change."""

    total: float
    allocations: tuple[CampaignAllocation, ...]
    expected_outcome_baseline: float
    expected_outcome_recommended: float

    @property
    def expected_lift(self) -> float:
        """Relative change of the total expected outcome against keeping today's split (scaled to ``total``)."""
        base = self.expected_outcome_baseline
        return (self.expected_outcome_recommended - base) / base if base else 0.0


def allocate_budget(
    curves: dict[str, ResponseCurve],
    current: dict[str, float],
    total: float,
    min_ratio: float = 0.5,
    max_ratio: float = 2.0,
    weights: dict[str, float] | None = None,
) -> BudgetPlan:
    """Split ``total`` daily budget to maximize the summed steady-state outcome of the campaigns.

    Each campaign stays within ``[min_ratio, max_ratio]`` × its current daily spend (scaled to the new
    total), so recommendations stay near the data the curves were fitted on. ``weights`` turn each curve's
    unit into the outcome (e.g. sessions × conversion rate = conversions).
    """
    weight = {n: 1.0 for n in curves} | (weights or {})
    if total <= 0:
        raise InvalidInput("the total budget must be positive")
    if not 0 <= min_ratio <= 1 <= max_ratio:
        raise InvalidInput("need 0 <= min-ratio <= 1 <= max-ratio")
    names = [n for n in curves if current.get(n, 0.0) > 0]
    if not names:
        raise InvalidInput("no campaign with spend and a fitted response curve")
    base = np.array([current[n] for n in names], dtype=float)
    scaled = base * total / base.sum()  # today's split, at the requested total
    lower, upper = scaled * min_ratio, scaled * max_ratio

    def negative_outcome(x: np.ndarray) -> float:
        return -float(sum(weight[n] * curves[n].steady_state(v) for n, v in zip(names, x, strict=True)))

    best = scaled
    best_value = negative_outcome(scaled)
    for start in (scaled, (lower + upper) / 2 * total / ((lower + upper) / 2).sum()):
        result = minimize(
            negative_outcome,
            np.clip(start, lower, upper),
            method="SLSQP",
            bounds=list(zip(lower, upper, strict=True)),
            constraints=[{"type": "eq", "fun": lambda x: float(x.sum() - total)}],
            options={"maxiter": 500, "ftol": 1e-10},
        )
        if result.success and result.fun < best_value and abs(result.x.sum() - total) < 1e-6 * total:
            best, best_value = result.x, result.fun
    allocations = tuple(
        CampaignAllocation(
            campaign_id=n,
            baseline_spend=float(cur),
            recommended_spend=float(rec),
            expected_outcome_baseline=weight[n] * float(curves[n].steady_state(cur)),
            expected_outcome_recommended=weight[n] * float(curves[n].steady_state(rec)),
            interval_recommended=_scaled(curves[n].steady_state_interval(float(rec)), weight[n]),
            marginal_outcome_per_unit=weight[n] * curves[n].marginal(float(rec)),
        )
        for n, cur, rec in zip(names, scaled, best, strict=True)
    )
    return BudgetPlan(
        total=total,
        allocations=allocations,
        expected_outcome_baseline=-negative_outcome(scaled),
        expected_outcome_recommended=-best_value,
    )


def _scaled(interval: tuple[float, float], factor: float) -> tuple[float, float]:
    return interval[0] * factor, interval[1] * factor
