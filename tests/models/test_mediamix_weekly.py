"""The media-mix model on weekly series: what assumed days (weekdays, decay, seasonality, minimum length, holdout,
the allocator's daily amounts) now follows the period."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import InvalidInput
from models.mediamix import ChannelResponse, MediaMixModel
from models.mediamix_design import MIN_WEEKS, BaseDesign, validate_frame
from models.mediamix_simulation import MediaMixWorld, simulate_media_mix


@pytest.fixture(scope="module")
def world() -> MediaMixWorld:
    return simulate_media_mix(156, 3, noise=0.0, seed=5, period_days=7)


@pytest.fixture(scope="module")
def fitted(world: MediaMixWorld) -> MediaMixModel:
    return MediaMixModel(controls=world.controls, n_draws=5, period_days=7).fit(world.X, world.y)


def test_noise_free_weeks_give_back_their_parameters(world: MediaMixWorld, fitted: MediaMixModel) -> None:
    assert fitted.fit_report_["in_sample"]["r2"] > 0.9999
    for name in world.channels:
        fit, truth = fitted.curves_[name], world.truth[name]
        assert fit.period_days == 7
        assert fit.decay == pytest.approx(truth.decay, abs=0.01)  # per week
        assert fit.half_saturation == pytest.approx(truth.half_saturation, rel=0.02)  # weekly spend
        assert fit.shape == pytest.approx(truth.shape, rel=0.02)
        assert fit.beta == pytest.approx(truth.beta, rel=0.02)


def test_the_report_counts_weeks_and_days(fitted: MediaMixModel) -> None:
    report = fitted.fit_report_
    assert (report["cadence"], report["period_days"], report["n_periods"], report["n_days"]) == ("week", 7, 156, 1092)
    holdout = report["holdout"]
    assert (holdout["n_periods"], holdout["n_days"]) == (round(0.125 * 156), 7 * round(0.125 * 156))
    assert report["yearly_seasonality"] is True and report["adstock"] == "geometric"
    assert "per week" in report["adstock_note"]
    row = report["decomposition"]["channels"][0]
    assert row["mean_daily_spend"] == pytest.approx(row["mean_spend_per_period"] / 7)


def test_weekly_design_has_no_weekdays_and_a_year_of_weeks() -> None:
    short = simulate_media_mix(52, 2, seed=1, period_days=7)
    data = validate_frame(short.X, short.y, None, short.controls, period_days=7)
    assert BaseDesign.for_fit(data, slice(0, 52), 3).yearly_order == 0  # 364 days: less than a year
    year = simulate_media_mix(53, 2, seed=1, period_days=7)
    data = validate_frame(year.X, year.y, None, year.controls, period_days=7)
    design = BaseDesign.for_fit(data, slice(0, 53), 3)
    names = design.names(data.control_names)
    assert design.yearly_order == 3 and not any(n.startswith("weekday") for n in names)
    assert design.matrix(data.dates, data.controls).shape == (53, len(names))


def test_curves_answer_per_day(world: MediaMixWorld, fitted: MediaMixModel) -> None:
    curve = fitted.response_curves()["tv"]
    weekly = 7 * 3_000.0
    per_week = curve.beta * weekly**curve.shape / (curve.half_saturation**curve.shape + weekly**curve.shape)
    assert float(curve.steady_state(3_000.0)) == pytest.approx(per_week / 7)
    assert curve.steady_state_draws(3_000.0).shape == (5,)
    daily_twin = ChannelResponse("tv", curve.beta / 7, curve.half_saturation / 7, curve.shape, 0.0, np.zeros((0, 4)))
    assert float(curve.steady_state(3_000.0)) == pytest.approx(float(daily_twin.steady_state(3_000.0)))
    current = world.current_daily_spend()
    assert current["tv"] == pytest.approx(world.frame["tv"].tail(4).mean() / 7)


def test_predictions_follow_the_weeks(world: MediaMixWorld, fitted: MediaMixModel) -> None:
    decomposition = fitted.decompose(world.X)
    assert (decomposition["date"].diff().dropna() == pd.Timedelta(days=7)).all()
    assert fitted.predict(world.X) == pytest.approx(world.y, rel=1e-3)
    for name in world.channels:
        assert decomposition[name].to_numpy() == pytest.approx(world.contributions[name].to_numpy(), rel=0.03)
    with pytest.raises(InvalidInput, match="weeks must follow each other every 7 days"):
        fitted.predict(world.X.drop(index=3))


def test_bad_weekly_input_is_named_in_weeks(world: MediaMixWorld) -> None:
    model = MediaMixModel(controls=world.controls, n_draws=0, period_days=7)
    with pytest.raises(InvalidInput, match="2023-01-23 is followed by 2023-02-06"):
        model.fit(world.X.drop(index=4), np.delete(world.y, 4))
    with pytest.raises(InvalidInput, match=f"at least {MIN_WEEKS} weeks of KPI and spend; got 20"):
        model.fit(world.X.head(20), world.y[:20])
    daily = simulate_media_mix(120, 2, seed=1)
    with pytest.raises(InvalidInput, match="weeks must follow each other"):
        model.fit(daily.X, daily.y)
    twice = pd.concat([world.X.head(30), world.X.head(1)])
    with pytest.raises(InvalidInput, match="week 2023-01-02 appears more than once; one row per week"):
        model.fit(twice, np.concatenate([world.y[:30], world.y[:1]]))
    with pytest.raises(InvalidInput, match=r"fits days \(period_days=1\) or weeks \(7\), not 30-day periods"):
        MediaMixModel(period_days=30).fit(world.X, world.y)


def test_a_short_weekly_series_skips_the_holdout_with_a_warning(world: MediaMixWorld) -> None:
    model = MediaMixModel(controls=world.controls, n_draws=0, period_days=7).fit(world.X.head(28), world.y[:28])
    assert model.fit_report_["holdout"] is None
    assert any("28 weeks leave fewer than 26 to fit on before the last 4" in w for w in model.warnings_)


def test_saturation_on_the_lower_bound_is_warned(world: MediaMixWorld) -> None:
    model = MediaMixModel(
        controls=world.controls, n_draws=0, holdout_share=0.0, period_days=7, half_saturation_bounds=(5.0, 10.0)
    ).fit(world.X, world.y)
    assert any("saturates far below its usual spend (half-saturation at the lower bound)" in w for w in model.warnings_)
    assert not any(
        "lower bound" in w
        for w in MediaMixModel(controls=world.controls, n_draws=0, period_days=7).fit(world.X, world.y).warnings_
    )


def test_a_holdout_worse_than_its_mean_is_a_warning() -> None:
    broken = simulate_media_mix(104, 2, noise=0.02, seed=3, period_days=7)
    y = broken.y.copy()
    y[-13:] *= 1.4  # the last quarter jumps for a reason no input shows
    model = MediaMixModel(controls=broken.controls, n_draws=5, period_days=7).fit(broken.X, y)
    holdout = model.fit_report_["holdout"]
    assert holdout["r2"] < 0
    (warning,) = [w for w in model.warnings_ if w.startswith("held-out R² is ")]
    assert f"on the last {holdout['n_periods']} weeks" in warning and "not a basis for decisions" in warning
    assert not any(
        w.startswith("held-out R²")
        for w in MediaMixModel(controls=broken.controls, n_draws=5, period_days=7).fit(broken.X, broken.y).warnings_
    ), "a sound fit gets no such warning"
