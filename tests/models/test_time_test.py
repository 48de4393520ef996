"""On/off regression: interval coverage by simulation, null false positives, a planted effect, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import InvalidInput
from models.time_test import on_off_power, on_off_regression

TEST = 4


def world(
    seed: int, *, n: int = 40, effect: float = 0.0, daily: bool = False, rho: float = 0.3
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """KPI = level + trend + 1.5 × other channel's spend + AR(1) noise; the last TEST periods × (1 + effect)."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2025-01-06", periods=n, freq="D" if daily else "7D")
    other = 100 + 20 * rng.standard_normal(n)
    noise = np.zeros(n)
    for i in range(n):
        noise[i] = (rho * noise[i - 1] if i else 0.0) + 10 * rng.standard_normal()
    kpi = 500 + 2 * np.arange(n) + 1.5 * other + noise
    if daily:
        kpi += 40 * (np.asarray(dates.day_of_week) >= 5)
    kpi[n - TEST :] *= 1 + effect
    return pd.DataFrame({"date": dates, "kpi": kpi}), pd.DataFrame({"date": dates, "other": other})


def read(series: pd.DataFrame, regressors: pd.DataFrame | None, periods: int = TEST) -> object:
    return on_off_regression(
        series, series["date"].iloc[-periods], series["date"].iloc[-1], regressors=regressors, level=0.9
    )


def test_the_90_percent_interval_covers_the_truth_by_simulation() -> None:
    hits = 0
    runs = 200
    for seed in range(runs):
        series, regressors = world(seed, rho=0.5)  # autocorrelated errors: the interval must allow for them
        est = read(series, regressors)
        low, high = est.interval  # type: ignore[attr-defined]
        hits += int(low <= 0 <= high)
    assert 0.85 <= hits / runs <= 0.95  # null worlds: coverage of 0 is 1 − false-positive rate


def test_a_planted_effect_is_recovered() -> None:
    series, regressors = world(7, n=60, effect=0.15)
    est = on_off_regression(series, series["date"].iloc[-TEST], series["date"].iloc[-1], regressors=regressors)
    true = est.actual - est.actual / 1.15
    assert est.interval[0] > 0 and est.interval[0] <= true <= est.interval[1]
    assert est.relative_lift == pytest.approx(0.15, abs=0.05)
    assert est.n_pre == 56 and est.n_test == TEST and est.frequency == "week"
    assert "fourier_sin1" in est.features and "spend:other" in est.features  # a year of history


def test_daily_series_use_weekday_terms() -> None:
    series, _ = world(3, n=120, daily=True)
    est = read(series, None, periods=14)
    assert est.frequency == "day" and "weekday6" in est.features  # type: ignore[attr-defined]
    assert "fourier_sin1" not in est.features  # type: ignore[attr-defined]
    low, high = est.interval  # type: ignore[attr-defined]
    assert low <= 0 <= high


def test_power_by_placebo_windows() -> None:
    series, regressors = world(1, n=60)
    power = on_off_power(series, weeks=4, lift=0.1, regressors=regressors, n_placebos=20)
    assert power.power == 1.0 and 0 < power.minimum_detectable_lift < 0.1
    assert power.false_positive_rate <= 0.2 and power.n_placebos == 20
    pause = on_off_power(series, weeks=4, lift=-0.1, regressors=regressors, n_placebos=20)
    assert pause.power == 1.0 and pause.power_at(-0.001) < 1.0
    tiny = on_off_power(series, weeks=4, lift=0.001, regressors=regressors, n_placebos=20)
    assert tiny.power < 0.5


def test_null_false_positive_rate_is_near_nominal() -> None:
    rates = [on_off_power(world(s, n=50)[0], weeks=2, lift=0.1, n_placebos=10).false_positive_rate for s in range(10)]
    assert float(np.mean(rates)) <= 0.15


def test_bad_input_is_refused() -> None:
    series, regressors = world(0)
    with pytest.raises(InvalidInput, match="needs at least 8 weeks of history"):
        on_off_regression(series, series["date"].iloc[5], series["date"].iloc[8])
    with pytest.raises(InvalidInput, match="missing or infinite"):
        on_off_regression(
            series.assign(kpi=np.where(series.index == 3, np.nan, series["kpi"])), "2025-09-01", "2025-09-28"
        )
    with pytest.raises(InvalidInput, match="test_start must be a date"):
        on_off_regression(series, "not a date", "2025-09-28")
    with pytest.raises(InvalidInput, match="before test_start"):
        on_off_regression(series, "2025-09-28", "2025-09-01")
    with pytest.raises(InvalidInput, match="misses periods"):
        on_off_regression(series.drop(index=[4]), "2025-09-01", "2025-09-28")
    with pytest.raises(InvalidInput, match="regressors miss"):
        on_off_regression(series, "2025-09-01", "2025-09-28", regressors=regressors.iloc[:-1])
    with pytest.raises(InvalidInput, match="a 4-week test's power needs at least"):
        on_off_power(series.iloc[:11], weeks=4, lift=0.1)
    with pytest.raises(InvalidInput, match="lift"):
        on_off_power(series, weeks=4, lift=float("nan"))
