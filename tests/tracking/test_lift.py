"""Lift tests as data: each row checked on its own and against the stored spend and KPIs, the result and its
uncertainty kept in both measures, all-or-nothing idempotent imports, overlap refused, audited deletions."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from statistics import NormalDist
from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from core import audit
from core.database import get_engine
from core.errors import InvalidInput, NotFound
from core.layout import StorageLayout
from core.settings import Settings
from privacy.export import TableExporter
from tracking.cadence import Cadence
from tracking.forgetting import TablesClientStore
from tracking.kpi import import_kpi
from tracking.lift import (
    covered_days,
    delete_lift,
    import_lift,
    import_lift_file,
    lift_dir,
    lift_records,
    read_lift,
    validate_lift,
)
from tracking.spend import import_spend
from tracking.table_export import lift_exporter
from tracking.table_files import csv_frame

FIRST = date(2026, 1, 1)
DAYS = 90  # 2026-01-01 .. 2026-03-31


def _spend_rows() -> pd.DataFrame:
    days = [FIRST + timedelta(days=i) for i in range(DAYS)]
    rows: list[dict[str, Any]] = [{"date": d, "campaign_id": "brand", "channel": "search", "spend": 10.0} for d in days]
    rows += [{"date": d, "channel": "tv", "spend": 100.0} for d in days]
    return pd.DataFrame(rows)


def _store_spend(layout: StorageLayout, client_id: str) -> None:
    """Daily search and TV spend, and weekly radio spend (12 weeks from 2026-01-01)."""
    import_spend(layout, client_id, _spend_rows())
    weeks = [FIRST + timedelta(weeks=w) for w in range(12)]
    import_spend(
        layout, client_id, pd.DataFrame({"date": weeks, "channel": "radio", "spend": 70.0}), cadence=Cadence.WEEK
    )


@pytest.fixture
def engine(settings: Settings) -> Engine:
    return get_engine(settings)


@pytest.fixture
def layout(settings: Settings) -> StorageLayout:
    layout = StorageLayout.from_settings(settings)
    _store_spend(layout, "acme")
    kpi = pd.DataFrame({"date": [FIRST + timedelta(days=i) for i in range(DAYS)], "revenue": 1000.0, "price": 1.0})
    import_kpi(layout, "acme", kpi)
    return layout


def lift(layout: StorageLayout, engine: Engine, text: str, actor: str = "cli") -> Any:
    return import_lift(layout, engine, "acme", csv_frame(text), actor=actor)


TV = "channel,start,end,kpi,incremental_kpi,standard_error,method\ntv,2026-02-01,2026-02-28,revenue,5600,700,Geo\n"


def test_a_test_is_stored_in_both_measures_and_audited(layout: StorageLayout, engine: Engine) -> None:
    report = lift(layout, engine, TV)
    assert report.to_dict() | {"mapped_columns": {}} == {
        "client_id": "acme",
        "tests": 1,
        "inserted": 1,
        "replaced": 0,
        "test_ids": ["tv-20260201-20260228"],
        "channels": ["tv"],
        "warnings": [],
        "mapped_columns": {},
    }
    assert report.mapped_columns == {"start": "start_date", "end": "end_date"}
    (test,) = lift_records(read_lift(layout, "acme"))
    # spend summed from the stored table (28 days × 100), spend_change defaults to it: a test against no spend
    assert (test["spend"], test["spend_source"], test["stored_spend"], test["spend_change"]) == (
        2800.0,
        "stored",
        2800.0,
        2800.0,
    )
    assert (test["measure"], test["roi"], test["roi_se"]) == ("incremental_kpi", 2.0, 0.25)
    assert (test["days"], test["method"], test["scope"], test["ci_level"]) == (28, "geo", "immediate", None)
    (entry,) = audit.entries(engine, "acme", action_prefix="lift.import")
    assert entry.details == {"tests": 1, "inserted": 1, "replaced": 0, "test_ids": ["tv-20260201-20260228"]}


def test_roi_with_an_interval_becomes_an_incremental_kpi_with_a_standard_error(
    layout: StorageLayout, engine: Engine
) -> None:
    text = (
        "test_id,channel,campaign,start_date,end_date,kpi,roi,ci_lower,ci_upper,ci_level,spend,spend_change\n"
        "q1-search,Search,brand,2026-01-10,2026-01-19,revenue,3,1.04,4.96,95,100,40\n"
    )
    lift(layout, engine, text)
    (test,) = lift_records(read_lift(layout, "acme"))
    assert (test["test_id"], test["channel"], test["campaign_id"], test["se_source"]) == (
        "q1-search",
        "search",
        "brand",
        "interval",
    )
    assert test["roi_se"] == pytest.approx(1.0, abs=1e-3)  # (4.96 - 1.04) / (2 × 1.96)
    assert test["incremental_kpi"] == pytest.approx(120.0) and test["incremental_kpi_se"] == pytest.approx(40, 1e-3)
    assert (test["ci_lower"], test["ci_upper"], test["ci_level"], test["spend_source"]) == (1.04, 4.96, 0.95, "given")


def test_reimport_replaces_by_test_id_and_is_idempotent(layout: StorageLayout, engine: Engine) -> None:
    lift(layout, engine, TV)
    again = lift(layout, engine, TV.replace("5600", "4200"))
    assert (again.inserted, again.replaced) == (0, 1)
    tests = read_lift(layout, "acme")
    assert len(tests) == 1 and tests["incremental_kpi"].tolist() == [4200.0]


def test_weekly_spend_covers_its_weeks_and_is_prorated(layout: StorageLayout, engine: Engine) -> None:
    # radio: 12 weekly rows from 2026-01-01, so covered to 2026-03-25 (the last row's date + 6 days)
    assert covered_days(pd.Series([FIRST, FIRST + timedelta(weeks=1)]), 7) == (FIRST, FIRST + timedelta(days=13))
    assert covered_days(pd.Series([FIRST, FIRST + timedelta(weeks=1)])) == (FIRST, FIRST + timedelta(days=7))
    lift(layout, engine, "channel,start,end,kpi,roi,se\nradio,2026-01-04,2026-01-10,revenue,1,0.5\n")
    (test,) = lift_records(read_lift(layout, "acme"))
    assert test["stored_spend"] == pytest.approx(70.0)  # 4 days of week 1 and 3 of week 2, 10 a day
    with pytest.raises(InvalidInput, match=r"outside the stored spend of radio \(2026-01-01 to 2026-03-25\)"):
        lift(layout, engine, "channel,start,end,kpi,roi,se\nradio,2026-03-20,2026-03-26,revenue,1,0.5\n")


def test_a_weekly_kpi_covers_its_last_week(settings: Settings, engine: Engine) -> None:
    layout = StorageLayout.from_settings(settings)
    mondays = [date(2026, 1, 5) + timedelta(weeks=w) for w in range(6)]
    import_spend(layout, "gamma", pd.DataFrame({"date": mondays, "channel": "tv", "spend": 700.0}))
    import_kpi(layout, "gamma", pd.DataFrame({"date": mondays[:4], "sales": 50.0}))
    inside = "channel,start,end,incremental_kpi,se\ntv,2026-01-26,2026-02-01,10,2\n"
    import_lift(layout, engine, "gamma", csv_frame(inside), actor="cli")
    assert read_lift(layout, "gamma")["kpi"].tolist() == ["sales"]  # the only KPI column
    late = "channel,start,end,incremental_kpi,se\ntv,2026-02-02,2026-02-08,10,2\n"
    with pytest.raises(InvalidInput, match=r"outside the stored KPI sales \(2026-01-05 to 2026-02-01\)"):
        import_lift(layout, engine, "gamma", csv_frame(late), actor="cli")


BAD = [
    (
        "channel,start,end,kpi,roi,se\nprint,2026-01-01,2026-01-02,revenue,1,1\n",
        "channels with spend: radio, search, tv",
    ),
    ("channel,campaign,start,end,kpi,roi,se\nsearch,generic,2026-01-01,2026-01-02,revenue,1,1\n", "campaigns: brand"),
    ("channel,start,end,kpi,roi,se\ntv,2026-01-05,2026-01-01,revenue,1,1\n", "end_date 2026-01-01 is before"),
    ("channel,start,end,kpi,roi,se\ntv,2025-12-25,2026-01-03,revenue,1,1\n", "outside the stored spend of tv"),
    ("channel,start,end,kpi,roi,se\ntv,2026-01-01,2026-01-03,orders,1,1\n", "'orders' is not a stored KPI"),
    ("channel,start,end,roi,se\ntv,2026-01-01,2026-01-03,1,1\n", "name the KPI.*one of price, revenue"),
    ("channel,start,end,kpi,roi,se\ntv,2026-01-01,2026-01-03,revenue,lots,1\n", "row 1, column roi: 'lots' is not"),
    ("channel,start,end,kpi,roi,se\ntv,2026-01-01,2026-01-03,revenue,1,-1\n", "standard_error: -1 must be above 0"),
    ("channel,start,end,kpi,roi,incremental_kpi,se\ntv,2026-01-01,2026-01-03,revenue,1,5,1\n", "not both"),
    ("channel,start,end,kpi,roi,incremental_kpi,se\ntv,2026-01-01,2026-01-03,revenue,,,1\n", "not neither"),
    ("channel,start,end,kpi,roi\ntv,2026-01-01,2026-01-03,revenue,1\n", "need the column.*standard_error or ci"),
    ("channel,start,end,kpi,roi,lower,upper\ntv,2026-01-01,2026-01-03,revenue,5,1,3\n", "outside its interval"),
    ("channel,start,end,kpi,roi,se,spend,spend_change\ntv,2026-01-01,2026-01-03,revenue,1,1,10,20\n", "exceeds"),
    ("channel,start,end,kpi,roi,se,method\ntv,2026-01-01,2026-01-03,revenue,1,1,survey\n", "is not one of geo"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_tests_are_refused_and_store_nothing(
    layout: StorageLayout, engine: Engine, text: str, message: str
) -> None:
    lift(layout, engine, TV)
    before = read_lift(layout, "acme")
    with pytest.raises(InvalidInput, match=message):
        lift(layout, engine, text)
    assert read_lift(layout, "acme").equals(before)


def test_a_file_with_one_bad_test_stores_none(layout: StorageLayout, engine: Engine) -> None:
    text = (
        "channel,start,end,kpi,roi,se\ntv,2026-01-01,2026-01-03,revenue,1,1\nprint,2026-01-01,2026-01-03,revenue,1,1\n"
    )
    with pytest.raises(InvalidInput, match=r"row 2 \(print-20260101-20260103\): no spend is stored"):
        lift(layout, engine, text)
    assert read_lift(layout, "acme").empty and audit.entries(engine, "acme") == []


def test_no_kpi_stored_is_a_clear_error(settings: Settings, engine: Engine) -> None:
    layout = StorageLayout.from_settings(settings)
    _store_spend(layout, "beta")
    with pytest.raises(InvalidInput, match="no KPIs are stored"):
        import_lift(layout, engine, "beta", csv_frame(TV), actor="cli")


def test_overlapping_tests_of_a_channel_are_refused(layout: StorageLayout, engine: Engine) -> None:
    lift(layout, engine, TV)
    overlap = "channel,start,end,kpi,roi,se\ntv,2026-02-20,2026-03-10,revenue,1,1\n"
    with pytest.raises(InvalidInput, match=r"overlaps test 'tv-20260201-20260228'.*same channel"):
        lift(layout, engine, overlap)
    # the same id replaces the stored test instead; another channel, or days after, are fine
    lift(layout, engine, overlap.replace("channel,", "test_id,channel,").replace("\ntv", "\ntv-20260201-20260228,tv"))
    lift(layout, engine, "channel,start,end,kpi,roi,se\nsearch,2026-02-20,2026-03-10,revenue,1,1\n")
    both = "channel,campaign,start,end,kpi,roi,se\nsearch,brand,2026-01-01,2026-01-10,revenue,1,1\n"
    lift(layout, engine, both)
    with pytest.raises(InvalidInput, match="overlaps"):  # a channel-wide test covers its campaigns
        lift(layout, engine, "channel,start,end,kpi,roi,se\nsearch,2026-01-05,2026-01-06,revenue,1,1\n")
    assert sorted(read_lift(layout, "acme")["test_id"]) == [
        "search-20260220-20260310",
        "search-brand-20260101-20260110",
        "tv-20260201-20260228",
    ]


def test_column_aliases_of_robyn_and_pymc_marketing(layout: StorageLayout, engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "robyn.csv"
    path.write_text(
        "channel,liftStartDate,liftEndDate,liftAbs,sigma,x,delta_x,metric,calibration_scope,confidence\n"
        "tv,2026-03-01,2026-03-14,700,100,1400,700,revenue,total,0.8\n"
    )
    report = import_lift_file(layout, engine, "acme", path, actor="cli")
    assert "ignored unknown column(s): confidence" in report.warnings
    (test,) = lift_records(read_lift(layout, "acme"))
    assert (test["spend"], test["spend_change"], test["roi"], test["scope"]) == (1400.0, 700.0, 1.0, "total")


def test_delete_by_id_range_and_channel_with_dry_run(layout: StorageLayout, engine: Engine) -> None:
    lift(layout, engine, TV + "tv,2026-01-01,2026-01-14,revenue,50,5,holdout\n")
    lift(layout, engine, "channel,start,end,kpi,roi,se\nsearch,2026-03-01,2026-03-02,revenue,1,1\n")
    with pytest.raises(InvalidInput, match="say which lift tests"):
        delete_lift(layout, engine, "acme", actor="cli")
    preview = delete_lift(
        layout, engine, "acme", since=date(2026, 2, 27), until=date(2026, 3, 1), actor="cli", dry_run=True
    )
    assert (preview.tests, preview.test_ids, preview.remaining) == (
        2,
        ("search-20260301-20260302", "tv-20260201-20260228"),
        1,
    )
    assert len(read_lift(layout, "acme")) == 3 and audit.entries(engine, "acme", action_prefix="lift.delete") == []
    done = delete_lift(layout, engine, "acme", test_id="tv-20260101-20260114", actor="key:xmo_api_ab12")
    assert done.test_ids == ("tv-20260101-20260114",)
    with pytest.raises(NotFound, match="nothing deleted"):
        delete_lift(layout, engine, "acme", channel="radio", actor="cli")
    delete_lift(layout, engine, "acme", everything=True, actor="cli")
    assert read_lift(layout, "acme").empty
    entries = audit.entries(engine, "acme", action_prefix="lift.delete")
    assert [(e.actor, e.details["selection"], e.details["tests"]) for e in entries] == [
        ("key:xmo_api_ab12", "test tv-20260101-20260114", 1),
        ("cli", "all", 2),
    ]
    with pytest.raises(NotFound, match="no stored lift tests"):
        delete_lift(layout, engine, "acme", everything=True, actor="cli")


def test_validation_alone_needs_no_stored_data() -> None:
    checked = validate_lift(csv_frame("channel,start,end,roi,se\nTV,2026-01-01,2026-01-01,1,0.1\n"))
    assert [(t["test_id"], t["days"], t["kpi"]) for t in checked.tests] == [("tv-20260101-20260101", 1, None)]


def test_tests_are_exported_and_forgotten_with_the_client(
    layout: StorageLayout, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    lift(layout, engine, TV)
    exporter = lift_exporter(settings)
    assert isinstance(exporter, TableExporter)
    stream = exporter.table_stream("acme")
    assert stream.rows == 1 and pd.concat(b.to_pandas() for b in stream.batches)["test_id"].tolist() == [
        "tv-20260201-20260228"
    ]
    written = exporter.export("acme", tmp_path)
    assert (written.files, written.records, written.unit) == (1, 1, "lift tests")
    store = TablesClientStore(settings)
    assert "acme" in store.held_client_ids()
    assert store.forget_client("acme") > 0
    assert not lift_dir(layout, "acme").exists() and read_lift(layout, "acme").empty


@hypothesis_settings(max_examples=60, deadline=None)
@given(
    estimate=st.floats(-1e6, 1e6),
    se=st.floats(1e-3, 1e5),
    level=st.floats(0.5, 0.999),
    percent=st.booleans(),
)
def test_an_interval_gives_back_the_standard_error_it_was_made_of(
    estimate: float, se: float, level: float, percent: bool
) -> None:
    half = NormalDist().inv_cdf((1 + level) / 2) * se
    row = {
        "channel": "tv",
        "start": "2026-01-01",
        "end": "2026-01-07",
        "roi": estimate,
        "ci_lower": estimate - half,
        "ci_upper": estimate + half,
        "ci_level": level * 100 if percent and level < 0.99 else level,
    }
    (test,) = validate_lift(pd.DataFrame([row])).tests
    assert test["estimate_se"] == pytest.approx(se, rel=1e-6, abs=1e-9)
    assert test["ci_level"] == pytest.approx(level) and test["se_source"] == "interval"
