"""Media-mix fits from a client's stored KPI and spend tables."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import InvalidInput, NotReady
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import Client, Tenants
from models.mediamix import ChannelResponse
from models.mediamix_simulation import MediaMixWorld, simulate_media_mix
from models.response import hill
from serving.answers import BudgetRecommendationOut, MediaMixFit
from strategy.media_mix import RECENT_DAYS, daily_channel_spend, fit_media_mix, pick_kpi
from tracking.kpi import import_kpi, import_kpi_file
from tracking.spend import import_spend_file, read_spend, upsert_spend

N_DAYS = 400
WEEKLY_DATA = Path(__file__).parents[1] / "tracking" / "data"


@pytest.fixture(scope="module")
def world() -> MediaMixWorld:
    return simulate_media_mix(N_DAYS, 3, noise=0.05, seed=8)


@pytest.fixture
def client(settings: Settings) -> Client:
    return Tenants.from_settings(settings).create_client("Shop", ["shop.example"], client_id="shop").client


def _store_spend(
    settings: Settings, world: MediaMixWorld, *, split_tv: bool = False, with_channel: bool = True
) -> None:
    """Spend rows per (day, campaign); offline channels carry the channel name as campaign id."""
    rows = []
    for name in world.channels:
        spend = world.frame[name].to_numpy()
        parts = [(f"{name}-a", 0.4), (f"{name}-b", 0.6)] if split_tv and name == "tv" else [(name, 1.0)]
        for campaign, share in parts:
            rows.append(
                pd.DataFrame(
                    {
                        "date": world.frame["date"].dt.date,
                        "campaign_id": campaign,
                        "channel": name if with_channel else None,
                        "spend": spend * share,
                    }
                )
            )
    upsert_spend(StorageLayout.from_settings(settings), "shop", pd.concat(rows, ignore_index=True))


def _store_kpi(settings: Settings, world: MediaMixWorld, drop_days: tuple[int, ...] = ()) -> None:
    frame = world.frame[["date", world.kpi, *world.controls]].assign(
        date=world.frame["date"].dt.date, conversions=world.y / 80.0
    )
    import_kpi(StorageLayout.from_settings(settings), "shop", frame.drop(index=list(drop_days)))


def test_fits_the_stored_series(settings: Settings, client: Client, world: MediaMixWorld) -> None:
    _store_spend(settings, world, split_tv=True)
    _store_kpi(settings, world)
    result = fit_media_mix(settings, client, n_draws=10)
    assert result.kpi == "revenue"  # picked before conversions
    assert result.outcome_kind == "value"
    assert set(result.curves) == set(world.channels)  # the two TV campaigns are one channel
    assert result.fit_report["controls"] == ["promo"]  # conversions is an outcome, never a control
    assert result.fit_report["n_days"] == N_DAYS
    assert result.fit_report["holdout"]["mape"] < 0.2
    for name in world.channels:
        expected = float(world.frame[name].tail(RECENT_DAYS).mean())
        assert result.current_daily_spend[name] == pytest.approx(expected)
        assert result.curves[name].steady_state_draws(expected).shape == (10,)
    truth = world.true_effect_shares()
    for row in result.fit_report["decomposition"]["channels"]:
        assert row["effect_share"] == pytest.approx(truth[row["channel"]], abs=0.06)
    payload = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert payload["mode"] == "media_mix"
    assert set(payload["channels"]) == set(world.channels)
    tv = payload["channels"]["tv"]
    assert tv["daily_effect_interval"][0] <= tv["daily_effect_interval"][1]


def test_conversions_kpi_and_explicit_controls(settings: Settings, client: Client, world: MediaMixWorld) -> None:
    _store_spend(settings, world)
    _store_kpi(settings, world)
    result = fit_media_mix(settings, client, kpi="conversions", controls=(), n_draws=0, holdout_share=0.0)
    assert result.kpi == "conversions"
    assert result.outcome_kind == "count"
    assert result.fit_report["controls"] == []
    assert result.fit_report["holdout"] is None


def test_campaign_id_stands_in_for_a_missing_channel(settings: Settings, client: Client, world: MediaMixWorld) -> None:
    _store_spend(settings, world, split_tv=True, with_channel=False)
    _store_kpi(settings, world)
    result = fit_media_mix(settings, client, n_draws=0, holdout_share=0.0)
    assert set(result.curves) == {"tv-a", "tv-b", *world.channels[1:]}


def test_daily_channel_spend_sums_campaigns_per_channel() -> None:
    rows = pd.DataFrame(
        {
            "date": ["2024-01-01", "2024-01-01", "2024-01-01", "2024-01-02"],
            "campaign_id": ["tv-a", "tv-b", "radio", "radio"],
            "channel": ["tv", "tv", None, ""],
            "spend": [10.0, 5.0, 3.0, 4.0],
        }
    )
    table = daily_channel_spend(rows)
    assert list(table.columns) == ["radio", "tv"]
    assert table.loc["2024-01-01", "tv"] == 15.0
    assert table.loc["2024-01-02", "tv"] == 0.0
    assert table["radio"].tolist() == [3.0, 4.0]


def test_pick_kpi() -> None:
    assert pick_kpi(["promo", "conversions", "revenue"], None) == "revenue"
    assert pick_kpi(["promo", "orders"], None) == "orders"
    assert pick_kpi(["footfall"], None) == "footfall"
    with pytest.raises(InvalidInput, match="name the KPI"):
        pick_kpi(["footfall", "promo"], None)
    with pytest.raises(InvalidInput, match="no KPI column 'sales'"):
        pick_kpi(["revenue"], "sales")


def test_no_data_is_not_ready(settings: Settings, client: Client, world: MediaMixWorld) -> None:
    with pytest.raises(NotReady, match="kpi import"):
        fit_media_mix(settings, client)
    _store_kpi(settings, world)
    with pytest.raises(NotReady, match="spend import"):
        fit_media_mix(settings, client)


def test_gaps_in_the_kpi_are_refused(settings: Settings, client: Client, world: MediaMixWorld) -> None:
    _store_spend(settings, world)
    _store_kpi(settings, world, drop_days=(100, 101, 102))
    with pytest.raises(InvalidInput, match="missing days"):
        fit_media_mix(settings, client, n_draws=0)


def test_unknown_channel_and_control_are_refused(settings: Settings, client: Client, world: MediaMixWorld) -> None:
    _store_spend(settings, world)
    _store_kpi(settings, world)
    with pytest.raises(InvalidInput, match="no spend for channels"):
        fit_media_mix(settings, client, channels=["cinema"])
    with pytest.raises(InvalidInput, match="control columns"):
        fit_media_mix(settings, client, controls=["weather"])


def test_only_overlapping_days_are_fitted(settings: Settings, client: Client, world: MediaMixWorld) -> None:
    _store_spend(settings, world)
    _store_kpi(settings, world)
    late = world.frame["date"].iloc[-1] + pd.Timedelta(days=30)
    extra = pd.DataFrame({"date": [late.date()], "revenue": [float(np.mean(world.y))]})
    import_kpi(StorageLayout.from_settings(settings), "shop", extra)
    result = fit_media_mix(settings, client, n_draws=0, holdout_share=0.0)
    assert result.fit_report["last_day"] == str(world.frame["date"].iloc[-1].date())
    assert any("days with both KPI and spend" in w for w in result.warnings)


def test_weekly_spend_and_kpi_plan_in_the_periods_asked_for(
    settings: Settings, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    import strategy.media_mix as media_mix
    from strategy.budget import recommend_budget

    layout = StorageLayout.from_settings(settings)
    import_kpi_file(layout, "shop", WEEKLY_DATA / "weekly_kpi.csv")
    import_spend_file(layout, "shop", WEEKLY_DATA / "weekly_spend.csv")
    monkeypatch.setattr(media_mix, "fit_media_mix", functools.partial(media_mix.fit_media_mix, n_draws=5))
    spend = read_spend(layout, "shop")
    last_weeks = spend[pd.to_datetime(spend["date"]) >= pd.Timestamp("2025-12-01")]  # the last four weeks
    weekly_today = last_weeks.groupby("channel")["spend"].sum() / 4
    plans = {period: recommend_budget(settings, client, period=period, mode="media-mix") for period in ("day", "week")}
    week, day = plans["week"].to_dict(), plans["day"].to_dict()
    assert (week["period_days"], week["days_of_data"]) == (7, 208 * 7)
    answered = BudgetRecommendationOut.model_validate(week).fit  # what GET /v1/recommendations/budget answers
    assert isinstance(answered, MediaMixFit)
    assert (answered.cadence, answered.period_days, answered.n_periods, answered.n_days) == ("week", 7, 208, 208 * 7)
    assert answered.holdout is not None and answered.holdout.n_days == answered.holdout.n_periods * 7
    assert week["current_total"] == pytest.approx(weekly_today.sum())
    assert day["current_total"] == pytest.approx(weekly_today.sum() / 7)
    curves = plans["week"].curves
    for row in week["campaigns"]:
        assert row["current_spend"] == pytest.approx(weekly_today[row["campaign_id"]])
        curve = curves[row["campaign_id"]]
        assert isinstance(curve, ChannelResponse) and curve.period_days == 7
        per_week = curve.beta * hill(row["current_spend"], curve.half_saturation, curve.shape)
        assert row["expected_outcome_current"] == pytest.approx(float(per_week))
