"""Intervals and tests for conversion rates, lifts, CPA and ROAS: hand-computed examples, and coverage proved
by seeded simulation (including the contrast between fixed and always-valid intervals under daily looks)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import chi2 as chi2_dist
from scipy.stats import norm

from models import intervals

Z95 = 1.959963984540054
REPLICATIONS = 2_000
DAYS, PER_DAY = 30, 100


def covered(low: np.ndarray, high: np.ndarray, truth: float) -> np.ndarray:
    return (low <= truth) & (truth <= high)


def test_wilson_matches_the_hand_formula() -> None:
    low, high = intervals.wilson_interval([8, 0, 3, 5], [10, 10, 0, 5])
    # 8 of 10 by hand: (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)
    p, n = 0.8, 10
    center = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 / (1 + Z95**2 / n) * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n**2))
    assert low[0] == pytest.approx(center - half) and high[0] == pytest.approx(center + half)
    assert (round(low[0], 4), round(high[0], 4)) == (0.4902, 0.9433)  # the textbook value
    assert low[1] == 0.0 and high[1] == pytest.approx(Z95**2 / (10 + Z95**2))  # 0 of 10: upper z²/(n+z²)
    assert (low[2], high[2]) == (0.0, 1.0)  # no trials: no information
    assert high[3] == 1.0 and low[3] == pytest.approx(5 / (5 + Z95**2))  # all successes


@pytest.mark.parametrize(("p", "n"), [(0.02, 1000), (0.05, 200), (0.1, 500), (0.3, 100)])
def test_wilson_covers_about_95_percent(p: float, n: int) -> None:
    rng = np.random.default_rng(11)
    x = rng.binomial(n, p, REPLICATIONS)
    coverage = covered(*intervals.wilson_interval(x, n), p).mean()
    assert 0.925 <= coverage <= 0.98


def test_lift_and_difference_intervals_cover_about_95_percent() -> None:
    rng = np.random.default_rng(12)
    p_a, p_b, n = 0.08, 0.10, 2_000
    x_a, x_b = rng.binomial(n, p_a, REPLICATIONS), rng.binomial(n, p_b, REPLICATIONS)
    lift_coverage = covered(*intervals.lift_interval(x_a, n, x_b, n), p_b / p_a - 1).mean()
    diff_coverage = covered(*intervals.newcombe_difference_interval(x_a, n, x_b, n), p_b - p_a).mean()
    assert 0.935 <= lift_coverage <= 0.965 and 0.935 <= diff_coverage <= 0.965
    assert intervals.lift(100, 1000, 120, 1000) == pytest.approx(0.2)
    assert np.isnan(intervals.lift(0, 1000, 5, 1000))  # no lift over a rate of zero


def test_lift_interval_ends_with_zero_counts() -> None:
    low, high = intervals.lift_interval([10, 0], [100, 100], [0, 5], [100, 100])
    assert low[0] == -1.0 and math.isfinite(high[0])  # no conversion in b: it may be 100 % worse
    assert high[1] == math.inf and low[1] > -1  # none in a: it may be infinitely better


def _daily(p: float, seed: int) -> np.ndarray:
    """Cumulative conversions after each of ``DAYS`` days of ``PER_DAY`` sessions, per replication."""
    return np.random.default_rng(seed).binomial(PER_DAY, p, (REPLICATIONS, DAYS)).cumsum(axis=1)


SESSIONS = PER_DAY * np.arange(1, DAYS + 1)


def test_always_valid_proportion_survives_daily_looks_where_the_fixed_interval_does_not() -> None:
    p = 0.1
    x = _daily(p, 21)
    fixed = covered(*intervals.wilson_interval(x, SESSIONS), p)
    sequential = covered(*intervals.always_valid_proportion_interval(x, SESSIONS), p)
    assert 0.93 <= fixed[:, -1].mean() <= 0.97  # one look: the fixed interval is fine
    assert fixed.all(axis=1).mean() < 0.85  # a look every day: it misses at some look far more than 5 %
    assert sequential.all(axis=1).mean() >= 0.95  # the confidence sequence covers at all 30 looks at once


def test_always_valid_difference_and_lift_survive_daily_looks() -> None:
    p_a, p_b = 0.10, 0.12
    x_a, x_b = _daily(p_a, 22), _daily(p_b, 23)
    fixed = covered(*intervals.newcombe_difference_interval(x_a, SESSIONS, x_b, SESSIONS), p_b - p_a)
    diff = covered(*intervals.always_valid_difference_interval(x_a, SESSIONS, x_b, SESSIONS), p_b - p_a)
    lift = covered(*intervals.always_valid_lift_interval(x_a, SESSIONS, x_b, SESSIONS), p_b / p_a - 1)
    assert fixed.all(axis=1).mean() < 0.85
    assert diff.all(axis=1).mean() >= 0.95 and lift.all(axis=1).mean() >= 0.95


def test_peeking_every_day_at_a_fixed_test_finds_differences_that_do_not_exist() -> None:
    x_a, x_b = _daily(0.1, 24), _daily(0.1, 25)
    naive = (intervals.two_proportion_p_value(x_a, SESSIONS, x_b, SESSIONS) < 0.05).any(axis=1).mean()
    low, high = intervals.always_valid_lift_interval(x_a, SESSIONS, x_b, SESSIONS)
    sequential = ((low > 0) | (high < 0)).any(axis=1).mean()
    assert naive > 0.15  # a 5 % test looked at 30 times
    assert sequential <= 0.05


def test_mixing_rho_makes_the_boundary_tightest_near_its_target() -> None:
    target, variance = 5_000, 0.09 / 5_000
    best = intervals.always_valid_half_width(variance, target, rho=intervals.mixing_rho(target))
    for other in (target / 10, target * 10):
        assert best < intervals.always_valid_half_width(variance, target, rho=intervals.mixing_rho(other))
    fixed = Z95 * math.sqrt(variance)
    assert fixed < best < 3 * fixed  # the price of looking any time: wider, not useless
    with pytest.raises(ValueError):
        intervals.mixing_rho(0)


def test_benjamini_hochberg_by_hand() -> None:
    q = intervals.benjamini_hochberg([0.01, 0.04, 0.03, 0.005, np.nan])
    # sorted 0.005, 0.01, 0.03, 0.04 → ×4/1, ×4/2, ×4/3, ×4/4 = 0.02, 0.02, 0.04, 0.04 (then step-up minimum)
    np.testing.assert_allclose(q[:4], [0.02, 0.04, 0.04, 0.02])
    assert np.isnan(q[4])
    np.testing.assert_allclose(intervals.benjamini_hochberg([0.5, 0.9]), [0.9, 0.9])
    assert intervals.benjamini_hochberg([]).shape == (0,)


def test_benjamini_hochberg_controls_the_false_discovery_rate() -> None:
    rng = np.random.default_rng(31)
    nulls, effects, runs = 40, 10, 1_000
    z = rng.standard_normal((runs, nulls + effects))
    z[:, nulls:] += 3.0
    p = 2 * norm.sf(np.abs(z))
    q = np.apply_along_axis(intervals.benjamini_hochberg, 1, p)

    def fdr(rejected: np.ndarray) -> float:
        false = rejected[:, :nulls].sum(axis=1)
        return float((false / np.maximum(rejected.sum(axis=1), 1)).mean())

    assert fdr(q < 0.05) <= 0.05
    assert fdr(p < 0.05) > 0.05  # without the adjustment the rate of false discoveries is higher
    assert (q[:, nulls:] < 0.05).mean() > 0.5  # and real effects are still found


def test_chance_to_beat_closed_form_matches_monte_carlo() -> None:
    cases = [(100, 1000, 120, 1000), (3, 40, 1, 35), (0, 10, 0, 10), (50, 60, 5, 900)]
    exact = intervals.chance_to_beat(*np.array(cases).T)
    rng = np.random.default_rng(41)
    for (x_a, n_a, x_b, n_b), value in zip(cases, exact, strict=True):
        draws_a = rng.beta(1 + x_a, 1 + n_a - x_a, 400_000)
        draws_b = rng.beta(1 + x_b, 1 + n_b - x_b, 400_000)
        assert value == pytest.approx((draws_b > draws_a).mean(), abs=0.004)
    assert exact[2] == pytest.approx(0.5)
    forward = intervals.chance_to_beat(3, 40, 1, 35)
    assert forward + intervals.chance_to_beat(1, 35, 3, 40) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        intervals.chance_to_beat(1, 2, 1, 2, prior_alpha=0.5)


def test_two_proportion_p_value_by_hand_and_its_size_under_the_null() -> None:
    pooled = 0.11
    z = (0.12 - 0.10) / math.sqrt(pooled * (1 - pooled) * (2 / 1000))
    assert intervals.two_proportion_p_value(100, 1000, 120, 1000) == pytest.approx(2 * norm.sf(z))
    assert np.isnan(intervals.two_proportion_p_value(0, 0, 1, 5))
    rng = np.random.default_rng(51)
    for n in (30, 2_000):  # Fisher's exact test for tiny counts, the z test for large ones
        x_a, x_b = rng.binomial(n, 0.05, REPLICATIONS), rng.binomial(n, 0.05, REPLICATIONS)
        assert (intervals.two_proportion_p_value(x_a, n, x_b, n) < 0.05).mean() <= 0.065


def test_sample_ratio_mismatch() -> None:
    # 550 vs 450 against 50/50: chi-square = 2 · 50² / 500 = 10 on 1 degree of freedom
    assert intervals.sample_ratio_p_value([550, 450], [1, 1]) == pytest.approx(chi2_dist.sf(10, 1))
    assert intervals.sample_ratio_p_value([500, 500], [0.5, 0.5]) == pytest.approx(1.0)
    assert intervals.sample_ratio_p_value([900, 100], [0.9, 0.1]) == pytest.approx(1.0)
    assert intervals.sample_ratio_p_value([600, 400], [0.5, 0.5]) < 0.001
    with pytest.raises(ValueError):
        intervals.sample_ratio_p_value([10], [1])
    with pytest.raises(ValueError):
        intervals.sample_ratio_p_value([10, 10], [1, 0])


def test_sessions_per_arm() -> None:
    # (1.96 + 0.8416)² · (0.1·0.9 + 0.12·0.88) / 0.02² = 3838.1
    assert intervals.sessions_per_arm(0.1, 0.2) == 3839
    sequential = float(intervals.sessions_per_arm(0.1, 0.2, sequential=True))
    assert 3839 < sequential < 4 * 3839
    rare = intervals.sessions_per_arm([0.1, 0.01], -0.2, sequential=True)
    assert rare[1] > rare[0]
    # at the sequential size the always-valid interval finds a real 20 % lift about 80 % of the time
    rng = np.random.default_rng(61)
    n = int(sequential)
    x_a, x_b = rng.binomial(n, 0.1, REPLICATIONS), rng.binomial(n, 0.12, REPLICATIONS)
    power = (intervals.always_valid_difference_interval(x_a, n, x_b, n)[0] > 0).mean()
    assert 0.75 <= power <= 0.87


@pytest.mark.parametrize("mean", [0.5, 4.0, 20.0, 100.0])
def test_poisson_and_cpa_intervals_cover_at_least_95_percent(mean: float) -> None:
    rng = np.random.default_rng(71)
    counts = rng.poisson(mean, 10_000)
    low, high = intervals.poisson_interval(counts)
    assert covered(low, high, mean).mean() >= 0.945
    cpa_low, cpa_high = intervals.cpa_interval(500.0, counts)
    assert covered(cpa_low, cpa_high, 500.0 / mean).mean() >= 0.945
    assert np.all(cpa_high[counts == 0] == np.inf)


def test_value_and_roas_intervals_cover_about_95_percent() -> None:
    rng = np.random.default_rng(81)
    for mean_count, sigma in [(3, 1.0), (20, 0.5), (20, 1.0), (60, 1.0)]:
        mean_value, mean_square = math.exp(3 + sigma**2 / 2), math.exp(6 + 2 * sigma**2)
        truth = mean_count * mean_value / 400.0  # ROAS of a fixed spend of 400
        hits = []
        for _ in range(REPLICATIONS):
            count = rng.poisson(mean_count)
            values = rng.lognormal(3, sigma, count)
            largest = max(values.max(initial=0.0), mean_value)
            squares = intervals.pooled_sum_of_squares((values**2).sum(), count, mean_square)
            low, high = intervals.roas_interval(400.0, values.sum(), squares, largest)
            hits.append(low <= truth <= high)
        assert 0.94 <= np.mean(hits) <= 0.995, (mean_count, sigma)
    assert np.isnan(intervals.roas_interval(0.0, 10.0, 100.0, 10.0)[0])
