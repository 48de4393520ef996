"""The optimizer behind budget plans: split a total across response curves within per-curve bounds.

Method (equal marginal returns, exact up to a grid step): each curve is sampled on ``GRID`` evenly spaced
spend levels between its bounds and replaced by its least concave majorant there (S-shaped Hill curves have
a convex start). The majorant's segments are bought in order of decreasing marginal return until the
budget is spent — the water-filling solution of the KKT conditions, with the Lagrange multiplier ``λ`` the
marginal return of the last unit bought. A curve left on a bridge over a convex stretch (where the majorant
overstates it) is re-solved twice — kept at or below the bridge, or at or above the point where the curve
turns concave — and the better plan kept (checked against multi-start SLSQP and brute force in the tests).
Sorting every segment once also gives the optimal outcome of *every* total between the bounds
(``efficient_frontier``, on the majorants), which answers target-CPA/ROAS questions without re-solving.

Everything is vectorized over curves; the only per-curve calls are one ``steady_state`` on an array.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.response import SpendResponse

FloatArray = npt.NDArray[np.float64]
GRID = 513


@dataclass(frozen=True)
class Frontier:
    """The optimal outcome as a function of the total, as breakpoints of a piecewise-linear concave path."""

    totals: FloatArray
    outcomes: FloatArray
    slopes: FloatArray  # marginal return of each segment between consecutive breakpoints


@dataclass(frozen=True)
class SampledCurves:
    """Curves sampled between their bounds, with their concave majorants and segments by marginal return."""

    lower: FloatArray
    upper: FloatArray
    grid: FloatArray  # (n, G) spend levels
    values: FloatArray  # (n, G) curve values
    hull: FloatArray  # (n, G) least concave majorant at the grid
    slopes: FloatArray  # (n, G-1)
    widths: FloatArray  # (n, G-1)
    order: npt.NDArray[np.int64]  # segments by decreasing slope (flat indices)
    bridged: npt.NDArray[np.bool_]  # curves whose majorant bridges a convex stretch


def _upper_hull(x: FloatArray, y: FloatArray) -> FloatArray:
    """The least concave majorant of points ``(x, y)`` (x increasing), evaluated at ``x``."""
    keep: list[int] = []
    for i in range(len(x)):
        while len(keep) >= 2:
            a, b = keep[-2], keep[-1]
            if (y[b] - y[a]) * (x[i] - x[a]) <= (y[i] - y[a]) * (x[b] - x[a]):
                keep.pop()
            else:
                break
        keep.append(i)
    return np.interp(x, x[keep], y[keep])


def _concave(slopes: FloatArray) -> npt.NDArray[np.bool_]:
    scale = np.maximum(np.abs(slopes).max(axis=1, initial=0.0), 1e-300)
    return np.asarray(np.all(np.diff(slopes, axis=1) <= 1e-9 * scale[:, None], axis=1))


def sample_curves(curves: list[SpendResponse], lower: FloatArray, upper: FloatArray, grid: int = GRID) -> SampledCurves:
    """Sample each curve between its bounds and sort the majorants' segments by marginal return."""
    steps = np.linspace(0.0, 1.0, grid)
    levels = lower[:, None] + (upper - lower)[:, None] * steps[None, :]
    values = np.vstack([np.asarray(c.steady_state(levels[i]), dtype=float) for i, c in enumerate(curves)])
    widths = np.diff(levels, axis=1)
    gains = np.diff(values, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        slopes = np.where(widths > 0, gains / np.where(widths > 0, widths, 1.0), 0.0)
    hull = values.copy()
    bad = ~_concave(slopes)
    if bad.any():  # S-shaped curves: a chord from the lower bound to the tangent point, then the curve
        rows = np.flatnonzero(bad)
        x, v = levels[rows], values[rows]
        with np.errstate(divide="ignore", invalid="ignore"):
            chord = np.where(x > x[:, :1], (v - v[:, :1]) / (x - x[:, :1]), -np.inf)
        tangent = np.argmax(chord, axis=1)
        best = chord[np.arange(len(rows)), tangent]
        line = v[:, :1] + best[:, None] * (x - x[:, :1])
        hull[rows] = np.where(np.arange(x.shape[1])[None, :] < tangent[:, None], line, v)
        with np.errstate(divide="ignore", invalid="ignore"):
            slopes[rows] = np.where(
                widths[rows] > 0, np.diff(hull[rows], axis=1) / np.where(widths[rows] > 0, widths[rows], 1.0), 0.0
            )
        for i in rows[~_concave(slopes[rows])]:  # more than one convex stretch: the general hull
            hull[i] = _upper_hull(levels[i], values[i])
            with np.errstate(divide="ignore", invalid="ignore"):
                slopes[i] = np.where(widths[i] > 0, np.diff(hull[i]) / np.where(widths[i] > 0, widths[i], 1.0), 0.0)
    order = np.argsort(-slopes, axis=None, kind="stable")
    return SampledCurves(lower, upper, levels, values, hull, slopes, widths, order, bad)


def _fill(seg: SampledCurves, total: float) -> tuple[FloatArray, float] | None:
    """Spend ``total`` on the best segments (None when it lies outside the summed bounds)."""
    rows = seg.order // seg.slopes.shape[1]
    widths = seg.widths.ravel()[seg.order]
    need = total - float(seg.lower.sum())
    cumulative = np.cumsum(widths)
    room = float(cumulative[-1]) if len(cumulative) else 0.0
    if need < -1e-9 * max(total, 1.0) or need > room + 1e-9 * max(total, 1.0):
        return None
    k = int(np.searchsorted(cumulative, need, side="left"))
    taken = np.zeros(len(widths))
    taken[:k] = widths[:k]
    if k < len(widths):
        taken[k] = max(need - (cumulative[k - 1] if k > 0 else 0.0), 0.0)
    spend = seg.lower.copy()
    np.add.at(spend, rows, taken)
    spend = np.minimum(spend, seg.upper)
    slope = float(seg.slopes.ravel()[seg.order[min(k, len(widths) - 1)]]) if len(widths) else 0.0
    return spend, slope


def _resampled(seg: SampledCurves, curve: SpendResponse, i: int, low: float, high: float) -> SampledCurves:
    """``seg`` with curve ``i`` sampled again between new bounds."""
    one = sample_curves([curve], np.array([low]), np.array([high]), seg.grid.shape[1])
    arrays = {}
    for name in ("lower", "upper", "grid", "values", "hull", "slopes", "widths", "bridged"):
        array = getattr(seg, name).copy()
        array[i] = getattr(one, name)[0]
        arrays[name] = array
    order = np.argsort(-arrays["slopes"], axis=None, kind="stable")
    return SampledCurves(order=order, **arrays)


def _bridged(seg: SampledCurves, i: int, x: float) -> tuple[int, int] | None:
    """Grid indices of the ends of the majorant's bridge over a convex stretch holding ``x`` inside, if any."""
    if not seg.bridged[i]:
        return None
    levels, gap = seg.grid[i], seg.hull[i] - seg.values[i]
    tolerance = 1e-9 * max(float(np.abs(seg.values[i]).max()), 1e-300)
    j = int(np.clip(np.searchsorted(levels, x), 1, len(levels) - 1))
    if gap[j] <= tolerance and gap[j - 1] <= tolerance:
        return None
    above = gap > tolerance
    left = j - 1 - int(np.argmin(above[j - 1 :: -1])) if above[j - 1] else j - 1
    right = j + int(np.argmin(above[j:])) if above[j] else j
    return max(left, 0), min(right, len(levels) - 1)


def _value(curves: list[SpendResponse], spend: FloatArray) -> float:
    return float(sum(float(c.steady_state(float(x))) for c, x in zip(curves, spend, strict=True)))


def solve_sampled(curves: list[SpendResponse], seg: SampledCurves, total: float) -> tuple[FloatArray, float]:
    """The spend per curve that maximizes the summed steady state for ``total`` (between the summed bounds),
    on curves sampled by :func:`sample_curves`; also the multiplier λ (the marginal return at the optimum).

    A curve left inside a bridge over a convex stretch is worth less there than the majorant says. On a
    convex stretch the best place is one of its ends, so the curve goes either at or below the bridge's
    left end, or at or above the stretch's inflection (where the curve turns concave); both are re-solved
    with those bounds and the better plan kept, curve by curve, until no curve sits inside a bridge.
    """
    solved = _fill(seg, total)
    assert solved is not None, "the total lies between the summed bounds"
    spend, slope = solved
    done: set[int] = set()
    for _ in range(len(curves)):
        inside = [
            (int(i), b) for i in np.flatnonzero(seg.bridged) if i not in done and (b := _bridged(seg, int(i), spend[i]))
        ]
        if not inside:
            break
        i, (left, right) = inside[0]
        actual = np.diff(seg.values[i][left : right + 1]) / np.maximum(seg.widths[i][left:right], 1e-300)
        turn = left + int(np.argmax(actual))
        options = []
        for low, high in ((seg.lower[i], seg.grid[i][left]), (seg.grid[i][turn], seg.upper[i])):
            lower, upper = seg.lower.copy(), seg.upper.copy()
            lower[i], upper[i] = low, high
            if lower.sum() <= total <= upper.sum():
                trial = _resampled(seg, curves[i], i, float(low), float(high))
                found = _fill(trial, total)
                if found is not None:
                    options.append((_value(curves, found[0]), trial, found))
        if not options:
            break
        _, seg, (spend, slope) = max(options, key=lambda o: o[0])
        done.add(i)
    return spend, slope


def efficient_frontier(seg: SampledCurves) -> Frontier:
    """The best total outcome for every total between ``sum(lower)`` and ``sum(upper)`` (on the majorants)."""
    widths = seg.widths.ravel()[seg.order]
    slopes = seg.slopes.ravel()[seg.order]
    keep = widths > 0
    widths, slopes = widths[keep], slopes[keep]
    start_total = float(seg.lower.sum())
    start_outcome = float(seg.values[:, 0].sum())
    totals = start_total + np.concatenate([[0.0], np.cumsum(widths)])
    outcomes = start_outcome + np.concatenate([[0.0], np.cumsum(widths * slopes)])
    return Frontier(totals=totals, outcomes=outcomes, slopes=slopes)


def largest_total_with_ratio(frontier: Frontier, ratio: float) -> float | None:
    """The largest total ``T`` on the frontier with ``outcome(T) >= ratio * T`` (None when there is none)."""
    gap = frontier.outcomes - ratio * frontier.totals
    ok = np.flatnonzero(gap >= -1e-12 * np.maximum(np.abs(frontier.outcomes), 1.0))
    if len(ok) == 0:
        return None
    k = int(ok[-1])
    if k == len(frontier.totals) - 1:
        return float(frontier.totals[k])
    step = frontier.slopes[k] - ratio  # the gap's slope on the next segment (negative, or it would be in ok)
    extra = gap[k] / -step if step < 0 else 0.0
    return float(frontier.totals[k] + min(extra, frontier.totals[k + 1] - frontier.totals[k]))


def total_at_marginal(frontier: Frontier, ratio: float) -> float | None:
    """The total that buys every segment with a marginal return of at least ``ratio`` (None: not even one)."""
    bought = frontier.slopes >= ratio
    if len(bought) == 0 or not bought[0]:
        return None
    last = int(np.flatnonzero(bought)[-1])
    return float(frontier.totals[last + 1])
