"""Design, start, read, stop and list a client's experiments: the entry points of the CLI, the API and the dashboard.

Each kind has its own module (``geo``, ``time_test``, ``holdout``); this one gathers their inputs (sessions,
stored KPI and spend, the holdout key), stores the experiment (``tracking.experiments``) and, when a test stops,
hands its result to the media-mix model as a lift test (``handoff``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from core.errors import Conflict, InvalidInput, NotReady
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import Client
from strategy.experiments.results import METRICS, Analysis, Design, DesignRequest
from strategy.sessions import SessionLoader, load_sessions_with
from tracking.experiments import (
    Experiment,
    get_experiment,
    new_experiment_id,
    read_experiments,
    replace_experiment,
    store_new_experiment,
)

MIN_GEO_POWER = 0.5  # a geo test less likely than this to detect the lift asked for is refused at start
MAX_DAYS_AHEAD = 365  # a test starts at most this many days after it is designed
STOP_ACTION = "stop"


def _today(today: date | None) -> date:
    return today if today is not None else datetime.now(UTC).date()


def _layout(settings: Settings) -> StorageLayout:
    return StorageLayout.from_settings(settings)


def _normalized(request: DesignRequest) -> DesignRequest:
    """The request checked, its channel trimmed and lower-cased (as spend and session channels are)."""
    request = request.checked()
    campaign = request.campaign_id.strip() if request.campaign_id and request.campaign_id.strip() else None
    kpi = request.kpi.strip() if request.kpi and request.kpi.strip() else None
    return replace(request, channel=request.channel.strip().lower(), campaign_id=campaign, kpi=kpi)


def holdout_key(settings: Settings, client: Client) -> bytes:
    """The client's key that assigns visitors to holdouts (a derived key of the key vault)."""
    from privacy.keyvault import KeyVault
    from strategy.experiments.holdout import HOLDOUT_KEY_PURPOSE

    return KeyVault.from_settings(settings).derived_key(client.id, HOLDOUT_KEY_PURPOSE)


# --- time tests: the KPI series and the other channels' spend -------------------------------------------------


def _stored_kpi_columns(kpi: pd.DataFrame) -> list[str]:
    return [c for c in kpi.columns if c != "date"]


def _tracked_metric(sessions: pd.DataFrame) -> str:
    """Revenue when the sessions carry conversion value, else conversions."""
    value = pd.to_numeric(sessions.get("conversion_value", pd.Series(dtype=float)), errors="coerce")
    return "revenue" if float(value.fillna(0).sum()) > 0 else "conversions"


def time_kpi_source(kpi_columns: list[str], kpi: str | None) -> tuple[str | None, bool]:
    """``(kpi, stored)``: the KPI of a time test and whether it comes from the stored KPI table.

    A named stored KPI column is read from the table; ``conversions`` and ``revenue`` otherwise come from the
    tracked sessions. Unnamed: the media-mix KPI column when the table has one (revenue, conversions, or its
    only column), else the sessions' metric (``None`` here: chosen from the sessions).
    """
    from features.media_mix_data import pick_kpi

    if kpi is not None:
        if kpi in kpi_columns:
            return kpi, True
        if kpi in METRICS:
            return kpi, False
        stored = ", ".join(kpi_columns) or "none"
        raise InvalidInput(
            f"kpi {kpi!r} is neither a tracked metric ({', '.join(METRICS)}) nor a stored KPI column (stored: {stored})"
        )
    if kpi_columns:
        try:
            return pick_kpi(kpi_columns, None), True
        except InvalidInput:
            pass
    return None, False


def spend_per_period(
    spend: pd.DataFrame, dates: pd.Series, period_days: int, *, exclude_channel: str
) -> pd.DataFrame | None:
    """Each other channel's spend in each period (``date`` as datetime64 + one column per channel, 0 where none ran).

    A stored row of several days is spread evenly over them; a day counts for the period starting on the latest
    of ``dates`` at or before it, within ``period_days``. None when no other channel has spend in the periods.
    """
    others = spend[(spend["channel"] != exclude_channel).fillna(False).astype(bool) & spend["channel"].notna()]
    starts = pd.to_datetime(pd.Series(dates)).sort_values().drop_duplicates().to_numpy()
    if others.empty or len(starts) == 0:
        return None
    lengths = others["period_days"].to_numpy(dtype=np.int64)
    first_days = pd.to_datetime(others["date"]).to_numpy().repeat(lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    days = first_days + offsets.astype("timedelta64[D]")
    amounts = (others["spend"].to_numpy(dtype=np.float64) / lengths).repeat(lengths)
    channels = others["channel"].to_numpy().repeat(lengths)
    slot = np.searchsorted(starts, days, side="right") - 1
    inside = slot >= 0
    inside[inside] &= days[inside] < starts[slot[inside]] + np.timedelta64(period_days, "D")
    if not inside.any():
        return None
    frame = pd.DataFrame({"date": starts[slot[inside]], "channel": channels[inside], "spend": amounts[inside]})
    table = frame.pivot_table(index="date", columns="channel", values="spend", aggfunc="sum", fill_value=0.0)
    table = table.reindex(pd.DatetimeIndex(starts), fill_value=0.0)
    table.columns = [str(c) for c in table.columns]
    return table.reset_index(names="date")


def _time_inputs(
    settings: Settings, client: Client, channel: str, kpi: str | None, loader: SessionLoader | None
) -> tuple[str, pd.DataFrame, pd.DataFrame | None]:
    """``(kpi, series, regressors)`` of a time test: the KPI per period (``date``, ``kpi``) and the other channels'
    spend in the same periods."""
    from strategy.experiments.data import metric_series
    from tracking.kpi import kpi_period_days, read_kpi
    from tracking.spend import read_spend

    layout = _layout(settings)
    stored = read_kpi(layout, client.id)
    name, from_table = time_kpi_source(_stored_kpi_columns(stored), kpi)
    if from_table:
        assert name is not None
        series = stored.loc[stored[name].notna(), ["date", name]].rename(columns={name: "kpi"})
        period_days = kpi_period_days(layout, client.id)
    else:
        sessions = load_sessions_with(settings, client, loader)
        name = name or _tracked_metric(sessions)
        series = metric_series(sessions, name, period="week")
        period_days = 7
    series = series.reset_index(drop=True)
    series["date"] = pd.to_datetime(series["date"])  # stored KPI rows hold dates, the sessions' series datetimes
    if series.empty:
        raise NotReady(f"client {client.id!r} has no {name} to read a time test on")
    regressors = spend_per_period(read_spend(layout, client.id), series["date"], period_days, exclude_channel=channel)
    return name, series, regressors


# --- the service ------------------------------------------------------------------------------------------------


def design_experiment(
    settings: Settings,
    client: Client,
    request: DesignRequest,
    *,
    today: date | None = None,
    loader: SessionLoader | None = None,
) -> Design:
    """The design (groups, dates, power, smallest detectable lift) of the test ``request`` asks for."""
    request = _normalized(request)
    day = _today(today)
    if request.type == "geo":
        from strategy.experiments.geo import design_geo

        return design_geo(request, load_sessions_with(settings, client, loader), today=day)
    if request.type == "holdout":
        from strategy.experiments.holdout import design_holdout

        return design_holdout(request, load_sessions_with(settings, client, loader), today=day)
    from strategy.experiments.time_test import design_time

    kpi, series, regressors = _time_inputs(settings, client, request.channel, request.kpi, loader)
    return design_time(replace(request, kpi=kpi), series, today=day, regressors=regressors)


def _check_dates(design: Design, today: date) -> None:
    """A start at most a year ahead; a holdout not in the past (its visitors are flagged from its start on)."""
    if design.start > today + timedelta(days=MAX_DAYS_AHEAD):
        raise InvalidInput(
            f"start {design.start.isoformat()} is more than {MAX_DAYS_AHEAD} days ahead; design it closer to the date"
        )
    if design.type == "holdout" and design.start < today:
        raise InvalidInput(
            f"a visitor holdout cannot start in the past ({design.start.isoformat()}): its visitors are flagged "
            "from its start on, so start it today or later"
        )


def _check_startable(design: Design) -> None:
    from models.geo_design import MIN_REGIONS

    if design.type != "geo":
        return
    regions = len(design.groups.get("treatment", [])) + len(design.groups.get("control", []))
    if regions < MIN_REGIONS:
        raise InvalidInput(
            f"a geo test needs at least {MIN_REGIONS} regions with history; this client has {regions}: "
            "try a time test (--type time) or a visitor holdout (--type holdout)"
        )
    if not design.power >= MIN_GEO_POWER:
        raise InvalidInput(
            f"this geo test has a {design.power:.0%} chance of detecting a {design.lift:+.0%} lift in "
            f"{design.weeks} week(s) (below {MIN_GEO_POWER:.0%}); the smallest lift it can detect is "
            f"{design.minimum_detectable_lift:+.1%}: plan more weeks (--weeks) or a larger change (--lift)"
        )


def _signed_change(request: DesignRequest, action: str) -> float | None:
    """The planned spend change with the action's sign (raise: +, pause: −); a holdout's as given."""
    change = request.spend_change
    if change is None or request.type == "holdout":
        return change
    return abs(change) if action == "raise" else -abs(change)


def start_experiment(
    settings: Settings,
    engine: Engine,
    client: Client,
    request: DesignRequest,
    *,
    actor: str,
    today: date | None = None,
    loader: SessionLoader | None = None,
) -> Experiment:
    """Design the test on the client's data and store it as running (audited ``experiment.start``).

    ``InvalidInput`` (nothing stored) for a bad request, a start more than a year ahead, a holdout starting in
    the past, a geo test with too few regions or too little power, or a test overlapping a stored one of the
    same channel.
    """
    request = _normalized(request)
    design = design_experiment(settings, client, request, today=today, loader=loader)
    _check_dates(design, _today(today))
    _check_startable(design)
    layout = _layout(settings)
    ids = [e.experiment_id for e in read_experiments(layout, client.id)]
    geo = design.type == "geo"
    experiment = Experiment(
        experiment_id=new_experiment_id(ids, design.type, design.channel, design.start),
        client_id=client.id,
        type=design.type,
        channel=design.channel,
        campaign_id=design.campaign_id,
        kpi=design.kpi,
        action=design.action,
        start_date=design.start,
        end_date=design.end,
        weeks=design.weeks,
        lift=design.lift,
        level=design.level,
        treatment_regions=tuple(design.groups.get("treatment", ())) if geo else (),
        control_regions=tuple(design.groups.get("control", ())) if geo else (),
        holdout_share=(design.holdout_share or request.holdout_share) if design.type == "holdout" else None,
        spend_change=_signed_change(request, design.action),
        design=design.to_dict(),
        status="running",
        created_at=datetime.now(UTC),
        note=request.note,
    )
    return store_new_experiment(layout, engine, client.id, experiment, actor=actor)


def _analyze(
    settings: Settings, client: Client, experiment: Experiment, today: date, loader: SessionLoader | None
) -> Analysis:
    if today - timedelta(days=1) < experiment.start_date:
        raise NotReady(
            f"experiment {experiment.experiment_id!r} starts {experiment.start_date.isoformat()}: "
            "no full day of the test to read yet"
        )
    if experiment.type == "geo":
        from strategy.experiments.geo import analyze_geo

        return analyze_geo(experiment, load_sessions_with(settings, client, loader), today=today)
    if experiment.type == "holdout":
        from strategy.experiments.holdout import analyze_holdout

        sessions = load_sessions_with(settings, client, loader)
        return analyze_holdout(experiment, sessions, holdout_key(settings, client), today=today)
    if experiment.type == "time":
        from strategy.experiments.time_test import analyze_time

        _, series, regressors = _time_inputs(settings, client, experiment.channel, experiment.kpi, loader)
        return analyze_time(experiment, series, today=today, regressors=regressors)
    raise InvalidInput(f"experiment {experiment.experiment_id!r} has an unknown type {experiment.type!r}")


def analyze_experiment(
    settings: Settings,
    client: Client,
    experiment_id: str,
    *,
    today: date | None = None,
    loader: SessionLoader | None = None,
) -> Analysis:
    """Read the experiment up to yesterday (or its last day); ``interim`` when read before its planned end.

    ``NotFound`` for an unknown id, ``NotReady`` before its first full day.
    """
    experiment = get_experiment(_layout(settings), client.id, experiment_id)
    return _analyze(settings, client, experiment, _today(today), loader)


def stop_experiment(
    settings: Settings,
    engine: Engine,
    client: Client,
    experiment_id: str,
    *,
    actor: str,
    today: date | None = None,
    loader: SessionLoader | None = None,
) -> tuple[Experiment, Analysis]:
    """Stop a running experiment: read it up to its last day (yesterday when stopped early), store the result and
    hand it to the media-mix model as a lift test (``result["handoff"]`` says which, or why not).

    ``Conflict`` when already stopped; ``NotReady`` before its first full day (nothing changes).
    """
    layout = _layout(settings)
    day = _today(today)
    experiment = get_experiment(layout, client.id, experiment_id)
    if experiment.status != "running":
        raise _already_stopped(client, experiment)
    last = min(day - timedelta(days=1), experiment.end_date)
    if last < experiment.start_date:
        raise NotReady(
            f"experiment {experiment_id!r} starts {experiment.start_date.isoformat()}: it has no day to read yet, "
            f"so it cannot be stopped with a result; to drop it, cancel it (xmo experiment cancel {client.id} "
            f"{experiment_id})"
        )
    stopping = replace(experiment, stop_date=last if last < experiment.end_date else None)
    analysis = _analyze(settings, client, stopping, day, loader)
    from strategy.experiments.handoff import hand_off

    lift_test_id, reason = hand_off(layout, engine, client.id, stopping, analysis, actor)
    result: dict[str, Any] = analysis.to_dict()
    result["handoff"] = {"lift_test_id": lift_test_id, "reason": reason}
    stopped = replace(
        stopping, status="stopped", stopped_at=datetime.now(UTC), result=result, lift_test_id=lift_test_id
    )
    replace_experiment(layout, engine, client.id, stopped, actor=actor, action=STOP_ACTION)
    return stopped, analysis


def _already_stopped(client: Client, experiment: Experiment) -> Conflict:
    when = f" on {experiment.stopped_at.date().isoformat()}" if experiment.stopped_at else ""
    return Conflict(
        f"experiment {experiment.experiment_id!r} was already stopped{when}: "
        f"xmo experiment show {client.id} {experiment.experiment_id}"
    )


def cancel_experiment(
    settings: Settings,
    engine: Engine,
    client: Client,
    experiment_id: str,
    *,
    actor: str,
    today: date | None = None,
) -> Experiment:
    """Drop a running experiment that has not begun (audited ``experiment.cancel``): it is kept as stopped with no
    day run and no result, and overlaps nothing any more.

    ``Conflict`` when already stopped or when a day of it has passed (stop it instead: its days are read).
    """
    layout = _layout(settings)
    day = _today(today)
    experiment = get_experiment(layout, client.id, experiment_id)
    if experiment.status != "running":
        raise _already_stopped(client, experiment)
    if day - timedelta(days=1) >= experiment.start_date:
        raise Conflict(
            f"experiment {experiment_id!r} started {experiment.start_date.isoformat()}: stop it to read its days "
            f"and keep the result (xmo experiment stop {client.id} {experiment_id})"
        )
    cancelled = replace(
        experiment,
        status="stopped",
        stop_date=experiment.start_date - timedelta(days=1),
        stopped_at=datetime.now(UTC),
        result=None,
    )
    replace_experiment(layout, engine, client.id, cancelled, actor=actor, action="cancel")
    return cancelled


def list_experiments(settings: Settings, client: Client) -> list[Experiment]:
    """The client's experiments, newest start first."""
    return read_experiments(_layout(settings), client.id)
