"""The weekly media-mix worlds: their truth adds up to the KPI, carry-over settles, the lift test is what it says."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mmm_worlds import MAX_LAG, WeeklyWorld, adstock_weights, carry_over, simulate_weekly_world

from tracking.lift import validate_lift


@pytest.fixture(scope="module")
def plain() -> WeeklyWorld:
    return simulate_weekly_world("plain", 11, weeks=104, n_channels=4)


@pytest.fixture(scope="module")
def demand() -> WeeklyWorld:
    return simulate_weekly_world("demand", 11, weeks=104, n_channels=4, follows_demand=True, lift_channel="search")


@pytest.mark.parametrize(
    ("family", "params"), [("geometric", (0.5,)), ("delayed", (0.6, 2.0)), ("weibull", (2.0, 2.5))]
)
def test_adstock_weights_sum_to_one_and_constant_spend_settles(family: str, params: tuple[float, ...]) -> None:
    weights = adstock_weights(family, params)
    assert weights.sum() == pytest.approx(1.0) and (weights >= 0).all()
    assert np.allclose(carry_over(np.full(30, 250.0), weights), 250.0)
    if family != "geometric":
        assert int(np.argmax(weights)) >= 1  # delayed: the peak comes after the week of spend
    with pytest.raises(ValueError, match="unknown adstock"):
        adstock_weights("linear", params)


def test_kpi_is_baseline_plus_media_plus_noise(plain: WeeklyWorld) -> None:
    media = plain.contributions[list(plain.channels)].sum(axis=1).to_numpy()
    residual = plain.frame["revenue"].to_numpy() - plain.baseline - media
    assert abs(residual.mean()) < 0.3 * plain.noise_sd
    assert 0.7 < residual.std() / plain.noise_sd < 1.3
    assert 0.1 < media.sum() / plain.frame["revenue"].sum() < 0.5
    settled = slice(MAX_LAG - 1, None)  # from here on the weeks before the data no longer carry over
    for channel, curve in plain.truth.items():
        effect = curve.effect(plain.frame[channel].to_numpy())
        assert np.allclose(effect[settled], plain.contributions[channel].iloc[settled])
        assert curve.steady_state(0.0) == 0.0 and curve.steady_state(2e5) > curve.steady_state(1e5)


def test_shares_and_roi_follow_the_contributions(plain: WeeklyWorld) -> None:
    rows = slice(0, 80)
    shares = plain.true_effect_shares(rows)
    assert sum(shares.values()) == pytest.approx(1.0)
    roi = plain.true_roi(rows)
    channel = plain.channels[0]
    expected = plain.contributions[channel].iloc[rows].sum() / plain.frame[channel].iloc[rows].sum()
    assert roi[channel] == pytest.approx(expected)


def test_spend_follows_demand_only_where_asked(plain: WeeklyWorld, demand: WeeklyWorld) -> None:
    def correlation(world: WeeklyWorld) -> float:
        return float(np.corrcoef(world.frame["search"], world.baseline)[0, 1])

    assert correlation(demand) > 0.5 > correlation(plain)


def test_lift_test_withholds_a_quarter_of_the_spend_in_its_window(demand: WeeklyWorld) -> None:
    lift = demand.lift_test
    assert lift is not None and lift.channel == "search"
    weeks = demand.frame["week"]
    window = ((weeks >= lift.start) & (weeks <= lift.end)).to_numpy()
    assert window.sum() == 6 and lift.end - lift.start == np.timedelta64(41, "D")
    ran = demand.frame.loc[window, "search"].sum()
    assert lift.spend_as_run == pytest.approx(ran)
    assert lift.withheld_spend == pytest.approx(ran * lift.regions_share / (1 - lift.regions_share))
    assert lift.true_incremental_kpi > 0 and lift.standard_error == pytest.approx(0.15 * lift.true_incremental_kpi)
    # the market's effect in the window sits below what the full plan would have bought, by the true lift
    planned = demand.frame["search"].to_numpy().copy()
    planned[window] /= 1 - lift.regions_share
    full = demand.truth["search"].effect(planned)[window].sum()
    assert full - demand.contributions.loc[window, "search"].sum() == pytest.approx(lift.true_incremental_kpi)


def test_lift_record_is_a_cut_as_xmo_lift_import_reads_it(demand: WeeklyWorld) -> None:
    lift = demand.lift_test
    assert lift is not None
    record = lift.record()
    assert record["start_date"] == str(lift.start.date()) and record["end_date"] == str(lift.end.date())
    assert record["spend_change"] < 0 and record["incremental_kpi"] < 0  # a cut bought negative KPI
    assert record["spend"] - record["spend_change"] == pytest.approx(lift.spend_as_run + lift.withheld_spend, abs=0.02)
    assert record["incremental_kpi"] / record["spend_change"] == pytest.approx(
        lift.incremental_kpi / lift.withheld_spend
    )
    assert record["standard_error"] > 0 and record["kpi"] == "revenue" and record["scope"] == "immediate"
    (test,) = validate_lift(pd.DataFrame([record])).tests  # xmo's own reading of the row
    assert test["measure"] == "incremental_kpi" and test["days"] == 42 and test["spend_change"] < 0


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="weeks"):
        simulate_weekly_world("short", 1, weeks=52)
    with pytest.raises(ValueError, match="channels"):
        simulate_weekly_world("wide", 1, n_channels=8)
