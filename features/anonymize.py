"""Sessions → anonymized training rows: features, labels, day, split and a per-dataset salted row key.

What a row keeps: the model features of ``features.definitions`` (no URL, no id of a person, times no finer
than the hour and weekday), the labels, the client-local day, the split, and ``row_key``. The row key is
HMAC-SHA256 of the internal session id under a random salt that the caller throws away, so rows of two
training sets cannot be joined to each other, nor back to a visitor.
"""

from __future__ import annotations

import contextlib
import hashlib
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from features.definitions import FEATURE_NAMES, INPUT_COLUMNS, prepare_features
from features.splits import SPLIT_DTYPE, SplitBoundaries, assign_splits

LABEL_COLUMNS: tuple[str, ...] = ("converted", "conversion_value")
# The session columns a training set is made of (the rest of a session record is never read).
TRAINING_SESSION_COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys(
        ("session_id", "started_at", "ended_at", *INPUT_COLUMNS, "window_conversions", "window_conversion_value")
    )
)
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
    """HMAC-SHA256 (hex) of each session id under ``salt``.

    Computed by DuckDB's ``sha256`` as HMAC's two nested hashes (RFC 2104), about three times faster than a
    Python loop over ``hmac``; a test checks it against the standard library.
    """
    if len(salt) < 16:
        raise ValueError("a row-key salt needs at least 16 random bytes")
    block = (hashlib.sha256(salt).digest() if len(salt) > 64 else salt).ljust(64, b"\0")
    inner = bytes(b ^ 0x36 for b in block).hex()
    outer = bytes(b ^ 0x5C for b in block).hex()
    ids = pa.table({"id": pa.array(session_ids.astype("str").to_numpy(dtype=object), type=pa.string())})
    with duckdb.connect(":memory:") as con:
        with contextlib.suppress(duckdb.Error):  # in Jupyter without ipywidgets DuckDB refuses to change it
            con.execute("SET enable_progress_bar = false")
        con.register("ids", ids)
        keys = con.execute(
            "SELECT sha256(unhex($outer) || unhex(sha256(unhex($inner) || encode(id)))) AS row_key FROM ids",
            {"inner": inner, "outer": outer},
        ).fetchnumpy()["row_key"]
    return pd.Series(np.asarray(keys, dtype=object), index=session_ids.index, dtype="str", name="row_key")


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
    """Rows ordered by split, day and row key, so that a row's position says nothing finer than its day.

    One ``np.lexsort`` over the codes, days and the keys as fixed-width bytes: about 2.5x faster than
    ``sort_values`` on Arrow strings for millions of rows.
    """
    split = pd.Categorical(frame["split"], dtype=SPLIT_DTYPE).codes
    days = frame["session_date"].to_numpy(dtype="datetime64[ms]").astype("int64")
    keys = np.asarray(frame["row_key"].to_numpy(dtype=object), dtype="S64")
    ordered: pd.DataFrame = frame.iloc[np.lexsort((keys, days, split))]
    return ordered.reset_index(drop=True)


def training_frame(sessions: pd.DataFrame, *, timezone: str, salt: bytes, boundaries: SplitBoundaries) -> pd.DataFrame:
    """:func:`training_rows` of ``sessions``, ordered by :func:`order_rows`."""
    return order_rows(training_rows(sessions, timezone, salt, boundaries))
