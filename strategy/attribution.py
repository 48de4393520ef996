"""Attribution reports of a client (the job behind `xmo attribution` and `GET /v1/attribution`).

Sessions come from :func:`strategy.sessions.load_sessions_with`; journeys from
:func:`features.paths.touchpoint_paths`. ``since`` and ``until`` are dates in the client's time zone and
select journeys by the day of their last touchpoint (the conversion, for a converting journey); touchpoints
before ``since`` still count within the lookback window, sessions after ``until`` are ignored (a journey
still open at ``until`` counts as non-converting).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd

from core.errors import InvalidInput, NotReady
from core.settings import Settings
from core.tenants import Client
from features.paths import touchpoint_paths
from models.attribution import (
    MODELS,
    AttributionResult,
    ModelOptions,
    attribute,
    check_level,
    check_model,
    daily_attributed_outcomes,
)
from strategy.sessions import SessionLoader, load_sessions_with

ALL_MODELS = "all"
MODEL_CHOICES: tuple[str, ...] = (*MODELS, ALL_MODELS)


@dataclass(frozen=True)
class AttributionReport:
    """Attribution of one client's journeys by one model or all of them."""

    client_id: str
    model: str  # a model name or "all"
    level: str
    since: date | None
    until: date | None
    lookback_days: int
    results: dict[str, AttributionResult]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the window, totals and each model's credits."""
        first = next(iter(self.results.values()))
        return {
            "client_id": self.client_id,
            "model": self.model,
            "level": self.level,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "lookback_days": self.lookback_days,
            "journeys": first.journeys,
            "converting_journeys": first.converting_journeys,
            "conversions": float(first.converting_journeys),
            "value": first.value,
            "models": {name: result.to_dict() for name, result in self.results.items()},
        }


def _check_window(since: date | None, until: date | None, lookback_days: int) -> None:
    if isinstance(lookback_days, bool) or not isinstance(lookback_days, int) or lookback_days < 1:
        raise InvalidInput(f"lookback_days must be an integer of at least 1, not {lookback_days!r}")
    if since is not None and until is not None and since > until:
        raise InvalidInput(f"since ({since}) is after until ({until})")


def client_paths(
    sessions: pd.DataFrame,
    *,
    timezone: str = "UTC",
    since: date | None = None,
    until: date | None = None,
    lookback_days: int = 30,
) -> pd.DataFrame:
    """The journeys of ``sessions`` whose last touchpoint falls between ``since`` and ``until`` (inclusive)."""
    _check_window(since, until, lookback_days)
    started = pd.to_datetime(sessions["started_at"], utc=True)
    if until is not None:
        end = pd.Timestamp(until + timedelta(days=1)).tz_localize(timezone)
        sessions = sessions[(started < end).to_numpy()]
    paths = touchpoint_paths(sessions, lookback_days=lookback_days)
    if since is not None and len(paths):
        begin = pd.Timestamp(since).tz_localize(timezone)
        last_touch = pd.to_datetime(paths["touch_times"].map(lambda times: times[-1]), utc=True)
        paths = paths[(last_touch >= begin).to_numpy()].reset_index(drop=True)
    return paths


def _window(since: date | None, until: date | None) -> str:
    if since and until:
        return f"between {since} and {until}"
    if since:
        return f"since {since}"
    return f"until {until}" if until else "yet"


def attribution_report(
    settings: Settings,
    client: Client,
    *,
    model: str = "markov",
    level: str = "channel",
    since: date | None = None,
    until: date | None = None,
    lookback_days: int = 30,
    load_sessions: SessionLoader | None = None,
    options: ModelOptions | None = None,
) -> AttributionReport:
    """Conversions and value of a client's journeys credited per channel or campaign.

    ``model`` is one of ``MODEL_CHOICES`` (``all`` runs every model side by side), ``level`` one of
    ``LEVELS``: anything else is :class:`InvalidInput` listing the choices, as are ``lookback_days`` under 1
    and ``since`` after ``until``. :class:`NotReady` when the window holds no converting journey.
    """
    if model != ALL_MODELS and model not in MODELS:
        raise InvalidInput(f"unknown attribution model {model!r}; choose one of {', '.join(MODEL_CHOICES)}")
    check_level(level)
    _check_window(since, until, lookback_days)
    sessions = load_sessions_with(settings, client, load_sessions)
    paths = client_paths(sessions, timezone=client.timezone, since=since, until=until, lookback_days=lookback_days)
    if not paths["converted"].any():
        raise NotReady(
            f"no converting journeys for client {client.id!r} {_window(since, until)}; "
            "attribution needs conversions (define goals with `xmo goal add`, or widen the dates)"
        )
    names = MODELS if model == ALL_MODELS else (check_model(model),)
    results = {name: attribute(paths, name, level, options) for name in names}
    return AttributionReport(client.id, model, level, since, until, lookback_days, results)


def client_daily_attributed_outcomes(
    settings: Settings,
    client: Client,
    *,
    model: str = "markov",
    level: str = "campaign",
    lookback_days: int = 30,
    load_sessions: SessionLoader | None = None,
    options: ModelOptions | None = None,
) -> pd.DataFrame:
    """A client's attributed conversions and value per (date, campaign) in its time zone (see
    :func:`models.attribution.daily_attributed_outcomes`); :class:`NotReady` without conversions."""
    check_model(model)
    check_level(level)
    _check_window(None, None, lookback_days)
    sessions = load_sessions_with(settings, client, load_sessions)
    paths = client_paths(sessions, lookback_days=lookback_days)
    if not paths["converted"].any():
        raise NotReady(f"no converting journeys for client {client.id!r} yet; attribution needs conversions")
    return daily_attributed_outcomes(paths, model, level, timezone=client.timezone, options=options)
