"""Spend import: validation with row/column messages, all-or-nothing, idempotent upserts, channel-level rows,
and campaigns never seen in tracked traffic reported as warnings."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core import audit
from core.database import get_engine
from core.errors import InvalidInput, NotFound
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import Tenants
from tracking.compactor import compact_all
from tracking.spend import (
    _write,
    channel_level,
    delete_spend,
    import_spend,
    import_spend_file,
    lake_campaign_ids,
    read_spend,
    spend_summary_records,
    upsert_spend,
    validate_spend,
)
from tracking.table_files import MAX_WHOLE_NUMBER, csv_frame, date_window, json_rows_frame
from xmo.simulator.cli import run_simulation

HEADER = "date,campaign,channel,spend,impressions,clicks\n"


@pytest.fixture
def layout(settings: Settings) -> StorageLayout:
    return StorageLayout.from_settings(settings)


def write(tmp_path: Path, text: str, name: str = "spend.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_import_stores_campaign_and_channel_rows(layout: StorageLayout, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER
        + "2026-01-01,search-brand,search,120.5,5300,410\n2026-01-01,,TV,2500,,\n2026-01-02,search-brand,,99,,\n",
    )
    report = import_spend_file(layout, "acme", path)
    assert (report.rows, report.inserted, report.replaced) == (3, 3, 0)
    assert (report.campaigns, report.channels, report.channel_rows) == (1, 1, 1)
    assert (report.first_date, report.last_date) == (date(2026, 1, 1), date(2026, 1, 2))
    assert report.total_spend == pytest.approx(2719.5)
    stored = read_spend(layout, "acme")
    assert list(stored.columns) == ["date", "campaign_id", "channel", "spend", "impressions", "clicks", "period_days"]
    tv = stored[stored["campaign_id"] == "tv"].iloc[0]
    assert tv["channel"] == "tv" and tv["spend"] == 2500 and pd.isna(tv["impressions"])
    assert channel_level(stored).tolist() == [False, True, False]
    brand = stored[stored["campaign_id"] == "search-brand"]
    assert brand["impressions"].tolist()[0] == 5300 and pd.isna(brand["channel"].tolist()[1])
    assert (layout.client_spend_dir("acme") / "spend.parquet").is_file()  # under the client's folder (purge)


def test_reimport_replaces_and_never_duplicates(layout: StorageLayout) -> None:
    first = csv_frame("date,campaign,spend\n2026-01-01,a,10\n2026-01-02,a,20\n2026-01-01,b,5\n")
    import_spend(layout, "acme", first)
    again = import_spend(layout, "acme", first)
    assert (again.inserted, again.replaced) == (0, 3)
    changed = import_spend(layout, "acme", csv_frame("date,campaign,spend\n2026-01-02,a,25\n2026-01-03,a,30\n"))
    assert (changed.inserted, changed.replaced) == (1, 1)
    stored = read_spend(layout, "acme")
    assert len(stored) == 4 and not stored.duplicated(["date", "campaign_id"]).any()
    assert stored.set_index(["campaign_id", "date"]).loc[("a", date(2026, 1, 2)), "spend"] == 25


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("date,campaign,spend\n2026-01-01,a,-5\n", "row 1, column spend: '-5' is negative"),
        ("date,campaign,spend\n2026-01-01,a,1\n2026-01-02,a,\n", "row 2, column spend: missing value"),
        ("date,campaign,spend\n2026-01-01,a,ten\n", "row 1, column spend: 'ten' is not a number"),
        ("date,campaign,spend\n01/02/2026,a,1\n", "row 1, column date: '01/02/2026' is not a date (use YYYY-MM-DD)"),
        ("date,campaign,spend\n2026-02-30,a,1\n", "row 1, column date: '2026-02-30' is not a date"),
        ("date,campaign,spend\n,a,1\n", "row 1, column date: missing value"),
        (
            "date,campaign,spend\n2026-01-01,a,1\n2026-01-02,b,1\n2026-01-01,a,2\n",
            "rows 1 and 3 repeat (2026-01-01, a)",
        ),
        ("date,campaign,spend,clicks\n2026-01-01,a,1,2.5\n", "row 1, column clicks: '2.5' is not a whole number"),
        ("date,campaign,spend,impressions\n2026-01-01,a,1,-1\n", "row 1, column impressions: '-1' is negative"),
        ("date,spend\n2026-01-01,1\n", "campaign_id (or campaign) or channel"),
        ("campaign,spend\na,1\n", "need the column(s) date"),
        ("date,campaign,channel,spend\n2026-01-01,,,1\n", "row 1: needs a campaign_id (or campaign) or a channel"),
        ("date,campaign,spend\n", "the file has a header but no rows"),
        ("", "the file is empty"),
        ("date,campaign,spend\n2026-01-01,a\n", "row 1: 2 cells where the header has 3"),
        ("date,campaign,spend\n2026-01-01,a,inf\n", "is not a finite number"),
        ("date,campaign,spend\n2026-01-01,a,1\n\n2026-01-03,a,1\n", "row 2, column date: missing value"),
        ('date,campaign,spend\n2026-01-01,"' + "a" * 200_000 + '",1\n', "not valid CSV: field larger than"),
        ("date,campaign,spend\n2026-01-01," + "a" * 201 + ",1\n", "column campaign_id: longer than 200"),
        ("date,campaign,spend\n0001-01-01,a,1\n", "row 1, column date: 0001-01-01 is outside 2000-01-01 to "),
        ("date,campaign,spend\n2026-01-01,a,1\n9999-12-31,a,1\n", "row 2, column date: 9999-12-31 is outside"),
        ("date,campaign,spend\n1999-12-31,a,1\n", "(dates run from 2000-01-01 to a year after today, UTC)"),
        (
            "date,campaign,spend,impressions\n2026-01-01,a,1,1180591620717411303424\n",
            "row 1, column impressions: '1180591620717411303424' is too large (at most 9,007,199,254,740,991)",
        ),
        ("date,campaign,spend,clicks\n2026-01-01,a,1,9007199254740993\n", "column clicks: '9007199254740993' is too"),
        (
            "date,campaign,spend,clicks\n2026-01-01,a,1," + "9" * 4000 + "\n",
            "… (4,000 characters) is not a finite number",
        ),
    ],
)
def test_bad_files_name_the_problem_and_store_nothing(
    layout: StorageLayout, tmp_path: Path, text: str, message: str
) -> None:
    import_spend(layout, "acme", csv_frame("date,campaign,spend\n2026-01-01,a,7\n"))
    before = (layout.client_spend_dir("acme") / "spend.parquet").read_bytes()
    with pytest.raises(InvalidInput) as caught:
        import_spend_file(layout, "acme", write(tmp_path, text))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 300
    assert (layout.client_spend_dir("acme") / "spend.parquet").read_bytes() == before


def test_a_bad_row_late_in_a_file_stores_none_of_it(layout: StorageLayout, tmp_path: Path) -> None:
    rows = "".join(f"2026-01-{day:02d},a,{day}\n" for day in range(1, 29)) + "2026-01-29,a,-1\n"
    with pytest.raises(InvalidInput, match="row 29, column spend"):
        import_spend_file(layout, "acme", write(tmp_path, "date,campaign,spend\n" + rows))
    assert read_spend(layout, "acme").empty


def test_unknown_columns_are_ignored_with_a_note(layout: StorageLayout) -> None:
    report = import_spend(layout, "acme", csv_frame("date,campaign,spend,currency,notes\n2026-01-01,a,1,EUR,x\n"))
    assert report.ignored_columns == ("currency", "notes")
    assert any("ignored unknown column(s): currency, notes" in w for w in report.warnings)
    assert list(read_spend(layout, "acme").columns) == [
        "date",
        "campaign_id",
        "channel",
        "spend",
        "impressions",
        "clicks",
        "period_days",
    ]


def test_parquet_files_with_typed_columns(layout: StorageLayout, tmp_path: Path) -> None:
    path = tmp_path / "spend.parquet"
    table = pa.table(
        {
            "date": pa.array([date(2026, 3, 1), date(2026, 3, 2)], pa.date32()),
            "campaign_id": ["a", "a"],
            "spend": [1.5, 2.5],
            "clicks": pa.array([3, None], pa.int64()),
        }
    )
    pq.write_table(table, path)
    report = import_spend_file(layout, "acme", path)
    assert report.rows == 2 and report.total_spend == 4.0
    stored = read_spend(layout, "acme")
    assert stored["clicks"].tolist()[0] == 3 and pd.isna(stored["clicks"].tolist()[1])


def test_wrong_types_in_parquet_and_unreadable_files(layout: StorageLayout, tmp_path: Path) -> None:
    path = tmp_path / "typed.parquet"
    pq.write_table(pa.table({"date": ["2026-03-01"], "campaign_id": ["a"], "spend": [True]}), path)
    with pytest.raises(InvalidInput, match="row 1, column spend: True is not a number"):
        import_spend_file(layout, "acme", path)
    pq.write_table(pa.table({"date": [pd.Timestamp("2026-03-01 10:30")], "campaign_id": ["a"], "spend": [1.0]}), path)
    with pytest.raises(InvalidInput, match="has a time of day"):
        import_spend_file(layout, "acme", path)
    garbage = write(tmp_path, "not parquet", "garbage.parquet")
    with pytest.raises(InvalidInput, match="not a readable Parquet file"):
        import_spend_file(layout, "acme", garbage)
    with pytest.raises(InvalidInput, match="cannot tell the format"):
        import_spend_file(layout, "acme", write(tmp_path, "x", "spend.xlsx"))
    with pytest.raises(InvalidInput, match="no such file"):
        import_spend_file(layout, "acme", tmp_path / "missing.csv")


def test_upsert_spend_keeps_its_contract(layout: StorageLayout) -> None:
    rows = pd.DataFrame(
        {"date": [date(2026, 1, 1), date(2026, 1, 1)], "campaign_id": ["x", "y"], "channel": ["search", "display"]}
    ).assign(spend=[3.0, 4.0])
    assert upsert_spend(layout, "acme", rows) == 2
    assert upsert_spend(layout, "acme", rows.assign(spend=[5.0, 6.0])) == 2
    stored = read_spend(layout, "acme")
    assert stored["spend"].tolist() == [5.0, 6.0] and stored["channel"].tolist() == ["search", "display"]
    with pytest.raises(InvalidInput):
        upsert_spend(layout, "acme", rows.assign(spend=[-1.0, 1.0]))


def test_summary_per_campaign(layout: StorageLayout) -> None:
    assert spend_summary_records(read_spend(layout, "acme")) == []
    text = (
        "date,campaign,channel,spend,clicks\n2026-01-01,a,search,1,2\n2026-01-03,a,search,2,\n2026-01-02,,radio,50,\n"
    )
    import_spend(layout, "acme", csv_frame(text))
    summary = spend_summary_records(read_spend(layout, "acme"))
    assert summary == [
        {
            "campaign_id": "a",
            "channel": "search",
            "level": "campaign",
            "cadence": "day",
            "days": 2,
            "first_date": "2026-01-01",
            "last_date": "2026-01-03",
            "spend": 3.0,
            "impressions": None,
            "clicks": 2,
        },
        {
            "campaign_id": "radio",
            "channel": "radio",
            "level": "channel",
            "cadence": "day",
            "days": 1,
            "first_date": "2026-01-02",
            "last_date": "2026-01-02",
            "spend": 50.0,
            "impressions": None,
            "clicks": None,
        },
    ]


def test_json_rows_validate_the_same_way(layout: StorageLayout) -> None:
    ok = json_rows_frame(
        [
            {"date": "2026-01-01", "campaign_id": "a", "spend": 3},
            {"date": "2026-01-01", "channel": "tv", "spend": "9.5"},
        ]
    )
    assert validate_spend(ok).frame["spend"].tolist() == [3.0, 9.5]
    with pytest.raises(InvalidInput, match="row 2, column spend: 'lots' is not a number"):
        validate_spend(
            json_rows_frame(
                [
                    {"date": "2026-01-01", "campaign": "a", "spend": 1},
                    {"date": "2026-01-02", "campaign": "a", "spend": "lots"},
                ]
            )
        )
    with pytest.raises(InvalidInput, match="row 1, column campaign_id: expected a text or a number"):
        json_rows_frame([{"date": "2026-01-01", "campaign_id": ["a"], "spend": 1}])
    with pytest.raises(InvalidInput, match="row 2 is not an object"):
        json_rows_frame([{"date": "2026-01-01"}, 3])


def test_campaigns_never_tracked_are_stored_with_a_warning(settings: Settings, layout: StorageLayout) -> None:
    Tenants.from_settings(settings).create_client("Shop", ["shop.example"], client_id="shop")
    none_yet = import_spend(layout, "shop", csv_frame("date,campaign,spend\n2026-01-01,cmp-future,1\n"))
    assert none_yet.unknown_campaigns == ("cmp-future",)
    assert "no tracked traffic yet" in none_yet.warnings[0]
    run_simulation(settings, "shop", days=2, visitors_per_day=40, seed=3)
    compact_all(settings)
    tracked = lake_campaign_ids(layout, "shop")
    assert tracked and all(c.startswith("cmp-") for c in tracked)
    known = sorted(tracked)[0]
    text = f"date,campaign,channel,spend\n2026-01-01,{known},,1\n2026-01-01,cmp-nope,,2\n2026-01-01,,tv,3\n"
    report = import_spend(layout, "shop", csv_frame(text))
    assert report.unknown_campaigns == ("cmp-nope",)  # channel-level rows are not checked against traffic
    assert report.warnings == (
        "1 campaign(s) never seen in tracked traffic: cmp-nope; the spend is stored "
        "(check the ids if traffic should already exist)",
    )
    assert "cmp-nope" in set(read_spend(layout, "shop")["campaign_id"])


def test_the_date_window_ends_a_year_after_today(layout: StorageLayout) -> None:
    first, last = date_window()
    assert first == date(2000, 1, 1) and last == datetime.now(UTC).date() + timedelta(days=366)
    edges = pd.DataFrame({"date": [first, last], "campaign_id": ["a", "a"], "spend": [1.0, 2.0]})
    assert import_spend(layout, "acme", edges).rows == 2
    with pytest.raises(InvalidInput, match=f"row 2, column date: {last + timedelta(days=1)} is outside"):
        import_spend(layout, "acme", edges.assign(date=[first, last + timedelta(days=1)]))
    assert date_window(date(2028, 2, 29)) == (date(2000, 1, 1), date(2029, 3, 1))


def test_whole_numbers_are_stored_exactly_or_refused(layout: StorageLayout, tmp_path: Path) -> None:
    rows = [{"date": "2026-01-01", "campaign_id": "a", "spend": 1, "impressions": 2**70}]
    with pytest.raises(InvalidInput, match="column impressions: 1180591620717411303424 is too large"):
        import_spend(layout, "acme", json_rows_frame(rows))  # stored as -9223372036854775808 before
    with pytest.raises(InvalidInput, match=r"row 1, column spend: 9999999999\d*… \(4,000 characters\) is too large"):
        import_spend(layout, "acme", json_rows_frame([{**rows[0], "spend": int("9" * 4000), "impressions": 1}]))
    path = tmp_path / "spend.parquet"
    pq.write_table(
        pa.table({**{k: [v] for k, v in rows[0].items()}, "impressions": pa.array([2**64 - 1], pa.uint64())}), path
    )
    with pytest.raises(InvalidInput, match="column impressions: 18446744073709551615 is too large"):
        import_spend_file(layout, "acme", path)
    assert read_spend(layout, "acme").empty
    import_spend(layout, "acme", json_rows_frame([{**rows[0], "impressions": MAX_WHOLE_NUMBER, "clicks": 0}]))
    stored = read_spend(layout, "acme")
    assert (stored["impressions"].tolist(), stored["clicks"].tolist()) == ([MAX_WHOLE_NUMBER], [0])


# deleting ------------------------------------------------------------------------------------------------------
SPEND_ROWS = (
    "date,campaign,channel,spend\n"
    "2026-01-01,brand,search,10\n2026-01-02,brand,search,20\n2026-01-03,brand,search,30\n"
    "2026-01-01,promo,social,5\n2026-01-02,,TV,900\n"
)


def stray(layout: StorageLayout, day: date) -> None:
    """A row stored before dates were checked (an import now refuses it)."""
    row = pd.DataFrame({"date": [day], "campaign_id": ["brand"], "spend": [1.0], "period_days": [1]})
    frame = pd.concat([read_spend(layout, "acme"), row])
    _write(layout, "acme", frame)


def test_delete_by_date_range_campaign_and_channel(settings: Settings, layout: StorageLayout) -> None:
    engine = get_engine(settings)
    import_spend(layout, "acme", csv_frame(SPEND_ROWS))
    before = read_spend(layout, "acme")
    preview = delete_spend(
        layout, engine, "acme", since=date(2026, 1, 2), campaign_id="brand", actor="cli", dry_run=True
    )
    assert (preview.rows, preview.first_date, preview.last_date, preview.total_spend, preview.remaining) == (
        2,
        date(2026, 1, 2),
        date(2026, 1, 3),
        50.0,
        3,
    )
    assert read_spend(layout, "acme").equals(before) and audit.entries(engine, "acme") == []
    done = delete_spend(layout, engine, "acme", since=date(2026, 1, 2), campaign_id="brand", actor="cli")
    assert done.to_dict() == {**preview.to_dict(), "dry_run": False}
    assert sorted(read_spend(layout, "acme")["spend"]) == [5.0, 10.0, 900.0]
    tv = delete_spend(layout, engine, "acme", channel=" TV ", actor="key:xmo_api_ab12")  # channel-level rows too
    assert (tv.rows, tv.campaigns) == (1, ("tv",))
    entries = audit.entries(engine, "acme", action_prefix="spend.delete")
    assert [(e.actor, e.details["selection"], e.details["rows"]) for e in entries] == [
        ("cli", "since 2026-01-02, campaign brand", 2),
        ("key:xmo_api_ab12", "channel tv", 1),
    ]
    rest = delete_spend(layout, engine, "acme", everything=True, actor="cli")
    assert (rest.rows, rest.remaining) == (2, 0) and read_spend(layout, "acme").empty
    assert not (layout.client_spend_dir("acme") / "spend.parquet").exists()


def test_rows_outside_the_window_can_be_deleted(settings: Settings, layout: StorageLayout) -> None:
    import_spend(layout, "acme", csv_frame(SPEND_ROWS))
    stray(layout, date(1, 1, 1))
    stray(layout, date(9999, 12, 31))
    engine = get_engine(settings)
    old = delete_spend(layout, engine, "acme", until=date(1999, 12, 31), actor="cli")
    new = delete_spend(layout, engine, "acme", since=date(9999, 12, 31), until=date(9999, 12, 31), actor="cli")
    assert (old.first_date, new.last_date) == (date(1, 1, 1), date(9999, 12, 31))
    assert read_spend(layout, "acme")["date"].between(date(2026, 1, 1), date(2026, 1, 3)).all()
    assert len(read_spend(layout, "acme")) == 5


@pytest.mark.parametrize(
    ("selection", "error", "message"),
    [
        ({}, InvalidInput, "say which spend to delete"),
        ({"everything": True, "campaign_id": "brand"}, InvalidInput, "or all (alone)"),
        ({"since": date(2026, 2, 1), "until": date(2026, 1, 1)}, InvalidInput, "since (2026-02-01) is after until"),
        ({"campaign_id": "nope"}, NotFound, "no stored spend row of client 'acme' matches: campaign nope"),
        ({"since": date(2026, 1, 4), "channel": "search"}, NotFound, "matches: since 2026-01-04, channel search"),
    ],
)
def test_delete_errors_change_nothing(
    settings: Settings, layout: StorageLayout, selection: dict[str, Any], error: type[Exception], message: str
) -> None:
    engine = get_engine(settings)
    with pytest.raises(NotFound, match="client 'acme' has no stored spend"):
        delete_spend(layout, engine, "acme", everything=True, actor="cli")
    import_spend(layout, "acme", csv_frame(SPEND_ROWS))
    before = (layout.client_spend_dir("acme") / "spend.parquet").read_bytes()
    with pytest.raises(error) as caught:
        delete_spend(layout, engine, "acme", actor="cli", **selection)
    assert message in str(caught.value)
    assert (layout.client_spend_dir("acme") / "spend.parquet").read_bytes() == before
    assert audit.entries(engine, "acme") == []
