"""Touchpoint paths: each visitor's sessions cut into journeys, the input of attribution models.

A **touchpoint** is one session (see :func:`features.sessions.build_sessions`): its channel (by
:func:`features.channels.classify_channel` on ``utm_source``, ``utm_medium`` and ``referrer_host``), its
campaign and creative, and its start time. Journey rules:

1. **Order.** A visitor's sessions are ordered by ``started_at``; sessions of one visitor that start at the
   same instant are ordered by ``visitor_session_number`` when the frame has it, then non-converting before
   converting, then by channel, campaign, creative and conversion value (so the input's row order never
   matters).
2. **Cut.** A journey ends with, and includes, a converting session (``converted`` true); the visitor's next
   session starts the next journey. The sessions after a visitor's last conversion form one non-converting
   journey (none when the visitor's last session converted). Every session is in exactly one journey, and a
   journey never holds sessions of two visitors. A session with several goals is one conversion (one
   journey end); its ``conversion_value`` (the sum of its goals' values) is the journey's.
3. **Lookback.** Touchpoints whose session started more than ``lookback_days`` days (exactly, as a duration)
   before the journey's last session start are dropped. The last session itself is always kept, so no
   journey is ever empty; dropped sessions do not move to another journey.
4. **Cap.** Of what remains, at most the last ``max_touchpoints`` touchpoints (the latest) are kept.
5. **Output.** One row per journey. ``journey_id`` numbers the journeys 0..n-1 after sorting them by their
   content only: last touch time, first touch time, number of touchpoints, outcome, conversion value, then
   the touchpoints themselves. Visitor ids never enter the output, not even as a tie-breaker of that order:
   journeys that tie on every key are identical rows.

Columns (``PATH_COLUMNS``): ``journey_id`` (int64); ``channels`` (list of str, one of ``CHANNELS``);
``campaigns`` (list of str: the session's ``campaign_id``, or its channel in angle brackets, e.g.
``"<direct>"``, when it has none (missing or blank), so the list has no nulls); ``creatives`` (list of str or None);
``touch_times`` (list of UTC ``pd.Timestamp``, oldest first); ``converted`` (bool); ``conversion_value``
(float, of the final converting session, 0.0 for a non-converting journey); ``conversion_at``
(``datetime64[us, UTC]``: the start of the converting session, as a session frame does not say when within
the session the goal fired; NaT for a non-converting journey); ``touchpoints`` (int64, the lists' length).

:func:`path_counts` aggregates identical paths (of channels or campaigns) into journeys, conversions and
conversion value: the input of Markov-chain and Shapley attribution.

Everything is computed on sorted columns with NumPy/pandas vector operations (journey boundaries, lookback
and cap are array expressions, no per-visitor Python); the only per-journey step is slicing the flat
columns into the output lists.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.errors import InvalidInput
from features.channels import classify_channel

REQUIRED_COLUMNS: tuple[str, ...] = (
    "visitor_id",
    "started_at",
    "utm_source",
    "utm_medium",
    "referrer_host",
    "campaign_id",
    "creative_id",
    "converted",
    "conversion_value",
)
PATH_COLUMNS: tuple[str, ...] = (
    "journey_id",
    "channels",
    "campaigns",
    "creatives",
    "touch_times",
    "converted",
    "conversion_value",
    "conversion_at",
    "touchpoints",
)
PATH_COUNT_COLUMNS: tuple[str, ...] = ("path", "journeys", "conversions", "conversion_value")
PATH_KINDS: tuple[str, ...] = ("channels", "campaigns")
DEFAULT_LOOKBACK_DAYS = 30
DEFAULT_MAX_TOUCHPOINTS = 50

_US_PER_DAY = 86_400 * 1_000_000
_MAX_LOOKBACK_DAYS = 100_000  # wider than any two int64 microsecond times: keeps arithmetic in int64
_UTC_US = "datetime64[us, UTC]"
# Separators of the content key that orders journeys (control characters, not found in ids or channels).
_FIELD_SEPARATOR = "\x1f"
_TOUCH_SEPARATOR = "\x1e"
_NO_CREATIVE = "\x00"


def empty_paths() -> pd.DataFrame:
    """A path frame with no rows and the columns and dtypes of :func:`touchpoint_paths`."""
    return pd.DataFrame(
        {
            "journey_id": pd.Series(dtype="int64"),
            "channels": pd.Series(dtype=object),
            "campaigns": pd.Series(dtype=object),
            "creatives": pd.Series(dtype=object),
            "touch_times": pd.Series(dtype=object),
            "converted": pd.Series(dtype="bool"),
            "conversion_value": pd.Series(dtype="float64"),
            "conversion_at": pd.Series(dtype=_UTC_US),
            "touchpoints": pd.Series(dtype="int64"),
        }
    )


def _require_columns(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    """Raise :class:`InvalidInput` naming the ``columns`` that ``frame`` lacks."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidInput(f"{what} lacks the column(s) {', '.join(missing)}")


def _check_limits(lookback_days: int, max_touchpoints: int) -> None:
    """Raise :class:`InvalidInput` unless both limits are integers of at least 1."""
    for name, value in (("lookback_days", lookback_days), ("max_touchpoints", max_touchpoints)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise InvalidInput(f"{name} must be an integer of at least 1, not {value!r}")


def _utc_times(values: pd.Series) -> pd.Series:
    """``started_at`` as ``datetime64[us, UTC]`` (zone-less times are taken as UTC); no missing values."""
    try:
        times = pd.to_datetime(values, utc=True)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"started_at must hold times: {exc}") from exc
    if times.isna().any():
        raise InvalidInput("started_at has missing values: every session needs a start time")
    return times.dt.as_unit("us")


def _text(values: pd.Series) -> npt.NDArray[np.object_]:
    """Strings as an ``object`` array with None for missing and blank values."""
    text = values.to_numpy(dtype=object)
    present = values.notna().to_numpy(dtype=bool) & (values.astype(str).str.strip() != "").to_numpy(dtype=bool)
    text[~present] = None
    return text


def _touchpoints(sessions: pd.DataFrame) -> pd.DataFrame:
    """One row per session with the touchpoint fields, in journey order (visitor, time, tie-breakers)."""
    if sessions["visitor_id"].isna().any():
        raise InvalidInput("visitor_id has missing values: every session needs a visitor")
    if sessions["converted"].isna().any():
        raise InvalidInput("converted has missing values: every session must say whether it converted")
    frame = pd.DataFrame(
        {
            "visitor": sessions["visitor_id"].astype(str).to_numpy(),
            "order": (
                pd.to_numeric(sessions["visitor_session_number"], errors="coerce").to_numpy(dtype="float64")
                if "visitor_session_number" in sessions.columns
                else np.zeros(len(sessions))
            ),
            "converted": sessions["converted"].astype(bool).to_numpy(),
            "channel": classify_channel(
                sessions["utm_source"], sessions["utm_medium"], sessions["referrer_host"]
            ).to_numpy(dtype=object),
            "campaign": pd.Series(_text(sessions["campaign_id"]), dtype=object),
            "creative": pd.Series(_text(sessions["creative_id"]), dtype=object),
            "value": pd.to_numeric(sessions["conversion_value"], errors="coerce").fillna(0.0).to_numpy(dtype=float),
        }
    )
    frame.insert(1, "started_at", _utc_times(sessions["started_at"]).reset_index(drop=True))
    frame["campaign"] = frame["campaign"].where(frame["campaign"].notna(), "<" + frame["channel"] + ">")
    keys = ["visitor", "started_at", "order", "converted", "channel", "campaign", "creative", "value"]
    return frame.sort_values(keys, kind="stable", na_position="last", ignore_index=True)


def _slices(values: pd.Series, starts: npt.NDArray[np.int64], ends: npt.NDArray[np.int64]) -> list[list[Any]]:
    """``values[start:end]`` as a Python list for each (start, end) pair."""
    flat = values.tolist()
    return [flat[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]


def _content_keys(frame: pd.DataFrame, offsets: npt.NDArray[np.int64]) -> npt.NDArray[np.object_]:
    """One string per journey that spells all its touchpoints (channel, campaign, creative, time)."""
    stamps = frame["started_at"].to_numpy(dtype="datetime64[us]").astype(np.int64).astype(str)
    token = (
        frame["channel"]
        + _FIELD_SEPARATOR
        + frame["campaign"]
        + _FIELD_SEPARATOR
        + frame["creative"].fillna(_NO_CREATIVE)
        + _FIELD_SEPARATOR
        + stamps
    )
    lists = pa.ListArray.from_arrays(pa.array(offsets, pa.int64()), pa.array(token.to_numpy(dtype=object), pa.string()))
    return np.asarray(pc.binary_join(lists, _TOUCH_SEPARATOR).to_numpy(zero_copy_only=False), dtype=object)


def touchpoint_paths(
    sessions: pd.DataFrame,
    *,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    max_touchpoints: int = DEFAULT_MAX_TOUCHPOINTS,
) -> pd.DataFrame:
    """The journeys of ``sessions`` (a frame as :func:`features.sessions.build_sessions` returns), one per row.

    Journeys are cut, trimmed to ``lookback_days`` and ``max_touchpoints``, numbered and shaped as this
    module's docstring says; columns are ``PATH_COLUMNS``. Only ``REQUIRED_COLUMNS`` are read (plus
    ``visitor_session_number`` to order sessions that start at the same instant, when present); a missing one
    raises :class:`InvalidInput` naming it, as do limits under 1 and missing visitor ids, start times or
    ``converted`` flags. No visitor id appears in the result.
    """
    _check_limits(lookback_days, max_touchpoints)
    _require_columns(sessions, REQUIRED_COLUMNS, "the session frame")
    if sessions.empty:
        return empty_paths()
    frame = _touchpoints(sessions)
    n = len(frame)
    visitor = frame["visitor"].to_numpy()
    converted = frame["converted"].to_numpy(dtype=bool)
    start_us = frame["started_at"].to_numpy(dtype="datetime64[us]").astype(np.int64)

    # A session opens a journey when it is its visitor's first or follows a converting session.
    opens = np.ones(n, dtype=bool)
    opens[1:] = (visitor[1:] != visitor[:-1]) | converted[:-1]
    journey = np.cumsum(opens) - 1
    last_row = np.r_[np.flatnonzero(opens)[1:] - 1, n - 1]  # each journey's last session
    last_of_row = last_row[journey]
    window_us = min(int(lookback_days), _MAX_LOOKBACK_DAYS) * _US_PER_DAY  # larger windows keep everything
    keep = (start_us[last_of_row] - start_us <= window_us) & (last_of_row - np.arange(n) < min(int(max_touchpoints), n))
    kept = frame[keep].reset_index(drop=True)
    kept_journey = journey[keep]

    # Kept rows of a journey are a contiguous suffix of it: offsets of each journey in ``kept``.
    first = np.flatnonzero(np.r_[True, kept_journey[1:] != kept_journey[:-1]])
    ends = np.r_[first[1:], len(kept)]
    final = ends - 1
    is_converted = kept["converted"].to_numpy(dtype=bool)[final]
    times = kept["started_at"]
    last_at = times.iloc[final].reset_index(drop=True)
    journeys = pd.DataFrame(
        {
            "channels": _slices(kept["channel"], first, ends),
            "campaigns": _slices(kept["campaign"], first, ends),
            "creatives": _slices(kept["creative"], first, ends),
            "touch_times": _slices(times, first, ends),
            "converted": is_converted,
            "conversion_value": np.where(is_converted, kept["value"].to_numpy(dtype=float)[final], 0.0),
            "conversion_at": last_at.where(pd.Series(is_converted), pd.NaT).astype(_UTC_US),
            "touchpoints": (ends - first).astype(np.int64),
            # sort keys, dropped below
            "_last": last_at,
            "_first": times.iloc[first].reset_index(drop=True),
            "_content": _content_keys(kept, np.r_[first, len(kept)].astype(np.int64)),
        }
    )
    order = ["_last", "_first", "touchpoints", "converted", "conversion_value", "_content"]
    journeys = journeys.sort_values(order, kind="stable", ignore_index=True)
    journeys.insert(0, "journey_id", np.arange(len(journeys), dtype=np.int64))
    return journeys[list(PATH_COLUMNS)]


def path_counts(paths: pd.DataFrame, by: Literal["channels", "campaigns"] = "channels") -> pd.DataFrame:
    """Identical paths of ``paths`` (a :func:`touchpoint_paths` frame) counted together.

    ``by`` picks the list that makes the path (``channels`` or ``campaigns``). Columns: ``path`` (tuple of
    str, oldest touchpoint first), ``journeys`` (int64), ``conversions`` (int64, converting journeys),
    ``conversion_value`` (float, their summed value); most frequent path first, ties by path. The sums over
    all rows equal the number of journeys, of converting journeys and the total value of ``paths``.
    """
    if by not in PATH_KINDS:
        raise InvalidInput(f"by must be one of {', '.join(PATH_KINDS)}, not {by!r}")
    _require_columns(paths, (by, "converted", "conversion_value"), "the path frame")
    keys = np.fromiter((tuple(p) for p in paths[by]), dtype=object, count=len(paths))
    codes, uniques = pd.factorize(keys)
    size = len(uniques)
    converted = paths["converted"].astype(bool).to_numpy()
    values = pd.to_numeric(paths["conversion_value"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    unique_paths = np.fromiter(uniques, dtype=object, count=size)
    counts = pd.DataFrame(
        {
            "path": pd.Series(unique_paths, dtype=object),
            "journeys": np.bincount(codes, minlength=size).astype(np.int64),
            "conversions": np.bincount(codes, weights=converted, minlength=size).astype(np.int64),
            "conversion_value": np.bincount(codes, weights=values, minlength=size).astype(float),
        }
    )
    by_path = counts.iloc[np.argsort(unique_paths, kind="stable")] if size else counts
    return by_path.sort_values("journeys", ascending=False, kind="stable", ignore_index=True)
