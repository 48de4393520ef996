"""KPI import: a wide daily table, idempotent per date, merged by column, with clear errors that store nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core import audit
from core.database import get_engine
from core.errors import InvalidInput, NotFound
from core.layout import StorageLayout
from core.settings import Settings
from tracking.kpi import _merge, _write, delete_kpi, import_kpi, import_kpi_file, kpi_summary_records, read_kpi
from tracking.table_files import csv_frame, json_rows_frame


@pytest.fixture
def layout(settings: Settings) -> StorageLayout:
    return StorageLayout.from_settings(settings)


def test_read_kpi_sorted_by_date_with_numeric_columns(layout: StorageLayout, tmp_path: Path) -> None:
    empty = read_kpi(layout, "acme")
    assert list(empty.columns) == ["date"] and empty.empty
    path = tmp_path / "kpi.csv"
    path.write_text("Date,Revenue,Conversions,Temp C\n2026-01-03,300,3,-2.5\n2026-01-01,100,1,1\n2026-01-02,200,2,0\n")
    report = import_kpi_file(layout, "acme", path)
    assert report.columns == ("revenue", "conversions", "temp_c") and report.new_columns == report.columns
    assert (report.rows, report.inserted, report.updated, report.warnings) == (3, 3, 0, ())
    kpi = read_kpi(layout, "acme")
    assert list(kpi.columns) == ["date", "revenue", "conversions", "temp_c"]
    assert kpi["date"].tolist() == [date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 3)]
    assert kpi["revenue"].tolist() == [100.0, 200.0, 300.0] and kpi["temp_c"].tolist() == [1.0, 0.0, -2.5]
    assert all(kpi[c].dtype == np.float64 for c in ("revenue", "conversions", "temp_c"))
    assert (layout.client_kpi_dir("acme") / "kpi.parquet").is_file()


def test_upsert_per_date_merges_columns(layout: StorageLayout) -> None:
    import_kpi(layout, "acme", csv_frame("date,revenue\n2026-01-01,100\n2026-01-02,200\n"))
    again = import_kpi(layout, "acme", csv_frame("date,revenue\n2026-01-01,100\n2026-01-02,200\n"))
    assert (again.inserted, again.updated) == (0, 2)
    assert len(read_kpi(layout, "acme")) == 2
    merged = import_kpi(layout, "acme", csv_frame("date,revenue,promo\n2026-01-02,250,1\n2026-01-03,300,0\n"))
    assert (merged.inserted, merged.updated, merged.new_columns) == (1, 1, ("promo",))
    kpi = read_kpi(layout, "acme")
    assert kpi["revenue"].tolist() == [100.0, 250.0, 300.0]
    assert np.isnan(kpi["promo"].tolist()[0]) and kpi["promo"].tolist()[1:] == [1.0, 0.0]
    # a file with only a control column leaves the outcome as it was
    import_kpi(layout, "acme", csv_frame("date,promo\n2026-01-01,1\n"))
    kpi = read_kpi(layout, "acme")
    assert kpi["revenue"].tolist() == [100.0, 250.0, 300.0] and kpi["promo"].tolist() == [1.0, 1.0, 0.0]


def test_gaps_and_empty_cells_are_warned_about(layout: StorageLayout) -> None:
    report = import_kpi(layout, "acme", csv_frame("date,revenue,orders\n2026-01-01,1,\n2026-01-05,2,3\n"))
    assert report.warnings == (
        "1 empty cell(s) stored as missing values",
        "3 day(s) between 2026-01-01 and 2026-01-05 have no KPI row: 2026-01-02, 2026-01-03, 2026-01-04; "
        "models need a complete series",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("date,revenue\n2026-01-01,1\n2026-01-01,2\n", "rows 1 and 2 repeat the date 2026-01-01"),
        ("date,revenue\n2026-01-01,12 EUR\n", "row 1, column revenue: '12 EUR' is not a number"),
        ("date,revenue\n,5\n", "row 1, column date: missing value"),
        ("date,revenue\nyesterday,5\n", "row 1, column date: 'yesterday' is not a date"),
        ("revenue,orders\n1,2\n", "KPI rows need a date column"),
        ("date\n2026-01-01\n", "at least one numeric column besides date"),
        ("date,revenue,Revenue\n2026-01-01,1,2\n", "names column 'revenue' twice"),
        ("date,1st\n2026-01-01,1\n", "column '1st': a KPI column name starts with a letter"),
        ("date,revenue\n9999-12-31,1\n", "row 1, column date: 9999-12-31 is outside 2000-01-01 to "),
        ("date,revenue\n2026-01-01,1\n0001-01-01,1\n", "row 2, column date: 0001-01-01 is outside"),
        ("date,revenue\n", "the file has a header but no rows"),
    ],
)
def test_bad_files_name_the_problem_and_store_nothing(
    layout: StorageLayout, tmp_path: Path, text: str, message: str
) -> None:
    import_kpi(layout, "acme", csv_frame("date,revenue\n2026-01-01,7\n"))
    before = (layout.client_kpi_dir("acme") / "kpi.parquet").read_bytes()
    path = tmp_path / "kpi.csv"
    path.write_text(text)
    with pytest.raises(InvalidInput) as caught:
        import_kpi_file(layout, "acme", path)
    assert message in str(caught.value)
    assert (layout.client_kpi_dir("acme") / "kpi.parquet").read_bytes() == before


def test_parquet_kpi_and_summary(layout: StorageLayout, tmp_path: Path) -> None:
    path = tmp_path / "kpi.parquet"
    days = pa.array([date(2026, 2, 1), date(2026, 2, 2)], pa.date32())
    pq.write_table(pa.table({"date": days, "revenue": [10.0, 30.0], "orders": pa.array([1, None], pa.int64())}), path)
    import_kpi_file(layout, "acme", path)
    assert kpi_summary_records(read_kpi(layout, "acme")) == [
        {
            "column": "revenue",
            "days": 2,
            "first_date": "2026-02-01",
            "last_date": "2026-02-02",
            "total": 40.0,
            "mean": 20.0,
            "min": 10.0,
            "max": 30.0,
        },
        {
            "column": "orders",
            "days": 1,
            "first_date": "2026-02-01",
            "last_date": "2026-02-01",
            "total": 1.0,
            "mean": 1.0,
            "min": 1.0,
            "max": 1.0,
        },
    ]
    pq.write_table(pa.table({"date": days, "region": ["DE", "FR"]}), path)
    with pytest.raises(InvalidInput, match="row 1, column region: 'DE' is not a number"):
        import_kpi_file(layout, "acme", path)


def test_an_invalid_client_id_is_refused_before_reading(layout: StorageLayout, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="invalid client id"):
        import_kpi_file(layout, "../etc", tmp_path / "missing.csv")


def test_a_number_too_large_for_a_float_is_a_clear_error(layout: StorageLayout) -> None:
    rows = json_rows_frame([{"date": "2026-01-01", "revenue": int("9" * 4000)}])  # an OverflowError before
    with pytest.raises(InvalidInput, match=r"row 1, column revenue: 9{30,}… \(4,000 characters\) is too large"):
        import_kpi(layout, "acme", rows)
    past_the_text_limit = json_rows_frame([{"date": "2026-01-01", "revenue": 10**5000}])
    with pytest.raises(InvalidInput, match="revenue: a whole number of more than 4,300 digits is too large"):
        import_kpi(layout, "acme", past_the_text_limit)
    assert read_kpi(layout, "acme").empty


# deleting ------------------------------------------------------------------------------------------------------
KPI_ROWS = "date,revenue,promo\n2026-01-01,100,\n2026-01-02,200,\n2026-01-03,300,1\n"


def test_delete_a_date_range(settings: Settings, layout: StorageLayout) -> None:
    engine = get_engine(settings)
    import_kpi(layout, "acme", csv_frame(KPI_ROWS))
    stray = pd.DataFrame({"date": [date(9999, 12, 31)], "revnue": [1.0]})  # stored before dates were checked
    _write(layout, "acme", _merge(read_kpi(layout, "acme"), stray))
    preview = delete_kpi(layout, engine, "acme", since=date(2030, 1, 1), actor="cli", dry_run=True)
    assert preview.to_dict() == {
        "client_id": "acme",
        "dry_run": True,
        "rows": 1,
        "first_date": "9999-12-31",
        "last_date": "9999-12-31",
        "remaining": 3,
        "removed_columns": ["revnue"],
    }
    assert len(read_kpi(layout, "acme")) == 4 and audit.entries(engine, "acme") == []
    delete_kpi(layout, engine, "acme", since=date(2030, 1, 1), actor="cli")
    kpi = read_kpi(layout, "acme")
    assert list(kpi.columns) == ["date", "revenue", "promo"] and len(kpi) == 3  # the typo's column went with it
    done = delete_kpi(layout, engine, "acme", since=date(2026, 1, 2), until=date(2026, 1, 2), actor="cli")
    assert (done.rows, done.remaining, done.removed_columns) == (1, 2, ())
    assert read_kpi(layout, "acme")["revenue"].tolist() == [100.0, 300.0]
    entries = audit.entries(engine, "acme", action_prefix="kpi.delete")
    assert [e.details["selection"] for e in entries] == ["since 2030-01-01", "from 2026-01-02 to 2026-01-02"]
    assert delete_kpi(layout, engine, "acme", everything=True, actor="cli").rows == 2
    assert read_kpi(layout, "acme").empty and not (layout.client_kpi_dir("acme") / "kpi.parquet").exists()


@pytest.mark.parametrize(
    ("selection", "error", "message"),
    [
        ({}, InvalidInput, "say which KPI dates to delete"),
        ({"everything": True, "until": date(2026, 1, 1)}, InvalidInput, "or all (alone)"),
        ({"since": date(2026, 1, 3), "until": date(2026, 1, 1)}, InvalidInput, "since (2026-01-03) is after until"),
        ({"until": date(2025, 12, 31)}, NotFound, "client 'acme' has no stored KPI row until 2025-12-31"),
    ],
)
def test_delete_errors_change_nothing(
    settings: Settings, layout: StorageLayout, selection: dict[str, Any], error: type[Exception], message: str
) -> None:
    engine = get_engine(settings)
    with pytest.raises(NotFound, match="client 'acme' has no stored KPIs"):
        delete_kpi(layout, engine, "acme", everything=True, actor="cli")
    import_kpi(layout, "acme", csv_frame(KPI_ROWS))
    before = (layout.client_kpi_dir("acme") / "kpi.parquet").read_bytes()
    with pytest.raises(error) as caught:
        delete_kpi(layout, engine, "acme", actor="cli", **selection)
    assert message in str(caught.value)
    assert (layout.client_kpi_dir("acme") / "kpi.parquet").read_bytes() == before
    assert audit.entries(engine, "acme") == []
