"""Audience recommendations: segments ranked by the champion model's predicted conversion rate and value.

The client's sessions of paid campaigns (``features.audience_segments.paid_sessions``: bids only move paid
traffic), optionally from ``since`` to ``until`` (days in the client's time zone), are scored by the champion
conversion model and aggregated by ``models.audiences.AudienceRanker``. Only segments an ad platform can target
get ``bid up`` / ``exclude``; the others are ``insight only``. Only aggregates of at least ``k`` sessions and
visitors leave this module (privacy promise P11).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException

from core.errors import InvalidInput, NotReady
from core.settings import Settings
from core.tenants import Client
from features.audience_segments import PAID_MEDIUMS, audience_frame, paid_sessions
from models.audiences import AudienceRanker
from models.pyfunc import ConversionScorer
from models.registry import CHAMPION, configure_mlflow, conversion_model_name, version_scorer
from strategy.sessions import SessionLoader, load_sessions_with

MAX_TOP = 500
SCOPE = "paid campaigns"


@dataclass(frozen=True)
class Champion:
    """The model that scores sessions, and which registered version it is."""

    name: str
    version: str
    scorer: ConversionScorer


def load_champion(settings: Settings, client_id: str) -> Champion:
    """The client's ``champion`` version from the MLflow registry (``NotReady`` when there is none)."""
    client = configure_mlflow(settings)
    name = conversion_model_name(client_id)
    try:
        version = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException as exc:
        raise NotReady(
            f"client {client_id!r} has no champion model: train and promote a model first "
            f"(`xmo train {client_id}`, then `xmo promote {client_id}` if needed)"
        ) from exc
    return Champion(name, str(version.version), version_scorer(name, str(version.version)))


@dataclass(frozen=True)
class AudienceRecommendation:
    """Ranked segments with suggestions, the overall figures they are compared with, and warnings."""

    client_id: str
    model_name: str
    model_version: str
    since: date | None
    until: date | None
    k: int
    timezone: str
    all_sessions: int  # sessions in the window, paid or not; ``overall`` counts the paid ones
    overall: dict[str, Any]
    segments: list[dict[str, Any]]  # the ``top`` segments by predicted conversion rate
    bid_up: list[dict[str, Any]]
    exclude: list[dict[str, Any]]
    hidden_segments: int
    warnings: list[str]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "client_id": self.client_id,
            "model": {"name": self.model_name, "version": self.model_version},
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "k": self.k,
            "scope": SCOPE,
            "scope_note": scope_note(self.overall["sessions"], self.all_sessions, self.timezone),
            "timezone": self.timezone,
            "all_sessions": self.all_sessions,
            "overall": self.overall,
            "segments": self.segments,
            "bid_up": self.bid_up,
            "exclude": self.exclude,
            "hidden_segments": self.hidden_segments,
            "warnings": self.warnings,
        }


def scope_note(paid: int, everything: int, timezone: str) -> str:
    """Which sessions the advice is about, in one sentence for people."""
    return (
        f"Based on the {paid:,} sessions of paid campaigns (of {everything:,} in all): bids only move paid traffic. "
        f"Days and hours are in {timezone}, as ad schedules are."
    )


def _paid(sessions: pd.DataFrame) -> pd.DataFrame:
    paid = sessions[paid_sessions(sessions)]
    if paid.empty:
        mediums = ", ".join(sorted(PAID_MEDIUMS))
        raise NotReady(
            f"none of the {len(sessions):,} sessions came from a paid campaign, and audience advice is about bids: "
            f"tag ad links with utm_medium (one of {mediums}) or use xmo campaign links"
        )
    return paid


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for record in frame.to_dict("records"):
        rows.append({str(k): (v.item() if isinstance(v, np.generic) else v) for k, v in record.items()})
    return rows


def _between(sessions: pd.DataFrame, timezone: str, since: date | None, until: date | None) -> pd.DataFrame:
    if since is not None and until is not None and since > until:
        raise InvalidInput(f"since ({since}) is after until ({until})")
    if since is None and until is None:
        return sessions
    days = pd.to_datetime(sessions["started_at"], utc=True).dt.tz_convert(timezone).dt.date
    keep = pd.Series(True, index=sessions.index)
    if since is not None:
        keep &= days >= since
    if until is not None:
        keep &= days <= until
    chosen = sessions[keep]
    if chosen.empty:
        raise NotReady(f"no sessions from {since or 'the start'} to {until or 'today'}")
    return chosen


def recommend_audiences(
    settings: Settings,
    client: Client,
    *,
    load_sessions: SessionLoader | None = None,
    since: date | None = None,
    until: date | None = None,
    top: int = 20,
    champion: Champion | None = None,
    ranker: AudienceRanker | None = None,
) -> AudienceRecommendation:
    """Segments of the client's sessions of paid campaigns ranked by the champion's predicted conversion rate,
    as candidates to bid up or exclude (targetable segments only; the others are ``insight only``).

    ``champion`` (default: loaded from the registry) scores the sessions; ``ranker`` sets the segment
    dimensions, the ``k`` floor and the suggestion thresholds.
    """
    if not 1 <= top <= MAX_TOP:
        raise InvalidInput(f"top must be between 1 and {MAX_TOP}, got {top}")
    model = champion or load_champion(settings, client.id)
    window = _between(load_sessions_with(settings, client, load_sessions), client.timezone, since, until)
    sessions = _paid(window)
    scored = audience_frame(sessions, client.timezone).assign(
        probability=model.scorer.predict_sessions(sessions),
        converted=sessions["converted"].to_numpy(),
        conversion_value=sessions["conversion_value"].to_numpy(),
        visitor_id=sessions["visitor_id"].to_numpy(),  # counted per segment for the k floor, never output
    )
    fitted = (ranker or AudienceRanker()).fit(scored)
    k = int(fitted.k)
    warnings = []
    if fitted.hidden_segments_:
        warnings.append(
            f"{fitted.hidden_segments_:,} segment(s) with fewer than {k} sessions or visitors are hidden "
            "(k-anonymity floor)"
        )
    if fitted.overall_["sessions"] < fitted.min_sessions:
        warnings.append(
            f"only {fitted.overall_['sessions']:,} sessions: too few to act on any segment "
            f"(need {fitted.min_sessions:,})"
        )
    if fitted.overall_["conversions"] and fitted.overall_["average_order_value"] == 0:
        warnings.append("no order values tracked: predicted value per session is 0")
    elif not fitted.overall_["conversions"]:
        warnings.append("no conversions observed yet: observed rates cannot confirm the model's predictions")
    if not fitted.segments_["suggestion"].isin(["bid up", "exclude"]).any():
        warnings.append("no segment differs enough from the average to bid up or exclude")
    return AudienceRecommendation(
        client_id=client.id,
        model_name=model.name,
        model_version=model.version,
        since=since,
        until=until,
        k=k,
        timezone=client.timezone,
        all_sessions=len(window),
        overall=dict(fitted.overall_),
        segments=_records(fitted.ranking("rate", top)),
        bid_up=_records(fitted.candidates("bid up", top)),
        exclude=_records(fitted.candidates("exclude", top)),
        hidden_segments=int(fitted.hidden_segments_),
        warnings=warnings,
    )
