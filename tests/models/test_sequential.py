"""Always-valid intervals for daily looks: the false-positive rate over 30 looks on null worlds (against a
fixed-horizon interval peeked at daily), the price in width, power on a real effect, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from core.errors import InvalidInput
from models.sequential import DEFAULT_TUNING_N, SequentialEstimate, confidence_sequence, sequential_difference

REPLICATIONS, DAYS = 400, 30
LEVEL = 0.9
Z90 = float(norm.ppf(0.95))


def daily_looks(
    rate_control: float, rate_treatment: float, per_day: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative difference in conversion rate, its standard error and n (both groups) at each daily look."""
    rng = np.random.default_rng(seed)
    control = rng.binomial(per_day, rate_control, (REPLICATIONS, DAYS)).cumsum(axis=1)
    treated = rng.binomial(per_day, rate_treatment, (REPLICATIONS, DAYS)).cumsum(axis=1)
    per_arm = per_day * np.arange(1, DAYS + 1)
    p_c, p_t = control / per_arm, treated / per_arm
    se = np.sqrt((p_c * (1 - p_c) + p_t * (1 - p_t)) / (per_arm - 1))
    return p_t - p_c, se, 2 * per_arm


def ever_excludes_zero(low: np.ndarray, high: np.ndarray) -> float:
    return float(((low > 0) | (high < 0)).any(axis=1).mean())


@pytest.fixture(scope="module")
def null_world() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return daily_looks(0.05, 0.05, per_day=200, seed=18)


@pytest.mark.parametrize("tuning_n", [DEFAULT_TUNING_N, 200, 12_000])
def test_null_worlds_rarely_ever_exclude_zero_over_30_daily_looks(
    null_world: tuple[np.ndarray, np.ndarray, np.ndarray], tuning_n: float
) -> None:
    difference, se, n = null_world
    low, high = confidence_sequence(difference, se, n, level=LEVEL, tuning_n=tuning_n)
    # Seen: 3.5 % (tuning 2,000), 2.5 % (200), 2.25 % (12,000): at most the nominal 10 %.
    assert ever_excludes_zero(low, high) <= 1 - LEVEL
    # The fixed-horizon 90 % interval acted on at the first daily look that excludes 0: seen 50 % false positives.
    assert ever_excludes_zero(difference - Z90 * se, difference + Z90 * se) > 0.3


def test_null_world_with_a_skewed_continuous_outcome() -> None:
    """Revenue per visitor (lognormal, mostly zeros): the plug-in variance still keeps the sequence valid."""
    rng = np.random.default_rng(7)
    per_day = 100
    shape = (REPLICATIONS, DAYS * per_day)

    def revenue() -> np.ndarray:
        return rng.binomial(1, 0.1, shape) * rng.lognormal(3, 1, shape)

    treated, control = revenue(), revenue()
    looks = per_day * np.arange(1, DAYS + 1)

    def mean_and_var(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s, s2 = y.cumsum(axis=1)[:, looks - 1], (y**2).cumsum(axis=1)[:, looks - 1]
        return s / looks, (s2 - s**2 / looks) / (looks - 1)

    (m_t, v_t), (m_c, v_c) = mean_and_var(treated), mean_and_var(control)
    difference, se = m_t - m_c, np.sqrt((v_t + v_c) / looks)
    low, high = confidence_sequence(difference, se, 2 * looks, level=LEVEL)
    assert ever_excludes_zero(low, high) <= 1 - LEVEL  # seen: 1.25 %
    assert ever_excludes_zero(difference - Z90 * se, difference + Z90 * se) > 0.3  # seen: 50 %


@pytest.mark.parametrize("level", [0.8, 0.9, 0.95, 0.99])
def test_always_valid_interval_is_wider_than_the_fixed_one_and_contains_it(level: float) -> None:
    rng = np.random.default_rng(3)
    estimate = sequential_difference(rng.binomial(1, 0.07, 3_000), rng.binomial(1, 0.05, 3_000), level)
    assert estimate.low < estimate.fixed_low < estimate.difference < estimate.fixed_high < estimate.high
    # At every sample size, tight tuning or not, the always-valid half-width exceeds z · SE (seen: by ≥ 39 %).
    n = np.geomspace(2, 1e8, 200)
    for tuning_n in (10, DEFAULT_TUNING_N, 1e7):
        low, high = confidence_sequence(0.0, 1.0, n, level=level, tuning_n=tuning_n)
        z = norm.ppf(0.5 + level / 2)
        assert np.all(high > 1.3 * z) and np.allclose(low, -high)


def test_the_boundary_is_tightest_near_tuning_n() -> None:
    n = np.geomspace(10, 1e6, 4_001)
    _, high = confidence_sequence(0.0, 1.0, n, tuning_n=5_000)
    assert 5_000 / 1.5 < n[np.argmin(high)] < 5_000 * 1.5  # seen: 5,248


def test_sequential_difference_matches_the_hand_computation() -> None:
    treated = np.array([0, 1, 1, 0, 1, 1, 0, 1], dtype=float)
    control = np.array([0, 0, 1, 0, 0, 1], dtype=float)
    estimate = sequential_difference(treated.tolist(), control, level=0.9, tuning_n=50)
    se = math.sqrt(treated.var(ddof=1) / 8 + control.var(ddof=1) / 6)
    assert isinstance(estimate, SequentialEstimate)
    assert estimate.difference == pytest.approx(5 / 8 - 2 / 6)
    assert estimate.standard_error == pytest.approx(se)
    assert (estimate.n_treatment, estimate.n_control, estimate.level, estimate.tuning_n) == (8, 6, 0.9, 50.0)
    assert estimate.fixed_low == pytest.approx(estimate.difference - Z90 * se)
    assert estimate.fixed_high == pytest.approx(estimate.difference + Z90 * se)
    low, high = confidence_sequence(estimate.difference, se, 14, level=0.9, tuning_n=50)
    assert (estimate.low, estimate.high) == pytest.approx((float(low), float(high)))
    assert not estimate.excludes_zero  # 8 and 6 visitors say nothing for sure


def test_a_real_effect_is_eventually_detected() -> None:
    # 5 % → 6.5 % conversion: with 1,000 visitors per group and day every replication excludes 0 by day 30;
    # with 200 a day most do (seen: 84 %), though fewer than the fixed interval's peeking "finds" (99.25 %).
    difference, se, n = daily_looks(0.05, 0.065, per_day=1_000, seed=3)
    low, high = confidence_sequence(difference, se, n, level=LEVEL, tuning_n=60_000)
    assert np.all(low[:, -1] > 0)
    difference, se, n = daily_looks(0.05, 0.065, per_day=200, seed=3)
    low, high = confidence_sequence(difference, se, n, level=LEVEL, tuning_n=12_000)
    assert ever_excludes_zero(low, high) > 0.7
    rng = np.random.default_rng(5)
    estimate = sequential_difference(rng.binomial(1, 0.065, 30_000), rng.binomial(1, 0.05, 30_000))
    assert estimate.excludes_zero and estimate.low > 0 and estimate.fixed_low > estimate.low


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"level": 0}, "level must be between 0 and 1"),
        ({"level": 1.5}, "level must be between 0 and 1"),
        ({"level": "high"}, "level must be between 0 and 1"),
        ({"tuning_n": 0}, "tuning_n must be a positive"),
        ({"tuning_n": math.nan}, "tuning_n must be a positive"),
        ({"standard_error": -0.1}, "standard_error must not be negative"),
        ({"n": 0}, "n (observations of both groups) must be at least 1"),
        ({"difference": math.inf}, "difference has missing or infinite values"),
        ({"difference": "a lot"}, "difference must be numbers"),
        ({"standard_error": [0.1, math.nan]}, "standard_error has missing or infinite values"),
    ],
)
def test_confidence_sequence_refuses_bad_input(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"difference": 0.01, "standard_error": 0.005, "n": 1_000, **kwargs}
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        confidence_sequence(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("treated", "control", "message"),
    [
        ([1.0], [0.0, 1.0], "y_treatment needs at least 2 observations; got 1"),
        ([0.0, 1.0], [], "y_control needs at least 2 observations; got 0"),
        ([[0.0, 1.0], [1.0, 1.0]], [0.0, 1.0], "y_treatment must be one value per unit"),
        ([0.0, math.nan], [0.0, 1.0], "y_treatment has missing or infinite values"),
        ([0.0, 1.0], ["yes", "no"], "y_control must be numbers"),
    ],
)
def test_sequential_difference_refuses_bad_input(treated: object, control: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        sequential_difference(treated, control)


def test_sequential_difference_refuses_a_bad_level_or_tuning() -> None:
    with pytest.raises(InvalidInput, match="level must be between 0 and 1"):
        sequential_difference([0.0, 1.0], [0.0, 1.0], level=1.0)
    with pytest.raises(InvalidInput, match="tuning_n must be a positive"):
        sequential_difference([0.0, 1.0], [0.0, 1.0], tuning_n=-5)
    # numpy scalars are numbers too
    assert sequential_difference([0.0, 1.0], [0.0, 1.0], np.float64(0.8), tuning_n=np.float64(100)).level == 0.8
