"""Forward plans of the media-mix model on the weekly fixture pair: the window, future controls, the forecast."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import InvalidInput
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import Client, Tenants
from features.media_mix_data import MediaMixInputs, media_mix_inputs
from models.mediamix import MediaMixModel
from serving.answers import BudgetLadderOut, BudgetRecommendationOut
from strategy.budget import ForwardOptions, budget_ladder, recommend_budget
from strategy.forward_plan import (
    ForwardPlanner,
    future_controls,
    plan_window,
    read_controls_file,
)
from strategy.media_mix_source import MediaMixSource, fitted_for_request
from tracking.kpi import import_kpi_file
from tracking.spend import import_spend_file

HomeAt = Callable[[Path], AbstractContextManager[Settings]]  # the home_at fixture (tests/conftest.py)
DATA = Path(__file__).parents[1] / "tracking" / "data"
LAST_WEEK = pd.Timestamp("2025-12-22")  # the fixture pair's last week (208 weeks from 2022-01-03)


@dataclass(frozen=True)
class Weekly:
    settings: Settings
    client: Client
    inputs: MediaMixInputs
    model: MediaMixModel


@pytest.fixture(scope="module")
def weekly(home_at: HomeAt, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Weekly]:
    with home_at(tmp_path_factory.mktemp("forward")) as settings:
        client = Tenants.from_settings(settings).create_client("Shop", ["shop.example"], client_id="shop").client
        layout = StorageLayout.from_settings(settings)
        import_kpi_file(layout, "shop", DATA / "weekly_kpi.csv")
        import_spend_file(layout, "shop", DATA / "weekly_spend.csv")
        inputs = media_mix_inputs(settings, "shop")
        model = MediaMixModel(  # families other than the default: the forecast must not assume geometric + Hill
            channels=list(inputs.channels),
            controls=list(inputs.controls),
            period_days=7,
            n_draws=10,
            holdout_share=0,
            adstock="delayed",
            saturation="logistic",
        ).fit(inputs.X, inputs.y)
        yield Weekly(settings, client, inputs, model)


def planner(weekly: Weekly, period: str = "quarter", days: int = 91, start: str | None = None) -> ForwardPlanner:
    window = plan_window(weekly.inputs.dates[-1], 7, period, days, start)
    controls = future_controls(weekly.inputs.X, list(weekly.model.controls_), window)
    current = {c: float(weekly.inputs.X[c].tail(4).mean()) / 7 for c in weekly.model.channels_}
    return ForwardPlanner(
        weekly.model, weekly.inputs.X, kpi="revenue", window=window, controls=controls, current=current
    )


def test_a_forecast_is_the_models_prediction_on_history_and_future_rows(weekly: Weekly) -> None:
    plan = planner(weekly)
    spend = {c: 1000.0 * (i + 1) for i, c in enumerate(weekly.model.channels_)}
    forecast = plan.forecast(spend)
    frame = plan.frame(spend)
    assert len(frame) == len(weekly.inputs.X) + 13
    future = frame["date"].iloc[len(weekly.inputs.X) :]
    assert future.iloc[0] == LAST_WEEK + pd.Timedelta(days=7) and (future.diff().dropna().dt.days == 7).all()
    assert (frame[list(spend)].iloc[len(weekly.inputs.X) :] == pd.Series(spend) * 7).all().all(), "per week"
    predicted = weekly.model.predict(frame)[len(weekly.inputs.X) :]
    np.testing.assert_allclose(forecast.per_period["predicted"], predicted)
    bands = weekly.model.predict_interval(frame).iloc[len(weekly.inputs.X) :]
    np.testing.assert_allclose(forecast.per_period["lower"], bands["lower"])
    np.testing.assert_allclose(forecast.per_period["upper"], bands["upper"])
    assert forecast.predicted == pytest.approx(predicted.sum())
    assert forecast.baseline + forecast.media_effect == pytest.approx(forecast.predicted)
    low, high = forecast.interval
    assert low < forecast.predicted < high, "the total's interval is about the model's own forecast"
    assert forecast.per_period["lower"].sum() < high and low < forecast.per_period["upper"].sum()
    totals = weekly.model.predict_draws(frame)[:, len(weekly.inputs.X) :].sum(axis=1)
    assert np.mean((totals >= low) & (totals <= high)) >= 0.8, "the draws' totals, noise aside, lie within it"
    assert forecast.spend == pytest.approx(sum(spend.values()) * 91)
    data = forecast.to_dict()
    assert (data["start"], data["end"], data["n_periods"]) == ("2025-12-29", "2026-03-29", 13)
    assert len(data["per_period"]) == 13 and data["controls_source"] == "carried forward"


def test_a_plan_that_spends_nothing_still_gets_the_tail_of_past_spend(weekly: Weekly) -> None:
    plan = planner(weekly)
    idle = plan.forecast(dict.fromkeys(weekly.model.channels_, 0.0))
    media = idle.per_period["media"].to_numpy()
    assert idle.media_effect > 0 and idle.carryover == pytest.approx(idle.media_effect)
    assert media[0] > media[-1] >= 0 and (np.diff(media) <= 1e-9).all(), "the carry-over fades week by week"
    spending = plan.forecast(plan.current)
    assert spending.media_effect > idle.media_effect and spending.carryover == pytest.approx(idle.carryover)
    month = planner(weekly, "month", 30).forecast(plan.current)
    assert month.sentence(1000.0).startswith("Next 4 weeks from 2025-12-29 at 1,000 per month: expected revenue ")
    assert f"of which media {month.media_effect / 1e6:,.2f} M" in month.sentence(1000.0), "below 10 M: 3 digits"


def test_the_window_starts_after_the_data_on_the_models_weeks(weekly: Weekly) -> None:
    last = weekly.inputs.dates[-1]
    default = plan_window(last, 7, "quarter", 91)
    first = LAST_WEEK + pd.Timedelta(days=7)
    assert (default.start, default.gap, default.n_periods, default.notes) == (first, 0, 13, ())
    later = plan_window(last, 7, "quarter", 91, "2026-01-01")  # a Thursday
    assert later.start == pd.Timestamp("2026-01-05") and later.gap == 1 and "Mondays" in later.notes[0]
    month = plan_window(last, 7, "month", 30)
    assert month.n_periods == 4 and "28 days" in month.notes[0]
    with pytest.raises(InvalidInput, match=r"start 2025-12-24 is not after the data.*2025-12-28.*2025-12-29"):
        plan_window(last, 7, "quarter", 91, "2025-12-24")
    with pytest.raises(InvalidInput, match="more than 730 days"):
        plan_window(last, 7, "quarter", 91, "2029-01-01")
    with pytest.raises(InvalidInput, match="must be a date"):
        plan_window(last, 7, "quarter", 91, "next monday")


def test_controls_carry_forward_from_the_same_weeks_a_year_earlier(weekly: Weekly) -> None:
    window = plan_window(weekly.inputs.dates[-1], 7, "quarter", 91, "2026-01-05")
    carried = future_controls(weekly.inputs.X, ["events", "newsletter"], window)
    history = weekly.inputs.X.set_index("date")
    first = carried.frame.iloc[0]
    assert first["date"] == pd.Timestamp("2025-12-29"), "the gap week is filled too"
    assert first["newsletter"] == history.loc[pd.Timestamp("2024-12-30"), "newsletter"]
    assert carried.source == "carried forward" and "2024-12-30" in carried.note
    none = future_controls(weekly.inputs.X, [], window, pd.DataFrame({"date": window.dates}))
    assert list(none.frame.columns) == ["date"] and none.note == "the model has no controls: the file is not used"
    short = weekly.inputs.X.tail(30)
    fallback = future_controls(short, ["events"], window)
    assert (fallback.frame["events"] == short["events"].iloc[-1]).all() and "last week" in fallback.note


def test_controls_from_a_file_and_its_errors(weekly: Weekly, tmp_path: Path) -> None:
    window = plan_window(weekly.inputs.dates[-1], 7, "quarter", 91)
    controls = list(weekly.model.controls_)
    weeks = window.dates
    good = pd.DataFrame({"date": weeks.strftime("%Y-%m-%d"), **{c: 1.0 for c in controls}})
    path = tmp_path / "controls.csv"
    good.to_csv(path, index=False)
    given = future_controls(weekly.inputs.X, controls, window, read_controls_file(path))
    assert given.source == "file" and (given.frame[controls].to_numpy() == 1.0).all()
    for frame, message in (
        (good.drop(columns=[controls[0]]), f"no column '{controls[0]}'"),
        (good.iloc[:-1], "no row for the week of 2026-03-23"),
        (good.assign(date=(weeks + pd.Timedelta(days=1)).strftime("%Y-%m-%d")), "not a week start"),
    ):
        with pytest.raises(InvalidInput, match=message):
            future_controls(weekly.inputs.X, controls, window, frame)
    bad = good.astype(object)
    bad.loc[0, controls[0]] = "n/a"
    bad.to_csv(path, index=False)
    with pytest.raises(InvalidInput, match=rf"row 1.*{controls[0]}.*not a number"):
        read_controls_file(path)


def small_fit(settings: Settings, client: Client, kpi: str | None) -> MediaMixSource:
    return fitted_for_request(settings, client, kpi, n_draws=5)


def test_media_mix_plans_and_ladders_carry_the_forecast(weekly: Weekly) -> None:
    forward = ForwardOptions(start="2026-01-05")
    plan = recommend_budget(
        weekly.settings, weekly.client, period="quarter", mode="media-mix", load_media_mix=small_fit, forward=forward
    ).to_dict()
    answered = BudgetRecommendationOut.model_validate(plan)
    assert answered.forecast is not None and answered.forecast.start == "2026-01-05"
    assert plan["period_days"] == 91 and plan["model_version"] is None
    forecast = plan["forecast"]
    assert forecast["spend"] == pytest.approx(plan["total"])
    assert forecast["sentence"].startswith("The quarter from 2026-01-05 at ")
    ladder = budget_ladder(
        weekly.settings, weekly.client, period="quarter", mode="media-mix", load_media_mix=small_fit, forward=forward
    ).to_dict()
    BudgetLadderOut.model_validate(ladder)
    rows = ladder["rows"]
    assert ladder["forecast"]["start"] == "2026-01-05" and all("forecast_interval" in r for r in rows)
    predicted = [r["forecast_predicted"] for r in rows]
    assert predicted == sorted(predicted), "more money never forecasts less (β ≥ 0)"
    with pytest.raises(InvalidInput, match="media-mix mode"):
        recommend_budget(weekly.settings, weekly.client, mode="attributed", forward=forward)
