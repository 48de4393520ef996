"""bench_mmm's scoring: the truth scores perfectly, daily curves read per week, and xmo's weekly side runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from bench_mmm import MeanOfDraws, MixFit, WeeklyCurve, _inputs, fit_xmo, marginal_roi, score_model, summarize
from mmm_worlds import WeeklyWorld, simulate_weekly_world

from models.mediamix import ChannelResponse


@pytest.fixture(scope="module")
def world() -> WeeklyWorld:
    return simulate_weekly_world("demand", 31, weeks=104, n_channels=4, follows_demand=True, lift_channel="search")


def _truth_as_model(world: WeeklyWorld) -> MixFit:
    media = world.contributions[list(world.channels)]
    return MixFit(world.baseline + media.sum(axis=1).to_numpy(), media, world.truth, 0.1, cross_validated=True)


def test_the_truth_scores_perfectly(world: WeeklyWorld) -> None:
    truth = _truth_as_model(world)
    row = score_model(world, "truth", truth, truth, truth, 83)
    assert row["effect_share_mae"] == pytest.approx(0.0, abs=1e-12)
    assert max(abs(e) for e in row["roi_error"].values()) < 1e-9
    assert row["tested_roi_error"] < 1e-9 and row["tested_roi_error_with_lift"] < 1e-9
    assert row["share_of_oracle_gain"] == pytest.approx(1.0, abs=0.01)
    assert row["refresh_max_change_share"] == 0.0
    assert row["test_mape"] < 0.08  # only the noise (4 % of the KPI) is left
    assert all(share == pytest.approx(1.0, abs=0.01) for share in row["share_of_oracle_gain_by_rule"].values())
    assert row["share_of_oracle_gain_uncalibrated"] == pytest.approx(1.0, abs=0.01)
    for diagnostic in row["channel_diagnostic"].values():
        assert diagnostic["fitted_marginal_roi"] == pytest.approx(diagnostic["true_marginal_roi"])
        assert diagnostic["recommended"] == pytest.approx(diagnostic["oracle"], rel=0.05, abs=0.01 * row["oracle"])
    summary, targets = summarize(
        [{"stable": True, "weeks": 104, "channels": world.channels, "models": {"xmo": row, "reference": row}}]
    )
    assert targets["mean_effect_share_mae"]["met"] and targets["worst_share_of_oracle_gain"]["met"]
    assert targets["calibration_roi_error_ratio"]["met"] and summary["xmo"]["calibration_ratio"] <= 1e-6


def test_a_worse_model_scores_worse(world: WeeklyWorld) -> None:
    truth = _truth_as_model(world)
    flipped = dict(zip(world.channels, reversed(list(world.truth.values())), strict=True))
    media = truth.contributions[list(reversed(world.channels))].set_axis(list(world.channels), axis=1)
    wrong = MixFit(truth.predicted * 1.1, media, flipped, 0.1, cross_validated=False)
    row = score_model(world, "wrong", wrong, truth, None, 83)
    assert row["test_mape"] > 0.05 and row["effect_share_mae"] > 0.02
    assert row["share_of_oracle_gain"] < 0.97 and row["refresh_max_change_share"] > 0.0
    assert row["tested_roi_error_with_lift"] is None and row["share_of_oracle_gain_uncalibrated"] is None
    wrong_order = [
        (d["fitted_marginal_roi"] > e["fitted_marginal_roi"]) != (d["true_marginal_roi"] > e["true_marginal_roi"])
        for d in row["channel_diagnostic"].values()
        for e in row["channel_diagnostic"].values()
    ]
    assert any(wrong_order)  # the diagnostic shows the curves that send money the wrong way


def test_the_mean_of_draws_curve_is_the_draws_mean_and_marginal_roi_is_the_slope() -> None:
    draws = np.array([[100.0, 50.0, 1.0, 0.3], [300.0, 50.0, 1.0, 0.3]])
    curve = WeeklyCurve(ChannelResponse("tv", 100.0, 50.0, 1.0, 0.3, draws, period_days=7))
    mean = MeanOfDraws(curve)
    assert mean.steady_state(np.array([350.0, 700.0])) == pytest.approx(
        [np.mean(curve.steady_state_draws(350.0)), np.mean(curve.steady_state_draws(700.0))]
    )
    assert float(mean.steady_state(350.0)) == pytest.approx(2 * float(curve.steady_state(350.0)))
    assert mean.steady_state_draws(350.0) == pytest.approx(curve.steady_state_draws(350.0))
    assert marginal_roi(curve, 350.0) == pytest.approx(100.0 * 50.0 / (50.0 + 350.0) ** 2, rel=0.01)


def test_weekly_inputs_and_curves_read_per_week(world: WeeklyWorld) -> None:
    inputs = _inputs(world.frame.iloc[:3], world.channels, world.controls)
    assert list(inputs.columns) == ["date", *world.channels, *world.controls]
    assert (inputs["date"] == world.frame["week"].iloc[:3]).all() and (inputs["tv"] == world.frame["tv"].iloc[:3]).all()
    daily = ChannelResponse("tv", 100.0, 50.0, 1.5, 0.3, np.array([[100.0, 50.0, 1.5, 0.3]]))
    weekly = WeeklyCurve(daily)
    assert float(weekly.steady_state(700.0)) == pytest.approx(7 * float(daily.steady_state(100.0)))
    assert weekly.steady_state_draws(700.0) == pytest.approx(7 * daily.steady_state_draws(100.0))
    fitted_weekly = ChannelResponse("tv", 700.0, 350.0, 1.5, 0.3, np.array([[700.0, 350.0, 1.5, 0.3]]), period_days=7)
    assert float(WeeklyCurve(fitted_weekly).steady_state(700.0)) == pytest.approx(700.0 * 2**1.5 / (1 + 2**1.5))


def test_xmo_runs_on_weeks(world: WeeklyWorld) -> None:
    assert world.lift_test is not None
    fit = fit_xmo(world, 83)  # families chosen by cross-validation on the 83 training weeks
    assert fit is not None and fit.cross_validated and fit.cv is not None and fit.families is not None
    assert fit.cv.folds[-1].n_train + fit.cv.folds[-1].n_test == 83  # the test weeks stay unseen
    assert len(fit.families["table"]) == 5 and fit.families["adstock"] in ("geometric", "weibull", "delayed")
    assert len(fit.predicted) == world.weeks and list(fit.contributions.columns) == list(world.channels)
    y = world.frame["revenue"].to_numpy()
    assert float(np.mean(np.abs(fit.predicted[:83] / y[:83] - 1))) < 0.08
    assert isinstance(fit.contributions, pd.DataFrame) and (fit.contributions.to_numpy() >= 0).all()
    plain = fit_xmo(world, 83, choose=False)
    calibrated = fit_xmo(world, 83, (world.lift_test,), choose=False)
    assert plain is not None and calibrated is not None and not plain.cross_validated and plain.cv is None
    assert not np.allclose(calibrated.contributions["search"], plain.contributions["search"])
