"""Geo-test design on a simulated regional panel (12 regions × 80 weeks, shared yearly seasonality and trend,
each region's own scale and 5 % weekly noise): matched pairs, TBR recovering a planted lift, placebo power
and false-positive rate, and the errors for bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import InvalidInput
from models.geo_design import GeoSplit, design_power, matched_split, min_pre_periods, time_based_regression

REGIONS, WEEKS, NOISE = 12, 80, 0.05
LIFT = 0.05  # planted: treatment's KPI up 5 % during the test


def panel(seed: int, regions: int = REGIONS, weeks: int = WEEKS) -> pd.DataFrame:
    """Weekly KPI per region: lognormal scale × (1 + 0.2 sin(yearly) + 0.2 % a week) × (1 + 5 % noise)."""
    rng = np.random.default_rng(seed)
    scale = rng.lognormal(np.log(1_000), 0.5, regions)
    t = np.arange(weeks)
    season = 1 + 0.2 * np.sin(2 * np.pi * t / 52) + 0.002 * t
    kpi = scale[None, :] * season[:, None] * (1 + NOISE * rng.standard_normal((weeks, regions)))
    dates = pd.date_range("2025-01-06", periods=weeks, freq="W-MON")
    names = [f"r{i:02d}" for i in range(regions)]
    return pd.DataFrame({"date": np.repeat(dates, regions), "region": np.tile(names, weeks), "kpi": kpi.ravel()})


def with_lift(history: pd.DataFrame, treatment: tuple[str, ...], start: pd.Timestamp) -> pd.DataFrame:
    lifted = history.copy()
    rows = (lifted["date"] >= start) & lifted["region"].isin(treatment)
    lifted.loc[rows, "kpi"] *= 1 + LIFT
    return lifted


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return panel(7)


@pytest.fixture(scope="module")
def split(history: pd.DataFrame) -> GeoSplit:
    return matched_split(history, seed=1)


def test_pairs_are_matched_and_the_groups_balanced(history: pd.DataFrame, split: GeoSplit) -> None:
    assert len(split.pairs) == 6 and split.odd_region is None
    assert sorted(split.treatment + split.control) == sorted(history["region"].unique())
    totals = history.groupby("region")["kpi"].sum()
    ratios = [max(totals[a], totals[b]) / min(totals[a], totals[b]) for a, b in split.pairs]
    assert np.median(ratios) < 1.25  # pairs match in size (regions' scales spread lognormally, sd 0.5)
    assert 0.4 < split.treatment_share < 0.6
    assert split.treatment_share + split.control_share == pytest.approx(1.0)
    assert split.pre_r2 > 0.9 and split.pre_correlation > 0.95 and split.pre_mape < 0.05
    # the seed flips coins within pairs; the pairs themselves do not change
    other = matched_split(history, seed=2)
    assert {frozenset(p) for p in other.pairs} == {frozenset(p) for p in split.pairs}
    assert other.treatment != split.treatment


def test_an_odd_region_out_goes_to_control(history: pd.DataFrame) -> None:
    odd = matched_split(history, seed=0, exclude=["r03"])
    assert odd.excluded == ("r03",) and "r03" not in odd.treatment + odd.control
    assert odd.odd_region is not None and odd.odd_region in odd.control
    assert len(odd.treatment) == 5 and len(odd.control) == 6


def test_tbr_recovers_a_planted_lift(history: pd.DataFrame, split: GeoSplit) -> None:
    start = pd.Timestamp(sorted(history["date"].unique())[68])
    est = time_based_regression(
        with_lift(history, split.treatment, start), split.treatment, split.control, start, history["date"].max()
    )
    truth = est.actual - est.actual / (1 + LIFT)
    assert est.n_pre == 68 and est.n_test == 12
    assert est.interval[0] <= truth <= est.interval[1]
    assert est.interval[0] > 0
    assert est.relative_lift is not None and 0.02 < est.relative_lift < 0.08
    no_lift = time_based_regression(history, split.treatment, split.control, start, history["date"].max())
    assert no_lift.interval[0] < 0 < no_lift.interval[1]
    assert est.incremental - no_lift.incremental == pytest.approx(est.actual - no_lift.actual)


def test_tbr_on_an_exact_linear_relation() -> None:
    """Treatment = 3 + 2 · control + tiny noise: the counterfactual is the line, the increment what was added."""
    rng = np.random.default_rng(0)
    dates = pd.date_range("2025-01-06", periods=30, freq="W-MON")
    control = 100 + 10 * np.sin(np.arange(30))
    treatment = 3 + 2 * control + rng.normal(0, 1e-3, 30)
    treatment[25:] += 7.0
    rows = [
        (d, r, v)
        for d, c, t in zip(dates, control, treatment, strict=True)
        for r, v in (("a", c / 2), ("b", c / 2), ("c", t / 2), ("d", t / 2))
    ]
    history = pd.DataFrame(rows, columns=["date", "region", "kpi"])
    est = time_based_regression(history, ["c", "d"], ["a", "b"], dates[25], dates[-1])
    assert est.alpha == pytest.approx(3, abs=1e-2) and est.beta == pytest.approx(2, abs=1e-4)
    assert est.incremental == pytest.approx(35.0, abs=0.05)
    assert est.interval[0] < 35.0 < est.interval[1] and est.interval[1] - est.interval[0] < 0.1


def test_tbr_interval_coverage_over_simulated_panels() -> None:
    """100 panels, a 12-week test with 5 % planted: the 90 % interval covers the planted increment."""
    covered: list[bool] = []
    lifts: list[float] = []
    for seed in range(100):
        history = panel(500 + seed)
        split = matched_split(history, seed=seed)
        start = pd.Timestamp(sorted(history["date"].unique())[68])
        est = time_based_regression(
            with_lift(history, split.treatment, start), split.treatment, split.control, start, history["date"].max()
        )
        truth = est.actual - est.actual / (1 + LIFT)
        covered.append(est.interval[0] <= truth <= est.interval[1])
        assert est.relative_lift is not None
        lifts.append(est.relative_lift)
    assert np.mean(covered) >= 0.75
    assert abs(np.mean(lifts) - LIFT) < 0.01


def test_power_rises_with_the_lift(history: pd.DataFrame, split: GeoSplit) -> None:
    small = design_power(history, split, weeks=8, lift=0.01)
    large = design_power(history, split, weeks=8, lift=0.08)
    assert small.n_placebos == large.n_placebos == 30
    assert small.window_starts[0] == pd.Timestamp(sorted(history["date"].unique())[min_pre_periods(8)])
    assert small.power < 0.5 < large.power
    powers = [small.power_at(lift) for lift in (0.0, 0.01, 0.02, 0.04, 0.08)]
    assert powers == sorted(powers)
    assert small.power_at(small.minimum_detectable_lift) >= 0.8
    assert small.power_at(small.minimum_detectable_lift * 0.99) < 0.8
    assert small.minimum_detectable_lift == large.minimum_detectable_lift
    assert 0.005 < small.minimum_detectable_lift < 0.2


def test_placebo_false_positive_rate_is_sane() -> None:
    """Without a lift, placebo windows' 90 % intervals exclude 0 in about 10 % of windows (20 panels)."""
    rates = []
    for seed in range(20):
        history = panel(100 + seed)
        rates.append(design_power(history, matched_split(history, seed=seed), weeks=6, lift=0.03).false_positive_rate)
    assert np.mean(rates) <= 0.15


def test_invalid_input(history: pd.DataFrame, split: GeoSplit) -> None:
    start, end = history["date"].iloc[-40], history["date"].max()
    with pytest.raises(InvalidInput, match="at least 4 regions"):
        matched_split(panel(0, regions=3))
    with pytest.raises(InvalidInput, match="at least 4 regions"):
        matched_split(history, exclude=[f"r{i:02d}" for i in range(9)])
    with pytest.raises(InvalidInput, match="not in history"):
        matched_split(history, exclude=["nowhere"])
    with pytest.raises(InvalidInput, match="both treatment and control"):
        time_based_regression(history, ["r00", "r01"], ["r01", "r02", "r03"], start, end)
    with pytest.raises(InvalidInput, match="not in history"):
        time_based_regression(history, ["r00", "zz"], ["r01", "r02"], start, end)
    with pytest.raises(InvalidInput, match="kpi must be numeric"):
        matched_split(history.assign(kpi="lots"))
    with pytest.raises(InvalidInput, match="missing or infinite"):
        matched_split(history.assign(kpi=history["kpi"].where(history.index != 5)))
    with pytest.raises(InvalidInput, match="lacks column"):
        matched_split(history.drop(columns="kpi"))
    with pytest.raises(InvalidInput, match="at least 3 pre-period"):
        time_based_regression(history, split.treatment, split.control, history["date"].min(), end)
    with pytest.raises(InvalidInput, match="level"):
        time_based_regression(history, split.treatment, split.control, start, end, level=1.5)
    with pytest.raises(InvalidInput, match="needs at least 60"):
        design_power(history.iloc[: 40 * REGIONS], split, weeks=20, lift=0.05)
    with pytest.raises(InvalidInput, match="weeks"):
        design_power(history, split, weeks=0, lift=0.05)
