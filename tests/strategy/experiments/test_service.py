"""The experiment service end to end on a small simulated client: design, start, read, stop and list each kind of
test, refusals that store nothing, and the hand-off of a finished test to the media-mix model's lift tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine

from core.errors import Conflict, InvalidInput, NotFound, NotReady
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import Client, Tenants
from strategy.experiments.results import DesignRequest
from strategy.experiments.service import (
    analyze_experiment,
    cancel_experiment,
    design_experiment,
    list_experiments,
    spend_per_period,
    start_experiment,
    stop_experiment,
    time_kpi_source,
)
from tracking.cadence import Cadence
from tracking.experiments import experiments_dir, read_experiments
from tracking.kpi import import_kpi
from tracking.lift import read_lift
from tracking.spend import import_spend, read_spend

Loader = Callable[[Client], pd.DataFrame]
FIRST = date(2026, 1, 5)  # a Monday: 16 weeks of sessions to 2026-04-26
WEEKS = 16
TODAY = date(2026, 3, 30)  # designs and starts happen on this Monday
REGIONS = (
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/London",
    "Europe/Vienna",
    "Europe/Brussels",
    "Europe/Amsterdam",
)


def simulated_sessions(seed: int = 7, visitors: int = 3000) -> pd.DataFrame:
    """Returning visitors in 8 regions of different sizes, weekly sessions, conversions worth 50 each."""
    rng = np.random.default_rng(seed)
    ids = np.array([uuid.UUID(int=int(v)).hex for v in rng.integers(0, 2**63, size=visitors)])
    region = rng.choice(len(REGIONS), size=visitors, p=np.linspace(2, 1, len(REGIONS)) / np.linspace(2, 1, 8).sum())
    propensity = rng.gamma(1.0, 0.1, size=visitors)
    counts = rng.poisson(0.5, size=(WEEKS, visitors))
    week, visitor = np.nonzero(counts)
    week, visitor = np.repeat(week, counts[week, visitor]), np.repeat(visitor, counts[week, visitor])
    started = pd.Timestamp(FIRST, tz="UTC") + pd.to_timedelta(
        week * 7 * 86400 + rng.integers(0, 7 * 86400, week.size), unit="s"
    )
    conversions = (rng.random(week.size) < np.clip(propensity[visitor], 0, 0.9)).astype(int)
    return pd.DataFrame(
        {
            "visitor_id": ids[visitor],
            "started_at": started,
            "region": np.asarray(REGIONS)[region[visitor]],
            "utm_source": "newsletter",
            "utm_medium": "email",
            "campaign_id": None,
            "creative_id": None,
            "converted": conversions > 0,
            "conversions": conversions,
            "conversion_value": conversions * 50.0,
            "prev_sessions": 0,
            "prev_conversions": 0,
        }
    ).sort_values("started_at", ignore_index=True)


@pytest.fixture(scope="module")
def sessions() -> pd.DataFrame:
    return simulated_sessions()


@pytest.fixture
def loader(sessions: pd.DataFrame) -> Loader:
    return lambda _: sessions


@pytest.fixture
def world(settings: Settings, sessions: pd.DataFrame) -> Iterator[tuple[Settings, Engine, Client]]:
    tenants = Tenants.from_settings(settings)
    client = tenants.create_client("Acme", ["acme.example.com"], client_id="acme").client
    layout = StorageLayout.from_settings(settings)
    days = [FIRST + timedelta(days=i) for i in range(WEEKS * 7)]
    import_spend(layout, "acme", pd.DataFrame({"date": days, "channel": "email", "spend": 20.0}))
    weeks = [FIRST + timedelta(weeks=w) for w in range(WEEKS)]
    tv = pd.DataFrame({"date": weeks, "channel": "tv", "spend": 700.0 + 70.0 * np.arange(WEEKS) % 3})
    import_spend(layout, "acme", tv, cadence=Cadence.WEEK)
    daily = sessions.assign(day=pd.to_datetime(sessions["started_at"]).dt.date).groupby("day")["conversion_value"]
    import_kpi(layout, "acme", daily.sum().rename("revenue").rename_axis("date").reset_index())
    yield settings, tenants.engine, client


def holdout(**changes: object) -> DesignRequest:
    values: dict[str, object] = {"type": "holdout", "channel": "Email", "weeks": 2, "lift": 0.3, "holdout_share": 0.2}
    return DesignRequest(**(values | changes))  # type: ignore[arg-type]


def test_a_holdout_is_designed_started_read_stopped_and_handed_off(
    world: tuple[Settings, Engine, Client], loader: Loader
) -> None:
    settings, engine, client = world
    design = design_experiment(settings, client, holdout(), today=TODAY, loader=loader)
    assert (design.type, design.channel, design.kpi, design.start) == ("holdout", "email", "revenue", TODAY)
    assert design.units and design.units > 1000 and 0 < design.minimum_detectable_lift < 1
    assert read_experiments(StorageLayout.from_settings(settings), "acme") == []  # designing stores nothing

    started = start_experiment(
        settings, engine, client, holdout(note="email holdout"), actor="cli", today=TODAY, loader=loader
    )
    assert started.experiment_id == "holdout-email-20260330" and started.status == "running"
    assert (started.holdout_share, started.end_date, started.note) == (0.2, date(2026, 4, 12), "email holdout")
    assert started.design["power"] == design.power
    with pytest.raises(InvalidInput, match="overlaps stored experiment 'holdout-email-20260330'"):
        start_experiment(settings, engine, client, holdout(), actor="cli", today=TODAY, loader=loader)
    with pytest.raises(NotReady, match="no full day"):
        analyze_experiment(settings, client, started.experiment_id, today=TODAY, loader=loader)

    interim = analyze_experiment(
        settings, client, started.experiment_id, today=TODAY + timedelta(days=5), loader=loader
    )
    assert interim.interim and interim.end == date(2026, 4, 3) and set(interim.metrics) == {"conversions", "revenue"}

    stopped, final = stop_experiment(
        settings, engine, client, started.experiment_id, actor="cli", today=date(2026, 4, 20), loader=loader
    )
    assert not final.interim and final.end == date(2026, 4, 12) and stopped.status == "stopped"
    assert stopped.stop_date is None and stopped.result is not None and stopped.result["end"] == "2026-04-12"
    assert stopped.lift_test_id == "holdout-email-20260330" and stopped.result["handoff"]["reason"] is None
    (row,) = read_lift(StorageLayout.from_settings(settings), "acme").to_dict("records")
    assert (row["method"], row["kpi"], row["spend"], row["spend_change"]) == ("xmo_holdout", "revenue", 280.0, 280.0)
    assert row["incremental_kpi"] == pytest.approx(final.metrics["revenue"].incremental)
    assert list_experiments(settings, client) == [stopped]
    with pytest.raises(Conflict, match="already stopped"):
        stop_experiment(settings, engine, client, started.experiment_id, actor="cli", loader=loader)
    with pytest.raises(NotFound, match="no experiment 'nope'"):
        analyze_experiment(settings, client, "nope", loader=loader)


def test_bad_requests_store_nothing(world: tuple[Settings, Engine, Client], loader: Loader) -> None:
    settings, engine, client = world
    for bad, message in (
        (holdout(holdout_share=0.6), "holdout share must lie between 1% and 50%"),
        (holdout(type="split"), "type must be one of geo, time, holdout"),
        (holdout(weeks=30), "weeks must be a whole number from 1 to 26"),
        (holdout(start=TODAY - timedelta(days=1)), "a visitor holdout cannot start in the past"),
        (holdout(start=TODAY + timedelta(days=400)), "more than 365 days ahead"),
    ):
        with pytest.raises(InvalidInput, match=message):
            start_experiment(settings, engine, client, bad, actor="cli", today=TODAY, loader=loader)
    assert not experiments_dir(StorageLayout.from_settings(settings), "acme").exists()


def test_a_stop_early_reads_to_yesterday_and_frees_the_rest(
    world: tuple[Settings, Engine, Client], loader: Loader
) -> None:
    settings, engine, client = world
    started = start_experiment(settings, engine, client, holdout(), actor="cli", today=TODAY, loader=loader)
    stopped, read = stop_experiment(
        settings, engine, client, started.experiment_id, actor="cli", today=TODAY + timedelta(days=7), loader=loader
    )
    assert stopped.stop_date == date(2026, 4, 5) and stopped.last_day == read.end == date(2026, 4, 5)
    assert not read.interim  # stopped: the test ran its (shortened) course
    later = start_experiment(
        settings, engine, client, holdout(start=date(2026, 4, 6)), actor="cli", today=TODAY, loader=loader
    )
    assert later.experiment_id == "holdout-email-20260406"


def test_a_test_not_begun_is_cancelled_not_stopped(world: tuple[Settings, Engine, Client], loader: Loader) -> None:
    settings, engine, client = world
    later = holdout(start=date(2026, 4, 6))
    started = start_experiment(settings, engine, client, later, actor="cli", today=TODAY, loader=loader)
    with pytest.raises(NotReady, match="xmo experiment cancel acme holdout-email-20260406"):
        stop_experiment(settings, engine, client, started.experiment_id, actor="cli", today=TODAY, loader=loader)
    cancelled = cancel_experiment(settings, engine, client, started.experiment_id, actor="cli", today=TODAY)
    assert cancelled.cancelled and cancelled.status == "stopped" and cancelled.result is None
    again = start_experiment(settings, engine, client, later, actor="cli", today=TODAY, loader=loader)
    assert again.experiment_id == "holdout-email-20260406-2"
    with pytest.raises(Conflict, match="already stopped"):
        cancel_experiment(settings, engine, client, started.experiment_id, actor="cli", today=TODAY)
    with pytest.raises(Conflict, match="stop it to read its days"):
        cancel_experiment(settings, engine, client, again.experiment_id, actor="cli", today=date(2026, 4, 8))


def test_time_inputs_come_from_the_kpi_table_or_the_sessions(settings: Settings) -> None:
    assert time_kpi_source(["revenue", "price"], None) == ("revenue", True)
    assert time_kpi_source(["signups"], None) == ("signups", True)
    assert time_kpi_source(["a", "b"], None) == (None, False)
    assert time_kpi_source(["signups"], "conversions") == ("conversions", False)
    with pytest.raises(
        InvalidInput,
        match=r"'leads' is neither a tracked metric \(conversions, revenue\) nor a stored KPI column \(stored: signu",
    ):
        time_kpi_source(["signups"], "leads")
    layout = StorageLayout.from_settings(settings)
    days = [FIRST + timedelta(days=i) for i in range(21)]
    import_spend(layout, "acme", pd.DataFrame({"date": days, "channel": "search", "spend": 10.0}))
    import_spend(layout, "acme", pd.DataFrame({"date": days, "channel": "email", "spend": 99.0}))
    weeks = [FIRST + timedelta(weeks=w) for w in range(3)]
    import_spend(layout, "acme", pd.DataFrame({"date": weeks, "channel": "tv", "spend": 700.0}), cadence=Cadence.WEEK)
    periods = pd.Series(pd.to_datetime([*weeks[1:], FIRST + timedelta(weeks=3)]))
    regressors = spend_per_period(read_spend(layout, "acme"), periods, 7, exclude_channel="email")
    assert regressors is not None and list(regressors.columns) == ["date", "search", "tv"]
    assert regressors["search"].tolist() == [70.0, 70.0, 0.0] and regressors["tv"].tolist() == [700.0, 700.0, 0.0]
    daily = spend_per_period(read_spend(layout, "acme"), pd.Series(pd.to_datetime(days[:2])), 1, exclude_channel="x")
    assert daily is not None and daily["tv"].tolist() == [100.0, 100.0] and daily["email"].tolist() == [99.0, 99.0]
    both = spend_per_period(read_spend(layout, "acme"), periods, 7, exclude_channel="email")
    assert both is not None and both.shape == (3, 3)
    assert spend_per_period(read_spend(layout, "other"), periods, 7, exclude_channel="email") is None


def test_a_geo_test_needs_regions_and_power(world: tuple[Settings, Engine, Client], loader: Loader) -> None:
    settings, engine, client = world
    weak = DesignRequest(type="geo", channel="email", weeks=2, lift=0.05)
    with pytest.raises(InvalidInput, match=r"chance of detecting a \+5% lift .* smallest lift it can detect is \+49"):
        start_experiment(settings, engine, client, weak, actor="cli", today=TODAY, loader=loader)
    sessions = loader(client)
    few = sessions[sessions["region"].isin(REGIONS[:3])]
    with pytest.raises(InvalidInput, match="4 regions"):
        start_experiment(settings, engine, client, weak, actor="cli", today=TODAY, loader=lambda _: few)
    assert list_experiments(settings, client) == []

    request = DesignRequest(type="geo", channel="email", weeks=2, lift=0.5, spend_change=200.0)
    started = start_experiment(settings, engine, client, request, actor="cli", today=TODAY, loader=loader)
    assert (started.experiment_id, started.start_date, started.end_date) == (
        "geo-email-20260406",
        date(2026, 4, 6),
        date(2026, 4, 19),
    )
    assert len(started.treatment_regions) == len(started.control_regions) == 4
    assert set(started.treatment_regions) | set(started.control_regions) == set(REGIONS)
    interim = analyze_experiment(settings, client, started.experiment_id, today=date(2026, 4, 14), loader=loader)
    assert interim.interim and interim.end == date(2026, 4, 12) and interim.placebo_false_positive_rate is not None
    stopped, final = stop_experiment(
        settings, engine, client, started.experiment_id, actor="cli", today=date(2026, 4, 27), loader=loader
    )
    assert not final.interim and final.end == date(2026, 4, 19) and stopped.lift_test_id == "geo-email-20260406"
    (row,) = read_lift(StorageLayout.from_settings(settings), "acme").to_dict("records")
    assert (row["method"], row["spend"], row["spend_change"]) == ("xmo_geo", 280.0, 200.0)
    assert row["incremental_kpi"] == pytest.approx(final.metrics["revenue"].incremental)


def test_a_time_test_pauses_a_channel_and_reads_the_kpi_table(
    world: tuple[Settings, Engine, Client], loader: Loader
) -> None:
    settings, engine, client = world
    request = DesignRequest(type="time", channel="email", weeks=2, lift=0.5, spend_change=280.0)
    design = design_experiment(settings, client, request, today=TODAY, loader=loader)
    assert (design.kpi, design.action, design.start, design.groups) == (
        "revenue",
        "pause",
        date(2026, 4, 6),
        {"test_weeks": ["2026-04-06", "2026-04-13"]},
    )
    started = start_experiment(settings, engine, client, request, actor="cli", today=TODAY, loader=loader)
    assert (started.kpi, started.spend_change, started.treatment_regions) == ("revenue", -280.0, ())
    with pytest.raises(InvalidInput, match="overlaps stored experiment 'time-email-20260406'"):
        start_experiment(
            settings, engine, client, holdout(start=date(2026, 4, 13)), actor="cli", today=TODAY, loader=loader
        )
    stopped, final = stop_experiment(
        settings, engine, client, started.experiment_id, actor="cli", today=date(2026, 4, 27), loader=loader
    )
    assert not final.interim and final.n_placebos and stopped.lift_test_id == "time-email-20260406"
    (row,) = read_lift(StorageLayout.from_settings(settings), "acme").to_dict("records")
    assert (row["method"], row["spend"], row["spend_change"]) == ("xmo_time", 280.0, -280.0)
    # a tracked metric instead of the stored KPI: read from the sessions, weekly
    conversions = DesignRequest(type="time", channel="email", weeks=2, lift=0.5, kpi="conversions")
    assert design_experiment(settings, client, conversions, today=TODAY, loader=loader).kpi == "conversions"
