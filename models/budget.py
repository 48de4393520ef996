"""Budget plans across campaigns (or channels) with response curves, within bounds around today's spend.

Two questions, one optimizer (:mod:`models.allocation`):

- :func:`allocate_budget`: the split of a given daily ``total`` that maximizes the expected outcome, each
  campaign within ``[min_ratio, max_ratio]`` × its current daily spend.
- :func:`plan_for_target`: the total itself, for a target CPA or ROAS. **Average** basis (the default):
  the largest total within the bounds whose optimal split keeps ``total spend / expected conversions <=
  target CPA`` (or ``expected value / total spend >= target ROAS``). **Marginal** basis: spend while the
  next unit still earns its keep — the total at which the optimal split's marginal CPA reaches the target
  (marginal ROAS falls to the target), the profit-maximizing total when a conversion is worth the target CPA.

Every plan is compared with one *baseline*: today's split scaled to the same total ("today's split at this
total"). Intervals come from the curves' aligned draws: the whole plan (and its difference from the baseline) is
re-evaluated under each draw, less what choosing the plan by a noisy fit flatters in that draw (the optimiser
re-run inside each draw, :mod:`models.plan_draws`). Point estimates stay the fitted curves' (what the plan
was optimised on), so an interval may sit mostly below its point: that is the optimism it no longer hides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from core.amounts import amount
from core.errors import InvalidInput
from models.allocation import (
    SampledCurves,
    efficient_frontier,
    largest_total_with_ratio,
    sample_curves,
    solve_sampled,
    total_at_marginal,
)
from models.plan_draws import DrawPlans, draw_plans
from models.response import SpendResponse, intervals

TargetKind = Literal["cpa", "roas"]
TargetBasis = Literal["average", "marginal"]
Bound = Literal["lower", "upper"]
LEVEL = 0.9
BOUND_TOLERANCE = 0.005  # a campaign within this share of today's spend from a bound sits on it
SAME_TOTAL = 0.005  # a total within this share of today's is today's total


@dataclass(frozen=True)
class Target:
    """A target CPA (spend per conversion, at most) or ROAS (value per unit spent, at least)."""

    kind: TargetKind
    value: float
    basis: TargetBasis = "average"

    @property
    def outcome_per_unit(self) -> float:
        """The least expected outcome per unit of spend the target allows."""
        return 1.0 / self.value if self.kind == "cpa" else self.value


@dataclass(frozen=True)
class CampaignAllocation:
    """The recommendation for one campaign in daily amounts (the baseline is today's split scaled to the total)."""

    campaign_id: str
    current_spend: float
    baseline_spend: float
    recommended_spend: float
    lower_bound: float
    upper_bound: float
    expected_outcome_current: float
    expected_outcome_baseline: float
    expected_outcome_recommended: float
    interval_recommended: tuple[float, float]
    interval_change: tuple[float, float]  # recommended minus baseline, from the same draws
    marginal_outcome_per_unit: float

    @property
    def at_bound(self) -> Bound | None:
        """``"lower"`` or ``"upper"`` when the recommendation sits on that bound (within ``BOUND_TOLERANCE``)."""
        slack = BOUND_TOLERANCE * self.current_spend
        if self.upper_bound > self.lower_bound and self.recommended_spend >= self.upper_bound - slack:
            return "upper"
        if self.recommended_spend <= self.lower_bound + slack:
            return "lower" if self.upper_bound > self.lower_bound else "upper"
        return None

    @property
    def change_ratio(self) -> float:
        """Recommended over baseline spend."""
        return self.recommended_spend / self.baseline_spend if self.baseline_spend else float("inf")

    @property
    def marginal_cpa(self) -> float | None:
        """Spend per extra conversion at the recommended spend (when the outcome is conversions)."""
        return 1.0 / self.marginal_outcome_per_unit if self.marginal_outcome_per_unit > 0 else None


@dataclass(frozen=True)
class Move:
    """Budget taken from one campaign and given to another, with the expected change of the outcome."""

    source: str
    destination: str
    amount: float  # daily
    gain: float  # daily outcome
    interval: tuple[float, float]


@dataclass(frozen=True)
class BudgetPlan:
    """A split of a daily budget, what it is expected to yield, and how sure that is."""

    total: float
    allocations: tuple[CampaignAllocation, ...]
    expected_outcome_baseline: float
    expected_outcome_recommended: float
    expected_outcome_current: float = 0.0
    current_total: float = 0.0
    interval_recommended: tuple[float, float] = (0.0, 0.0)
    interval_gain: tuple[float, float] = (0.0, 0.0)  # recommended minus baseline
    interval_change_vs_current: tuple[float, float] = (0.0, 0.0)
    marginal_outcome_per_unit: float = 0.0  # λ: the common marginal return of campaigns inside their bounds
    moves: tuple[Move, ...] = ()
    excluded: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    target: Target | None = None
    n_draws: int = 0
    optimism: float = 0.0  # mean over draws of what choosing by a noisy fit flatters (daily; left in the points)

    @property
    def expected_lift(self) -> float:
        """Relative change of the total expected outcome against keeping today's split (scaled to ``total``)."""
        base = self.expected_outcome_baseline
        return (self.expected_outcome_recommended - base) / base if base else 0.0

    @property
    def at_todays_total(self) -> bool:
        """Whether the total is today's (so today's split at this total is simply today's split)."""
        return abs(self.total - self.current_total) <= SAME_TOTAL * self.current_total

    def at_bound(self, bound: Bound) -> list[CampaignAllocation]:
        """The campaigns sitting on their ``bound``."""
        return [a for a in self.allocations if a.at_bound == bound]

    @property
    def average_outcome_per_unit(self) -> float:
        """Expected outcome per unit of spend of the recommended plan (1 / CPA, or ROAS)."""
        return self.expected_outcome_recommended / self.total if self.total else 0.0


class _Weighted:
    """A curve times a constant (e.g. sessions × conversion rate), draws included."""

    def __init__(self, curve: SpendResponse, weight: float) -> None:
        self.curve, self.weight = curve, float(weight)

    def steady_state(self, daily_spend: float | np.ndarray) -> np.ndarray:
        return self.weight * np.asarray(self.curve.steady_state(daily_spend), dtype=float)

    def steady_state_draws(self, daily_spend: float) -> np.ndarray:
        return self.weight * np.asarray(self.curve.steady_state_draws(daily_spend), dtype=float)


@dataclass(frozen=True)
class _Problem:
    names: list[str]
    curves: list[SpendResponse]
    current: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    excluded: tuple[str, ...]
    warnings: tuple[str, ...]


def _amount(value: float, unit: float) -> str:
    return f"{value * unit:,.2f}"


def _problem(
    curves: Mapping[str, SpendResponse],
    current: Mapping[str, float],
    min_ratio: float,
    max_ratio: float,
    weights: Mapping[str, float] | None,
) -> _Problem:
    if not (np.isfinite(min_ratio) and np.isfinite(max_ratio)) or min_ratio < 0 or max_ratio <= 0:
        raise InvalidInput("min-ratio must be at least 0 and max-ratio above 0")
    if min_ratio > max_ratio:
        raise InvalidInput(f"min-ratio ({min_ratio:g}) cannot be above max-ratio ({max_ratio:g})")
    weight = dict(weights or {})
    names, excluded, notes = [], [], []
    for name in sorted(set(curves) | set(current)):
        spend = float(current.get(name, 0.0) or 0.0)
        if not np.isfinite(spend) or spend < 0:
            raise InvalidInput(f"{name}: current spend must be a non-negative number, got {spend}")
        if name not in curves:
            excluded.append(name)
            notes.append(f"{name}: no response curve (not enough data) — left out of the plan")
        elif spend <= 0:
            excluded.append(name)
            notes.append(f"{name}: no current spend — left out of the plan (bounds are multiples of current spend)")
        else:
            names.append(name)
    if not names:
        raise InvalidInput("no campaign has both current spend and a response curve: nothing to allocate")
    chosen = [curves[n] if n not in weight else _Weighted(curves[n], weight[n]) for n in names]
    now = np.array([float(current[n]) for n in names])
    return _Problem(names, chosen, now, now * min_ratio, now * max_ratio, tuple(excluded), tuple(notes))


def _draws(curve: SpendResponse, spend: float, n: int) -> np.ndarray:
    return np.asarray(curve.steady_state_draws(float(spend)), dtype=float)[:n]


def _marginal(curve: SpendResponse, spend: float) -> float:
    step = max(abs(spend), 1.0) * 1e-4
    low = max(spend - step, 0.0)
    values = np.asarray(curve.steady_state(np.array([low, spend + step])), dtype=float)
    return float((values[1] - values[0]) / (spend + step - low))


def _moves(problem: _Problem, baseline: np.ndarray, recommended: np.ndarray, n_draws: int, level: float) -> list[Move]:
    """Pair the biggest cuts with the biggest increases; each move's gain is evaluated from running levels."""
    delta = recommended - baseline
    tiny = 1e-6 * max(float(recommended.sum()), 1e-12)
    donors = [[i, -d] for i, d in sorted(enumerate(delta), key=lambda p: p[1]) if d < -tiny]
    takers = [[i, d] for i, d in sorted(enumerate(delta), key=lambda p: -p[1]) if d > tiny]
    levels = baseline.copy()
    pairs: list[tuple[int, int, float, float]] = []
    gains: list[np.ndarray] = []
    a = b = 0
    while a < len(donors) and b < len(takers):
        (src, left), (dst, need) = donors[a], takers[b]
        amount = float(min(left, need))
        cs, cd = problem.curves[src], problem.curves[dst]
        s0, d0 = float(levels[src]), float(levels[dst])
        dst_values = np.asarray(cd.steady_state(np.array([d0, d0 + amount])), dtype=float)
        src_values = np.asarray(cs.steady_state(np.array([s0 - amount, s0])), dtype=float)
        point = float(dst_values[1] - dst_values[0]) - float(src_values[1] - src_values[0])
        gains.append(
            (_draws(cd, d0 + amount, n_draws) - _draws(cd, d0, n_draws))
            - (_draws(cs, s0, n_draws) - _draws(cs, s0 - amount, n_draws))
        )
        pairs.append((src, dst, amount, point))
        levels[src] -= amount
        levels[dst] += amount
        donors[a][1] -= amount
        takers[b][1] -= amount
        if donors[a][1] <= tiny:
            a += 1
        if takers[b][1] <= tiny:
            b += 1
    bands = intervals(np.vstack(gains), level) if gains else []
    return [
        Move(problem.names[src], problem.names[dst], amount, point, band)
        for (src, dst, amount, point), band in zip(pairs, bands, strict=True)
    ]


def _plan(
    problem: _Problem,
    total: float,
    seg: SampledCurves,
    level: float,
    target: Target | None,
    bootstrap: DrawPlans | None = None,
    outcome_level: float | None = None,
) -> BudgetPlan:
    recommended, multiplier = solve_sampled(problem.curves, seg, total)
    baseline = problem.current * total / problem.current.sum()
    spends = {"current": problem.current, "baseline": baseline, "recommended": recommended}
    values = {
        k: np.array([float(c.steady_state(float(x))) for c, x in zip(problem.curves, v, strict=True)])
        for k, v in spends.items()
    }
    raw = {
        k: [np.atleast_1d(c.steady_state_draws(float(x))) for c, x in zip(problem.curves, v, strict=True)]
        for k, v in spends.items()
    }
    n_draws = min(len(d) for rows in raw.values() for d in rows)
    if bootstrap is None:
        bootstrap = draw_plans(problem.curves, problem.lower, problem.upper, n_draws)
    n_draws = min(n_draws, bootstrap.n_draws)
    draws = {k: np.vstack([d[:n_draws] for d in rows]) for k, rows in raw.items()}
    # the optimiser re-run in each draw (models.plan_draws): what choosing by a noisy fit flatters, per draw
    optimism = bootstrap.optimism(total, recommended)[:n_draws].T  # (campaigns, draws)
    recommended_draws = draws["recommended"] - optimism
    each = intervals(recommended_draws, outcome_level or level)
    change = intervals(recommended_draws - draws["baseline"], level)
    total_outcome = intervals(recommended_draws.sum(axis=0)[None, :], outcome_level or level)[0]
    summed = [
        total_outcome,
        *intervals(
            np.vstack(
                [
                    (recommended_draws - draws["baseline"]).sum(axis=0),
                    (recommended_draws - draws["current"]).sum(axis=0),
                ]
            ),
            level,
        ),
    ]
    rows = tuple(
        CampaignAllocation(
            campaign_id=name,
            current_spend=float(problem.current[i]),
            baseline_spend=float(baseline[i]),
            recommended_spend=float(recommended[i]),
            lower_bound=float(problem.lower[i]),
            upper_bound=float(problem.upper[i]),
            expected_outcome_current=float(values["current"][i]),
            expected_outcome_baseline=float(values["baseline"][i]),
            expected_outcome_recommended=float(values["recommended"][i]),
            interval_recommended=each[i],
            interval_change=change[i],
            marginal_outcome_per_unit=_marginal(problem.curves[i], float(recommended[i])),
        )
        for i, name in enumerate(problem.names)
    )
    return BudgetPlan(
        total=float(total),
        allocations=rows,
        expected_outcome_baseline=float(values["baseline"].sum()),
        expected_outcome_recommended=float(values["recommended"].sum()),
        expected_outcome_current=float(values["current"].sum()),
        current_total=float(problem.current.sum()),
        interval_recommended=summed[0],
        interval_gain=summed[1],
        interval_change_vs_current=summed[2],
        marginal_outcome_per_unit=float(multiplier),
        moves=tuple(_moves(problem, baseline, recommended, n_draws, level)),
        excluded=problem.excluded,
        warnings=problem.warnings,
        target=target,
        n_draws=n_draws,
        optimism=float(optimism.sum(axis=0).mean()),
    )


def allocate_budget(
    curves: Mapping[str, SpendResponse],
    current: Mapping[str, float],
    total: float,
    min_ratio: float = 0.5,
    max_ratio: float = 2.0,
    weights: Mapping[str, float] | None = None,
    *,
    level: float = LEVEL,
    outcome_level: float | None = None,
    unit: float = 1.0,
    unit_label: str = "day",
) -> BudgetPlan:
    """Split a daily ``total`` to maximize the summed steady-state outcome of the campaigns.

    Each campaign stays within ``[min_ratio, max_ratio]`` × its current daily spend, so recommendations stay
    near the data the curves were fitted on; campaigns without a curve or without current spend are left out
    (named in ``excluded`` and ``warnings``). ``weights`` turn each curve's unit into the outcome (e.g.
    sessions × conversion rate). ``level`` is the intervals' coverage; ``outcome_level`` (default ``level``) the
    quantile level of the expected outcome's intervals, where a caller has calibrated it (see
    :data:`strategy.budget.QUANTILE_LEVELS`). ``unit``/``unit_label`` only phrase error messages (e.g. 7,
    "week").
    """
    problem = _problem(curves, current, min_ratio, max_ratio, weights)
    total = _within_bounds(problem, total, min_ratio, max_ratio, unit, unit_label)
    seg = sample_curves(problem.curves, problem.lower, problem.upper)
    return _plan(problem, total, seg, level, None, outcome_level=outcome_level)


def _within_bounds(
    problem: _Problem, total: float, min_ratio: float, max_ratio: float, unit: float, unit_label: str
) -> float:
    """``total`` (clipped onto the bounds' range by rounding only), or ``InvalidInput`` naming the range."""
    if not np.isfinite(total) or total <= 0:
        raise InvalidInput("the total budget must be a positive amount")
    low, high = float(problem.lower.sum()), float(problem.upper.sum())
    if not low * (1 - 1e-9) <= total <= high * (1 + 1e-9):
        raise InvalidInput(
            f"a total of {_amount(total, unit)} per {unit_label} contradicts the bounds: with min-ratio "
            f"{min_ratio:g} and max-ratio {max_ratio:g} of today's spend ({_amount(problem.current.sum(), unit)} "
            f"per {unit_label}) the total must lie between {_amount(low, unit)} and {_amount(high, unit)}"
        )
    return float(np.clip(total, low, high))


def bounds_range(
    curves: Mapping[str, SpendResponse], current: Mapping[str, float], min_ratio: float = 0.5, max_ratio: float = 2.0
) -> tuple[float, float]:
    """The lowest and highest daily totals the bounds allow (over the campaigns a plan would include)."""
    problem = _problem(curves, current, min_ratio, max_ratio, None)
    return float(problem.lower.sum()), float(problem.upper.sum())


def plan_ladder(
    curves: Mapping[str, SpendResponse],
    current: Mapping[str, float],
    totals: list[float],
    min_ratio: float = 0.5,
    max_ratio: float = 2.0,
    weights: Mapping[str, float] | None = None,
    *,
    level: float = LEVEL,
    outcome_level: float | None = None,
    unit: float = 1.0,
    unit_label: str = "day",
) -> list[BudgetPlan]:
    """:func:`allocate_budget` at several daily ``totals`` from the same curves, sharing the sampled curves and
    each draw's optimiser (never a refit per total). A total outside the bounds raises ``InvalidInput``."""
    if not totals:
        raise InvalidInput("give at least one total")
    problem = _problem(curves, current, min_ratio, max_ratio, weights)
    checked = [_within_bounds(problem, float(t), min_ratio, max_ratio, unit, unit_label) for t in totals]
    seg = sample_curves(problem.curves, problem.lower, problem.upper)
    n_draws = min(
        len(np.atleast_1d(c.steady_state_draws(float(x)))) for c, x in zip(problem.curves, problem.current, strict=True)
    )
    bootstrap = draw_plans(problem.curves, problem.lower, problem.upper, n_draws)
    return [_plan(problem, t, seg, level, None, bootstrap, outcome_level) for t in checked]


def plan_for_target(
    curves: Mapping[str, SpendResponse],
    current: Mapping[str, float],
    target: Target,
    min_ratio: float = 0.5,
    max_ratio: float = 2.0,
    weights: Mapping[str, float] | None = None,
    *,
    max_total: float | None = None,
    level: float = LEVEL,
    outcome_level: float | None = None,
    unit: float = 1.0,
    unit_label: str = "day",
) -> BudgetPlan:
    """The largest daily total within the bounds that meets ``target`` (see the module's definitions), split optimally.

    ``max_total`` caps the search. A target no total can meet raises ``InvalidInput`` naming the best CPA
    or ROAS the bounds allow.
    """
    if not np.isfinite(target.value) or target.value <= 0:
        raise InvalidInput(f"the target {target.kind.upper()} must be a positive number")
    problem = _problem(curves, current, min_ratio, max_ratio, weights)
    seg = sample_curves(problem.curves, problem.lower, problem.upper)
    frontier = efficient_frontier(seg)
    ratio = target.outcome_per_unit
    if target.basis == "average":
        total = largest_total_with_ratio(frontier, ratio)
        positive = frontier.totals > 0
        best_ratio = float(np.max(frontier.outcomes[positive] / frontier.totals[positive])) if positive.any() else 0.0
    else:
        total = total_at_marginal(frontier, ratio)
        best_ratio = float(frontier.slopes[0]) if len(frontier.slopes) else 0.0
    if total is None or total <= 0:
        raise InvalidInput(_unreachable(target, best_ratio))
    if max_total is not None:
        if max_total <= 0:
            raise InvalidInput("the total budget must be a positive amount")
        if max_total < frontier.totals[0] * (1 - 1e-9):
            raise InvalidInput(
                f"a total of {_amount(max_total, unit)} per {unit_label} is below the lowest the bounds allow "
                f"({_amount(frontier.totals[0], unit)} per {unit_label})"
            )
        total = min(total, max_total)
    return _plan(problem, total, seg, level, target, outcome_level=outcome_level)


def _unreachable(target: Target, best_ratio: float) -> str:
    basis = "an average" if target.basis == "average" else "a marginal"
    if target.kind == "cpa":
        best = f"{1.0 / best_ratio:,.2f}" if best_ratio > 0 else "none (no expected conversions)"
        return f"no total within the bounds reaches {basis} CPA of {target.value:,.2f}; the best achievable is {best}"
    return (
        f"no total within the bounds reaches {basis} ROAS of {target.value:,.2f}; "
        f"the best achievable is {best_ratio:,.2f}"
    )


def _signed(value: float, digits: int) -> str:
    return f"{value:+,.{digits}f}"


RatioOptions = tuple[str, str]
API_OPTIONS: RatioOptions = ("min_ratio", "max_ratio")
CLI_OPTIONS: RatioOptions = ("--min-ratio", "--max-ratio")


def baseline_label(plan: BudgetPlan) -> str:
    """What the plan is compared with: today's split at this total (simply today's split at today's total)."""
    return "today's split" if plan.at_todays_total else "today's split at this total"


def _names(allocations: list[CampaignAllocation], most: int = 4) -> str:
    names = [a.campaign_id for a in allocations]
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def bound_sentences(plan: BudgetPlan, options: RatioOptions = API_OPTIONS, item: str = "campaign") -> list[str]:
    """One sentence per bound that campaigns (``item``: or channels) sit on: the bound, not the curve, limits them,
    and what to change."""
    sentences: list[str] = []
    n = len(plan.allocations)
    if not n or plan.allocations[0].lower_bound == plan.allocations[0].upper_bound:
        return sentences  # min-ratio = max-ratio: every campaign is pinned, nothing to say
    bounds: tuple[tuple[Bound, str, str, str], ...] = (
        ("upper", options[1], "raise", "give {} more"),
        ("lower", options[0], "lower", "cut {} further"),
    )
    for bound, option, verb, want in bounds:
        held = plan.at_bound(bound)
        if not held:
            continue
        a, them = held[0], "it" if len(held) == 1 else "them"
        ratio = (a.upper_bound if bound == "upper" else a.lower_bound) / a.current_spend
        sentences.append(
            f"{len(held)} of {n} {item}{'s' if n > 1 else ''} sit{'s' if len(held) == 1 else ''} at the {bound} "
            f"bound ({ratio:g}× today's spend): {_names(held)}. The bound, not the response curve, limits "
            f"{them}; {verb} {option} to let the plan {want.format(them)}."
        )
    return sentences


def plan_sentences(
    plan: BudgetPlan,
    *,
    unit: float = 7.0,
    unit_label: str = "week",
    outcome: str = "conversions",
    max_moves: int = 5,
    options: RatioOptions = API_OPTIONS,
    outcome_label: str | None = None,
    item: str = "campaign",
) -> list[str]:
    """Plain sentences a marketer can act on; amounts and outcomes per ``unit_label`` (``unit`` days).

    Every comparison is with one baseline, :func:`baseline_label`; ``options`` name the bounds' options in
    the sentence about campaigns held by a bound (the API's by default, :data:`CLI_OPTIONS` for the CLI).
    ``outcome_label`` names the outcome in the text (default ``outcome``; e.g. a media-mix KPI's name), ``item``
    what is planned (campaign, or channel).
    """
    digits = 0 if outcome == "value" else 1
    label = outcome_label or outcome
    per = f"a {unit_label}"
    sentences: list[str] = []
    worth_showing = min(0.5, 0.001 * plan.total * unit)  # half a unit, or a thousandth of a small budget
    moves = [m for m in sorted(plan.moves, key=lambda m: -m.amount) if m.amount * unit >= worth_showing]
    shown = moves[:max_moves]
    for m in shown:
        low, high = (x * unit for x in m.interval)
        text = (
            f"Move {amount(m.amount * unit)} from {m.source} to {m.destination}: {_signed(m.gain * unit, digits)} "
            f"{label} {per} (90 % interval {_signed(low, digits)} to {_signed(high, digits)})"
        )
        sentences.append(text + (" — the gain is uncertain." if low <= 0 <= high else "."))
    hidden = len(moves) - len(shown)
    if hidden > 0:
        sentences.append(
            f"{hidden} smaller move{'s complete' if hidden > 1 else ' completes'} the plan (see the table)."
        )
    if not shown:
        sentences.append(f"Keep {baseline_label(plan)}: no move changes the expected {label} noticeably.")
    gain = (plan.expected_outcome_recommended - plan.expected_outcome_baseline) * unit
    low, high = (x * unit for x in plan.interval_gain)
    total_text = (
        f"Expected {label} {per} with {amount(plan.total * unit)}: {plan.expected_outcome_baseline * unit:,.{digits}f} "
        f"with {baseline_label(plan)} → {plan.expected_outcome_recommended * unit:,.{digits}f} recommended "
        f"({_signed(gain, digits)}, 90 % interval {_signed(low, digits)} to {_signed(high, digits)})"
    )
    if low <= 0 <= high:
        total_text += "; the gain is uncertain: the interval includes zero."
    else:
        total_text += "."
    sentences.append(total_text)
    sentences += bound_sentences(plan, options, item)
    if plan.current_total and not plan.at_todays_total:
        change = (plan.expected_outcome_recommended - plan.expected_outcome_current) * unit
        c_low, c_high = (x * unit for x in plan.interval_change_vs_current)
        verb = "Raising" if plan.total > plan.current_total else "Lowering"
        sentences.append(
            f"{verb} the total from today's {amount(plan.current_total * unit)} to {amount(plan.total * unit)} {per} "
            f"and splitting it as recommended: {_signed(change, digits)} {label} {per} (90 % interval "
            f"{_signed(c_low, digits)} to {_signed(c_high, digits)})."
        )
    if plan.target is not None:
        t = plan.target
        achieved = plan.average_outcome_per_unit
        if t.kind == "cpa":
            value = f"an average CPA of {1.0 / achieved:,.2f}" if achieved > 0 else "no expected conversions"
        else:
            value = f"an average ROAS of {achieved:,.2f}"
        rule = "the average" if t.basis == "average" else "the marginal"
        capped = plan.total >= sum(a.upper_bound for a in plan.allocations) * (1 - 1e-9)
        sentences.append(
            f"Spend {amount(plan.total * unit)} {per}: the largest total within the bounds that keeps {rule} "
            f"{t.kind.upper()} at {'or below' if t.kind == 'cpa' else 'or above'} {t.value:,.2f} ({value}"
            + ("; the max-ratio bounds allow no more" if capped else "")
            + ")."
        )
    return sentences
