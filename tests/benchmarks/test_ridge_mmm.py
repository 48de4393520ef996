"""The ridge reference: carry-over settles, media effects stay non-negative, and a simulated world is predicted."""

from __future__ import annotations

import numpy as np
import pytest
from mmm_worlds import simulate_weekly_world
from ridge_mmm import RidgeMMM, geometric_adstock


def test_geometric_adstock_settles_and_carries_over() -> None:
    assert np.allclose(geometric_adstock(np.full(10, 40.0), 0.6), 40.0)
    pulse = geometric_adstock(np.array([10.0, 0.0, 0.0, 0.0]), 0.5)
    assert pulse[1] == pytest.approx(0.5 * pulse[0] + 0.5 * 0.0) and pulse[3] < pulse[2] < pulse[1]


def test_fits_a_world_and_predicts_the_weeks_after() -> None:
    world = simulate_weekly_world("plain", 21, weeks=120, n_channels=4)
    n = 96
    y = world.frame["revenue"].to_numpy()
    model = RidgeMMM(world.channels, world.controls, rounds=1).fit(world.frame.iloc[:n], y[:n])
    decomposition = model.decompose(world.frame)
    mape = float(np.mean(np.abs(decomposition["predicted"].to_numpy()[n:] / y[n:] - 1)))
    assert mape < 0.08  # noise is 4 % of the KPI
    assert set(model.params_) == set(world.channels) and model.fit_seconds_ > 0
    assert (model.coef_[: len(world.channels)] >= 0).all()
    assert (decomposition[list(world.channels)].to_numpy() >= 0).all()
    assert decomposition[list(world.channels)].iloc[:n].sum().sum() > 0
    for name, curve in model.curves().items():
        # a constant spend settles at the curve: the decomposition of a flat series ends on it
        flat = world.frame.iloc[:60].copy()
        flat[name] = 50_000.0
        settled = model.decompose(flat)[name].iloc[-1]
        assert settled == pytest.approx(float(curve.steady_state(50_000.0)), rel=1e-6)


def test_a_lift_test_pulls_the_implied_lift_towards_the_measurement() -> None:
    world = simulate_weekly_world("demand", 4, weeks=104, n_channels=4, follows_demand=True, lift_channel="search")
    assert world.lift_test is not None
    record = world.lift_test.record()
    n = 83
    train = world.frame.iloc[:n]
    y = train["revenue"].to_numpy()
    window = ((train["week"] >= world.lift_test.start) & (train["week"] <= world.lift_test.end)).to_numpy()
    planned = train.copy()  # the counterfactual: the cut's spend put back in proportion to the spend that ran
    planned.loc[window, "search"] *= 1 - record["spend_change"] / record["spend"]

    def implied(model: RidgeMMM) -> float:
        return float((model.decompose(train)["search"] - model.decompose(planned)["search"])[window].sum())

    plain = RidgeMMM(world.channels, world.controls, rounds=1).fit(train, y)
    calibrated = RidgeMMM(world.channels, world.controls, rounds=1).fit(train, y, [record])
    measured = record["incremental_kpi"]
    assert abs(implied(calibrated) - measured) < abs(implied(plain) - measured)
    with pytest.raises(ValueError, match="outside the data"):
        RidgeMMM(world.channels, world.controls).fit(
            train, y, [record | {"start_date": "2030-01-06", "end_date": "2030-02-09"}]
        )
    with pytest.raises(ValueError, match="unknown channel"):
        RidgeMMM(world.channels, world.controls).fit(train, y, [record | {"channel": "radio"}])
