"""KPIs of a client: ``lake/kpi/client_id=<id>/kpi.parquet``, one row per date, one column per series.

**Cadence.** The table is daily or weekly (:mod:`tracking.cadence`: detected from the file's dates or given with
``--cadence day|week``); the grain is stored in the file's metadata as the period length in days
(:data:`PERIOD_KEY`; 7 means each row is the week starting on its date). A table written before this key
existed reads as daily. A table has one grain: a file of another grain, or weekly rows on another weekday than
the stored weeks, is refused.

A KPI file has a ``date`` column and one or more numeric columns: outcomes (revenue, conversions, orders)
and controls (price index, temperature, promotions). The table is stored wide and without roles: which
column is the outcome and which are controls is chosen when a model is fitted (the media-mix model reads
the table with :func:`read_kpi`). Column names are stored lower-case, with spaces and dashes as ``_``.

Importing is all-or-nothing and idempotent per date: for every date of the file, the file's columns replace
the stored values of those columns (an empty cell stores a missing value); stored columns the file does not
have, and dates it does not have, keep their values. So a second file can add a control column. Dates must lie in
:func:`tracking.table_files.date_window` (2000-01-01 to a year after today).

:func:`delete_kpi` removes the stored rows of a date range (``xmo kpi delete``, ``DELETE /v1/kpi``); a dry run
counts them, and every deletion is audited (``kpi.delete``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine

from core import audit
from core.errors import InvalidInput, NotFound
from core.layout import StorageLayout
from core.locks import file_lock
from tracking.cadence import Cadence, Grain, cadence_of_days, detect_grain, listed, span_cadence
from tracking.columns import KPI_ALIASES, ColumnMap, day_span_column, map_columns
from tracking.lake import write_parquet_atomically
from tracking.table_files import (
    check_date_range,
    date_range_text,
    date_window,
    parse_dates,
    parse_numbers,
    read_table_file,
)
from tracking.wide_tables import without_columns

COLUMN_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
MAX_COLUMNS = 50
DELETE_ACTION = "kpi.delete"
_KINDS = {Cadence.DAY: "daily", Cadence.WEEK: "weekly"}
PERIOD_KEY = b"xmo.period_days"  # Parquet metadata: 1 (daily rows) or 7 (weekly rows)


def kpi_path(layout: StorageLayout, client_id: str) -> Path:
    """The client's KPI file (it may not exist yet)."""
    return layout.client_kpi_dir(client_id) / "kpi.parquet"


def _column_name(raw: object) -> str:
    name = re.sub(r"[\s\-]+", "_", str(raw).strip().lower())
    if not COLUMN_NAME.fullmatch(name):
        raise InvalidInput(
            f"column {raw!r}: a KPI column name starts with a letter and has letters, digits and _ (≤ 63)"
        )
    return name


def map_kpi_columns(
    rows: pd.DataFrame, overrides: dict[str, str] | None = None
) -> tuple[pd.DataFrame, ColumnMap, Cadence | None]:
    """``rows`` with a report's date column (``Day``, ``Reporting starts``, …) and ``overrides`` (``--map``) renamed,
    and the cadence a report's start and end columns imply (None without them).

    ``InvalidInput`` when a row of a report covers neither one day nor one week, or rows cover both.
    """
    columns = [str(c) for c in rows.columns]
    mapping = map_columns(columns, KPI_ALIASES, overrides=overrides)
    span = day_span_column(columns, mapping)
    spanned = span_cadence(rows, span, "KPI")
    if span is not None:
        rows = rows.drop(columns=span[1])  # the end of the row's period, not a KPI
    return rows.rename(columns=mapping.renames), mapping, spanned


@dataclass(frozen=True)
class KpiRows:
    """Validated KPI rows (sorted by date) and their grain."""

    frame: pd.DataFrame
    grain: Grain


def validate_kpi(rows: pd.DataFrame, overrides: dict[str, str] | None = None) -> pd.DataFrame:
    """Check and normalize KPI rows: ``date`` (unique) plus numeric columns, sorted by date (see :func:`check_kpi`)."""
    return check_kpi(rows, overrides).frame


def check_kpi(rows: pd.DataFrame, overrides: dict[str, str] | None = None, cadence: Cadence | None = None) -> KpiRows:
    """Check and normalize KPI rows: ``date`` (unique) plus numeric columns, sorted by date, and their grain.

    Columns are first renamed by :func:`map_kpi_columns`. ``InvalidInput`` names the first bad row and column: a
    missing or unparsable date, a date outside :func:`~tracking.table_files.date_window`, a date given twice, a
    value that is not a number, no numeric column.
    """
    if len(rows) == 0:
        raise InvalidInput("no KPI rows: the file or body is empty")
    rows, _, spanned = map_kpi_columns(rows, overrides)
    if cadence is not None and spanned is not None and cadence is not spanned:
        raise InvalidInput(f"the cadence is {cadence.value}, but the report's rows each cover one {spanned.value}")
    names = [_column_name(c) for c in rows.columns]
    if len(set(names)) != len(names):
        raise InvalidInput(f"two columns have the same name once normalized: {', '.join(names)}")
    frame = rows.set_axis(names, axis=1)
    if "date" not in frame.columns:
        raise InvalidInput(f"KPI rows need a date column; got {', '.join(names)}")
    values = [c for c in names if c != "date"]
    if not values:
        raise InvalidInput("KPI rows need at least one numeric column besides date (e.g. revenue, conversions)")
    if len(values) > MAX_COLUMNS:
        raise InvalidInput(f"at most {MAX_COLUMNS} KPI columns, got {len(values)}")
    dates = parse_dates(frame["date"], "date", window=date_window())
    first_row: dict[date, int] = {}
    for row, day in enumerate(dates):
        if day is None:
            raise InvalidInput(f"row {row + 1}, column date: missing value")
        if day in first_row:
            raise InvalidInput(f"rows {first_row[day] + 1} and {row + 1} repeat the date {day}: one row per date")
        first_row[day] = row
    out = pd.DataFrame({"date": pd.Series(dates, dtype=object)})
    for name in values:
        out[name] = parse_numbers(frame[name], name)
    grain = detect_grain([d for d in dates if d is not None], cadence or spanned)
    return KpiRows(out.sort_values("date").reset_index(drop=True), grain)


def kpi_period_days(layout: StorageLayout, client_id: str) -> int:
    """The stored table's period length in days: 7 for weekly rows, 1 for daily ones (and for no table)."""
    path = kpi_path(layout, client_id)
    if not path.exists():
        return 1
    metadata = pq.read_schema(path).metadata or {}
    return int(metadata.get(PERIOD_KEY, b"1"))


def kpi_cadence(layout: StorageLayout, client_id: str) -> Cadence:
    """The stored table's cadence (daily when none is stored)."""
    return cadence_of_days(kpi_period_days(layout, client_id))


def read_kpi(layout: StorageLayout, client_id: str) -> pd.DataFrame:
    """The client's KPI table: ``date`` (``datetime.date``) and float columns, sorted by date.

    Empty (with only the ``date`` column) when none was stored.
    """
    path = kpi_path(layout, client_id)
    if not path.exists():
        return pd.DataFrame({"date": pd.Series(dtype=object)})
    return pq.read_table(path).to_pandas().sort_values("date").reset_index(drop=True)


@dataclass(frozen=True)
class KpiImport:
    """What a KPI import stored."""

    client_id: str
    rows: int
    inserted: int  # dates new to the table
    updated: int  # dates the table held already
    columns: tuple[str, ...]
    new_columns: tuple[str, ...]
    first_date: date
    last_date: date
    grain: Grain
    warnings: tuple[str, ...] = ()
    mapped_columns: dict[str, str] = field(default_factory=dict)  # file column → KPI column

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "client_id": self.client_id,
            "rows": self.rows,
            "inserted": self.inserted,
            "updated": self.updated,
            "columns": list(self.columns),
            "new_columns": list(self.new_columns),
            "first_date": self.first_date.isoformat(),
            "last_date": self.last_date.isoformat(),
            "cadence": self.grain.cadence.value,
            "grain": self.grain.to_dict(),
            "warnings": list(self.warnings),
            "mapped_columns": dict(self.mapped_columns),
        }


def _merge(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """``old`` with the cells of ``new`` written over it (by date and column)."""
    if old.empty:
        return new
    left, right = old.set_index("date"), new.set_index("date")
    columns = [*left.columns, *(c for c in right.columns if c not in left.columns)]
    merged = left.reindex(index=left.index.union(right.index), columns=columns).astype(np.float64)
    merged.loc[right.index, right.columns] = right.to_numpy(dtype=np.float64)
    return merged.rename_axis("date").reset_index()


def _write(layout: StorageLayout, client_id: str, kpi: pd.DataFrame, period_days: int = 1) -> None:
    """Replace the stored table with ``kpi`` (rows of ``period_days`` days); the caller holds the table's lock."""
    fields = [pa.field("date", pa.date32(), nullable=False)]
    fields += [pa.field(c, pa.float64()) for c in kpi.columns if c != "date"]
    schema = pa.schema(fields, metadata={PERIOD_KEY: str(period_days).encode()})
    table = pa.Table.from_pandas(kpi, schema=schema, preserve_index=False)
    write_parquet_atomically(table.replace_schema_metadata(schema.metadata), kpi_path(layout, client_id))


def _check_grain(old: pd.DataFrame, stored: Cadence, new: KpiRows) -> None:
    """``InvalidInput`` when ``new`` rows are of another grain than the stored table, or weeks on another weekday."""
    if old.empty:
        return
    grain = new.grain
    if grain.cadence is not stored:
        raise InvalidInput(
            f"the stored KPIs are {_KINDS[stored]} rows and this file has {grain.describe()}: one table has one "
            f"grain; import {_KINDS[stored]} rows, or delete the stored rows first "
            "(xmo kpi delete CLIENT --all)"
        )
    if stored is Cadence.WEEK:
        weekday = old["date"].iloc[0].weekday()
        off = [d for d in new.frame["date"] if d.weekday() != weekday]
        if off:
            raise InvalidInput(
                f"overlapping rows: the stored weeks start on {old['date'].iloc[0]:%A}s, the new weeks dated "
                f"{listed(off)} do not; import weeks that start on the same weekday"
            )


def _gap_warning(days: pd.Series, cadence: Cadence) -> list[str]:
    text = detect_grain(list(days), cadence).gap_warning("KPI")
    return [f"{text}; models need a complete series"] if text else []


def import_kpi(
    layout: StorageLayout,
    client_id: str,
    rows: pd.DataFrame,
    overrides: dict[str, str] | None = None,
    cadence: Cadence | None = None,
) -> KpiImport:
    """Validate ``rows`` as a whole and merge them into the stored table (nothing stored when any row is bad);
    ``overrides`` renames file columns (``--map``); ``cadence`` sets the grain (detected when None)."""
    if len(rows) == 0:
        raise InvalidInput("no KPI rows: the file or body is empty")
    rows, mapping, spanned = map_kpi_columns(rows, overrides)
    if cadence is not None and spanned is not None and cadence is not spanned:
        raise InvalidInput(f"the cadence is {cadence.value}, but the report's rows each cover one {spanned.value}")
    checked = check_kpi(rows, cadence=cadence or spanned)
    with file_lock(layout.client_kpi_dir(client_id) / ".kpi.lock"):
        old = read_kpi(layout, client_id)
        stored = kpi_cadence(layout, client_id)
        if checked.grain.detected and checked.grain.periods == 1 and not old.empty:
            checked = check_kpi(rows, cadence=stored)  # one date says nothing: the table's grain
        _check_grain(old, stored, checked)
        new = checked.frame
        merged = _merge(old, new)
        _write(layout, client_id, merged, checked.grain.period_days)
    known = set(old["date"])
    updated = sum(1 for day in new["date"] if day in known)
    warnings = _gap_warning(merged["date"], checked.grain.cadence)
    empty = int(new.drop(columns="date").isna().to_numpy().sum())
    if empty:
        warnings.insert(0, f"{empty} empty cell(s) stored as missing values")
    columns = tuple(c for c in new.columns if c != "date")
    return KpiImport(
        client_id=client_id,
        rows=len(new),
        inserted=len(new) - updated,
        updated=updated,
        columns=columns,
        new_columns=tuple(c for c in columns if c not in old.columns),
        first_date=min(new["date"]),
        last_date=max(new["date"]),
        grain=checked.grain,
        warnings=tuple(warnings),
        mapped_columns=mapping.to_dict(),
    )


def import_kpi_file(
    layout: StorageLayout,
    client_id: str,
    path: Path,
    fmt: str | None = None,
    overrides: dict[str, str] | None = None,
    cadence: Cadence | None = None,
    ignore: Sequence[str] = (),
) -> KpiImport:
    """Import a CSV or Parquet KPI file (``fmt`` or the file's suffix says which), without its ``ignore`` columns
    (e.g. the spend columns of a wide media-mix file: :mod:`tracking.wide_tables`)."""
    layout.client_kpi_dir(client_id)  # an invalid client id fails before the file is read
    rows = read_table_file(path, fmt)
    if ignore:
        rows = without_columns(rows, ignore)
    return import_kpi(layout, client_id, rows, overrides, cadence)


def kpi_summary_records(kpi: pd.DataFrame) -> list[dict[str, Any]]:
    """Per KPI column, JSON-ready: days with a value, first and last such date, total, mean, min and max."""
    records = []
    for name in (c for c in kpi.columns if c != "date"):
        present = kpi.loc[kpi[name].notna(), ["date", name]]
        some = len(present) > 0
        records.append(
            {
                "column": name,
                "days": len(present),
                "first_date": min(present["date"]).isoformat() if some else None,
                "last_date": max(present["date"]).isoformat() if some else None,
                "total": float(present[name].sum()),
                "mean": float(present[name].mean()) if some else None,
                "min": float(present[name].min()) if some else None,
                "max": float(present[name].max()) if some else None,
            }
        )
    return records


@dataclass(frozen=True)
class KpiDeletion:
    """What a deletion removed from the stored KPIs (or, in a dry run, would remove)."""

    client_id: str
    dry_run: bool
    rows: int  # dates
    first_date: date
    last_date: date
    remaining: int  # dates stored afterwards
    removed_columns: tuple[str, ...]  # columns left without any value, dropped with the rows

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "client_id": self.client_id,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "first_date": self.first_date.isoformat(),
            "last_date": self.last_date.isoformat(),
            "remaining": self.remaining,
            "removed_columns": list(self.removed_columns),
        }


def delete_kpi(
    layout: StorageLayout,
    engine: Engine,
    client_id: str,
    *,
    since: date | None = None,
    until: date | None = None,
    everything: bool = False,
    actor: str,
    dry_run: bool = False,
) -> KpiDeletion:
    """Delete the stored KPI rows (every column) dated ``since``..``until`` (inclusive, either open), and audit
    it as ``kpi.delete``; a column left without any value goes too.

    Any date may be named, also one outside the import window, so rows stored before it existed can go.
    ``everything`` deletes every row and excludes the dates; without it ``since`` or ``until`` is needed. A dry
    run deletes and audits nothing. ``InvalidInput`` for no range or ``since`` after ``until``, ``NotFound``
    when no stored date is in the range.
    """
    if everything == (since is not None or until is not None):
        raise InvalidInput("say which KPI dates to delete: since and/or until, or all (alone)")
    check_date_range(since, until)
    selection = date_range_text(since, until) if since or until else "all"
    layout.client_kpi_dir(client_id)  # an invalid client id fails first
    if not kpi_path(layout, client_id).exists():
        raise NotFound(f"client {client_id!r} has no stored KPIs")
    with file_lock(layout.client_kpi_dir(client_id) / ".kpi.lock"):
        stored = read_kpi(layout, client_id)
        chosen = pd.Series(True, index=stored.index)
        if since is not None:
            chosen &= stored["date"] >= since
        if until is not None:
            chosen &= stored["date"] <= until
        gone = stored[chosen]
        if gone.empty:
            raise NotFound(f"client {client_id!r} has no stored KPI row {selection}; nothing deleted")
        kept = stored[~chosen].reset_index(drop=True)
        emptied = tuple(c for c in kept.columns if c != "date" and kept[c].isna().all()) if len(kept) else ()
        result = KpiDeletion(
            client_id=client_id,
            dry_run=dry_run,
            rows=len(gone),
            first_date=min(gone["date"]),
            last_date=max(gone["date"]),
            remaining=len(kept),
            removed_columns=emptied,
        )
        if dry_run:
            return result
        if kept.empty:
            kpi_path(layout, client_id).unlink()
        else:
            _write(layout, client_id, kept.drop(columns=list(emptied)), kpi_period_days(layout, client_id))
    details = {
        "selection": selection,
        **{k: v for k, v in result.to_dict().items() if k not in ("client_id", "dry_run")},
    }
    with engine.begin() as connection:
        audit.record(connection, actor=actor, action=DELETE_ACTION, client_id=client_id, details=details)
    return result
