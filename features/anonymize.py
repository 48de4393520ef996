"""Sessions → anonymized training rows: features, labels, day, split and a per-dataset salted row key.

What a row keeps: the model features of ``features.definitions`` (no URL, no id of a person, times no finer
than the hour and weekday), the labels, the client-local day, the split, and ``row_key``. The row key is
HMAC-SHA256 of the internal session id under a random salt that the caller throws away, so rows of two
training sets cannot be joined to each other, nor back to a visitor.
"""

from __future__ import annotations

import hashlib
import hmac
from zoneinfo import ZoneInfo

import pandas as pd

from features.definitions import FEATURE_NAMES, prepare_features
from features.splits import SplitBoundaries, assign_splits

LABEL_COLUMNS: tuple[str, ...] = ("converted", "conversion_value")
DATASET_COLUMNS: tuple[str, ...] = (*FEATURE_NAMES, *LABEL_COLUMNS, "session_date", "split", "row_key")
SALT_BYTES = 32
# Session columns that identify a person, a device or a page and never reach a training set.
IDENTIFIER_COLUMNS_REMOVED: tuple[str, ...] = (
    "session_id",
    "visitor_id",
    "started_at",
    "ended_at",
    "landing_path",
    "referrer_host",
    "utm_content",
    "utm_term",
    "browser_version",
    "os_version",
)


def row_keys(session_ids: pd.Series, salt: bytes) -> pd.Series:
    """HMAC-SHA256 (hex) of each session id under ``salt``."""
    if len(salt) < 16:
        raise ValueError("a row-key salt needs at least 16 random bytes")
    base = hmac.new(salt, digestmod=hashlib.sha256)

    def key(session_id: str) -> str:
        mac = base.copy()
        mac.update(session_id.encode())
        return mac.hexdigest()

    return pd.Series([key(s) for s in session_ids.astype("str")], index=session_ids.index, dtype="str", name="row_key")


def session_dates(started_at: pd.Series, timezone: str) -> pd.Series:
    """The client-local calendar day of each start, as midnight timestamps (``datetime64[ms]``, no zone)."""
    local = started_at.dt.tz_convert(ZoneInfo(timezone)).dt.tz_localize(None)
    days: pd.Series = local.dt.normalize().astype("datetime64[ms]").rename("session_date")
    return days


def training_rows(sessions: pd.DataFrame, timezone: str, salt: bytes, boundaries: SplitBoundaries) -> pd.DataFrame:
    """The anonymized rows of ``sessions`` (columns ``DATASET_COLUMNS``), in the order of ``sessions``.

    Labels are the session's conversions within the attribution window (``window_conversions`` /
    ``window_conversion_value``; without a window those are the session's own). Row-wise, so it runs on
    each partition of a Dask frame as well as on a whole frame.
    """
    frame = prepare_features(sessions, timezone)
    frame["converted"] = sessions["window_conversions"].gt(0).astype("int64")
    frame["conversion_value"] = sessions["window_conversion_value"].astype("float64")
    frame["session_date"] = session_dates(sessions["started_at"], timezone)
    frame["split"] = assign_splits(sessions["started_at"], boundaries)
    frame["row_key"] = row_keys(sessions["session_id"], salt)
    return frame.loc[:, list(DATASET_COLUMNS)]


def order_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows ordered by split, day and row key, so that a row's position says nothing finer than its day."""
    ordered: pd.DataFrame = frame.sort_values(["split", "session_date", "row_key"], kind="stable")
    return ordered.reset_index(drop=True)


def training_frame(sessions: pd.DataFrame, *, timezone: str, salt: bytes, boundaries: SplitBoundaries) -> pd.DataFrame:
    """:func:`training_rows` of ``sessions``, ordered by :func:`order_rows`."""
    return order_rows(training_rows(sessions, timezone, salt, boundaries))
