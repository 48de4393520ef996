"""The allocator: optimal against SLSQP and brute force, bounds and totals, targets, errors, draws and sentences."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import minimize

from core.amounts import amount
from core.errors import InvalidInput
from models.adstock import geometric_adstock
from models.budget import (
    CLI_OPTIONS,
    Target,
    allocate_budget,
    baseline_label,
    bounds_range,
    plan_for_target,
    plan_ladder,
    plan_sentences,
)
from models.response import ResponseCurve, hill


class Hill:
    """A known curve ``beta·hill(x)`` whose draws scale beta (draw i of every curve shares a seed stream)."""

    def __init__(self, beta: float, half: float, shape: float, spread: float = 0.1, seed: int = 0) -> None:
        self.beta, self.half, self.shape = beta, half, shape
        self.factors = np.random.default_rng(seed).lognormal(0.0, spread, 400)

    def steady_state(self, daily_spend: float | np.ndarray) -> np.ndarray:
        return self.beta * hill(daily_spend, self.half, self.shape)

    def steady_state_draws(self, daily_spend: float) -> np.ndarray:
        return self.factors * float(self.steady_state(daily_spend))


def random_problem(n: int, seed: int, max_shape: float = 2.5) -> tuple[dict[str, Hill], dict[str, float]]:
    """Random Hill curves, S-shaped (convex at first) when their shape is above 1."""
    rng = np.random.default_rng(seed)
    curves = {
        f"c{i}": Hill(rng.uniform(20, 400), rng.uniform(50, 500), rng.uniform(0.6, max_shape), seed=i) for i in range(n)
    }
    return curves, {name: float(rng.uniform(50, 400)) for name in curves}


def slsqp_best(curves: dict[str, Hill], current: dict[str, float], total: float, lo: float, hi: float) -> float:
    names = sorted(curves)
    now = np.array([current[n] for n in names])
    bounds = list(zip(now * lo, now * hi, strict=True))
    rng = np.random.default_rng(0)

    def negative(x: np.ndarray) -> float:
        return -float(sum(curves[n].steady_state(v) for n, v in zip(names, x, strict=True)))

    best = np.inf
    for _ in range(12):
        start = np.clip(now * rng.uniform(lo, hi, len(now)), now * lo, now * hi)
        start = np.clip(start * total / start.sum(), now * lo, now * hi)
        result = minimize(
            negative,
            start,
            method="SLSQP",
            bounds=bounds,
            constraints=[{"type": "eq", "fun": lambda x: float(x.sum() - total)}],
            options={"maxiter": 1000, "ftol": 1e-12},
        )
        if abs(result.x.sum() - total) < 1e-6 * total and np.all(result.x >= now * lo - 1e-6):
            best = min(best, float(result.fun))
    return -best


@pytest.mark.parametrize("seed", range(6))
def test_allocation_matches_multistart_slsqp(seed: int) -> None:
    curves, current = random_problem(6, seed)
    total = sum(current.values()) * (0.8 + 0.1 * seed)
    plan = allocate_budget(curves, current, total, 0.5, 2.0)
    reference = slsqp_best(curves, current, total, 0.5, 2.0)
    assert plan.expected_outcome_recommended >= reference * (1 - 1e-5)
    spend = {a.campaign_id: a.recommended_spend for a in plan.allocations}
    assert sum(spend.values()) == pytest.approx(total, rel=1e-9)
    for name, value in spend.items():
        assert 0.5 * current[name] - 1e-9 <= value <= 2.0 * current[name] + 1e-9


def test_allocation_matches_brute_force_on_three_s_shaped_curves() -> None:
    curves = {"a": Hill(100, 300, 2.5), "b": Hill(80, 150, 3.0), "c": Hill(60, 100, 0.8)}
    current = {"a": 200.0, "b": 200.0, "c": 200.0}
    total = 600.0
    plan = allocate_budget(curves, current, total, 0.25, 2.0)
    step = 2.0
    best = -np.inf
    for a, b in itertools.product(np.arange(50, 400 + step, step), repeat=2):
        c = total - a - b
        if 50 <= c <= 400:
            best = max(
                best, float(curves["a"].steady_state(a) + curves["b"].steady_state(b) + curves["c"].steady_state(c))
            )
    assert plan.expected_outcome_recommended >= best - 1e-6 * best
    assert plan.expected_outcome_recommended <= best * 1.01, "brute force on a 2-unit grid is nearly exact"


def test_equal_marginal_returns_at_the_optimum() -> None:
    curves, current = random_problem(8, 42)
    plan = allocate_budget(curves, current, sum(current.values()), 0.2, 5.0)
    inside = [a for a in plan.allocations if a.lower_bound + 1 < a.recommended_spend < a.upper_bound - 1]
    assert len(inside) >= 2
    for a in inside:
        assert a.marginal_outcome_per_unit == pytest.approx(plan.marginal_outcome_per_unit, rel=0.02)
    for a in plan.allocations:
        if a.recommended_spend >= a.upper_bound - 1e-9:
            assert a.marginal_outcome_per_unit >= plan.marginal_outcome_per_unit * 0.98
        if a.recommended_spend <= a.lower_bound + 1e-9:
            assert a.marginal_outcome_per_unit <= plan.marginal_outcome_per_unit * 1.02


def simulated_curve(beta: float, half: float, decay: float, base: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    spend = base * np.exp(rng.normal(0, 0.5, 90))
    sessions = rng.poisson(beta * hill(geometric_adstock(spend, decay), half, 1.0))
    return spend, sessions


def test_budget_moves_to_the_unsaturated_campaign_and_respects_bounds() -> None:
    saturated = ResponseCurve(n_bootstrap=20).fit(*simulated_curve(100, 50, 0.0, 400, 2))
    hungry = ResponseCurve(n_bootstrap=20).fit(*simulated_curve(400, 2000, 0.0, 400, 3))
    plan = allocate_budget({"saturated": saturated, "hungry": hungry}, {"saturated": 400, "hungry": 400}, 800)
    by_id = {a.campaign_id: a for a in plan.allocations}
    assert sum(a.recommended_spend for a in plan.allocations) == pytest.approx(800)
    assert by_id["hungry"].recommended_spend > 400 > by_id["saturated"].recommended_spend
    assert by_id["saturated"].recommended_spend >= 200 - 1e-6
    assert plan.expected_outcome_recommended > plan.expected_outcome_baseline
    assert plan.expected_lift > 0
    low, high = plan.interval_gain
    assert 0 < low <= plan.expected_outcome_recommended - plan.expected_outcome_baseline <= high
    assert plan.moves and plan.moves[0].source == "saturated" and plan.moves[0].destination == "hungry"
    assert plan.n_draws == 20


def test_weights_turn_sessions_into_conversions() -> None:
    a = ResponseCurve(n_bootstrap=5).fit(*simulated_curve(200, 300, 0.0, 300, 4))
    b = ResponseCurve(n_bootstrap=5).fit(*simulated_curve(200, 300, 0.0, 300, 5))
    plan = allocate_budget({"a": a, "b": b}, {"a": 300, "b": 300}, 600, weights={"a": 0.10, "b": 0.01})
    by_id = {x.campaign_id: x for x in plan.allocations}
    assert by_id["a"].recommended_spend > by_id["b"].recommended_spend, "money follows conversions per session"


def test_bad_totals_and_bounds_are_clear_errors() -> None:
    curves, current = random_problem(3, 1)
    now = sum(current.values())
    for total in (0.0, -5.0, float("nan")):
        with pytest.raises(InvalidInput, match="positive"):
            allocate_budget(curves, current, total)
    with pytest.raises(InvalidInput, match=f"between {0.5 * now:,.2f} and {2 * now:,.2f}"):
        allocate_budget(curves, current, 3 * now)
    with pytest.raises(InvalidInput, match="between"):
        allocate_budget(curves, current, 0.4 * now)
    with pytest.raises(InvalidInput, match="per week"):
        allocate_budget(curves, current, 3 * now, unit=7, unit_label="week")
    with pytest.raises(InvalidInput, match="cannot be above"):
        allocate_budget(curves, current, now, min_ratio=2.0, max_ratio=1.5)
    with pytest.raises(InvalidInput, match="nothing to allocate"):
        allocate_budget(curves, {name: 0.0 for name in curves}, now)
    pinned = allocate_budget(curves, current, now, min_ratio=1.0, max_ratio=1.0)
    for a in pinned.allocations:
        assert a.recommended_spend == pytest.approx(current[a.campaign_id])


def test_campaigns_without_data_are_left_out_with_a_warning() -> None:
    curves, current = random_problem(3, 2)
    current = {**current, "no-curve": 100.0}
    curves = {**curves, "paused": Hill(50, 50, 1.0)}
    plan = allocate_budget(curves, current, sum(v for k, v in current.items() if k != "no-curve"))
    assert {a.campaign_id for a in plan.allocations} == {"c0", "c1", "c2"}
    assert set(plan.excluded) == {"no-curve", "paused"}
    assert any(w.startswith("no-curve:") and "left out" in w for w in plan.warnings)
    assert any(w.startswith("paused:") and "no current spend" in w for w in plan.warnings)


def test_target_cpa_finds_the_largest_total_keeping_the_average() -> None:
    curves, current = random_problem(5, 3)
    plans = [allocate_budget(curves, current, sum(current.values()) * r) for r in (0.6, 1.0, 1.6)]
    cpas = [p.total / p.expected_outcome_recommended for p in plans]
    assert cpas == sorted(cpas), "the average CPA grows with the total here"
    target = cpas[1]
    plan = plan_for_target(curves, current, Target("cpa", target))
    assert plan.total == pytest.approx(plans[1].total, rel=0.01)
    assert plan.total / plan.expected_outcome_recommended == pytest.approx(target, rel=1e-3)
    bigger = allocate_budget(curves, current, plan.total * 1.02)
    assert bigger.total / bigger.expected_outcome_recommended > target
    assert plan.target == Target("cpa", target)
    capped = plan_for_target(curves, current, Target("cpa", target), max_total=plans[0].total)
    assert capped.total == pytest.approx(plans[0].total)
    generous = plan_for_target(curves, current, Target("cpa", 1e6))
    assert generous.total == pytest.approx(2.0 * sum(current.values()), rel=1e-9)
    assert "allow no more" in plan_sentences(generous)[-1]


def test_target_roas_and_the_marginal_basis() -> None:
    curves, current = random_problem(5, 4, max_shape=1.0)
    now = sum(current.values())
    mid = allocate_budget(curves, current, now)
    roas = mid.expected_outcome_recommended / now
    plan = plan_for_target(curves, current, Target("roas", roas))
    assert plan.expected_outcome_recommended / plan.total == pytest.approx(roas, rel=1e-3)
    marginal = plan_for_target(curves, current, Target("cpa", 1.0 / mid.marginal_outcome_per_unit, "marginal"))
    assert marginal.total == pytest.approx(now, rel=0.01), "the marginal CPA equals 1/λ at today's total"
    average = plan_for_target(curves, current, Target("cpa", 1.0 / mid.marginal_outcome_per_unit))
    assert marginal.total < average.total, "at one target value the marginal rule stops earlier than the average"


def test_unreachable_targets_name_the_best_achievable() -> None:
    curves, current = random_problem(4, 5)
    with pytest.raises(InvalidInput, match=r"CPA of 0\.00.*best achievable is \d"):
        plan_for_target(curves, current, Target("cpa", 0.001))
    with pytest.raises(InvalidInput, match=r"ROAS of 1,000,000\.00.*best achievable is \d"):
        plan_for_target(curves, current, Target("roas", 1e6))
    with pytest.raises(InvalidInput, match="marginal CPA"):
        plan_for_target(curves, current, Target("cpa", 0.001, "marginal"))
    with pytest.raises(InvalidInput, match="positive"):
        plan_for_target(curves, current, Target("cpa", -1.0))


def test_intervals_re_run_the_optimiser_in_each_draw() -> None:
    curves, current = random_problem(4, 6)
    plan = allocate_budget(curves, current, sum(current.values()))
    fixed = sum(curves[a.campaign_id].steady_state_draws(a.recommended_spend) for a in plan.allocations)
    naive = tuple(np.quantile(fixed, [0.05, 0.95]))
    assert plan.optimism > 0, "choosing by a noisy fit flatters the chosen plan"
    assert plan.interval_recommended[0] < naive[0] and plan.interval_recommended[1] < naive[1] + 1e-9
    low, high = plan.interval_gain
    assert high - low > 0 and low < plan.expected_outcome_recommended - plan.expected_outcome_baseline
    gains = sum(m.gain for m in plan.moves)
    assert gains == pytest.approx(plan.expected_outcome_recommended - plan.expected_outcome_baseline, rel=1e-6)


def test_certain_curves_have_no_optimism() -> None:
    sure = {"a": Hill(100, 80, 1.0, spread=1e-9, seed=1), "b": Hill(300, 400, 1.0, spread=1e-9, seed=2)}
    plan = allocate_budget(sure, {"a": 100.0, "b": 100.0}, 200.0)
    assert plan.optimism == pytest.approx(0.0, abs=1e-3 * plan.expected_outcome_recommended)
    assert plan.interval_recommended == pytest.approx((plan.expected_outcome_recommended,) * 2, rel=1e-3)


def test_campaigns_on_a_bound_are_marked_and_named_in_a_sentence() -> None:
    curves = {"hungry": Hill(1000, 5000, 1.0, spread=0.01), "full": Hill(50, 10, 1.0, spread=0.01, seed=1)}
    plan = allocate_budget(curves, {"hungry": 100.0, "full": 100.0}, 300.0)
    by_id = {a.campaign_id: a for a in plan.allocations}
    assert by_id["hungry"].at_bound == "upper" and by_id["full"].at_bound is None
    assert [a.campaign_id for a in plan.at_bound("upper")] == ["hungry"]
    cli = plan_sentences(plan, options=CLI_OPTIONS)
    bound = [s for s in cli if "upper bound" in s]
    assert bound == [
        "1 of 2 campaigns sits at the upper bound (2× today's spend): hungry. The bound, not the response curve, "
        "limits it; raise --max-ratio to let the plan give it more."
    ]
    assert any("raise max_ratio" in s for s in plan_sentences(plan))
    low = allocate_budget(curves, {"hungry": 100.0, "full": 100.0}, 150.0)
    assert {a.campaign_id: a.at_bound for a in low.allocations}["full"] == "lower"
    assert any("lower min_ratio" in s for s in plan_sentences(low))


def test_one_baseline_named_in_the_sentences() -> None:
    curves, current = random_problem(3, 7)
    today = allocate_budget(curves, current, sum(current.values()))
    assert today.at_todays_total and baseline_label(today) == "today's split"
    assert any("with today's split →" in s for s in plan_sentences(today))
    assert not any("Raising" in s or "Lowering" in s for s in plan_sentences(today))
    more = allocate_budget(curves, current, 1.5 * sum(current.values()))
    assert baseline_label(more) == "today's split at this total"
    sentences = plan_sentences(more)
    assert any("with today's split at this total →" in s for s in sentences)
    assert any(s.startswith("Raising the total from today's") for s in sentences)


def test_ladder_shares_one_problem_and_matches_single_plans() -> None:
    curves, current = random_problem(4, 8)
    now = sum(current.values())
    plans = plan_ladder(curves, current, [0.6 * now, now, 1.8 * now])
    assert [p.total for p in plans] == pytest.approx([0.6 * now, now, 1.8 * now])
    single = allocate_budget(curves, current, 1.8 * now)
    assert plans[2].expected_outcome_recommended == pytest.approx(single.expected_outcome_recommended)
    assert plans[0].expected_outcome_recommended < plans[1].expected_outcome_recommended
    assert len(plans[2].at_bound("upper")) >= len(plans[0].at_bound("upper"))
    with pytest.raises(InvalidInput, match="between"):
        plan_ladder(curves, current, [now, 3 * now])
    with pytest.raises(InvalidInput, match="at least one"):
        plan_ladder(curves, current, [])
    assert bounds_range(curves, current) == pytest.approx((0.5 * now, 2.0 * now))


def test_sentences_say_what_to_move_and_when_the_gain_is_uncertain() -> None:
    sure = {"display": Hill(50, 40, 1.0, spread=0.02, seed=1), "search": Hill(400, 2000, 1.0, spread=0.02, seed=2)}
    plan = allocate_budget(sure, {"display": 200.0, "search": 200.0}, 400.0)
    sentences = plan_sentences(plan, unit=7, unit_label="week")
    move = plan.moves[0]
    low, high = (x * 7 for x in move.interval)
    assert sentences[0] == (
        f"Move {move.amount * 7:,.0f} from display to search: {move.gain * 7:+,.1f} conversions a week "
        f"(90 % interval {low:+,.1f} to {high:+,.1f})."
    )
    assert not any("uncertain" in s for s in sentences)
    vague = {"display": Hill(50, 40, 1.0, spread=0.2, seed=1), "search": Hill(55, 45, 1.0, spread=0.2, seed=2)}
    plan = allocate_budget(vague, {"display": 200.0, "search": 200.0}, 400.0)
    sentences = plan_sentences(plan, unit=7, unit_label="week")
    assert "the gain is uncertain" in sentences[0]
    assert "the gain is uncertain: the interval includes zero" in sentences[-1]


def test_a_small_budget_keeps_its_moves_and_digits_and_sentences_name_channels_and_the_kpi() -> None:
    """A media-mix data set in thousands (0.4 a week over two channels) must not read '0' or hide its moves."""
    sure = {"x1": Hill(50, 0.04, 1.0, spread=0.02, seed=1), "x2": Hill(400, 2.0, 1.0, spread=0.02, seed=2)}
    plan = allocate_budget(sure, {"x1": 0.03, "x2": 0.03}, 0.06)
    assert plan.moves and plan.moves[0].amount * 7 < 0.5  # below the old fixed half-unit threshold
    sentences = plan_sentences(plan, unit=7, unit_label="week", outcome_label="y", item="channel")
    assert sentences[0].startswith(f"Move {amount(plan.moves[0].amount * 7)} from x2 to x1: ")
    assert " y a week" in sentences[0] and "Expected y a week with 0.420:" in "".join(sentences)
    assert any(s.startswith("1 of 2 channels sits at the lower bound") for s in sentences)
