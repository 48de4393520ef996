"""Sessionization: one client's lake events → one row per visit, with point-in-time visitor history.

Rules, applied per visitor in the order ``(ts, event_id)`` after deduplicating events by ``event_id``
(a retried hit keeps the copy received first):

* a hit starts a new session when it is the visitor's first, when at least ``timeout_minutes`` passed
  since the visitor's previous hit, or when it carries campaign fields (``utm_source``, ``utm_medium``,
  ``utm_campaign`` or ``campaign_id``) that differ from the current session's acquisition (a hit without
  campaign fields never splits a session);
* acquisition and technical fields are those of the session's first hit;
* visitor history (``visitor_session_number``, ``prev_sessions``, ``prev_conversions``,
  ``days_since_last_session``) counts only the visitor's earlier sessions, which all ended before this one
  started: nothing from a later event can leak into it;
* labels: ``converted`` (any ``goal`` event), ``conversions`` (their count), ``conversion_value`` (sum of
  their values), ``goal`` (name of the first).

The whole computation is one DuckDB query over the client's Parquet files (window functions, no Python loop).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pyarrow as pa

from core.errors import InvalidInput
from core.layout import StorageLayout
from features.session_schema import (
    ACQUISITION_COLUMNS,
    SESSION_COLUMNS,
    SESSION_SCHEMA,
    TECHNICAL_COLUMNS,
)
from tracking.lake import event_files

SESSION_TIMEOUT_MINUTES = 30
# Sessions that start on ``until`` may run past midnight and the client's day may end after the UTC day:
# lake days up to this many days after ``until`` are read so those sessions are complete.
TRAILING_DAYS = 2
# The campaign fields that open a new session when a hit carries values other than the session's.
SPLITTING_CAMPAIGN_FIELDS: tuple[str, ...] = ("utm_source", "utm_medium", "utm_campaign", "campaign_id")


@dataclass(frozen=True)
class SessionWindow:
    """Which sessions to return, and which lake days must be read to build them point-in-time correctly."""

    start: datetime | None  # first UTC instant of ``since`` in the client's zone (inclusive)
    end: datetime | None  # first UTC instant after ``until`` in the client's zone (exclusive)
    last_lake_day: date | None  # newest lake partition (UTC day) to read; older ones are all read (history)


def session_window(since: date | None, until: date | None, timezone: str = "UTC") -> SessionWindow:
    """The UTC bounds of the client-local days ``since``..``until`` (both inclusive, either open)."""
    if since is not None and until is not None and since > until:
        raise InvalidInput(f"since ({since.isoformat()}) is after until ({until.isoformat()})")
    try:
        zone = ZoneInfo(timezone)
    except (ValueError, KeyError) as exc:  # ZoneInfoNotFoundError is a KeyError
        raise InvalidInput(f"unknown time zone {timezone!r}: use an IANA name such as Europe/Berlin") from exc
    start = datetime.combine(since, time(), zone).astimezone(ZoneInfo("UTC")) if since else None
    end = datetime.combine(until + timedelta(days=1), time(), zone).astimezone(ZoneInfo("UTC")) if until else None
    last_day = until + timedelta(days=TRAILING_DAYS) if until else None
    return SessionWindow(start, end, last_day)


def lake_files(layout: StorageLayout, client_id: str, last_day: date | None = None) -> list[Path]:
    """The client's lake files, oldest day first, up to ``last_day`` (UTC partition day) when given."""
    files = event_files(layout, client_id)
    if last_day is None:
        return files
    cutoff = f"date={last_day.isoformat()}"
    return [f for f in files if f.parent.name <= cutoff]


def empty_sessions() -> pd.DataFrame:
    """A session frame with no rows and the columns and dtypes of :func:`build_sessions`."""
    frame: pd.DataFrame = SESSION_SCHEMA.empty_table().to_pandas()
    return frame


def sessions_sql(timeout_minutes: int) -> str:
    """The sessionization query.

    It reads two relations: ``events`` (lake columns plus ``filename`` and ``file_row_number``) and
    ``lake_files`` (``filename``, ``file_index``). Parameters: ``$client_id`` (rows of other clients are
    ignored), ``$start`` and ``$end`` (epoch microseconds bounding the session start, NULL for open).

    Window functions run over a narrow projection of the events (ids, time, type, value, campaign); the wide
    first-hit columns are joined back by file position for one hit per session only, which keeps the
    sorts small (about 3x faster than carrying every column through every window).
    """
    timeout_us = int(timeout_minutes) * 60 * 1_000_000
    campaign = ", ".join(f"{c} := e.{c}" for c in SPLITTING_CAMPAIGN_FIELDS)
    no_campaign = ", ".join(f"{c} := NULL::VARCHAR" for c in SPLITTING_CAMPAIGN_FIELDS)
    tagged = " OR ".join(f"e.{c} IS NOT NULL" for c in SPLITTING_CAMPAIGN_FIELDS)
    firsts = ", ".join(f"first_hit.{c}" for c in (*ACQUISITION_COLUMNS, *TECHNICAL_COLUMNS) if c != "landing_path")
    return f"""
WITH unique_events AS (  -- retried hits: keep the copy received first
    SELECT
        e.event_id, e.visitor_id, e.ts, e.received_at, e.event_type, e.value, e.goal,
        f.file_index, e.file_row_number,
        CASE WHEN {tagged} THEN struct_pack({campaign}) END AS campaign
    FROM events AS e JOIN lake_files AS f USING (filename)
    WHERE e.client_id = $client_id
    QUALIFY row_number() OVER (PARTITION BY e.event_id ORDER BY e.received_at, e.ts) = 1
),
ordered AS (
    SELECT
        *,
        epoch_us(ts) AS ts_us,
        row_number() OVER visitor_hits AS hit_order,
        coalesce(epoch_us(ts) - lag(epoch_us(ts)) OVER visitor_hits >= {timeout_us}, true) AS visit_start
    FROM unique_events
    WINDOW visitor_hits AS (PARTITION BY visitor_id ORDER BY ts, event_id)
),
marked AS (
    -- The acquisition in force before a hit is the last campaign seen, or "none" set at a visit's start.
    SELECT
        *,
        visit_start OR (campaign IS NOT NULL AND campaign IS DISTINCT FROM last_value(
            CASE WHEN campaign IS NOT NULL THEN campaign WHEN visit_start THEN struct_pack({no_campaign}) END
            IGNORE NULLS
        ) OVER (PARTITION BY visitor_id ORDER BY hit_order ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING))
            AS is_new_session
    FROM ordered
),
numbered AS (
    SELECT
        *,
        sum(is_new_session::BIGINT) OVER (PARTITION BY visitor_id ORDER BY hit_order ROWS UNBOUNDED PRECEDING)::BIGINT
            AS session_number
    FROM marked
),
sessions AS (
    SELECT
        visitor_id,
        session_number,
        min(ts_us) AS start_us,
        max(ts_us) AS end_us,
        any_value(file_index) FILTER (WHERE is_new_session) AS first_file_index,
        any_value(file_row_number) FILTER (WHERE is_new_session) AS first_file_row,
        count(*) FILTER (WHERE event_type = 'pageview') AS pageviews,
        count(*) FILTER (WHERE event_type = 'click') AS clicks,
        count(*) AS events,
        count(*) FILTER (WHERE event_type = 'goal') AS conversions,
        coalesce(sum(value) FILTER (WHERE event_type = 'goal'), 0.0) AS conversion_value,
        arg_min(goal, hit_order) FILTER (WHERE event_type = 'goal') AS goal
    FROM numbered
    GROUP BY visitor_id, session_number
),
histories AS (  -- strictly earlier sessions of the same visitor only
    SELECT
        *,
        coalesce(sum(conversions) OVER earlier, 0)::BIGINT AS prev_conversions,
        (start_us - lag(end_us) OVER earlier) / 86400e6 AS days_since_last_session
    FROM sessions
    WHERE ($end IS NULL OR start_us < $end)
    WINDOW earlier AS (PARTITION BY visitor_id ORDER BY session_number
                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
),
first_hits AS (
    SELECT f.file_index, e.*
    FROM events AS e JOIN lake_files AS f USING (filename)
)
SELECT
    h.visitor_id || ':' || h.session_number AS session_id,
    h.visitor_id,
    make_timestamp(h.start_us) AS started_at,
    make_timestamp(h.end_us) AS ended_at,
    first_hit.path AS landing_path,
    {firsts},
    h.pageviews,
    h.clicks,
    h.events,
    (h.end_us - h.start_us) / 1e6 AS duration_s,
    h.session_number AS visitor_session_number,
    h.session_number - 1 AS prev_sessions,
    h.prev_conversions,
    h.days_since_last_session,
    h.conversions > 0 AS converted,
    h.conversion_value,
    h.goal,
    h.conversions
FROM histories AS h
JOIN first_hits AS first_hit
    ON first_hit.file_index = h.first_file_index AND first_hit.file_row_number = h.first_file_row
WHERE $start IS NULL OR h.start_us >= $start
ORDER BY h.start_us, h.visitor_id, h.session_number
"""


_EPOCH = datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC"))


def _epoch_us(moment: datetime | None) -> int | None:
    """Microseconds since the Unix epoch (exact integer arithmetic)."""
    return None if moment is None else (moment - _EPOCH) // timedelta(microseconds=1)


def sessions_from_files(
    files: list[Path],
    client_id: str,
    *,
    timeout_minutes: int = SESSION_TIMEOUT_MINUTES,
    window: SessionWindow | None = None,
) -> pd.DataFrame:
    """Sessions of the events in ``files`` (lake Parquet of one client), in the shape of ``SESSION_SCHEMA``."""
    if timeout_minutes < 1:
        raise InvalidInput(f"session timeout must be at least 1 minute, not {timeout_minutes}")
    if not files:
        return empty_sessions()
    window = window or SessionWindow(None, None, None)
    paths = [str(f) for f in files]
    with duckdb.connect(":memory:") as con:
        con.execute("SET TimeZone = 'UTC'")
        events = con.read_parquet(
            paths, hive_partitioning=False, union_by_name=True, filename=True, file_row_number=True
        )
        con.register("events", events)
        con.register("lake_files", pa.table({"filename": paths, "file_index": list(range(len(paths)))}))
        params = {"client_id": client_id, "start": _epoch_us(window.start), "end": _epoch_us(window.end)}
        table = con.sql(sessions_sql(timeout_minutes), params=params).to_arrow_table()
    # make_timestamp gives zone-less UTC instants: the cast only labels them UTC.
    frame: pd.DataFrame = table.select(SESSION_COLUMNS).cast(SESSION_SCHEMA).to_pandas()
    return frame


def build_sessions(
    layout: StorageLayout,
    client_id: str,
    *,
    timeout_minutes: int = SESSION_TIMEOUT_MINUTES,
    timezone: str = "UTC",
    since: date | None = None,
    until: date | None = None,
) -> pd.DataFrame:
    """One client's sessions that started on the client-local days ``since``..``until`` (inclusive).

    ``timezone`` (the client's IANA zone) says which instants those days span; ``started_at`` and
    ``ended_at`` are UTC. Every lake day before ``until`` is read, whatever ``since`` is, so that visitor
    history (session numbers, earlier conversions) and session ids do not depend on the window asked for.
    Columns and dtypes are those of ``SESSION_SCHEMA`` (strings ``str``, counts ``int64``, times
    ``datetime64[us, UTC]``); days without lake files give an empty frame of the same shape.
    """
    window = session_window(since, until, timezone)
    files = lake_files(layout, client_id, window.last_lake_day)
    return sessions_from_files(files, client_id, timeout_minutes=timeout_minutes, window=window)
