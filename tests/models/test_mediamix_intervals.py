"""Per-period prediction intervals of the media-mix model: their coverage on simulated held-out weeks, the
held-out tail (``holdout_``) and the effect intervals of the report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import InvalidInput
from models.mediamix import MediaMixModel
from models.mediamix_simulation import MediaMixWorld, simulate_media_mix

FIT_WEEKS, FUTURE_WEEKS = 104, 26


@pytest.fixture(scope="module")
def worlds() -> list[MediaMixWorld]:
    return [simulate_media_mix(FIT_WEEKS + FUTURE_WEEKS, 3, noise=0.05, seed=s, period_days=7) for s in range(4)]


@pytest.fixture(scope="module")
def fits(worlds: list[MediaMixWorld]) -> list[MediaMixModel]:
    return [
        MediaMixModel(controls=w.controls, n_draws=20, period_days=7, holdout_share=0.0).fit(
            w.X.iloc[:FIT_WEEKS], w.y[:FIT_WEEKS]
        )
        for w in worlds
    ]


def test_the_90_percent_interval_covers_about_90_percent_of_unseen_weeks(
    worlds: list[MediaMixWorld], fits: list[MediaMixModel]
) -> None:
    inside = []
    for world, model in zip(worlds, fits, strict=True):
        interval = model.predict_interval(world.X)  # history and the 26 weeks the model never saw
        future = interval.iloc[FIT_WEEKS:]
        actual = world.y[FIT_WEEKS:]
        inside.append((actual >= future["lower"].to_numpy()) & (actual <= future["upper"].to_numpy()))
    coverage = float(np.mean(np.concatenate(inside)))  # 104 unseen weeks over four worlds
    assert 0.80 <= coverage <= 0.98


def test_intervals_hold_the_prediction_and_widen_with_the_level(
    worlds: list[MediaMixWorld], fits: list[MediaMixModel]
) -> None:
    world, model = worlds[0], fits[0]
    interval = model.predict_interval(world.X)
    assert list(interval.columns) == ["date", "predicted", "lower", "upper"]
    assert np.allclose(interval["predicted"], model.predict(world.X))
    assert (interval["lower"] < interval["predicted"]).all() and (interval["predicted"] < interval["upper"]).all()
    narrow = model.predict_interval(world.X, level=0.5)
    assert ((narrow["upper"] - narrow["lower"]) < (interval["upper"] - interval["lower"])).all()
    assert pd.Timestamp(interval["date"].iloc[-1]) == pd.Timestamp(world.X["date"].iloc[-1])
    with pytest.raises(InvalidInput, match="between 0 and 1"):
        model.predict_interval(world.X, level=90)


def test_without_draws_the_interval_is_the_residual_noise(worlds: list[MediaMixWorld]) -> None:
    world = worlds[1]
    model = MediaMixModel(controls=world.controls, n_draws=0, period_days=7, holdout_share=0.0)
    model.fit(world.X.iloc[:FIT_WEEKS], world.y[:FIT_WEEKS])
    interval = model.predict_interval(world.X)
    half_width = (interval["upper"] - interval["lower"]).to_numpy() / 2
    assert half_width == pytest.approx(np.full(len(half_width), 1.645 * model.residual_sd_), rel=0.1)
    assert model.residual_sd_ == pytest.approx(world.noise_sd, rel=0.3)


def test_the_held_out_tail_is_predicted_by_the_fit_before_it(worlds: list[MediaMixWorld]) -> None:
    world = worlds[2]
    model = MediaMixModel(controls=world.controls, n_draws=10, period_days=7).fit(world.X, world.y)
    tail = model.holdout_
    assert tail is not None and list(tail.columns) == ["date", "actual", "predicted", "lower", "upper"]
    holdout = model.fit_report_["holdout"]
    assert len(tail) == holdout["n_periods"] and str(tail["date"].iloc[0].date()) == holdout["first_day"]
    assert np.array_equal(tail["actual"].to_numpy(), world.y[-len(tail) :])
    mape = float(np.mean(np.abs(tail["predicted"] / tail["actual"] - 1)))
    assert mape == pytest.approx(holdout["mape"])
    assert not np.allclose(tail["predicted"], model.fitted_[-len(tail) :])  # not the full fit's in-sample values
    inside = (tail["actual"] >= tail["lower"]) & (tail["actual"] <= tail["upper"])
    assert holdout["coverage"] == pytest.approx(float(inside.mean()))
    for row in model.fit_report_["decomposition"]["channels"]:
        low, high = row["effect_interval"]
        assert 0 <= low <= high
    no_holdout = MediaMixModel(controls=world.controls, n_draws=0, period_days=7, holdout_share=0.0)
    assert no_holdout.fit(world.X, world.y).holdout_ is None
