"""Raw hits as plain column lists: the one shape the edge works on, for one hit or a million.

A batch arrives as a DataFrame (simulator, imports) or as a list of dicts (pixel, redirect, server events);
``to_columns`` turns either into ``{column: list}`` with normalized values: strings or None, bools, floats
or None, and times as integer microseconds since the epoch (UTC) or None.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from tracking.events import RAW_BOOL_COLUMNS, RAW_FLOAT_COLUMNS, RAW_STRING_COLUMNS, RAW_TIME_COLUMNS

Columns = dict[str, list[Any]]
RAW_COLUMNS: tuple[str, ...] = (*RAW_STRING_COLUMNS, *RAW_BOOL_COLUMNS, *RAW_FLOAT_COLUMNS, *RAW_TIME_COLUMNS)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RAW_MARK = "xmo_raw_hits"


_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def decimal_number(text: str) -> float | None:
    """A number written plainly (ASCII digits, optional sign, point and exponent), or None.

    Python's ``float`` also reads ``1_000``, `` 12 ``, ``nan``, ``infinity`` and non-ASCII digits; a hit's
    numbers are none of these.
    """
    return float(text) if _DECIMAL.fullmatch(text) else None


def epoch_us(value: Any) -> int | None:
    """A time as integer microseconds since the epoch (naive times are UTC); None if it is not a time.

    Never raises: a value that no ``datetime`` can hold (year 0 or 10000 in UTC, NaT, NaN) is None too.
    """
    try:
        return _epoch_us(value)
    except (ValueError, OverflowError, OSError):  # pandas' OutOfBoundsDatetime is a ValueError
        return None


def _epoch_us(value: Any) -> int | None:
    if value is None or value is pd.NaT:  # NaT is a datetime too
        return None
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            return None
        value = pd.Timestamp(value)
    if isinstance(value, pd.Timestamp):  # its .value is nanoseconds, which overflow outside 1677-2262
        value = value.to_pydatetime(warn=False)
    if isinstance(value, datetime):
        zone = value.tzinfo
        moment = value if zone is UTC else value.replace(tzinfo=UTC) if zone is None else value.astimezone(UTC)
        delta = moment - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if isinstance(value, str):
        return _epoch_us(datetime.fromisoformat(value))
    return None


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value if isinstance(value, str) else str(value)


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        number = decimal_number(value)
        return math.nan if number is None else number  # present but not a number: validation drops it
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None if value is pd.NA else math.nan
    return None if math.isnan(number) else number


def _flag(value: Any) -> bool:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    return bool(value)


def _series_text(series: pd.Series) -> list[str | None]:
    """A column as str-or-None values (numbers become their text; NaN and NA become None)."""
    missing = series.isna().to_numpy()
    values = series.astype(object).tolist()
    if not (pd.api.types.is_object_dtype(series.dtype) or pd.api.types.is_string_dtype(series.dtype)):
        values = [str(v) for v in values]
    if missing.any():
        for i in np.flatnonzero(missing).tolist():
            values[i] = None
    return values


def _series_time(series: pd.Series) -> list[int | None]:
    if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(series.dtype):
        utc = (
            series.dt.tz_convert("UTC").dt.tz_localize(None) if isinstance(series.dtype, pd.DatetimeTZDtype) else series
        )
        micros = utc.to_numpy(dtype="datetime64[us]").astype(np.int64)
        missing = utc.isna().to_numpy()
        return [None if m else int(v) for v, m in zip(micros.tolist(), missing.tolist(), strict=True)]
    return [epoch_us(v) for v in series.tolist()]


def _frame_columns(frame: pd.DataFrame) -> Columns:
    n = len(frame)
    columns: Columns = {}
    for name in RAW_STRING_COLUMNS:
        columns[name] = _series_text(frame[name]) if name in frame else [None] * n
    for name in RAW_BOOL_COLUMNS:
        columns[name] = frame[name].fillna(False).astype(bool).tolist() if name in frame else [False] * n
    for name in RAW_FLOAT_COLUMNS:
        if name in frame and pd.api.types.is_numeric_dtype(frame[name].dtype):
            numbers = frame[name].astype("float64")
            columns[name] = [None if math.isnan(v) else v for v in numbers.tolist()]
        elif name in frame:  # text or mixed: each value as a hit's number would be read
            columns[name] = [_number(v) for v in frame[name].tolist()]
        else:
            columns[name] = [None] * n
    for name in RAW_TIME_COLUMNS:
        columns[name] = _series_time(frame[name]) if name in frame else [None] * n
    return columns


def _record_columns(rows: Sequence[Mapping[str, Any]]) -> Columns:
    columns: Columns = {}
    for name in RAW_STRING_COLUMNS:
        columns[name] = [_text(row.get(name)) for row in rows]
    for name in RAW_BOOL_COLUMNS:
        columns[name] = [_flag(row.get(name)) for row in rows]
    for name in RAW_FLOAT_COLUMNS:
        columns[name] = [_number(row.get(name)) for row in rows]
    for name in RAW_TIME_COLUMNS:
        columns[name] = [epoch_us(row.get(name)) for row in rows]
    return columns


def to_columns(raw: pd.DataFrame | Iterable[Mapping[str, Any]]) -> Columns:
    """Every raw column (missing ones filled) as normalized lists of equal length."""
    if isinstance(raw, pd.DataFrame):
        return _frame_columns(raw)
    return _record_columns(list(raw))


def column_count(columns: Columns) -> int:
    """The number of hits in a column batch."""
    return len(next(iter(columns.values()))) if columns else 0


def raw_frame(records: Iterable[Mapping[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """Raw hits as a DataFrame with every column the edge reads (for callers that build frames)."""
    if isinstance(records, pd.DataFrame) and records.attrs.get(_RAW_MARK):
        return records
    columns = to_columns(records)
    n = column_count(columns)
    data: dict[str, Any] = {name: pd.Series(columns[name], dtype=object) for name in RAW_STRING_COLUMNS}
    for name in RAW_BOOL_COLUMNS:
        data[name] = pd.Series(columns[name], dtype=bool)
    for name in RAW_FLOAT_COLUMNS:
        data[name] = pd.Series([math.nan if v is None else v for v in columns[name]], dtype="float64")
    for name in RAW_TIME_COLUMNS:
        data[name] = (
            pd.to_datetime(pd.Series(columns[name], dtype="Int64"), unit="us", utc=True).astype("datetime64[us, UTC]")
            if n
            else pd.Series([], dtype="datetime64[us, UTC]")
        )
    frame = pd.DataFrame(data)
    frame.attrs[_RAW_MARK] = True
    return frame
