"""The effectiveness report of a client over a period (the job behind `xmo report` and the reports API)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from core.errors import InvalidInput, NotReady
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import Client
from strategy.effectiveness import GROUPINGS, EffectivenessReport, effectiveness
from strategy.sessions import SessionLoader, days_between, load_sessions_with, period_text
from tracking.spend import read_spend


@dataclass(frozen=True)
class Report:
    """A client's effectiveness report for the days ``since``..``until`` (UTC dates, inclusive)."""

    client_id: str
    since: date
    until: date
    effectiveness: EffectivenessReport

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the period, then the effectiveness report (see ``EffectivenessReport.to_dict``)."""
        return {
            "client_id": self.client_id,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            **self.effectiveness.to_dict(),
        }


def effectiveness_report(
    settings: Settings,
    client: Client,
    *,
    since: date | None = None,
    until: date | None = None,
    by: str = "campaign",
    planned_splits: Mapping[str, Mapping[str, float]] | None = None,
    load_sessions: SessionLoader | None = None,
) -> Report:
    """Sessions, conversions, value, spend, CPA and ROAS per ``by`` group, with the comparisons of creatives
    and campaigns; ``since``/``until`` default to the first and last day with sessions."""
    if by not in GROUPINGS:
        raise InvalidInput(f"unknown grouping {by!r}: use one of {', '.join(GROUPINGS)}")
    if since is not None and until is not None and since > until:
        raise InvalidInput(f"since ({since.isoformat()}) is after until ({until.isoformat()})")
    sessions = load_sessions_with(settings, client, load_sessions)
    days, keep = days_between(sessions, since, until)
    if not keep.any():
        raise NotReady(f"no sessions for client {client.id!r} from {period_text(since, until)}")
    first, last = days[keep].min(), days[keep].max()
    start, end = since or first, until or last
    spend = read_spend(StorageLayout.from_settings(settings), client.id)
    if not spend.empty:
        spend_days = pd.to_datetime(spend["date"]).dt.date
        spend = spend[(spend_days >= start) & (spend_days <= end)]
    result = effectiveness(sessions[keep], spend, by=by, planned_splits=planned_splits)
    return Report(client_id=client.id, since=start, until=end, effectiveness=result)
