"""Sessionization in pandas: the rules of ``features.session_rules`` on an in-memory frame of events.

The Dask engine runs :func:`sessionize_events` on each partition after shuffling the lake by visitor, so every
visitor's events meet in one partition; the benchmark runs it on a whole lake as the straightforward-pandas
reference. It gives the same sessions as the DuckDB query of ``features.sessions`` (a test compares them row
for row). Vectorized NumPy over the events sorted by visitor and time: no Python loop per visitor or session.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from features.goal_matching import match_goals
from features.session_rules import EVENT_TYPES, SPLITTING_CAMPAIGN_FIELDS, InputQuality, SessionOptions
from features.session_schema import ACQUISITION_COLUMNS, SESSION_COLUMNS, SESSION_SCHEMA, TECHNICAL_COLUMNS

_NO_VALUE = "\x00"
_NO_CAMPAIGN = "\x01none"
_DAY_US = 86_400 * 1_000_000


def _epoch_us(values: pd.Series) -> npt.NDArray[np.int64]:
    """UTC instants (no missing values) as microseconds since the epoch."""
    instants = pd.to_datetime(values, utc=True).dt.as_unit("us")
    return np.asarray(instants.astype("int64").to_numpy(), dtype=np.int64)


def _usable_mask(events: pd.DataFrame, options: SessionOptions) -> tuple[pd.Series, pd.Series]:
    """(valid, future) flags of each event, as ``features.session_rules`` defines them."""
    visitor = events["visitor_id"]
    valid = (
        (
            events["event_id"].notna()
            & visitor.notna()
            & visitor.ne("")
            & events["ts"].notna()
            & events["event_type"].isin(EVENT_TYPES)
        )
        .fillna(False)
        .astype(bool)
    )
    ts = pd.to_datetime(events["ts"], utc=True)
    received = pd.to_datetime(events["received_at"], utc=True)
    future = (ts - received) > pd.Timedelta(microseconds=options.skew_us)
    return valid, future.fillna(False).astype(bool) & valid


def usable_events(events: pd.DataFrame, options: SessionOptions) -> tuple[pd.DataFrame, InputQuality]:
    """The valid, not future-dated, deduplicated events (first received copy wins), and what was dropped."""
    valid, future = _usable_mask(events, options)
    usable = events.loc[valid & ~future]
    deduped = usable.sort_values(["visitor_id", "event_id", "received_at", "ts"], kind="stable").drop_duplicates(
        ["visitor_id", "event_id"], keep="first"
    )
    quality = InputQuality(
        events_read=len(events),
        invalid_events=int((~valid).sum()),
        future_events=int(future.sum()),
        duplicate_events=len(usable) - len(deduped),
        events_used=len(deduped),
    )
    return deduped, quality


def _campaign_keys(events: pd.DataFrame) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.object_]]:
    """Whether each hit carries campaign fields, and one comparable text key of those fields."""
    fields = [events[c].astype("object") for c in SPLITTING_CAMPAIGN_FIELDS]
    tagged = np.logical_or.reduce([f.notna().to_numpy() for f in fields])
    key = fields[0].fillna(_NO_VALUE).astype("str")
    for f in fields[1:]:
        key = key + "\x1f" + f.fillna(_NO_VALUE).astype("str")
    return tagged, key.to_numpy(dtype=object)


def _within_visitor_base(first_of_visitor: npt.NDArray[np.bool_]) -> npt.NDArray[np.intp]:
    """For each row, the position of its visitor's first row (rows sorted by visitor)."""
    positions = np.where(first_of_visitor, np.arange(len(first_of_visitor)), 0)
    return np.maximum.accumulate(positions) if len(positions) else positions


def _new_session_flags(events: pd.DataFrame, options: SessionOptions) -> npt.NDArray[np.bool_]:
    """Which hits (sorted by visitor, time, event id) open a session."""
    visitors = events["visitor_id"].to_numpy(dtype=object)
    ts = events["ts_us"].to_numpy()
    first_of_visitor = np.ones(len(events), dtype=bool)
    first_of_visitor[1:] = visitors[1:] != visitors[:-1]
    gap = np.zeros(len(events), dtype=np.int64)
    gap[1:] = np.diff(ts)
    visit_start = first_of_visitor | (gap >= options.timeout_us)
    if options.split_at_midnight:
        local = pd.to_datetime(events["ts"], utc=True).dt.tz_convert(ZoneInfo(options.timezone)).dt.tz_localize(None)
        day = local.dt.floor("D").to_numpy()
        other_day = np.zeros(len(events), dtype=bool)
        other_day[1:] = day[1:] != day[:-1]
        visit_start |= other_day
    tagged, key = _campaign_keys(events)
    state = pd.Series(key, dtype="object").where(
        tagged, pd.Series(_NO_CAMPAIGN, index=range(len(key))).where(visit_start)
    )
    previous = state.ffill().shift(1).to_numpy(dtype=object)  # each visitor's first hit sets a state
    return np.asarray(visit_start | (tagged & (key != previous)), dtype=bool)


def sessionize_events(
    events: pd.DataFrame,
    options: SessionOptions,
    *,
    start_us: int | None = None,
    end_us: int | None = None,
    already_usable: bool = False,
) -> pd.DataFrame:
    """Sessions (``SESSION_SCHEMA``) of one client's events; every visitor's events must all be present.

    ``start_us``/``end_us`` (epoch microseconds) bound the session starts returned, as in the DuckDB engine.
    """
    if not already_usable:
        events, _ = usable_events(events, options)
    if events.empty:
        frame: pd.DataFrame = SESSION_SCHEMA.empty_table().to_pandas()
        return frame
    events = events.assign(ts_us=_epoch_us(events["ts"]))
    events = events.sort_values(["visitor_id", "ts_us", "event_id"], kind="stable").reset_index(drop=True)
    n = len(events)
    visitors = events["visitor_id"].to_numpy(dtype=object)
    ts = events["ts_us"].to_numpy()
    first_of_visitor = np.ones(n, dtype=bool)
    first_of_visitor[1:] = visitors[1:] != visitors[:-1]
    is_new = _new_session_flags(events, options)

    hit_base = _within_visitor_base(first_of_visitor)
    hit_order = np.arange(n) - hit_base + 1
    session_index = np.cumsum(is_new) - 1
    session_number = session_index - session_index[hit_base] + 1
    starts = np.flatnonzero(is_new)
    ends = np.append(starts[1:], n) - 1

    matched = match_goals(events, options.goals).to_numpy(dtype=object)
    is_goal = pd.notna(matched)
    values = events["value"].astype("float64").fillna(0.0).to_numpy()
    event_type = events["event_type"].to_numpy(dtype=object)
    conversions = np.add.reduceat(is_goal.astype(np.int64), starts)
    # Engagement counts only the hits before the session's first conversion (a prefix of its hits).
    goals_so_far = np.cumsum(is_goal.astype(np.int64))
    goals_before_start = goals_so_far[starts] - is_goal[starts]
    before_goal = goals_so_far == goals_before_start[session_index]
    engaged_hits = np.add.reduceat(before_goal.astype(np.int64), starts)
    goal_positions = np.flatnonzero(is_goal)
    first_goal = np.full(len(starts), None, dtype=object)
    if len(goal_positions):
        goal_sessions, first_at = np.unique(session_index[goal_positions], return_index=True)
        first_goal[goal_sessions] = matched[goal_positions[first_at]]

    first_hits = events.iloc[starts].reset_index(drop=True)
    start = ts[starts]
    end = ts[ends]
    engaged_until = np.where(engaged_hits > 0, ts[starts + np.maximum(engaged_hits - 1, 0)], start)
    sessions = pd.DataFrame(
        {
            "visitor_id": visitors[starts],
            "session_number": session_number[starts],
            "start_us": start,
            "end_us": end,
            "first_hit_order": hit_order[starts],
            "engaged_until_us": engaged_until,
            "pageviews": np.add.reduceat(((event_type == "pageview") & before_goal).astype(np.int64), starts),
            "clicks": np.add.reduceat(((event_type == "click") & before_goal).astype(np.int64), starts),
            "events": ends - starts + 1,
            "conversions": conversions,
            "conversion_value": np.add.reduceat(np.where(is_goal, values, 0.0), starts),
            "goal": first_goal,
        }
    )
    # Visitor history: earlier sessions of the same visitor only.
    first_session = first_of_visitor[starts]
    session_base = _within_visitor_base(first_session)
    cumulative = np.cumsum(conversions)
    prev_conversions = cumulative - conversions - (cumulative[session_base] - conversions[session_base])
    previous_end = np.empty(len(starts), dtype=np.float64)
    previous_end[0] = np.nan
    previous_end[1:] = end[:-1]
    days_since = np.where(first_session, np.nan, (start - previous_end) / 86400e6)
    sessions["prev_conversions"] = prev_conversions
    sessions["days_since_last_session"] = days_since
    for column in (*ACQUISITION_COLUMNS, *TECHNICAL_COLUMNS):
        source = "path" if column == "landing_path" else column
        sessions[column] = first_hits[source].to_numpy(dtype=object)

    chosen = np.ones(len(sessions), dtype=bool)
    if end_us is not None:
        chosen &= start < end_us
    if start_us is not None:
        chosen &= start >= start_us
    sessions = sessions.loc[chosen].reset_index(drop=True)
    goal_hits = pd.DataFrame(
        {
            "visitor_id": visitors[goal_positions],
            "hit_order": hit_order[goal_positions],
            "ts_us": ts[goal_positions],
            "value": values[goal_positions],
        }
    )
    return _session_records(_with_window_labels(sessions, goal_hits, options))


def _with_window_labels(sessions: pd.DataFrame, goal_hits: pd.DataFrame, options: SessionOptions) -> pd.DataFrame:
    """Add ``window_conversions`` / ``window_conversion_value`` (the session's own without a window)."""
    window_us = options.window_us
    if window_us is None:
        return sessions.assign(
            window_conversions=sessions["conversions"], window_conversion_value=sessions["conversion_value"]
        )
    keyed = sessions[["visitor_id", "first_hit_order", "start_us"]].reset_index(names="row")
    pairs = keyed.merge(goal_hits, on="visitor_id", how="inner")
    pairs = pairs[(pairs["hit_order"] >= pairs["first_hit_order"]) & (pairs["ts_us"] <= pairs["start_us"] + window_us)]
    totals = pairs.groupby("row").agg(n=("hit_order", "size"), v=("value", "sum"))
    counts = totals["n"].reindex(sessions.index, fill_value=0)
    sums = totals["v"].reindex(sessions.index, fill_value=0.0)
    return sessions.assign(window_conversions=counts.to_numpy(), window_conversion_value=sums.to_numpy())


def _session_records(sessions: pd.DataFrame) -> pd.DataFrame:
    """The internal session table in the public shape and order of ``SESSION_SCHEMA``."""
    number = sessions["session_number"].astype("int64")
    frame = pd.DataFrame(
        {
            "session_id": sessions["visitor_id"].astype("str") + ":" + number.astype("str"),
            "visitor_id": sessions["visitor_id"],
            "started_at": sessions["start_us"].astype("int64"),  # microseconds: the cast below makes them UTC
            "ended_at": sessions["end_us"].astype("int64"),
            **{c: sessions[c] for c in (*ACQUISITION_COLUMNS, *TECHNICAL_COLUMNS)},
            "pageviews": sessions["pageviews"],
            "clicks": sessions["clicks"],
            "events": sessions["events"],
            "duration_s": (sessions["engaged_until_us"] - sessions["start_us"]) / 1e6,
            "visitor_session_number": number,
            "prev_sessions": number - 1,
            "prev_conversions": sessions["prev_conversions"],
            "days_since_last_session": sessions["days_since_last_session"],
            "converted": sessions["conversions"] > 0,
            "conversion_value": sessions["conversion_value"],
            "goal": sessions["goal"],
            "conversions": sessions["conversions"],
            "window_conversions": sessions["window_conversions"],
            "window_conversion_value": sessions["window_conversion_value"],
        }
    )
    frame = frame.assign(_start=sessions["start_us"].to_numpy())
    frame = frame.sort_values(["_start", "visitor_id", "visitor_session_number"], kind="stable")
    table = pa.Table.from_pandas(frame.loc[:, list(SESSION_COLUMNS)], preserve_index=False)
    records: pd.DataFrame = table.cast(SESSION_SCHEMA).to_pandas()
    return records
