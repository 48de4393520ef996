"""The media-mix data at the KPI's grain: weekly series kept weekly, daily spend summed into weeks, spend coarser
than the KPI refused, gaps named by date."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from core.errors import InvalidInput, NotReady
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import Tenants
from features.media_mix_data import (
    align_media_mix,
    data_digest,
    media_mix_inputs,
    pick_controls,
    pick_kpi,
    spend_at_grain,
)
from strategy.media_mix import fit_media_mix
from tracking.cadence import Cadence
from tracking.kpi import import_kpi_file, kpi_cadence, read_kpi
from tracking.spend import import_spend_file, read_spend

DATA = Path(__file__).parents[1] / "tracking" / "data"
MONDAY = date(2024, 1, 1)


def weekly_kpi(weeks: int = 4, first: date = MONDAY) -> pd.DataFrame:
    dates = [first + timedelta(days=7 * i) for i in range(weeks)]
    return pd.DataFrame({"date": dates, "revenue": [100.0 + i for i in range(weeks)], "promo": 0.0})


def spend_rows(rows: list[tuple[date, str, float, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["date", "channel", "spend", "period_days"]).assign(
        campaign_id=lambda f: f["channel"]
    )


def test_weekly_kpi_and_weekly_spend_stay_weekly() -> None:
    spend = spend_rows([(MONDAY + timedelta(days=7 * i), "tv", 70.0 * (i + 1), 7) for i in range(4)])
    series = align_media_mix(weekly_kpi(), Cadence.WEEK, spend, "revenue")
    assert (series.cadence, series.period_days, series.warnings) == (Cadence.WEEK, 7, ())
    assert series.spend["tv"].tolist() == [70.0, 140.0, 210.0, 280.0]
    assert series.frame.index[1] == pd.Timestamp("2024-01-08") and series.frame["revenue"].tolist()[0] == 100.0


def test_daily_spend_is_summed_into_the_kpis_weeks_and_partial_weeks_are_left_out() -> None:
    days = [MONDAY + timedelta(days=d) for d in range(3, 28)]  # Thursday of week 1 to Sunday of week 4
    spend = spend_rows([(d, "search", 1.0, 1) for d in days] + [(date(2024, 1, 10), "tv", 50.0, 1)])
    series = align_media_mix(weekly_kpi(), Cadence.WEEK, spend, "revenue")
    assert series.frame.index.tolist() == [pd.Timestamp(d) for d in ("2024-01-08", "2024-01-15", "2024-01-22")]
    assert series.spend["search"].tolist() == [7.0, 7.0, 7.0]
    assert series.spend["tv"].tolist() == [50.0, 0.0, 0.0]
    assert series.warnings == ("fitted on 2024-01-08 to 2024-01-22, the weeks with both KPI and spend",)


def test_sunday_weeks_and_daily_spend_align_on_sundays() -> None:
    sunday = date(2023, 12, 31)
    spend = spend_rows([(sunday + timedelta(days=d), "search", 2.0, 1) for d in range(14)])
    series = align_media_mix(weekly_kpi(2, sunday), Cadence.WEEK, spend, "revenue")
    assert series.spend["search"].tolist() == [14.0, 14.0]


def test_spend_coarser_than_the_kpi_or_on_another_week_start_is_refused() -> None:
    daily_kpi = pd.DataFrame({"date": [MONDAY + timedelta(days=d) for d in range(14)], "revenue": 1.0})
    weekly_tv = spend_rows([(MONDAY, "tv", 700.0, 7), (MONDAY, "search", 1.0, 1)])
    with pytest.raises(InvalidInput, match="the spend of tv is weekly, coarser than the daily KPI: import the KPI"):
        align_media_mix(daily_kpi, Cadence.DAY, weekly_tv, "revenue")
    with pytest.raises(InvalidInput, match="coarser than the daily KPI"):
        spend_at_grain(weekly_tv)
    sundays = spend_rows([(date(2023, 12, 31), "tv", 700.0, 7), (date(2024, 1, 7), "tv", 700.0, 7)])
    with pytest.raises(InvalidInput, match=r"spend weeks of tv start on Sundays \(2023-12-31, 2024-01-07\), the KPI's"):
        align_media_mix(weekly_kpi(), Cadence.WEEK, sundays, "revenue")


def test_gaps_are_named_by_date() -> None:
    spend = spend_rows([(MONDAY + timedelta(days=7 * i), "tv", 70.0, 7) for i in (0, 1, 3)])
    series = align_media_mix(weekly_kpi(), Cadence.WEEK, spend, "revenue")
    assert series.spend["tv"].tolist() == [70.0, 70.0, 0.0, 70.0]
    assert series.warnings == (
        "7 day(s) in the period have no spend row for any channel: counted as zero spend "
        "(2024-01-15, 2024-01-16, 2024-01-17, 2024-01-18, 2024-01-19 and 2 more)",
    )
    kpi = weekly_kpi().assign(revenue=[100.0, float("nan"), float("nan"), 103.0])
    with pytest.raises(InvalidInput, match=r"missing weeks: no value on 2 week\(s\) .* \(2024-01-08, 2024-01-15\)"):
        align_media_mix(kpi, Cadence.WEEK, spend, "revenue")
    with pytest.raises(InvalidInput, match="share no whole week"):
        align_media_mix(weekly_kpi(1, date(2025, 1, 6)), Cadence.WEEK, spend, "revenue")
    with pytest.raises(InvalidInput, match=r"no spend for channels \['cinema'\]"):
        align_media_mix(weekly_kpi(), Cadence.WEEK, spend, "revenue", channels=["cinema"])


def test_the_customers_weekly_pair_is_read_and_fitted_at_its_grain(settings: Settings) -> None:
    layout = StorageLayout.from_settings(settings)
    client = Tenants.from_settings(settings).create_client("Shop", ["shop.example"], client_id="shop").client
    import_kpi_file(layout, "shop", DATA / "weekly_kpi.csv")
    import_spend_file(layout, "shop", DATA / "weekly_spend.csv")
    series = align_media_mix(
        read_kpi(layout, "shop"), kpi_cadence(layout, "shop"), read_spend(layout, "shop"), "revenue"
    )
    assert (series.cadence, len(series.frame), series.warnings) == (Cadence.WEEK, 208, ())
    assert sorted(series.spend.columns) == ["facebook", "ooh", "print", "search", "tv"]
    assert series.spend.to_numpy().sum() == pytest.approx(read_spend(layout, "shop")["spend"].sum())
    result = fit_media_mix(settings, client, n_draws=5)
    report = result.fit_report
    assert (report["cadence"], report["period_days"], report["n_periods"], report["n_days"]) == ("week", 7, 208, 1456)
    assert report["holdout"]["n_periods"] == 26 and report["holdout"]["mape"] < 0.05
    assert "weekday_tue" not in result.model.base_columns_ and "sin_year_1" in result.model.base_columns_
    # facebook spends every week; with the model's weak priors it is no longer credited with the whole KPI
    assert not any("more than the whole KPI" in w for w in result.warnings)
    recent = series.spend.tail(4)  # RECENT_DAYS: four weeks, read per day
    for name, daily in result.current_daily_spend.items():
        assert daily == pytest.approx(recent[name].mean() / 7)


def test_campaign_curves_leave_weekly_spend_out(settings: Settings) -> None:
    from strategy.budget import recommend_budget

    layout = StorageLayout.from_settings(settings)
    client = Tenants.from_settings(settings).create_client("Shop", ["shop.example"], client_id="shop").client
    weeks = "date,campaign,spend\n2024-01-01,brand,700\n2024-01-08,brand,700\n2024-01-15,brand,700\n"
    import_spend_file(layout, "shop", _write(settings, weeks))
    with pytest.raises(NotReady, match="weekly spend of brand needs --mode media-mix"):
        recommend_budget(settings, client, 100.0, load_sessions=lambda _client: pd.DataFrame())


def _write(settings: Settings, text: str) -> Path:
    path = Path(settings.home) / "weekly.csv"
    path.write_text(text)
    return path


def test_media_mix_inputs_give_the_model_its_inputs_and_a_digest(settings: Settings) -> None:
    layout = StorageLayout.from_settings(settings)
    Tenants.from_settings(settings).create_client("Shop", ["shop.example"], client_id="shop")
    with pytest.raises(NotReady, match="xmo kpi import shop"):
        media_mix_inputs(settings, "shop")
    import_kpi_file(layout, "shop", DATA / "weekly_kpi.csv")
    with pytest.raises(NotReady, match="xmo spend import shop"):
        media_mix_inputs(settings, "shop")
    import_spend_file(layout, "shop", DATA / "weekly_spend.csv")
    inputs = media_mix_inputs(settings, "shop")
    assert (inputs.kpi, inputs.period_days, len(inputs.X), len(inputs.y)) == ("revenue", 7, 208, 208)
    assert inputs.channels == ("facebook", "ooh", "print", "search", "tv")
    assert inputs.controls == ("competitor_sales_b", "events", "newsletter")
    assert list(inputs.X.columns) == ["date", *inputs.channels, *inputs.controls]
    assert inputs.y[0] == pytest.approx(1870140.04)
    assert media_mix_inputs(settings, "shop").digest == inputs.digest  # same data, same digest
    fewer = media_mix_inputs(settings, "shop", controls=["events"])
    assert fewer.controls == ("events",) and fewer.digest != inputs.digest
    changed = inputs.X.assign(tv=inputs.X["tv"] + 1.0)
    assert data_digest(changed, inputs.y) != inputs.digest
    with pytest.raises(InvalidInput, match="no KPI column 'profit'"):
        media_mix_inputs(settings, "shop", kpi="profit")
    with pytest.raises(InvalidInput, match="control columns"):
        media_mix_inputs(settings, "shop", controls=["weather"])


def test_pick_kpi_and_controls() -> None:
    assert pick_kpi(["promo", "conversions", "revenue"], None) == "revenue"
    assert pick_kpi(["orders_total"], None) == "orders_total"
    with pytest.raises(InvalidInput, match="name the KPI"):
        pick_kpi(["a", "b"], None)
    frame = pd.DataFrame({"revenue": [1.0, 2.0], "orders": [1, 2], "promo": [0, 1], "temp": [None, 3.0]})
    warnings: list[str] = []
    assert pick_controls(frame, "revenue", None, warnings) == ["promo"]
    assert warnings and "'temp'" in warnings[0]
