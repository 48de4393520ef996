"""Column names of other trackers and ad-platform exports are read as xmo's: built-in aliases and --map."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from core.errors import InvalidInput
from core.settings import Settings
from core.tenants import Tenants
from tracking.columns import EVENT_ALIASES, SPEND_ALIASES, column_key, map_columns, parse_map_options
from tracking.importer import KNOWN_COLUMNS as EVENT_COLUMNS
from tracking.importer import import_events
from tracking.kpi import validate_kpi
from tracking.spend import KNOWN_COLUMNS as SPEND_COLUMNS
from tracking.spend import validate_spend
from tracking.table_files import read_table_file

DATA = Path(__file__).parent / "data"


def spend_map(columns: list[str], overrides: dict[str, str] | None = None) -> dict[str, str]:
    return map_columns(columns, SPEND_ALIASES, known=SPEND_COLUMNS, overrides=overrides).to_dict()


def test_keys_ignore_case_spaces_and_punctuation() -> None:
    assert column_key(" Amount spent (EUR) ") == "amount_spent_eur"
    assert column_key("\ufeffCampaign ID") == "campaign_id" and column_key("segments.date") == "segments_date"


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (["Day", "Campaign", "Cost"], {"Day": "date", "Campaign": "campaign_id", "Cost": "spend"}),
        (
            ["Reporting starts", "Campaign name", "Amount spent (EUR)"],
            {"Reporting starts": "date", "Campaign name": "campaign_id", "Amount spent (EUR)": "spend"},
        ),
        (
            ["segments.date", "utm_campaign", "cost_usd", "Impr."],
            {"segments.date": "date", "utm_campaign": "campaign_id", "cost_usd": "spend", "Impr.": "impressions"},
        ),
        (["Date", "Day", "Campaign ID", "Campaign", "spend"], {"Date": "date", "Campaign ID": "campaign_id"}),
    ],
)
def test_aliases_apply_only_where_the_xmo_column_is_absent(columns: list[str], expected: dict[str, str]) -> None:
    assert spend_map(columns) == expected


def test_a_currency_suffix_counts_only_on_money_columns() -> None:
    assert spend_map(["day", "campaign", "amount_spent_xyz"]) == {"day": "date", "campaign": "campaign_id"}
    assert "impressions_eur" not in spend_map(["day", "campaign", "spend", "impressions_eur"])


def test_two_aliases_of_one_column_are_an_error_naming_both_and_map_chooses() -> None:
    with pytest.raises(InvalidInput, match=r"columns 'Link clicks' and 'Clicks \(all\)' could both be clicks"):
        spend_map(["Day", "Campaign", "Cost", "Link clicks", "Clicks (all)"])
    chosen = spend_map(["Day", "Campaign", "Cost", "Link clicks", "Clicks (all)"], {"clicks (all)": "clicks"})
    assert chosen["Clicks (all)"] == "clicks" and "Link clicks" not in chosen


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"Kosten": "spend"}, "--map 'Kosten': the file has no such column"),
        ({"Cost": "money"}, "'money' is not a column here"),
    ],
)
def test_bad_maps_are_clear_errors(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        spend_map(["Day", "Campaign", "Cost"], overrides)


def test_a_map_onto_a_column_the_file_has_is_a_clash() -> None:
    with pytest.raises(InvalidInput, match="columns 'date' and 'Cost' both name date"):
        spend_map(["date", "Campaign", "Cost"], {"Cost": "date"})
    assert spend_map(["Date", "Campaign", "Cost"], {"Cost": "date"}) == {"Cost": "date", "Campaign": "campaign_id"}
    assert spend_map(["Day", "Campaign", "Cost"], {"Cost": "date"}) == {"Cost": "date", "Campaign": "campaign_id"}


def test_map_options_are_old_equals_new() -> None:
    assert parse_map_options(["Amount spent (EUR)=spend", " a=b=c "]) == {"Amount spent (EUR)": "spend", "a=b": "c"}
    for bad in ("spend", "=spend", "cost="):
        with pytest.raises(InvalidInput, match="FILE_COLUMN=COLUMN"):
            parse_map_options([bad])


def test_a_meta_ads_manager_export_is_read_as_spend() -> None:
    checked = validate_spend(read_table_file(DATA / "meta_ads_export.csv"))
    assert checked.mapping.to_dict() == {
        "reporting starts": "date",
        "campaign name": "campaign_id",
        "amount spent (eur)": "spend",
        "link clicks": "clicks",
    }
    frame = checked.frame.sort_values(["campaign_id", "date"])
    assert frame["campaign_id"].tolist() == ["retargeting", "spring-sale", "spring-sale"]
    assert frame["spend"].tolist() == [40.0, 123.45, 98.10] and frame["clicks"].tolist() == [66, 210, 187]
    assert "reporting ends" in checked.ignored_columns and "reach" in checked.ignored_columns


def test_a_report_row_spanning_several_days_is_refused() -> None:
    rows = read_table_file(DATA / "meta_ads_export.csv")
    rows.loc[1, "reporting ends"] = "2026-01-31"
    with pytest.raises(InvalidInput, match="row 2: reporting starts 2026-01-06 and reporting ends 2026-01-31 differ"):
        validate_spend(rows)


def test_a_google_ads_export_prefers_the_campaign_id_column() -> None:
    checked = validate_spend(read_table_file(DATA / "google_ads_export.csv"))
    assert checked.mapping.to_dict() == {
        "day": "date",
        "campaign id": "campaign_id",
        "cost": "spend",
        "impr.": "impressions",
    }
    assert sorted(set(checked.frame["campaign_id"])) == ["20931447", "20931448"]
    assert "campaign" in checked.ignored_columns
    named = validate_spend(read_table_file(DATA / "google_ads_export.csv"), {"Campaign": "campaign_id"})
    assert sorted(set(named.frame["campaign_id"])) == ["Brand Search", "Generic Search"]


def test_kpi_dates_from_a_report_column_and_ga4_compact_dates() -> None:
    rows = pd.DataFrame({"Date": ["20260105", "20260106"], "revenue": ["10", "12.5"]}, dtype=object)
    assert validate_kpi(rows)["date"].astype(str).tolist() == ["2026-01-05", "2026-01-06"]
    rows = pd.DataFrame({"Day": ["2026-01-05"], "Umsatz": ["9"]}, dtype=object)
    kpi = validate_kpi(rows, {"Umsatz": "revenue"})
    assert list(kpi.columns) == ["date", "revenue"] and kpi["revenue"].tolist() == [9.0]


def test_event_aliases_feed_the_importer(settings: Settings, tmp_path: Path) -> None:
    Tenants.from_settings(settings).create_client("Shop", ["shop.example.com"])
    now = datetime.now(UTC)
    path = tmp_path / "plausible.csv"
    pd.DataFrame(
        {
            "Time": [(now - timedelta(days=2, minutes=i)).isoformat() for i in range(3)],
            "Event": ["pageview", "pageview", "goal"],
            "user_pseudo_id": ["ga-1", "ga-1", "ga-2"],
            "Campaign": ["spring"] * 3,
            "ad_name": ["banner-a", "banner-b", "banner-a"],
            "unrelated": ["x"] * 3,
        }
    ).to_csv(path, index=False)
    report = import_events(settings, "shop", path)
    assert report.accepted == 3 and report.ignored_columns == ("unrelated",)
    assert report.mapped_columns == {
        "Time": "timestamp",
        "Event": "event_type",
        "user_pseudo_id": "visitor_id",
        "Campaign": "campaign_id",
        "ad_name": "creative_id",
    }
    with pytest.raises(InvalidInput, match=r"--map 'kind': the file has no such column"):
        import_events(settings, "shop", path, overrides={"kind": "event_type"})
    assert set(EVENT_ALIASES) <= set(EVENT_COLUMNS), "aliases name columns the importer reads"
