"""Honest intervals for a budget plan: the optimiser re-run inside every draw of the curves.

A plan is chosen to maximize the *fitted* curves, so it favours campaigns whose fit came out lucky, and
re-evaluating that one plan under the curves' draws forgets that: its outcome and gain come out too high and
their intervals too narrow (the optimiser's curse; Smith & Winkler 2006). Here the optimiser is re-run inside
every draw. Draw ``b`` plays the estimate and the point fit plays the truth (Efron's optimism bootstrap, 1983):
the plan draw ``b`` would pick is compared with the plan actually chosen, once by draw ``b`` (what choosing
by it claims) and once by the point fit (what that choice gets). The difference is the draw's *optimism*;
the plan's draws minus it give intervals that no longer flatter the plan.

All draws are optimised at once: each draw of each curve is tabulated on ``GRID`` spends between its bounds,
replaced by its least concave majorant there (S-shaped draws have a convex start), and the majorants' segments
are bought in order of decreasing marginal return until the total is spent (the water-filling solution of
:mod:`models.allocation`, without its refinement for a curve left on a convex stretch: a draw's plan may be a
grid step off there, which only blurs its optimism a little). Sorting once serves any total between the
summed bounds (a budget ladder).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.response import SpendResponse

FloatArray = npt.NDArray[np.float64]
GRID = 33


def _concave(slopes: FloatArray) -> npt.NDArray[np.bool_]:
    scale = np.maximum(np.abs(slopes).max(axis=-1, keepdims=True), 1e-300)
    return np.asarray(np.all(np.diff(slopes, axis=-1) <= 1e-12 * scale, axis=-1))


def _majorant_slopes(values: FloatArray, step: FloatArray) -> FloatArray:
    """Slopes of the least concave majorant of each row of ``values`` (evenly spaced by ``step`` per curve).

    A concave row keeps its own; a row convex at first (S-shaped) gets the chord from its first point to the
    tangent point, then its own; a row still not concave is pooled (pool-adjacent-violators).
    """
    slopes = np.diff(values, axis=-1) / step[None, :, None]
    bad = ~_concave(slopes)
    if not bad.any():
        return slopes
    draws, curves = np.nonzero(bad)
    v = values[draws, curves]  # (rows, grid)
    distance = np.arange(v.shape[1], dtype=float)[None, :] * step[curves][:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        chord = np.where(distance > 0, (v - v[:, :1]) / np.where(distance > 0, distance, 1.0), -np.inf)
    tangent = np.argmax(chord, axis=1)
    best = chord[np.arange(len(v)), tangent]
    own = slopes[draws, curves]
    fixed = np.where(np.arange(own.shape[1])[None, :] < tangent[:, None], best[:, None], own)
    still = ~_concave(fixed)
    for r in np.flatnonzero(still):
        fixed[r] = _pooled(own[r])
    slopes[draws, curves] = fixed
    return slopes


def _pooled(slopes: FloatArray) -> FloatArray:
    """Non-increasing slopes with the same sum over pooled runs (the majorant of a piecewise-linear curve)."""
    means: list[float] = []
    counts: list[int] = []
    for value in slopes:
        means.append(float(value))
        counts.append(1)
        while len(means) > 1 and means[-2] < means[-1]:
            total = means[-2] * counts[-2] + means[-1] * counts[-1]
            counts[-2] += counts[-1]
            means[-2] = total / counts[-2]
            means.pop()
            counts.pop()
    return np.repeat(np.asarray(means), counts)


@dataclass(frozen=True)
class DrawPlans:
    """Every draw's curves tabulated between the bounds, their segments sorted by marginal return."""

    curves: list[SpendResponse]  # the point curves
    lower: FloatArray  # (n,)
    upper: FloatArray  # (n,)
    tables: FloatArray  # (draws, n, GRID): draw b of curve i at its grid of spends
    rows: npt.NDArray[np.int64]  # (draws, n·(GRID-1)): the curve of each segment, best segment first
    cumulative: FloatArray  # (draws, n·(GRID-1)): spend bought up to and including each segment

    @property
    def n_draws(self) -> int:
        """How many draws."""
        return int(self.tables.shape[0])

    def spends(self, total: float) -> FloatArray:
        """The plan each draw's optimiser picks at ``total``: shape ``(n_draws, n_curves)``."""
        n_draws, n = self.tables.shape[:2]
        need = total - float(self.lower.sum())
        width = (self.upper - self.lower) / (self.tables.shape[2] - 1)
        before = np.concatenate([np.zeros((n_draws, 1)), self.cumulative[:, :-1]], axis=1)
        bought = np.clip(need - before, 0.0, width[self.rows])
        flat = (np.arange(n_draws)[:, None] * n + self.rows).ravel()
        spent = np.bincount(flat, weights=bought.ravel(), minlength=n_draws * n).reshape(n_draws, n)
        return np.minimum(self.lower[None, :] + spent, self.upper[None, :])

    def _draw_values(self, spends: FloatArray) -> FloatArray:
        """Draw ``b`` of curve ``i`` at ``spends[b, i]`` (linear between grid spends): shape ``(n_draws, n)``."""
        grid = self.tables.shape[2]
        span = np.where(self.upper > self.lower, self.upper - self.lower, 1.0)
        position = np.clip((spends - self.lower[None, :]) / span[None, :] * (grid - 1), 0.0, grid - 1.0)
        left = (
            np.minimum(np.floor(position).astype(np.int64), grid - 2)
            if grid > 1
            else np.zeros_like(position, dtype=np.int64)
        )
        frac = position - left
        low = np.take_along_axis(self.tables, left[:, :, None], axis=2)[:, :, 0]
        high = np.take_along_axis(self.tables, np.minimum(left + 1, grid - 1)[:, :, None], axis=2)[:, :, 0]
        return np.asarray(low * (1.0 - frac) + high * frac, dtype=float)

    def optimism(self, total: float, chosen: FloatArray) -> FloatArray:
        """Per draw and curve: how much the optimiser's own plan at ``total`` flatters itself in that draw.

        Draw ``b`` prefers its plan ``x_b`` to the ``chosen`` one by ``Y_b(x_b) - Y_b(chosen)``, while the point
        fit (the truth of the bootstrap world) values the swap at ``Y(x_b) - Y(chosen)``: the difference is
        what choosing by a noisy fit claims beyond what it gets. Summed over curves it is never negative (up to
        the grid). Shape ``(n_draws, n_curves)``.
        """
        spends = self.spends(total)
        at_chosen = np.broadcast_to(np.asarray(chosen, dtype=float)[None, :], spends.shape)
        claimed = self._draw_values(spends) - self._draw_values(at_chosen)
        honest = np.column_stack(
            [
                np.asarray(c.steady_state(spends[:, i]), dtype=float) - float(np.asarray(c.steady_state(chosen[i])))
                for i, c in enumerate(self.curves)
            ]
        )
        return np.asarray(claimed - honest, dtype=float)


def draw_plans(
    curves: list[SpendResponse], lower: FloatArray, upper: FloatArray, n_draws: int, grid: int = GRID
) -> DrawPlans:
    """Tabulate ``n_draws`` draws of each curve on ``grid`` spends between its bounds, segments sorted per draw."""
    steps = np.linspace(0.0, 1.0, grid)
    levels = lower[:, None] + (upper - lower)[:, None] * steps[None, :]
    tables = np.stack(
        [
            np.vstack([np.asarray(c.steady_state_draws(float(x)), dtype=float)[:n_draws] for x in levels[i]])
            for i, c in enumerate(curves)
        ]
    ).transpose(2, 0, 1)  # (draws, n, grid)
    width = (upper - lower) / (grid - 1)
    slopes = _majorant_slopes(tables, np.where(width > 0, width, 1.0))  # (draws, n, grid-1)
    slopes = np.where(width[None, :, None] > 0, slopes, -np.inf)  # a pinned curve has nothing to buy
    flat = slopes.reshape(tables.shape[0], -1)
    order = np.argsort(-flat, axis=1, kind="stable")
    rows = order // (grid - 1)
    cumulative = np.cumsum(width[rows], axis=1)
    return DrawPlans(list(curves), lower, upper, tables, rows, cumulative)
