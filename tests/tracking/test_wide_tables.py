"""Wide media-mix files (one spend column per channel): their spend as rows, and the rest as KPIs."""

from __future__ import annotations

import pytest

from core.errors import InvalidInput
from tracking.table_files import csv_frame
from tracking.wide_tables import spend_from_wide, split_names, without_columns

WIDE = "date_week,revenue,TV Spend,search,event\n2024-01-01,100,10,5,0\n2024-01-08,120,0,6,1\n"


def test_each_channel_column_becomes_rows_and_the_rest_stays_beside_them() -> None:
    long = spend_from_wide(csv_frame(WIDE), ["tv_spend", "SEARCH"])  # names compared as keys
    assert list(long.columns) == ["date_week", "revenue", "event", "channel", "spend"]
    assert long[["date_week", "channel"]].values.tolist() == [
        ["2024-01-01", "tv spend"],
        ["2024-01-08", "tv spend"],
        ["2024-01-01", "search"],
        ["2024-01-08", "search"],
    ]
    assert long["spend"].astype(float).tolist() == [10.0, 0.0, 5.0, 6.0]


def test_bad_wide_files_name_the_row_and_column() -> None:
    with pytest.raises(InvalidInput, match=r"no column 'radio' in the file; its columns are date_week, revenue"):
        spend_from_wide(csv_frame(WIDE), ["search", "radio"])
    with pytest.raises(InvalidInput, match="row 2, column search: 'lots'"):
        spend_from_wide(csv_frame(WIDE.replace(",6,1", ",lots,1")), ["search"])
    with pytest.raises(InvalidInput, match="row 1, column search: '-5' is negative"):
        spend_from_wide(csv_frame(WIDE.replace(",5,0", ",-5,0")), ["search"])
    with pytest.raises(InvalidInput, match="row 2, column search: missing value"):
        spend_from_wide(csv_frame(WIDE.replace(",6,1", ",,1")), ["search"])
    with pytest.raises(InvalidInput, match="more than once"):
        spend_from_wide(csv_frame(WIDE), ["search", "Search"])
    with pytest.raises(InvalidInput, match="must not also have spend"):
        spend_from_wide(csv_frame("date,tv,spend\n2024-01-01,1,2\n"), ["tv"])
    with pytest.raises(InvalidInput, match="at least one column"):
        spend_from_wide(csv_frame(WIDE), split_names(" , "))


def test_without_columns_drops_the_named_ones_only() -> None:
    assert list(without_columns(csv_frame(WIDE), ["TV Spend", "search"]).columns) == ["date_week", "revenue", "event"]
    with pytest.raises(InvalidInput, match="--ignore: no column 'x3'"):
        without_columns(csv_frame(WIDE), ["x3"])
