"""Small tables that marketers upload (spend, KPIs): CSV or Parquet files, CSV text, JSON rows.

Every reader returns a DataFrame with the file's columns and one row per data row, or raises ``InvalidInput``
with one line that says what is wrong. CSV cells are read as text (empty cells as missing), so the
validators of the tables report a bad value with its row and column instead of pandas guessing a type.
Rows are numbered from 1, the header not counted (row 1 is the first line under the header).

**Sane values.** Dates must lie in :func:`date_window`: from 2000-01-01 to a year after today (UTC). Daily
marketing data from before 2000 does not exist in practice, and a day more than a year ahead is a typo (9999-12-31,
2062 for 2026) rather than a booked flight; the window keeps every daily series built from stored dates at most
about 10,000 days long (one row dated 0001-01-01 once made every budget request build a daily index of hundreds
of thousands of days and run out of memory). Whole numbers (impressions, clicks) must be at most
:data:`MAX_WHOLE_NUMBER`, the largest that a float (which every number passes through) holds exactly, so none is
stored rounded or wrapped around.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, timedelta
from datetime import date as date_type
from datetime import datetime as datetime_type
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from core.errors import InvalidInput

DATE_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}")
COMPACT_DATE_TEXT = re.compile(r"\d{8}")  # YYYYMMDD, as GA4 and BigQuery exports write dates
EARLIEST_DATE = date_type(2000, 1, 1)
DAYS_AHEAD = 366  # "a year after today", leap years included
MAX_WHOLE_NUMBER = 2**53 - 1  # 9,007,199,254,740,991: the largest integer a float64 holds exactly
_SHOWN_CHARACTERS = 40


class TableFormat(StrEnum):
    """File formats of uploaded tables."""

    CSV = "csv"
    PARQUET = "parquet"


def table_format(path: Path, fmt: str | None = None) -> TableFormat:
    """The format named by ``fmt``, else the one of the file's suffix (``InvalidInput`` if neither says)."""
    name = fmt if fmt is not None else path.suffix.lstrip(".")
    try:
        return TableFormat(name.lower())
    except ValueError as exc:
        what = f"unknown format {fmt!r}" if fmt is not None else f"cannot tell the format of {path.name!r}"
        raise InvalidInput(f"{what}: use csv or parquet (--format)") from exc


def _clean_header(columns: list[Any]) -> list[str]:
    names = [str(c).strip().lower().lstrip("\ufeff") for c in columns]
    if any(not n for n in names):
        raise InvalidInput("the header has an empty column name")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InvalidInput(f"the header names column {name!r} twice")
        seen.add(name)
    return names


def csv_frame(text: str) -> pd.DataFrame:
    """The rows of CSV ``text`` (header first; cells as text, empty cells and blank lines as missing)."""
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise InvalidInput(f"not valid CSV: {exc}") from exc
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()  # trailing blank lines
    if not rows:
        raise InvalidInput("the file is empty: expected a header line and at least one row")
    header = _clean_header(rows[0])
    body = rows[1:]
    for number, row in enumerate(body, start=1):
        if len(row) != len(header) and any(cell.strip() for cell in row):
            raise InvalidInput(f"row {number}: {len(row)} cells where the header has {len(header)}")
    if not body:
        raise InvalidInput("the file has a header but no rows")
    # a blank line inside the file stays a row (of missing values), so row numbers match the file's lines
    blank: list[str | None] = [None] * len(header)
    cells = [[(c.strip() or None) for c in row] if any(c.strip() for c in row) else blank for row in body]
    return pd.DataFrame(cells, columns=header, dtype=object)


def json_rows_frame(rows: Any) -> pd.DataFrame:
    """The rows of a JSON list of objects (``{"column": value, …}``); keys are column names."""
    if not isinstance(rows, list):
        raise InvalidInput("rows must be a list of objects")
    if not rows:
        raise InvalidInput("no rows to import")
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise InvalidInput(f"row {number} is not an object")
        for key, value in row.items():
            if isinstance(value, dict | list):
                raise InvalidInput(f"row {number}, column {key}: expected a text or a number")
    frame = pd.DataFrame.from_records(rows).astype(object)
    frame.columns = pd.Index(_clean_header(list(frame.columns)), dtype=object)
    return frame.where(frame.notna(), None)


def read_table_file(path: Path, fmt: str | None = None) -> pd.DataFrame:
    """The rows of a CSV or Parquet file (``fmt`` or the suffix says which)."""
    kind = table_format(path, fmt)
    if not path.is_file():
        raise InvalidInput(f"no such file: {path}")
    if kind is TableFormat.CSV:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"{path.name} is not UTF-8 text (is it a CSV file?)") from exc
        return csv_frame(text)
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise InvalidInput(f"{path.name} is not a readable Parquet file") from exc
    if table.num_rows == 0:
        raise InvalidInput(f"{path.name} has no rows")
    frame = table.to_pandas()
    frame.columns = pd.Index(_clean_header(list(frame.columns)), dtype=object)
    return frame.reset_index(drop=True)


# values ----------------------------------------------------------------------------------------------
def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _where(row: int, column: str) -> str:
    return f"row {row + 1}, column {column}"


def _date_of(value: Any) -> date_type:
    """A calendar date from a date, a midnight timestamp or ``YYYY-MM-DD`` (or ``YYYYMMDD``) text; ``ValueError``
    otherwise."""
    if isinstance(value, datetime_type | pd.Timestamp):
        stamp = pd.Timestamp(value)
        if stamp != stamp.normalize():
            raise ValueError(f"{value!s} has a time of day; give dates")
        return stamp.date()
    if isinstance(value, date_type):
        return value
    if isinstance(value, str) and (DATE_TEXT.fullmatch(value.strip()) or COMPACT_DATE_TEXT.fullmatch(value.strip())):
        try:
            return date_type.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not a date (no such day)") from None
    if isinstance(value, np.datetime64):
        return _date_of(pd.Timestamp(value))
    raise ValueError(f"{value!r} is not a date (use YYYY-MM-DD)")


def date_window(today: date_type | None = None) -> tuple[date_type, date_type]:
    """The first and last date a spend or KPI row may carry: 2000-01-01 and 366 days after ``today`` (UTC)."""
    today = today or datetime_type.now(UTC).date()
    return EARLIEST_DATE, today + timedelta(days=DAYS_AHEAD)


def parse_dates(
    values: pd.Series, column: str = "date", *, window: tuple[date_type, date_type] | None = None
) -> list[date_type | None]:
    """Each value as a ``datetime.date`` (None where missing); ``InvalidInput`` naming the first bad row.

    ``window``: the first and last date allowed (both inclusive), e.g. :func:`date_window`.
    """
    parsed: list[date_type | None] = []
    cache: dict[Any, date_type] = {}
    for row, value in enumerate(values.tolist()):
        if _missing(value):
            parsed.append(None)
            continue
        try:
            if isinstance(value, str):
                day = cache.get(value) or cache.setdefault(value, _date_of(value))
            else:
                day = _date_of(value)
        except (ValueError, OverflowError) as exc:
            raise InvalidInput(f"{_where(row, column)}: {exc}") from None
        if window is not None and not window[0] <= day <= window[1]:
            raise InvalidInput(
                f"{_where(row, column)}: {day} is outside {window[0]} to {window[1]} "
                f"(dates run from {EARLIEST_DATE} to a year after today, UTC)"
            )
        parsed.append(day)
    return parsed


def _shown(value: Any) -> str:
    """``repr(value)``, cut short (with its length) when a cell is long."""
    try:
        text = repr(value)
    except ValueError:  # an int past Python's 4,300-digit limit on converting to text
        return "a whole number of more than 4,300 digits"
    if len(text) <= _SHOWN_CHARACTERS:
        return text
    length = len(value) if isinstance(value, str) else len(text)
    return f"{text[:_SHOWN_CHARACTERS]}… ({length:,} characters)"


def check_date_range(since: date_type | None, until: date_type | None) -> None:
    """``InvalidInput`` when a range's first day comes after its last (either may be open)."""
    if since is not None and until is not None and since > until:
        raise InvalidInput(f"since ({since.isoformat()}) is after until ({until.isoformat()})")


def date_range_text(since: date_type | None, until: date_type | None) -> str:
    """A range for messages: ``from 2026-01-01 to 2026-01-31``, ``since 2026-01-01``, ``until 1999-12-31``."""
    if since is not None and until is not None:
        return f"from {since.isoformat()} to {until.isoformat()}"
    if since is not None:
        return f"since {since.isoformat()}"
    return f"until {until.isoformat()}" if until is not None else "every date"


def _number_of(value: Any) -> float:
    if isinstance(value, bool | np.bool_):
        raise ValueError(f"{_shown(value)} is not a number")
    if isinstance(value, int | float | np.integer | np.floating):
        try:
            number = float(value)
        except OverflowError:  # a Python int beyond a float's range
            raise ValueError(f"{_shown(value)} is too large") from None
    elif isinstance(value, str):
        try:
            if "_" in value:  # Python reads "1_000" as 1000; a spreadsheet would not
                raise ValueError(value)
            number = float(value.strip())
        except ValueError:
            hint = " (write numbers without thousands separators, with . for decimals)" if "," in value else ""
            raise ValueError(f"{_shown(value)} is not a number{hint}") from None
    else:
        raise ValueError(f"{_shown(value)} is not a number")
    if not np.isfinite(number):
        raise ValueError(f"{_shown(value)} is not a finite number")
    return number


def parse_numbers(
    values: pd.Series,
    column: str,
    *,
    required: bool = False,
    non_negative: bool = False,
    integer: bool = False,
) -> np.ndarray:
    """Each value as a float (NaN where missing); ``InvalidInput`` naming the first bad row and column.

    ``required``: a missing value is an error; ``non_negative``: so is a value below 0; ``integer``: so is
    a value with a fractional part or beyond ``MAX_WHOLE_NUMBER`` (a 64-bit column would store it wrapped).
    """
    out = np.full(len(values), np.nan)
    for row, value in enumerate(values.tolist()):
        if _missing(value):
            if required:
                raise InvalidInput(f"{_where(row, column)}: missing value")
            continue
        try:
            number = _number_of(value)
        except ValueError as exc:
            raise InvalidInput(f"{_where(row, column)}: {exc}") from None
        if non_negative and number < 0:
            raise InvalidInput(f"{_where(row, column)}: {_shown(value)} is negative")
        if integer and not number.is_integer():
            raise InvalidInput(f"{_where(row, column)}: {_shown(value)} is not a whole number")
        if integer and abs(number) > MAX_WHOLE_NUMBER:
            raise InvalidInput(f"{_where(row, column)}: {_shown(value)} is too large (at most {MAX_WHOLE_NUMBER:,})")
        out[row] = number
    return out


def parse_texts(values: pd.Series, column: str, *, max_length: int = 200) -> list[str | None]:
    """Each value as stripped text (None where missing or blank); numbers become their text."""
    parsed: list[str | None] = []
    for row, value in enumerate(values.tolist()):
        if _missing(value):
            parsed.append(None)
            continue
        if isinstance(value, bool | np.bool_) or not isinstance(value, str | int | np.integer):
            raise InvalidInput(f"{_where(row, column)}: {value!r} is not a text")
        text = str(value).strip()
        if len(text) > max_length:
            raise InvalidInput(f"{_where(row, column)}: longer than {max_length} characters")
        parsed.append(text or None)
    return parsed
