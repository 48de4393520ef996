"""Inputs shared by the strategy jobs (reports, attribution, budget, creatives, audiences): a client's sessions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pandas as pd

from core.errors import InvalidInput, NotReady
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import Client
from features.sessions import build_sessions

SessionLoader = Callable[[Client], pd.DataFrame]


def client_sessions(settings: Settings, client: Client) -> pd.DataFrame:
    """Every session of a client, built from the lake (``NotReady`` when there are none)."""
    layout = StorageLayout.from_settings(settings)
    sessions = build_sessions(
        layout, client.id, timeout_minutes=settings.session_timeout_minutes, timezone=client.timezone
    )
    if sessions.empty:
        raise NotReady(f"no sessions for client {client.id!r} in the lake yet; send hits or run `xmo simulate`")
    return sessions


def load_sessions_with(settings: Settings, client: Client, loader: SessionLoader | None) -> pd.DataFrame:
    """The client's sessions from ``loader`` (e.g. the server's cache) or, without one, from the lake."""
    return loader(client) if loader else client_sessions(settings, client)


def days_between(sessions: pd.DataFrame, since: date | None, until: date | None) -> tuple[pd.Series, pd.Series]:
    """Each session's UTC start day and whether it lies in ``since``…``until`` (inclusive; open when None).

    ``InvalidInput`` when ``since`` is after ``until``; the reports and the dashboard's trend share these days.
    """
    if since is not None and until is not None and since > until:
        raise InvalidInput(f"since ({since.isoformat()}) is after until ({until.isoformat()})")
    days = pd.to_datetime(sessions["started_at"], utc=True).dt.date
    keep = pd.Series(True, index=sessions.index)
    if since is not None:
        keep &= days >= since
    if until is not None:
        keep &= days <= until
    return days, keep


def period_text(since: date | None, until: date | None) -> str:
    """``since`` to ``until`` for messages, with an ellipsis for an open end."""
    return f"{since.isoformat() if since else '…'} to {until.isoformat() if until else '…'}"
