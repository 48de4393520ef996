"""Honest intervals for a budget plan: the optimiser re-run inside every draw of the curves.

A plan is chosen to maximize the *fitted* curves, so it favours campaigns whose fit came out lucky, and
re-evaluating that one plan under the curves' draws forgets that: its outcome and gain come out too high and
their intervals too narrow (the optimiser's curse; Smith & Winkler 2006). Here the optimiser is re-run inside
every draw. Draw ``b`` plays the estimate and the point fit plays the truth (Efron's optimism bootstrap, 1983):
the plan draw ``b`` would pick is compared with the plan actually chosen, once by draw ``b`` (what choosing
by it claims) and once by the point fit (what that choice gets). The difference is the draw's *optimism*;
the plan's draws minus it give intervals (and, by their mean, point estimates) that no longer flatter the plan.

Draws are optimised on curves known on a grid of ``GRID`` spends between the bounds (linear in between), so
one call to :func:`draw_plans` serves any total between the summed bounds (a budget ladder).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.allocation import SampledCurves, sample_curves, solve_sampled
from models.response import SpendResponse

FloatArray = npt.NDArray[np.float64]
GRID = 129


class _GridCurve:
    """One draw of a curve, known on a grid of spends (a ``SpendResponse`` without draws of its own)."""

    def __init__(self, levels: FloatArray, values: FloatArray) -> None:
        self.levels, self.values = levels, values

    def steady_state(self, daily_spend: float | np.ndarray) -> np.ndarray:
        return np.asarray(np.interp(daily_spend, self.levels, self.values), dtype=float)

    def steady_state_draws(self, daily_spend: float) -> np.ndarray:
        return np.atleast_1d(self.steady_state(daily_spend))


@dataclass(frozen=True)
class DrawPlans:
    """Each draw's curves (on a grid between the bounds), ready to be optimised at any total."""

    curves: list[SpendResponse]  # the point curves
    draws: list[list[_GridCurve]]  # draws[b][i]: draw b of curve i
    sampled: list[SampledCurves]  # sampled[b]: draw b's curves sampled for the optimiser

    @property
    def n_draws(self) -> int:
        """How many draws."""
        return len(self.draws)

    def optimism(self, total: float, chosen: FloatArray) -> FloatArray:
        """Per draw and curve: how much the optimiser's own plan at ``total`` flatters itself in that draw.

        Draw ``b`` prefers its plan ``x_b`` to the ``chosen`` one by ``Y_b(x_b) - Y_b(chosen)``, while the point
        fit (the truth of the bootstrap world) values the swap at ``Y(x_b) - Y(chosen)``: the difference is
        what choosing by a noisy fit claims beyond what it gets. Summed over curves it is never negative (up to
        the grid). Shape ``(n_draws, n_curves)``.
        """
        spends = self.spends(total)
        claimed = np.array(
            [
                [c.steady_state(x) - c.steady_state(y) for c, x, y in zip(row, xs, chosen, strict=True)]
                for row, xs in zip(self.draws, spends, strict=True)
            ]
        )
        honest = np.column_stack(
            [
                np.asarray(c.steady_state(spends[:, i]), dtype=float) - float(np.asarray(c.steady_state(chosen[i])))
                for i, c in enumerate(self.curves)
            ]
        )
        return np.asarray(claimed - honest, dtype=float)

    def spends(self, total: float) -> FloatArray:
        """The plan each draw's optimiser picks at ``total``: shape ``(n_draws, n_curves)``."""
        return np.vstack(
            [solve_sampled(list(row), seg, total)[0] for row, seg in zip(self.draws, self.sampled, strict=True)]
        )


def draw_plans(
    curves: list[SpendResponse], lower: FloatArray, upper: FloatArray, n_draws: int, grid: int = GRID
) -> DrawPlans:
    """Tabulate ``n_draws`` draws of each curve on ``grid`` spends between its bounds, sampled for the optimiser."""
    steps = np.linspace(0.0, 1.0, grid)
    levels = lower[:, None] + (upper - lower)[:, None] * steps[None, :]
    tables = [
        np.vstack([np.asarray(c.steady_state_draws(float(x)), dtype=float)[:n_draws] for x in levels[i]])
        for i, c in enumerate(curves)
    ]  # each (grid, n_draws)
    draws = [[_GridCurve(levels[i], tables[i][:, b]) for i in range(len(curves))] for b in range(n_draws)]
    sampled = [sample_curves(list(row), lower, upper, grid) for row in draws]
    return DrawPlans(list(curves), draws, sampled)
