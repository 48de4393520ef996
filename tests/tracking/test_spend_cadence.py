"""Spend at daily or weekly grain: the grain is detected or given, stored with each row, and never overlapped."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.errors import InvalidInput
from core.layout import StorageLayout
from core.settings import Settings
from tracking.cadence import Cadence
from tracking.spend import import_spend, import_spend_file, read_spend, spend_summary_records
from tracking.table_files import csv_frame

DATA = Path(__file__).parent / "data"
WEEKLY = "date,channel,spend\n2024-01-01,tv,700\n2024-01-08,tv,1400\n2024-01-15,tv,700\n2024-01-01,radio,70\n"


@pytest.fixture
def layout(settings: Settings) -> StorageLayout:
    return StorageLayout.from_settings(settings)


def test_weekly_rows_are_stored_as_weeks(layout: StorageLayout) -> None:
    report = import_spend(layout, "acme", csv_frame(WEEKLY))
    assert report.grain.describe() == "weekly rows (weeks starting Monday), 2024-01-01 to 2024-01-15, 3 weeks"
    assert report.to_dict()["cadence"] == "week" and report.to_dict()["grain"]["week_start"] == "Monday"
    stored = read_spend(layout, "acme")
    assert stored["period_days"].tolist() == [7, 7, 7, 7]
    summary = {r["campaign_id"]: r for r in spend_summary_records(stored)}
    assert (summary["tv"]["cadence"], summary["tv"]["days"], summary["tv"]["spend"]) == ("week", 21, 2800.0)
    again = import_spend(layout, "acme", csv_frame(WEEKLY))  # the same weeks replace, never duplicate
    assert (again.inserted, again.replaced) == (0, 4) and len(read_spend(layout, "acme")) == 4


def test_the_customers_weekly_file_imports_as_it_comes(layout: StorageLayout) -> None:
    report = import_spend_file(layout, "acme", DATA / "weekly_spend.csv")
    assert report.grain.describe() == "weekly rows (weeks starting Monday), 2022-01-03 to 2025-12-22, 208 weeks"
    assert (report.rows, report.channels, report.warnings) == (1040, 5, ())


def test_a_table_written_before_the_grain_existed_reads_as_daily(layout: StorageLayout) -> None:
    path = layout.client_spend_dir("acme") / "spend.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    old = pd.DataFrame({"date": [date(2024, 1, 2)], "campaign_id": ["tv"], "channel": ["tv"], "spend": [5.0]})
    schema = pa.schema(
        [("date", pa.date32()), ("campaign_id", pa.string()), ("channel", pa.string()), ("spend", pa.float64())]
    )
    table = pa.Table.from_pandas(old, schema=schema, preserve_index=False)
    table = table.append_column("impressions", pa.nulls(1, pa.int64())).append_column("clicks", pa.nulls(1, pa.int64()))
    pq.write_table(table, path)
    assert read_spend(layout, "acme")["period_days"].tolist() == [1]
    with pytest.raises(
        InvalidInput, match="stored daily rows of 'tv' dated 2024-01-02 overlap the new weekly rows dated 2024-01-01"
    ):
        import_spend(layout, "acme", csv_frame(WEEKLY))
    import_spend(layout, "acme", csv_frame("date,channel,spend\n2024-01-03,tv,6\n"))  # daily next to daily
    assert read_spend(layout, "acme")["period_days"].tolist() == [1, 1]


def test_rows_overlapping_another_grain_or_week_start_store_nothing(layout: StorageLayout) -> None:
    import_spend(layout, "acme", csv_frame(WEEKLY))
    before = read_spend(layout, "acme")
    daily = "date,channel,spend\n2024-01-09,tv,100\n2024-01-10,tv,100\n2024-01-11,tv,100\n"
    with pytest.raises(InvalidInput, match="stored weekly rows of 'tv' dated 2024-01-08 overlap the new daily rows"):
        import_spend(layout, "acme", csv_frame(daily))
    sundays = "date,channel,spend\n2024-01-07,tv,1\n2024-01-14,tv,1\n2024-01-21,tv,1\n"
    with pytest.raises(InvalidInput, match="dated 2024-01-01, 2024-01-08, 2024-01-15 overlap the new weekly rows"):
        import_spend(layout, "acme", csv_frame(sundays))
    pd.testing.assert_frame_equal(read_spend(layout, "acme"), before)
    # another channel's daily rows, and the same channel's later days, do not overlap
    import_spend(
        layout, "acme", csv_frame("date,channel,spend\n2024-01-09,search,1\n2024-01-22,tv,2\n2024-01-23,tv,2\n")
    )
    assert sorted(read_spend(layout, "acme")["period_days"].tolist()) == [1, 1, 1, 7, 7, 7, 7]


def test_a_given_cadence_is_checked_against_the_dates(layout: StorageLayout) -> None:
    rows = csv_frame("date,channel,spend\n2024-01-01,tv,1\n2024-01-08,tv,1\n2024-01-10,tv,1\n")
    with pytest.raises(InvalidInput, match=r"the cadence is week, but .*not 2024-01-10"):
        import_spend(layout, "acme", rows, cadence=Cadence.WEEK)
    one = import_spend(layout, "acme", csv_frame("date,channel,spend\n2024-01-01,tv,700\n"), cadence=Cadence.WEEK)
    assert one.grain.cadence is Cadence.WEEK and read_spend(layout, "acme")["period_days"].tolist() == [7]
    next_week = import_spend(layout, "acme", csv_frame("date,channel,spend\n2024-01-08,tv,700\n"))  # as stored
    assert next_week.grain.cadence is Cadence.WEEK and read_spend(layout, "acme")["period_days"].tolist() == [7, 7]
    with pytest.raises(InvalidInput, match="row 2, column spend: 'lots' is not a number"):
        import_spend(layout, "acme", csv_frame("date,channel,spend\n2024-01-08,tv,1\n2024-01-15,tv,lots\n"))


def test_a_weekly_ads_manager_report_is_weekly(layout: StorageLayout) -> None:
    report = (
        "Reporting starts,Reporting ends,Campaign name,Amount spent (EUR)\n"
        "2026-01-05,2026-01-11,spring-sale,700\n2026-01-12,2026-01-18,spring-sale,710\n"
    )
    imported = import_spend(layout, "acme", csv_frame(report))
    assert imported.grain.cadence is Cadence.WEEK and read_spend(layout, "acme")["period_days"].tolist() == [7, 7]
    with pytest.raises(InvalidInput, match="the cadence is day, but the report's rows each cover one week"):
        import_spend(layout, "acme", csv_frame(report), cadence=Cadence.DAY)
