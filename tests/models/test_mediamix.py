"""The media-mix model against simulated worlds whose curves are known, and its answers to bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from core.errors import InvalidInput
from models.mediamix import MediaMixModel, _Problem, fit_metrics
from models.mediamix_design import BaseDesign, validate_frame
from models.mediamix_simulation import MediaMixWorld, simulate_media_mix


@pytest.fixture(scope="module")
def world() -> MediaMixWorld:
    return simulate_media_mix(730, 4, noise=0.05, seed=0)


@pytest.fixture(scope="module")
def fitted(world: MediaMixWorld) -> MediaMixModel:
    return MediaMixModel(controls=world.controls, n_draws=30).fit(world.X, world.y)


def test_variable_projection_jacobian_matches_finite_differences() -> None:
    world = simulate_media_mix(300, 3, noise=0.0, seed=3)
    data = validate_frame(world.X, world.y, None, world.controls)
    design = BaseDesign.for_fit(data, slice(0, 300), 3)
    problem = _Problem(data.spend, design.matrix(data.dates, data.controls), data.kpi / data.kpi.std(), np.ones(300))
    truth = [world.truth[c] for c in world.channels]
    theta = np.array([c.decay for c in truth] + [np.log(c.half_saturation) for c in truth] + [c.shape for c in truth])
    theta = theta * 1.03  # away from the exact optimum, where the residual is not zero
    steps = np.eye(len(theta)) * 1e-6
    numeric = np.column_stack([(problem.residual(theta + h) - problem.residual(theta - h)) / 2e-6 for h in steps])
    analytic = problem.jacobian(theta)
    assert np.abs(analytic - numeric).max() < 0.05 * np.abs(numeric).max()


def test_noise_free_world_gives_back_its_parameters() -> None:
    world = simulate_media_mix(730, 3, noise=0.0, seed=5)
    model = MediaMixModel(controls=world.controls, n_draws=0, holdout_share=0.0).fit(world.X, world.y)
    assert model.fit_report_["in_sample"]["r2"] > 0.9999
    for name in world.channels:
        fit, truth = model.curves_[name], world.truth[name]
        assert fit.decay == pytest.approx(truth.decay, abs=0.01)
        assert fit.half_saturation == pytest.approx(truth.half_saturation, rel=0.02)
        assert fit.shape == pytest.approx(truth.shape, rel=0.02)
        assert fit.beta == pytest.approx(truth.beta, rel=0.02)


def test_fit_quality_and_effect_shares_match_the_truth(world: MediaMixWorld, fitted: MediaMixModel) -> None:
    report = fitted.fit_report_
    assert report["yearly_seasonality"] is True
    assert report["in_sample"]["r2"] > 0.8
    assert report["in_sample"]["nrmse"] < 0.1
    holdout = report["holdout"]
    assert holdout["n_days"] == round(0.125 * 730)
    assert holdout["mape"] < 0.06  # noise alone is about 5 % of the KPI, so ~4 % MAPE is the floor
    truth = world.true_effect_shares()
    for row in report["decomposition"]["channels"]:
        assert row["effect_share"] == pytest.approx(truth[row["channel"]], abs=0.04)


def test_marginal_response_at_current_spend_is_close_to_the_truth(world: MediaMixWorld, fitted: MediaMixModel) -> None:
    current = world.current_daily_spend()
    for name in world.channels:
        fit, truth = fitted.curves_[name].marginal(current[name]), world.truth[name].marginal(current[name])
        assert fit == pytest.approx(truth, rel=0.3)


def test_decomposition_adds_up(world: MediaMixWorld, fitted: MediaMixModel) -> None:
    decomposition = fitted.fit_report_["decomposition"]
    rows = decomposition["channels"]
    assert sum(r["effect"] for r in rows) == pytest.approx(decomposition["media_effect"])
    assert sum(r["effect_share"] for r in rows) == pytest.approx(1.0)
    assert sum(r["spend_share"] for r in rows) == pytest.approx(1.0)
    for r in rows:
        assert r["roi"] == pytest.approx(r["effect"] / r["spend"])
        assert r["cost_per_outcome"] == pytest.approx(r["spend"] / r["effect"])
        low, high = r["effect_share_interval"]
        assert low <= high
    daily = fitted.decompose(world.X)
    channels = list(world.channels)
    assert np.allclose(daily["baseline"] + daily[channels].sum(axis=1), daily["predicted"])
    assert np.allclose(daily["predicted"], fitted.fitted_)
    assert np.allclose(fitted.predict(world.X), fitted.fitted_)
    assert daily[channels].sum().sum() == pytest.approx(decomposition["media_effect"])


def test_curves_follow_the_spend_response_protocol(fitted: MediaMixModel) -> None:
    for name, curve in fitted.response_curves().items():
        assert float(curve.steady_state(0.0)) == 0.0
        grid = np.linspace(0.0, 20_000.0, 21)
        assert np.all(np.diff(curve.steady_state(grid)) >= 0)  # β ≥ 0: more spend never lowers the effect
        draws = curve.steady_state_draws(3_000.0)
        assert draws.shape == (30,)
        low, high = curve.steady_state_interval(3_000.0)
        assert low <= float(curve.steady_state(3_000.0)) * 1.5 and low <= high
        # draw i of every channel comes from the same bootstrap refit
        assert np.array_equal(curve.draws, fitted.draws_[:, fitted.channels_.index(name), :])


def test_report_is_json_ready(fitted: MediaMixModel) -> None:
    text = json.dumps(fitted.fit_report_, allow_nan=False)
    assert json.loads(text)["channels"] == list(fitted.channels_)


def test_draws_widen_when_noise_grows() -> None:
    def spread(noise: float) -> float:
        world = simulate_media_mix(365, 3, noise=noise, seed=11)
        model = MediaMixModel(controls=world.controls, n_draws=25, holdout_share=0.0).fit(world.X, world.y)
        current = world.current_daily_spend()
        widths = [
            np.subtract(*np.quantile(model.curves_[c].steady_state_draws(current[c]), [0.95, 0.05]))
            for c in world.channels
        ]
        return float(np.sum(widths))

    assert spread(0.15) > 2.0 * spread(0.03)


def test_yearly_terms_only_with_a_year_of_days() -> None:
    world = simulate_media_mix(63, 2, noise=0.05, seed=2)
    model = MediaMixModel(controls=world.controls, n_draws=0).fit(world.X, world.y)
    assert model.fit_report_["yearly_seasonality"] is False
    assert not any(c.startswith("sin_year") for c in model.base_columns_)
    assert model.fit_report_["holdout"] is None  # 63 days leave too few to fit on before a held-out period
    assert any("no held-out check" in w for w in model.warnings_)


def test_fit_metrics_on_known_values() -> None:
    y = np.array([10.0, 20.0, 30.0, 40.0])
    metrics = fit_metrics(y, y + np.array([1.0, -1.0, 1.0, -1.0]))
    assert metrics["r2"] == pytest.approx(1.0 - 4.0 / 500.0)
    assert metrics["nrmse"] == pytest.approx(1.0 / 30.0)
    assert metrics["mape"] == pytest.approx(np.mean([0.1, 0.05, 1 / 30, 0.025]))


# -- bad input ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small() -> MediaMixWorld:
    return simulate_media_mix(90, 2, noise=0.05, seed=4)


def _fit(frame: pd.DataFrame, y: np.ndarray, **params: object) -> MediaMixModel:
    return MediaMixModel(n_draws=0, holdout_share=0.0, **params).fit(frame, y)  # type: ignore[arg-type]


def test_too_few_days_is_refused(small: MediaMixWorld) -> None:
    with pytest.raises(InvalidInput, match="at least 56 days"):
        _fit(small.X.head(50), small.y[:50], controls=small.controls)


def test_negative_spend_is_refused(small: MediaMixWorld) -> None:
    frame = small.X.copy()
    frame.loc[5, "tv"] = -1.0
    with pytest.raises(InvalidInput, match="negative"):
        _fit(frame, small.y, controls=small.controls)


def test_missing_kpi_is_refused(small: MediaMixWorld) -> None:
    y = small.y.copy()
    y[10] = np.nan
    with pytest.raises(InvalidInput, match="KPI is missing"):
        _fit(small.X, y, controls=small.controls)


def test_missing_and_repeated_days_are_refused(small: MediaMixWorld) -> None:
    with pytest.raises(InvalidInput, match="missing days"):
        _fit(small.X.drop(index=[30, 31]), np.delete(small.y, [30, 31]), controls=small.controls)
    repeated = small.X.copy()
    repeated["date"] = repeated["date"].where(repeated.index != 31, repeated["date"].iloc[30])
    with pytest.raises(InvalidInput, match="more than once"):
        _fit(repeated, small.y, controls=small.controls)


def test_missing_spend_and_unknown_columns_are_refused(small: MediaMixWorld) -> None:
    frame = small.X.copy()
    frame.loc[3, "radio"] = np.nan
    with pytest.raises(InvalidInput, match="radio"):
        _fit(frame, small.y, controls=small.controls)
    with pytest.raises(InvalidInput, match="'weather'"):
        _fit(small.X, small.y, controls=("weather",))
    with pytest.raises(InvalidInput, match="date"):
        _fit(small.X.drop(columns="date"), small.y, controls=small.controls)


def test_dead_and_constant_channels_are_dropped_with_a_warning(small: MediaMixWorld) -> None:
    frame = small.X.assign(print=0.0, ooh=500.0)
    model = _fit(frame, small.y, controls=small.controls)
    assert model.channels_ == ("tv", "radio")
    assert model.dropped_channels_ == ("print", "ooh")
    assert any("'print' has no spend" in w for w in model.fit_report_["warnings"])
    assert any("'ooh' spends the same every day" in w for w in model.fit_report_["warnings"])
    assert model.fit_report_["dropped_channels"] == ["print", "ooh"]


def test_no_usable_channel_is_refused(small: MediaMixWorld) -> None:
    frame = small.X.assign(tv=0.0, radio=0.0)
    with pytest.raises(InvalidInput, match="no channel"):
        _fit(frame, small.y, controls=small.controls)


def test_constant_kpi_is_refused(small: MediaMixWorld) -> None:
    with pytest.raises(InvalidInput, match="same every day"):
        _fit(small.X, np.full(len(small.y), 3.0), controls=small.controls)


def test_follows_the_estimator_contract(small: MediaMixWorld) -> None:
    model = MediaMixModel(controls=("promo",), n_draws=5, random_state=3)
    assert clone(model).get_params() == model.get_params()
    with pytest.raises(NotFittedError):
        model.predict(small.X)
    assert model.fit(small.X, small.y) is model
    assert model.score(small.X, small.y) == pytest.approx(model.fit_report_["in_sample"]["r2"])


def test_bootstrap_intervals_cover_the_true_effect_at_their_level() -> None:
    """Over 16 seeded worlds × 3 channels, the 90 % interval of the settled effect at today's spend holds the truth
    in roughly 90 % of cases: not far fewer (too narrow), not nearly all (uselessly wide)."""
    hits = []
    for seed in range(16):
        world = simulate_media_mix(365, 3, noise=0.08, seed=200 + seed)
        model = MediaMixModel(controls=world.controls, n_draws=30, holdout_share=0.0).fit(world.X, world.y)
        current = world.current_daily_spend()
        for name in world.channels:
            low, high = model.curves_[name].steady_state_interval(current[name], level=0.9)
            hits.append(low <= float(world.truth[name].steady_state(current[name])) <= high)
    assert 0.75 <= np.mean(hits) <= 0.98
