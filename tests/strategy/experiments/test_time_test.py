"""On/off (time) tests: design of the test weeks and power, and a read that recovers a planted pause."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from core.errors import InvalidInput, NotReady
from strategy.experiments.results import Design, DesignRequest
from strategy.experiments.time_test import analyze_time, design_time
from tracking.experiments import Experiment

FIRST = date(2025, 3, 3)  # a Monday
START = date(2026, 3, 2)  # 52 weeks of history
WEEKS = 4
DROP = 0.2  # the pause removes 20 % of the KPI


def series_world(*, weeks: int = 60, drop: float = 0.0, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Weekly KPI with trend, yearly season and the other channels' spend; × (1 − drop) from START on."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(FIRST, periods=weeks, freq="7D")
    t = np.arange(weeks)
    display = 200 + 40 * rng.standard_normal(weeks)
    kpi = 1000 + 3 * t + 80 * np.sin(2 * np.pi * t / 52) + 1.2 * display + 15 * rng.standard_normal(weeks)
    kpi = np.where(dates >= pd.Timestamp(START), kpi * (1 - drop), kpi)
    series = pd.DataFrame({"date": [d.date() for d in dates], "kpi": kpi})
    return series, pd.DataFrame({"date": [d.date() for d in dates], "display": display})


@pytest.fixture(scope="module")
def history() -> tuple[pd.DataFrame, pd.DataFrame]:
    series, regressors = series_world(weeks=52)
    return series, regressors


@pytest.fixture(scope="module")
def design(history: tuple[pd.DataFrame, pd.DataFrame]) -> Design:
    series, regressors = history
    request = DesignRequest(type="time", channel="search", kpi="revenue", lift=0.2, weeks=WEEKS)
    return design_time(request, series, today=START - timedelta(days=3), regressors=regressors)


def experiment(**changes: object) -> Experiment:
    base = Experiment(
        experiment_id="time-search-20260302",
        client_id="acme",
        type="time",
        channel="search",
        campaign_id=None,
        kpi="revenue",
        action="pause",
        start_date=START,
        end_date=START + timedelta(days=7 * WEEKS - 1),
        weeks=WEEKS,
        lift=0.2,
        level=0.9,
        treatment_regions=(),
        control_regions=(),
        holdout_share=None,
        spend_change=-4000.0,
        design={},
        status="running",
        created_at=datetime(2026, 3, 1, tzinfo=UTC),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_design_plans_the_weeks_and_powers_a_pause(design: Design) -> None:
    assert design.action == "pause" and design.kpi == "revenue"
    assert design.start == START and design.end == START + timedelta(days=27)
    assert design.groups == {"test_weeks": [(START + timedelta(weeks=k)).isoformat() for k in range(WEEKS)]}
    assert design.power >= 0.8 and 0 < design.minimum_detectable_lift < 0.2
    assert design.false_positive_rate is not None and design.n_simulations > 10
    assert (
        design.history_end == START - timedelta(days=8) and design.expected_kpi > 0
    )  # the unfinished week is left out
    assert not design.warnings


def test_design_warns_and_refuses(history: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    series, regressors = history
    small = DesignRequest(type="time", channel="search", lift=0.002, weeks=2)
    d = design_time(small, series, today=START, regressors=regressors)
    assert d.power < 0.8 and any("can detect" in w for w in d.warnings)
    with pytest.raises(InvalidInput, match="needs at least"):
        design_time(small, series.iloc[:9], today=START, regressors=None)
    with pytest.raises(InvalidInput, match="design_time designs time tests"):
        design_time(replace(small, type="geo"), series, today=START, regressors=None)


@pytest.fixture(scope="module")
def paused() -> tuple[pd.DataFrame, pd.DataFrame]:
    return series_world(weeks=56, drop=DROP)


def test_analysis_recovers_the_pause(paused: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    series, regressors = paused
    analysis = analyze_time(experiment(), series, today=START + timedelta(weeks=WEEKS), regressors=regressors)
    est = analysis.metrics["revenue"]
    true = est.actual - est.actual / (1 - DROP)
    assert est.high < 0 and est.low <= true <= est.high
    assert not analysis.interim and analysis.end == START + timedelta(days=27)
    assert analysis.roi is not None and analysis.roi > 0  # a cut that lost revenue: positive return per unit
    assert analysis.roi_low is not None and analysis.roi_high is not None
    assert analysis.roi_low <= analysis.roi <= analysis.roi_high
    assert analysis.placebo_false_positive_rate is not None and analysis.n_placebos
    assert "spend:display" in analysis.method


def test_interim_and_not_ready(paused: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    series, regressors = paused
    interim = analyze_time(experiment(), series, today=START + timedelta(days=16), regressors=regressors)
    assert interim.interim and interim.end == START + timedelta(days=13)
    assert any("interim" in w for w in interim.warnings)
    with pytest.raises(NotReady, match="no whole week"):
        analyze_time(experiment(), series, today=START + timedelta(days=6), regressors=regressors)
    with pytest.raises(InvalidInput, match="not a time test"):
        analyze_time(experiment(type="geo"), series, today=START + timedelta(weeks=4), regressors=None)


def test_a_daily_series_is_read_day_by_day() -> None:
    rng = np.random.default_rng(5)
    dates = pd.date_range(START - timedelta(days=70), START + timedelta(days=13), freq="D")
    kpi = 100 + 30 * (np.asarray(dates.day_of_week) >= 5) + 5 * rng.standard_normal(len(dates))
    kpi = np.where(dates >= pd.Timestamp(START), kpi * (1 - DROP), kpi)
    series = pd.DataFrame({"date": dates, "kpi": kpi})
    analysis = analyze_time(experiment(), series, today=START + timedelta(days=10), regressors=None)
    est = analysis.metrics["revenue"]
    assert analysis.interim and analysis.end == START + timedelta(days=9)  # ten whole days
    assert est.high < 0 and est.low <= est.actual - est.actual / (1 - DROP) <= est.high
    assert "weekday6" in analysis.method


def test_a_start_within_a_week_leaves_that_week_out_without_a_gap() -> None:
    """A Wednesday start: the week holding it is in neither the fit nor the sum, and the read still works."""
    series, regressors = series_world(weeks=57, drop=DROP)
    wednesday = START + timedelta(days=2)
    run = experiment(start_date=wednesday, end_date=wednesday + timedelta(days=7 * WEEKS - 1))
    analysis = analyze_time(run, series, today=wednesday + timedelta(weeks=WEEKS), regressors=regressors)
    est = analysis.metrics["revenue"]
    assert est.high < 0  # the pause is found from the first whole week on
    assert analysis.start == wednesday and any("partly in the test" in w for w in analysis.warnings)
    whole_weeks = (analysis.end - (START + timedelta(days=7))).days + 1
    assert whole_weeks % 7 == 0 and whole_weeks // 7 == WEEKS - 1
