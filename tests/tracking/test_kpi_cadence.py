"""KPIs at daily or weekly grain: detected or given, stored in the table's metadata, one grain per table."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from core.database import get_engine
from core.errors import InvalidInput
from core.layout import StorageLayout
from core.settings import Settings
from tracking.cadence import Cadence
from tracking.kpi import delete_kpi, import_kpi, import_kpi_file, kpi_cadence, read_kpi
from tracking.table_files import csv_frame

DATA = Path(__file__).parent / "data"
WEEKS = "date,revenue\n2024-01-01,700\n2024-01-08,710\n2024-01-15,720\n2024-01-22,730\n"


@pytest.fixture
def layout(settings: Settings) -> StorageLayout:
    return StorageLayout.from_settings(settings)


def test_the_customers_weekly_file_is_stored_weekly(layout: StorageLayout) -> None:
    assert kpi_cadence(layout, "acme") is Cadence.DAY  # nothing stored: daily
    report = import_kpi_file(layout, "acme", DATA / "weekly_kpi.csv")
    assert report.grain.describe() == "weekly rows (weeks starting Monday), 2022-01-03 to 2025-12-22, 208 weeks"
    assert report.columns == ("revenue", "competitor_sales_b", "events", "newsletter")
    assert report.warnings == () and report.to_dict()["cadence"] == "week"
    assert kpi_cadence(layout, "acme") is Cadence.WEEK
    assert len(read_kpi(layout, "acme")) == 208


def test_a_daily_table_stays_daily_and_refuses_weeks(layout: StorageLayout) -> None:
    import_kpi(layout, "acme", csv_frame("date,revenue\n2024-01-01,1\n2024-01-02,2\n"))
    assert kpi_cadence(layout, "acme") is Cadence.DAY
    with pytest.raises(InvalidInput, match="the stored KPIs are daily rows and this file has weekly rows"):
        import_kpi(layout, "acme", csv_frame(WEEKS))
    assert len(read_kpi(layout, "acme")) == 2


def test_weeks_on_another_weekday_gaps_and_a_single_date(layout: StorageLayout) -> None:
    import_kpi(layout, "acme", csv_frame(WEEKS))
    with pytest.raises(InvalidInput, match="stored weeks start on Mondays, the new weeks dated 2024-01-28 do not"):
        import_kpi(layout, "acme", csv_frame("date,revenue\n2024-01-28,1\n"))
    added = import_kpi(layout, "acme", csv_frame("date,revenue,promo\n2024-02-12,750,1\n"))  # one date: a week
    assert added.grain.cadence is Cadence.WEEK and kpi_cadence(layout, "acme") is Cadence.WEEK
    assert added.warnings[-1] == (
        "2 week(s) between 2024-01-01 and 2024-02-12 have no KPI row: 2024-01-29, 2024-02-05; "
        "models need a complete series"
    )


def test_deleting_rows_keeps_the_grain(settings: Settings, layout: StorageLayout) -> None:
    import_kpi(layout, "acme", csv_frame(WEEKS))
    report = delete_kpi(layout, get_engine(settings), "acme", since=date(2024, 1, 15), actor="test")
    assert (report.rows, report.remaining) == (2, 2)
    assert kpi_cadence(layout, "acme") is Cadence.WEEK
