"""The experiment store: JSON round trip, unique ids, overlaps refused with nothing written, audited changes,
running holdouts by day, and the client's experiments forgotten with it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from core import audit
from core.database import get_engine
from core.errors import InvalidInput, NotFound
from core.layout import StorageLayout
from core.settings import Settings
from tracking.experiments import (
    Experiment,
    experiments_dir,
    get_experiment,
    new_experiment_id,
    read_experiments,
    replace_experiment,
    running_holdouts,
    store_new_experiment,
)
from tracking.forgetting import TablesClientStore

START = date(2026, 3, 2)


def experiment(**changes: Any) -> Experiment:
    base = Experiment(
        experiment_id="geo-paid-social-20260302",
        client_id="acme",
        type="geo",
        channel="paid social",
        campaign_id=None,
        kpi="conversions",
        action="raise",
        start_date=START,
        end_date=START + timedelta(days=27),
        weeks=4,
        lift=0.1,
        level=0.9,
        treatment_regions=("Europe/Paris", "Europe/Berlin"),
        control_regions=("Europe/Madrid", "Europe/Rome"),
        holdout_share=None,
        spend_change=500.0,
        design={"power": 0.83, "groups": {"treatment": ["Europe/Paris", "Europe/Berlin"]}},
        status="running",
        created_at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
    )
    return replace(base, **changes)


@pytest.fixture
def engine(settings: Settings) -> Engine:
    return get_engine(settings)


@pytest.fixture
def layout(settings: Settings) -> StorageLayout:
    return StorageLayout.from_settings(settings)


def test_round_trip_through_json_and_the_store(layout: StorageLayout, engine: Engine) -> None:
    stopped = experiment(
        status="stopped",
        stop_date=START + timedelta(days=20),
        stopped_at=datetime(2026, 3, 23, tzinfo=UTC),
        result={"interim": False, "metrics": {}},
        lift_test_id="geo-paid-social-20260302",
        note="Paris and Berlin up 20 %",
    )
    assert Experiment.from_dict(stopped.to_dict()) == stopped
    assert stopped.last_day == date(2026, 3, 22) and experiment().last_day == date(2026, 3, 29)
    assert read_experiments(layout, "acme") == []
    stored = store_new_experiment(layout, engine, "acme", stopped, actor="cli")
    assert read_experiments(layout, "acme") == [stored] == [stopped]
    assert get_experiment(layout, "acme", stopped.experiment_id) == stopped
    (entry,) = audit.entries(engine, "acme", action_prefix="experiment.")
    assert (entry.action, entry.actor, entry.details["experiment_id"]) == (
        "experiment.start",
        "cli",
        stopped.experiment_id,
    )


def test_ids_are_unique(layout: StorageLayout, engine: Engine) -> None:
    assert new_experiment_id([], "time", "Paid Social!", START) == "time-paid-social-20260302"
    taken = ["time-paid-social-20260302", "time-paid-social-20260302-2"]
    assert new_experiment_id(taken, "time", "paid social", START) == "time-paid-social-20260302-3"
    first = store_new_experiment(layout, engine, "acme", experiment(), actor="cli")
    # the same id again on disjoint regions: stored under a fresh id, not over the first
    other = experiment(treatment_regions=("Asia/Tokyo",), control_regions=("Asia/Seoul",))
    second = store_new_experiment(layout, engine, "acme", other, actor="cli")
    assert (first.experiment_id, second.experiment_id) == ("geo-paid-social-20260302", "geo-paid-social-20260302-2")
    assert sorted(e.experiment_id for e in read_experiments(layout, "acme")) == [
        "geo-paid-social-20260302",
        "geo-paid-social-20260302-2",
    ]


def test_an_overlap_is_refused_and_nothing_is_written(layout: StorageLayout, engine: Engine) -> None:
    store_new_experiment(layout, engine, "acme", experiment(), actor="cli")
    path = experiments_dir(layout, "acme") / "experiments.json"
    before = path.read_bytes()
    clash = experiment(
        experiment_id="geo-paid-social-20260316",
        start_date=START + timedelta(days=14),
        end_date=START + timedelta(days=41),
        treatment_regions=("Europe/Berlin", "Europe/Vienna"),
    )
    with pytest.raises(InvalidInput) as caught:
        store_new_experiment(layout, engine, "acme", clash, actor="cli")
    message = str(caught.value)
    assert "'geo-paid-social-20260302'" in message and "2026-03-02 to 2026-03-29" in message
    assert "Europe/Paris, Europe/Berlin" in message and "shared treatment regions: Europe/Berlin" in message
    # a holdout of the same channel in the same days overlaps whatever its regions
    holdout = experiment(
        experiment_id="holdout-paid-social-20260310",
        type="holdout",
        action="pause",
        start_date=START + timedelta(days=8),
        treatment_regions=(),
        control_regions=(),
        holdout_share=0.1,
    )
    with pytest.raises(InvalidInput, match="overlaps stored experiment 'geo-paid-social-20260302'"):
        store_new_experiment(layout, engine, "acme", holdout, actor="cli")
    assert path.read_bytes() == before
    assert len(audit.entries(engine, "acme", action_prefix="experiment.")) == 1


def test_other_channels_disjoint_regions_and_later_windows_are_accepted(layout: StorageLayout, engine: Engine) -> None:
    store_new_experiment(layout, engine, "acme", experiment(), actor="cli")
    accepted = [
        experiment(experiment_id="geo-search", channel="search"),
        experiment(experiment_id="geo-asia", treatment_regions=("Asia/Tokyo",), control_regions=("Asia/Seoul",)),
        experiment(
            experiment_id="time-after",
            type="time",
            action="pause",
            start_date=START + timedelta(days=28),
            end_date=START + timedelta(days=41),
            treatment_regions=(),
            control_regions=(),
        ),
    ]
    for item in accepted:
        store_new_experiment(layout, engine, "acme", item, actor="cli")
    assert len(read_experiments(layout, "acme")) == 4


def test_stopping_early_frees_the_days_after_the_stop(layout: StorageLayout, engine: Engine) -> None:
    first = store_new_experiment(layout, engine, "acme", experiment(), actor="cli")
    later = experiment(
        experiment_id="time-x", type="time", start_date=START + timedelta(days=14), end_date=START + timedelta(days=20)
    )
    with pytest.raises(InvalidInput):
        store_new_experiment(layout, engine, "acme", later, actor="cli")
    stopped = replace(first, status="stopped", stop_date=START + timedelta(days=13), result={"interim": True})
    replace_experiment(layout, engine, "acme", stopped, actor="key:ab12", action="stop")
    assert get_experiment(layout, "acme", first.experiment_id) == stopped
    store_new_experiment(layout, engine, "acme", later, actor="cli")
    actions = [e.action for e in audit.entries(engine, "acme", action_prefix="experiment.")]
    assert actions == ["experiment.start", "experiment.stop", "experiment.start"]
    with pytest.raises(NotFound, match="no experiment 'nope'; its experiments: time-x, geo-paid-social-20260302"):
        replace_experiment(layout, engine, "acme", replace(first, experiment_id="nope"), actor="cli", action="stop")
    with pytest.raises(NotFound, match="nope"):
        get_experiment(layout, "acme", "nope")
    # cancelled before its first day: it ran no day and overlaps nothing
    planned = experiment(experiment_id="geo-later", start_date=date(2026, 5, 4), end_date=date(2026, 5, 17))
    store_new_experiment(layout, engine, "acme", planned, actor="cli")
    cancelled = replace(planned, status="stopped", stop_date=date(2026, 5, 3))
    replace_experiment(layout, engine, "acme", cancelled, actor="cli", action="cancel")
    assert cancelled.cancelled and not first.cancelled
    store_new_experiment(layout, engine, "acme", replace(planned, experiment_id="geo-later-again"), actor="cli")
    with pytest.raises(InvalidInput, match="out of order"):
        replace_experiment(
            layout, engine, "acme", replace(planned, stop_date=date(2026, 5, 2)), actor="cli", action="x"
        )


def test_running_holdouts_by_day(layout: StorageLayout, engine: Engine) -> None:
    holdout = experiment(
        experiment_id="holdout-email-20260302",
        type="holdout",
        channel="email",
        action="pause",
        treatment_regions=(),
        control_regions=(),
        holdout_share=0.1,
    )
    store_new_experiment(layout, engine, "acme", holdout, actor="cli")
    store_new_experiment(layout, engine, "acme", experiment(), actor="cli")
    assert [e.experiment_id for e in running_holdouts(layout, "acme", START)] == ["holdout-email-20260302"]
    assert running_holdouts(layout, "acme", START - timedelta(days=1)) == []
    assert running_holdouts(layout, "acme", START + timedelta(days=28)) == []
    assert running_holdouts(layout, "other", START) == []


def test_bad_experiments_are_refused(layout: StorageLayout, engine: Engine) -> None:
    with pytest.raises(InvalidInput, match="status must be one of running, stopped"):
        store_new_experiment(layout, engine, "acme", experiment(status="paused"), actor="cli")
    with pytest.raises(InvalidInput, match="given for client 'other'"):
        store_new_experiment(layout, engine, "other", experiment(), actor="cli")
    with pytest.raises(InvalidInput, match="out of order"):
        store_new_experiment(layout, engine, "acme", experiment(end_date=START - timedelta(days=1)), actor="cli")
    with pytest.raises(InvalidInput, match="client id"):
        read_experiments(layout, "../etc")
    assert read_experiments(layout, "acme") == []


def test_experiments_are_forgotten_with_the_client(settings: Settings, layout: StorageLayout, engine: Engine) -> None:
    store_new_experiment(layout, engine, "acme", experiment(), actor="cli")
    store = TablesClientStore(settings)
    assert "acme" in store.held_client_ids()
    assert store.client_traces("acme")
    assert store.forget_client("acme") == 1
    assert not experiments_dir(layout, "acme").exists() and read_experiments(layout, "acme") == []
    assert store.forget_client("acme") == 0 and "acme" not in store.held_client_ids()
