"""Sessionization with DuckDB: one client's lake events → one row per visit, with point-in-time history.

The rules are those of ``features.session_rules`` (shared with the pandas kernel the Dask engine runs); here
they are one DuckDB query over the client's Parquet files (window functions, no Python loop).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pyarrow as pa

from core.errors import InvalidInput
from core.layout import StorageLayout
from features.goal_matching import goal_sql
from features.goals import GoalDefinition
from features.session_rules import (
    EVENT_TYPES,
    SESSION_TIMEOUT_MINUTES,
    SPLITTING_CAMPAIGN_FIELDS,
    InputQuality,
    SessionOptions,
)
from features.session_schema import (
    ACQUISITION_COLUMNS,
    SESSION_COLUMNS,
    SESSION_SCHEMA,
    TECHNICAL_COLUMNS,
)
from tracking.lake import event_files

# Sessions that start on ``until`` may run past midnight and the client's day may end after the UTC day:
# lake days up to this many days after ``until`` are read so those sessions are complete.
TRAILING_DAYS = 2


@dataclass(frozen=True)
class SessionWindow:
    """Which sessions to return, and which lake days must be read to build them point-in-time correctly."""

    start: datetime | None  # first UTC instant of ``since`` in the client's zone (inclusive)
    end: datetime | None  # first UTC instant after ``until`` in the client's zone (exclusive)
    last_lake_day: date | None  # newest lake partition (UTC day) to read; older ones are all read (history)


def session_window(
    since: date | None, until: date | None, timezone: str = "UTC", attribution_window_days: int | None = None
) -> SessionWindow:
    """The UTC bounds of the client-local days ``since``..``until`` (both inclusive, either open).

    With an attribution window, lake days up to that many days after ``until`` are read too (labels look ahead).
    """
    if since is not None and until is not None and since > until:
        raise InvalidInput(f"since ({since.isoformat()}) is after until ({until.isoformat()})")
    try:
        zone = ZoneInfo(timezone)
    except (ValueError, KeyError) as exc:  # ZoneInfoNotFoundError is a KeyError
        raise InvalidInput(f"unknown time zone {timezone!r}: use an IANA name such as Europe/Berlin") from exc
    start = datetime.combine(since, time(), zone).astimezone(ZoneInfo("UTC")) if since else None
    end = datetime.combine(until + timedelta(days=1), time(), zone).astimezone(ZoneInfo("UTC")) if until else None
    look_ahead = TRAILING_DAYS + (attribution_window_days or 0)
    last_day = until + timedelta(days=look_ahead) if until else None
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


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _raw_events_sql(options: SessionOptions) -> str:
    """The client's events with the flags the rules need (CTEs ``raw`` and ``usable``)."""
    campaign = ", ".join(f"{c} := e.{c}" for c in SPLITTING_CAMPAIGN_FIELDS)
    tagged = " OR ".join(f"e.{c} IS NOT NULL" for c in SPLITTING_CAMPAIGN_FIELDS)
    types = ", ".join(_sql_text(t) for t in EVENT_TYPES)
    return f"""
raw AS (
    SELECT
        e.event_id, e.visitor_id, e.ts, e.received_at, e.event_type, e.value, e.goal, e.path,
        f.file_index, e.file_row_number,
        CASE WHEN {tagged} THEN struct_pack({campaign}) END AS campaign,
        coalesce(e.event_id IS NOT NULL AND e.visitor_id IS NOT NULL AND e.visitor_id <> ''
                 AND e.ts IS NOT NULL AND e.event_type IN ({types}), false) AS is_valid,
        coalesce(epoch_us(e.ts) > epoch_us(e.received_at) + {options.skew_us}, false) AS is_future
    FROM events AS e JOIN lake_files AS f USING (filename)
    WHERE e.client_id = $client_id
),
usable AS (SELECT * FROM raw WHERE is_valid AND NOT is_future)"""


def input_quality_sql(options: SessionOptions) -> str:
    """Counts of events read, dropped as invalid or future-dated, and duplicated (same relations as below)."""
    return f"""
WITH {_raw_events_sql(options)}
SELECT
    (SELECT count(*) FROM raw) AS events_read,
    (SELECT count(*) FROM raw WHERE NOT is_valid) AS invalid_events,
    (SELECT count(*) FROM raw WHERE is_valid AND is_future) AS future_events,
    (SELECT count(*) FROM usable) - (SELECT count(*) FROM (SELECT DISTINCT visitor_id, event_id FROM usable))
        AS duplicate_events,
    (SELECT count(*) FROM (SELECT DISTINCT visitor_id, event_id FROM usable)) AS events_used
"""


def raw_counts_sql(options: SessionOptions) -> str:
    """Events read, invalid and future-dated: one pass over narrow columns (duplicates need the sessions)."""
    return f"""
WITH {_raw_events_sql(options)}
SELECT count(*), count(*) FILTER (WHERE NOT is_valid), count(*) FILTER (WHERE is_valid AND is_future)
FROM raw
"""


def sessions_sql(options: SessionOptions, *, ordered: bool = True, events_used: bool = False) -> str:
    """The sessionization query.

    It reads two relations: ``events`` (lake columns plus ``filename`` and ``file_row_number``) and
    ``lake_files`` (``filename``, ``file_index``). Parameters: ``$client_id`` (rows of other clients are
    ignored), ``$start`` and ``$end`` (epoch microseconds bounding the session start, NULL for open).

    Window functions run over a narrow projection of the events (ids, time, type, value, campaign); the wide
    first-hit columns are joined back by file position for one hit per session only, which keeps the
    sorts small (about 3x faster than carrying every column through every window).

    ``ordered`` sorts the result by start; ``events_used`` adds the column ``_events_used``: the events of
    every session, in the window or not (the count of usable, deduplicated events).
    """
    no_campaign = ", ".join(f"{c} := NULL::VARCHAR" for c in SPLITTING_CAMPAIGN_FIELDS)
    firsts = ", ".join(f"first_hit.{c}" for c in (*ACQUISITION_COLUMNS, *TECHNICAL_COLUMNS) if c != "landing_path")
    local_day = (
        f"CAST(timezone({_sql_text(options.timezone)}, ts) AS DATE)" if options.split_at_midnight else "NULL::DATE"
    )
    midnight = " OR local_day <> lag(local_day) OVER visitor_hits" if options.split_at_midnight else ""
    window_us = options.window_us
    if window_us is None:
        windowed = "SELECT visitor_id, session_number, conversions, conversion_value FROM chosen"
    else:
        windowed = f"""
    SELECT s.visitor_id, s.session_number, count(g.hit_order) AS conversions,
           coalesce(sum(g.value), 0.0) AS conversion_value
    FROM chosen AS s LEFT JOIN goal_hits AS g
        ON g.visitor_id = s.visitor_id AND g.hit_order >= s.first_hit_order AND g.ts_us <= s.start_us + {window_us}
    GROUP BY s.visitor_id, s.session_number"""
    events_used_column = ",\n    (SELECT sum(events) FROM sessions)::BIGINT AS _events_used" if events_used else ""
    order_by = "ORDER BY h.start_us, h.visitor_id, h.session_number" if ordered else ""
    return f"""
WITH {_raw_events_sql(options)},
unique_events AS (  -- retried hits: keep the copy received first
    SELECT *, {goal_sql(options.goals)} AS matched_goal, {local_day} AS local_day
    FROM usable
    QUALIFY row_number() OVER (PARTITION BY visitor_id, event_id ORDER BY received_at, ts) = 1
),
ordered AS (
    SELECT
        *,
        epoch_us(ts) AS ts_us,
        row_number() OVER visitor_hits AS hit_order,
        coalesce(epoch_us(ts) - lag(epoch_us(ts)) OVER visitor_hits >= {options.timeout_us}{midnight}, true)
            AS visit_start
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
first_goals AS (  -- few rows: the first conversion of each converting session
    SELECT visitor_id, session_number, min(hit_order) AS goal_order
    FROM numbered WHERE matched_goal IS NOT NULL
    GROUP BY visitor_id, session_number
),
engaged AS (  -- engagement counts only what happened before the session's first conversion
    SELECT n.*, n.hit_order < coalesce(g.goal_order, 9223372036854775807) AS before_goal
    FROM numbered AS n LEFT JOIN first_goals AS g USING (visitor_id, session_number)
),
sessions AS (
    SELECT
        visitor_id,
        session_number,
        min(ts_us) AS start_us,
        max(ts_us) AS end_us,
        coalesce(max(ts_us) FILTER (WHERE before_goal), min(ts_us)) AS engaged_until_us,
        min(hit_order) AS first_hit_order,
        any_value(file_index) FILTER (WHERE is_new_session) AS first_file_index,
        any_value(file_row_number) FILTER (WHERE is_new_session) AS first_file_row,
        count(*) FILTER (WHERE event_type = 'pageview' AND before_goal) AS pageviews,
        count(*) FILTER (WHERE event_type = 'click' AND before_goal) AS clicks,
        count(*) AS events,
        count(*) FILTER (WHERE matched_goal IS NOT NULL) AS conversions,
        coalesce(sum(value) FILTER (WHERE matched_goal IS NOT NULL), 0.0) AS conversion_value,
        arg_min(matched_goal, hit_order) FILTER (WHERE matched_goal IS NOT NULL) AS goal
    FROM engaged
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
chosen AS (SELECT * FROM histories WHERE $start IS NULL OR start_us >= $start),
goal_hits AS (SELECT visitor_id, hit_order, ts_us, value FROM numbered WHERE matched_goal IS NOT NULL),
windowed AS ({windowed}),
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
    (h.engaged_until_us - h.start_us) / 1e6 AS duration_s,
    h.session_number AS visitor_session_number,
    h.session_number - 1 AS prev_sessions,
    h.prev_conversions,
    h.days_since_last_session,
    h.conversions > 0 AS converted,
    h.conversion_value,
    h.goal,
    h.conversions,
    w.conversions AS window_conversions,
    w.conversion_value AS window_conversion_value{events_used_column}
FROM chosen AS h
JOIN windowed AS w USING (visitor_id, session_number)
JOIN first_hits AS first_hit
    ON first_hit.file_index = h.first_file_index AND first_hit.file_row_number = h.first_file_row
{order_by}
"""


_EPOCH = datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC"))
# Results are sorted explicitly where order matters; letting DuckDB drop insertion order saves memory.
_DUCKDB_CONFIG: dict[str, str | bool | int | float | list[str]] = {"preserve_insertion_order": False}


def epoch_us(moment: datetime | None) -> int | None:
    """Microseconds since the Unix epoch (exact integer arithmetic)."""
    return None if moment is None else (moment - _EPOCH) // timedelta(microseconds=1)


def _connect_events(con: duckdb.DuckDBPyConnection, files: list[Path]) -> None:
    """Register the relations ``events`` and ``lake_files`` the queries read."""
    paths = [str(f) for f in files]
    con.execute("SET TimeZone = 'UTC'")
    with contextlib.suppress(duckdb.Error):  # in Jupyter without ipywidgets DuckDB refuses to change it
        con.execute("SET enable_progress_bar = false")
    events = con.read_parquet(paths, hive_partitioning=False, union_by_name=True, filename=True, file_row_number=True)
    con.register("events", events)
    con.register("lake_files", pa.table({"filename": paths, "file_index": list(range(len(paths)))}))


def sessions_from_files(
    files: list[Path],
    client_id: str,
    options: SessionOptions | None = None,
    *,
    window: SessionWindow | None = None,
) -> pd.DataFrame:
    """Sessions of the events in ``files`` (lake Parquet of one client), in the shape of ``SESSION_SCHEMA``."""
    frame, _ = sessions_and_quality(files, client_id, options, window=window)
    return frame


def sessions_and_quality(
    files: list[Path],
    client_id: str,
    options: SessionOptions | None = None,
    *,
    window: SessionWindow | None = None,
    columns: Sequence[str] | None = None,
    ordered: bool = True,
    spill_dir: Path | None = None,
    memory_limit: str | None = None,
) -> tuple[pd.DataFrame, InputQuality]:
    """:func:`sessions_from_files` (only ``columns`` of it when given, unsorted unless ``ordered``) and the
    counts of events read, left out and used, from one DuckDB session.

    ``memory_limit`` (e.g. ``"2GB"``) caps DuckDB's memory; what does not fit spills to ``spill_dir`` (a
    private folder under XMO_HOME: spilled rows hold visitor ids), which is emptied afterwards.
    """
    options = options or SessionOptions()
    if not files:
        return empty_sessions().loc[:, list(columns or SESSION_COLUMNS)], InputQuality()
    window = window or SessionWindow(None, None, None)
    chosen = list(columns or SESSION_COLUMNS)
    unknown = [c for c in chosen if c not in SESSION_COLUMNS]
    if unknown:
        raise InvalidInput(f"unknown session columns {unknown}")
    config = dict(_DUCKDB_CONFIG)
    if memory_limit is not None:
        if spill_dir is None:
            raise InvalidInput("a DuckDB memory limit needs a spill folder")
        spill_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        config |= {"memory_limit": memory_limit, "temp_directory": str(spill_dir)}
    with duckdb.connect(":memory:", config=config) as con:
        _connect_events(con, files)
        read, invalid, future = con.execute(raw_counts_sql(options), {"client_id": client_id}).fetchall()[0]
        params = {"client_id": client_id, "start": epoch_us(window.start), "end": epoch_us(window.end)}
        query = sessions_sql(options, ordered=ordered, events_used=True)
        selected = ", ".join([*chosen, "_events_used"])
        table = con.sql(f"SELECT {selected} FROM ({query})", params=params).to_arrow_table()
        if table.num_rows:
            used = int(table.column("_events_used")[0].as_py() or 0)
        else:  # no session in the window: count the usable events another way
            used = input_quality(files, client_id, options).events_used
    usable = int(read) - int(invalid) - int(future)
    quality = InputQuality(int(read), int(invalid), int(future), usable - used, used)
    # make_timestamp gives zone-less UTC instants: the cast only labels them UTC.
    schema = pa.schema([SESSION_SCHEMA.field(c) for c in chosen])
    frame: pd.DataFrame = table.select(chosen).cast(schema).to_pandas()
    return frame, quality


def input_quality(files: list[Path], client_id: str, options: SessionOptions | None = None) -> InputQuality:
    """How many of the client's events in ``files`` were read, dropped (and why) and used."""
    if not files:
        return InputQuality()
    with duckdb.connect(":memory:", config=_DUCKDB_CONFIG) as con:
        _connect_events(con, files)
        row = con.execute(input_quality_sql(options or SessionOptions()), {"client_id": client_id}).fetchone()
    assert row is not None  # an aggregate query always returns one row
    return InputQuality(*(int(v) for v in row))


def build_sessions(
    layout: StorageLayout,
    client_id: str,
    *,
    timeout_minutes: int = SESSION_TIMEOUT_MINUTES,
    timezone: str = "UTC",
    split_at_midnight: bool = False,
    goals: tuple[GoalDefinition, ...] = (),
    attribution_window_days: int | None = None,
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
    options = SessionOptions(
        timeout_minutes=timeout_minutes,
        timezone=timezone,
        split_at_midnight=split_at_midnight,
        goals=goals,
        attribution_window_days=attribution_window_days,
    )
    window = session_window(since, until, timezone, attribution_window_days)
    files = lake_files(layout, client_id, window.last_lake_day)
    return sessions_from_files(files, client_id, options, window=window)
