"""A finished experiment becomes a lift-test row (or says why not): the row's fields, the stored spend over the
window, and import_lift's refusals turned into reasons."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine

from core.database import get_engine
from core.layout import StorageLayout
from core.settings import Settings
from strategy.experiments.handoff import hand_off, lift_row, spend_in_window
from strategy.experiments.results import Analysis, MetricEstimate
from tracking.cadence import Cadence
from tracking.experiments import Experiment
from tracking.kpi import import_kpi
from tracking.lift import read_lift
from tracking.spend import import_spend

FIRST = date(2026, 1, 5)  # a Monday
START = date(2026, 2, 2)


def experiment(**changes: object) -> Experiment:
    base = Experiment(
        experiment_id="geo-search-20260202",
        client_id="acme",
        type="geo",
        channel="search",
        campaign_id=None,
        kpi="revenue",
        action="raise",
        start_date=START,
        end_date=START + timedelta(days=13),
        weeks=2,
        lift=0.1,
        level=0.9,
        treatment_regions=("Europe/Paris",),
        control_regions=("Europe/Berlin",),
        holdout_share=None,
        spend_change=400.0,
        design={},
        status="running",
        created_at=datetime(2026, 2, 1, tzinfo=UTC),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def analysis(end: date = START + timedelta(days=13), **changes: object) -> Analysis:
    revenue = MetricEstimate("revenue", 1200.0, 400.0, 2000.0, 480.0, 11200.0, 10000.0, 0.12)
    base = Analysis(
        experiment_id="geo-search-20260202",
        type="geo",
        channel="search",
        kpi="revenue",
        level=0.9,
        start=START,
        end=end,
        planned_end=START + timedelta(days=13),
        interim=False,
        metrics={"revenue": revenue},
        spend_change=400.0,
        roi=3.0,
        roi_low=1.0,
        roi_high=5.0,
        placebo_false_positive_rate=0.05,
        n_placebos=20,
        sample_ratio=None,
        method="tbr",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
def engine(settings: Settings) -> Engine:
    return get_engine(settings)


@pytest.fixture
def layout(settings: Settings) -> StorageLayout:
    layout = StorageLayout.from_settings(settings)
    days = [FIRST + timedelta(days=i) for i in range(56)]
    import_spend(layout, "acme", pd.DataFrame({"date": days, "channel": "search", "spend": 50.0}))
    weeks = [FIRST + timedelta(weeks=w) for w in range(8)]
    import_spend(layout, "acme", pd.DataFrame({"date": weeks, "channel": "tv", "spend": 700.0}), cadence=Cadence.WEEK)
    import_kpi(layout, "acme", pd.DataFrame({"date": days, "revenue": 1000.0}))
    return layout


def test_the_row_carries_the_result_the_window_and_the_spend() -> None:
    row = lift_row(experiment(), analysis(), 700.0)
    assert row == {
        "test_id": "geo-search-20260202",
        "channel": "search",
        "campaign_id": None,
        "start_date": START,
        "end_date": date(2026, 2, 15),
        "kpi": "revenue",
        "incremental_kpi": 1200.0,
        "standard_error": 480.0,
        "spend": 700.0,
        "spend_change": 400.0,
        "scope": "immediate",
        "method": "xmo geo",
        "note": "from xmo experiment geo-search-20260202 (raise)",
    }
    # a holdout's change is the spend that reached the treated visitors: all of it
    holdout = lift_row(experiment(type="holdout", action="pause"), analysis(spend_change=None, interim=True), 700.0)
    assert holdout is not None and holdout["spend_change"] == 700.0 and holdout["method"] == "xmo holdout"
    assert holdout["note"].endswith("(pause, interim)")
    assert lift_row(experiment(kpi="conversions"), analysis(), 700.0) is None
    assert lift_row(experiment(), analysis(spend_change=None), 700.0) is None
    assert lift_row(experiment(), analysis(), None) is None


def test_spend_in_window_counts_the_days_inside(layout: StorageLayout) -> None:
    from tracking.spend import read_spend

    spend = read_spend(layout, "acme")
    assert spend_in_window(spend, "search", None, START, START + timedelta(days=13)) == pytest.approx(700.0)
    # weekly TV rows: 3 days of the week of 2026-02-02 and all of the next
    assert spend_in_window(spend, "tv", None, START + timedelta(days=4), START + timedelta(days=13)) == pytest.approx(
        1000.0
    )
    assert spend_in_window(spend, "radio", None, START, START) is None
    assert spend_in_window(spend, "search", None, date(2027, 1, 1), date(2027, 1, 7)) is None


def test_hand_off_stores_a_lift_test_the_model_reads(layout: StorageLayout, engine: Engine) -> None:
    test_id, reason = hand_off(layout, engine, "acme", experiment(), analysis(), "cli")
    assert (test_id, reason) == ("geo-search-20260202", None)
    (row,) = read_lift(layout, "acme").to_dict("records")
    assert (row["method"], row["spend"], row["spend_change"], row["roi"]) == ("xmo_geo", 700.0, 400.0, 3.0)
    assert (row["incremental_kpi"], row["incremental_kpi_se"], row["end_date"]) == (1200.0, 480.0, date(2026, 2, 15))
    # a pause: negative change and negative incremental revenue give a positive ROI
    paused = experiment(experiment_id="time-search-20260216", type="time", action="pause", start_date=date(2026, 2, 16))
    drop = MetricEstimate("revenue", -600.0, -900.0, -300.0, 180.0, 9400.0, 10000.0, -0.06)
    read = analysis(end=date(2026, 2, 22), metrics={"revenue": drop}, spend_change=-350.0)
    assert hand_off(layout, engine, "acme", paused, read, "cli") == ("time-search-20260216", None)
    rows = read_lift(layout, "acme").set_index("test_id")
    assert rows.loc["time-search-20260216", "roi"] == pytest.approx(600 / 350)


def test_hand_off_says_why_not(layout: StorageLayout, engine: Engine) -> None:
    _, reason = hand_off(layout, engine, "acme", experiment(kpi="conversions"), analysis(), "cli")
    assert reason is not None and "conversions is not a stored KPI column (stored: revenue)" in reason
    _, reason = hand_off(layout, engine, "acme", experiment(), analysis(spend_change=None), "cli")
    assert reason is not None and "--spend-change" in reason
    _, reason = hand_off(layout, engine, "acme", experiment(channel="radio"), analysis(), "cli")
    assert reason is not None and "no spend is stored for radio" in reason
    # import_lift's refusal: the window runs past the stored spend
    late = experiment(start_date=date(2026, 2, 23), end_date=date(2026, 3, 8))
    test_id, reason = hand_off(layout, engine, "acme", late, analysis(end=date(2026, 3, 8)), "cli")
    assert test_id is None and reason is not None and "outside the stored spend" in reason
    assert read_lift(layout, "acme").empty
