"""Geo tests: design on the client's regions, and a TBR read that recovers a planted effect."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from core.errors import InvalidInput, NotReady
from strategy.experiments.geo import analyze_geo, design_geo, read_geo_panel, weekly_panel
from strategy.experiments.results import Design, DesignRequest
from tracking.experiments import Experiment

REGIONS = tuple(f"Europe/R{i}" for i in range(8))
FIRST = date(2025, 9, 1)  # a Monday
START = date(2026, 3, 2)  # 26 weeks of history
WEEKS = 4
EFFECT = 0.3


def sessions_world(
    *, treatment: tuple[str, ...] = (), effect: float = 0.0, weeks: int = 30, seed: int = 0
) -> pd.DataFrame:
    """Session rows in 8 regions of uneven sizes sharing a weekly shock; conversions × (1 + effect) in
    ``treatment`` from START on (by drawing more converting sessions)."""
    rng = np.random.default_rng(seed)
    size = np.linspace(1.0, 2.5, len(REGIONS))
    shock = 1 + 0.25 * np.sin(np.arange(weeks) / 3) + 0.05 * rng.standard_normal(weeks)
    rows = []
    for w in range(weeks):
        monday = FIRST + timedelta(weeks=w)
        for r, region in enumerate(REGIONS):
            lam = 12 * size[r] * shock[w]
            if region in treatment and monday >= START:
                lam *= 1 + effect
            n = rng.poisson(lam)
            day = rng.integers(0, 7, n)
            hour = rng.integers(0, 24, n)
            conversions = rng.poisson(3.0, n)
            for d, h, c in zip(day, hour, conversions, strict=True):
                rows.append(
                    (
                        datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
                        + timedelta(days=int(d), hours=int(h)),
                        region,
                        int(c),
                    )
                )
    frame = pd.DataFrame(rows, columns=["started_at", "region", "conversions"])
    frame["conversion_value"] = frame["conversions"] * 20.0
    frame["visitor_id"] = [f"v{i}" for i in range(len(frame))]
    return frame


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return sessions_world(weeks=26)


@pytest.fixture(scope="module")
def design(history: pd.DataFrame) -> Design:
    request = DesignRequest(type="geo", channel="search", lift=0.5, weeks=WEEKS, spend_change=5000.0)
    return design_geo(request, history, today=START - timedelta(days=1))


def experiment_of(design: Design, **changes: object) -> Experiment:
    base = Experiment(
        experiment_id="geo-search-20260302",
        client_id="acme",
        type="geo",
        channel="search",
        campaign_id=None,
        kpi="revenue",
        action="raise",
        start_date=START,
        end_date=START + timedelta(days=7 * WEEKS - 1),
        weeks=WEEKS,
        lift=0.3,
        level=0.9,
        treatment_regions=tuple(design.groups["treatment"]),
        control_regions=tuple(design.groups["control"]),
        holdout_share=None,
        spend_change=5000.0,
        design={},
        status="running",
        created_at=datetime(2026, 3, 1, tzinfo=UTC),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_design_splits_all_regions_and_powers_the_test(design: Design) -> None:
    d = design
    groups = d.groups
    assert sorted(groups["treatment"] + groups["control"]) == sorted(REGIONS)
    assert len(groups["treatment"]) == 4 and not set(groups["treatment"]) & set(groups["control"])
    assert d.kpi == "revenue"  # conversion values exist
    assert d.start == START and d.end == START + timedelta(days=27)  # next Monday
    assert 0 < d.minimum_detectable_lift < 0.5 and d.power >= 0.8
    assert d.false_positive_rate is not None and d.false_positive_rate <= 0.2
    assert abs(sum(d.group_shares.values()) - 1) < 1e-9 and d.units == 8
    assert d.history_end == START - timedelta(days=2)  # whole weeks up to yesterday
    rough = [w for w in d.warnings if "placebo test(s) fit in the history" in w]
    assert bool(rough) == (d.n_simulations < 10)


def test_design_warns_when_the_lift_is_too_small(history: pd.DataFrame) -> None:
    request = DesignRequest(type="geo", channel="search", lift=0.005, weeks=1, exclude_regions=(REGIONS[0],))
    d = design_geo(request, history, today=START)
    assert d.power < 0.8 and any("can detect" in w for w in d.warnings)
    short = history[pd.to_datetime(history["started_at"]) >= pd.Timestamp(START - timedelta(weeks=11), tz="UTC")]
    few = design_geo(replace(request, weeks=2, exclude_regions=()), short, today=START)
    assert few.n_simulations < 10 and any(f"only {few.n_simulations} placebo test(s)" in w for w in few.warnings)
    assert REGIONS[0] not in d.groups["treatment"] + d.groups["control"]


def test_design_refuses_too_few_regions(history: pd.DataFrame) -> None:
    few = history[history["region"].isin(REGIONS[:3])]
    with pytest.raises(InvalidInput, match="at least 4 regions with sessions; found 3"):
        design_geo(DesignRequest(type="geo", channel="search"), few, today=START)
    with pytest.raises(InvalidInput, match="history has"):
        design_geo(DesignRequest(type="geo", channel="search", weeks=26), history, today=START)
    with pytest.raises(InvalidInput, match="kpi"):
        design_geo(DesignRequest(type="geo", channel="search", kpi="clicks"), history, today=START)


@pytest.fixture(scope="module")
def treated_world(design: Design) -> pd.DataFrame:
    treatment = tuple(design.groups["treatment"])
    return sessions_world(treatment=treatment, effect=EFFECT, weeks=30)


def test_analysis_recovers_the_planted_effect(design: Design, treated_world: pd.DataFrame) -> None:
    experiment = experiment_of(design)
    analysis = analyze_geo(experiment, treated_world, today=START + timedelta(weeks=WEEKS))
    assert not analysis.interim and analysis.end == experiment.end_date
    revenue = analysis.metrics["revenue"]
    assert revenue.low > 0
    true = revenue.actual - revenue.actual / (1 + EFFECT)  # the planted part of the treated revenue
    assert revenue.low <= true <= revenue.high
    assert set(analysis.metrics) == {"conversions", "revenue"}
    assert analysis.metrics["conversions"].incremental == pytest.approx(revenue.incremental / 20, rel=1e-6)
    assert analysis.roi == pytest.approx(revenue.incremental / 5000)
    assert analysis.roi_low == pytest.approx(revenue.low / 5000) and analysis.roi_high == pytest.approx(
        revenue.high / 5000
    )
    assert analysis.n_placebos and analysis.placebo_false_positive_rate is not None
    assert "TBR" in analysis.method
    assert analysis.to_dict()["metrics"]["revenue"]["incremental"] == pytest.approx(revenue.incremental)


def test_interim_read_and_not_ready(design: Design, treated_world: pd.DataFrame) -> None:
    experiment = experiment_of(design, spend_change=None)
    interim = analyze_geo(experiment, treated_world, today=START + timedelta(days=17))
    assert interim.interim and interim.end == START + timedelta(days=13)  # two whole weeks
    assert any("interim" in w for w in interim.warnings) and interim.roi is None
    with pytest.raises(NotReady, match="first whole week"):
        analyze_geo(experiment, treated_world, today=START + timedelta(days=5))
    stopped = analyze_geo(
        experiment_of(design, stop_date=START + timedelta(days=13)), treated_world, today=START + timedelta(weeks=8)
    )
    assert not stopped.interim and stopped.end == START + timedelta(days=13)


def test_read_geo_panel_on_a_null_panel(design: Design, history: pd.DataFrame) -> None:
    panel = weekly_panel(history, "conversions", anchor=START, last_day=START - timedelta(days=1))
    assert set(pd.to_datetime(panel["date"]).dt.day_of_week) == {0} and len(panel) == 8 * 26
    test_start = START - timedelta(weeks=4)
    estimate, rate, n = read_geo_panel(
        panel,
        design.groups["treatment"],
        design.groups["control"],
        test_start,
        START - timedelta(days=1),
        level=0.9,
        metric="conversions",
    )
    assert estimate.low <= 0 <= estimate.high and estimate.metric == "conversions"
    assert rate is not None and 0 <= rate <= 1 and n > 0


def test_design_without_any_conversion_is_not_ready(history: pd.DataFrame) -> None:
    empty = history.assign(conversions=0, conversion_value=0.0)
    with pytest.raises(NotReady, match="no conversions"):
        design_geo(DesignRequest(type="geo", channel="search"), empty, today=START)
